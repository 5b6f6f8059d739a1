//! What a rule reads: the checked program, its SQL, the configuration, and the plans of
//! every user release in every environment (lowered on first use, once), and the
//! schema-effect model and squawk findings of every `up` and `down` (also computed on first
//! use, once: each SQL text is parsed a single time for both).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use super::config::Dialect;
use super::{Config, Level, LintOptions};
use crate::check::LoadedSql;
use crate::lower::{self, LowerOptions, Plan};
use crate::resolve::{Def, Kind, ModuleId, Names, Session};
use crate::source::{FileId, Span, SpanMap};
use crate::sql::lint::SqlAnalysis;
use crate::syntax::ast::{Database, Down, Migration, Release, SqlSource, Strategy, StrategyRef};

/// One lowered plan: a release in an environment.
pub struct LintPlan {
    pub release: String,
    pub environment: String,
    pub plan: Plan,
}

/// A release, an environment, and their plan once lowered (`None`: it cannot be).
type PlanCell = (String, String, OnceLock<Option<LintPlan>>);

/// The read-only input of every rule.
pub struct Context<'a> {
    pub session: &'a Session,
    pub names: &'a Names<'a>,
    /// SQL of every `up`/`down`, by the span of its source.
    pub sql: &'a SpanMap<LoadedSql>,
    pub config: &'a Config,
    pub options: &'a LintOptions,
    plans: OnceLock<Vec<LintPlan>>,
    /// Plans lowered one at a time by [`Context::plan`], for rules that need only a few.
    plan_cells: OnceLock<Vec<PlanCell>>,
    analyses: OnceLock<SpanMap<SqlAnalysis>>,
    /// Every user migration in run order (see [`Context::migrations_in_order`]).
    order: OnceLock<Vec<(&'a Release, &'a Migration)>>,
    /// When each relation is new in its release (see [`Context::is_new_at`]).
    new_relations: OnceLock<NewRelations>,
    /// Column types through the run order (see [`Context::column_type_before`]).
    column_history: OnceLock<ColumnHistory>,
    /// Every user release with its blocks bound, read by many rules (see
    /// [`super::rules::blocks::releases`]).
    pub(super) release_blocks: OnceLock<Vec<super::rules::blocks::ReleaseBlocks<'a>>>,
}

impl<'a> Context<'a> {
    pub(super) fn new(
        session: &'a Session,
        names: &'a Names<'a>,
        sql: &'a SpanMap<LoadedSql>,
        config: &'a Config,
        options: &'a LintOptions,
    ) -> Self {
        Context {
            session,
            names,
            sql,
            config,
            options,
            plans: OnceLock::new(),
            plan_cells: OnceLock::new(),
            analyses: OnceLock::new(),
            order: OnceLock::new(),
            new_relations: OnceLock::new(),
            column_history: OnceLock::new(),
            release_blocks: OnceLock::new(),
        }
    }

    /// The plans rules read: the release still to ship lowered in every environment (or
    /// only the pair of [`LintOptions::only`]). The release still to ship is the newest one:
    /// older releases in the file have shipped, and how a shipped release was deployed can
    /// no longer be changed, so a plan finding about it could not be acted on. (Rules about
    /// the program itself — migrations across releases, channels, secrets — read every
    /// release.) A pair that cannot be lowered is skipped: lowering a checked program fails
    /// only when there is no service, which the checker already reports.
    pub fn plans(&self) -> &[LintPlan] {
        self.plans.get_or_init(|| {
            // Rules read the plan's steps and timings, never each step's rollback list.
            let options = LowerOptions {
                start: self.options.start,
                without_rollback_lists: true,
                previous_release: None,
            };
            let to_ship = self.release_to_ship();
            let mut out = Vec::new();
            for (_, release) in self.names.releases() {
                if Some(&release.version.value) != to_ship.as_ref() {
                    continue;
                }
                for env in self.names.environments() {
                    let (r, e) = (&release.version.value, &env.name.name);
                    if let Some((_, oe)) = &self.options.only
                        && oe != e
                    {
                        continue;
                    }
                    if let Ok(plan) =
                        lower::lower(self.names, &self.session.sources, self.sql, r, e, &options)
                    {
                        out.push(LintPlan {
                            release: r.clone(),
                            environment: e.clone(),
                            plan,
                        });
                    }
                }
            }
            out
        })
    }

    /// The plan of one release in one environment, lowered on first use. Cheaper than
    /// [`Context::plans`] for a rule that needs only some pairs: lowering every release in
    /// every environment is the most expensive part of linting a large program.
    pub fn plan(&self, release: &str, environment: &str) -> Option<&LintPlan> {
        // Reuse a plan `plans` already lowered; any other pair (an older release) is lowered
        // here, whatever order the rules run in.
        if let Some(found) = self.plans.get().and_then(|all| {
            all.iter()
                .find(|p| p.release == release && p.environment == environment)
        }) {
            return Some(found);
        }
        let cells = self.plan_cells.get_or_init(|| {
            let mut out = Vec::new();
            for (_, r) in self.names.releases() {
                for e in self.names.environments() {
                    let (r, e) = (&r.version.value, &e.name.name);
                    if let Some((or, oe)) = &self.options.only
                        && (or != r || oe != e)
                    {
                        continue;
                    }
                    out.push((r.clone(), e.clone(), OnceLock::new()));
                }
            }
            out
        });
        let (r, e, cell) = cells
            .iter()
            .find(|(r, e, _)| r == release && e == environment)?;
        cell.get_or_init(|| {
            // Rules read the plan's steps and timings, never each step's rollback list.
            let options = LowerOptions {
                start: self.options.start,
                without_rollback_lists: true,
                previous_release: None,
            };
            lower::lower(self.names, &self.session.sources, self.sql, r, e, &options)
                .ok()
                .map(|plan| LintPlan {
                    release: r.clone(),
                    environment: e.clone(),
                    plan,
                })
        })
        .as_ref()
    }

    /// Every strategy `release` (declared in `module`) runs with: its own, then those
    /// environments give it (their defaults, the release's environment blocks), each once,
    /// inline or named; a name that does not resolve is left out (the checker reports it).
    pub fn strategies(&self, module: ModuleId, release: &'a Release) -> Vec<&'a Strategy> {
        let own = release.strategy.first().map(|s| (module, s));
        let per_env = self.names.environments().filter_map(|e| {
            let set = self.names.settings_in(module, release, e);
            set.strategy.value.first().map(|s| (set.strategy.module, s))
        });
        let mut out: Vec<&'a Strategy> = Vec::new();
        for (from, s) in own.into_iter().chain(per_env) {
            let found = match s {
                StrategyRef::Inline(s) => Some(s),
                StrategyRef::Named(u) => {
                    match self
                        .names
                        .lookup_kind(from, &[], &u.path, Some(Kind::Strategy))
                    {
                        Some(Def::Strategy(d)) => Some(&d.strategy),
                        _ => None,
                    }
                }
            };
            if let Some(found) = found
                && !out.iter().any(|o| std::ptr::eq(*o, found))
            {
                out.push(found);
            }
        }
        out
    }

    /// The span a plan's step points at, back in the session's sources.
    pub fn step_span(&self, step: &lower::Step) -> Option<Span> {
        let src = step.source.as_ref()?;
        let file: FileId = self.session.sources.find(&src.file)?;
        Some(Span::new(file, src.start, src.end))
    }

    /// The model and squawk findings of one SQL source (an `up` or a `down`), if it was
    /// loaded. squawk runs the SQL statement rules that are not `allow` in the configuration.
    pub fn analysis(&self, src: &SqlSource) -> Option<&SqlAnalysis> {
        self.analyses
            .get_or_init(|| {
                let rules: Vec<&str> = if self.dialect() == Dialect::Sqlite {
                    Vec::new()
                } else {
                    super::rules::sql_rules()
                        .filter(|r| self.config.level(r) != Level::Allow)
                        .map(|r| r.name)
                        .collect()
                };
                // A `down` is only read by M212, for the rules about live tables: running
                // the others on it would be work thrown away.
                let live: Vec<&str> = rules
                    .iter()
                    .copied()
                    .filter(|r| super::rules::sql::class(r) == super::rules::sql::Class::Live)
                    .collect();
                // Statement rules run on the release still to ship (see `plans`): a shipped
                // migration has run and cannot change (M214), so a statement finding on it
                // could not be acted on. Every migration still has its schema model, built by
                // the checker, which rules across releases (M211) read. Each text to analyse
                // says whether it is a `down`.
                let to_ship = self.release_to_ship();
                let mut current: SpanMap<bool> = SpanMap::default();
                for (_, r) in self.names.releases() {
                    if Some(&r.version.value) != to_ship.as_ref() {
                        continue;
                    }
                    for m in &r.migrations {
                        current.extend(m.up.iter().map(|(u, _)| (u.span(), false)));
                        current.extend(m.sql_downs().map(|d| (d.span(), true)));
                    }
                }
                let version = self.config.sql.postgres_version;
                // Each text's analysis reads its own tree only: on every core.
                let texts: Vec<(&Span, &LoadedSql, bool)> = current
                    .iter()
                    .filter_map(|(span, down)| self.sql.get(span).map(|l| (span, l, *down)))
                    .collect();
                let analyses = crate::parallel::map(&texts, |(_, loaded, down)| {
                    let rules = if *down { &live } else { &rules };
                    crate::sql::lint::analyze_parsed(
                        &loaded.text,
                        loaded.tree.as_ref(),
                        rules,
                        version,
                    )
                });
                texts
                    .into_iter()
                    .map(|(span, _, _)| *span)
                    .zip(analyses)
                    .collect()
            })
            .get(&src.span())
            .or_else(|| self.sql.get(&src.span()).map(|loaded| &loaded.model))
    }

    /// The release still to ship: the one being planned, else the newest in the program.
    pub fn release_to_ship(&self) -> Option<String> {
        match &self.options.only {
            Some((release, _)) => Some(release.clone()),
            None => self
                .names
                .releases()
                .last()
                .map(|(_, r)| r.version.value.clone()),
        }
    }

    /// The SQL dialect migrations are written in: `[sql] dialect`, else PostgreSQL when any
    /// environment's database is PostgreSQL (or none names one), else SQLite. Rules about
    /// PostgreSQL locks and the `sql/…` rules apply to PostgreSQL only.
    pub fn dialect(&self) -> Dialect {
        if let Some(d) = self.config.sql.dialect {
            return d;
        }
        let mut databases = self
            .names
            .environments()
            .flat_map(|e| e.database.iter())
            .peekable();
        if databases.peek().is_none() {
            return Dialect::Postgres;
        }
        if databases.any(|d| matches!(d, Database::Postgres { .. })) {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        }
    }

    /// The analysis of a migration's `up`.
    pub fn up(&self, m: &Migration) -> Option<&SqlAnalysis> {
        m.up.first().and_then(|(src, _)| self.analysis(src))
    }

    /// A migration's `down` SQL and its analysis (`None` for `noop` or no `down`).
    pub fn down<'m>(&self, m: &'m Migration) -> Option<(&'m SqlSource, &SqlAnalysis)> {
        match m.down.first() {
            Some((Down::Sql(src), _)) => self.analysis(src).map(|a| (src, a)),
            _ => None,
        }
    }

    /// The span of `range` of an SQL source's text: inside the `.deploy` string (escapes
    /// and triple quotes mapped) or in the `.sql` file.
    pub fn sql_span(&self, src: &SqlSource, range: &Range<usize>) -> Span {
        match src {
            SqlSource::Inline(lit) => lit.sub_span(range.start, range.end),
            SqlSource::File(lit) => match self.sql.get(&lit.span).and_then(|l| l.file) {
                Some(file) => Span::new(file, range.start, range.end),
                None => lit.span,
            },
        }
    }

    /// For an SQL source from a file, the span of `file "…"` that names it (a label to add
    /// so the reader sees where the `.sql` file is used).
    pub fn sql_file_ref(&self, src: &SqlSource) -> Option<Span> {
        match src {
            SqlSource::File(lit) => Some(lit.span),
            SqlSource::Inline(_) => None,
        }
    }

    /// Whether relation `name` (a table, view, foreign table or type) is new in its release
    /// when statement `statement` of `m`'s `up` runs: created by an earlier statement of `m`,
    /// by that statement itself, or by a migration of the same release that runs before `m`,
    /// and neither dropped nor renamed away since. Nothing but this release can be using it,
    /// and a new table is empty until the release ships. A drop or a rename that comes
    /// before the statement creating the name again is not on a new relation: it destroys
    /// the one the running version uses.
    pub fn is_new_at(&self, m: &Migration, statement: usize, name: &str) -> bool {
        let new = self.new_relations();
        new.first
            .get(&(std::ptr::from_ref(m) as usize))
            .is_some_and(|(first, _)| new.is_new(name, first + statement))
    }

    /// [`Context::is_new_at`] once the whole `up` of `m` has run: what its `down` finds.
    pub fn is_new_after(&self, m: &Migration, name: &str) -> bool {
        let new = self.new_relations();
        new.first
            .get(&(std::ptr::from_ref(m) as usize))
            .is_some_and(|(first, count)| new.is_new(name, first + count))
    }

    fn new_relations(&self) -> &NewRelations {
        self.new_relations.get_or_init(|| {
            use crate::sql::model::EffectKind as K;
            // Every statement of every `up`, in run order, gets a position, and so does the
            // moment after each `up` (for its `down`). A relation is new from the position of
            // the statement that creates it to the one that drops or renames it, or to the
            // end of its release. One pass: O(statements).
            let mut new = NewRelations::default();
            let mut open: HashMap<String, usize> = HashMap::new();
            let mut current: Option<*const Release> = None;
            let mut position = 0;
            for (r, m) in self.migrations_in_order() {
                if current != Some(std::ptr::from_ref(*r)) {
                    current = Some(std::ptr::from_ref(*r));
                    new.close_all(&mut open, position);
                }
                let statements = self.up(m).map_or(&[][..], |a| &a.model.statements[..]);
                new.first.insert(
                    std::ptr::from_ref(*m) as usize,
                    (position, statements.len()),
                );
                for s in statements {
                    for e in &s.effects {
                        match &e.kind {
                            K::CreateTable { table: n, .. }
                            | K::CreateObject { name: n, .. }
                            | K::CreateType { name: n, .. } => {
                                open.entry(n.clone()).or_insert(position);
                            }
                            K::DropTable { table: n }
                            | K::DropObject { name: n, .. }
                            | K::DropType { name: n } => {
                                if let Some(start) = open.remove(n) {
                                    new.push(n, start, position);
                                }
                            }
                            K::RenameTable { from, to } | K::RenameObject { from, to, .. } => {
                                // The new name is new only when the old one was.
                                if let Some(start) = open.remove(from) {
                                    new.push(from, start, position);
                                    open.insert(to.clone(), position);
                                }
                            }
                            _ => {}
                        }
                    }
                    position += 1;
                }
                // The moment after the `up`.
                position += 1;
            }
            new.close_all(&mut open, position);
            new
        })
    }

    /// Every user migration in run order: releases in program order, each in its own run
    /// order (before the deploy, then after), with its release.
    pub fn migrations_in_order(&self) -> &[(&'a Release, &'a Migration)] {
        self.order.get_or_init(|| {
            let mut out = Vec::new();
            for (_, release) in self.names.releases() {
                let graph = crate::check::release_graph(release);
                for m in graph.before_deploy.into_iter().chain(graph.after_deploy) {
                    out.push((release, m));
                }
            }
            out
        })
    }

    /// The type of `table.column` as the migrations that run before `m` left it, when they
    /// say (a `CREATE TABLE`, `ADD COLUMN` or `ALTER COLUMN … TYPE` of an earlier
    /// migration); `None` when the column comes from outside the program.
    pub fn column_type_before(&self, m: &Migration, table: &str, column: &str) -> Option<String> {
        let h = self
            .column_history
            .get_or_init(|| self.build_column_history());
        let before = *h.index.get(&(std::ptr::from_ref(m) as usize))?;
        // The last event on the column, and the last reset of its table, of the migrations
        // before `m` (events are in run order, so a binary search finds them).
        let key = (table.to_string(), column.to_string());
        let col = last_before(h.columns.get(&key), before);
        let reset = last_before(h.tables.get(table), before);
        let ty = match (col, reset) {
            (Some((_, cs, ty)), Some((_, ts, _))) if cs >= ts => ty.clone(),
            (Some((_, _, ty)), None) => ty.clone(),
            _ => None,
        };
        ty.filter(|t| !t.is_empty())
    }

    /// Every column-type event of every `up`, in run order: one pass over the program.
    fn build_column_history(&self) -> ColumnHistory {
        use crate::sql::model::EffectKind as K;
        let mut h = ColumnHistory::default();
        let mut seq = 0;
        for (mi, (_, m)) in self.migrations_in_order().iter().enumerate() {
            h.index.insert(std::ptr::from_ref(*m) as usize, mi);
            let Some(a) = self.up(m) else { continue };
            for e in a.model.effects() {
                seq += 1;
                let mut column = |t: &str, c: &str, ty: Option<String>| {
                    h.columns
                        .entry((t.to_string(), c.to_string()))
                        .or_default()
                        .push((mi, seq, ty));
                };
                match &e.kind {
                    // A new table: every column it does not list has no known type.
                    K::CreateTable { table, columns } => {
                        h.tables
                            .entry(table.clone())
                            .or_default()
                            .push((mi, seq, None));
                        for (c, ty) in columns {
                            column(table, c, Some(ty.clone()));
                        }
                    }
                    K::AddColumn {
                        table,
                        column: c,
                        ty,
                        ..
                    }
                    | K::AlterColumnType {
                        table,
                        column: c,
                        ty,
                    } => column(table, c, Some(ty.clone())),
                    K::DropColumn { table, column: c } => column(table, c, None),
                    K::DropTable { table } => h
                        .tables
                        .entry(table.clone())
                        .or_default()
                        .push((mi, seq, None)),
                    _ => {}
                }
            }
        }
        h
    }
}

/// When each relation is new in its release, by position in the run order of every `up`
/// statement (see [`Context::is_new_at`]).
#[derive(Default)]
struct NewRelations {
    /// The position of the first statement of each migration's `up` and its statement
    /// count, by the migration's address.
    first: HashMap<usize, (usize, usize)>,
    /// The positions, both ends included, at which each name is new.
    spans: HashMap<String, Vec<(usize, usize)>>,
}

impl NewRelations {
    fn push(&mut self, name: &str, start: usize, end: usize) {
        self.spans
            .entry(name.to_string())
            .or_default()
            .push((start, end));
    }

    /// Ends every open span before `position` (the end of a release).
    fn close_all(&mut self, open: &mut HashMap<String, usize>, position: usize) {
        for (name, start) in open.drain() {
            self.push(&name, start, position.saturating_sub(1).max(start));
        }
    }

    fn is_new(&self, name: &str, position: usize) -> bool {
        self.spans
            .get(name)
            .is_some_and(|spans| spans.iter().any(|&(s, e)| s <= position && position <= e))
    }
}

/// Column-type events in run order, for [`Context::column_type_before`]: each is
/// `(migration index in run order, effect sequence number, type)`.
#[derive(Default)]
struct ColumnHistory {
    /// Run-order index of each migration, by its address.
    index: HashMap<usize, usize>,
    /// Type set (or `None`: dropped) per `(table, column)`.
    columns: HashMap<(String, String), Vec<ColumnEvent>>,
    /// Table created or dropped: the types of its columns before are forgotten.
    tables: HashMap<String, Vec<ColumnEvent>>,
}

/// `(migration index in run order, effect sequence number, type)`.
type ColumnEvent = (usize, usize, Option<String>);

/// The last event of a migration before run-order index `before`.
fn last_before(events: Option<&Vec<ColumnEvent>>, before: usize) -> Option<&ColumnEvent> {
    let v = events?;
    let n = v.partition_point(|(mi, _, _)| *mi < before);
    n.checked_sub(1).and_then(|i| v.get(i))
}
