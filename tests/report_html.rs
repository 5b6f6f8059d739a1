//! The HTML reports in a real browser: the quickstart's good and bad runs (simulated, and
//! the bad one for real) rendered by headless Chromium to PNG, whose plot areas must hold the
//! series' colours where the run sampled data; the pages checked by a maintained validator
//! (`html-validate`); the text a reader sees as a snapshot. Also `deployc status RUN --watch`
//! against a run in another process, and `deployc report RUN --note`.
//!
//! Chromium is the Debian package (`/usr/bin/chromium`); without it the browser tests skip
//! with the reason printed, unless `DEPLOYC_REQUIRE_CHROMIUM=1` (CI), where they fail. The
//! validator is installed from npm into `target/tools` when it is missing.
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
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The colours the charts draw with (`src/chart.rs`).
const NEW: [u8; 3] = [0xd9, 0x5f, 0x02];
const STABLE: [u8; 3] = [0x1b, 0x7c, 0xb3];
const THRESHOLD: [u8; 3] = [0x7a, 0x3d, 0xb8];
const BREACH: [u8; 3] = [0xc4, 0x12, 0x2f];
const ROLLBACK_BAND: [u8; 3] = [0xf6, 0xd5, 0xd9];

/// The plot area of a metric chart in its SVG's coordinates (`LineChart::svg`).
const PLOT: (u32, u32, u32, u32) = (70, 40, 744, 250);

fn scratch(name: &str) -> PathBuf {
    process::scratch_in("report_html", name)
}

fn required() -> bool {
    std::env::var("DEPLOYC_REQUIRE_CHROMIUM").as_deref() == Ok("1")
}

/// Headless Chromium, or `None` (and why) when the machine has none.
fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/chromium");
    if path.is_file() {
        return Some(path);
    }
    assert!(
        !required(),
        "DEPLOYC_REQUIRE_CHROMIUM=1 but `/usr/bin/chromium` is missing (apt-get install chromium)"
    );
    eprintln!("skipped: no `/usr/bin/chromium` (Debian package `chromium`) to render the report");
    None
}

/// `html-validate` from npm: on the PATH, in `target/tools`, or installed there now.
fn html_validate() -> Option<PathBuf> {
    if Command::new("html-validate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(PathBuf::from("html-validate"));
    }
    let tools = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../tools");
    let bin = tools.join("node_modules/.bin/html-validate");
    // The tests of this file run in parallel: one installs, the others wait for it.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !bin.exists() {
        std::fs::create_dir_all(&tools).unwrap();
        let installed = Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&tools)
            .arg("html-validate@9")
            .stdin(Stdio::null())
            .output();
        match installed {
            Ok(o) if o.status.success() => {}
            other => {
                assert!(
                    !required(),
                    "cannot install html-validate from npm: {other:?}"
                );
                eprintln!("skipped: html-validate is missing and npm could not install it");
                return None;
            }
        }
    }
    Some(bin)
}

/// Validates a page with the recommended rules.
fn validate(page: &Path) {
    let Some(bin) = html_validate() else {
        return;
    };
    let out = Command::new(bin)
        .arg("--config")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/report/.htmlvalidate.json"))
        .arg(page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} is not valid HTML:\n{}",
        page.display(),
        text(&out)
    );
}

/// Renders `page` to a PNG `width` × `height` pixels; returns its RGBA rows.
fn screenshot(browser: &Path, page: &Path, png: &Path, width: u32, height: u32) -> Image {
    let _ = std::fs::remove_file(png);
    let profile = png.with_extension("profile");
    let out = Command::new("timeout")
        .arg("120")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        png.is_file(),
        "no screenshot of {}: {}",
        page.display(),
        text(&out)
    );
    Image::read(png)
}

struct Image {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Image {
    fn read(path: &Path) -> Image {
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        let channels = info.color_type.samples();
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let rgba = buf
            .chunks(channels)
            .flat_map(|p| match p.len() {
                3 => [p[0], p[1], p[2], 255],
                4 => [p[0], p[1], p[2], p[3]],
                _ => [p[0], p[0], p[0], 255],
            })
            .collect();
        Image {
            width: info.width,
            height: info.height,
            rgba,
        }
    }

    /// Pixels within `(x0, y0, x1, y1)` whose colour is within a small distance of `c`
    /// (anti-aliasing blends the edges of lines).
    fn count(&self, c: [u8; 3], (x0, y0, x1, y1): (u32, u32, u32, u32)) -> usize {
        let mut n = 0;
        for y in y0..y1.min(self.height) {
            for x in x0..x1.min(self.width) {
                let i = ((y * self.width + x) * 4) as usize;
                let p = &self.rgba[i..i + 3];
                let d: i32 = p
                    .iter()
                    .zip(c.iter())
                    .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                    .sum();
                if d <= 24 {
                    n += 1;
                }
            }
        }
        n
    }

    fn everywhere(&self) -> (u32, u32, u32, u32) {
        (0, 0, self.width, self.height)
    }
}

/// The metric charts of a report: each `<svg>` whose label says it is one.
fn metric_charts(html: &str) -> Vec<String> {
    html.match_indices("<svg ")
        .filter_map(|(i, _)| {
            let end = html[i..].find("</svg>")? + i + "</svg>".len();
            let svg = &html[i..end];
            svg.contains("new and stable over time")
                .then(|| svg.to_string())
        })
        .collect()
}

/// Samples with a value of `metric` on `track`, from `report.json` (summed over the steps).
fn samples(report: &serde_json::Value, metric: &str, track: &str) -> u64 {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["metrics"][metric][track]["samples"].as_u64())
        .sum()
}

/// Renders each metric chart of the report in `dir` alone at its own size (760 px wide, one
/// SVG unit a pixel) and checks its plot area where the run has data: each track with
/// samples is drawn (a line across the plot with many samples, at least a dot with a few),
/// and the error rate's thresholds (1%, 5%, within its scale) are drawn. Returns the images
/// for further checks.
fn check_charts(browser: &Path, out: &Path, dir: &Path, expect: usize) -> Vec<Image> {
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let charts = metric_charts(&html);
    assert_eq!(charts.len(), expect, "metric charts in the report");
    let mut images = Vec::new();
    for (i, svg) in charts.iter().enumerate() {
        let metric = svg
            .split_once("aria-label=\"")
            .and_then(|(_, rest)| rest.split_once(':'))
            .map(|(m, _)| m.to_string())
            .unwrap();
        let page = out.join(format!("chart-{metric}.html"));
        std::fs::write(
            &page,
            format!(
                "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>chart</title><style>body{{margin:0}} svg{{width:760px;height:292px;display:block}}</style></head><body>{svg}</body></html>"
            ),
        )
        .unwrap();
        let img = screenshot(browser, &page, &page.with_extension("png"), 760, 292);
        let mut drawn = 0;
        for (track, c) in [("new", NEW), ("stable", STABLE)] {
            let n = samples(&report, &metric, track);
            let min_px = match n {
                0 => continue,
                1..=9 => 8,
                _ => 150,
            };
            let px = img.count(c, PLOT);
            assert!(
                px > min_px,
                "chart {i} ({metric}): {n} samples of {track} but {px} pixels of it in the plot area of {}",
                page.display()
            );
            drawn += 1;
        }
        assert!(drawn > 0, "{metric}: a chart without data is not drawn");
        if metric == "error_rate" {
            assert!(img.count(THRESHOLD, PLOT) > 150, "{metric}: thresholds");
        }
        images.push(img);
    }
    images
}

/// What a reader sees of a page: the text without tags, styles and blank lines.
fn visible_text(html: &str) -> String {
    let body = html
        .split_once("</style>")
        .map(|(_, rest)| rest)
        .unwrap_or(html);
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn simulate(dir: &Path, release: &str, scenario: &str) -> (i32, String, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = deployc()
        .arg("run")
        .arg(root.join("examples/quickstart.deploy"))
        .args(["--release", release, "--env", "local", "--simulate"])
        .arg(root.join("tests/report").join(scenario))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .unwrap();
    let report = dir
        .join("state/simulations")
        .join(format!("{release}-local"));
    (out.status.code().unwrap_or(-1), text(&out), report)
}

#[test]
fn simulated_quickstart_runs_render_their_charts() {
    let dir = scratch("simulated");
    let (code, out, good) = simulate(&dir, "1.1.0", "quickstart-good.toml");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("report: "), "{out}");
    let (code, out, bad) = simulate(&dir, "1.2.0-bad", "quickstart-bad.toml");
    assert_eq!(code, 1, "{out}");

    let good_html = std::fs::read_to_string(good.join("report.html")).unwrap();
    let bad_html = std::fs::read_to_string(bad.join("report.html")).unwrap();
    // Self-contained: nothing to fetch, nothing to run.
    for html in [&good_html, &bad_html] {
        assert!(!html.contains("<script"));
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
        assert!(!html.contains("<link"));
    }
    insta::assert_snapshot!("quickstart_good_text", visible_text(&good_html));
    insta::assert_snapshot!("quickstart_bad_text", visible_text(&bad_html));
    // The markdown report has units and links the HTML one.
    let md = std::fs::read_to_string(bad.join("report.md")).unwrap();
    assert!(md.contains("[report.html](report.html)"), "{md}");
    assert!(md.contains("error_rate (new): last 30.500%"), "{md}");
    assert!(md.contains(" ms, min "), "{md}");

    validate(&good.join("report.html"));
    validate(&bad.join("report.html"));

    let Some(browser) = chromium() else {
        return;
    };
    // error_rate and latency_p95 are guarded in both releases.
    check_charts(&browser, &good, &good, 2);
    let bad_charts = check_charts(&browser, &bad, &bad, 2);
    // The bad run's error rate chart marks the breach and the rollback (a simulated
    // rollback takes no time on the virtual clock: a mark, no band).
    assert!(bad_charts[0].count(BREACH, PLOT) > 100, "breach marks");
    // And the whole pages, as a reader opens them.
    for (name, report) in [("good", &good), ("bad", &bad)] {
        let img = screenshot(
            &browser,
            &report.join("report.html"),
            &dir.join(format!("{name}-page.png")),
            1000,
            3600,
        );
        // The page as a whole draws its charts (the plot areas are checked above).
        let all = img.everywhere();
        assert!(img.count(NEW, all) > 40, "{name}: new series on the page");
        assert!(
            img.count(STABLE, all) > 40,
            "{name}: stable series on the page"
        );
    }
}

/// The quickstart in a scratch directory, for a real run.
fn quickstart(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("examples/quickstart.deploy"),
        dir.join("quickstart.deploy"),
    )
    .unwrap();
}

fn journal_of(run_dir: &Path) -> String {
    std::fs::read_to_string(run_dir.join("journal.jsonl")).unwrap_or_default()
}

/// The quickstart's bad release for real (the demo app fails 30% of its requests): while it
/// runs, `status --watch` follows it from another process and `report --note` is refused;
/// once it has rolled back, its HTML report renders with the breach, notes are added, and a
/// watch of the finished run prints it and exits.
#[test]
fn a_real_bad_run_watched_from_another_process_then_reported() {
    let dir = scratch("real-bad");
    quickstart(&dir);
    let run = deployc()
        .current_dir(&dir)
        .args([
            "run",
            "quickstart.deploy",
            "--release",
            "1.2.0-bad",
            "--env",
            "local",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let runs = dir.join(".deployc/runs");
    let started = Instant::now();
    let run_dir = loop {
        let found = std::fs::read_dir(&runs)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|d| d.ok())
            .map(|d| d.path())
            .filter(|p| p.join("journal.jsonl").is_file());
        if let Some(p) = found {
            break p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no run started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        !journal_of(&run_dir).contains("run_finished"),
        "the run ended before the watch began"
    );
    let watch = deployc()
        .current_dir(&dir)
        .args(["status", "latest", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A live run's report is its own to write.
    let refused = deployc()
        .current_dir(&dir)
        .args(["report", "latest", "--note", "too early"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("is live"), "{}", text(&refused));

    let run = run.wait_with_output().unwrap();
    let watched = watch.wait_with_output().unwrap();
    let run_out = String::from_utf8_lossy(&run.stdout).into_owned();
    let watch_out = String::from_utf8_lossy(&watched.stdout).into_owned();
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    // The watch exits as the run did, with the run's own lines in the run's order.
    assert_eq!(watched.status.code(), Some(1), "{}", text(&watched));
    let (lines, last) = {
        let mut l: Vec<&str> = watch_out.lines().collect();
        let last = l.pop().unwrap_or_default();
        (l, last)
    };
    assert_eq!(last, "state: rolled back", "{watch_out}");
    assert!(
        lines.iter().any(|l| l.ends_with("↩ rollback complete")),
        "{watch_out}"
    );
    assert!(
        lines.iter().any(|l| l.ends_with("run rolled_back")),
        "{watch_out}"
    );
    let of_run: Vec<&str> = run_out.lines().filter(|l| lines.contains(l)).collect();
    assert_eq!(of_run, lines, "the watch shows the run's lines\n{run_out}");

    // A finished run: printed at once, same lines, same exit.
    let again = deployc()
        .current_dir(&dir)
        .args(["status", "latest", "--watch"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&again.stdout), watch_out);

    // Notes: journaled, and both reports written again with them.
    for args in [
        &[
            "--note",
            "the canary's <error> rate was 30% at once",
            "--by",
            "sam",
        ][..],
        &[
            "--note",
            "run the bad build in staging first",
            "--lesson",
            "--by",
            "kim",
        ][..],
    ] {
        let out = deployc()
            .current_dir(&dir)
            .args(["report", "latest"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let journal = journal_of(&run_dir);
    assert_eq!(journal.matches("\"type\":\"note\"").count(), 2, "{journal}");
    let md = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(
        md.contains("## Issues\n\n* the canary's <error> rate was 30% at once — sam"),
        "{md}"
    );
    assert!(
        md.contains("## Lessons learned\n\n* run the bad build in staging first — kim"),
        "{md}"
    );
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(
        html.contains("the canary&#39;s &lt;error&gt; rate"),
        "escaped"
    );
    assert!(!html.contains("<error>"));
    // The note does not move the run's end.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["outcome"], "rolled_back");
    assert_eq!(json["units"]["latency_p95"], "ms");
    assert!(journal.contains(&format!(
        "\"at\":\"{}\",\"type\":\"run_finished\"",
        json["finished_at"].as_str().unwrap()
    )));

    validate(&run_dir.join("report.html"));
    let Some(browser) = chromium() else {
        return;
    };
    // A real bad canary is rolled back at its first evaluation: a few samples, each at
    // least a dot.
    let charts = check_charts(&browser, &dir, &run_dir, 2);
    assert!(charts[0].count(BREACH, PLOT) > 100, "breach marked");
    assert!(
        charts[0].count(ROLLBACK_BAND, PLOT) > 100,
        "the rollback shaded"
    );
    let img = screenshot(
        &browser,
        &run_dir.join("report.html"),
        &dir.join("page.png"),
        1000,
        3600,
    );
    // On the page: the charts' dots and lines, the breach and the rollback.
    let all = img.everywhere();
    assert!(img.count(NEW, all) > 40, "new on the page");
    assert!(
        img.count(BREACH, all) > 200,
        "breach and rollback marks on the page"
    );
}

#[test]
fn history_stats_html_has_a_chart_per_environment() {
    let dir = scratch("stats");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let line = |run: &str, env: &str, outcome: &str, start: &str, end: &str| {
        format!(
            "{{\"format\":1,\"run\":\"{run}\",\"service\":\"quickstart\",\"release\":\"{run}\",\"environment\":\"{env}\",\"outcome\":\"{outcome}\",\"started_at\":\"{start}\",\"finished_at\":\"{end}\"}}\n"
        )
    };
    // Two ISO weeks (2026-W45 from Monday 2 November, W47 from Monday 16 November, W46 quiet
    // between them) in two environments: local has 1 success and 1 rollback in W45 and
    // 1 success in W47; staging 1 success in W47.
    let history = [
        line(
            "a",
            "local",
            "succeeded",
            "2026-11-02T09:00:00Z",
            "2026-11-02T09:01:00Z",
        ),
        line(
            "b",
            "local",
            "rolled_back",
            "2026-11-03T09:00:00Z",
            "2026-11-03T09:00:40Z",
        ),
        line(
            "c",
            "local",
            "succeeded",
            "2026-11-17T09:00:00Z",
            "2026-11-17T09:01:10Z",
        ),
        line(
            "d",
            "staging",
            "succeeded",
            "2026-11-18T09:00:00Z",
            "2026-11-18T09:02:00Z",
        ),
    ]
    .concat();
    std::fs::write(state.join("history"), history).unwrap();
    let page = dir.join("figures.html");
    let out = deployc()
        .args(["history", "--stats", "--html", "-o"])
        .arg(&page)
        .arg("--state-dir")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    insta::assert_snapshot!("stats_text", visible_text(&html));
    // The quiet week is on the chart: three weeks per environment.
    assert_eq!(html.matches(">2026-W46<").count(), 2, "{html}");
    validate(&page);
    let Some(browser) = chromium() else {
        return;
    };
    let img = screenshot(&browser, &page, &dir.join("figures.png"), 1000, 2000);
    let all = img.everywhere();
    assert!(img.count([0x2f, 0x8f, 0x5b], all) > 500, "deployment bars");
    assert!(img.count(BREACH, all) > 200, "failed-change bars");
}
