//! The checker: names, types and units, ranges, placeholders, release order, the migration
//! DAG and SQL syntax. Every problem is an [`Error`] (E2xx–E4xx); checking never stops at the
//! first one.
//!
//! Invariant: when [`check`] returns no errors, lowering may assume that every name resolves
//! to the right kind, every condition compares a metric with a value of its kind, every
//! release has exactly one strategy, and the migration graph of every release is acyclic.

mod availability;
pub mod cluster;
mod conditions;
pub(crate) mod gates;
mod migrations;
pub mod placeholders;

use std::collections::HashMap;

use crate::diagnostics::errors::Error;
use crate::resolve::{Def, Kind, ModuleId, Names, Session, suggest};
use crate::source::Span;
use crate::syntax::ast::*;
use placeholders::{Context, ProviderAction};

pub use conditions::value_kind_name;
pub use migrations::{DEPLOY_RANK, LoadedSql, MigrationGraph, load_sql_files, release_graph};

/// Checks a program. SQL files must have been loaded with [`load_sql_files`] first.
pub fn check(session: &Session, names: &Names<'_>) -> CheckOutput {
    let texts = migrations::sql_texts(session, names);
    let index: crate::source::SpanMap<usize> = texts
        .iter()
        .enumerate()
        .map(|(i, (span, _))| (*span, i))
        .collect();
    // The SQL is parsed on the other cores while this thread checks the rest of the program,
    // taking each text's parse as it reaches its migration.
    crate::parallel::ahead(
        &texts,
        |(_, text)| migrations::prepare(text),
        |ahead| {
            let take = |span: &Span| index.get(span).and_then(|i| ahead.take(*i));
            check_with(session, names, &take)
        },
    )
}

fn check_with(
    session: &Session,
    names: &Names<'_>,
    prepared: &dyn Fn(&Span) -> Option<migrations::Prepared>,
) -> CheckOutput {
    let mut c = Checker {
        names,
        errors: Vec::new(),
        sql: crate::source::SpanMap::default(),
        prepared,
    };
    for m in &names.program.modules {
        if let Some(loaded) = session.module(*m) {
            c.errors.extend(loaded.errors.iter().cloned());
        }
    }
    c.errors.extend(names.program.errors.iter().cloned());
    c.duplicates();
    c.service();
    for (m, item) in names.all_items() {
        c.item(m, item);
    }
    c.releases();
    CheckOutput {
        errors: c.errors,
        sql: c.sql,
    }
}

/// What checking produced: the errors, and the SQL text of every migration (files read).
pub struct CheckOutput {
    pub errors: Vec<Error>,
    /// SQL by the span of its `up`/`down` source.
    pub sql: crate::source::SpanMap<LoadedSql>,
}

/// The scope a body is checked in: its module and the parameters of its named block.
#[derive(Clone, Copy)]
struct Scope<'a> {
    module: ModuleId,
    params: &'a [Param],
}

struct Checker<'a, 'n> {
    names: &'n Names<'a>,
    errors: Vec<Error>,
    sql: crate::source::SpanMap<LoadedSql>,
    /// Each SQL text parsed (and modelled) ahead of the checker, taken out as it is checked.
    prepared: &'n dyn Fn(&Span) -> Option<migrations::Prepared>,
}

impl<'a> Checker<'a, '_> {
    fn err(&mut self, e: Error) {
        self.errors.push(e);
    }

    /// Resolves `path` to a definition of `kind`, reporting unknown names and wrong kinds.
    fn resolve(&mut self, scope: Scope<'a>, path: &Path, kind: Kind) -> Option<Def<'a>> {
        match self
            .names
            .lookup_kind(scope.module, scope.params, path, Some(kind))
        {
            Some(d) if d.kind() == kind => Some(d),
            Some(d) => {
                self.err(Error::WrongKind {
                    span: path.span,
                    name: path.to_string_dotted(),
                    expected: kind.name(),
                    found: d.kind().name(),
                    definition: Some(d.span()).filter(|s| !s.is_synthetic()),
                });
                None
            }
            None => {
                let visible = self.names.visible_names(scope.module, scope.params, kind);
                let name = path.to_string_dotted();
                self.err(Error::UnknownName {
                    span: path.span,
                    kind: kind.name(),
                    suggestion: suggest(&name, visible.iter().map(|s| s.as_str())),
                    name,
                });
                None
            }
        }
    }

    fn resolve_ident(&mut self, scope: Scope<'a>, ident: &Ident, kind: Kind) -> Option<Def<'a>> {
        let path = Path {
            segments: vec![ident.clone()],
            span: ident.span,
        };
        self.resolve(scope, &path, kind)
    }

    fn duration(&mut self, d: &Spanned<Millis>, positive: bool, what: &'static str) {
        if d.value < 0 {
            self.err(Error::NegativeDuration { span: d.span });
        } else if positive && d.value == 0 {
            self.err(Error::MustBePositive { span: d.span, what });
        }
    }

    fn percent(&mut self, p: &Spanned<f64>, what: &'static str) {
        if !(0.0..=100.0).contains(&p.value) {
            self.err(Error::PercentOutOfRange {
                span: p.span,
                value: p.value,
                what,
            });
        }
    }

    fn repeated<T>(&mut self, items: &[T], setting: &str, span: impl Fn(&T) -> Span) {
        if let (Some(first), Some(second)) = (items.first(), items.get(1)) {
            self.err(Error::RepeatedSetting {
                setting: setting.to_string(),
                first: span(first),
                second: span(second),
            });
        }
    }

    fn placeholders(&mut self, lit: &StrLit, ctx: Context, scope: Scope<'a>) {
        let names = self.names;
        let extra = || {
            if ctx == Context::Message {
                metric_names(names, scope)
            } else {
                Vec::new()
            }
        };
        placeholders::check(lit, ctx, &extra, &mut self.errors);
    }

    // -----------------------------------------------------------------------------------------
    // Program-wide

    fn duplicates(&mut self) {
        // Top-level names, per module and kind.
        for m in self.names.program.modules.clone() {
            let mut seen: HashMap<(&'static str, String), Span> = HashMap::new();
            let items: Vec<&Item> = self
                .names
                .session
                .module(m)
                .and_then(|l| l.ast.as_ref())
                .map(|a| a.items.iter().collect())
                .unwrap_or_default();
            for item in items {
                let (kind, ident) = match item {
                    Item::Channel(c) => ("channel", &c.name),
                    Item::Metric(x) => ("metric", &x.name),
                    Item::Message(x) => ("message template", &x.name),
                    Item::Strategy(x) => ("strategy", &x.name),
                    Item::Rollback(x) => ("rollback block", &x.name),
                    Item::Comms(x) => ("comms block", &x.name),
                    Item::Checklist(x) => ("checklist", &x.name),
                    Item::Environment(x) => ("environment", &x.name),
                    _ => continue,
                };
                // Each kind has its own namespace (lookups ask for a kind), so `rollback
                // standard` and `comms standard` may coexist.
                let key = (kind, ident.name.clone());
                if let Some(first) = seen.get(&key) {
                    self.err(Error::Duplicate {
                        kind,
                        name: ident.name.clone(),
                        first: *first,
                        second: ident.span,
                    });
                } else {
                    seen.insert(key, ident.span);
                }
            }
        }
        // Teams and roles, program-wide.
        let teams: Vec<&Team> = self
            .names
            .user_items()
            .filter_map(|(_, i)| match i {
                Item::Team(t) => Some(t),
                _ => None,
            })
            .collect();
        if let (Some(a), Some(b)) = (teams.first(), teams.get(1)) {
            self.err(Error::Duplicate {
                kind: "team",
                name: "team".into(),
                first: a.span,
                second: b.span,
            });
        }
        let mut roles: HashMap<&str, Span> = HashMap::new();
        for t in &teams {
            for r in &t.roles {
                if let Some(first) = roles.get(r.name.name.as_str()) {
                    self.err(Error::Duplicate {
                        kind: "role",
                        name: r.name.name.clone(),
                        first: *first,
                        second: r.name.span,
                    });
                } else {
                    roles.insert(&r.name.name, r.name.span);
                }
            }
            self.repeated(&t.rollback_decision, "rollback_decision", |d| d.1);
        }
        // Migrations, program-wide: `of` names them across releases.
        let mut migrations: HashMap<&str, Span> = HashMap::new();
        for (_, r) in self.names.releases() {
            for m in &r.migrations {
                if let Some(first) = migrations.get(m.name.name.as_str()) {
                    self.err(Error::Duplicate {
                        kind: "migration",
                        name: m.name.name.clone(),
                        first: *first,
                        second: m.name.span,
                    });
                } else {
                    migrations.insert(&m.name.name, m.name.span);
                }
            }
        }
    }

    fn service(&mut self) {
        let services: Vec<&Service> = self
            .names
            .user_items()
            .filter_map(|(_, i)| match i {
                Item::Service(s) => Some(s),
                _ => None,
            })
            .collect();
        if let (Some(a), Some(b)) = (services.first(), services.get(1)) {
            self.err(Error::Duplicate {
                kind: "service",
                name: b.name.name.clone(),
                first: a.name.span,
                second: b.name.span,
            });
        }
        if services.is_empty()
            && let Some((_, r)) = self.names.releases().next()
        {
            self.err(Error::NoService {
                span: r.version.span,
            });
        }
    }

    // -----------------------------------------------------------------------------------------
    // Items

    fn item(&mut self, m: ModuleId, item: &'a Item) {
        let scope = Scope {
            module: m,
            params: &[],
        };
        match item {
            Item::Import(_) => {}
            Item::Service(s) => self.service_item(s, scope),
            Item::Environment(e) => self.environment(e, scope),
            Item::Team(t) => {
                for (list, _) in &t.rollback_decision {
                    for r in list {
                        self.resolve_ident(scope, r, Kind::Role);
                    }
                }
            }
            Item::Channel(_) => {}
            Item::Metric(x) => self.metric(x),
            Item::Message(x) => self.placeholders(&x.text, Context::Message, scope),
            Item::Strategy(x) => {
                let scope = Scope {
                    module: m,
                    params: &x.params,
                };
                self.strategy(&x.strategy, scope);
            }
            Item::Rollback(x) => {
                let scope = Scope {
                    module: m,
                    params: &x.params,
                };
                self.triggers(&x.triggers, scope);
            }
            Item::Comms(x) => {
                let scope = Scope {
                    module: m,
                    params: &x.params,
                };
                self.comms(&x.entries, scope);
            }
            Item::Checklist(x) => {
                let scope = Scope {
                    module: m,
                    params: &x.params,
                };
                self.checklist(&x.entries, scope);
            }
            Item::Release(r) => self.release(r, scope),
        }
    }

    fn service_item(&mut self, s: &Service, scope: Scope<'a>) {
        for h in &s.health {
            self.placeholders(&h.url, Context::Health, scope);
            if let Some(t) = &h.timeout {
                self.duration(t, true, "a timeout");
            }
        }
        for r in &s.smoke {
            self.run_command(r, Context::Smoke, scope);
        }
        self.repeated(&s.health, "health", |h| h.span);
        self.repeated(&s.smoke, "smoke", |h| h.span);
        self.repeated(&s.url, "url", |h| h.span);
    }

    fn run_command(&mut self, r: &RunCommand, ctx: Context, scope: Scope<'a>) {
        self.placeholders(&r.command, ctx, scope);
        if let Some(t) = &r.timeout {
            self.duration(t, true, "a timeout");
        }
    }

    fn gate_timeout(&mut self, t: &Option<GateTimeout>) {
        if let Some(t) = t {
            self.duration(&t.timeout, true, "a timeout");
        }
    }

    fn environment(&mut self, e: &'a Environment, scope: Scope<'a>) {
        for (setting, first, second) in &e.repeated {
            self.err(Error::RepeatedSetting {
                setting: (*setting).to_string(),
                first: *first,
                second: *second,
            });
        }
        for r in &e.requires {
            self.resolve_ident(scope, r, Kind::Environment);
        }
        for a in &e.approval {
            self.resolve_ident(scope, &a.role, Kind::Role);
            self.gate_timeout(&a.timeout);
        }
        if e.provider.is_empty() {
            self.err(Error::MissingSetting {
                span: e.name.span,
                item: format!("environment `{}`", e.name.name),
                setting: "provider",
                example: "provider = local { command = \"./app --port {port}\" }",
            });
        }
        for p in &e.provider {
            match p {
                Provider::Local {
                    command,
                    replicas,
                    traffic,
                    span,
                } => {
                    if command.is_empty() {
                        self.err(Error::MissingSetting {
                            span: *span,
                            item: "the local provider".into(),
                            setting: "command",
                            example: "command = \"./app --port {port} --version {version}\"",
                        });
                    }
                    for c in command {
                        self.placeholders(c, Context::LocalCommand, scope);
                    }
                    self.repeated(command, "command", |c| c.span);
                    self.repeated(replicas, "replicas", |c| c.span);
                    self.repeated(traffic, "traffic", |c| c.span);
                    for r in replicas {
                        if r.value == 0 {
                            self.err(Error::MustBePositive {
                                span: r.span,
                                what: "`replicas`",
                            });
                        }
                    }
                    for t in traffic {
                        if t.rate.value.amount <= 0.0 {
                            self.err(Error::MustBePositive {
                                span: t.rate.span,
                                what: "the traffic rate",
                            });
                        }
                    }
                }
                Provider::Cluster {
                    kind,
                    settings,
                    span,
                } => {
                    cluster::check_settings(*kind, settings, *span, &mut self.errors);
                    for s in settings {
                        if let (ClusterValue::Text(t), "image") = (&s.value, s.name.name.as_str()) {
                            self.placeholders(t, Context::Image, scope);
                        }
                    }
                }
                Provider::Command { actions, .. } => {
                    let mut seen: HashMap<&str, Span> = HashMap::new();
                    for a in actions {
                        match ProviderAction::from_name(&a.action.name) {
                            Some(action) => {
                                self.placeholders(
                                    &a.command,
                                    Context::ProviderAction(action),
                                    scope,
                                );
                            }
                            None => self.err(Error::UnknownSetting {
                                span: a.action.span,
                                what: "provider action",
                                name: a.action.name.clone(),
                                valid: ProviderAction::NAMES.to_vec(),
                                suggestion: suggest(
                                    &a.action.name,
                                    ProviderAction::NAMES.iter().copied(),
                                ),
                            }),
                        }
                        if let Some(t) = &a.timeout {
                            self.duration(t, true, "a timeout");
                        }
                        if let Some(first) = seen.get(a.action.name.as_str()) {
                            self.err(Error::RepeatedSetting {
                                setting: a.action.name.clone(),
                                first: *first,
                                second: a.span,
                            });
                        } else {
                            seen.insert(&a.action.name, a.span);
                        }
                    }
                }
            }
        }
        for b in &e.backup {
            if let Backup::Run {
                command,
                verify,
                restore,
                span,
            } = b
            {
                self.placeholders(command, Context::BackupCommand, scope);
                for v in verify.iter().chain(restore) {
                    self.placeholders(v, Context::BackupCommand, scope);
                }
                // The restore-or-fix-forward gate offers to restore every backup it took; a
                // command's backup is a file only its own tool can put back.
                if restore.is_none() {
                    // From `run` to its last string: the setting's own span runs on over
                    // the blank space after it.
                    let last = verify.as_ref().unwrap_or(command);
                    self.err(Error::BackupWithoutRestore {
                        span: Span::new(span.file, span.start as usize, last.span.end as usize),
                    });
                }
            }
        }
        for t in &e.statement_timeout {
            self.duration(t, true, "`statement_timeout`");
        }
        for t in &e.lock_timeout {
            self.duration(t, true, "`lock_timeout`");
        }
        for m in &e.metrics {
            match m {
                MetricsSource::Prometheus { timeout, .. }
                | MetricsSource::Command { timeout, .. } => {
                    if let Some(t) = timeout {
                        self.duration(t, true, "a timeout");
                    }
                }
                MetricsSource::Probe { every, .. } => {
                    if let Some(t) = every {
                        self.duration(t, true, "the probe interval");
                    }
                }
            }
            if let MetricsSource::Command { command, .. } = m {
                self.placeholders(command, Context::MetricCommand, scope);
            }
        }
        for w in &e.window {
            self.window(w);
        }
        for f in &e.freeze {
            self.date_range(f);
        }
        for (driver, _) in &e.flags {
            if let FlagDriver::Command(c) = driver {
                self.placeholders(c, Context::FlagCommand, scope);
            }
        }
        for d in &e.release {
            self.own_settings(&d.strategy, &d.monitor, &d.checklist, &d.flags, scope);
        }
    }

    /// The entries of a block that gives an environment its own settings: a release's
    /// `environment NAME { … }` or an environment's `release { … }` defaults. Named blocks
    /// resolve where the block is written.
    fn own_settings(
        &mut self,
        strategy: &'a [StrategyRef],
        monitor: &[Monitor],
        checklist: &'a [Use<Vec<ChecklistEntry>>],
        flags: &[Flag],
        scope: Scope<'a>,
    ) {
        self.repeated(strategy, "strategy", |x| x.span());
        self.repeated(monitor, "monitor", |x| x.span);
        self.repeated(checklist, "checklist", |x| x.span());
        for s in strategy {
            match s {
                StrategyRef::Inline(s) => self.strategy(s, scope),
                StrategyRef::Named(u) => self.block_use(u, scope, Kind::Strategy),
            }
        }
        for c in checklist {
            match c {
                Use::Inline { body, .. } => self.checklist(body, scope),
                Use::Named(u) => self.block_use(u, scope, Kind::Checklist),
            }
        }
        for m in monitor {
            self.duration(&m.duration, false, "the monitoring period");
            for c in &m.checkins {
                self.duration(c, true, "a check-in offset");
            }
        }
        for f in flags {
            self.flag(f);
        }
    }

    fn window(&mut self, w: &Window) {
        if w.last_day.value < w.first_day.value {
            self.err(Error::RangeEndBeforeStart {
                span: w.first_day.span.to(w.last_day.span),
                what: "the weekday range",
            });
        }
        if w.to.value <= w.from.value {
            self.err(Error::RangeEndBeforeStart {
                span: w.from.span.to(w.to.span),
                what: "the time range",
            });
        }
        let tz = &w.time_zone.value;
        if jiff::tz::TimeZone::get(tz).is_err() {
            let available: Vec<String> =
                jiff::tz::db().available().map(|n| n.to_string()).collect();
            self.err(Error::InvalidTimeZone {
                span: w.time_zone.span,
                name: tz.clone(),
                suggestion: suggest(tz, available.iter().map(|s| s.as_str())),
            });
        }
    }

    fn date(&mut self, d: &Spanned<Date>) -> bool {
        let ok = jiff::civil::Date::new(d.value.year, d.value.month, d.value.day).is_ok();
        if !ok {
            self.err(Error::InvalidDate { span: d.span });
        }
        ok
    }

    fn date_range(&mut self, r: &DateRange) {
        let a = self.date(&r.from);
        let b = r.to.span == r.from.span || self.date(&r.to);
        if a && b && r.to.value < r.from.value {
            self.err(Error::RangeEndBeforeStart {
                span: r.span,
                what: "the freeze period",
            });
        }
    }

    fn metric(&mut self, m: &Metric) {
        if m.queries.is_empty() {
            self.err(Error::MissingSetting {
                span: m.name.span,
                item: format!("metric `{}`", m.name.name),
                setting: "prometheus",
                example: "prometheus = \"…query…\"",
            });
        }
        let mut seen: HashMap<SourceKind, Span> = HashMap::new();
        for q in &m.queries {
            if let Some(first) = seen.get(&q.source.value) {
                self.err(Error::RepeatedSetting {
                    setting: q.source.value.name().to_string(),
                    first: *first,
                    second: q.source.span,
                });
            }
            seen.insert(q.source.value, q.source.span);
            match q.source.value {
                SourceKind::Prometheus => placeholders::check(
                    &q.query,
                    Context::PrometheusQuery,
                    &Vec::new,
                    &mut self.errors,
                ),
                SourceKind::Command => placeholders::check(
                    &q.query,
                    Context::MetricCommand,
                    &Vec::new,
                    &mut self.errors,
                ),
                SourceKind::Probe => {
                    if !PROBE_MEASUREMENTS.contains(&q.query.value.as_str()) {
                        self.err(Error::UnknownSetting {
                            span: q.query.span,
                            what: "probe measurement",
                            name: q.query.value.clone(),
                            valid: PROBE_MEASUREMENTS.to_vec(),
                            suggestion: suggest(&q.query.value, PROBE_MEASUREMENTS.iter().copied()),
                        });
                    }
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Releases and their blocks

    fn release(&mut self, r: &'a Release, scope: Scope<'a>) {
        if let Err(e) = semver::Version::parse(&r.version.value) {
            self.err(Error::BadSemver {
                span: r.version.span,
                version: r.version.value.clone(),
                reason: e.to_string(),
            });
        }
        self.repeated(&r.risk, "risk", |x| x.span);
        self.repeated(&r.strategy, "strategy", |x| x.span());
        self.repeated(&r.rollback, "rollback", |x| x.span());
        self.repeated(&r.comms, "comms", |x| x.span());
        self.repeated(&r.monitor, "monitor", |x| x.span);
        self.repeated(&r.checklist, "checklist", |x| x.span());
        if r.strategy.is_empty() {
            self.err(Error::MissingSetting {
                span: r.version.span,
                item: format!("release `{}`", r.version.value),
                setting: "strategy",
                example: "strategy = canary { step 10% for 10m, step 100% }",
            });
        }
        for s in &r.strategy {
            match s {
                StrategyRef::Inline(s) => self.strategy(s, scope),
                StrategyRef::Named(u) => {
                    self.block_use(u, scope, Kind::Strategy);
                }
            }
        }
        for rb in &r.rollback {
            match rb {
                Use::Inline { body, .. } => self.triggers(body, scope),
                Use::Named(u) => self.block_use(u, scope, Kind::Rollback),
            }
        }
        for c in &r.comms {
            match c {
                Use::Inline { body, .. } => self.comms(body, scope),
                Use::Named(u) => self.block_use(u, scope, Kind::Comms),
            }
        }
        for c in &r.checklist {
            match c {
                Use::Inline { body, .. } => self.checklist(body, scope),
                Use::Named(u) => self.block_use(u, scope, Kind::Checklist),
            }
        }
        for g in &r.gates {
            self.resolve_ident(scope, &g.role, Kind::Role);
            self.gate_timeout(&g.timeout);
        }
        for (i, o) in r.environments.iter().enumerate() {
            self.resolve_ident(scope, &o.environment, Kind::Environment);
            // One block per environment: a second one would silently lose to the first.
            let same: Vec<&ReleaseEnvironment> = r
                .environments
                .iter()
                .take(i + 1)
                .filter(|p| p.environment.name == o.environment.name)
                .collect();
            if same.len() == 2 {
                self.repeated(&same, "environment", |x| x.environment.span);
            }
            self.own_settings(&o.strategy, &o.monitor, &o.checklist, &o.flags, scope);
        }
        for m in &r.monitor {
            self.duration(&m.duration, false, "the monitoring period");
            for c in &m.checkins {
                self.duration(c, true, "a check-in offset");
            }
        }
        for f in &r.flags {
            self.flag(f);
        }
        for m in &r.migrations {
            self.migration(m);
        }
    }

    /// Checks a use of a named block: it exists, has the right kind, and its arguments fit.
    fn block_use(&mut self, u: &BlockUse, scope: Scope<'a>, kind: Kind) {
        let Some(def) = self.resolve(scope, &u.path, kind) else {
            return;
        };
        let params: &[Param] = match def {
            Def::Strategy(d) => &d.params,
            Def::Rollback(d) => &d.params,
            Def::Comms(d) => &d.params,
            Def::Checklist(d) => &d.params,
            _ => &[],
        };
        let args = u.args.as_deref().unwrap_or(&[]);
        if args.len() != params.len() {
            self.err(Error::ArgumentCount {
                span: u.span,
                name: u.path.to_string_dotted(),
                expected: params.len(),
                found: args.len(),
                definition: def.span(),
            });
            return;
        }
        for (arg, param) in args.iter().zip(params) {
            let kind = match param.kind.value {
                ParamKind::Channel => Kind::Channel,
                ParamKind::Role => Kind::Role,
                ParamKind::Metric => Kind::Metric,
            };
            self.resolve_ident(scope, arg, kind);
        }
    }

    fn analysis(&mut self, a: &Analysis) {
        if let Some(e) = &a.every {
            self.duration(e, true, "the analysis interval");
        }
        if let Some(nd) = &a.no_data
            && let Some(after) = &nd.after
            && after.value == 0
        {
            self.err(Error::MustBePositive {
                span: after.span,
                what: "the number of missing samples",
            });
        }
    }

    fn strategy(&mut self, s: &Strategy, scope: Scope<'a>) {
        if let Some(a) = s.analysis() {
            self.analysis(a);
        }
        match s {
            Strategy::Canary { steps, span, .. } => {
                if steps.is_empty() {
                    self.err(Error::CanaryWithoutSteps { span: *span });
                }
                for st in steps {
                    self.percent(&st.weight, "traffic weight");
                    if st.weight.value == 0.0 {
                        self.err(Error::MustBePositive {
                            span: st.weight.span,
                            what: "a canary weight",
                        });
                    }
                    if let Some(h) = &st.hold {
                        self.duration(h, false, "a hold");
                    }
                    if let Some(c) = &st.require {
                        self.condition(c, scope);
                    }
                }
            }
            Strategy::BlueGreen {
                preview,
                switch,
                keep_previous,
                ..
            } => {
                self.repeated(preview, "preview", |p| p.span);
                self.repeated(switch, "switch", |p| p.span);
                self.repeated(keep_previous, "keep_previous", |p| p.span);
                for p in preview {
                    if let Some(h) = &p.hold {
                        self.duration(h, false, "a hold");
                    }
                    if let Some(c) = &p.require {
                        self.condition(c, scope);
                    }
                }
                for sw in switch {
                    if let Some(a) = &sw.approval {
                        self.resolve_ident(scope, &a.role, Kind::Role);
                        self.gate_timeout(&a.timeout);
                    }
                }
                for k in keep_previous {
                    self.duration(k, false, "keep_previous");
                }
            }
            Strategy::Rolling {
                batch,
                max_unavailable,
                health,
                ..
            } => {
                self.repeated(batch, "batch", |p| p.span);
                self.repeated(max_unavailable, "max_unavailable", |p| p.span);
                self.repeated(health, "health", |p| p.span);
                for b in batch {
                    match b.value {
                        CountOrPercent::Count(0) => self.err(Error::MustBePositive {
                            span: b.span,
                            what: "the batch size",
                        }),
                        CountOrPercent::Percent(p) => {
                            self.percent(
                                &Spanned {
                                    value: p,
                                    span: b.span,
                                },
                                "batch share",
                            );
                            if p == 0.0 {
                                self.err(Error::MustBePositive {
                                    span: b.span,
                                    what: "the batch size",
                                });
                            }
                        }
                        CountOrPercent::Count(_) => {}
                    }
                }
                for b in max_unavailable {
                    if let CountOrPercent::Percent(p) = b.value {
                        self.percent(
                            &Spanned {
                                value: p,
                                span: b.span,
                            },
                            "max_unavailable share",
                        );
                    }
                }
                for h in health {
                    self.duration(&h.every, true, "the health interval");
                    self.duration(&h.timeout, true, "the health timeout");
                    // `healthy 0` would call an instance healthy before any check passed.
                    for (n, what) in [(h.healthy, "`healthy`"), (h.unhealthy, "`unhealthy`")] {
                        if let Some(n) = n.filter(|n| n.value == 0) {
                            self.err(Error::MustBePositive { span: n.span, what });
                        }
                    }
                }
            }
            Strategy::Recreate { downtime, .. } => {
                self.repeated(downtime, "downtime", |p| p.span);
                for d in downtime {
                    self.duration(d, false, "downtime");
                }
            }
            Strategy::FlagsOnly { .. } => {}
        }
    }

    fn triggers(&mut self, triggers: &[Trigger], scope: Scope<'a>) {
        for t in triggers {
            self.condition(&t.condition, scope);
            if let Some(h) = &t.hold {
                self.duration(h, false, "a trigger's `for`");
            }
            self.gate_timeout(&t.timeout);
        }
    }

    fn comms(&mut self, entries: &[CommsEntry], scope: Scope<'a>) {
        for e in entries {
            match &e.when {
                CommsWhen::At(_) => {}
                CommsWhen::Every(d) => self.duration(d, true, "a message interval"),
                CommsWhen::On(ev) => {
                    if !EVENTS.contains(&ev.name.as_str()) {
                        self.err(Error::UnknownSetting {
                            span: ev.span,
                            what: "event",
                            name: ev.name.clone(),
                            valid: EVENTS.to_vec(),
                            suggestion: suggest(&ev.name, EVENTS.iter().copied()),
                        });
                    }
                }
            }
            for c in &e.channels {
                self.resolve_ident(scope, c, Kind::Channel);
            }
            match &e.message {
                MessageRef::Text(t) => self.placeholders(t, Context::Message, scope),
                MessageRef::Named(p) => {
                    self.resolve(scope, p, Kind::Message);
                }
            }
        }
    }

    fn checklist(&mut self, entries: &[ChecklistEntry], scope: Scope<'a>) {
        for e in entries {
            match e {
                ChecklistEntry::Check(c, _) => self.condition(c, scope),
                ChecklistEntry::Run(r) => self.run_command(r, Context::ChecklistRun, scope),
                ChecklistEntry::Confirm { by, .. } => {
                    self.resolve_ident(scope, by, Kind::Role);
                }
            }
        }
    }

    fn flag(&mut self, f: &Flag) {
        self.repeated(&f.initially, "initially", |x| x.span);
        self.repeated(&f.remove_by, "remove by", |x| x.span);
        for d in &f.days {
            self.percent(&d.percent, "flag rollout");
        }
    }

    /// Program-wide release checks: versions unique and in order, migrations across releases.
    fn releases(&mut self) {
        let releases: Vec<(ModuleId, &'a Release)> = self.names.releases().collect();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut prev: Option<(semver::Version, &Release)> = None;
        for (_, r) in &releases {
            if let Some(first) = seen.get(r.version.value.as_str()) {
                self.err(Error::DuplicateVersion {
                    version: r.version.value.clone(),
                    first: *first,
                    second: r.version.span,
                });
                continue;
            }
            seen.insert(&r.version.value, r.version.span);
            let Ok(v) = semver::Version::parse(&r.version.value) else {
                continue;
            };
            if let Some((pv, pr)) = &prev
                && v < *pv
            {
                self.err(Error::ReleaseOutOfOrder {
                    span: r.version.span,
                    version: r.version.value.clone(),
                    previous: pr.version.value.clone(),
                    previous_span: pr.version.span,
                });
                continue;
            }
            prev = Some((v, r));
        }
        let errors = migrations::check_program(&releases);
        self.errors.extend(errors);
        self.cluster_strategies(&releases);
        if let Some(service) = self.names.service() {
            let environments: Vec<&Environment> = self
                .names
                .all_items()
                .filter_map(|(_, item)| match item {
                    Item::Environment(e) => Some(e),
                    _ => None,
                })
                .collect();
            availability::check(service, &environments, &mut self.errors);
        }
    }

    /// Each release's strategy against each environment's cluster provider, and the steps its
    /// gates follow.
    fn cluster_strategies(&mut self, releases: &[(ModuleId, &'a Release)]) {
        let environments: Vec<&'a Environment> = self
            .names
            .all_items()
            .filter_map(|(_, item)| match item {
                Item::Environment(e) => Some(e),
                _ => None,
            })
            .collect();
        let has_smoke = self.names.service().is_some_and(|s| !s.smoke.is_empty());
        for (module, r) in releases {
            // The release's gates are checked against each strategy with the environments
            // that run it (the release's own always, as it is what a new environment gets);
            // each environment's cluster provider against the strategy it runs.
            let mut groups: Vec<((&'a Strategy, Span), Vec<&'a Environment>)> = r
                .strategy
                .first()
                .and_then(|s| self.strategy_of(*module, s))
                .map(|found| (found, Vec::new()))
                .into_iter()
                .collect();
            for e in &environments {
                let set = self.names.settings_in(*module, r, e);
                let Some(found) = set
                    .strategy
                    .value
                    .first()
                    .and_then(|s| self.strategy_of(set.strategy.module, s))
                else {
                    continue;
                };
                match groups.iter_mut().find(|(g, _)| g.1 == found.1) {
                    Some((_, envs)) => envs.push(*e),
                    None => groups.push((found, vec![*e])),
                }
                let (strategy, at) = found;
                for p in &e.provider {
                    if let Provider::Cluster {
                        kind,
                        settings,
                        span,
                    } = p
                    {
                        // The provider is named by its keyword, not its whole block.
                        let start = span.start as usize;
                        let head = Span::new(span.file, start, start + kind.keyword().len());
                        cluster::check_strategy(
                            *kind,
                            settings,
                            head,
                            &e.name.name,
                            strategy,
                            at,
                            &mut self.errors,
                        );
                    }
                }
            }
            for ((strategy, _), envs) in &groups {
                gates::check(r, strategy, has_smoke, envs, &mut self.errors);
            }
        }
    }

    /// A release's (or an environment's) strategy, resolved, with the place findings point
    /// at: the strategy's keyword, or the name of a named one.
    fn strategy_of(&self, module: ModuleId, s: &'a StrategyRef) -> Option<(&'a Strategy, Span)> {
        match s {
            StrategyRef::Inline(s) => {
                let start = s.span().start as usize;
                Some((s, Span::new(s.span().file, start, start + s.name().len())))
            }
            StrategyRef::Named(u) => {
                match self
                    .names
                    .lookup_kind(module, &[], &u.path, Some(Kind::Strategy))
                {
                    Some(Def::Strategy(d)) => Some((&d.strategy, u.path.span)),
                    _ => None,
                }
            }
        }
    }
}

/// Metric names visible from a module, for `{metric}` placeholders in messages.
fn metric_names(names: &Names<'_>, scope: Scope<'_>) -> Vec<String> {
    names
        .visible_names(scope.module, scope.params, Kind::Metric)
        .into_iter()
        .filter(|n| !n.contains('.'))
        .collect()
}

/// Measurements the local probe provides, by name.
pub const PROBE_MEASUREMENTS: &[&str] = &[
    "error_rate",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "throughput",
    "requests",
    "errors",
];

/// Events a comms entry can react to.
pub const EVENTS: &[&str] = &[
    "start",
    "step",
    "done",
    "rollback",
    "failed",
    "approval_needed",
    "rollback_decision",
];
