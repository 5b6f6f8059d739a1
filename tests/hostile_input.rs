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

/// Runs `deployc check ARGS` in `dir`, killed if it takes more than 30 s (a read that
/// blocks would hang the test otherwise).
fn check_bounded(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut c = deployc();
    c.current_dir(dir)
        .arg("check")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let child = c.spawn().unwrap();
    let pid = child.id();
    // The output is read as it comes (a full pipe would stall the child), on a thread, so
    // that the wait can be bounded.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let o = match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(o) => o.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("`deployc check {args:?}` hung");
        }
    };
    (o.status.code(), text(&o))
}

fn allow(dir: &Path) {
    std::fs::write(
        dir.join("deployc.toml"),
        "[rules]\nC501 = \"allow\"\nC502 = \"allow\"\n",
    )
    .unwrap();
}

const SMALL: &str = "service api {}\n";

#[test]
fn only_regular_files_are_read() {
    let dir = scratch("fifo");
    allow(&dir);
    let fifo = dir.join("pipe.deploy");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Named, and found by the directory walk: refused at once, not read (which would block).
    let (code, out) = check_bounded(&dir, &["pipe.deploy"], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("is a FIFO, not a regular file"), "{out}");
    assert!(out.contains("pipe.deploy"), "{out}");
    let (code, out) = check_bounded(&dir, &["."], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("is a FIFO"), "{out}");
    // A device that never ends.
    let (code, out) = check_bounded(&dir, &["/dev/zero"], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("is a device, not a regular file"), "{out}");
}

#[test]
fn a_symbolic_link_loop_is_walked_once() {
    let dir = scratch("symlink-loop");
    allow(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/a.deploy"), SMALL).unwrap();
    std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
    let (code, out) = check_bounded(&dir, &["."], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("checked 1 file"), "{out}");
}

#[test]
fn a_file_over_the_size_limit_is_refused() {
    let dir = scratch("size");
    allow(&dir);
    let mut big = String::from(SMALL);
    big.push_str(&"# padding\n".repeat((8 * 1024 * 1024) / 10 + 1));
    std::fs::write(dir.join("big.deploy"), big).unwrap();
    let (code, out) = check_bounded(&dir, &["big.deploy"], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("is larger than 8 MiB"), "{out}");
}

#[test]
fn imports_stay_inside_the_project() {
    let dir = scratch("imports");
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    allow(&project);
    std::fs::write(dir.join("outside.deploy"), SMALL).unwrap();
    std::fs::write(
        project.join("environ.deploy"),
        "import \"/proc/self/environ\" as env\nservice api {}\n",
    )
    .unwrap();
    let (code, out) = check_bounded(
        &project,
        &["environ.deploy"],
        &[("DEPLOYC_TEST_MARKER", "marker-value-9917")],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(!out.contains("marker-value-9917"), "{out}");
    assert!(out.contains("error[E209]"), "{out}");
    assert!(out.contains("is outside the project"), "{out}");
    std::fs::write(
        project.join("up.deploy"),
        "import \"../outside.deploy\" as o\nservice api {}\n",
    )
    .unwrap();
    let (code, out) = check_bounded(&project, &["up.deploy"], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[E209]"), "{out}");
    // Inside the project, a relative import is fine.
    std::fs::create_dir_all(project.join("lib")).unwrap();
    std::fs::write(
        project.join("lib/shared.deploy"),
        "team { lead = \"a@b.c\" }\n",
    )
    .unwrap();
    std::fs::write(
        project.join("ok.deploy"),
        "import \"./lib/shared.deploy\" as shared\nservice api {}\n",
    )
    .unwrap();
    let (code, out) = check_bounded(&project, &["ok.deploy"], &[]);
    assert!(!out.contains("E209"), "{out}");
    assert!(!out.contains("E203"), "{out}");
    let _ = code;
}

#[test]
fn control_characters_in_messages_are_escaped() {
    let dir = scratch("control");
    allow(&dir);
    std::fs::write(
        dir.join("c.deploy"),
        "service api {}\nrelease \"1.0\\u{1b}[2J\" { strategy = flags_only }\nrelease \"1.0\\u{1b}[2J\" { strategy = flags_only }\n",
    )
    .unwrap();
    // Raw control bytes in the source itself, shown in the snippet under the error.
    std::fs::write(
        dir.join("raw.deploy"),
        "service api { \u{1b}[2J\u{7}\u{9b}31m }\n",
    )
    .unwrap();
    for file in ["c.deploy", "raw.deploy"] {
        for format in ["human", "short", "json", "github", "sarif"] {
            let (code, out) = check_bounded(&dir, &[file, "--format", format], &[]);
            assert_eq!(code, Some(1), "{file} {format}: {out:?}");
            assert!(
                !out.contains(['\u{1b}', '\u{7}', '\u{9b}']),
                "{file} {format}: {out:?}"
            );
        }
    }
}

/// The entry points of the `runtime_readers` fuzz target read real plans, scenarios and
/// journals as `deployc run` does (the simulation ends as the command's does), and cut or
/// corrupted copies of them are errors, never a panic.
#[test]
fn the_runtime_readers_fuzz_entry_points_agree_with_the_command() {
    use deployc::runtime::fuzz;
    let plan = deployc()
        .args(["plan", "examples/checkout.deploy", "--release", "2.1.0"])
        .args(["--env", "production", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let fails = std::fs::read_to_string("tests/runtime/checkout-canary-fails.toml").unwrap();
    let succeeds = std::fs::read_to_string("tests/runtime/checkout-success.toml").unwrap();
    assert_eq!(fuzz::plan_and_scenario(&plan.stdout, &fails), Ok(1));
    assert_eq!(fuzz::plan_and_scenario(&plan.stdout, &succeeds), Ok(0));
    let err = fuzz::plan_and_scenario(&plan.stdout, "metrics = 3").unwrap_err();
    assert!(err.contains("metrics"), "{err}");
    for cut in [0, 1, plan.stdout.len() / 2, plan.stdout.len() - 2] {
        assert!(fuzz::plan_and_scenario(&plan.stdout[..cut], &succeeds).is_err());
    }

    let dir = scratch("fuzz-journal");
    let run = deployc()
        .current_dir(&dir)
        .arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.deploy"))
        .args(["--release", "1.1.0", "--env", "local", "--dry-run"])
        .args(["--log-format", "json"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let lines = run.stdout.iter().filter(|b| **b == b'\n').count();
    assert!(lines > 10, "{}", text(&run));
    assert_eq!(fuzz::journal(&run.stdout), Ok(lines));
    // A torn last line is left out; a broken line in the middle is an error.
    let torn = &run.stdout[..run.stdout.len() - 5];
    assert_eq!(fuzz::journal(torn), Ok(lines - 1));
    let mut broken = run.stdout.clone();
    let middle = broken.len() / 2;
    broken[middle] = b'\x01';
    assert!(fuzz::journal(&broken).is_err());
}

/// A plan file (`--plan`) whose release names a path outside the state directory: the
/// simulation's reports stay inside it, under a name with the separators replaced.
#[test]
fn a_plan_file_cannot_place_files_outside_the_state_directory() {
    let dir = scratch("plan-traversal");
    let plan = deployc()
        .args(["plan", "examples/quickstart.deploy", "--release", "1.1.0"])
        .args(["--env", "local", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let mut value: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    value["release"] = serde_json::Value::String("../../escaped".into());
    let state = dir.join("a").join("b").join("state");
    std::fs::create_dir_all(&state).unwrap();
    let plan_file = dir.join("plan.json");
    std::fs::write(&plan_file, serde_json::to_vec(&value).unwrap()).unwrap();
    let scenario = dir.join("empty.toml");
    std::fs::write(&scenario, "").unwrap();
    let out = deployc()
        .arg("run")
        .arg("--plan")
        .arg(&plan_file)
        .arg("--simulate")
        .arg(&scenario)
        .arg("--state-dir")
        .arg(&state)
        .output()
        .unwrap();
    assert!(out.status.code().is_some(), "{}", text(&out));
    // `state/simulations/../../escaped-local` would be `a/b/escaped-local`.
    assert!(
        !dir.join("a").join("b").join("escaped-local").exists(),
        "{}",
        text(&out)
    );
    let made: Vec<String> = std::fs::read_dir(state.join("simulations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        made,
        vec!["_.._.._escaped-local".to_string()],
        "{}",
        text(&out)
    );
}
