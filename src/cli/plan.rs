//! `deployc plan`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use codespan_reporting::term::termcolor::StandardStream;
use miette::{IntoDiagnostic, WrapErr, miette};

use super::ColorChoice;
use crate::compile::{compile_files, read_from_disk};
use crate::diagnostics::{self, Severity};
use crate::lower::{self, LowerOptions, render};
use crate::resolve::Names;

#[derive(Args, Debug)]
pub(super) struct PlanArgs {
    /// The `.deploy` file
    file: PathBuf,
    /// The release to plan (its version)
    #[arg(long)]
    release: String,
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

/// Compiles `file` and lowers one release in one environment. `Ok(Err(code))` when the file
/// has errors (already printed).
pub(super) fn build_plan(
    file: &std::path::Path,
    release: &str,
    env: &str,
    start: Option<&str>,
    color: ColorChoice,
) -> miette::Result<Result<lower::Plan, i32>> {
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
        let stderr = std::io::stderr();
        let mut out = StandardStream::stderr(color.to_termcolor(stderr.is_terminal()));
        diagnostics::render_human(&diags, &session.sources, &mut out)
            .map_err(|e| miette!("cannot write diagnostics: {e}"))?;
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
    let Some(c) = compiled.first() else {
        return Err(miette!("nothing was compiled"));
    };
    let names = Names::new(&session, &c.program);
    let tz = names
        .environments()
        .find(|e| e.name.name == env)
        .and_then(|e| e.window.first())
        .map(|w| w.time_zone.value.clone());
    let start = start.map(|s| parse_start(s, tz.as_deref())).transpose()?;
    let plan = lower::lower(
        &names,
        &session.sources,
        &c.output.sql,
        release,
        env,
        &LowerOptions { start },
    )
    .map_err(|e| miette!("{e}"))?;
    Ok(Ok(plan))
}

pub(super) fn run(args: PlanArgs) -> miette::Result<i32> {
    let plan = match build_plan(
        &args.file,
        &args.release,
        &args.env,
        args.start.as_deref(),
        args.color,
    )? {
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
