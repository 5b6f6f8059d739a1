//! The compiler driver: files in, diagnostics (and programs) out.
//!
//! Each root file is compiled as its own program; files are parsed once per [`Session`]
//! however many programs import them, and a diagnostic reported through two programs is
//! reported once.

use std::path::{Path, PathBuf};

use crate::check::{self, CheckOutput};
use crate::diagnostics::{self, Diagnostic, Label};
use crate::lint::{self, Config, LintOptions};
use crate::resolve::{ModuleId, Names, Program, ReadFile, Session};

/// One compiled root file.
pub struct Compiled {
    pub root: ModuleId,
    pub program: Program,
    pub output: CheckOutput,
}

/// The largest file `deployc` reads (a program, an imported file, a `.sql` file): 8 MiB,
/// a hundred times the largest real program, so that a hostile path cannot make it read
/// without end (`/dev/zero`) or hold a huge file in memory.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Reads a file from disk: a regular file (not a FIFO, a device or a socket, which could
/// block or never end) of at most [`MAX_FILE_BYTES`].
pub fn read_from_disk(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    // Non-blocking, so that opening a FIFO without a writer does not wait; the type is then
    // checked on the open file, not on a path that could change in between.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(invalid(format!("is {what}, not a regular file")));
    }
    let too_large = || {
        invalid(format!(
            "is larger than {} MiB",
            MAX_FILE_BYTES / 1024 / 1024
        ))
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Compiles one root module already loaded into the session.
pub fn compile_module(session: &mut Session, root: ModuleId, read: &mut ReadFile<'_>) -> Compiled {
    let program = session.program(root, read);
    check::load_sql_files(session, &program.modules, read);
    let names = Names::new(session, &program);
    let output = check::check(session, &names);
    Compiled {
        root,
        program,
        output,
    }
}

/// Compiles source text given in memory (tests, fuzzing, benchmarks).
pub fn compile_source(name: &str, bytes: &[u8]) -> (Session, Compiled) {
    let mut session = Session::new();
    let root = session.add_source(name, None, bytes.to_vec());
    let mut read = |p: &Path| -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} (no file system in this compilation)", p.display()),
        ))
    };
    let compiled = compile_module(&mut session, root, &mut read);
    (session, compiled)
}

/// Compiles files from disk; returns the session, the compiled roots, and every diagnostic
/// (deduplicated, sorted).
pub fn compile_files(
    files: &[(String, PathBuf)],
    read: &mut ReadFile<'_>,
) -> std::io::Result<(Session, Vec<Compiled>, Vec<Diagnostic>)> {
    let mut session = Session::new();
    let roots = session.load_files(files, read)?;
    // Loading imports and `.sql` files reads through `read`, one root after the other; the
    // checks only read the session, so they run side by side.
    let programs: Vec<(ModuleId, Program)> = roots
        .into_iter()
        .map(|root| {
            let program = session.program(root, read);
            check::load_sql_files(&mut session, &program.modules, read);
            (root, program)
        })
        .collect();
    let session_ref = &session;
    let outputs = crate::parallel::map(&programs, |(_, program)| {
        let names = Names::new(session_ref, program);
        check::check(session_ref, &names)
    });
    let mut compiled = Vec::new();
    let mut diags: Vec<Diagnostic> = Vec::new();
    for ((root, program), output) in programs.into_iter().zip(outputs) {
        diags.extend(output.errors.iter().map(|e| e.to_diagnostic()));
        compiled.push(Compiled {
            root,
            program,
            output,
        });
    }
    // A file imported by several roots reports its problems once: sorting puts equal
    // diagnostics side by side.
    diagnostics::sort(&mut diags);
    diags.dedup();
    Ok((session, compiled, diags))
}

/// The nearest `deployc.toml` in `file`'s directory or above it.
pub fn discover_config(file: &Path) -> Option<PathBuf> {
    let abs = std::fs::canonicalize(file).ok()?;
    discover_config_in(abs.parent()?)
}

/// The nearest `deployc.toml` in `dir` or above it.
pub fn discover_config_in(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join(lint::config::FILE_NAME))
        .find(|candidate| candidate.is_file())
}

/// Everything `deployc check` found.
pub struct CheckRun {
    pub session: Session,
    pub compiled: Vec<Compiled>,
    /// Errors and lint findings, deduplicated and sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// Whether a configuration file was invalid (a usage error, not a finding).
    pub config_failed: bool,
}

/// Compiles `files` and lints every root that checked clean, each with the configuration
/// `config` names or else the `deployc.toml` nearest to it.
pub fn check_files(
    files: &[(String, PathBuf)],
    read: &mut ReadFile<'_>,
    config: Option<&Path>,
    options: &LintOptions,
) -> std::io::Result<CheckRun> {
    check_files_with_history(files, read, config, options, None)
}

/// [`check_files`], with a run history shared by every root instead of each root's
/// `.deployc/history`: the `(name, text)` of a shared state store's history.
pub fn check_files_with_history(
    files: &[(String, PathBuf)],
    read: &mut ReadFile<'_>,
    config: Option<&Path>,
    options: &LintOptions,
    shared_history: Option<(String, String)>,
) -> std::io::Result<CheckRun> {
    let (mut session, compiled, mut diags) = compile_files(files, read)?;
    let shared = shared_history
        .map(|(name, text)| history_from_text(&mut session, name, None, text, &mut diags));
    let mut configs: Vec<(PathBuf, Option<Config>)> = Vec::new();
    let mut config_failed = false;
    let mut jobs: Vec<(&Compiled, Config, LintOptions)> = Vec::new();
    for (c, (_, path)) in compiled.iter().zip(files) {
        let found = match config {
            Some(p) => Some(p.to_path_buf()),
            None => discover_config(path),
        };
        let cfg = match found {
            None => Config::default(),
            Some(p) => {
                let index = match configs.iter().position(|(q, _)| *q == p) {
                    Some(i) => i,
                    None => {
                        let loaded = load_config(&mut session, &p, read, &mut diags)?;
                        configs.push((p, loaded));
                        configs.len() - 1
                    }
                };
                match configs.get(index).and_then(|(_, c)| c.as_ref()) {
                    Some(c) => c.clone(),
                    None => {
                        config_failed = true;
                        continue;
                    }
                }
            }
        };
        let history = match &shared {
            Some(h) => h.clone(),
            None => load_history(&mut session, path, read, &mut diags)?,
        };
        let options = LintOptions {
            history: history.or_else(|| options.history.clone()),
            ..options.clone()
        };
        jobs.push((c, cfg, options));
    }
    // Each root is linted on its own (its plans, its SQL); the configurations and histories
    // were read above, so the lint only reads.
    let session_ref = &session;
    let lints: Vec<Diagnostic> = crate::parallel::map(&jobs, |(c, cfg, options)| {
        lint::lint(session_ref, c, cfg, options)
    })
    .into_iter()
    .flatten()
    .collect();
    diags.extend(lints);
    diagnostics::sort(&mut diags);
    diags.dedup();
    Ok(CheckRun {
        session,
        compiled,
        diagnostics: diags,
        config_failed,
    })
}

/// Reads the run history beside `file` (`.deployc/history`), if there is one; a line that
/// cannot be read is an E502 diagnostic pointing at it, and the history is then left out.
pub fn load_history(
    session: &mut Session,
    file: &Path,
    read: &mut ReadFile<'_>,
    diags: &mut Vec<Diagnostic>,
) -> std::io::Result<Option<std::sync::Arc<crate::history::LoadedHistory>>> {
    let Some(dir) = file.parent() else {
        return Ok(None);
    };
    let path = dir
        .join(crate::history::STATE_DIR)
        .join(crate::history::HISTORY_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = read(&path)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let shown = std::env::current_dir()
        .ok()
        .and_then(|d| path.strip_prefix(d).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.clone());
    let name = shown.to_string_lossy().into_owned();
    Ok(history_from_text(session, name, Some(path), text, diags))
}

/// A run history's `text` (from a file or a shared state store, shown as `name`) loaded into
/// the session for the lints; a line that cannot be read is an E502 diagnostic pointing at
/// it, and the history is then left out.
pub fn history_from_text(
    session: &mut Session,
    name: String,
    path: Option<std::path::PathBuf>,
    text: String,
    diags: &mut Vec<Diagnostic>,
) -> Option<std::sync::Arc<crate::history::LoadedHistory>> {
    let existing = session.sources.find(&name);
    let id = match existing {
        Some(id) => id,
        None => session.sources.add(name, path, text.clone()),
    };
    match crate::history::History::parse(&text) {
        Ok(h) => Some(std::sync::Arc::new(crate::history::LoadedHistory::new(
            h, &text, id,
        ))),
        Err(e) => {
            diags.push(e.diagnostic(&text, id));
            None
        }
    }
}

/// Reads and parses one configuration file; its problems become E501 diagnostics pointing
/// into it.
pub fn load_config(
    session: &mut Session,
    path: &Path,
    read: &mut ReadFile<'_>,
    diags: &mut Vec<Diagnostic>,
) -> std::io::Result<Option<Config>> {
    let bytes = read(path)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match Config::parse(&text) {
        Ok(c) => Ok(Some(c)),
        Err(errors) => {
            let shown = std::env::current_dir()
                .ok()
                .and_then(|d| path.strip_prefix(d).ok().map(Path::to_path_buf))
                .unwrap_or_else(|| path.to_path_buf());
            let name = shown.to_string_lossy().into_owned();
            let file = session.sources.add(name, Some(path.to_path_buf()), text);
            for e in errors {
                let mut d = Diagnostic::error("E501", e.message);
                if let Some(r) = e.range {
                    d = d.with_label(Label::primary(
                        crate::source::Span::new(file, r.start, r.end),
                        "in this configuration",
                    ));
                }
                if let Some(h) = e.help {
                    d = d.with_help(h);
                }
                diags.push(d);
            }
            Ok(None)
        }
    }
}
