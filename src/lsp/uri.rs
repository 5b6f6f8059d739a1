//! Document URIs and the files behind them, including the embedded stdlib.
//!
//! The stdlib lives inside the binary; so that an editor can open a stdlib definition, its
//! files are written once per version of deployc to a cache directory and named by their
//! paths there.

use std::path::{Path, PathBuf};

use lsp_types::Url;

use crate::resolve::Session;
use crate::source::FileId;

/// The path of a `file:` URI; `None` for any other scheme (an unsaved buffer).
pub(crate) fn to_path(uri: &Url) -> Option<PathBuf> {
    if uri.scheme() != "file" {
        return None;
    }
    uri.to_file_path().ok()
}

/// The URI of a file of a session: its path on disk, or for the stdlib its copy in the
/// cache directory.
pub(crate) fn of_file(session: &Session, file: FileId) -> Option<Url> {
    let source = session.sources.get(file)?;
    match &source.path {
        Some(path) => Url::from_file_path(absolute(path)).ok(),
        None => {
            let name = source.name.strip_prefix("<stdlib>/")?;
            let path = stdlib_copy(name, &source.text)?;
            Url::from_file_path(path).ok()
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|d| d.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Where this version's stdlib copies live: `$XDG_CACHE_HOME/deployc/stdlib-VERSION`
/// (`~/.cache/…` without it).
fn stdlib_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(
        base.join("deployc")
            .join(format!("stdlib-{}", env!("CARGO_PKG_VERSION"))),
    )
}

/// Writes a stdlib module's text to the cache (when it is missing or differs) and returns
/// its path. The write goes through a temporary file and a rename, so a reader never sees
/// half a file.
fn stdlib_copy(name: &str, text: &str) -> Option<PathBuf> {
    let path = stdlib_dir()?.join(name);
    if std::fs::read_to_string(&path).is_ok_and(|t| t == text) {
        return Some(path);
    }
    std::fs::create_dir_all(path.parent()?).ok()?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text).ok()?;
    std::fs::rename(&tmp, &path).ok()?;
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdlib_files_are_copied_to_the_cache_and_named_there() {
        let session = Session::new();
        let module = session.std_module("std.comms").unwrap();
        let file = session.module(module).unwrap().file;
        let uri = of_file(&session, file).unwrap();
        let path = to_path(&uri).unwrap();
        assert!(
            path.starts_with(stdlib_dir().unwrap()),
            "{}",
            path.display()
        );
        assert!(path.ends_with("std/comms.deploy"));
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text, session.sources.get(file).unwrap().text);
    }

    #[test]
    fn only_file_uris_have_paths() {
        let untitled = Url::parse("untitled:Untitled-1").unwrap();
        assert_eq!(to_path(&untitled), None);
        let file = Url::parse("file:///tmp/a%20b.deploy").unwrap();
        assert_eq!(to_path(&file), Some(PathBuf::from("/tmp/a b.deploy")));
    }
}
