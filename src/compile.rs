//! The compiler driver: files in, diagnostics (and programs) out.
//!
//! Each root file is compiled as its own program; files are parsed once per [`Session`]
//! however many programs import them, and a diagnostic reported through two programs is
//! reported once.

use std::path::{Path, PathBuf};

use crate::check::{self, CheckOutput};
use crate::diagnostics::{self, Diagnostic};
use crate::resolve::{ModuleId, Names, Program, ReadFile, Session};

/// One compiled root file.
pub struct Compiled {
    pub root: ModuleId,
    pub program: Program,
    pub output: CheckOutput,
}

/// Reads a file from disk.
pub fn read_from_disk(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
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
    let mut roots = Vec::new();
    for (display, path) in files {
        roots.push(session.load_file(display, path, read)?);
    }
    let mut compiled = Vec::new();
    let mut diags: Vec<Diagnostic> = Vec::new();
    for root in roots {
        let c = compile_module(&mut session, root, read);
        diags.extend(c.output.errors.iter().map(|e| e.to_diagnostic()));
        compiled.push(c);
    }
    // A file imported by several roots reports its problems once: sorting puts equal
    // diagnostics side by side.
    diagnostics::sort(&mut diags);
    diags.dedup();
    Ok((session, compiled, diags))
}
