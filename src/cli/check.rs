//! `deployc check`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use codespan_reporting::term::termcolor::StandardStream;
use miette::{IntoDiagnostic, WrapErr, miette};

use super::ColorChoice;
use crate::compile::{compile_files, read_from_disk};
use crate::diagnostics::{self, Severity};

#[derive(Args, Debug)]
pub(super) struct CheckArgs {
    /// Files or directories to check (directories are searched for `.deploy` files)
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    format: CheckFormat,
    /// When to use colour in human output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CheckFormat {
    /// Diagnostics with the source beside them, on stderr
    Human,
    /// A versioned JSON document on stdout
    Json,
    /// One line per diagnostic: `file:line:col: severity[CODE] message`
    Short,
}

/// Every `.deploy` file under `path`, sorted; hidden directories, `target` and
/// `node_modules` are skipped.
pub(crate) fn collect(path: &Path, out: &mut Vec<(String, PathBuf)>) -> miette::Result<()> {
    let meta = std::fs::metadata(path)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read `{}`", path.display()))?;
    if meta.is_file() {
        out.push((display(path), path.to_path_buf()));
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
            collect(&p, out)?;
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

pub(super) fn run(args: CheckArgs) -> miette::Result<i32> {
    let mut files = Vec::new();
    for p in &args.paths {
        collect(p, &mut files)?;
    }
    let mut read = read_from_disk;
    let (session, _compiled, diags) = compile_files(&files, &mut read)
        .into_diagnostic()
        .wrap_err("cannot read the input files")?;
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    match args.format {
        CheckFormat::Human => {
            let stderr = std::io::stderr();
            let choice = args.color.to_termcolor(stderr.is_terminal());
            let mut out = StandardStream::stderr(choice);
            diagnostics::render_human(&diags, &session.sources, &mut out)
                .map_err(|e| miette!("cannot write diagnostics: {e}"))?;
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
            let _ = writeln!(out, "{summary}");
        }
        CheckFormat::Short => {
            print!("{}", diagnostics::render_short(&diags, &session.sources));
        }
        CheckFormat::Json => {
            let doc = serde_json::json!({
                "version": 1,
                "files": files.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>(),
                "counts": { "errors": errors, "warnings": warnings },
                "diagnostics": diags.iter().map(|d| diagnostics::to_json(d, &session.sources)).collect::<Vec<_>>(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).map_err(|e| miette!("{e}"))?
            );
        }
    }
    Ok(if errors > 0 { 1 } else { 0 })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
