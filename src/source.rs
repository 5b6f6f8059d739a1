//! Source files and spans.
//!
//! Every AST node carries a [`Span`]: a file and a byte range. Nodes that the compiler makes
//! itself (a default setting, a step the lowering adds) carry [`Span::synthetic`], never a
//! span borrowed from somewhere else, so a diagnostic can never point at the wrong text.

use std::path::{Path, PathBuf};

/// A map keyed by span. FxHash: the checker and the lint look SQL texts and their analyses up
/// by span thousands of times in an SQL-heavy file, and SipHash's resistance to chosen keys
/// buys nothing for byte offsets.
pub type SpanMap<V> = std::collections::HashMap<Span, V, rustc_hash::FxBuildHasher>;
/// A set of spans, hashed as [`SpanMap`].
pub type SpanSet = std::collections::HashSet<Span, rustc_hash::FxBuildHasher>;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct FileId(pub u32);

/// A byte range in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// The file id used for spans the compiler made itself.
    pub const SYNTHETIC_FILE: FileId = FileId(u32::MAX);

    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span {
            file,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    /// A span for a node the compiler made; it points at nothing.
    pub fn synthetic() -> Self {
        Span {
            file: Self::SYNTHETIC_FILE,
            start: 0,
            end: 0,
        }
    }

    pub fn is_synthetic(&self) -> bool {
        self.file == Self::SYNTHETIC_FILE
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The smallest span covering both (same file assumed; otherwise `self`).
    pub fn to(&self, other: Span) -> Span {
        if self.file != other.file {
            return *self;
        }
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// Byte offset of the start of each line of `text`.
pub fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The 0-based line containing byte `offset`, given the line starts of its text.
pub fn line_index(starts: &[usize], offset: usize) -> usize {
    match starts.binary_search(&offset) {
        Ok(i) => i,
        Err(i) => i.saturating_sub(1),
    }
}

/// One loaded source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown in diagnostics (the path as given, or `std/http.deploy`).
    pub name: String,
    /// The path on disk, for files read from disk (used to resolve relative imports).
    pub path: Option<PathBuf>,
    pub text: String,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: String, path: Option<PathBuf>, text: String) -> Self {
        let line_starts = line_starts(&text);
        SourceFile {
            name,
            path,
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = line_index(&self.line_starts, offset);
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let col = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(0);
        (line + 1, col + 1)
    }

    /// Byte range of a 0-based line, including its newline.
    pub fn line_range(&self, line: usize) -> Option<std::ops::Range<usize>> {
        let start = *self.line_starts.get(line)?;
        let end = self
            .line_starts
            .get(line + 1)
            .copied()
            .unwrap_or(self.text.len());
        Some(start..end)
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }
}

/// All files of one compilation.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, name: impl Into<String>, path: Option<PathBuf>, text: String) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX - 1));
        self.files.push(SourceFile::new(name.into(), path, text));
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn find_path(&self, path: &Path) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.path.as_deref() == Some(path))
            .and_then(|i| u32::try_from(i).ok())
            .map(FileId)
    }

    /// The file shown as `name` in diagnostics.
    pub fn find(&self, name: &str) -> Option<FileId> {
        self.files().find(|(_, f)| f.name == name).map(|(id, _)| id)
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| u32::try_from(i).ok().map(|i| (FileId(i), f)))
    }

    /// Text of a span, or "" for synthetic or out-of-range spans.
    pub fn text(&self, span: Span) -> &str {
        self.get(span.file).map(|f| f.slice(span)).unwrap_or("")
    }
}
