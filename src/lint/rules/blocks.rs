//! What the rollback, strategy and comms rules share: each user release with the blocks it
//! uses bound to their definitions, the same way lowering binds them, and where to report a
//! finding about a block's contents (in the user's block, or at the use of a stdlib preset,
//! because the user cannot edit the stdlib).

use crate::lint::{Context, LintPlan};
use crate::resolve::{Def, Kind, ModuleId};
use crate::source::Span;
use crate::syntax::ast::{
    BlockUse, CommsEntry, CommsWhen, Environment, Flag, Item, Monitor, Param, Release, Strategy,
    StrategyRef, Trigger, Use, Window,
};

/// A block body with the module its names resolve in and the arguments of its use.
pub(super) struct Bound<'a, T> {
    pub(super) body: &'a T,
    pub(super) params: &'a [Param],
    pub(super) args: Vec<String>,
    /// The inline block, or the `NAME(…)` of the use in the release.
    pub(super) use_span: Span,
    /// The body is a stdlib preset: findings go to `use_span`.
    pub(super) in_std: bool,
    /// Used by name rather than written inline.
    pub(super) named: bool,
}

impl Bound<'_, Strategy> {
    /// The strategy's keyword (`canary`) when inline, or the name of the named strategy.
    pub(super) fn keyword_span(&self) -> Span {
        if self.named {
            self.use_span
        } else {
            head(self.use_span, self.body.name().len())
        }
    }
}

impl<T> Bound<'_, T> {
    /// A block parameter replaced by the argument given at the use.
    pub(super) fn subst(&self, name: &str) -> String {
        self.params
            .iter()
            .position(|p| p.name.name == name)
            .and_then(|i| self.args.get(i).cloned())
            .unwrap_or_else(|| name.to_string())
    }

    /// Where to report something about `span` inside the body.
    pub(super) fn at(&self, span: Span) -> Span {
        if self.in_std { self.use_span } else { span }
    }
}

/// A strategy a release runs with, and the environments that run it.
pub(super) struct StrategyUse<'a> {
    pub(super) bound: Bound<'a, Strategy>,
    /// The environments whose plans use it (none for the release's own strategy when every
    /// environment has its own, or when the program has no environment).
    pub(super) environments: Vec<&'a Environment>,
}

impl StrategyUse<'_> {
    /// Whether `environment` runs this strategy.
    pub(super) fn runs_in(&self, environment: &str) -> bool {
        self.environments.iter().any(|e| e.name.name == environment)
    }
}

/// One user release and the blocks it uses.
pub(in crate::lint) struct ReleaseBlocks<'a> {
    /// The module the release is declared in.
    pub(super) module: ModuleId,
    pub(super) release: &'a Release,
    /// Every strategy the release runs with, once per place it is written: the release's own
    /// (always first, even when no environment runs it: it is what a new environment gets),
    /// an environment's `release { … }` defaults, the release's `environment NAME { … }`
    /// blocks. Findings about one go to where it is written.
    pub(super) strategies: Vec<StrategyUse<'a>>,
    pub(super) triggers: Vec<Bound<'a, Vec<Trigger>>>,
    pub(super) comms: Vec<Bound<'a, Vec<CommsEntry>>>,
}

impl<'a> ReleaseBlocks<'a> {
    /// Every trigger of the release with its block.
    pub(super) fn all_triggers(
        &self,
    ) -> impl Iterator<Item = (&Bound<'a, Vec<Trigger>>, &'a Trigger)> {
        self.triggers
            .iter()
            .flat_map(|b| b.body.iter().map(move |t| (b, t)))
    }

    /// Every comms entry of the release with its block.
    pub(super) fn all_comms(
        &self,
    ) -> impl Iterator<Item = (&Bound<'a, Vec<CommsEntry>>, &'a CommsEntry)> {
        self.comms
            .iter()
            .flat_map(|b| b.body.iter().map(move |e| (b, e)))
    }

    /// Channels of the comms entries `pick` selects, as the release names them.
    pub(super) fn channels_of(&self, pick: impl Fn(&CommsWhen) -> bool) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (b, e) in self.all_comms() {
            if !pick(&e.when) {
                continue;
            }
            for c in &e.channels {
                let n = b.subst(&c.name);
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The span that stands for the whole release (its version string).
    pub(super) fn span(&self) -> Span {
        self.release.version.span
    }

    /// The plans of this release, one per environment.
    pub(super) fn plans<'c>(&self, ctx: &'c Context<'_>) -> impl Iterator<Item = &'c LintPlan> {
        let version = self.release.version.value.clone();
        ctx.plans().iter().filter(move |p| p.release == version)
    }
}

/// The environment a plan deploys to.
pub(super) fn environment_of<'a>(ctx: &Context<'a>, p: &LintPlan) -> Option<&'a Environment> {
    ctx.names
        .environments()
        .find(|e| e.name.name == p.environment)
}

/// Every user release with its blocks bound: bound once, read by many rules.
pub(super) fn releases<'c, 'a>(ctx: &'c Context<'a>) -> &'c [ReleaseBlocks<'a>] {
    ctx.release_blocks.get_or_init(|| bind_releases(ctx))
}

fn bind_releases<'a>(ctx: &Context<'a>) -> Vec<ReleaseBlocks<'a>> {
    ctx.names
        .releases()
        .map(|(module, release)| ReleaseBlocks {
            module,
            release,
            strategies: strategies(ctx, module, release),
            triggers: bind_all(
                ctx,
                module,
                &release.rollback,
                Kind::Rollback,
                |d| match d {
                    Def::Rollback(d) => Some((&d.triggers, d.params.as_slice(), d.name.span)),
                    _ => None,
                },
            ),
            comms: bind_all(ctx, module, &release.comms, Kind::Comms, |d| match d {
                Def::Comms(d) => Some((&d.entries, d.params.as_slice(), d.name.span)),
                _ => None,
            }),
        })
        .collect()
}

/// The strategies of a release (see [`ReleaseBlocks::strategies`]), each bound once.
fn strategies<'a>(
    ctx: &Context<'a>,
    module: ModuleId,
    release: &'a Release,
) -> Vec<StrategyUse<'a>> {
    let bind = |from: ModuleId, s: &'a StrategyRef| match s {
        StrategyRef::Inline(body) => Some(inline(body, s.span())),
        StrategyRef::Named(u) => named(ctx, from, u, Kind::Strategy, |d| match d {
            Def::Strategy(d) => Some((&d.strategy, d.params.as_slice(), d.name.span)),
            _ => None,
        }),
    };
    let mut out: Vec<StrategyUse<'a>> = release
        .strategy
        .first()
        .and_then(|s| bind(module, s))
        .map(|bound| StrategyUse {
            bound,
            environments: Vec::new(),
        })
        .into_iter()
        .collect();
    for env in ctx.names.environments() {
        let set = ctx.names.settings_in(module, release, env);
        let Some(s) = set.strategy.value.first() else {
            continue;
        };
        // Keyed by where the use is written: environments sharing one place share findings.
        let at = s.span();
        let same = |u: &StrategyUse<'_>| {
            u.bound.use_span.file == at.file && u.bound.use_span.range().start == at.range().start
        };
        match out.iter_mut().find(|u| same(u)) {
            Some(u) => u.environments.push(env),
            None => {
                if let Some(bound) = bind(set.strategy.module, s) {
                    out.push(StrategyUse {
                        bound,
                        environments: vec![env],
                    });
                }
            }
        }
    }
    out
}

type Pick<'a, T> = fn(Def<'a>) -> Option<(&'a T, &'a [Param], Span)>;

fn inline<T>(body: &T, span: Span) -> Bound<'_, T> {
    Bound {
        body,
        params: &[],
        args: Vec::new(),
        use_span: span,
        in_std: false,
        named: false,
    }
}

fn named<'a, T>(
    ctx: &Context<'a>,
    module: ModuleId,
    u: &BlockUse,
    kind: Kind,
    pick: Pick<'a, T>,
) -> Option<Bound<'a, T>> {
    let def = ctx.names.lookup_kind(module, &[], &u.path, Some(kind))?;
    let (body, params, name_span) = pick(def)?;
    let in_std = ctx.names.program.modules.iter().any(|m| {
        ctx.session
            .module(*m)
            .is_some_and(|l| l.file == name_span.file && l.is_std)
    });
    Some(Bound {
        body,
        params,
        args: u
            .args
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|a| a.name.clone())
            .collect(),
        // The use's node runs on over the blanks after it (to the next entry).
        use_span: {
            let text = ctx.session.sources.text(u.span);
            let start = u.span.range().start;
            Span::new(u.span.file, start, start + text.trim_end().len())
        },
        in_std,
        named: true,
    })
}

fn bind_all<'a, T>(
    ctx: &Context<'a>,
    module: ModuleId,
    uses: &'a [Use<T>],
    kind: Kind,
    pick: Pick<'a, T>,
) -> Vec<Bound<'a, T>> {
    uses.iter()
        .filter_map(|u| match u {
            Use::Inline { body, span } => Some(inline(body, *span)),
            Use::Named(n) => named(ctx, module, n, kind, pick),
        })
        .collect()
}

/// Keeps one report per key (a span shared by several releases or environments).
#[derive(Default)]
pub(super) struct Once(Vec<(Span, String)>);

impl Once {
    /// Whether `(span, key)` is seen for the first time.
    pub(super) fn first(&mut self, span: Span, key: &str) -> bool {
        if self.0.iter().any(|(s, k)| *s == span && k == key) {
            return false;
        }
        self.0.push((span, key.to_string()));
        true
    }
}

/// The first `len` bytes of `span`: the keyword that opens a block, to label it without
/// underlining the whole block.
pub(super) fn head(span: Span, len: usize) -> Span {
    let start = span.range().start;
    Span::new(span.file, start, (start + len).min(span.range().end))
}

/// Where a finding about a release's duration goes: its `monitor` clause (the usual thing to
/// change), or its version.
pub(super) fn release_span(r: &ReleaseBlocks<'_>) -> Span {
    r.release.monitor.first().map_or(r.span(), monitor_span)
}

/// The length of one day's window.
pub(super) fn window_ms(w: &Window) -> u64 {
    let (from, to) = (u64::from(w.from.value), u64::from(w.to.value));
    let minutes = if to > from {
        to - from
    } else {
        to + 24 * 60 - from
    };
    minutes * 60_000
}

/// Whether an environment is production: named so or marked `production`.
pub(super) fn is_production(env: &Environment) -> bool {
    env.production.is_some() || env.name.name == "production"
}

/// Every strategy written in the user's files: named ones (used or not) and inline ones.
pub(super) fn user_strategies<'a>(ctx: &Context<'a>) -> Vec<&'a Strategy> {
    let mut out = Vec::new();
    for (_, item) in ctx.names.user_items() {
        match item {
            Item::Strategy(s) => out.push(&s.strategy),
            Item::Release(r) => out.extend(
                r.strategy
                    .iter()
                    .chain(r.environments.iter().flat_map(|o| &o.strategy))
                    .filter_map(inline_strategy),
            ),
            Item::Environment(e) => out.extend(
                e.release
                    .iter()
                    .flat_map(|d| &d.strategy)
                    .filter_map(inline_strategy),
            ),
            _ => {}
        }
    }
    out
}

/// Every flag schedule written in the user's files: a release's flags, those of its
/// environment blocks and those of the environments' `release { … }` defaults.
pub(super) fn flag_schedules<'a>(ctx: &Context<'a>) -> Vec<&'a Flag> {
    let mut out = Vec::new();
    for (_, item) in ctx.names.user_items() {
        match item {
            Item::Release(r) => {
                out.extend(&r.flags);
                out.extend(r.environments.iter().flat_map(|o| &o.flags));
            }
            Item::Environment(e) => out.extend(e.release.iter().flat_map(|d| &d.flags)),
            _ => {}
        }
    }
    out
}

fn inline_strategy(s: &StrategyRef) -> Option<&Strategy> {
    match s {
        StrategyRef::Inline(s) => Some(s),
        StrategyRef::Named(_) => None,
    }
}

/// A trigger from `auto`/`manual` to the end of its last clause (the node's own span runs
/// on to the next line).
pub(super) fn trigger_span(t: &Trigger) -> Span {
    let mut end = t.condition.span();
    if let Some(h) = t.hold {
        end = h.span;
    }
    if let Some(x) = &t.timeout {
        end = x.action.map_or(x.timeout.span, |a| a.span);
    }
    Span::new(t.span.file, t.span.range().start, end.range().end)
}

/// `monitor D [then checkins …]` up to its last value.
pub(super) fn monitor_span(m: &Monitor) -> Span {
    let end = m.checkins.last().map_or(m.duration.span, |c| c.span);
    Span::new(m.span.file, m.span.range().start, end.range().end)
}

/// A window's value, `mon..thu 09:00..16:00 "Europe/Berlin"`, without the setting name.
pub(super) fn window_span(w: &Window) -> Span {
    w.first_day.span.to(w.time_zone.span)
}

/// From `start` to the end of the last of `parts` (node spans run on to the next line).
pub(super) fn until(start: Span, parts: &[Option<Span>]) -> Span {
    let end = parts
        .iter()
        .flatten()
        .map(|s| s.range().end)
        .max()
        .unwrap_or(start.range().end);
    Span::new(start.file, start.range().start, end)
}
