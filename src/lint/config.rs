//! `deployc.toml`: rule levels and the settings rules read.
//!
//! ```toml
//! [rules]
//! M203 = "allow"                      # by code
//! unsafe-down = "deny"                # or by name
//! "sql/adding-required-field" = "deny"
//! "sql/*" = "deny"                    # every SQL statement rule
//!
//! [sql]
//! dialect = "postgres"                # or "sqlite"; default: the environment's database
//! postgres_version = "15"
//!
//! [migrations]
//! contract_after_releases = 3
//! ```
//!
//! Parsing is pure: the caller reads the file. Every problem is reported with its span in
//! the TOML text; an unknown key or rule name is an error, not ignored, so a typo cannot
//! silently leave a rule at its default.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{Level, Rule, find_rule, rules};

/// The file name searched for from the checked file's directory upwards.
pub const FILE_NAME: &str = "deployc.toml";

/// A loaded configuration; [`Config::default`] is every rule at its default level.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Levels by rule code.
    levels: HashMap<&'static str, Level>,
    /// `"sql/*"`: the level of every SQL statement rule not set one by one.
    sql_all: Option<Level>,
    pub sql: SqlConfig,
    pub migrations: MigrationsConfig,
}

/// The SQL dialect migrations are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone, Default)]
pub struct SqlConfig {
    /// `None`: decided by each environment's database.
    pub dialect: Option<Dialect>,
    /// The PostgreSQL major version migrations run against (some locks changed over time).
    pub postgres_version: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct MigrationsConfig {
    /// How many releases an `expand` may wait for its `contract` (M211).
    pub contract_after_releases: u32,
}

impl Default for MigrationsConfig {
    fn default() -> Self {
        MigrationsConfig {
            contract_after_releases: 3,
        }
    }
}

/// A problem in `deployc.toml`, at a byte range of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub message: String,
    pub range: Option<Range<usize>>,
    pub help: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    rules: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    sql: Option<RawSql>,
    #[serde(default)]
    migrations: Option<RawMigrations>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSql {
    dialect: Option<Spanned<String>>,
    postgres_version: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMigrations {
    contract_after_releases: Option<Spanned<i64>>,
}

impl Config {
    /// Parses the text of a `deployc.toml`; every problem found is returned.
    pub fn parse(text: &str) -> Result<Config, Vec<ConfigError>> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            vec![ConfigError {
                message: toml_message(&e),
                range: e.span(),
                help: Some(
                    "the sections are `[rules]`, `[sql]` (`dialect`, `postgres_version`) and \
                     `[migrations]` (`contract_after_releases`)"
                        .to_string(),
                ),
            }]
        })?;
        let mut errors = Vec::new();
        let mut config = Config::default();
        for (key, value) in &raw.rules {
            let Some(level) = Level::parse(value.get_ref()) else {
                errors.push(ConfigError {
                    message: format!("`{}` is not a level", value.get_ref()),
                    range: Some(value.span()),
                    help: Some("use `deny`, `warn` or `allow`".to_string()),
                });
                continue;
            };
            let name = key.get_ref();
            if name == "sql/*" {
                config.sql_all = Some(level);
                continue;
            }
            match find_rule(name) {
                Some(rule) => {
                    config.levels.insert(rule.code, level);
                }
                None => errors.push(ConfigError {
                    message: format!("no rule `{name}`"),
                    range: Some(key.span()),
                    help: Some(
                        crate::resolve::suggest(name, rules::all().flat_map(|r| [r.code, r.name]))
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| "`deployc rules` lists every rule".to_string()),
                    ),
                }),
            }
        }
        if let Some(sql) = &raw.sql {
            if let Some(d) = &sql.dialect {
                match d.get_ref().as_str() {
                    "postgres" | "postgresql" => config.sql.dialect = Some(Dialect::Postgres),
                    "sqlite" => config.sql.dialect = Some(Dialect::Sqlite),
                    other => errors.push(ConfigError {
                        message: format!("`{other}` is not a SQL dialect"),
                        range: Some(d.span()),
                        help: Some("use `postgres` or `sqlite`".to_string()),
                    }),
                }
            }
            if let Some(v) = &sql.postgres_version {
                let major = match v.get_ref() {
                    toml::Value::Integer(i) => u32::try_from(*i).ok(),
                    toml::Value::String(s) => s.split('.').next().and_then(|m| m.parse().ok()),
                    _ => None,
                };
                match major {
                    Some(m) if (9..=30).contains(&m) => config.sql.postgres_version = Some(m),
                    _ => errors.push(ConfigError {
                        message: "`postgres_version` is not a PostgreSQL version".to_string(),
                        range: Some(v.span()),
                        help: Some("write the major version, like `\"15\"`".to_string()),
                    }),
                }
            }
        }
        if let Some(m) = &raw.migrations
            && let Some(n) = &m.contract_after_releases
        {
            match u32::try_from(*n.get_ref()) {
                Ok(v) if v >= 1 => config.migrations.contract_after_releases = v,
                _ => errors.push(ConfigError {
                    message: "`contract_after_releases` must be at least 1".to_string(),
                    range: Some(n.span()),
                    help: None,
                }),
            }
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// The effective level of `rule`.
    pub fn level(&self, rule: &Rule) -> Level {
        if let Some(l) = self.levels.get(rule.code) {
            return *l;
        }
        if rule.code.starts_with("sql/")
            && let Some(l) = self.sql_all
        {
            return l;
        }
        rule.level
    }
}

/// The toml crate's message without its own rendering of the source (we render it).
fn toml_message(e: &toml::de::Error) -> String {
    let m = e.message().trim();
    let m = m.strip_suffix('.').unwrap_or(m);
    let mut chars = m.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "invalid TOML".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_by_code_and_name() {
        let c = Config::parse("[rules]\nM204 = \"warn\"\nunused-suppression = \"deny\"\n").unwrap();
        let m204 = find_rule("M204").unwrap();
        assert_eq!(c.level(m204), Level::Warn);
        assert_eq!(c.level(find_rule("L002").unwrap()), Level::Deny);
    }

    #[test]
    fn unknown_rule_points_at_key() {
        let text = "[rules]\nM2O4 = \"warn\"\n";
        let e = Config::parse(text).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(&text[e[0].range.clone().unwrap()], "M2O4");
    }

    #[test]
    fn unknown_key_points_at_key() {
        let text = "[migrations]\ncontract_after = 2\n";
        let e = Config::parse(text).unwrap_err();
        assert!(e[0].message.contains("contract_after"), "{:?}", e);
        assert_eq!(&text[e[0].range.clone().unwrap()], "contract_after");
    }

    #[test]
    fn bad_level() {
        let text = "[rules]\nM204 = \"error\"\n";
        let e = Config::parse(text).unwrap_err();
        assert_eq!(&text[e[0].range.clone().unwrap()], "\"error\"");
    }
}
