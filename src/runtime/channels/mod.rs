//! Channels: where the runtime's messages go.
//!
//! A [`Channel`] is a named [`Driver`] (Slack incoming webhook, generic JSON webhook, SMTP
//! email, stdout, a JSON-lines file) with a [`RetryPolicy`] and a `required` flag. The
//! [`Sender`] delivers one [`Event`] to one channel and always answers with a [`Delivery`]:
//! a failure is data, recorded by the executor, which aborts only when the channel is required.
//!
//! Each attempt has a timeout; transient failures (connection errors, timeouts, HTTP 429 and
//! 5xx, SMTP 4xx) are retried with exponential backoff, permanent ones (other HTTP 4xx, SMTP
//! 5xx, an invalid address) are not, since repeating them cannot help.
//!
//! Webhook URLs carry their credentials in the URL itself, so they are held as [`Secret`]s:
//! `Debug` and `Display` print `[redacted]`, and every error message is scrubbed of the URL
//! before it leaves this module.

mod email;
mod http;

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use email::{Credentials, EmailConfig, Security};

/// A value that must never be printed: a webhook URL, a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that needs it (the request).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `message` with every occurrence of the secret replaced by `[redacted]`.
    pub fn scrub(&self, message: &str) -> String {
        if self.0.is_empty() {
            message.to_string()
        } else {
            message.replace(&self.0, "[redacted]")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What happened, as sent to every channel. The `webhook` and `file` channels send it as JSON
/// exactly as serialised here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub run: String,
    pub service: String,
    pub release: String,
    pub environment: String,
    /// What kind of event: `run_started`, `step_finished`, `rollback_started`, `message`…
    pub event: String,
    /// The step it concerns, if any.
    pub step: Option<String>,
    /// The rendered message.
    pub text: String,
    /// Metric values at the time of the event, by metric name.
    pub metrics: BTreeMap<String, f64>,
    /// RFC 3339.
    pub time: String,
}

/// How a channel delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum Driver {
    /// A Slack incoming webhook: `{"text": …}`.
    Slack { webhook: Secret },
    /// Any HTTP endpoint: the [`Event`] as JSON.
    Webhook { url: Secret },
    /// An SMTP relay.
    Email(EmailConfig),
    /// One line per event on standard output.
    Stdout,
    /// The [`Event`] as one JSON line appended to a file.
    File { path: PathBuf },
}

impl Driver {
    /// The driver's kind, as written in a `.deploy` file.
    pub fn kind(&self) -> &'static str {
        match self {
            Driver::Slack { .. } => "slack",
            Driver::Webhook { .. } => "webhook",
            Driver::Email(_) => "email",
            Driver::Stdout => "stdout",
            Driver::File { .. } => "file",
        }
    }
}

/// Attempts, backoff and the per-attempt timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (at least one).
    pub attempts: u32,
    /// The wait before the second attempt, doubled each time up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// The limit of one attempt, connection included.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    fn wait_after(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// A configured channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    pub driver: Driver,
    /// Whether a failed delivery must abort the deploy.
    pub required: bool,
    pub retry: RetryPolicy,
}

/// The result of one delivery, success or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub channel: String,
    pub kind: &'static str,
    pub required: bool,
    pub attempts: u32,
    pub elapsed: Duration,
    /// Why the last attempt failed; `None` when delivered. Never contains a secret.
    pub error: Option<String>,
}

impl Delivery {
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }

    /// Whether the executor must abort: a required channel failed.
    pub fn must_abort(&self) -> bool {
        self.required && self.error.is_some()
    }
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Worth another attempt.
    Transient(String),
    /// Repeating cannot help.
    Permanent(String),
}

/// Delivers events; holds the HTTP client (and its connection pool) for all channels.
#[derive(Debug, Clone)]
pub struct Sender {
    http: reqwest::Client,
}

impl Sender {
    pub fn new() -> Result<Sender, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("deployc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Sender { http })
    }

    /// Delivers `event` on `channel`, retrying as its policy says.
    pub async fn send(&self, channel: &Channel, event: &Event) -> Delivery {
        let start = Instant::now();
        let policy = channel.retry;
        let mut attempt = 0;
        let error = loop {
            attempt += 1;
            let result = tokio::time::timeout(policy.timeout, self.attempt(channel, event)).await;
            let failure = match result {
                Ok(Ok(())) => break None,
                Ok(Err(f)) => f,
                Err(_) => Failure::Transient(format!("no answer within {:?}", policy.timeout)),
            };
            match failure {
                Failure::Transient(_) if attempt < policy.attempts.max(1) => {
                    tokio::time::sleep(policy.wait_after(attempt)).await;
                }
                Failure::Transient(m) | Failure::Permanent(m) => break Some(m),
            }
        };
        Delivery {
            channel: channel.name.clone(),
            kind: channel.driver.kind(),
            required: channel.required,
            attempts: attempt,
            elapsed: start.elapsed(),
            error: error.map(|m| scrub(&channel.driver, &m)),
        }
    }

    async fn attempt(&self, channel: &Channel, event: &Event) -> Result<(), Failure> {
        match &channel.driver {
            Driver::Slack { webhook } => {
                let body = serde_json::json!({ "text": slack_text(event) });
                http::post_json(&self.http, webhook, &body, channel.retry.timeout).await
            }
            Driver::Webhook { url } => {
                http::post_json(&self.http, url, event, channel.retry.timeout).await
            }
            Driver::Email(config) => email::send(config, event).await,
            Driver::Stdout => write_stdout(event),
            Driver::File { path } => append_line(path, event).await,
        }
    }
}

/// Defence in depth: whatever a lower layer put in a message, the secrets leave it.
fn scrub(driver: &Driver, message: &str) -> String {
    match driver {
        Driver::Slack { webhook: s } | Driver::Webhook { url: s } => s.scrub(message),
        _ => message.to_string(),
    }
}

/// The Slack text: the message, then the context on one short line.
fn slack_text(e: &Event) -> String {
    let mut t = format!(
        "{}\n_{} {} · {}",
        e.text, e.service, e.release, e.environment
    );
    if let Some(step) = &e.step {
        t.push_str(" · step ");
        t.push_str(step);
    }
    t.push('_');
    t
}

/// One line: `[environment] service release: text`.
pub(crate) fn plain_line(e: &Event) -> String {
    format!(
        "[{}] {} {}: {}",
        e.environment,
        e.service,
        e.release,
        e.text.replace('\n', " ")
    )
}

fn write_stdout(e: &Event) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", plain_line(e))
        .and_then(|()| out.flush())
        .map_err(|err| Failure::Permanent(format!("cannot write to stdout: {err}")))
}

/// Appends the event as one JSON line. The line goes out in one `write` on a file opened for
/// appending, so lines from concurrent writers do not interleave.
async fn append_line(path: &std::path::Path, e: &Event) -> Result<(), Failure> {
    let mut line = serde_json::to_string(e)
        .map_err(|err| Failure::Permanent(format!("cannot encode the event: {err}")))?;
    line.push('\n');
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        f.write_all(line.as_bytes())?;
        f.flush()
    })
    .await
    .map_err(|err| Failure::Transient(format!("the file task failed: {err}")))?
    .map_err(|err| Failure::Transient(format!("cannot append to the file: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let d = Driver::Webhook {
            url: Secret::new("https://hooks.example/T000/SECRET"),
        };
        assert!(!format!("{d:?}").contains("SECRET"));
        assert_eq!(
            scrub(
                &d,
                "error sending to https://hooks.example/T000/SECRET: refused"
            ),
            "error sending to [redacted]: refused"
        );
    }

    #[test]
    fn backoff_is_capped() {
        let p = RetryPolicy {
            attempts: 9,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(p.wait_after(1), Duration::from_secs(1));
        assert_eq!(p.wait_after(3), Duration::from_secs(4));
        assert_eq!(p.wait_after(8), Duration::from_secs(5));
        assert_eq!(p.wait_after(40), Duration::from_secs(5));
    }
}
