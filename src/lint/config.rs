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

/// A section: its keys and values, with their spans.
type RawSection = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

const SECTIONS_HELP: &str = "the sections are `[rules]`, `[sql]` (`dialect`, `postgres_version`) \
                             and `[migrations]` (`contract_after_releases`)";

impl Config {
    /// Parses the text of a `deployc.toml`; every problem found is returned.
    pub fn parse(text: &str) -> Result<Config, Vec<ConfigError>> {
        let raw: BTreeMap<Spanned<String>, Spanned<RawSection>> =
            toml::from_str(text).map_err(|e| {
                vec![ConfigError {
                    message: toml_message(&e),
                    range: e.span(),
                    help: Some(SECTIONS_HELP.to_string()),
                }]
            })?;
        let mut errors = Vec::new();
        let mut config = Config::default();
        for (section, keys) in &raw {
            match section.get_ref().as_str() {
                "rules" => config.rules(keys.get_ref(), &mut errors),
                "sql" => config.sql(keys.get_ref(), &mut errors),
                "migrations" => config.migrations(keys.get_ref(), &mut errors),
                other => errors.push(ConfigError {
                    message: format!("unknown section `[{other}]`"),
                    range: Some(section.span()),
                    help: Some(SECTIONS_HELP.to_string()),
                }),
            }
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    fn rules(&mut self, keys: &RawSection, errors: &mut Vec<ConfigError>) {
        for (key, value) in keys {
            let Some(level) = value.get_ref().as_str().and_then(Level::parse) else {
                errors.push(ConfigError {
                    message: format!("{} is not a level", show(value.get_ref())),
                    range: Some(value.span()),
                    help: Some("use `\"deny\"`, `\"warn\"` or `\"allow\"`".to_string()),
                });
                continue;
            };
            let name = key.get_ref();
            if name == "sql/*" {
                self.sql_all = Some(level);
                continue;
            }
            match find_rule(name) {
                Some(rule) => {
                    self.levels.insert(rule.code, level);
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
    }

    fn sql(&mut self, keys: &RawSection, errors: &mut Vec<ConfigError>) {
        for (key, value) in keys {
            match key.get_ref().as_str() {
                "dialect" => match value.get_ref().as_str() {
                    Some("postgres" | "postgresql") => self.sql.dialect = Some(Dialect::Postgres),
                    Some("sqlite") => self.sql.dialect = Some(Dialect::Sqlite),
                    _ => errors.push(ConfigError {
                        message: format!("{} is not a SQL dialect", show(value.get_ref())),
                        range: Some(value.span()),
                        help: Some("use `\"postgres\"` or `\"sqlite\"`".to_string()),
                    }),
                },
                "postgres_version" => {
                    let major = match value.get_ref() {
                        toml::Value::Integer(i) => u32::try_from(*i).ok(),
                        toml::Value::String(s) => s.split('.').next().and_then(|m| m.parse().ok()),
                        _ => None,
                    };
                    match major {
                        Some(m) if (9..=30).contains(&m) => self.sql.postgres_version = Some(m),
                        _ => errors.push(ConfigError {
                            message: "`postgres_version` is not a PostgreSQL version".to_string(),
                            range: Some(value.span()),
                            help: Some("write the major version, like `\"15\"`".to_string()),
                        }),
                    }
                }
                other => errors.push(unknown_key(
                    "sql",
                    other,
                    key.span(),
                    &["dialect", "postgres_version"],
                )),
            }
        }
    }

    fn migrations(&mut self, keys: &RawSection, errors: &mut Vec<ConfigError>) {
        for (key, value) in keys {
            match key.get_ref().as_str() {
                "contract_after_releases" => {
                    match value.get_ref().as_integer().map(u32::try_from) {
                        Some(Ok(v)) if v >= 1 => self.migrations.contract_after_releases = v,
                        _ => errors.push(ConfigError {
                            message: "`contract_after_releases` must be a whole number, at least 1"
                                .to_string(),
                            range: Some(value.span()),
                            help: None,
                        }),
                    }
                }
                other => errors.push(unknown_key(
                    "migrations",
                    other,
                    key.span(),
                    &["contract_after_releases"],
                )),
            }
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

/// A TOML value in a message: strings quoted, other values by type.
fn show(v: &toml::Value) -> String {
    match v.as_str() {
        Some(s) => format!("`\"{s}\"`"),
        None => format!("a {}", v.type_str()),
    }
}

fn unknown_key(section: &str, key: &str, span: Range<usize>, known: &[&str]) -> ConfigError {
    let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    ConfigError {
        message: format!("unknown key `{key}` in `[{section}]`"),
        range: Some(span),
        help: Some(
            crate::resolve::suggest(key, known.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("the keys of `[{section}]` are {}", list.join(", "))),
        ),
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
