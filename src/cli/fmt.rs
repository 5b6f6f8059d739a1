//! `deployc fmt`.
//!
//! Exit codes: 0 when every file is formatted (or was rewritten), 1 when `--check` or `--diff`
//! found a file to change, 2 when a file does not parse or cannot be read or written. A file
//! that does not parse is never written; the others still are.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use miette::{IntoDiagnostic, WrapErr};

use super::ColorChoice;
use crate::source::SourceMap;

#[derive(Args, Debug)]
pub(super) struct FmtArgs {
    /// Files or directories to format (directories are searched for `.deploy` files); `-`
    /// formats stdin to stdout
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Write nothing: list the files that are not formatted and exit 1 if there is one
    #[arg(long)]
    check: bool,
    /// Write nothing: print the changes as a unified diff and exit 1 if there is one
    #[arg(long)]
    diff: bool,
    /// When to use colour in syntax errors
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

/// What happened to one input.
enum Outcome {
    Unchanged,
    Changed,
    /// It does not parse, or it could not be read or written; the reason is printed.
    Failed,
}

pub(super) fn run(args: FmtArgs) -> miette::Result<i32> {
    let mut files = Vec::new();
    for path in &args.paths {
        if path.as_os_str() == "-" {
            files.push(("<stdin>".to_string(), None));
            continue;
        }
        let mut found = Vec::new();
        super::check::collect(path, &mut found)?;
        files.extend(found.into_iter().map(|(name, p)| (name, Some(p))));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut changed, mut failed) = (false, false);
    for (name, path) in &files {
        let outcome = match path {
            Some(path) => format_path(&args, name, path, &mut out),
            None => format_stdin(&args, &mut out),
        };
        match outcome? {
            Outcome::Unchanged => {}
            Outcome::Changed => changed = true,
            Outcome::Failed => failed = true,
        }
    }
    out.flush().into_diagnostic()?;
    Ok(if failed {
        2
    } else if changed && (args.check || args.diff) {
        1
    } else {
        0
    })
}

fn format_stdin(args: &FmtArgs, out: &mut impl Write) -> miette::Result<Outcome> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .into_diagnostic()
        .wrap_err("cannot read stdin")?;
    let Some(formatted) = format_bytes(args, "<stdin>", None, bytes.clone())? else {
        return Ok(Outcome::Failed);
    };
    let text = String::from_utf8_lossy(&bytes);
    let changed = formatted != text;
    if args.check || args.diff {
        report(args, "<stdin>", &text, &formatted, changed, out)?;
    } else {
        out.write_all(formatted.as_bytes()).into_diagnostic()?;
    }
    Ok(if changed {
        Outcome::Changed
    } else {
        Outcome::Unchanged
    })
}

fn format_path(
    args: &FmtArgs,
    name: &str,
    path: &Path,
    out: &mut impl Write,
) -> miette::Result<Outcome> {
    let bytes = match crate::compile::read_from_disk(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read `{name}`: {e}");
            return Ok(Outcome::Failed);
        }
    };
    let Some(formatted) = format_bytes(args, name, Some(path), bytes.clone())? else {
        return Ok(Outcome::Failed);
    };
    let text = String::from_utf8_lossy(&bytes);
    if formatted == text {
        return Ok(Outcome::Unchanged);
    }
    if args.check || args.diff {
        report(args, name, &text, &formatted, true, out)?;
    } else if let Err(e) = write_atomic(path, formatted.as_bytes()) {
        eprintln!("error: cannot write `{name}`: {e}");
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Changed)
}

/// The formatted text, or `None` after printing why there is none (the same diagnostic as
/// `deployc check`).
fn format_bytes(
    args: &FmtArgs,
    name: &str,
    path: Option<&Path>,
    bytes: Vec<u8>,
) -> miette::Result<Option<String>> {
    let (text, bad_byte) = match String::from_utf8(bytes) {
        Ok(t) => (t, None),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            (
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
                Some(valid),
            )
        }
    };
    let mut sources = SourceMap::new();
    let file = sources.add(name, path.map(Path::to_path_buf), text);
    let text = sources.get(file).map(|f| f.text.as_str()).unwrap_or("");
    let error = match bad_byte {
        Some(offset) => crate::diagnostics::errors::Error::InvalidUtf8 {
            span: crate::source::Span::new(file, offset, offset + 1),
        },
        None => match crate::fmt::format_file(file, text) {
            Ok(formatted) => return Ok(Some(formatted)),
            Err(e) => e.error().clone(),
        },
    };
    let mut stream = super::render_to_stderr(&[error.to_diagnostic()], &sources, args.color)?;
    stream.flush().into_diagnostic()?;
    Ok(None)
}

/// `--check` lists the file, `--diff` prints its changes.
fn report(
    args: &FmtArgs,
    name: &str,
    before: &str,
    after: &str,
    changed: bool,
    out: &mut impl Write,
) -> miette::Result<()> {
    if !changed {
        return Ok(());
    }
    if args.diff {
        let diff = similar::TextDiff::from_lines(before, after);
        let mut unified = diff.unified_diff();
        let text = unified.context_radius(3).header(name, name).to_string();
        out.write_all(text.as_bytes()).into_diagnostic()?;
    }
    if args.check {
        writeln!(out, "{name}").into_diagnostic()?;
    }
    Ok(())
}

/// Replaces `path` with `bytes` through a temporary file in the same directory renamed over
/// it, so a reader never sees half a file and a failure leaves the original as it was. The
/// file keeps its permissions.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Through a symbolic link, the file it points to is replaced, not the link.
    let path = &std::fs::canonicalize(path)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.fmt-tmp", std::process::id()));
    let permissions = std::fs::metadata(path)?.permissions();
    let result = write_then_rename(&tmp, path, bytes, permissions);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_then_rename(
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    permissions: std::fs::Permissions,
) -> std::io::Result<()> {
    // `create_new`: never write through a file (or a link) that is already there.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)?;
    f.write_all(bytes)?;
    f.set_permissions(permissions)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}
