//! Prometheus over its HTTP API: instant queries (`/api/v1/query`) and range queries
//! (`/api/v1/query_range`).
//!
//! Placeholder values are escaped for a PromQL double-quoted string (`\` and `"`), since that
//! is where they go (`{service="{service}"}`); a value can therefore not close the string and
//! change the query. The query is sent as a form body, so no URL-encoding issue can arise
//! either. Every request has a client timeout, and Prometheus is given the same one for its own
//! evaluation.
//!
//! An instant query must come down to one number: a scalar, or a vector with exactly one
//! sample. An empty vector is [`NoDataReason::Empty`] (often: no traffic yet); several series
//! are [`NoDataReason::Ambiguous`], because silently taking one would compare the wrong thing.

use super::{NoDataReason, QueryContext, Reading, number, prometheus_duration};
use serde::Deserialize;
use std::time::Duration;

/// A Prometheus server.
#[derive(Debug, Clone)]
pub struct Prometheus {
    /// The base URL, without a trailing slash (`http://prometheus:9090`).
    base: String,
    client: reqwest::Client,
    timeout: Duration,
}

/// The answer to a range query.
#[derive(Debug, Clone, PartialEq)]
pub enum Series {
    /// `(unix seconds, value)` pairs in time order; NaN samples are left out.
    Points(Vec<(f64, f64)>),
    NoData(super::NoData),
}

#[derive(Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct ApiData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorSample {
    #[serde(default)]
    metric: serde_json::Map<String, serde_json::Value>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct MatrixSeries {
    #[serde(default)]
    metric: serde_json::Map<String, serde_json::Value>,
    values: Vec<(f64, String)>,
}

impl Prometheus {
    /// A source for the server at `base_url`, each query limited to `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Prometheus, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("deployc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Prometheus::with_client(client, base_url, timeout))
    }

    /// The same, sharing an existing HTTP client (and its connections).
    pub fn with_client(client: reqwest::Client, base_url: &str, timeout: Duration) -> Prometheus {
        Prometheus {
            base: base_url.trim_end_matches('/').to_string(),
            client,
            timeout,
        }
    }

    /// The query with its placeholders substituted.
    pub fn render(&self, template: &str, ctx: &QueryContext) -> String {
        ctx.render(template, &promql_string_escape)
    }

    /// Evaluates the query at the current time.
    pub async fn query(&self, template: &str, ctx: &QueryContext) -> Reading {
        let query = self.render(template, ctx);
        let form = [
            ("query", query),
            ("timeout", prometheus_duration(self.timeout)),
        ];
        let data = match self.call("query", &form).await {
            Ok(d) => d,
            Err(no) => return no,
        };
        instant(data)
    }

    /// Evaluates the query over `[start, end]` every `step`.
    pub async fn query_range(
        &self,
        template: &str,
        ctx: &QueryContext,
        start: jiff::Timestamp,
        end: jiff::Timestamp,
        step: Duration,
    ) -> Series {
        let query = self.render(template, ctx);
        let form = [
            ("query", query),
            ("start", seconds(start)),
            ("end", seconds(end)),
            ("step", format!("{}", step.as_secs_f64().max(0.001))),
            ("timeout", prometheus_duration(self.timeout)),
        ];
        let data = match self.call("query_range", &form).await {
            Ok(d) => d,
            Err(Reading::NoData(no)) => return Series::NoData(no),
            Err(Reading::Value(_)) => return Series::Points(Vec::new()),
        };
        range(data)
    }

    /// Posts to `/api/v1/{endpoint}`; any failure is already the no-data reading.
    async fn call(&self, endpoint: &str, form: &[(&str, String)]) -> Result<ApiData, Reading> {
        let url = format!("{}/api/v1/{endpoint}", self.base);
        let response = self
            .client
            .post(&url)
            .timeout(self.timeout)
            .form(form)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    Reading::no_data(
                        NoDataReason::Timeout,
                        format!("prometheus did not answer within {:?}", self.timeout),
                    )
                } else {
                    Reading::no_data(
                        NoDataReason::Unreachable,
                        format!("prometheus at {}: {}", self.base, chain(&e)),
                    )
                }
            })?;
        let status = response.status();
        let body = response.text().await.map_err(|e| {
            let reason = if e.is_timeout() {
                NoDataReason::Timeout
            } else {
                NoDataReason::Unreachable
            };
            Reading::no_data(reason, format!("reading the answer: {}", chain(&e)))
        })?;
        // Query errors come with 400 or 422 and a JSON body saying what is wrong: prefer it
        // over the bare status.
        let parsed: Option<ApiResponse> = serde_json::from_str(&body).ok();
        match parsed {
            Some(r) if r.status == "success" => r.data.ok_or_else(|| {
                Reading::no_data(NoDataReason::Unparseable, "the answer has no `data`")
            }),
            Some(r) => Err(Reading::no_data(
                NoDataReason::QueryError,
                format!(
                    "{}: {}",
                    r.error_type.unwrap_or_else(|| "error".into()),
                    r.error.unwrap_or_default()
                ),
            )),
            None if !status.is_success() => Err(Reading::no_data(
                NoDataReason::HttpStatus,
                format!("prometheus answered {status}"),
            )),
            None => Err(Reading::no_data(
                NoDataReason::Unparseable,
                "the answer is not Prometheus API JSON",
            )),
        }
    }
}

fn instant(data: ApiData) -> Reading {
    match data.result_type.as_str() {
        "scalar" => match serde_json::from_value::<(f64, String)>(data.result) {
            Ok((_, v)) => number(&v),
            Err(e) => Reading::no_data(NoDataReason::Unparseable, format!("scalar result: {e}")),
        },
        "vector" => {
            let samples: Vec<VectorSample> = match serde_json::from_value(data.result) {
                Ok(s) => s,
                Err(e) => {
                    return Reading::no_data(
                        NoDataReason::Unparseable,
                        format!("vector result: {e}"),
                    );
                }
            };
            match samples.as_slice() {
                [] => Reading::no_data(NoDataReason::Empty, "the query matched no series"),
                [one] => number(&one.value.1),
                many => Reading::no_data(
                    NoDataReason::Ambiguous,
                    format!(
                        "the query returned {} series (first: {}); aggregate it to one, e.g. with sum()",
                        many.len(),
                        many.first().map(|s| labels(&s.metric)).unwrap_or_default()
                    ),
                ),
            }
        }
        other => Reading::no_data(
            NoDataReason::Unparseable,
            format!("an instant query gave a {other} result"),
        ),
    }
}

fn range(data: ApiData) -> Series {
    let no = |reason, detail: String| Series::NoData(super::NoData { reason, detail });
    if data.result_type != "matrix" {
        return no(
            NoDataReason::Unparseable,
            format!("a range query gave a {} result", data.result_type),
        );
    }
    let series: Vec<MatrixSeries> = match serde_json::from_value(data.result) {
        Ok(s) => s,
        Err(e) => return no(NoDataReason::Unparseable, format!("matrix result: {e}")),
    };
    match series.as_slice() {
        [] => no(NoDataReason::Empty, "the query matched no series".into()),
        [one] => Series::Points(
            one.values
                .iter()
                .filter_map(|(t, v)| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .map(|v| (*t, v))
                })
                .collect(),
        ),
        many => no(
            NoDataReason::Ambiguous,
            format!(
                "the query returned {} series (first: {}); aggregate it to one",
                many.len(),
                many.first().map(|s| labels(&s.metric)).unwrap_or_default()
            ),
        ),
    }
}

fn labels(metric: &serde_json::Map<String, serde_json::Value>) -> String {
    let inner: Vec<String> = metric.iter().map(|(k, v)| format!("{k}={}", v)).collect();
    format!("{{{}}}", inner.join(", "))
}

fn seconds(t: jiff::Timestamp) -> String {
    format!("{:.3}", t.as_millisecond() as f64 / 1000.0)
}

/// Escapes a value for a PromQL double-quoted string.
pub(crate) fn promql_string_escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn chain(e: &reqwest::Error) -> String {
    let mut m = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        m.push_str(": ");
        m.push_str(&s.to_string());
        source = s.source();
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(json: &str) -> ApiData {
        let r: ApiResponse = serde_json::from_str(json).unwrap();
        r.data.unwrap()
    }

    #[test]
    fn reads_scalars_and_vectors() {
        assert_eq!(
            instant(data(
                r#"{"status":"success","data":{"resultType":"scalar","result":[1.0,"2.5"]}}"#
            )),
            Reading::Value(2.5)
        );
        assert_eq!(
            instant(data(
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1.0,"0.01"]}]}}"#
            )),
            Reading::Value(0.01)
        );
        let empty = instant(data(
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
        ));
        assert!(matches!(empty, Reading::NoData(n) if n.reason == NoDataReason::Empty));
        let two = instant(data(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]}]}}"#,
        ));
        assert!(matches!(two, Reading::NoData(n) if n.reason == NoDataReason::Ambiguous));
    }

    #[test]
    fn values_cannot_break_out_of_a_promql_string() {
        assert_eq!(
            promql_string_escape(r#"a"} or vector(1) #"#),
            r#"a\"} or vector(1) #"#
        );
        assert_eq!(promql_string_escape(r"a\"), r"a\\");
    }
}
