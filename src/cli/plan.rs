//! `deployc plan`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use miette::{IntoDiagnostic, WrapErr, miette};

use super::ColorChoice;
use crate::compile::{
    compile_files, discover_config, history_from_text, load_config, load_history, read_from_disk,
};
use crate::diagnostics::Severity;
use crate::lint::{self, Config, LintOptions};
use crate::lower::{self, LowerOptions, render};
use crate::resolve::Names;

#[derive(Args, Debug)]
pub(super) struct PlanArgs {
    /// The `.deploy` file
    file: PathBuf,
    /// The release to plan (its version)
    #[arg(
        long,
        required_unless_present = "rollback",
        conflicts_with = "rollback"
    )]
    release: Option<String>,
    /// Plan taking back the last successful release in `--env` (from the run history)
    #[arg(long, conflicts_with = "start")]
    rollback: bool,
    /// With `--rollback`: the earlier successful release to go back to (default: the one
    /// before the last)
    #[arg(long, value_name = "VERSION", requires = "rollback")]
    to: Option<String>,
    /// With `--rollback`: the state directory that holds the run history (default `.deployc`
    /// beside the `.deploy` file)
    #[arg(long, value_name = "DIR", requires = "rollback")]
    state_dir: Option<PathBuf>,
    /// The environment to plan it for
    #[arg(long)]
    env: String,
    /// T-0 as an RFC 3339 time (`2026-12-01T09:00:00+01:00`) or a civil time in the
    /// environment's window time zone (`2026-12-01T09:00`)
    #[arg(long)]
    start: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
    /// When to use colour in diagnostics
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// The configuration file [default: the `deployc.toml` nearest to FILE]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Read the run history from this PostgreSQL state store (`postgres://…`) instead of the
    /// state directory; the environment's `state =` otherwise, when its variable is set
    #[arg(long, value_name = "URL")]
    state: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PlanFormat {
    /// A compact view for the terminal
    Text,
    /// The runbook
    Markdown,
    /// The machine plan (see docs/plan-format.md)
    Json,
    /// The step graph for Graphviz
    Dot,
    /// The step graph for Mermaid
    Mermaid,
}

/// Parses `--start`: an instant, or a civil time in `tz`.
fn parse_start(s: &str, tz: Option<&str>) -> miette::Result<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let civil: jiff::civil::DateTime = s.parse().map_err(|_| {
        miette!(
            "`--start {s}` is not a time: use `2026-12-01T09:00:00+01:00` or `2026-12-01T09:00`"
        )
    })?;
    let zone = tz.unwrap_or("UTC");
    let tz = jiff::tz::TimeZone::get(zone).map_err(|e| miette!("time zone `{zone}`: {e}"))?;
    civil
        .to_zoned(tz)
        .map(|z| z.timestamp())
        .map_err(|e| miette!("`--start {s}`: {e}"))
}

/// A `.deploy` file compiled without errors.
pub(super) struct CompiledFile {
    pub(super) session: crate::resolve::Session,
    pub(super) compiled: crate::compile::Compiled,
}

/// Compiles `file`. `Ok(Err(1))` when it has errors (printed on stderr with a summary line).
pub(super) fn compile_file(
    file: &std::path::Path,
    color: ColorChoice,
) -> miette::Result<Result<CompiledFile, i32>> {
    let display = super::check::display(file);
    let meta = std::fs::metadata(file)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read `{display}`"))?;
    if !meta.is_file() {
        return Err(miette!("`{display}` is not a file"));
    }
    let mut read = read_from_disk;
    let (session, compiled, diags) =
        compile_files(&[(display.clone(), file.to_path_buf())], &mut read)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot read `{display}`"))?;
    if diags.iter().any(|d| d.severity == Severity::Error) {
        let mut out = super::render_to_stderr(&diags, &session.sources, color)?;
        let n = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let _ = writeln!(
            out,
            "no plan: `{display}` has {n} error{}",
            if n == 1 { "" } else { "s" }
        );
        return Ok(Err(1));
    }
    let Some(compiled) = compiled.into_iter().next() else {
        return Err(miette!("nothing was compiled"));
    };
    Ok(Ok(CompiledFile { session, compiled }))
}

/// The PostgreSQL state store the runs of `env` keep their state in: `--state URL`, else the
/// environment's `state =` when its variable is set; `None` for the state directory.
pub(super) fn shared_state_url(names: &Names, env: &str, state: Option<&str>) -> Option<String> {
    state.map(str::to_string).or_else(|| {
        names
            .environments()
            .find(|e| e.name.name == env)
            .and_then(|e| e.state.first())
            .and_then(|s| match &s.url {
                crate::syntax::ast::ValueSource::Env { var, .. } => std::env::var(var).ok(),
                crate::syntax::ast::ValueSource::Inline(l) => Some(l.value.clone()),
            })
    })
}

/// Compiles `file` and lowers one release in one environment. `Ok(Err(code))` when the file
/// has errors (already printed).
pub(super) fn build_plan(
    file: &std::path::Path,
    release: &str,
    env: &str,
    start: Option<&str>,
    color: ColorChoice,
    config: Option<&std::path::Path>,
    state: Option<&str>,
) -> miette::Result<Result<lower::Plan, i32>> {
    let CompiledFile {
        mut session,
        compiled,
    } = match compile_file(file, color)? {
        Ok(c) => c,
        Err(code) => return Ok(Err(code)),
    };
    let c = &compiled;
    let mut read = read_from_disk;
    let names = Names::new(&session, &c.program);
    let tz = names
        .environments()
        .find(|e| e.name.name == env)
        .and_then(|e| e.window.first())
        .map(|w| w.time_zone.value.clone());
    // The history M214 compares with is the shared one when the runs keep their state in
    // PostgreSQL (`--state`, or the environment's `state =` with its variable set).
    let shared = shared_state_url(&names, env, state);
    let start = start.map(|s| parse_start(s, tz.as_deref())).transpose()?;
    // The lints of this release in this environment, at this start: a denied finding (a
    // start inside a freeze, say) means no plan, like an error.
    let mut config_diags = Vec::new();
    let config_path = config
        .map(std::path::Path::to_path_buf)
        .or_else(|| discover_config(file));
    // A configuration or history that cannot be read is reported where it is wrong; the
    // run stops there (exit 2), as for `deployc check`.
    let config = match &config_path {
        None => Some(Config::default()),
        Some(p) => load_config(&mut session, p, &mut read, &mut config_diags)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot read `{}`", p.display()))?,
    };
    let history = match shared {
        Some(url) => {
            let read =
                crate::runtime::store::Store::open(Some(url.as_str()), std::path::Path::new("."))
                    .and_then(|s| s.history_text());
            let (name, text) = match read {
                Ok(r) => r,
                Err(e) => {
                    // One line, as `deployc run` says it: nothing is planned.
                    eprintln!("error: {e}");
                    return Ok(Err(2));
                }
            };
            history_from_text(&mut session, name, None, text, &mut config_diags)
        }
        None => load_history(&mut session, file, &mut read, &mut config_diags)
            .into_diagnostic()
            .wrap_err("cannot read the run history")?,
    };
    let Some(config) = config.filter(|_| config_diags.is_empty()) else {
        super::render_to_stderr(&config_diags, &session.sources, color)?;
        return Ok(Err(2));
    };
    let options = LintOptions {
        start,
        history,
        only: Some((release.to_string(), env.to_string())),
    };
    let names = Names::new(&session, &c.program);
    let findings = lint::lint(&session, c, &config, &options);
    if !findings.is_empty() {
        let mut out = super::render_to_stderr(&findings, &session.sources, color)?;
        let denied = findings
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        if denied > 0 {
            let _ = writeln!(
                out,
                "no plan: {denied} denied finding{} for release `{}` in `{}`",
                if denied == 1 { "" } else { "s" },
                release,
                env
            );
            return Ok(Err(1));
        }
    }
    let plan = lower::lower(
        &names,
        &session.sources,
        &c.output.sql,
        release,
        env,
        &LowerOptions {
            start,
            ..LowerOptions::default()
        },
    )
    .map_err(|e| miette!("{e}"))?;
    Ok(Ok(plan))
}

pub(super) fn run(args: PlanArgs) -> miette::Result<i32> {
    let built = match &args.release {
        Some(release) => build_plan(
            &args.file,
            release,
            &args.env,
            args.start.as_deref(),
            args.color,
            args.config.as_deref(),
            args.state.as_deref(),
        )?,
        None => {
            let state = super::rollback::state_dir_of(&args.file, args.state_dir.as_deref());
            super::rollback::build_rollback_plan(
                &args.file,
                &args.env,
                args.to.as_deref(),
                &state,
                args.state.as_deref(),
                args.color,
            )?
        }
    };
    let plan = match built {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let out = match args.format {
        PlanFormat::Text => render::text(&plan),
        PlanFormat::Markdown => render::markdown(&plan),
        PlanFormat::Json => serde_json::to_string_pretty(&plan).map_err(|e| miette!("{e}"))? + "\n",
        PlanFormat::Dot => render::dot(&plan),
        PlanFormat::Mermaid => render::mermaid(&plan),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .into_diagnostic()
        .wrap_err("cannot write the plan")?;
    Ok(0)
}
