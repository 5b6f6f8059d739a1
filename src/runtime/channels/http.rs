//! JSON over HTTP POST, for the Slack and webhook drivers.

use super::{Failure, Secret};
use serde::Serialize;
use std::time::Duration;

/// Posts `body` as JSON to the secret URL. 2xx is success; 429 and 5xx are worth a retry;
/// any other status is permanent.
pub(super) async fn post_json(
    client: &reqwest::Client,
    url: &Secret,
    body: &impl Serialize,
    timeout: Duration,
) -> Result<(), Failure> {
    let response = client
        .post(url.expose())
        .timeout(timeout)
        .json(body)
        .send()
        .await
        // The URL is the secret: reqwest's errors name it, so it is taken out first.
        .map_err(|e| {
            let transient = e.is_timeout() || e.is_connect() || e.is_request();
            let m = url.scrub(&describe(e.without_url()));
            if transient {
                Failure::Transient(m)
            } else {
                Failure::Permanent(m)
            }
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let excerpt: String = text.chars().take(200).collect();
    let m = url.scrub(&format!(
        "the endpoint answered {status}: {}",
        excerpt.trim()
    ));
    if status.as_u16() == 429 || status.is_server_error() {
        Err(Failure::Transient(m))
    } else {
        Err(Failure::Permanent(m))
    }
}

/// The error with its causes ("error sending request: connection refused").
fn describe(e: reqwest::Error) -> String {
    let mut m = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        m.push_str(": ");
        m.push_str(&s.to_string());
        source = s.source();
    }
    m
}
