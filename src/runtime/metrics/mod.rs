//! Metric sources: where the analysis gets its numbers.
//!
//! A source answers one question — "what is this metric now, for this version on this
//! track?" — with a [`Reading`]: a number, or [`NoData`] with a typed [`NoDataReason`] and a
//! human explanation. Nothing here decides what missing data means; the analysis applies the
//! `no_data` policy of the `.deploy` file to the reason.
//!
//! Queries are templates with the placeholders `{service}`, `{version}`, `{previous_version}`,
//! `{environment}`, `{track}` and `{window}` (`{{` is a literal brace, as everywhere in the language; unknown placeholders stay
//! as written). Each source substitutes values in the form safe for its language: escaped for
//! a PromQL string in [`prometheus`], shell-quoted in [`command`].

pub mod command;
pub mod prometheus;

use std::fmt;
use std::time::Duration;

pub use command::CommandSource;
pub use prometheus::{Prometheus, Series};

/// The values of a query's placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryContext {
    pub service: String,
    pub version: String,
    /// `stable` or `canary` (or the track names of the strategy).
    pub track: String,
    /// The analysis window, rendered as a Prometheus duration (`5m`, `30s`).
    pub window: Duration,
    /// `{environment}` and `{previous_version}`: the release placeholders every query may
    /// use besides `{service}` and `{version}`.
    pub environment: String,
    pub previous_version: Option<String>,
}

impl QueryContext {
    /// The raw value of a placeholder, `None` for an unknown name.
    pub fn value(&self, name: &str) -> Option<String> {
        match name {
            "service" => Some(self.service.clone()),
            "version" => Some(self.version.clone()),
            "track" => Some(self.track.clone()),
            "window" => Some(prometheus_duration(self.window)),
            "environment" => Some(self.environment.clone()),
            "previous_version" => self.previous_version.clone(),
            _ => None,
        }
    }

    /// `template` with each placeholder replaced by `quote(value)`.
    pub fn render(&self, template: &str, quote: &dyn Fn(&str) -> String) -> String {
        crate::check::placeholders::render(template, &|name| self.value(name).map(|v| quote(&v)))
    }
}

/// What a source answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Value(f64),
    NoData(NoData),
}

impl Reading {
    pub fn value(&self) -> Option<f64> {
        match self {
            Reading::Value(v) => Some(*v),
            Reading::NoData(_) => None,
        }
    }

    pub(crate) fn no_data(reason: NoDataReason, detail: impl Into<String>) -> Reading {
        Reading::NoData(NoData {
            reason,
            detail: detail.into(),
        })
    }
}

/// Why there is no number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoData {
    pub reason: NoDataReason,
    /// What happened, for the journal and the report.
    pub detail: String,
}

impl fmt::Display for NoData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no data ({}): {}", self.reason.as_str(), self.detail)
    }
}

/// The kinds of missing data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoDataReason {
    /// The source did not answer in time.
    Timeout,
    /// The source could not be reached (connection refused, DNS, TLS).
    Unreachable,
    /// The source answered with an HTTP error status.
    HttpStatus,
    /// The source rejected the query (PromQL syntax, unknown function).
    QueryError,
    /// The query matched no series (no traffic yet, wrong labels).
    Empty,
    /// The query returned several series where one number was needed.
    Ambiguous,
    /// The value is NaN or infinite (e.g. an error ratio with zero requests).
    NotANumber,
    /// The answer could not be read as a number.
    Unparseable,
    /// The command could not start or exited with an error.
    CommandFailed,
}

impl NoDataReason {
    /// The name used in journals and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            NoDataReason::Timeout => "timeout",
            NoDataReason::Unreachable => "unreachable",
            NoDataReason::HttpStatus => "http_status",
            NoDataReason::QueryError => "query_error",
            NoDataReason::Empty => "empty",
            NoDataReason::Ambiguous => "ambiguous",
            NoDataReason::NotANumber => "not_a_number",
            NoDataReason::Unparseable => "unparseable",
            NoDataReason::CommandFailed => "command_failed",
        }
    }
}

/// A value as Prometheus and command sources report it, in the units the analysis compares:
/// sources follow Prometheus's convention of base units — a `duration` in seconds (the
/// `_seconds` histograms), a `rate` per the metric's `per` unit (per second by default) — while
/// conditions hold milliseconds and rates per second (`latency_p95 < 300ms` is `300`,
/// `100/h` is `0.0278`). Without this a Prometheus latency of 0.45 s read as 0.45 ms, and no
/// latency threshold could ever fire. Percentages, counts and numbers are taken as they are.
pub(crate) fn normalise(kind: &str, per: Option<&str>, value: f64) -> f64 {
    match (kind, per) {
        ("duration", _) => value * 1000.0,
        ("rate", Some("minute")) => value / 60.0,
        ("rate", Some("hour")) => value / 3600.0,
        _ => value,
    }
}

/// A duration as Prometheus writes it, in the largest unit that divides it (`300s` → `5m`),
/// so that range selectors stay readable in logs.
pub fn prometheus_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    for (unit, size) in [
        ("w", 604_800_000u128),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Parses a number as sources print it; NaN and infinities are not readings.
pub(crate) fn number(text: &str) -> Reading {
    let t = text.trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Reading::Value(v),
        Ok(_) => Reading::no_data(NoDataReason::NotANumber, format!("the value is {t}")),
        Err(_) => {
            let excerpt: String = t.chars().take(80).collect();
            Reading::no_data(
                NoDataReason::Unparseable,
                format!("expected a number, got `{excerpt}`"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_like_prometheus() {
        assert_eq!(prometheus_duration(Duration::from_secs(300)), "5m");
        assert_eq!(prometheus_duration(Duration::from_secs(90)), "90s");
        assert_eq!(prometheus_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(prometheus_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn base_units_become_the_units_of_conditions() {
        assert_eq!(normalise("duration", None, 0.45), 450.0);
        assert_eq!(normalise("rate", Some("hour"), 360.0), 0.1);
        assert_eq!(normalise("rate", Some("minute"), 6.0), 0.1);
        assert_eq!(normalise("rate", Some("second"), 6.0), 6.0);
        assert_eq!(normalise("rate", None, 6.0), 6.0);
        assert_eq!(normalise("percent", None, 2.5), 2.5);
        assert_eq!(normalise("count", None, 7.0), 7.0);
    }

    #[test]
    fn numbers_and_non_numbers() {
        assert_eq!(number(" 0.25\n"), Reading::Value(0.25));
        assert_eq!(number("1e-3"), Reading::Value(0.001));
        assert!(matches!(
            number("NaN"),
            Reading::NoData(NoData {
                reason: NoDataReason::NotANumber,
                ..
            })
        ));
        assert!(matches!(
            number("+Inf"),
            Reading::NoData(NoData {
                reason: NoDataReason::NotANumber,
                ..
            })
        ));
        assert!(matches!(
            number("ok"),
            Reading::NoData(NoData {
                reason: NoDataReason::Unparseable,
                ..
            })
        ));
    }

    #[test]
    fn placeholders_render_with_the_source_quoting() {
        let ctx = QueryContext {
            service: "checkout".into(),
            version: "1.1.0".into(),
            track: "canary".into(),
            window: Duration::from_secs(60),
            environment: "production".into(),
            previous_version: Some("1.0.0".into()),
        };
        assert_eq!(
            ctx.render("rate(x{{service=\"{service}\"}}[{window}]) {other}", &|v| v
                .to_string()),
            "rate(x{service=\"checkout\"}}[1m]) {other}"
        );
    }
}
