//! The typed syntax tree of one `.deploy` file.
//!
//! Invariant: every node that came from source text carries the span of exactly that text.
//! Values are already decoded (durations in milliseconds, percentages as numbers, strings
//! unescaped) so later stages never look at raw text, except for mapping offsets inside a
//! string back to the source (see [`StrLit::source_offset`]).

use crate::source::Span;

/// A name with its span.
#[derive(Debug, Clone)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `a.b.c`.
#[derive(Debug, Clone)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

impl Path {
    pub fn to_string_dotted(&self) -> String {
        let names: Vec<&str> = self.segments.iter().map(|s| s.name.as_str()).collect();
        names.join(".")
    }
    /// The last segment (always present: the grammar requires one).
    pub fn last_name(&self) -> &str {
        self.segments.last().map(|s| s.name.as_str()).unwrap_or("")
    }
}

/// A string literal, decoded.
#[derive(Debug, Clone)]
pub struct StrLit {
    pub value: String,
    /// The span of the whole literal, quotes included.
    pub span: Span,
    /// For each decoded byte offset where an escape was replaced: (decoded offset, source
    /// offset). Used to map positions inside the value (an SQL error, a placeholder) back to
    /// the file.
    pub escapes: Vec<(u32, u32)>,
    /// Byte length of the opening quote (1 or 3).
    pub quote_len: u32,
}

impl StrLit {
    /// Maps a byte offset in `value` to an absolute byte offset in the source file.
    pub fn source_offset(&self, decoded: usize) -> usize {
        let content_start = (self.span.start + self.quote_len) as usize;
        let decoded = u32::try_from(decoded).unwrap_or(u32::MAX);
        // The last escape at or before `decoded` tells how far the source ran ahead.
        let (d0, s0) = self
            .escapes
            .iter()
            .rev()
            .find(|(d, _)| *d <= decoded)
            .copied()
            .unwrap_or((0, 0));
        content_start + (s0 + (decoded - d0)) as usize
    }

    /// The span of `value[range]` in the source.
    pub fn sub_span(&self, start: usize, end: usize) -> Span {
        Span::new(
            self.span.file,
            self.source_offset(start),
            self.source_offset(end).max(self.source_offset(start)),
        )
    }
}

/// A value with its span.
#[derive(Debug, Clone, Copy)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// A duration in milliseconds; negative only when written so (an error the checker reports).
pub type Millis = i64;

/// One parsed file.
#[derive(Debug, Clone, Default)]
pub struct Module {
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
    /// The span of every string literal (quotes included), in file order: what lints that
    /// read the text around the AST (secrets, suppressions) skip or scan.
    pub strings: Vec<Span>,
}

/// A `#` comment.
#[derive(Debug, Clone)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Item {
    Import(Import),
    Service(Service),
    Environment(Environment),
    Team(Team),
    Channel(Channel),
    Metric(Metric),
    Message(MessageDef),
    Strategy(NamedStrategy),
    Rollback(NamedRollback),
    Comms(NamedComms),
    Checklist(NamedChecklist),
    Release(Release),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Import(i) => i.span,
            Item::Service(i) => i.span,
            Item::Environment(i) => i.span,
            Item::Team(i) => i.span,
            Item::Channel(i) => i.span,
            Item::Metric(i) => i.span,
            Item::Message(i) => i.span,
            Item::Strategy(i) => i.span,
            Item::Rollback(i) => i.span,
            Item::Comms(i) => i.span,
            Item::Checklist(i) => i.span,
            Item::Release(i) => i.span,
        }
    }
}

#[derive(Debug, Clone)]
pub enum ImportTarget {
    /// `import std.http`
    Std(Path),
    /// `import "./team.deploy" as team`
    File { path: StrLit, alias: Ident },
}

#[derive(Debug, Clone)]
pub struct Import {
    pub target: ImportTarget,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct HealthCheck {
    pub url: StrLit,
    pub expect: Option<Spanned<u64>>,
    pub timeout: Option<Spanned<Millis>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct RunCommand {
    pub command: StrLit,
    pub timeout: Option<Spanned<Millis>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: Ident,
    pub health: Vec<HealthCheck>,
    pub smoke: Vec<RunCommand>,
    pub url: Vec<StrLit>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateAction {
    Abort,
    Continue,
    Rollback,
}

#[derive(Debug, Clone)]
pub struct GateTimeout {
    pub timeout: Spanned<Millis>,
    pub action: Option<Spanned<GateAction>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Approval {
    pub role: Ident,
    pub timeout: Option<GateTimeout>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Provider {
    Local {
        command: Vec<StrLit>,
        replicas: Vec<Spanned<u64>>,
        traffic: Vec<Traffic>,
        span: Span,
    },
    Command {
        actions: Vec<CommandAction>,
        span: Span,
    },
    /// `kubernetes { … }` or `argo_rollouts { … }`: the settings as written; the checker
    /// knows which names each kind takes.
    Cluster {
        kind: ClusterKind,
        settings: Vec<ClusterSetting>,
        span: Span,
    },
}

/// Which cluster provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterKind {
    /// Deployments and Services driven by deployc.
    Kubernetes,
    /// An Argo Rollouts `Rollout` that deployc applies and follows.
    ArgoRollouts,
}

impl ClusterKind {
    pub fn keyword(self) -> &'static str {
        match self {
            ClusterKind::Kubernetes => "kubernetes",
            ClusterKind::ArgoRollouts => "argo_rollouts",
        }
    }
}

/// `NAME = VALUE` inside a cluster provider.
#[derive(Debug, Clone)]
pub struct ClusterSetting {
    pub name: Ident,
    pub value: ClusterValue,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ClusterValue {
    Text(StrLit),
    Env { var: String, span: Span },
    Int(Spanned<u64>),
    Duration(Spanned<Millis>),
}

impl ClusterValue {
    pub fn span(&self) -> Span {
        match self {
            ClusterValue::Text(s) => s.span,
            ClusterValue::Env { span, .. } => *span,
            ClusterValue::Int(n) => n.span,
            ClusterValue::Duration(d) => d.span,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Traffic {
    pub rate: Spanned<Rate>,
    pub paths: Vec<StrLit>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct CommandAction {
    pub action: Ident,
    pub command: StrLit,
    pub timeout: Option<Spanned<Millis>>,
    pub span: Span,
}

/// A value written inline or read from the environment at run time.
#[derive(Debug, Clone)]
pub enum ValueSource {
    Inline(StrLit),
    Env { var: String, span: Span },
}

impl ValueSource {
    pub fn span(&self) -> Span {
        match self {
            ValueSource::Inline(s) => s.span,
            ValueSource::Env { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Database {
    Sqlite { file: StrLit, span: Span },
    Postgres { url: ValueSource, span: Span },
}

/// `state = postgres env VAR`: where runs of this environment keep their state.
#[derive(Debug, Clone)]
pub struct StateStore {
    /// Always `ValueSource::Env`: the grammar takes no inline URL.
    pub url: ValueSource,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Backup {
    PgDump(Span),
    Snapshot(Span),
    None(Span),
    Run {
        command: StrLit,
        verify: Option<StrLit>,
        /// Copies the backup's `{file}` back over the database.
        restore: Option<StrLit>,
        span: Span,
    },
}

impl Backup {
    pub fn span(&self) -> Span {
        match self {
            Backup::PgDump(s) | Backup::Snapshot(s) | Backup::None(s) => *s,
            Backup::Run { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone)]
pub enum MetricsSource {
    Prometheus {
        url: ValueSource,
        timeout: Option<Spanned<Millis>>,
        span: Span,
    },
    Probe {
        every: Option<Spanned<Millis>>,
        span: Span,
    },
    Command {
        command: StrLit,
        timeout: Option<Spanned<Millis>>,
        span: Span,
    },
}

impl MetricsSource {
    pub fn kind(&self) -> SourceKind {
        match self {
            MetricsSource::Prometheus { .. } => SourceKind::Prometheus,
            MetricsSource::Probe { .. } => SourceKind::Probe,
            MetricsSource::Command { .. } => SourceKind::Command,
        }
    }
    pub fn span(&self) -> Span {
        match self {
            MetricsSource::Prometheus { span, .. }
            | MetricsSource::Probe { span, .. }
            | MetricsSource::Command { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub fn index(self) -> u8 {
        self as u8
    }
    pub fn name(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
}

/// Minutes since midnight.
pub type TimeOfDay = u32;

#[derive(Debug, Clone)]
pub struct Window {
    pub first_day: Spanned<Weekday>,
    pub last_day: Spanned<Weekday>,
    pub from: Spanned<TimeOfDay>,
    pub to: Spanned<TimeOfDay>,
    pub time_zone: StrLit,
    pub span: Span,
}

/// A calendar date as written (validated by the checker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i16,
    pub month: i8,
    pub day: i8,
}

#[derive(Debug, Clone)]
pub struct DateRange {
    pub from: Spanned<Date>,
    pub to: Spanned<Date>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum FlagDriver {
    Command(StrLit),
    File(StrLit),
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub name: Ident,
    pub requires: Vec<Ident>,
    pub approval: Vec<Approval>,
    pub provider: Vec<Provider>,
    pub database: Vec<Database>,
    pub state: Vec<StateStore>,
    pub backup: Vec<Backup>,
    pub metrics: Vec<MetricsSource>,
    pub window: Vec<Window>,
    pub freeze: Vec<DateRange>,
    pub flags: Vec<(FlagDriver, Span)>,
    pub url: Vec<StrLit>,
    /// The default `statement_timeout` of this environment's migrations.
    pub statement_timeout: Vec<Spanned<Millis>>,
    /// The default `lock_timeout` of this environment's migrations.
    pub lock_timeout: Vec<Spanned<Millis>>,
    pub production: Option<Span>,
    /// `release { … }`: what every release runs with here unless it gives its own.
    pub release: Vec<ReleaseDefaults>,
    /// Spans of settings given more than once: (setting name, first span, second span).
    pub repeated: Vec<(&'static str, Span, Span)>,
    pub doc: Option<String>,
    pub span: Span,
}

impl Environment {
    /// An environment with no settings yet; the parsers fill it in.
    pub(crate) fn empty(name: Ident, span: Span) -> Environment {
        Environment {
            name,
            requires: Vec::new(),
            approval: Vec::new(),
            provider: Vec::new(),
            database: Vec::new(),
            state: Vec::new(),
            backup: Vec::new(),
            metrics: Vec::new(),
            window: Vec::new(),
            freeze: Vec::new(),
            flags: Vec::new(),
            url: Vec::new(),
            statement_timeout: Vec::new(),
            lock_timeout: Vec::new(),
            production: None,
            release: Vec::new(),
            repeated: Vec::new(),
            doc: None,
            span,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: Ident,
    pub who: StrLit,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Team {
    pub roles: Vec<Role>,
    pub rollback_decision: Vec<(Vec<Ident>, Span)>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ChannelKind {
    Slack {
        room: StrLit,
        webhook: ValueSource,
    },
    Email {
        to: Vec<StrLit>,
        smtp: Option<ValueSource>,
    },
    Webhook {
        url: ValueSource,
    },
    Stdout,
    File {
        path: StrLit,
    },
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub name: Ident,
    pub kind: ChannelKind,
    pub required: bool,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    Percent,
    Duration,
    Rate,
    Count,
    Number,
}

impl MetricKind {
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Percent => "percent",
            MetricKind::Duration => "duration",
            MetricKind::Rate => "rate",
            MetricKind::Count => "count",
            MetricKind::Number => "number",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Prometheus,
    Probe,
    Command,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Prometheus => "prometheus",
            SourceKind::Probe => "probe",
            SourceKind::Command => "command",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Second,
    Minute,
    Hour,
}

impl TimeUnit {
    pub fn millis(self) -> i64 {
        match self {
            TimeUnit::Second => 1_000,
            TimeUnit::Minute => 60_000,
            TimeUnit::Hour => 3_600_000,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Second => "second",
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MetricQuery {
    pub source: Spanned<SourceKind>,
    pub query: StrLit,
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub name: Ident,
    pub kind: Spanned<MetricKind>,
    pub queries: Vec<MetricQuery>,
    pub per: Option<Spanned<TimeUnit>>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct MessageDef {
    pub name: Ident,
    pub text: StrLit,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    Channel,
    Role,
    Metric,
}

impl ParamKind {
    pub fn name(self) -> &'static str {
        match self {
            ParamKind::Channel => "channel",
            ParamKind::Role => "role",
            ParamKind::Metric => "metric",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: Ident,
    pub kind: Spanned<ParamKind>,
}

/// `NAME` or `NAME(arg, …)`.
#[derive(Debug, Clone)]
pub struct BlockUse {
    pub path: Path,
    pub args: Option<Vec<Ident>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct NamedStrategy {
    pub name: Ident,
    pub params: Vec<Param>,
    pub strategy: Strategy,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct NamedRollback {
    pub name: Ident,
    pub params: Vec<Param>,
    pub triggers: Vec<Trigger>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct NamedComms {
    pub name: Ident,
    pub params: Vec<Param>,
    pub entries: Vec<CommsEntry>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct NamedChecklist {
    pub name: Ident,
    pub params: Vec<Param>,
    pub entries: Vec<ChecklistEntry>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone)]
pub struct Release {
    pub version: StrLit,
    pub risk: Vec<Spanned<Risk>>,
    pub strategy: Vec<StrategyRef>,
    pub migrations: Vec<Migration>,
    pub flags: Vec<Flag>,
    pub rollback: Vec<Use<Vec<Trigger>>>,
    pub comms: Vec<Use<Vec<CommsEntry>>>,
    pub monitor: Vec<Monitor>,
    pub checklist: Vec<Use<Vec<ChecklistEntry>>>,
    /// `approval after PLACE by ROLE "TEXT" …`: pause points between deploy steps.
    pub gates: Vec<ReleaseGate>,
    /// `environment NAME { … }`: what one environment does its own way.
    pub environments: Vec<ReleaseEnvironment>,
    pub doc: Option<String>,
    pub span: Span,
}

/// `approval after PLACE by ROLE "TEXT" [timeout D [else ACTION]]`.
#[derive(Debug, Clone)]
pub struct ReleaseGate {
    pub place: Spanned<GatePlace>,
    pub role: Ident,
    /// What the gate asks; its `approval_needed` message's `{reason}`.
    pub text: StrLit,
    pub timeout: Option<GateTimeout>,
    pub span: Span,
}

/// `environment NAME { strategy …, monitor …, checklist …, flag … }` in a release: in that
/// environment these replace the release's own (a flag by its name).
#[derive(Debug, Clone)]
pub struct ReleaseEnvironment {
    pub environment: Ident,
    pub strategy: Vec<StrategyRef>,
    pub monitor: Vec<Monitor>,
    pub checklist: Vec<Use<Vec<ChecklistEntry>>>,
    pub flags: Vec<Flag>,
    pub span: Span,
}

impl ReleaseEnvironment {
    /// Takes the entries the parsers collected into a release-shaped value.
    pub(crate) fn from_entries(environment: Ident, r: Release, span: Span) -> ReleaseEnvironment {
        ReleaseEnvironment {
            environment,
            strategy: r.strategy,
            monitor: r.monitor,
            checklist: r.checklist,
            flags: r.flags,
            span,
        }
    }
}

/// `release { strategy …, monitor …, checklist …, flag … }` in an environment: the defaults
/// of every release there. A release's own `environment NAME { … }` block wins over them, and
/// they win over the release's own settings.
#[derive(Debug, Clone)]
pub struct ReleaseDefaults {
    pub strategy: Vec<StrategyRef>,
    pub monitor: Vec<Monitor>,
    pub checklist: Vec<Use<Vec<ChecklistEntry>>>,
    pub flags: Vec<Flag>,
    /// The `release` keyword, where a finding about the block as a whole points.
    pub keyword: Span,
    pub span: Span,
}

impl ReleaseDefaults {
    /// Takes the entries the parsers collected into a release-shaped value.
    pub(crate) fn from_entries(r: Release, keyword: Span, span: Span) -> ReleaseDefaults {
        ReleaseDefaults {
            strategy: r.strategy,
            monitor: r.monitor,
            checklist: r.checklist,
            flags: r.flags,
            keyword,
            span,
        }
    }
}

/// The deploy step a gate follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatePlace {
    /// A canary's step N (from 1).
    Step(u64),
    /// A rolling update's batch N (from 1).
    Batch(u64),
    Preview,
    Switch,
    KeepPrevious,
    Recreate,
    Smoke,
}

impl GatePlace {
    /// As written: `step 2`, `smoke`.
    pub fn describe(self) -> String {
        match self {
            GatePlace::Step(n) => format!("step {n}"),
            GatePlace::Batch(n) => format!("batch {n}"),
            GatePlace::Preview => "preview".into(),
            GatePlace::Switch => "switch".into(),
            GatePlace::KeepPrevious => "keep_previous".into(),
            GatePlace::Recreate => "recreate".into(),
            GatePlace::Smoke => "smoke".into(),
        }
    }
}

impl Release {
    /// A release with no entries yet; the parsers fill it in.
    pub(crate) fn empty(version: StrLit, span: Span) -> Release {
        Release {
            version,
            risk: Vec::new(),
            strategy: Vec::new(),
            migrations: Vec::new(),
            flags: Vec::new(),
            rollback: Vec::new(),
            comms: Vec::new(),
            monitor: Vec::new(),
            checklist: Vec::new(),
            gates: Vec::new(),
            environments: Vec::new(),
            doc: None,
            span,
        }
    }
}

/// A block written inline or named.
#[derive(Debug, Clone)]
pub enum Use<T> {
    Inline { body: T, span: Span },
    Named(BlockUse),
}

impl<T> Use<T> {
    pub fn span(&self) -> Span {
        match self {
            Use::Inline { span, .. } => *span,
            Use::Named(u) => u.span,
        }
    }
}

#[derive(Debug, Clone)]
pub enum StrategyRef {
    Inline(Strategy),
    Named(BlockUse),
}

impl StrategyRef {
    pub fn span(&self) -> Span {
        match self {
            StrategyRef::Inline(s) => s.span(),
            StrategyRef::Named(u) => u.span,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoDataAction {
    Fail,
    Pass,
    Pause,
}

#[derive(Debug, Clone)]
pub struct NoData {
    pub action: Spanned<NoDataAction>,
    pub after: Option<Spanned<u64>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub every: Option<Spanned<Millis>>,
    pub no_data: Option<NoData>,
    /// Span of the `analysis` clause, if written.
    pub span: Option<Span>,
}

#[derive(Debug, Clone)]
pub struct CanaryStep {
    pub weight: Spanned<f64>,
    pub hold: Option<Spanned<Millis>>,
    pub require: Option<Condition>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Preview {
    pub hold: Option<Spanned<Millis>>,
    pub require: Option<Condition>,
    pub smoke: bool,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Switch {
    pub approval: Option<Approval>,
    pub span: Span,
}

/// `N` or `P%`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CountOrPercent {
    Count(u64),
    Percent(f64),
}

#[derive(Debug, Clone)]
pub struct RollingHealth {
    pub every: Spanned<Millis>,
    pub timeout: Spanned<Millis>,
    pub healthy: Option<Spanned<u64>>,
    pub unhealthy: Option<Spanned<u64>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Strategy {
    Canary {
        analysis: Analysis,
        steps: Vec<CanaryStep>,
        span: Span,
    },
    BlueGreen {
        analysis: Analysis,
        preview: Vec<Preview>,
        switch: Vec<Switch>,
        keep_previous: Vec<Spanned<Millis>>,
        span: Span,
    },
    Rolling {
        analysis: Analysis,
        batch: Vec<Spanned<CountOrPercent>>,
        max_unavailable: Vec<Spanned<CountOrPercent>>,
        health: Vec<RollingHealth>,
        span: Span,
    },
    Recreate {
        downtime: Vec<Spanned<Millis>>,
        span: Span,
    },
    FlagsOnly {
        span: Span,
    },
}

impl Strategy {
    pub fn span(&self) -> Span {
        match self {
            Strategy::Canary { span, .. }
            | Strategy::BlueGreen { span, .. }
            | Strategy::Rolling { span, .. }
            | Strategy::Recreate { span, .. }
            | Strategy::FlagsOnly { span } => *span,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Canary { .. } => "canary",
            Strategy::BlueGreen { .. } => "blue_green",
            Strategy::Rolling { .. } => "rolling",
            Strategy::Recreate { .. } => "recreate",
            Strategy::FlagsOnly { .. } => "flags_only",
        }
    }
    /// Whether old and new versions serve traffic side by side while it runs.
    pub fn is_progressive(&self) -> bool {
        matches!(
            self,
            Strategy::Canary { .. } | Strategy::BlueGreen { .. } | Strategy::Rolling { .. }
        )
    }
    pub fn analysis(&self) -> Option<&Analysis> {
        match self {
            Strategy::Canary { analysis, .. }
            | Strategy::BlueGreen { analysis, .. }
            | Strategy::Rolling { analysis, .. } => Some(analysis),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Expand,
    Data,
    Index,
    Contract,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Expand => "expand",
            Phase::Data => "data",
            Phase::Index => "index",
            Phase::Contract => "contract",
        }
    }
}

#[derive(Debug, Clone)]
pub enum SqlSource {
    Inline(StrLit),
    File(StrLit),
}

impl SqlSource {
    pub fn span(&self) -> Span {
        match self {
            SqlSource::Inline(s) | SqlSource::File(s) => s.span,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Down {
    Sql(SqlSource),
    Noop(StrLit),
}

#[derive(Debug, Clone)]
pub struct Migration {
    pub phase: Spanned<Phase>,
    pub name: Ident,
    pub after: Vec<Ident>,
    pub of: Vec<Ident>,
    pub up: Vec<(SqlSource, Span)>,
    pub down: Vec<(Down, Span)>,
    pub batch: Vec<Spanned<u64>>,
    /// The key column a batched migration walks (`batch N by COLUMN`).
    pub batch_key: Option<Ident>,
    pub verify: Vec<(Verify, Span)>,
    pub statement_timeout: Vec<Spanned<Millis>>,
    pub lock_timeout: Vec<Spanned<Millis>>,
    pub irreversible: Vec<(StrLit, Span)>,
    pub doc: Option<String>,
    pub span: Span,
}

impl Migration {
    /// The SQL of its `down`s (a `noop` has none).
    pub fn sql_downs(&self) -> impl Iterator<Item = &SqlSource> {
        self.down.iter().filter_map(|(d, _)| match d {
            Down::Sql(s) => Some(s),
            Down::Noop(_) => None,
        })
    }

    /// Every SQL source it holds: its `up`s, its SQL `down`s and its `verify` queries. What
    /// reads, parses or checks a migration's SQL walks this one list, so that no kind of
    /// source is left out of one stage and expected by the next.
    pub fn sql_sources(&self) -> impl Iterator<Item = &SqlSource> {
        self.up
            .iter()
            .map(|(s, _)| s)
            .chain(self.sql_downs())
            .chain(self.verify.iter().map(|(v, _)| &v.query))
    }
}

/// `verify = sql "query" == VALUE`.
#[derive(Debug, Clone)]
pub struct Verify {
    pub query: SqlSource,
    pub expect: Spanned<Expected>,
}

/// The value a `verify` query must give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Int(u64),
    Text(String),
}

#[derive(Debug, Clone)]
pub struct FlagDay {
    pub day: Spanned<u64>,
    pub percent: Spanned<f64>,
    pub segment: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Flag {
    pub name: Ident,
    pub initially: Vec<Spanned<bool>>,
    pub days: Vec<FlagDay>,
    pub remove_by: Vec<Spanned<u64>>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerKind {
    Auto,
    Manual,
}

#[derive(Debug, Clone)]
pub struct Trigger {
    pub kind: Spanned<TriggerKind>,
    pub condition: Condition,
    pub hold: Option<Spanned<Millis>>,
    pub timeout: Option<GateTimeout>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CompareOp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
    /// Whether `lhs OP rhs` holds.
    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            CompareOp::Lt => lhs < rhs,
            CompareOp::Le => lhs <= rhs,
            CompareOp::Gt => lhs > rhs,
            CompareOp::Ge => lhs >= rhs,
        }
    }
}

/// A per-time rate such as `20/s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub amount: f64,
    pub per: TimeUnit,
}

/// One side of a comparison.
#[derive(Debug, Clone)]
pub enum Operand {
    Name(Path),
    Baseline(Span),
    Duration(Spanned<Millis>),
    Percent(Spanned<f64>),
    Rate(Spanned<Rate>),
    Number(Spanned<f64>),
    /// `2x baseline`
    TimesBaseline(Spanned<f64>),
    /// `80% of baseline`
    PercentOfBaseline(Spanned<f64>),
}

impl Operand {
    pub fn span(&self) -> Span {
        match self {
            Operand::Name(p) => p.span,
            Operand::Baseline(s) => *s,
            Operand::Duration(v) => v.span,
            Operand::Percent(v) | Operand::Number(v) => v.span,
            Operand::TimesBaseline(v) | Operand::PercentOfBaseline(v) => v.span,
            Operand::Rate(v) => v.span,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Condition {
    Compare {
        lhs: Operand,
        op: Spanned<CompareOp>,
        rhs: Operand,
        span: Span,
    },
    And(Vec<Condition>, Span),
    Or(Vec<Condition>, Span),
}

impl Condition {
    pub fn span(&self) -> Span {
        match self {
            Condition::Compare { span, .. } | Condition::And(_, span) | Condition::Or(_, span) => {
                *span
            }
        }
    }
    /// Every comparison in the condition, left to right.
    pub fn comparisons(&self) -> Vec<&Condition> {
        match self {
            Condition::Compare { .. } => vec![self],
            Condition::And(parts, _) | Condition::Or(parts, _) => {
                parts.iter().flat_map(|p| p.comparisons()).collect()
            }
        }
    }
}

#[derive(Debug, Clone)]
pub enum CommsWhen {
    At(Spanned<Millis>),
    Every(Spanned<Millis>),
    On(Ident),
}

#[derive(Debug, Clone)]
pub enum MessageRef {
    Text(StrLit),
    Named(Path),
}

impl MessageRef {
    pub fn span(&self) -> Span {
        match self {
            MessageRef::Text(s) => s.span,
            MessageRef::Named(p) => p.span,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CommsEntry {
    pub when: CommsWhen,
    pub channels: Vec<Ident>,
    pub message: MessageRef,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Monitor {
    pub duration: Spanned<Millis>,
    pub checkins: Vec<Spanned<Millis>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ChecklistEntry {
    Check(Condition, Span),
    Run(RunCommand),
    Confirm { text: StrLit, by: Ident, span: Span },
}
