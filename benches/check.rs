//! Benchmarks of parse + resolve + check.
//!
//! * `single_program`: one generated program of 10,000 lines checked from memory with
//!   `compile_source`, reported in bytes per second;
//! * `file_tree`: a generated tree of 1,000 files (40 services, each with a shared module of
//!   metrics and messages and 24 release files that import it) written to a temporary
//!   directory and checked from disk with `compile_files`, as `deployc check DIR` does.
//!
//! Both inputs check with zero errors; that is asserted once, outside the timed loop.
//!
//! Run with `cargo bench --bench check`. To write the same inputs to a directory (to time or
//! profile `deployc check` on them):
//! `DEPLOYC_BENCH_WRITE=DIR cargo bench --bench check` writes `DIR/program.deploy` and
//! `DIR/tree/` and exits without benchmarking.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use deployc::compile::{compile_files, compile_source, read_from_disk};
use deployc::diagnostics::render_short;
use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};

mod inputs;
use inputs::{program, release_file, shared_module};

/// Lines in the single generated program.
const PROGRAM_LINES: usize = 10_000;
/// Services in the generated tree; each has one shared module and [`RELEASE_FILES`] roots.
const SERVICES: usize = 40;
const RELEASE_FILES: usize = 24;

fn main() {
    if let Some(dir) = std::env::var_os("DEPLOYC_BENCH_WRITE") {
        let dir = PathBuf::from(dir);
        if let Err(e) = write_inputs(&dir) {
            eprintln!(
                "cannot write the benchmark inputs to {}: {e}",
                dir.display()
            );
            std::process::exit(2);
        }
        println!(
            "wrote {} ({} lines) and {} files under {}",
            dir.join("program.deploy").display(),
            PROGRAM.lines().count(),
            SERVICES * (RELEASE_FILES + 1),
            dir.join("tree").display()
        );
        return;
    }
    verify_program();
    divan::main();
    TREE.cleanup();
}

fn write_inputs(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("program.deploy"), PROGRAM.as_bytes())?;
    let tree = dir.join("tree");
    if tree.exists() {
        std::fs::remove_dir_all(&tree)?;
    }
    write_tree(&tree)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Benchmarks

#[divan::bench(sample_count = 50)]
fn single_program(bencher: Bencher) {
    let src = PROGRAM.as_bytes();
    bencher
        .counter(BytesCount::new(src.len()))
        .bench(|| compile_source("program.deploy", divan::black_box(src)));
}

#[divan::bench(sample_count = 20)]
fn file_tree(bencher: Bencher) {
    let tree = &*TREE;
    bencher
        .counter(BytesCount::new(tree.bytes))
        .counter(ItemsCount::new(tree.files.len()))
        .bench(|| {
            let mut read = read_from_disk;
            compile_files(divan::black_box(&tree.files), &mut read)
        });
}

// ---------------------------------------------------------------------------------------------
// Inputs

static PROGRAM: LazyLock<String> = LazyLock::new(|| program(PROGRAM_LINES));

/// The generated tree, on disk for the duration of the run.
struct Tree {
    dir: PathBuf,
    files: Vec<(String, PathBuf)>,
    bytes: usize,
}

impl Tree {
    fn cleanup(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static TREE: LazyLock<Tree> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("deployc-bench-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = write_tree(&dir) {
        eprintln!("cannot write the benchmark tree to {}: {e}", dir.display());
        std::process::exit(2);
    }
    let mut files = Vec::new();
    collect(&dir, &dir, &mut files);
    files.sort();
    let bytes = files
        .iter()
        .map(|(_, p)| std::fs::metadata(p).map(|m| m.len() as usize).unwrap_or(0))
        .sum();
    let tree = Tree { dir, files, bytes };
    verify_tree(&tree);
    tree
});

/// Every `.deploy` file under `dir`, named relative to `root` (as `deployc check` names them).
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, out);
        } else if p.extension().is_some_and(|x| x == "deploy") {
            let name = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            out.push((name, p));
        }
    }
}

fn verify_program() {
    let (session, compiled) = compile_source("program.deploy", PROGRAM.as_bytes());
    let diags: Vec<_> = compiled
        .output
        .errors
        .iter()
        .map(|e| e.to_diagnostic())
        .collect();
    if !diags.is_empty() {
        eprint!("{}", render_short(&diags, &session.sources));
        eprintln!("the generated program has {} errors", diags.len());
        std::process::exit(1);
    }
}

fn verify_tree(tree: &Tree) {
    let mut read = read_from_disk;
    match compile_files(&tree.files, &mut read) {
        Ok((session, compiled, diags)) => {
            if !diags.is_empty() {
                eprint!("{}", render_short(&diags, &session.sources));
                eprintln!("the generated tree has {} errors", diags.len());
                std::process::exit(1);
            }
            assert_eq!(compiled.len(), tree.files.len());
        }
        Err(e) => {
            eprintln!("cannot read the generated tree: {e}");
            std::process::exit(1);
        }
    }
}

fn write_tree(dir: &Path) -> std::io::Result<()> {
    for s in 0..SERVICES {
        let svc = dir.join(format!("svc_{s:02}"));
        std::fs::create_dir_all(svc.join("releases"))?;
        std::fs::write(svc.join("shared.deploy"), shared_module(s))?;
        for r in 0..RELEASE_FILES {
            std::fs::write(
                svc.join("releases").join(format!("r{r:02}.deploy")),
                release_file(s, r),
            )?;
        }
    }
    Ok(())
}
