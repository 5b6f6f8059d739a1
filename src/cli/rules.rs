//! `deployc explain` and `deployc rules`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use miette::{IntoDiagnostic, WrapErr, miette};

use crate::lint::{self, Config, docs};

#[derive(Args, Debug)]
pub(super) struct ExplainArgs {
    /// A rule code (`M204`) or name (`contract-in-expand-release`)
    rule: String,
}

#[derive(Args, Debug)]
pub(super) struct RulesArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    format: RulesFormat,
    /// Show levels under this configuration [default: the `deployc.toml` nearest to the
    /// working directory]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RulesFormat {
    /// A table
    Text,
    /// A JSON array of `{code, name, level, default_level, category, summary, help_uri}`
    Json,
}

pub(super) fn explain(args: ExplainArgs) -> miette::Result<i32> {
    let Some(rule) = lint::find_rule(&args.rule) else {
        let hint =
            crate::resolve::suggest(&args.rule, lint::all_rules().flat_map(|r| [r.code, r.name]))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_else(|| "; `deployc rules` lists every rule".to_string());
        if args.rule.starts_with(['E', 'e']) && args.rule.len() == 4 {
            return Err(miette!(
                "`{}` is a compile error, not a lint rule; errors are described in docs/errors.md",
                args.rule
            ));
        }
        return Err(miette!("no rule `{}`{hint}", args.rule));
    };
    print!("{}", docs::explain(rule));
    Ok(0)
}

/// The configuration `rules` shows levels under.
fn config(path: Option<PathBuf>) -> miette::Result<Config> {
    let path = match path {
        Some(p) => Some(p),
        None => std::env::current_dir()
            .ok()
            .and_then(|d| crate::compile::discover_config_in(&d)),
    };
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(&path)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read `{}`", path.display()))?;
    Config::parse(&text).map_err(|errors| {
        let first = errors
            .first()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        miette!(
            "`{}` is not a valid configuration: {first} (`deployc check` shows where)",
            path.display()
        )
    })
}

pub(super) fn rules(args: RulesArgs) -> miette::Result<i32> {
    let config = config(args.config)?;
    match args.format {
        RulesFormat::Text => {
            // SQL statement rules' codes are `sql/<name>`: printed once, across both columns.
            let code_width = lint::all_rules()
                .filter(|r| !r.code.starts_with("sql/"))
                .map(|r| r.code.len())
                .max()
                .unwrap_or(0);
            let width = lint::all_rules()
                .map(|r| {
                    if r.code.starts_with("sql/") {
                        r.code.len().saturating_sub(code_width + 2)
                    } else {
                        r.name.len()
                    }
                })
                .max()
                .unwrap_or(0);
            for rule in lint::all_rules() {
                let level = config.level(rule);
                let marker = if level == rule.level {
                    ""
                } else {
                    " (configured)"
                };
                let id = if rule.code.starts_with("sql/") {
                    format!("{:w$}", rule.code, w = code_width + 2 + width)
                } else {
                    format!("{:code_width$}  {:width$}", rule.code, rule.name)
                };
                println!("{id}  {:5}  {}{marker}", level.as_str(), rule.summary);
            }
        }
        RulesFormat::Json => {
            let list: Vec<_> = lint::all_rules()
                .map(|r| {
                    serde_json::json!({
                        "code": r.code,
                        "name": r.name,
                        "level": config.level(r),
                        "default_level": r.level,
                        "category": r.category,
                        "summary": r.summary,
                        "help_uri": crate::diagnostics::help_uri(r.code),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&list).map_err(|e| miette!("{e}"))?
            );
        }
    }
    Ok(0)
}
