//! The execution plan: plain serde data, the stable contract between the compiler, the
//! renderers and the runtime. Its JSON form is documented in `docs/plan-format.md`; fields are
//! only ever added, and `format` changes when something is removed or changes meaning.

use serde::{Deserialize, Serialize};

/// The plan format version written in every plan.
pub const PLAN_FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub format: u32,
    pub service: String,
    pub release: String,
    pub environment: String,
    /// The `.deploy` file the plan was compiled from.
    pub source: String,
    pub risk: Option<String>,
    pub strategy: String,
    /// The planned start (T-0), when `--start` was given, as RFC 3339.
    pub start: Option<String>,
    pub production: bool,
    pub team: Vec<PlanRole>,
    pub rollback_decision: Vec<String>,
    pub channels: Vec<PlanChannel>,
    pub metrics: Vec<PlanMetric>,
    pub phases: Vec<PlanPhase>,
    /// Rollback triggers, armed from the first traffic change to the end of monitoring.
    pub triggers: Vec<PlanTrigger>,
    pub comms: Vec<PlanMessage>,
    /// The id of the first step after which automatic rollback cannot restore the previous
    /// state (an executed irreversible migration).
    pub point_of_no_return: Option<String>,
    pub timeline: Timeline,
    /// Things the reader should know that are not errors (a metric without a query for this
    /// environment's source, defaults that were applied).
    pub notes: Vec<String>,
    /// How the runtime reaches the environment (added in format 1; absent in older plans).
    #[serde(default)]
    pub target: Target,
    /// Set when the plan takes a finished release back (`deployc rollback`): `release` is the
    /// version it goes back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<PlanRollback>,
}

/// What a rollback plan takes back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanRollback {
    /// The release serving when the plan was made (the last success in the history).
    pub from: String,
    /// The release the plan goes back to (the plan's `release`).
    pub to: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanRole {
    pub role: String,
    pub who: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanChannel {
    pub name: String,
    /// `slack`, `email`, `webhook`, `stdout` or `file`.
    pub kind: String,
    /// Where it goes, with secrets shown as `env VAR`, never their values.
    pub target: String,
    pub required: bool,
    /// The SMTP server of an `email` channel (`env VAR`, or the URL with its password
    /// hidden); absent for other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanMetric {
    pub name: String,
    pub kind: String,
    /// The source kind used in this environment.
    pub source: String,
    /// The query for that source, if the metric has one.
    pub query: Option<String>,
    /// Rate unit (`second`, `minute`, `hour`) for rate metrics.
    pub per: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PhaseName {
    PreDeploy,
    Migrate,
    Deploy,
    Verify,
    Monitor,
    PostDeploy,
    /// Flag days and check-ins: a run of its own, started when the deploy run succeeds, so
    /// that the deploy run ends (and is recorded) after its monitor period.
    Schedule,
}

impl PhaseName {
    pub fn title(self) -> &'static str {
        match self {
            PhaseName::PreDeploy => "Pre-deployment",
            PhaseName::Migrate => "Migrations",
            PhaseName::Deploy => "Deployment",
            PhaseName::Verify => "Verification",
            PhaseName::Monitor => "Monitoring",
            PhaseName::PostDeploy => "Post-deployment",
            PhaseName::Schedule => "Flag schedule (a run of its own, after this one succeeds)",
        }
    }
    pub fn id(self) -> &'static str {
        match self {
            PhaseName::PreDeploy => "pre_deploy",
            PhaseName::Migrate => "migrate",
            PhaseName::Deploy => "deploy",
            PhaseName::Verify => "verify",
            PhaseName::Monitor => "monitor",
            PhaseName::PostDeploy => "post_deploy",
            PhaseName::Schedule => "schedule",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanPhase {
    pub name: PhaseName,
    pub steps: Vec<Step>,
}

/// Where in the source a step comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceRef {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    /// Stable identifier, e.g. `deploy.canary-2` or `migrate.add_email_address`.
    pub id: String,
    pub title: String,
    pub action: Action,
    /// Steps that must finish before this one starts.
    pub after: Vec<String>,
    /// Longest the step may take before it fails.
    pub timeout_ms: Option<u64>,
    /// Conditions evaluated while the step runs; a failing `require` fails the step.
    pub guards: Vec<Guard>,
    /// Expected start, relative to T-0 (negative before T-0 is not used: pre-deploy starts at T-0).
    pub starts_at_ms: u64,
    /// Expected duration.
    pub expected_ms: u64,
    /// Expected start as an absolute time, when the plan has a start.
    pub starts_at: Option<String>,
    /// What rollback does if things go wrong during or after this step, in order.
    pub rollback: Vec<RollbackAction>,
    /// Whether this step is the point of no return.
    pub point_of_no_return: bool,
    pub source: Option<SourceRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    CheckWindow {
        window: Option<String>,
        freeze: Vec<String>,
    },
    CheckRequires {
        environment: String,
    },
    HealthCheck {
        url: String,
        expect: u64,
    },
    CaptureBaseline {
        metrics: Vec<String>,
        mode: String,
    },
    Backup {
        method: String,
        command: Option<String>,
        verify: Option<String>,
        /// What copies a `run` backup's file back (the restore-or-fix-forward gate runs it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restore: Option<String>,
    },
    Checklist {
        items: Vec<ChecklistItem>,
    },
    Approval {
        role: String,
        who: Option<String>,
        on_timeout: Option<String>,
        /// What the gate asks, when it says (`approval after … by ROLE "TEXT"`): the
        /// `{reason}` of its `approval_needed` message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        question: Option<String>,
    },
    Migrate {
        name: String,
        phase: String,
        up: String,
        down: Option<String>,
        reversible: bool,
        /// Runs in one transaction unless a statement cannot (`CONCURRENTLY`).
        transactional: bool,
        batch: Option<u64>,
        /// The key column a batched migration walks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch_key: Option<String>,
        /// The query run once the migration has, and the value it must give.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verify: Option<MigrationVerify>,
        /// How long one statement may run: the migration's, else the environment's, else 10 min.
        #[serde(default = "default_statement_timeout")]
        statement_timeout_ms: u64,
        /// How long a statement may wait for a lock: the same precedence, else 5 s.
        #[serde(default = "default_lock_timeout")]
        lock_timeout_ms: u64,
        irreversible_reason: Option<String>,
    },
    /// Reverts a migration a finished release applied (a rollback plan's step). An
    /// irreversible one cannot be: the run stops there for a person to choose.
    Revert {
        name: String,
        /// The release whose run applied it.
        release: String,
        phase: String,
        /// The `up` SQL as the program has it now: the ledger refuses a revert whose `up`
        /// changed since it was applied.
        up: String,
        down: Option<String>,
        reversible: bool,
        transactional: bool,
        /// The timeouts the migration ran with: its own, else its environment's.
        #[serde(default = "default_statement_timeout")]
        statement_timeout_ms: u64,
        #[serde(default = "default_lock_timeout")]
        lock_timeout_ms: u64,
        irreversible_reason: Option<String>,
    },
    StartStable {
        version: Option<String>,
    },
    CanaryStep {
        weight: f64,
        hold_ms: u64,
    },
    Preview {
        hold_ms: u64,
        smoke: bool,
    },
    Switch {
        approval: Option<String>,
    },
    KeepPrevious {
        duration_ms: u64,
    },
    RollingBatch {
        batch: u64,
        of: u64,
        instances: u64,
        max_unavailable: u64,
        /// The strategy's `health every D timeout D healthy N unhealthy N`; absent without
        /// one (and in plans written before it was added).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        health: Option<BatchHealth>,
    },
    Recreate {
        downtime_ms: u64,
    },
    Smoke {
        command: String,
    },
    Monitor {
        duration_ms: u64,
    },
    Flag {
        flag: String,
        day: u64,
        percent: f64,
        segment: Option<String>,
        /// How long the release's rollback triggers are watched after the flag is set: until
        /// the next scheduled step, or the monitor period after the last flag day. A breach
        /// then turns the flags back.
        #[serde(default)]
        watch_ms: u64,
    },
    FlagRemoval {
        flag: String,
        day: u64,
        /// How long the triggers stay watched after this step, when it falls between flag
        /// days (0 outside them, and in plans written before it was added).
        #[serde(default, skip_serializing_if = "is_zero")]
        watch_ms: u64,
    },
    Report,
    Checkin {
        offset_ms: u64,
        /// As for [`Action::FlagRemoval`].
        #[serde(default, skip_serializing_if = "is_zero")]
        watch_ms: u64,
    },
    Notify {
        message: String,
    },
}

/// How a rolling batch is judged healthy: every `every_ms`, for at most `timeout_ms`; an
/// instance is healthy after `healthy` passing checks in a row and out of service after
/// `unhealthy` failing ones.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct BatchHealth {
    pub every_ms: u64,
    pub timeout_ms: u64,
    pub healthy: u64,
    pub unhealthy: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChecklistItem {
    Check {
        condition: String,
    },
    Run {
        command: String,
        timeout_ms: Option<u64>,
    },
    Confirm {
        text: String,
        by: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Guard {
    pub condition: String,
    /// `require` (must hold at the end of the hold), `trigger` (armed rollback trigger).
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RollbackAction {
    /// Nothing has changed yet: stop and tell.
    Abort,
    Notify {
        event: String,
    },
    TrafficToStable,
    StopNewVersion,
    RevertMigration {
        name: String,
        down: Option<String>,
    },
    RestoreFlag {
        flag: String,
        /// The flag's `initially on`: rolling back turns it on again (100%), not off.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        initially_on: bool,
    },
    VerifyHealth,
    /// Automatic rollback cannot restore: a person chooses.
    ManualGate {
        options: Vec<String>,
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanTrigger {
    pub mode: String,
    pub condition: String,
    pub for_ms: u64,
    pub timeout_ms: Option<u64>,
    pub on_timeout: Option<String>,
    /// Time from the breach starting to the trigger firing, at worst.
    pub detection_ms: u64,
    pub source: Option<SourceRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanMessage {
    /// `at`, `every` or `on`.
    pub when: String,
    /// `T-24h`, `30m`, `rollback`…
    pub spec: String,
    /// Offset from T-0 for `at`.
    pub offset_ms: Option<i64>,
    /// Absolute time for `at` when the plan has a start.
    pub at: Option<String>,
    pub channels: Vec<String>,
    /// The template name, when a named message is used.
    pub template: Option<String>,
    /// The text with the placeholders known at plan time filled in.
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Timeline {
    /// From T-0 to the end of monitoring.
    pub expected_ms: u64,
    /// From a breach starting to the rollback starting, at worst.
    pub worst_case_detection_ms: u64,
    /// From the rollback starting to the previous state restored, at worst.
    pub worst_case_rollback_ms: u64,
    /// Last scheduled post-deploy activity (flag days, check-ins), relative to T-0.
    pub schedule_end_ms: u64,
    pub analysis_interval_ms: u64,
}

/// How the runtime reaches the environment: provider, database, metric source, flag driver.
/// Everything the runtime needs that is not a step, so that a saved plan runs on its own.
/// Secrets appear as `env VAR`, never as values; relative paths are relative to the `.deploy`
/// file's directory.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Target {
    pub provider: Option<TargetProvider>,
    pub database: Option<TargetDatabase>,
    /// Where runs keep their state (`state = postgres env VAR`); the state directory when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TargetState>,
    /// `snapshot`, `pg_dump`, `none` or `run`.
    pub backup: Option<String>,
    pub metrics_source: Option<TargetMetrics>,
    /// The flag driver: `{"kind": "command" | "file", "value"}`.
    pub flags: Option<TargetFlags>,
    /// The environment's (or service's) base URL.
    pub url: Option<String>,
    /// The version that serves traffic before this release: the previous release in the file
    /// (the runtime prefers the last success recorded in the history).
    pub previous_release: Option<String>,
    /// The analysis `no_data` policy: `fail`, `pass` or `pause`, and after how many
    /// evaluations without data.
    pub no_data: Option<String>,
    pub no_data_after: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetProvider {
    Local {
        command: Option<String>,
        replicas: u64,
        /// Synthetic traffic: requests per second and the paths requested in turn.
        traffic: Option<TargetTraffic>,
    },
    Command {
        actions: Vec<TargetCommand>,
    },
    /// Deployments and Services driven through the Kubernetes API.
    Kubernetes(ClusterTarget),
    /// An Argo Rollouts `Rollout` applied and followed through the Kubernetes API.
    ArgoRollouts(ClusterTarget),
}

/// Where a cluster provider deploys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterTarget {
    pub namespace: String,
    /// The Deployment (`kubernetes`) or the Rollout (`argo_rollouts`).
    pub workload: String,
    pub container: String,
    /// The image with its placeholders (`{version}`, `{service}`, `{environment}`).
    pub image: String,
    /// The Service that carries the traffic (the stable or active one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_service: Option<String>,
    /// The total replicas; the cluster's current count when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    /// A Gateway API `HTTPRoute` that splits traffic by exact weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// A kubeconfig path, or `env VAR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// How long one step may take to become ready.
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetTraffic {
    pub per_second: f64,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetCommand {
    /// `deploy`, `weight`, `promote`, `rollback` or `scale`.
    pub action: String,
    pub command: String,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetDatabase {
    Sqlite {
        file: String,
    },
    /// `url` is the inline URL or `env VAR`.
    Postgres {
        url: String,
    },
}

/// A shared state store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetState {
    /// `url` is `env VAR`: the URL holds a password, so the plan never does.
    Postgres { url: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetMetrics {
    /// `prometheus`, `probe` or `command`.
    pub kind: String,
    /// The Prometheus URL (or `env VAR`) or the command.
    pub value: Option<String>,
    pub every_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetFlags {
    pub kind: String,
    pub value: String,
}

/// A migration's `verify`: a query whose one value must equal `expect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationVerify {
    pub query: String,
    pub expect: VerifyValue,
}

/// The value a `verify` query must give: a number, or a text compared as the database prints
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VerifyValue {
    Int(u64),
    Text(String),
}

impl std::fmt::Display for VerifyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyValue::Int(n) => write!(f, "{n}"),
            VerifyValue::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// Migrations' `statement_timeout` when neither they nor their environment set one.
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 600_000;
/// Migrations' `lock_timeout` when neither they nor their environment set one.
pub const DEFAULT_LOCK_TIMEOUT_MS: u64 = 5_000;

fn default_statement_timeout() -> u64 {
    DEFAULT_STATEMENT_TIMEOUT_MS
}

fn default_lock_timeout() -> u64 {
    DEFAULT_LOCK_TIMEOUT_MS
}

/// Whether a duration is zero: a watch that is not there is left out of `plan.json`.
fn is_zero(ms: &u64) -> bool {
    *ms == 0
}
