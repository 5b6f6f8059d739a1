//! `deployc check`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use miette::{IntoDiagnostic, WrapErr, miette};

use super::ColorChoice;
use crate::compile::{check_files_with_history, read_from_disk};
use crate::diagnostics::{self, Severity};
use crate::lint::LintOptions;

/// The version of `--format json` output (see docs/json-output.md).
const JSON_VERSION: u32 = 1;

#[derive(Args, Debug)]
pub(super) struct CheckArgs {
    /// Files or directories to check (directories are searched for `.deploy` files)
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format [default: `github` when GITHUB_ACTIONS=true, else `human`]
    #[arg(long, value_enum)]
    format: Option<CheckFormat>,
    /// When to use colour in human output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// The configuration file [default: the `deployc.toml` nearest to each checked file]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Exit 1 when there is a finding at or above this severity
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,
    /// Same as `--fail-on warning`
    #[arg(long, conflicts_with = "fail_on")]
    deny_warnings: bool,
    /// Exit 0 whatever was found (usage and I/O errors still exit 2)
    #[arg(long)]
    exit_zero: bool,
    /// Lint as planned for this T-0 (RFC 3339): windows and freezes are checked against it
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    /// Compare released migrations (M214) with the run history of this PostgreSQL state
    /// store (`postgres://…`) instead of each file's `.deployc/history`
    #[arg(long, value_name = "URL")]
    state: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum CheckFormat {
    /// Diagnostics with the source beside them, on stderr
    Human,
    /// A versioned JSON document on stdout (docs/json-output.md)
    Json,
    /// SARIF 2.1.0 on stdout, for code scanning
    Sarif,
    /// GitHub Actions workflow annotations on stdout
    Github,
    /// One line per diagnostic: `file:line:col: severity[CODE] message`
    Short,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum FailOn {
    Error,
    Warning,
}

/// Every `.deploy` file under `path`, sorted; hidden directories, `target` and
/// `node_modules` are skipped, and so is a directory already walked (a symbolic link loop).
pub(crate) fn collect(path: &Path, out: &mut Vec<(String, PathBuf)>) -> miette::Result<()> {
    collect_in(path, out, &mut std::collections::HashSet::new())
}

fn collect_in(
    path: &Path,
    out: &mut Vec<(String, PathBuf)>,
    seen: &mut std::collections::HashSet<(u64, u64)>,
) -> miette::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read `{}`", path.display()))?;
    if !meta.is_dir() {
        // Files named on the command line are read as they are; one that is not a regular
        // file (a FIFO, a device) is refused when it is read.
        out.push((display(path), path.to_path_buf()));
        return Ok(());
    }
    // A directory is walked once, whatever path leads to it: a link to an ancestor would
    // otherwise be walked without end.
    if !seen.insert((meta.dev(), meta.ino())) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read directory `{}`", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            collect_in(&p, out, seen)?;
        } else if name.ends_with(".deploy") {
            out.push((display(&p), p));
        }
    }
    Ok(())
}

/// A path as shown in diagnostics: as given, without a leading `./`.
pub(super) fn display(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

/// The repository root (the nearest directory with `.git`) above the working directory;
/// SARIF URIs are relative to it so they stay stable across machines.
fn repo_root() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
    cwd.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
        .or(Some(cwd))
}

pub(super) fn run(args: CheckArgs) -> miette::Result<i32> {
    let format = args.format.unwrap_or_else(|| {
        if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
            CheckFormat::Github
        } else {
            CheckFormat::Human
        }
    });
    let start = args
        .start
        .as_deref()
        .map(|s| {
            s.parse::<jiff::Timestamp>().map_err(|_| {
                miette!(
                    "`--start {s}` is not a time: use RFC 3339, like `2026-12-01T09:00:00+01:00`"
                )
            })
        })
        .transpose()?;
    if let Some(c) = &args.config
        && !c.is_file()
    {
        return Err(miette!("cannot read the configuration `{}`", c.display()));
    }
    let mut files = Vec::new();
    for p in &args.paths {
        collect(p, &mut files)?;
    }
    let mut read = read_from_disk;
    let options = LintOptions {
        start,
        ..LintOptions::default()
    };
    let shared = match &args.state {
        None => None,
        Some(url) => {
            match crate::runtime::store::Store::open(Some(url), Path::new("."))
                .and_then(|s| s.history_text())
            {
                Ok(h) => Some(h),
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(2);
                }
            }
        }
    };
    // Never dropped: the process ends after printing, and freeing every syntax tree, SQL
    // text and diagnostic one by one was a tenth of the time `deployc check` took on a large
    // file, on its single-threaded tail.
    let checked = std::mem::ManuallyDrop::new(
        check_files_with_history(&files, &mut read, args.config.as_deref(), &options, shared)
            .into_diagnostic()
            .wrap_err("cannot read the input files")?,
    );
    let (session, diags) = (&checked.session, &checked.diagnostics);
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let summary = match (errors, warnings) {
        (0, 0) => format!(
            "checked {} file{}: no problems",
            files.len(),
            plural(files.len())
        ),
        _ => format!(
            "checked {} file{}: {errors} error{}, {warnings} warning{}",
            files.len(),
            plural(files.len()),
            plural(errors),
            plural(warnings)
        ),
    };
    let stdout_text = match format {
        CheckFormat::Human => {
            let mut out = super::render_to_stderr(diags, &session.sources, args.color)?;
            let _ = writeln!(out, "{summary}");
            String::new()
        }
        CheckFormat::Short => diagnostics::render_short(diags, &session.sources),
        CheckFormat::Github => {
            let mut s = diagnostics::to_github(diags, &session.sources);
            s.push_str(&format!("deployc: {summary}\n"));
            s
        }
        CheckFormat::Json => {
            let doc = serde_json::json!({
                "version": JSON_VERSION,
                "tool": { "name": "deployc", "version": env!("CARGO_PKG_VERSION") },
                "files": files.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>(),
                "counts": { "errors": errors, "warnings": warnings },
                "diagnostics": diags.iter().map(|d| diagnostics::to_json(d, &session.sources)).collect::<Vec<_>>(),
            });
            serde_json::to_string_pretty(&doc).map_err(|e| miette!("{e}"))? + "\n"
        }
        CheckFormat::Sarif => {
            let root = repo_root();
            let doc = diagnostics::to_sarif(diags, &session.sources, root.as_deref());
            serde_json::to_string_pretty(&doc).map_err(|e| miette!("{e}"))? + "\n"
        }
    };
    if !stdout_text.is_empty() {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(stdout_text.as_bytes())
            .into_diagnostic()
            .wrap_err("cannot write the findings")?;
    }
    if checked.config_failed {
        return Ok(2);
    }
    let fail_on = if args.deny_warnings {
        FailOn::Warning
    } else {
        args.fail_on
    };
    let failed = match fail_on {
        FailOn::Error => errors > 0,
        FailOn::Warning => errors + warnings > 0,
    };
    Ok(if failed && !args.exit_zero { 1 } else { 0 })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
