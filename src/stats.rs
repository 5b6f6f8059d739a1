//! Delivery figures from the run history: `deployc history --stats`.
//!
//! The four DORA figures, per environment and ISO week and over the whole period: how often
//! a release reaches an environment, how often a change fails, how long an environment stays
//! failed, and how long a successful run takes. Everything here is a pure function of the
//! history's entries, so the figures can be checked against numbers worked out by hand; the
//! command line reads the file and prints. The definitions are in `docs/history-format.md`.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::history::{HistoryEntry, Outcome};

/// The version of the JSON document `--stats --format json` prints.
pub const STATS_FORMAT: u32 = 1;

const DAY: i64 = 86_400;

/// One history entry with its times read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub run: String,
    pub service: String,
    pub environment: String,
    pub outcome: Outcome,
    pub started: Timestamp,
    pub finished: Timestamp,
}

impl Run {
    /// Reads an entry's times; an entry whose times cannot be read, or that ends before it
    /// starts, is refused rather than counted with a guessed duration.
    pub fn from_entry(e: &HistoryEntry) -> Result<Run, String> {
        let time = |field: &str, value: &str| -> Result<Timestamp, String> {
            value
                .parse::<Timestamp>()
                .map_err(|_| format!("`{field}` is not an RFC 3339 time: `{value}`"))
        };
        let started = time("started_at", &e.started_at)?;
        let finished = time("finished_at", &e.finished_at)?;
        if finished < started {
            return Err(format!(
                "`finished_at` ({}) is before `started_at` ({})",
                e.finished_at, e.started_at
            ));
        }
        Ok(Run {
            run: e.run.clone(),
            service: e.service.clone(),
            environment: e.environment.clone(),
            outcome: e.outcome,
            started,
            finished,
        })
    }
}

/// Which runs to count.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this environment.
    pub environment: Option<String>,
    /// Only runs that ended at or after this time.
    pub since: Option<Timestamp>,
}

/// Reads `--since`: a date (`2026-11-02`, midnight UTC) or an RFC 3339 time.
pub fn parse_since(s: &str) -> Result<Timestamp, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    s.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            format!("`--since {s}`: expected a date (2026-11-02) or an RFC 3339 time (2026-11-02T09:00:00Z)")
        })
}

/// The figures of one group of runs (an environment's week, an environment's period, or
/// every environment's period).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// The whole ISO weeks the figures cover (1 for a week).
    pub weeks: i64,
    /// Every run counted, aborted ones included.
    pub runs: usize,
    pub succeeded: usize,
    pub rolled_back: usize,
    pub rollback_incomplete: usize,
    /// Stopped before anything changed: not a deployment, in no rate.
    pub aborted: usize,
    /// Runs that changed something: succeeded, rolled back, rollback incomplete.
    pub changes: usize,
    /// Successful runs per week, to two decimals.
    pub deployments_per_week: f64,
    /// Successful runs per day (7 a week), to two decimals.
    pub deployments_per_day: f64,
    /// (rolled back + rollback incomplete) / changes, to four decimals; absent without a change.
    pub change_failure_rate: Option<f64>,
    pub time_to_restore: Restore,
    /// Median of started → finished of the successful runs, in whole seconds.
    pub median_duration_seconds: Option<i64>,
}

/// Time to restore over the failures that began in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restore {
    /// Failures (a run of failed runs with no success between them is one failure).
    pub failures: usize,
    /// Failures a later success ended.
    pub restored: usize,
    /// Failures no success has ended yet.
    pub open: usize,
    /// Median over the restored failures, in whole seconds.
    pub median_seconds: Option<i64>,
    /// Longest over the restored failures, in whole seconds.
    pub worst_seconds: Option<i64>,
}

/// One ISO week of one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Week {
    /// `2026-W45`.
    pub week: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One environment: its weeks with runs, and the whole period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvironmentStats {
    pub environment: String,
    pub weeks: Vec<Week>,
    pub period: Figures,
}

/// A failure no success has ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenFailure {
    pub service: String,
    pub environment: String,
    /// The first failed run of the failure.
    pub run: String,
    /// When that run ended (RFC 3339).
    pub failed_at: String,
}

/// Everything `--stats` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub format: u32,
    /// The filters applied.
    pub environment: Option<String>,
    pub since: Option<String>,
    /// The first and last ISO week of the period (absent when no run is counted).
    pub from_week: Option<String>,
    pub to_week: Option<String>,
    pub environments: Vec<EnvironmentStats>,
    /// Every environment together over the period (absent when no run is counted).
    pub overall: Option<Figures>,
    pub open_failures: Vec<OpenFailure>,
}

/// An ISO week, ordered in time: (ISO year, week number).
type WeekKey = (i16, i8);

fn week_of(t: Timestamp) -> WeekKey {
    let d = t.to_zoned(TimeZone::UTC).date().iso_week_date();
    (d.year(), d.week())
}

fn week_label((year, week): WeekKey) -> String {
    format!("{year:04}-W{week:02}")
}

/// The Monday 00:00 UTC that starts `t`'s week, as days since 1970-01-01 (a Thursday): whole
/// weeks between two times are then a subtraction.
fn monday_day(t: Timestamp) -> i64 {
    let day = t.as_second().div_euclid(DAY);
    day - (day + 3).rem_euclid(7)
}

/// A failure: from the end of the first failed run to the end of the success that followed.
struct Incident {
    environment: String,
    week: WeekKey,
    restored_after: Option<i64>,
}

fn failed(o: Outcome) -> bool {
    matches!(o, Outcome::RolledBack | Outcome::RollbackIncomplete)
}

/// The figures of the runs matching `filter`. `runs` may be in any order.
pub fn compute(runs: &[Run], filter: &Filter) -> Stats {
    let mut runs: Vec<&Run> = runs
        .iter()
        .filter(|r| {
            filter
                .environment
                .as_ref()
                .is_none_or(|e| &r.environment == e)
        })
        .filter(|r| filter.since.is_none_or(|s| r.finished >= s))
        .collect();
    // By end time: a run belongs to the week it ended in, and restores follow end order.
    runs.sort_by(|a, b| a.finished.cmp(&b.finished).then(a.run.cmp(&b.run)));

    let (incidents, open_failures) = incidents(&runs);

    // The period is in whole ISO weeks: from the week of `--since` (or of the first run) to
    // the week of the last run, empty weeks included, so a quiet week lowers the frequency.
    let first = filter.since.or(runs.first().map(|r| r.finished));
    let last = runs.last().map(|r| r.finished);
    let period_weeks = match (first, last) {
        (Some(f), Some(l)) => (monday_day(l) - monday_day(f)).div_euclid(7) + 1,
        _ => 0,
    };

    let envs: BTreeSet<&str> = runs.iter().map(|r| r.environment.as_str()).collect();
    let environments = envs
        .into_iter()
        .map(|env| {
            let env_runs: Vec<&Run> = runs
                .iter()
                .copied()
                .filter(|r| r.environment == env)
                .collect();
            let env_incidents: Vec<&Incident> =
                incidents.iter().filter(|i| i.environment == env).collect();
            let mut weeks: BTreeMap<WeekKey, Vec<&Run>> = BTreeMap::new();
            for r in &env_runs {
                weeks.entry(week_of(r.finished)).or_default().push(r);
            }
            EnvironmentStats {
                environment: env.to_string(),
                weeks: weeks
                    .into_iter()
                    .map(|(key, week_runs)| {
                        let week_incidents: Vec<&Incident> = env_incidents
                            .iter()
                            .copied()
                            .filter(|i| i.week == key)
                            .collect();
                        Week {
                            week: week_label(key),
                            figures: figures(&week_runs, &week_incidents, 1),
                        }
                    })
                    .collect(),
                period: figures(&env_runs, &env_incidents, period_weeks),
            }
        })
        .collect();

    let all_incidents: Vec<&Incident> = incidents.iter().collect();
    Stats {
        format: STATS_FORMAT,
        environment: filter.environment.clone(),
        since: filter.since.map(|t| t.to_string()),
        from_week: first
            .filter(|_| last.is_some())
            .map(|t| week_label(week_of(t))),
        to_week: last.map(|t| week_label(week_of(t))),
        environments,
        overall: (!runs.is_empty()).then(|| figures(&runs, &all_incidents, period_weeks)),
        open_failures,
    }
}

/// The failures of `runs` (sorted by end), per service and environment: a success of another
/// service does not restore this one. Consecutive failures are one failure, from the first
/// one's end, because the environment was not restored in between. Aborted runs changed
/// nothing, so they neither fail nor restore.
fn incidents(runs: &[&Run]) -> (Vec<Incident>, Vec<OpenFailure>) {
    let mut open: BTreeMap<(&str, &str), &Run> = BTreeMap::new();
    let mut incidents = Vec::new();
    for r in runs {
        let key = (r.service.as_str(), r.environment.as_str());
        if failed(r.outcome) {
            open.entry(key).or_insert(r);
        } else if r.outcome == Outcome::Succeeded
            && let Some(first) = open.remove(&key)
        {
            incidents.push(Incident {
                environment: first.environment.clone(),
                week: week_of(first.finished),
                restored_after: Some(r.finished.as_second() - first.finished.as_second()),
            });
        }
    }
    let mut open_failures = Vec::new();
    for first in open.into_values() {
        incidents.push(Incident {
            environment: first.environment.clone(),
            week: week_of(first.finished),
            restored_after: None,
        });
        open_failures.push(OpenFailure {
            service: first.service.clone(),
            environment: first.environment.clone(),
            run: first.run.clone(),
            failed_at: first.finished.to_string(),
        });
    }
    (incidents, open_failures)
}

fn figures(runs: &[&Run], incidents: &[&Incident], weeks: i64) -> Figures {
    let count = |o: Outcome| runs.iter().filter(|r| r.outcome == o).count();
    let succeeded = count(Outcome::Succeeded);
    let rolled_back = count(Outcome::RolledBack);
    let rollback_incomplete = count(Outcome::RollbackIncomplete);
    let changes = succeeded + rolled_back + rollback_incomplete;
    let per_week = if weeks > 0 {
        succeeded as f64 / weeks as f64
    } else {
        0.0
    };
    let restored: Vec<i64> = incidents.iter().filter_map(|i| i.restored_after).collect();
    let durations: Vec<i64> = runs
        .iter()
        .filter(|r| r.outcome == Outcome::Succeeded)
        .map(|r| r.finished.as_second() - r.started.as_second())
        .collect();
    Figures {
        weeks,
        runs: runs.len(),
        succeeded,
        rolled_back,
        rollback_incomplete,
        aborted: count(Outcome::Aborted),
        changes,
        deployments_per_week: round(per_week, 2),
        deployments_per_day: round(per_week / 7.0, 2),
        change_failure_rate: (changes > 0).then(|| {
            round(
                (rolled_back + rollback_incomplete) as f64 / changes as f64,
                4,
            )
        }),
        time_to_restore: Restore {
            failures: incidents.len(),
            restored: restored.len(),
            open: incidents.len() - restored.len(),
            median_seconds: median(restored.clone()),
            worst_seconds: restored.iter().copied().max(),
        },
        median_duration_seconds: median(durations),
    }
}

fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// The middle value; with an even count, the mean of the two middle ones (rounded down to
/// the second).
fn median(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v.get(mid).copied()
    } else {
        let (a, b) = (v.get(mid.checked_sub(1)?)?, v.get(mid)?);
        Some((a + b).div_euclid(2))
    }
}

/// A duration for people: `45s`, `12m 30s`, `2h 5m`, `3d 4h`.
pub fn human_duration(secs: i64) -> String {
    let (d, h, m, s) = (secs / DAY, secs % DAY / 3600, secs % 3600 / 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 && s > 0 {
        format!("{m}m {s}s")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

/// The text table: one row per environment and week, a `period` row per environment, an
/// `all` row, then the failures still open.
pub fn render_text(stats: &Stats) -> String {
    let mut out = String::new();
    let scope = match (&stats.environment, &stats.since) {
        (Some(e), Some(s)) => format!("environment {e}, runs ended since {s}"),
        (Some(e), None) => format!("environment {e}"),
        (None, Some(s)) => format!("every environment, runs ended since {s}"),
        (None, None) => "every environment".to_string(),
    };
    let (Some(overall), Some(from), Some(to)) = (&stats.overall, &stats.from_week, &stats.to_week)
    else {
        out.push_str(&format!("no runs to count ({scope})\n"));
        return out;
    };
    out.push_str(&format!(
        "delivery figures: {} runs, {scope}, {from} to {to} ({} {})\n\n",
        overall.runs,
        overall.weeks,
        if overall.weeks == 1 { "week" } else { "weeks" }
    ));
    let header = [
        "environment",
        "week",
        "runs",
        "deploys",
        "per week",
        "per day",
        "change failure rate",
        "time to restore (median / worst)",
        "median duration",
    ];
    let mut rows: Vec<[String; 9]> = Vec::new();
    for env in &stats.environments {
        for w in &env.weeks {
            rows.push(row(&env.environment, &w.week, &w.figures));
        }
        rows.push(row(&env.environment, "period", &env.period));
    }
    rows.push(row("all", "period", overall));

    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Names are left-aligned, numbers right-aligned so their units line up.
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths.iter()).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            if i < 2 {
                s.push_str(&format!("{cell:<w$}"));
            } else {
                s.push_str(&format!("{cell:>w$}"));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    out.push_str(&line(&header.map(String::from)));
    for r in &rows {
        out.push_str(&line(r));
    }
    out.push_str(
        "\ndeploys: successful runs; change failure rate: rolled back or rollback incomplete \
         over the runs that changed something (aborted runs count in runs only)\n",
    );
    for f in &stats.open_failures {
        out.push_str(&format!(
            "open: {} in {} failed at {} (run {}) and no successful run has restored it yet\n",
            f.service, f.environment, f.failed_at, f.run
        ));
    }
    out
}

fn row(environment: &str, week: &str, f: &Figures) -> [String; 9] {
    let cfr = match f.change_failure_rate {
        Some(rate) => format!(
            "{} of {} ({:.0}%)",
            f.rolled_back + f.rollback_incomplete,
            f.changes,
            rate * 100.0
        ),
        None => "-".to_string(),
    };
    let r = &f.time_to_restore;
    let mut restore = match (r.median_seconds, r.worst_seconds) {
        (Some(m), Some(w)) => format!("{} / {}", human_duration(m), human_duration(w)),
        _ => String::new(),
    };
    if r.open > 0 {
        if !restore.is_empty() {
            restore.push_str(", ");
        }
        restore.push_str(&format!("{} open", r.open));
    }
    if restore.is_empty() {
        restore.push('-');
    }
    [
        environment.to_string(),
        week.to_string(),
        f.runs.to_string(),
        f.succeeded.to_string(),
        format!("{:.2}/wk", f.deployments_per_week),
        format!("{:.2}/day", f.deployments_per_day),
        cfr,
        restore,
        f.median_duration_seconds
            .map_or_else(|| "-".to_string(), human_duration),
    ]
}

/// Every ISO week from `from` to `to` (labels `2026-W45`), quiet weeks included, so that a
/// chart's gaps are the weeks without a run; bounded to ten years.
fn weeks_between(from: &str, to: &str) -> Vec<String> {
    let parse = |label: &str| -> Option<jiff::civil::Date> {
        let (y, w) = label.split_once("-W")?;
        jiff::civil::ISOWeekDate::new(
            y.parse().ok()?,
            w.parse().ok()?,
            jiff::civil::Weekday::Monday,
        )
        .ok()
        .map(|d| d.date())
    };
    let (Some(mut d), Some(end)) = (parse(from), parse(to)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while d <= end && out.len() < 520 {
        let w = d.iso_week_date();
        out.push(week_label((w.year(), w.week())));
        match d.checked_add(jiff::Span::new().days(7)) {
            Ok(next) => d = next,
            Err(_) => break,
        }
    }
    out
}

/// The figures as one HTML page (`--stats --html`): per environment a chart of its runs per
/// ISO week (deployments, failed changes, aborted runs stacked) and the table of its
/// figures, then every environment together and the failures still open. Self-contained: no
/// script, nothing fetched.
pub fn render_html(stats: &Stats) -> String {
    use crate::chart::{self, BarGroup, colour, escape};
    use std::fmt::Write;

    let scope = match (&stats.environment, &stats.since) {
        (Some(e), Some(s)) => format!("environment {e}, runs ended since {s}"),
        (Some(e), None) => format!("environment {e}"),
        (None, Some(s)) => format!("every environment, runs ended since {s}"),
        (None, None) => "every environment".to_string(),
    };
    let mut b = String::new();
    let _ = writeln!(b, "<header>\n<h1>Delivery figures</h1>");
    let (Some(overall), Some(from), Some(to)) = (&stats.overall, &stats.from_week, &stats.to_week)
    else {
        let _ = writeln!(
            b,
            "<p class=\"empty\">No runs to count ({}).</p>\n</header>",
            escape(&scope)
        );
        return chart::page("Delivery figures", &b);
    };
    let _ = writeln!(
        b,
        "<p>{} runs, {}, {} to {} ({} {}). Deployments are successful runs; the change failure rate is the rolled back and rollback incomplete runs over the runs that changed something (aborted runs count in runs only); time to restore runs from a failure's end to the next success of the service in that environment.</p>\n</header>",
        overall.runs,
        escape(&scope),
        escape(from),
        escape(to),
        overall.weeks,
        if overall.weeks == 1 { "week" } else { "weeks" }
    );
    let weeks = weeks_between(from, to);
    let header = "<thead><tr><th scope=\"col\">week</th><th scope=\"col\">runs</th><th scope=\"col\">deploys</th><th scope=\"col\">per week</th><th scope=\"col\">per day</th><th scope=\"col\">change failure rate</th><th scope=\"col\">time to restore (median / worst)</th><th scope=\"col\">median duration</th></tr></thead>";
    let table_row = |cells: [String; 9]| -> String {
        let mut r = String::from("<tr>");
        for (i, c) in cells.iter().enumerate().skip(1) {
            let _ = write!(
                r,
                "<td{}>{}</td>",
                if i > 1 { " class=\"num\"" } else { "" },
                escape(c)
            );
        }
        r.push_str("</tr>");
        r
    };
    for env in &stats.environments {
        let _ = writeln!(b, "<section>\n<h2>{}</h2>", escape(&env.environment));
        let groups: Vec<BarGroup> = weeks
            .iter()
            .map(|w| {
                let f = env.weeks.iter().find(|x| &x.week == w).map(|x| &x.figures);
                BarGroup {
                    label: w.clone(),
                    values: vec![
                        f.map_or(0.0, |f| f.succeeded as f64),
                        f.map_or(0.0, |f| (f.rolled_back + f.rollback_incomplete) as f64),
                        f.map_or(0.0, |f| f.aborted as f64),
                    ],
                }
            })
            .collect();
        let _ = writeln!(
            b,
            "<figure>\n{}\n<figcaption>Runs of {} per ISO week: deployments, failed changes and aborted runs.</figcaption>\n</figure>",
            chart::stacked_bars(
                &format!("{}: runs per ISO week", env.environment),
                "runs per week",
                &[
                    ("deployments", colour::SUCCEEDED),
                    ("failed changes", colour::FAILED),
                    ("aborted", colour::ABORTED),
                ],
                &groups,
            ),
            escape(&env.environment)
        );
        let _ = writeln!(b, "<table>\n{header}\n<tbody>");
        for w in &env.weeks {
            let _ = writeln!(
                b,
                "{}",
                table_row(row(&env.environment, &w.week, &w.figures))
            );
        }
        let _ = writeln!(
            b,
            "{}\n</tbody>\n</table>\n</section>",
            table_row(row(&env.environment, "period", &env.period))
        );
    }
    let _ = writeln!(
        b,
        "<section>\n<h2>Every environment</h2>\n<table>\n{header}\n<tbody>\n{}\n</tbody>\n</table>",
        table_row(row("all", "period", overall))
    );
    if stats.open_failures.is_empty() {
        b.push_str(
            "<p>No failure is open: every failure has been restored by a later success.</p>\n",
        );
    } else {
        b.push_str("<h3>Failures still open</h3>\n<ul>\n");
        for f in &stats.open_failures {
            let _ = writeln!(
                b,
                "<li>{} in {} failed at {} (run <code>{}</code>) and no successful run has restored it yet</li>",
                escape(&f.service),
                escape(&f.environment),
                escape(&f.failed_at),
                escape(&f.run)
            );
        }
        b.push_str("</ul>\n");
    }
    b.push_str("</section>\n");
    chart::page("Delivery figures", &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, service: &str, env: &str, outcome: Outcome, start: &str, end: &str) -> Run {
        Run {
            run: name.into(),
            service: service.into(),
            environment: env.into(),
            outcome,
            started: start.parse().unwrap(),
            finished: end.parse().unwrap(),
        }
    }

    fn all(runs: &[Run]) -> Figures {
        compute(runs, &Filter::default()).overall.unwrap()
    }

    #[test]
    fn consecutive_failures_are_one_failure_from_the_first() {
        // f1 ends 10:00, f2 ends 11:00, ok ends 13:00: restored after 3h (from f1), not two
        // failures of 3h and 2h.
        let runs = [
            run(
                "f1",
                "a",
                "prod",
                Outcome::RolledBack,
                "2026-11-02T09:00:00Z",
                "2026-11-02T10:00:00Z",
            ),
            run(
                "f2",
                "a",
                "prod",
                Outcome::RollbackIncomplete,
                "2026-11-02T10:30:00Z",
                "2026-11-02T11:00:00Z",
            ),
            run(
                "ok",
                "a",
                "prod",
                Outcome::Succeeded,
                "2026-11-02T12:00:00Z",
                "2026-11-02T13:00:00Z",
            ),
        ];
        let f = all(&runs);
        assert_eq!(f.time_to_restore.failures, 1);
        assert_eq!(f.time_to_restore.median_seconds, Some(3 * 3600));
        // Both failed runs still count in the rate: 2 of 3 changes.
        assert_eq!(f.change_failure_rate, Some(0.6667));
    }

    #[test]
    fn a_failure_never_restored_is_open() {
        let runs = [
            run(
                "ok",
                "a",
                "prod",
                Outcome::Succeeded,
                "2026-11-02T09:00:00Z",
                "2026-11-02T09:30:00Z",
            ),
            run(
                "f",
                "a",
                "prod",
                Outcome::RolledBack,
                "2026-11-03T09:00:00Z",
                "2026-11-03T09:30:00Z",
            ),
        ];
        let s = compute(&runs, &Filter::default());
        let r = &s.overall.as_ref().unwrap().time_to_restore;
        assert_eq!((r.failures, r.restored, r.open), (1, 0, 1));
        assert_eq!((r.median_seconds, r.worst_seconds), (None, None));
        assert_eq!(s.open_failures.len(), 1);
        assert_eq!(s.open_failures[0].run, "f");
        let text = render_text(&s);
        assert!(text.contains("1 open"), "{text}");
        assert!(
            text.contains("open: a in prod failed at 2026-11-03T09:30:00Z (run f)"),
            "{text}"
        );
    }

    #[test]
    fn aborted_runs_and_other_services_do_not_restore() {
        // The failure of `a` ends 10:00; an aborted `a` (changed nothing) and a successful
        // `b` come before the success of `a` at 15:00: restored after 5h.
        let runs = [
            run(
                "f",
                "a",
                "prod",
                Outcome::RolledBack,
                "2026-11-02T09:00:00Z",
                "2026-11-02T10:00:00Z",
            ),
            run(
                "x",
                "a",
                "prod",
                Outcome::Aborted,
                "2026-11-02T11:00:00Z",
                "2026-11-02T11:00:00Z",
            ),
            run(
                "b",
                "b",
                "prod",
                Outcome::Succeeded,
                "2026-11-02T12:00:00Z",
                "2026-11-02T12:30:00Z",
            ),
            run(
                "ok",
                "a",
                "prod",
                Outcome::Succeeded,
                "2026-11-02T14:00:00Z",
                "2026-11-02T15:00:00Z",
            ),
        ];
        let f = all(&runs);
        assert_eq!(f.time_to_restore.median_seconds, Some(5 * 3600));
        // 4 runs, 3 changes (the aborted one is none), 1 failed.
        assert_eq!((f.runs, f.changes, f.aborted), (4, 3, 1));
        assert_eq!(f.change_failure_rate, Some(0.3333));
    }

    #[test]
    fn a_run_counts_in_the_week_it_ended() {
        // Started Sunday 2026-11-08 (W45), ended Monday 2026-11-09 (W46); and a run ending
        // Friday 2027-01-01, which is in ISO week 53 of 2026.
        let runs = [
            run(
                "late",
                "a",
                "prod",
                Outcome::Succeeded,
                "2026-11-08T23:00:00Z",
                "2026-11-09T01:00:00Z",
            ),
            run(
                "ny",
                "a",
                "prod",
                Outcome::Succeeded,
                "2026-12-31T23:00:00Z",
                "2027-01-01T00:30:00Z",
            ),
        ];
        let s = compute(&runs, &Filter::default());
        let weeks: Vec<&str> = s.environments[0]
            .weeks
            .iter()
            .map(|w| w.week.as_str())
            .collect();
        assert_eq!(weeks, ["2026-W46", "2026-W53"]);
        // W46 to W53 inclusive: 8 weeks; 2 successes / 8 = 0.25 a week.
        assert_eq!(s.overall.as_ref().unwrap().weeks, 8);
        assert_eq!(s.overall.as_ref().unwrap().deployments_per_week, 0.25);
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![5]), Some(5));
        assert_eq!(median(vec![9, 1, 5]), Some(5));
        assert_eq!(median(vec![10, 1, 4, 7]), Some(5));
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(750), "12m 30s");
        assert_eq!(human_duration(45_150), "12h 32m");
        assert_eq!(human_duration(3 * DAY + 4 * 3600 + 59), "3d 4h");
    }

    #[test]
    fn since_takes_a_date_or_a_time() {
        assert_eq!(
            parse_since("2026-11-04").unwrap().to_string(),
            "2026-11-04T00:00:00Z"
        );
        assert_eq!(
            parse_since("2026-11-04T10:00:00+02:00")
                .unwrap()
                .to_string(),
            "2026-11-04T08:00:00Z"
        );
        assert!(parse_since("2026-13-01").is_err());
        assert!(parse_since("yesterday").is_err());
    }

    #[test]
    fn entries_with_unreadable_times_are_refused() {
        let mut e = HistoryEntry {
            format: 1,
            run: "r".into(),
            service: "a".into(),
            release: "1".into(),
            environment: "prod".into(),
            outcome: Outcome::Succeeded,
            started_at: "2026-11-02T09:00:00Z".into(),
            finished_at: "soon".into(),
            migrations: Vec::new(),
            rollback: None,
        };
        assert!(Run::from_entry(&e).unwrap_err().contains("finished_at"));
        e.finished_at = "2026-11-02T08:00:00Z".into();
        assert!(Run::from_entry(&e).unwrap_err().contains("before"));
    }

    #[test]
    fn nothing_to_count() {
        let s = compute(&[], &Filter::default());
        assert_eq!(s.overall, None);
        assert_eq!(render_text(&s), "no runs to count (every environment)\n");
    }
}
