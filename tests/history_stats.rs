//! `deployc history --stats` on a history written by hand, against figures worked out by
//! hand (in the comments), not by the code under test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

use serde_json::Value;

fn deployc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deployc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn line(run: &str, env: &str, outcome: &str, started: &str, finished: &str) -> String {
    format!(
        r#"{{"format":1,"run":"{run}","service":"checkout","release":"{run}","environment":"{env}","outcome":"{outcome}","started_at":"{started}","finished_at":"{finished}"}}"#
    )
}

/// Ten runs over three ISO weeks (2026-W45 starts Monday 2 November, W46 Monday 9 November,
/// W47 Monday 16 November) in two environments, in the order they were appended, with one
/// unreadable line (line 6: a crash cut it short).
///
/// | line | run | environment | outcome | started → finished (UTC) | week | duration |
/// |---|---|---|---|---|---|---|
/// | 1 | s1 | staging | succeeded | 11-02 09:00 → 09:20 | W45 | 20m |
/// | 2 | p1 | production | succeeded | 11-03 09:00 → 09:40 | W45 | 40m |
/// | 3 | s2 | staging | rolled_back | 11-04 10:00 → 10:30 | W45 | |
/// | 4 | s3 | staging | succeeded | 11-04 12:00 → 12:30 | W45 | 30m |
/// | 5 | p2 | production | succeeded | Sun 11-08 23:30 → Mon 11-09 00:30 | W46 (ended) | 60m |
/// | 6 | (truncated) | | | | | |
/// | 7 | s4 | staging | succeeded | 11-10 09:00 → 09:10 | W46 | 10m |
/// | 8 | p3 | production | rollback_incomplete | 11-11 09:00 → 09:45 | W46 | |
/// | 9 | p4 | production | succeeded | 11-12 08:00 → 08:50 | W46 | 50m |
/// | 10 | s5 | staging | aborted | 11-17 09:00 → 09:05 | W47 | |
/// | 11 | p5 | production | rolled_back | 11-19 09:00 → 09:30 | W47 | |
///
/// A paused run writes no line (the runtime appends one only when a run ends): the state
/// directory also holds p6, a production run paused until its next step (its journal only),
/// and the figures do not count it.
fn history() -> String {
    let lines = [
        line(
            "s1",
            "staging",
            "succeeded",
            "2026-11-02T09:00:00Z",
            "2026-11-02T09:20:00Z",
        ),
        line(
            "p1",
            "production",
            "succeeded",
            "2026-11-03T09:00:00Z",
            "2026-11-03T09:40:00Z",
        ),
        line(
            "s2",
            "staging",
            "rolled_back",
            "2026-11-04T10:00:00Z",
            "2026-11-04T10:30:00Z",
        ),
        line(
            "s3",
            "staging",
            "succeeded",
            "2026-11-04T12:00:00Z",
            "2026-11-04T12:30:00Z",
        ),
        line(
            "p2",
            "production",
            "succeeded",
            "2026-11-08T23:30:00Z",
            "2026-11-09T00:30:00Z",
        ),
        r#"{"format":1,"run":"cut","service":"checkout""#.to_string(),
        line(
            "s4",
            "staging",
            "succeeded",
            "2026-11-10T09:00:00Z",
            "2026-11-10T09:10:00Z",
        ),
        line(
            "p3",
            "production",
            "rollback_incomplete",
            "2026-11-11T09:00:00Z",
            "2026-11-11T09:45:00Z",
        ),
        line(
            "p4",
            "production",
            "succeeded",
            "2026-11-12T08:00:00Z",
            "2026-11-12T08:50:00Z",
        ),
        line(
            "s5",
            "staging",
            "aborted",
            "2026-11-17T09:00:00Z",
            "2026-11-17T09:05:00Z",
        ),
        line(
            "p5",
            "production",
            "rolled_back",
            "2026-11-19T09:00:00Z",
            "2026-11-19T09:30:00Z",
        ),
    ];
    lines.join("\n") + "\n"
}

fn state_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("history"), history()).unwrap();
    let paused = dir.path().join("runs/20261120T090000Z-p6-production");
    std::fs::create_dir_all(&paused).unwrap();
    std::fs::write(
        paused.join("journal.jsonl"),
        concat!(
            r#"{"seq":0,"at":"2026-11-20T09:00:00Z","type":"run_started","run":"20261120T090000Z-p6-production","service":"checkout","release":"p6","environment":"production","t0":"2026-11-20T09:00:00Z","stable":"p4"}"#,
            "\n",
            r#"{"seq":1,"at":"2026-11-20T09:10:00Z","type":"paused","step":"bake","due":"2026-11-21T09:00:00Z"}"#,
            "\n",
        ),
    )
    .unwrap();
    dir
}

fn stats(dir: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["history", "--stats", "--state-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    deployc(&args)
}

#[test]
fn json_figures_match_the_hand_computed_ones() {
    let dir = state_dir();
    let (code, out, err) = stats(dir.path(), &["--format", "json"]);
    assert_eq!(code, 0, "{err}");
    // The cut line is reported and left out; everything else is counted.
    assert!(
        err.contains("error[E502]: cannot read line 6 of the run history"),
        "{err}"
    );
    assert!(err.contains("1 unreadable line"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();

    // The period: W45 to W47, 3 weeks = 21 days.
    assert_eq!(v["from_week"], "2026-W45");
    assert_eq!(v["to_week"], "2026-W47");

    // Every environment: 10 runs (the paused p6 is not one); 6 succeeded (s1 s3 s4 p1 p2 p4); 3 failed (s2, p3, p5);
    // 1 aborted (s5), which is not a change: 9 changes.
    let all = &v["overall"];
    assert_eq!(all["weeks"], 3);
    assert_eq!(all["runs"], 10);
    assert_eq!(all["succeeded"], 6);
    assert_eq!(all["rolled_back"], 2);
    assert_eq!(all["rollback_incomplete"], 1);
    assert_eq!(all["aborted"], 1);
    assert_eq!(all["changes"], 9);
    // 6 successes / 3 weeks = 2.00 a week; / 21 days = 0.2857… → 0.29 a day.
    assert_eq!(all["deployments_per_week"], 2.0);
    assert_eq!(all["deployments_per_day"], 0.29);
    // 3 failures / 9 changes = 0.3333.
    assert_eq!(all["change_failure_rate"], 0.3333);
    // Restores: staging s2 (ended 11-04 10:30) → s3 (ended 12:30) = 2h = 7200 s;
    // production p3 (ended 11-11 09:45) → p4 (ended 11-12 08:50) = 23h05m = 83100 s;
    // production p5 has no later success: open. Median of [7200, 83100] is their mean,
    // 45150 s (12h 32m 30s); worst 83100 s.
    let r = &all["time_to_restore"];
    assert_eq!(r["failures"], 3);
    assert_eq!(r["restored"], 2);
    assert_eq!(r["open"], 1);
    assert_eq!(r["median_seconds"], 45150);
    assert_eq!(r["worst_seconds"], 83100);
    // Durations of successes: 20m 30m 10m 40m 60m 50m, sorted 10 20 30 40 50 60:
    // median (30m + 40m) / 2 = 35m = 2100 s.
    assert_eq!(all["median_duration_seconds"], 2100);

    let envs = v["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 2);
    // Environments are in name order: production, then staging.
    let prod = &envs[0];
    assert_eq!(prod["environment"], "production");
    // production: 5 runs, 3 succeeded (p1 p2 p4), 2 failed (p3 p5), 5 changes:
    // 3/3 weeks = 1.00 a week, 3/21 = 0.1428… → 0.14 a day, 2/5 = 0.4.
    let p = &prod["period"];
    assert_eq!(p["runs"], 5);
    assert_eq!(p["succeeded"], 3);
    assert_eq!(p["deployments_per_week"], 1.0);
    assert_eq!(p["deployments_per_day"], 0.14);
    assert_eq!(p["change_failure_rate"], 0.4);
    assert_eq!(p["time_to_restore"]["restored"], 1);
    assert_eq!(p["time_to_restore"]["open"], 1);
    assert_eq!(p["time_to_restore"]["median_seconds"], 83100);
    assert_eq!(p["time_to_restore"]["worst_seconds"], 83100);
    // 40m 60m 50m: median 50m.
    assert_eq!(p["median_duration_seconds"], 3000);
    // production weeks: W45 p1; W46 p2 (started Sunday of W45, ended Monday of W46), p3, p4;
    // W47 p5.
    let weeks = prod["weeks"].as_array().unwrap();
    let labels: Vec<&str> = weeks.iter().map(|w| w["week"].as_str().unwrap()).collect();
    assert_eq!(labels, ["2026-W45", "2026-W46", "2026-W47"]);
    assert_eq!(weeks[0]["runs"], 1);
    assert_eq!(weeks[0]["change_failure_rate"], 0.0);
    // W46: 2 successes / 7 days = 0.2857 → 0.29; 1 failure in 3 changes; the restore of
    // p3 (begun in W46) is 83100 s; durations 60m and 50m: median 55m = 3300 s.
    assert_eq!(weeks[1]["runs"], 3);
    assert_eq!(weeks[1]["succeeded"], 2);
    assert_eq!(weeks[1]["deployments_per_day"], 0.29);
    assert_eq!(weeks[1]["change_failure_rate"], 0.3333);
    assert_eq!(weeks[1]["time_to_restore"]["median_seconds"], 83100);
    assert_eq!(weeks[1]["median_duration_seconds"], 3300);
    // W47: p5 only, failed and open: rate 1/1, no restore time, no duration.
    assert_eq!(weeks[2]["change_failure_rate"], 1.0);
    assert_eq!(weeks[2]["time_to_restore"]["open"], 1);
    assert_eq!(weeks[2]["time_to_restore"]["median_seconds"], Value::Null);
    assert_eq!(weeks[2]["median_duration_seconds"], Value::Null);

    // staging: 5 runs, 3 succeeded (s1 s3 s4), 1 rolled back (s2), 1 aborted (s5):
    // 4 changes, 1/4 = 0.25; restore s2 → s3 = 7200 s; durations 20m 30m 10m: median 20m.
    let s = &envs[1]["period"];
    assert_eq!(envs[1]["environment"], "staging");
    assert_eq!(s["changes"], 4);
    assert_eq!(s["change_failure_rate"], 0.25);
    assert_eq!(s["time_to_restore"]["median_seconds"], 7200);
    assert_eq!(s["time_to_restore"]["open"], 0);
    assert_eq!(s["median_duration_seconds"], 1200);
    // staging W47 holds only the aborted s5: no change, so no rate at all (not 0%).
    let sw = envs[1]["weeks"].as_array().unwrap();
    assert_eq!(sw[2]["week"], "2026-W47");
    assert_eq!(sw[2]["runs"], 1);
    assert_eq!(sw[2]["changes"], 0);
    assert_eq!(sw[2]["change_failure_rate"], Value::Null);

    // The failure never restored is named.
    let open = v["open_failures"].as_array().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["run"], "p5");
    assert_eq!(open[0]["environment"], "production");
    assert_eq!(open[0]["failed_at"], "2026-11-19T09:30:00Z");
}

#[test]
fn text_table() {
    let dir = state_dir();
    let (code, out, _) = stats(dir.path(), &[]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(out);
}

#[test]
fn filters() {
    let dir = state_dir();
    // --env staging --since 2026-11-04: s2, s3, s4, s5 (s1 ended on 11-02). Period W45–W47
    // (from the week of --since): 3 weeks; 2 successes: 0.67 a week; 1 failure in 3 changes.
    let (code, out, _) = stats(
        dir.path(),
        &[
            "--env",
            "staging",
            "--since",
            "2026-11-04",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    let all = &v["overall"];
    assert_eq!(all["runs"], 4);
    assert_eq!(all["weeks"], 3);
    assert_eq!(all["deployments_per_week"], 0.67);
    assert_eq!(all["change_failure_rate"], 0.3333);
    assert_eq!(v["environments"].as_array().unwrap().len(), 1);
    assert_eq!(v["since"], "2026-11-04T00:00:00Z");

    // Nothing matches: a clear line, exit 0.
    let (code, out, _) = stats(dir.path(), &["--env", "qa"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("no runs in `"), "{out}");
    assert!(out.trim_end().ends_with("match --env qa"), "{out}");
}

#[test]
fn bad_since_is_a_one_line_usage_error() {
    let dir = state_dir();
    let (code, out, err) = stats(dir.path(), &["--since", "last tuesday"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: `--since last tuesday`"), "{err}");
}

#[test]
fn empty_history() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = stats(dir.path(), &[]);
    assert_eq!(code, 0);
    assert!(out.starts_with("no runs recorded in `"), "{out}");
    let (code, out, err) = stats(dir.path(), &["--format", "json"]);
    assert_eq!(code, 0);
    assert!(err.starts_with("no runs recorded"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["overall"], Value::Null);
    assert_eq!(v["environments"].as_array().unwrap().len(), 0);
}

#[test]
fn a_line_with_an_unreadable_time_is_e502_and_left_out() {
    // Line 1 ends before it starts; line 2 is fine: one run counted.
    let dir = tempfile::tempdir().unwrap();
    let text = [
        line(
            "bad",
            "staging",
            "succeeded",
            "2026-11-02T09:00:00Z",
            "2026-11-02T08:00:00Z",
        ),
        line(
            "ok",
            "staging",
            "succeeded",
            "2026-11-02T09:00:00Z",
            "2026-11-02T09:30:00Z",
        ),
    ]
    .join("\n");
    std::fs::write(dir.path().join("history"), text).unwrap();
    let (code, out, err) = stats(dir.path(), &["--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("error[E502]: cannot read line 1 of the run history"),
        "{err}"
    );
    assert!(err.contains("is before `started_at`"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["overall"]["runs"], 1);
    assert_eq!(v["overall"]["median_duration_seconds"], 1800);
}
