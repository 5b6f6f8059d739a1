//! Simulation and dry run: the executor on a virtual clock, with a provider, a database,
//! channels, gates and commands that only describe what they would do, and metric values
//! taken from a scenario file (`docs/runtime.md` documents the format).
//!
//! Sleeping moves the virtual clock and returns at once, so a seven-day plan takes as long as
//! its evaluations take to compute. Nothing here reads the real clock or the environment,
//! which makes the output deterministic.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::kube::objects::Op;
use super::shell;
use super::world::{
    Applied, ApplyFailure, BatchOutcome, BoxFuture, Channel, Clock, Database, Decision, Done,
    Flags, GateRequest, Gates, Message, MetricSource, Migration, Provider, Shell, Track,
};
use crate::lower::{MigrationVerify, Plan, TargetProvider};

/// A scenario file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scenario {
    /// T-0 (RFC 3339); default: the plan's start, else 2026-01-05T09:00:00Z.
    pub(crate) start: Option<String>,
    /// Per metric, per track (`stable`, `new`): a constant or a series of `{at, value}`.
    #[serde(default)]
    pub(crate) metrics: BTreeMap<String, Tracks>,
    /// Per role: `approve`, `reject` or `timeout`; `default` for the others (default approve).
    #[serde(default)]
    pub(crate) gates: BTreeMap<String, String>,
    /// Operations that fail: any command or provider operation whose description contains
    /// one of these strings.
    #[serde(default)]
    pub(crate) fail: Vec<String>,
    /// Versions recorded as succeeded in other environments (`requires = staging`):
    /// `{ staging = ["2.1.0"] }`.
    #[serde(default)]
    pub(crate) history: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tracks {
    pub(crate) stable: Option<Series>,
    pub(crate) new: Option<Series>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Series {
    Constant(f64),
    Points(Vec<Point>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Point {
    /// Offset from T-0: `0s`, `12m`, `T+12m`.
    pub(crate) at: String,
    /// No value: the source has no data from `at` until the next point (a gap).
    #[serde(default)]
    pub(crate) value: Option<f64>,
}

impl Scenario {
    pub(crate) fn parse(text: &str) -> Result<Scenario, String> {
        let s: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        for (m, t) in &s.metrics {
            for series in [&t.stable, &t.new].into_iter().flatten() {
                if let Series::Points(points) = series {
                    for p in points {
                        if offset_ms(&p.at).is_none() {
                            return Err(format!("metric `{m}`: cannot read `at = \"{}\"`", p.at));
                        }
                    }
                }
            }
        }
        for v in s.gates.values() {
            if !["approve", "reject", "timeout"].contains(&v.as_str()) {
                return Err(format!("gates: `{v}` is not approve, reject or timeout"));
            }
        }
        Ok(s)
    }

    pub(crate) fn t0(&self, plan: &Plan) -> Result<jiff::Timestamp, String> {
        let s = self
            .start
            .as_deref()
            .or(plan.start.as_deref())
            .unwrap_or("2026-01-05T09:00:00Z");
        s.parse().map_err(|e| format!("scenario start `{s}`: {e}"))
    }

    fn fails(&self, description: &str) -> bool {
        self.fail.iter().any(|f| description.contains(f.as_str()))
    }
}

fn offset_ms(at: &str) -> Option<u64> {
    let t = at.strip_prefix("T+").unwrap_or(at);
    if t == "0" || t == "T-0" {
        return Some(0);
    }
    super::condition::duration_ms(t)
}

/// The virtual clock.
pub(crate) struct VirtualClock {
    now: Mutex<jiff::Timestamp>,
}

impl VirtualClock {
    pub(crate) fn new(t0: jiff::Timestamp) -> VirtualClock {
        VirtualClock {
            now: Mutex::new(t0),
        }
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> jiff::Timestamp {
        self.now.lock().map(|t| *t).unwrap_or_default()
    }
    fn sleep(&self, ms: u64) -> BoxFuture<'_, ()> {
        if let Ok(mut t) = self.now.lock()
            && let Ok(n) = t.checked_add(jiff::SignedDuration::from_millis(
                i64::try_from(ms).unwrap_or(i64::MAX),
            ))
        {
            *t = n;
        }
        Box::pin(std::future::ready(()))
    }
    fn is_virtual(&self) -> bool {
        true
    }
}

/// Shared by the simulated pieces.
pub(crate) struct Sim {
    pub(crate) scenario: Scenario,
    pub(crate) plan: Plan,
    pub(crate) clock: Arc<VirtualClock>,
    pub(crate) t0: jiff::Timestamp,
    pub(crate) stable: Option<String>,
}

impl Sim {
    fn result(&self, description: String) -> Done {
        if self.scenario.fails(&description) {
            Err(format!("{description} (fails in the scenario)"))
        } else {
            Ok(description)
        }
    }

    fn command(&self, action: &str, values: &[(&str, String)]) -> Option<String> {
        let Some(TargetProvider::Command { actions }) = &self.plan.target.provider else {
            return None;
        };
        let a = actions.iter().find(|a| a.action == action)?;
        let v = |n: &str| {
            values
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .or_else(|| match n {
                    "version" => Some(self.plan.release.clone()),
                    "previous_version" => self.stable.clone(),
                    _ => None,
                })
        };
        Some(format!("run `{}`", shell::render(&a.command, &v)))
    }

    /// The API requests of a `kubernetes` target's operation.
    fn kube(&self, op: super::kube::objects::Op<'_>) -> Option<String> {
        let Some(TargetProvider::Kubernetes(t)) = &self.plan.target.provider else {
            return None;
        };
        Some(super::kube::describe(
            &self.plan,
            t,
            self.stable.as_deref(),
            op,
        ))
    }

    fn local(&self, version: &str) -> Option<String> {
        let Some(TargetProvider::Local {
            command, replicas, ..
        }) = &self.plan.target.provider
        else {
            return None;
        };
        let v = |n: &str| match n {
            "version" => Some(version.to_string()),
            _ => None,
        };
        Some(format!(
            "start {replicas} × `{}` behind the local proxy",
            shell::render(command.as_deref().unwrap_or("?"), &v)
        ))
    }
}

pub(crate) struct SimProvider(pub(crate) Arc<Sim>);

impl Provider for SimProvider {
    fn start_stable<'a>(&'a self, v: Option<&'a str>) -> BoxFuture<'a, Done> {
        if let Some(d) = self.0.kube(Op::Stable(v)) {
            return Box::pin(std::future::ready(self.0.result(d)));
        }
        let d = match v {
            Some(v) => self
                .0
                .local(v)
                .unwrap_or_else(|| format!("{v} serves all traffic")),
            None => "no stable version".to_string(),
        };
        Box::pin(std::future::ready(self.0.result(d)))
    }
    fn deploy<'a>(&'a self, v: &'a str) -> BoxFuture<'a, Done> {
        let d = self
            .0
            .command("deploy", &[])
            .or_else(|| self.0.kube(Op::Deploy))
            .or_else(|| self.0.local(v))
            .unwrap_or_else(|| format!("deploy {v}"));
        Box::pin(std::future::ready(self.0.result(d)))
    }
    fn weight(&self, p: f64) -> BoxFuture<'_, Done> {
        let w = crate::lower::fmt_number(p);
        let d = self
            .0
            .command("weight", &[("weight", w.clone())])
            .or_else(|| self.0.kube(Op::Weight(p)))
            .unwrap_or_else(|| format!("send {w}% of traffic to the new version"));
        Box::pin(std::future::ready(self.0.result(d)))
    }
    fn batch(&self, b: u64, of: u64) -> BoxFuture<'_, Done> {
        let d = self
            .0
            .command("scale", &[("batch", b.to_string())])
            .map(|c| format!("batch {b}/{of}: {c}"))
            .or_else(|| self.0.kube(Op::Batch(b, of)))
            .unwrap_or_else(|| format!("replace batch {b} of {of}"));
        Box::pin(std::future::ready(self.0.result(d)))
    }
    fn promote(&self) -> BoxFuture<'_, Done> {
        let d = self
            .0
            .command("promote", &[])
            .or_else(|| self.0.kube(Op::Promote))
            .unwrap_or_else(|| "stop the previous version".to_string());
        Box::pin(std::future::ready(self.0.result(d)))
    }
    fn traffic_to_stable(&self) -> BoxFuture<'_, Done> {
        self.rollback_to_stable("rollback")
    }
    fn rollback_to_stable<'a>(&'a self, reason: &'a str) -> BoxFuture<'a, Done> {
        let d = self
            .0
            .command("rollback", &[("reason", reason.to_string())])
            .or_else(|| self.0.command("weight", &[("weight", "0".into())]))
            .or_else(|| self.0.kube(Op::TrafficToStable))
            .unwrap_or_else(|| "send all traffic to the stable version".to_string());
        Box::pin(std::future::ready(self.0.result(d)))
    }
    fn stop_new(&self) -> BoxFuture<'_, Done> {
        let d = self
            .0
            .kube(Op::StopNew)
            .unwrap_or_else(|| "stop the new version".to_string());
        Box::pin(std::future::ready(self.0.result(d)))
    }
    fn health(&self) -> BoxFuture<'_, Done> {
        let d = self
            .0
            .command("health", &[])
            .or_else(|| self.0.kube(Op::Health))
            .unwrap_or_else(|| "check health".to_string());
        Box::pin(std::future::ready(self.0.result(d)))
    }
    fn url(&self) -> Option<String> {
        match &self.0.plan.target.provider {
            Some(TargetProvider::Local { .. }) => Some("http://127.0.0.1:PROXY".into()),
            _ => None,
        }
    }
    fn shutdown(&self, _: bool) -> BoxFuture<'_, Done> {
        Box::pin(std::future::ready(Ok("stopped".to_string())))
    }
}

pub(crate) struct SimDatabase {
    pub(crate) sim: Arc<Sim>,
    pub(crate) ledger: Mutex<Vec<Applied>>,
}

impl Database for SimDatabase {
    fn apply<'a>(&'a self, m: &'a Migration) -> BoxFuture<'a, Result<String, ApplyFailure>> {
        let d = format!(
            "apply `{}` ({}{}): {}",
            m.name,
            m.phase,
            if m.transactional {
                ", one transaction"
            } else {
                ", statement by statement"
            },
            m.up.lines().next().unwrap_or("")
        );
        let r = self.sim.result(d);
        if r.is_ok()
            && let Ok(mut l) = self.ledger.lock()
        {
            l.push(Applied {
                name: m.name.clone(),
                checksum: crate::history::checksum(&m.up),
                reverted: false,
            });
        }
        Box::pin(std::future::ready(r.map_err(ApplyFailure::from)))
    }
    fn revert<'a>(&'a self, m: &'a Migration) -> BoxFuture<'a, Done> {
        let d = format!(
            "revert `{}`: {}",
            m.name,
            m.down.as_deref().unwrap_or("").lines().next().unwrap_or("")
        );
        Box::pin(std::future::ready(self.sim.result(d)))
    }
    fn applied(&self) -> BoxFuture<'_, Result<Vec<Applied>, String>> {
        let l = self.ledger.lock().map(|l| l.clone()).unwrap_or_default();
        Box::pin(std::future::ready(Ok(l)))
    }
    fn backup(&self) -> BoxFuture<'_, Done> {
        let d = format!(
            "back up the database ({})",
            self.sim.plan.target.backup.as_deref().unwrap_or("snapshot")
        );
        Box::pin(std::future::ready(self.sim.result(d)))
    }
    fn apply_batch<'a>(
        &'a self,
        m: &'a Migration,
    ) -> BoxFuture<'a, Result<BatchOutcome, ApplyFailure>> {
        // The simulated database has no rows: the whole walk is described at once.
        let (size, key) = m.batch.clone().unwrap_or((0, String::new()));
        let d = format!(
            "apply `{}` in batches of {size} rows by `{key}`: {}",
            m.name,
            m.up.lines().next().unwrap_or("")
        );
        let r = self.sim.result(d).map(|d| {
            if let Ok(mut l) = self.ledger.lock() {
                l.push(Applied {
                    name: m.name.clone(),
                    checksum: crate::history::checksum(&m.up),
                    reverted: false,
                });
            }
            BatchOutcome::Described(d)
        });
        Box::pin(std::future::ready(r.map_err(ApplyFailure::from)))
    }
    fn verify<'a>(&'a self, m: &'a Migration, v: &'a MigrationVerify) -> BoxFuture<'a, Done> {
        let d = format!("verify `{}`: `{}` = {}", m.name, v.query, v.expect);
        Box::pin(std::future::ready(self.sim.result(d)))
    }
    fn snapshot(&self) -> BoxFuture<'_, Done> {
        Box::pin(std::future::ready(
            self.sim
                .result("snapshot the database before the restore".into()),
        ))
    }
    fn restore(&self) -> BoxFuture<'_, Done> {
        Box::pin(std::future::ready(
            self.sim
                .result("restore the database from the backup".into()),
        ))
    }
}

pub(crate) struct SimMetrics(pub(crate) Arc<Sim>);

impl MetricSource for SimMetrics {
    fn query<'a>(
        &'a self,
        metric: &'a str,
        _query: Option<&'a str>,
        track: Track,
        _window_ms: u64,
    ) -> BoxFuture<'a, Option<f64>> {
        let now = self.0.clock.now();
        let since = u64::try_from(now.duration_since(self.0.t0).as_millis()).unwrap_or(0);
        let v = self.0.scenario.metrics.get(metric).and_then(|t| {
            let s = match track {
                Track::Stable => t.stable.as_ref(),
                Track::New => t.new.as_ref().or(t.stable.as_ref()),
            }?;
            match s {
                Series::Constant(v) => Some(*v),
                Series::Points(points) => points
                    .iter()
                    .rfind(|p| offset_ms(&p.at).is_some_and(|o| o <= since))
                    .and_then(|p| p.value),
            }
        });
        Box::pin(std::future::ready(v))
    }
}

pub(crate) struct SimGates(pub(crate) Arc<Sim>);

impl Gates for SimGates {
    fn decide<'a>(&'a self, r: &'a GateRequest) -> BoxFuture<'a, Decision> {
        let g = &self.0.scenario.gates;
        let answer = g
            .get(&r.role)
            .or_else(|| g.get("default"))
            .map(String::as_str)
            .unwrap_or("approve");
        let d = match answer {
            "reject" => Decision::Rejected {
                by: format!("{} (scenario)", r.role),
            },
            "timeout" => {
                // The virtual clock moves when asked; the future is ready at once.
                drop(self.0.clock.sleep(r.timeout_ms.unwrap_or(0)));
                Decision::TimedOut
            }
            _ => Decision::Approved {
                by: format!("{} (scenario)", r.role),
            },
        };
        Box::pin(std::future::ready(d))
    }
}

pub(crate) struct SimShell(pub(crate) Arc<Sim>);

impl Shell for SimShell {
    fn run<'a>(&'a self, command: &'a str, _timeout_ms: u64) -> BoxFuture<'a, Done> {
        Box::pin(std::future::ready(
            self.0.result(format!("run `{command}`")),
        ))
    }
}

pub(crate) struct SimChannel {
    pub(crate) name: String,
    pub(crate) target: String,
    pub(crate) sim: Arc<Sim>,
}

impl Channel for SimChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn send<'a>(&'a self, _m: &'a Message) -> BoxFuture<'a, Done> {
        Box::pin(std::future::ready(
            self.sim.result(format!("to {}", self.target)),
        ))
    }
}

pub(crate) struct SimFlags(pub(crate) Arc<Sim>);

impl Flags for SimFlags {
    fn set<'a>(
        &'a self,
        flag: &'a str,
        percent: f64,
        _segment: Option<&'a str>,
    ) -> BoxFuture<'a, Done> {
        let d = format!(
            "set flag `{flag}` to {}%",
            crate::lower::fmt_number(percent)
        );
        Box::pin(std::future::ready(self.0.result(d)))
    }
}
