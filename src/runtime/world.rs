//! The edges of the runtime: everything the executor changes or observes goes through one of
//! these traits, so that a real run, a simulation and a dry run are the same executor over
//! different worlds.
//!
//! The traits are object-safe (boxed futures) because the world is chosen at run time from
//! the plan's target and the command line. They are deliberately small: the executor decides,
//! the world only does. Every operation answers with a short description of what it did (the
//! resolved command, the file written), which the executor journals.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an operation did, in words (journaled and shown), or why it failed.
pub(crate) type Done = Result<String, String>;

/// Which version a measurement is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Track {
    /// The version serving before this release.
    Stable,
    /// The release being deployed.
    New,
}

impl Track {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Track::Stable => "stable",
            Track::New => "new",
        }
    }
}

/// Time. Real runs sleep; simulations move a virtual clock forward instantly.
pub(crate) trait Clock: Send + Sync {
    fn now(&self) -> jiff::Timestamp;
    fn sleep(&self, ms: u64) -> BoxFuture<'_, ()>;
    /// Whether waiting costs nothing (then long schedules are waited out instead of paused).
    fn is_virtual(&self) -> bool;
}

/// How the application is changed.
pub(crate) trait Provider: Send + Sync {
    /// Makes `version` serve all traffic as the stable version (or notes there is none).
    fn start_stable<'a>(&'a self, version: Option<&'a str>) -> BoxFuture<'a, Done>;
    /// Starts the new version without sending it traffic.
    fn deploy<'a>(&'a self, version: &'a str) -> BoxFuture<'a, Done>;
    /// Sends `percent` of the traffic to the new version.
    fn weight(&self, percent: f64) -> BoxFuture<'_, Done>;
    /// Replaces batch `batch` of `of` of the stable instances with new ones.
    fn batch(&self, batch: u64, of: u64) -> BoxFuture<'_, Done>;
    /// Makes the new version the only one (stops the old one).
    fn promote(&self) -> BoxFuture<'_, Done>;
    /// Returns all traffic to the stable version.
    fn traffic_to_stable(&self) -> BoxFuture<'_, Done>;
    /// Puts all traffic back on the stable version for a rollback, saying why: providers
    /// whose rollback takes a reason (the `command` provider's `rollback` action, `{reason}`)
    /// are given the real one.
    fn rollback_to_stable<'a>(&'a self, reason: &'a str) -> BoxFuture<'a, Done> {
        let _ = reason;
        self.traffic_to_stable()
    }
    /// Stops (scales down) the new version.
    fn stop_new(&self) -> BoxFuture<'_, Done>;
    /// Checks the health of the instances serving traffic.
    fn health(&self) -> BoxFuture<'_, Done>;
    /// Checks each instance on its own, for a rolling batch's `healthy`/`unhealthy` counts
    /// and `max_unavailable`. Providers that cannot see instances answer for the service as
    /// a whole.
    fn instance_health(&self) -> BoxFuture<'_, Vec<InstanceHealth>> {
        Box::pin(async move {
            vec![InstanceHealth {
                instance: None,
                result: self.health().await,
            }]
        })
    }
    /// The URL through which the service is reached (`{url}` in smoke tests).
    fn url(&self) -> Option<String>;
    /// Stops everything the provider started, unless asked to keep it running.
    fn shutdown(&self, keep_running: bool) -> BoxFuture<'_, Done>;
}

/// One health check of one instance, or of the service as a whole.
#[derive(Debug, Clone)]
pub(crate) struct InstanceHealth {
    /// `VERSION@PORT`; `None` when the provider answers for the service as a whole.
    pub(crate) instance: Option<String>,
    pub(crate) result: Done,
}

/// One migration to apply, as the plan gives it.
#[derive(Debug, Clone)]
pub(crate) struct Migration {
    pub(crate) name: String,
    pub(crate) release: String,
    pub(crate) phase: String,
    pub(crate) up: String,
    pub(crate) down: Option<String>,
    pub(crate) transactional: bool,
    pub(crate) statement_timeout_ms: u64,
    pub(crate) lock_timeout_ms: u64,
    /// `batch N by KEY`: rows per batch and the key column.
    pub(crate) batch: Option<(u64, String)>,
    pub(crate) verify: Option<crate::lower::MigrationVerify>,
}

/// One committed batch of a batched migration.
#[derive(Debug, Clone)]
pub(crate) struct BatchProgress {
    /// 1-based over every run of the migration.
    pub(crate) batch: u64,
    pub(crate) rows: u64,
    pub(crate) total_rows: u64,
    /// The key the batch ended at; `None` for the last one.
    pub(crate) last_key: Option<String>,
    /// The last batch: the migration is in the ledger.
    pub(crate) finished: bool,
}

/// What one call of [`Database::apply_batch`] did.
#[derive(Debug, Clone)]
pub(crate) enum BatchOutcome {
    Ran(BatchProgress),
    /// The ledger already has the migration: nothing ran (the detail says so).
    Already(String),
    /// A simulated database described the whole walk instead of running it.
    Described(String),
}

/// A row of the migration ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    pub(crate) name: String,
    pub(crate) checksum: String,
    pub(crate) reverted: bool,
}

/// Why a migration was not applied.
#[derive(Debug, Clone)]
pub(crate) struct ApplyFailure {
    pub(crate) message: String,
    /// What the failed migration left applied: statements run outside a transaction before
    /// the one that failed (`statements 1 to 2 of migration `a``), or nothing.
    pub(crate) stays_applied: Option<String>,
}

impl From<String> for ApplyFailure {
    fn from(message: String) -> Self {
        ApplyFailure {
            message,
            stays_applied: None,
        }
    }
}

/// The application's database.
pub(crate) trait Database: Send + Sync {
    /// Applies a migration exactly once (a migration already in the ledger is not re-run).
    fn apply<'a>(&'a self, m: &'a Migration) -> BoxFuture<'a, Result<String, ApplyFailure>>;
    /// Runs a migration's `down` and marks it reverted in the ledger.
    fn revert<'a>(&'a self, m: &'a Migration) -> BoxFuture<'a, Done>;
    /// The ledger.
    fn applied(&self) -> BoxFuture<'_, Result<Vec<Applied>, String>>;
    /// Backs the database up before the first risky change.
    fn backup(&self) -> BoxFuture<'_, Done>;
    /// Runs the next batch of a batched migration, committed with its progress.
    fn apply_batch<'a>(
        &'a self,
        m: &'a Migration,
    ) -> BoxFuture<'a, Result<BatchOutcome, ApplyFailure>>;
    /// Runs the migration's `verify` query: `Ok` with what it read when the value is the
    /// expected one, `Err` saying what it read otherwise.
    fn verify<'a>(
        &'a self,
        m: &'a Migration,
        v: &'a crate::lower::MigrationVerify,
    ) -> BoxFuture<'a, Done>;
    /// Copies the database as it is now into the run directory, before a restore overwrites
    /// it: the writes made since the backup stay recoverable.
    fn snapshot(&self) -> BoxFuture<'_, Done>;
    /// Copies the backup this run took back over the database (the "restore from backup"
    /// choice past the point of no return).
    fn restore(&self) -> BoxFuture<'_, Done>;
}

/// Where metric values come from.
pub(crate) trait MetricSource: Send + Sync {
    /// The value of `metric` (its plan `query`, when it has one) for `track` over the last
    /// `window_ms`; `None` when there is no data.
    fn query<'a>(
        &'a self,
        metric: &'a str,
        query: Option<&'a str>,
        track: Track,
        window_ms: u64,
    ) -> BoxFuture<'a, Option<f64>>;

    /// The same, saying why there is no data when the source knows (for the journal).
    fn reading<'a>(
        &'a self,
        metric: &'a str,
        query: Option<&'a str>,
        track: Track,
        window_ms: u64,
    ) -> BoxFuture<'a, Result<f64, Option<String>>> {
        Box::pin(async move {
            self.query(metric, query, track, window_ms)
                .await
                .ok_or(None)
        })
    }
}

/// A message to people.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Message {
    pub(crate) event: String,
    pub(crate) text: String,
    pub(crate) run: String,
    pub(crate) step: Option<String>,
    /// The latest value of each metric read in this run: the new version's under the metric's
    /// name, the stable version's as `stable.NAME`.
    pub(crate) metrics: BTreeMap<String, f64>,
}

/// A notification channel.
pub(crate) trait Channel: Send + Sync {
    fn name(&self) -> &str;
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Done>;
}

/// A shell command run by a step (smoke tests, checklist commands, the `command` provider).
pub(crate) trait Shell: Send + Sync {
    fn run<'a>(&'a self, command: &'a str, timeout_ms: u64) -> BoxFuture<'a, Done>;
}

/// Someone who can approve.
#[derive(Debug, Clone)]
pub(crate) struct GateRequest {
    pub(crate) step: String,
    pub(crate) role: String,
    pub(crate) who: Option<String>,
    pub(crate) question: String,
    pub(crate) timeout_ms: Option<u64>,
}

/// A gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Approved {
        by: String,
    },
    Rejected {
        by: String,
    },
    /// Nobody answered before the timeout.
    TimedOut,
}

/// Approvals: a terminal prompt, `--approve ROLE`, `--yes`, or a scenario's answers.
pub(crate) trait Gates: Send + Sync {
    fn decide<'a>(&'a self, request: &'a GateRequest) -> BoxFuture<'a, Decision>;
}

/// Feature flags.
pub(crate) trait Flags: Send + Sync {
    /// Rolls `flag` out to `percent` (of `segment`, when the schedule names one).
    fn set<'a>(
        &'a self,
        flag: &'a str,
        percent: f64,
        segment: Option<&'a str>,
    ) -> BoxFuture<'a, Done>;
}
