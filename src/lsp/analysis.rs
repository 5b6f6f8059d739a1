//! One analysis of one open document: the compiler's own pipeline (`compile::check_files`:
//! parse, resolve, check, lint with the nearest `deployc.toml`) run over the editor's text.
//!
//! Open documents are served from memory and everything else (imports, `.sql` files, the
//! configuration) from disk, so an import that is open with unsaved edits is analysed as
//! the user sees it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::compile::{self, Compiled};
use crate::diagnostics::Diagnostic;
use crate::lint::{self, Config, LintOptions};
use crate::resolve::{ModuleId, Session};
use crate::source::FileId;
use crate::syntax::ast::Module;

/// The compiled program of one document, and what the checker and the linter found.
pub(crate) struct Analysis {
    pub(crate) session: Session,
    pub(crate) compiled: Compiled,
    /// Errors and lint findings of the whole program, sorted.
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    /// The document's own module.
    pub(crate) fn module(&self) -> ModuleId {
        self.compiled.root
    }

    pub(crate) fn file(&self) -> Option<FileId> {
        self.session.module(self.compiled.root).map(|m| m.file)
    }

    /// The document's syntax tree; `None` when it did not parse.
    pub(crate) fn ast(&self) -> Option<&Module> {
        self.session
            .module(self.compiled.root)
            .and_then(|m| m.ast.as_ref())
    }

    /// The text this analysis was made from.
    pub(crate) fn text(&self) -> &str {
        self.file()
            .and_then(|f| self.session.sources.get(f))
            .map(|f| f.text.as_str())
            .unwrap_or("")
    }

    /// The diagnostics whose primary label is in the document itself.
    pub(crate) fn own_diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        let file = self.file();
        self.diagnostics
            .iter()
            .filter(move |d| d.primary_span().map(|s| s.file) == file)
    }
}

/// Analyses `text`, the editor's content of the file at `path` (`None` for a document that
/// is not a file: it is compiled alone, with the default configuration). `overlay` holds the
/// other open documents by path.
pub(crate) fn analyze(
    path: Option<&Path>,
    text: &str,
    overlay: &HashMap<PathBuf, String>,
) -> Analysis {
    match path {
        Some(path) => analyze_file(path, text, overlay),
        None => analyze_in_memory(text),
    }
}

fn analyze_file(path: &Path, text: &str, overlay: &HashMap<PathBuf, String>) -> Analysis {
    let key = crate::resolve::normalize(path);
    let mut read = |p: &Path| -> std::io::Result<Vec<u8>> {
        let p = crate::resolve::normalize(p);
        if p == key {
            return Ok(text.as_bytes().to_vec());
        }
        match overlay.get(&p) {
            Some(t) => Ok(t.as_bytes().to_vec()),
            None => compile::read_from_disk(&p),
        }
    };
    let files = [(path.to_string_lossy().into_owned(), key.clone())];
    match compile::check_files(&files, &mut read, None, &LintOptions::default()) {
        Ok(run) => {
            let mut compiled = run.compiled;
            match compiled.pop() {
                Some(c) => Analysis {
                    session: run.session,
                    compiled: c,
                    diagnostics: run.diagnostics,
                },
                None => analyze_in_memory(text),
            }
        }
        // Only reading the configuration or the history can fail here (the document itself
        // comes from memory); the document is still analysed, without them.
        Err(_) => analyze_in_memory(text),
    }
}

fn analyze_in_memory(text: &str) -> Analysis {
    let (session, compiled) = compile::compile_source("untitled.deploy", text.as_bytes());
    let mut diagnostics: Vec<Diagnostic> = compiled
        .output
        .errors
        .iter()
        .map(|e| e.to_diagnostic())
        .collect();
    diagnostics.extend(lint::lint(
        &session,
        &compiled,
        &Config::default(),
        &LintOptions::default(),
    ));
    crate::diagnostics::sort(&mut diagnostics);
    diagnostics.dedup();
    Analysis {
        session,
        compiled,
        diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_in_memory_document_is_checked_and_linted() {
        let a = analyze(None, "channel ops = stdout\n", &HashMap::new());
        assert!(a.ast().is_some());
        // The unused channel is a lint finding (C504).
        assert!(
            a.own_diagnostics().any(|d| d.code == "C504"),
            "{:?}",
            a.diagnostics
        );
    }

    #[test]
    fn a_syntax_error_has_no_tree_and_one_diagnostic() {
        let a = analyze(None, "release {\n", &HashMap::new());
        assert!(a.ast().is_none());
        assert!(a.own_diagnostics().any(|d| d.code.starts_with("E1")));
    }
}
