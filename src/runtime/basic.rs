//! The small built-in pieces of a real run: the `stdout` and `file` channels, approvals from
//! the command line or the terminal, the real clock, the `command` provider, and a provider
//! for environments that declare none.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use super::shell::{self, RealShell, ReleaseNames};
use super::world::{
    BoxFuture, Channel, Clock, Decision, Done, GateRequest, Gates, Message, Provider, Shell,
};
use crate::lower::TargetCommand;

pub(crate) struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
    fn sleep(&self, ms: u64) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(Duration::from_millis(ms)))
    }
    fn is_virtual(&self) -> bool {
        false
    }
}

pub(crate) struct StdoutChannel {
    pub(crate) name: String,
}

impl Channel for StdoutChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            super::progress::suspend(|| {
                let mut out = std::io::stdout().lock();
                writeln!(out, "📣 {}", m.text)
            })
            .map_err(|e| e.to_string())?;
            Ok("printed".into())
        })
    }
}

/// JSON lines appended to a file.
pub(crate) struct FileChannel {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
}

impl Channel for FileChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            let mut line = serde_json::json!({
                "at": jiff::Timestamp::now().to_string(),
                "event": m.event, "text": m.text, "run": m.run, "step": m.step,
                "metrics": m.metrics,
            })
            .to_string();
            line.push('\n');
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| format!("`{}`: {e}", self.path.display()))?;
            f.write_all(line.as_bytes())
                .map_err(|e| format!("`{}`: {e}", self.path.display()))?;
            Ok(format!("appended to {}", self.path.display()))
        })
    }
}

/// Approvals: `--approve ROLE`, `--yes`, else a prompt on a terminal, else the gate's timeout.
pub(crate) struct CliGates {
    pub(crate) yes: bool,
    pub(crate) approve: Vec<String>,
}

impl Gates for CliGates {
    fn decide<'a>(&'a self, r: &'a GateRequest) -> BoxFuture<'a, Decision> {
        Box::pin(async move {
            if self.approve.iter().any(|a| a == &r.role) {
                return Decision::Approved {
                    by: format!(
                        "{} (--approve {})",
                        r.who.clone().unwrap_or_else(|| r.role.clone()),
                        r.role
                    ),
                };
            }
            if self.yes {
                return Decision::Approved { by: "--yes".into() };
            }
            let timeout = r.timeout_ms.map(Duration::from_millis);
            if std::io::stdin().is_terminal() && timeout != Some(Duration::ZERO) {
                let question = format!("{}: {} [{}] approve? [y/N] ", r.step, r.question, r.role);
                // The live view would draw over the question.
                super::progress::hide();
                let ask = tokio::task::spawn_blocking(move || {
                    eprint!("{question}");
                    let mut line = String::new();
                    let _ = std::io::stdin().read_line(&mut line);
                    line.trim().eq_ignore_ascii_case("y") || line.trim().eq_ignore_ascii_case("yes")
                });
                let answer = match timeout {
                    Some(t) => tokio::time::timeout(t, ask).await.ok(),
                    None => Some(ask.await),
                };
                super::progress::show();
                let by = format!("{} at the terminal", r.role);
                return match answer {
                    Some(Ok(true)) => Decision::Approved { by },
                    Some(_) => Decision::Rejected { by },
                    None => Decision::TimedOut,
                };
            }
            match timeout {
                Some(t) => {
                    tokio::time::sleep(t).await;
                    Decision::TimedOut
                }
                None => Decision::Rejected {
                    by: "nobody (no terminal: pass --approve ROLE or --yes)".into(),
                },
            }
        })
    }
}

/// An environment with no provider: deploy steps are recorded, nothing is changed.
pub(crate) struct NoProvider;

impl Provider for NoProvider {
    fn start_stable<'a>(&'a self, v: Option<&'a str>) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            Ok(format!(
                "no provider: {} assumed serving",
                v.unwrap_or("the current version")
            ))
        })
    }
    fn deploy<'a>(&'a self, v: &'a str) -> BoxFuture<'a, Done> {
        Box::pin(async move { Ok(format!("no provider: deploy {v} by hand")) })
    }
    fn weight(&self, p: f64) -> BoxFuture<'_, Done> {
        Box::pin(async move { Ok(format!("no provider: {p}% by hand")) })
    }
    fn batch(&self, b: u64, of: u64) -> BoxFuture<'_, Done> {
        Box::pin(async move { Ok(format!("no provider: batch {b}/{of} by hand")) })
    }
    fn promote(&self) -> BoxFuture<'_, Done> {
        Box::pin(async { Ok("no provider".into()) })
    }
    fn traffic_to_stable(&self) -> BoxFuture<'_, Done> {
        Box::pin(async { Ok("no provider".into()) })
    }
    fn stop_new(&self) -> BoxFuture<'_, Done> {
        Box::pin(async { Ok("no provider".into()) })
    }
    fn health(&self) -> BoxFuture<'_, Done> {
        Box::pin(async { Ok("no provider: nothing to check".into()) })
    }
    fn url(&self) -> Option<String> {
        None
    }
    fn shutdown(&self, _: bool) -> BoxFuture<'_, Done> {
        Box::pin(async { Ok("nothing to stop".into()) })
    }
}

/// The user's commands for `deploy`, `weight`, `promote`, `rollback`, `scale`, `health`,
/// with placeholders shell-quoted, a timeout each (default 10 minutes) and output captured.
pub(crate) struct CommandProvider {
    pub(crate) actions: Vec<TargetCommand>,
    pub(crate) shell: RealShell,
    pub(crate) release: String,
    pub(crate) stable: Option<String>,
    /// `{service}` and `{environment}` (with the release and the stable version).
    pub(crate) names: ReleaseNames,
    pub(crate) replicas: u64,
    /// The environment's (or service's) `url`: `{url}` in the commands.
    pub(crate) url: Option<String>,
    /// The service's `health = http "URL" expect STATUS`, probed besides the `health`
    /// command: the commands do not know whether the service answers.
    pub(crate) health: Option<(String, u64)>,
}

const COMMAND_TIMEOUT_MS: u64 = 600_000;

impl CommandProvider {
    async fn run(&self, action: &str, values: &[(&str, String)]) -> Done {
        let Some(a) = self.actions.iter().find(|a| a.action == action) else {
            return Ok(format!("no `{action}` command"));
        };
        let v = |n: &str| {
            values
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .or_else(|| match n {
                    "version" => Some(self.release.clone()),
                    "previous_version" => self.stable.clone(),
                    "url" => self.url.clone(),
                    _ => self.names.get(n),
                })
        };
        let cmd = shell::render(&a.command, &v);
        self.shell
            .run(&cmd, a.timeout_ms.unwrap_or(COMMAND_TIMEOUT_MS))
            .await
    }
}

impl Provider for CommandProvider {
    fn start_stable<'a>(&'a self, v: Option<&'a str>) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            Ok(format!(
                "{} serves all traffic (not changed)",
                v.unwrap_or("the current version")
            ))
        })
    }
    fn deploy<'a>(&'a self, v: &'a str) -> BoxFuture<'a, Done> {
        Box::pin(async move { self.run("deploy", &[("version", v.to_string())]).await })
    }
    fn weight(&self, p: f64) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            self.run("weight", &[("weight", crate::lower::fmt_number(p))])
                .await
        })
    }
    fn batch(&self, b: u64, of: u64) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            let n = (self.replicas * b).div_ceil(of.max(1));
            if self.actions.iter().any(|a| a.action == "deploy") && b == 1 {
                self.run("deploy", &[]).await?;
            }
            self.run(
                "scale",
                &[("replicas", n.to_string()), ("batch", b.to_string())],
            )
            .await
        })
    }
    fn promote(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move { self.run("promote", &[]).await })
    }
    fn traffic_to_stable(&self) -> BoxFuture<'_, Done> {
        self.rollback_to_stable("rollback")
    }
    fn rollback_to_stable<'a>(&'a self, reason: &'a str) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            if self.actions.iter().any(|a| a.action == "rollback") {
                self.run("rollback", &[("reason", reason.to_string())])
                    .await
            } else {
                self.run("weight", &[("weight", "0".into())]).await
            }
        })
    }
    fn stop_new(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move { self.run("scale", &[("replicas", "0".into())]).await })
    }
    fn health(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            let command = self.run("health", &[]).await?;
            let Some((url, expect)) = &self.health else {
                return Ok(command);
            };
            let probed = probe_health(url, *expect).await?;
            Ok(format!("{command}; {probed}"))
        })
    }
    fn url(&self) -> Option<String> {
        self.url.clone()
    }
    fn shutdown(&self, _: bool) -> BoxFuture<'_, Done> {
        Box::pin(async { Ok("nothing to stop".into()) })
    }
}

/// One request to the service's health URL: the expected status is healthy, anything else
/// (another status, no answer within 5 s) is not.
pub(crate) async fn probe_health(url: &str, expect: u64) -> Done {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    match client.get(url).send().await {
        Ok(r) if u64::from(r.status().as_u16()) == expect => {
            Ok(format!("{url} answered {}", r.status().as_u16()))
        }
        Ok(r) => Err(format!(
            "{url} answered {}, expected {expect}",
            r.status().as_u16()
        )),
        Err(e) => Err(format!("{url}: no answer: {e}")),
    }
}
