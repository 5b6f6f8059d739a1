//! `deployc check` against hostile input: nesting that would exhaust the stack, files that
//! are not regular files, symbolic link loops, oversized files, imports that reach outside
//! the project, control characters in names.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/process.rs"]
mod process;
use process::{deployc, text};

use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    process::scratch_in("hostile-input", name)
}

fn nested(n: usize) -> String {
    let cond = format!("{}error_rate > 5%{}", "(".repeat(n), ")".repeat(n));
    format!(
        "import std.http\nservice api {{ health = http \"http://localhost/health\" }}\nrelease \"1.0.0\" {{\n  strategy = flags_only\n  rollback {{\n    auto when {cond} for 5m\n  }}\n}}\n"
    )
}

fn check(dir: &Path, args: &[&str]) -> std::process::Output {
    deployc()
        .current_dir(dir)
        .arg("check")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn nesting_ten_times_the_limit_is_an_error_not_a_crash() {
    let limit = deployc::syntax::MAX_NESTING;
    let dir = scratch("nesting");
    std::fs::write(
        dir.join("deployc.toml"),
        "[rules]\nC501 = \"allow\"\nC502 = \"allow\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("deep.deploy"), nested(limit * 10)).unwrap();
    let o = check(&dir, &["deep.deploy"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("error[E107]: nested too deeply"), "{out}");
    // Just inside the limit (the `release` and `rollback` blocks count), the file checks.
    std::fs::write(dir.join("deep.deploy"), nested(limit - 2)).unwrap();
    let o = check(&dir, &["deep.deploy"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn both_parsers_stop_at_the_limit_on_a_small_stack() {
    let src = nested(deployc::syntax::MAX_NESTING * 10);
    // A 256 KiB stack: far less than any thread deployc parses on.
    let r = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let file = deployc::source::FileId(0);
            let fast = deployc::syntax::parse_fast(file, &src).is_none();
            let (module, errors) = deployc::syntax::parse_pest(file, &src);
            (fast, module.is_none(), format!("{errors:?}"))
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(r.0, "the hand-written parser gives up");
    assert!(r.1, "pest makes no module");
    assert!(r.2.contains("NestedTooDeeply"), "{}", r.2);
}
