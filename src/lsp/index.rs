//! Every named thing of a program and every place that names it.
//!
//! The index is built from the analysis's syntax trees and resolved through the resolver's
//! own lookups ([`Names::lookup_kind`]), so go to definition, find references, hover and
//! semantic tokens agree with what the checker resolved. A symbol is identified by the span
//! of its defining name; a reference that does not resolve is left out (the checker reports
//! it).

use std::collections::HashMap;

use crate::resolve::{Def, ImportKind, Kind, ModuleId, Names, STDLIB};
use crate::source::{FileId, Span};
use crate::syntax::ast::*;

use super::analysis::Analysis;

/// What a symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SymbolKind {
    Named(Kind),
    /// A block parameter of this kind.
    Param(Kind),
    /// A module: a stdlib module or an imported file (its definition is the file's start).
    Module,
    Service,
    Flag,
}

impl SymbolKind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            SymbolKind::Named(k) => k.name(),
            SymbolKind::Param(_) => "parameter",
            SymbolKind::Module => "module",
            SymbolKind::Service => "service",
            SymbolKind::Flag => "feature flag",
        }
    }
}

/// A definition: where it is named, what it is, and what hover shows of it.
#[derive(Debug, Clone)]
pub(crate) struct Symbol {
    pub(crate) name: String,
    pub(crate) kind: SymbolKind,
    /// The defining name (for a module, the start of its file).
    pub(crate) span: Span,
    /// The whole definition.
    pub(crate) full: Span,
    pub(crate) doc: Option<String>,
    /// The metric kind, for metrics.
    pub(crate) metric: Option<(MetricKind, Option<TimeUnit>)>,
}

/// One place a symbol is named: its definition or a use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Occurrence {
    pub(crate) span: Span,
    /// The span of the symbol's defining name (the key into [`Index::symbols`]).
    pub(crate) target: Span,
    pub(crate) is_definition: bool,
}

pub(crate) struct Index {
    pub(crate) symbols: HashMap<Span, Symbol>,
    /// In no particular order; [`Index::at`] searches them.
    pub(crate) occurrences: Vec<Occurrence>,
}

impl Index {
    /// The occurrence under byte `offset` of `file` (the narrowest, when they nest).
    pub(crate) fn at(&self, file: FileId, offset: usize) -> Option<&Occurrence> {
        self.occurrences
            .iter()
            .filter(|o| {
                o.span.file == file
                    && (o.span.start as usize) <= offset
                    && offset <= o.span.end as usize
            })
            .min_by_key(|o| o.span.end - o.span.start)
    }

    /// Every occurrence of the symbol defined at `target`.
    pub(crate) fn references(&self, target: Span) -> impl Iterator<Item = &Occurrence> {
        self.occurrences.iter().filter(move |o| o.target == target)
    }

    pub(crate) fn symbol(&self, target: Span) -> Option<&Symbol> {
        self.symbols.get(&target)
    }
}

/// Builds the index of an analysis's program: definitions of every module it can name
/// (its own, its imports, the stdlib), uses in every module of the program.
pub(crate) fn build(analysis: &Analysis) -> Index {
    let session = &analysis.session;
    let program = &analysis.compiled.program;
    let names = Names::new(session, program);
    let mut b = Builder {
        names: &names,
        index: Index {
            symbols: HashMap::new(),
            occurrences: Vec::new(),
        },
        migrations: HashMap::new(),
        module: analysis.module(),
    };
    let std_modules: Vec<ModuleId> = STDLIB
        .iter()
        .filter_map(|(n, _)| session.std_module(n))
        .collect();
    let mut modules: Vec<ModuleId> = program.modules.clone();
    for m in std_modules {
        if !modules.contains(&m) {
            modules.push(m);
        }
    }
    for &m in &modules {
        b.module = m;
        b.definitions(m);
    }
    // Migrations are named across the releases of the whole program.
    for (_, r) in names.releases() {
        for mig in &r.migrations {
            b.migrations
                .entry(mig.name.name.clone())
                .or_insert(mig.name.span);
        }
    }
    for &m in &program.modules {
        b.module = m;
        b.uses(m);
    }
    b.index
}

struct Builder<'n, 'a> {
    names: &'n Names<'a>,
    index: Index,
    /// The first migration of each name in the program.
    migrations: HashMap<String, Span>,
    module: ModuleId,
}

impl<'a> Builder<'_, 'a> {
    fn items(&self, m: ModuleId) -> &'a [Item] {
        self.names
            .session
            .module(m)
            .and_then(|m| m.ast.as_ref())
            .map(|a| a.items.as_slice())
            .unwrap_or(&[])
    }

    fn define(&mut self, name: &Ident, kind: SymbolKind, full: Span, doc: Option<&String>) {
        self.define_with(name, kind, full, doc, None);
    }

    fn define_with(
        &mut self,
        name: &Ident,
        kind: SymbolKind,
        full: Span,
        doc: Option<&String>,
        metric: Option<(MetricKind, Option<TimeUnit>)>,
    ) {
        self.index.symbols.insert(
            name.span,
            Symbol {
                name: name.name.clone(),
                kind,
                span: name.span,
                full,
                doc: doc.cloned(),
                metric,
            },
        );
        self.index.occurrences.push(Occurrence {
            span: name.span,
            target: name.span,
            is_definition: true,
        });
    }

    fn use_of(&mut self, span: Span, target: Span) {
        if !span.is_synthetic() && !target.is_synthetic() {
            self.index.occurrences.push(Occurrence {
                span,
                target,
                is_definition: false,
            });
        }
    }

    /// The symbol of a module: its file's start.
    fn module_symbol(&mut self, m: ModuleId) -> Option<Span> {
        let loaded = self.names.session.module(m)?;
        let span = Span::new(loaded.file, 0, 0);
        let full = self
            .names
            .session
            .sources
            .get(loaded.file)
            .map(|f| Span::new(loaded.file, 0, f.text.len()))
            .unwrap_or(span);
        let doc = loaded.ast.as_ref().and_then(module_doc);
        self.index.symbols.entry(span).or_insert(Symbol {
            name: loaded.name.clone(),
            kind: SymbolKind::Module,
            span,
            full,
            doc,
            metric: None,
        });
        Some(span)
    }

    fn definitions(&mut self, m: ModuleId) {
        for item in self.items(m) {
            match item {
                Item::Import(_) | Item::Comms(_) | Item::Checklist(_) => {}
                Item::Service(s) => {
                    self.define(&s.name, SymbolKind::Service, s.span, s.doc.as_ref())
                }
                Item::Environment(e) => self.define(
                    &e.name,
                    SymbolKind::Named(Kind::Environment),
                    e.span,
                    e.doc.as_ref(),
                ),
                Item::Team(t) => {
                    for r in &t.roles {
                        self.define(&r.name, SymbolKind::Named(Kind::Role), r.span, None);
                    }
                }
                Item::Channel(c) => self.define(
                    &c.name,
                    SymbolKind::Named(Kind::Channel),
                    c.span,
                    c.doc.as_ref(),
                ),
                Item::Metric(x) => self.define_with(
                    &x.name,
                    SymbolKind::Named(Kind::Metric),
                    x.span,
                    x.doc.as_ref(),
                    Some((x.kind.value, x.per.map(|p| p.value))),
                ),
                Item::Message(x) => self.define(
                    &x.name,
                    SymbolKind::Named(Kind::Message),
                    x.span,
                    x.doc.as_ref(),
                ),
                Item::Strategy(s) => {
                    self.define(
                        &s.name,
                        SymbolKind::Named(Kind::Strategy),
                        s.span,
                        s.doc.as_ref(),
                    );
                    self.params(&s.params);
                }
                Item::Rollback(r) => {
                    self.define(
                        &r.name,
                        SymbolKind::Named(Kind::Rollback),
                        r.span,
                        r.doc.as_ref(),
                    );
                    self.params(&r.params);
                }
                Item::Release(r) => {
                    for mig in &r.migrations {
                        self.define(
                            &mig.name,
                            SymbolKind::Named(Kind::Migration),
                            mig.span,
                            mig.doc.as_ref(),
                        );
                    }
                    for f in &r.flags {
                        self.define(&f.name, SymbolKind::Flag, f.span, None);
                    }
                }
            }
            // Comms and checklists are defined like the others; split out only to keep the
            // match above short.
            match item {
                Item::Comms(c) => {
                    self.define(
                        &c.name,
                        SymbolKind::Named(Kind::Comms),
                        c.span,
                        c.doc.as_ref(),
                    );
                    self.params(&c.params);
                }
                Item::Checklist(c) => {
                    self.define(
                        &c.name,
                        SymbolKind::Named(Kind::Checklist),
                        c.span,
                        c.doc.as_ref(),
                    );
                    self.params(&c.params);
                }
                _ => {}
            }
        }
    }

    fn params(&mut self, params: &[Param]) {
        for p in params {
            let kind = match p.kind.value {
                ParamKind::Channel => Kind::Channel,
                ParamKind::Role => Kind::Role,
                ParamKind::Metric => Kind::Metric,
            };
            let full = p.name.span.to(p.kind.span);
            self.define(&p.name, SymbolKind::Param(kind), full, None);
        }
    }

    /// Resolves `path` as the resolver does and records the use.
    fn path(&mut self, params: &'a [Param], path: &Path, kind: Kind) {
        if let Some(def) = self
            .names
            .lookup_kind(self.module, params, path, Some(kind))
        {
            self.use_of(path.span, def.span());
        }
    }

    fn ident(&mut self, params: &'a [Param], ident: &Ident, kind: Kind) {
        let path = Path {
            segments: vec![ident.clone()],
            span: ident.span,
        };
        self.path(params, &path, kind);
    }

    fn uses(&mut self, m: ModuleId) {
        let imports = self
            .names
            .session
            .module(m)
            .map(|l| l.imports.clone())
            .unwrap_or_default();
        for (kind, target) in imports {
            let span = match kind {
                ImportKind::Std { span } | ImportKind::File { span, .. } => span,
            };
            if let Some(t) = self.module_symbol(target) {
                self.use_of(span, t);
            }
        }
        for item in self.items(m) {
            self.item_uses(item);
        }
    }

    fn item_uses(&mut self, item: &'a Item) {
        match item {
            Item::Environment(e) => {
                for r in &e.requires {
                    self.ident(&[], r, Kind::Environment);
                }
                for a in &e.approval {
                    self.ident(&[], &a.role, Kind::Role);
                }
                for d in &e.release {
                    self.own_settings(&d.strategy, &d.checklist);
                }
            }
            Item::Team(t) => {
                for (roles, _) in &t.rollback_decision {
                    for r in roles {
                        self.ident(&[], r, Kind::Role);
                    }
                }
            }
            Item::Strategy(s) => self.strategy(&s.params, &s.strategy),
            Item::Rollback(r) => self.triggers(&r.params, &r.triggers),
            Item::Comms(c) => self.comms(&c.params, &c.entries),
            Item::Checklist(c) => self.checklist(&c.params, &c.entries),
            Item::Release(r) => self.release(r),
            Item::Import(_)
            | Item::Service(_)
            | Item::Channel(_)
            | Item::Metric(_)
            | Item::Message(_) => {}
        }
    }

    /// The strategy and checklist of a block that gives an environment its own: a release's
    /// `environment NAME { … }` or an environment's `release { … }`.
    fn own_settings(
        &mut self,
        strategy: &'a [StrategyRef],
        checklist: &'a [Use<Vec<ChecklistEntry>>],
    ) {
        for s in strategy {
            match s {
                StrategyRef::Inline(s) => self.strategy(&[], s),
                StrategyRef::Named(u) => self.block_use(u, Kind::Strategy),
            }
        }
        for u in checklist {
            match u {
                Use::Inline { body, .. } => self.checklist(&[], body),
                Use::Named(u) => self.block_use(u, Kind::Checklist),
            }
        }
    }

    fn release(&mut self, r: &'a Release) {
        for s in &r.strategy {
            match s {
                StrategyRef::Inline(s) => self.strategy(&[], s),
                StrategyRef::Named(u) => self.block_use(u, Kind::Strategy),
            }
        }
        for o in &r.environments {
            self.ident(&[], &o.environment, Kind::Environment);
            self.own_settings(&o.strategy, &o.checklist);
        }
        for u in &r.rollback {
            match u {
                Use::Inline { body, .. } => self.triggers(&[], body),
                Use::Named(u) => self.block_use(u, Kind::Rollback),
            }
        }
        for u in &r.comms {
            match u {
                Use::Inline { body, .. } => self.comms(&[], body),
                Use::Named(u) => self.block_use(u, Kind::Comms),
            }
        }
        for u in &r.checklist {
            match u {
                Use::Inline { body, .. } => self.checklist(&[], body),
                Use::Named(u) => self.block_use(u, Kind::Checklist),
            }
        }
        for m in &r.migrations {
            for a in &m.after {
                // `after` names a migration of the same release first, then any release.
                let local = r
                    .migrations
                    .iter()
                    .find(|x| x.name.name == a.name)
                    .map(|x| x.name.span);
                if let Some(t) = local.or_else(|| self.migrations.get(&a.name).copied()) {
                    self.use_of(a.span, t);
                }
            }
            for o in &m.of {
                if let Some(t) = self.migrations.get(&o.name).copied() {
                    self.use_of(o.span, t);
                }
            }
        }
    }

    /// A named block used with arguments: the block, and each argument as the kind of the
    /// parameter it fills.
    fn block_use(&mut self, u: &BlockUse, kind: Kind) {
        let Some(def) = self
            .names
            .lookup_kind(self.module, &[], &u.path, Some(kind))
        else {
            return;
        };
        self.use_of(u.path.span, def.span());
        let params: &[Param] = match def {
            Def::Strategy(s) => &s.params,
            Def::Rollback(r) => &r.params,
            Def::Comms(c) => &c.params,
            Def::Checklist(c) => &c.params,
            _ => &[],
        };
        for (arg, param) in u.args.iter().flatten().zip(params) {
            let kind = match param.kind.value {
                ParamKind::Channel => Kind::Channel,
                ParamKind::Role => Kind::Role,
                ParamKind::Metric => Kind::Metric,
            };
            self.ident(&[], arg, kind);
        }
    }

    fn strategy(&mut self, params: &'a [Param], s: &'a Strategy) {
        match s {
            Strategy::Canary { steps, .. } => {
                for step in steps {
                    if let Some(c) = &step.require {
                        self.condition(params, c);
                    }
                }
            }
            Strategy::BlueGreen {
                preview, switch, ..
            } => {
                for p in preview {
                    if let Some(c) = &p.require {
                        self.condition(params, c);
                    }
                }
                for s in switch {
                    if let Some(a) = &s.approval {
                        self.ident(params, &a.role, Kind::Role);
                    }
                }
            }
            Strategy::Rolling { .. } | Strategy::Recreate { .. } | Strategy::FlagsOnly { .. } => {}
        }
    }

    fn triggers(&mut self, params: &'a [Param], triggers: &'a [Trigger]) {
        for t in triggers {
            self.condition(params, &t.condition);
        }
    }

    fn condition(&mut self, params: &'a [Param], c: &'a Condition) {
        for cmp in c.comparisons() {
            if let Condition::Compare { lhs, rhs, .. } = cmp {
                for side in [lhs, rhs] {
                    if let Operand::Name(p) = side {
                        self.path(params, p, Kind::Metric);
                    }
                }
            }
        }
    }

    fn comms(&mut self, params: &'a [Param], entries: &'a [CommsEntry]) {
        for e in entries {
            for c in &e.channels {
                self.ident(params, c, Kind::Channel);
            }
            if let MessageRef::Named(p) = &e.message {
                self.path(params, p, Kind::Message);
            }
        }
    }

    fn checklist(&mut self, params: &'a [Param], entries: &'a [ChecklistEntry]) {
        for e in entries {
            match e {
                ChecklistEntry::Check(c, _) => self.condition(params, c),
                ChecklistEntry::Confirm { by, .. } => self.ident(params, by, Kind::Role),
                ChecklistEntry::Run(_) => {}
            }
        }
    }
}

/// A module's documentation: the comment block at the top of its file.
fn module_doc(ast: &Module) -> Option<String> {
    let mut lines = Vec::new();
    let mut end = 0u32;
    for c in &ast.comments {
        // Only the leading block: comments one after the other from the file's start.
        if !lines.is_empty() && c.span.start > end + 1 {
            break;
        }
        if lines.is_empty() && c.span.start != 0 {
            break;
        }
        lines.push(c.text.trim_start_matches('#').trim().to_string());
        end = c.span.end;
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::lsp::analysis::analyze;

    const SRC: &str = r#"import std.comms
service web { health = http "http://localhost/health" }
environment staging { approval = lead }
environment production { requires = staging }
team { lead = "a@example.com", rollback_decision = lead }
channel ops = stdout
metric error_rate: percent = prometheus "rate(errors[{window}])"
comms notify_ops(to: channel) { on done notify to std.comms.done }
release "1.0.0" {
  strategy = canary { step 10% for 1m require error_rate < 1% }
  migrations {
    expand add_x { up = sql "ALTER TABLE t ADD COLUMN x int" down = sql "ALTER TABLE t DROP COLUMN x" }
  }
  rollback { auto when error_rate > 5% }
  comms = notify_ops(ops)
}
release "1.1.0" {
  strategy = canary { step 100% }
  migrations {
    contract drop_old of add_x { up = sql "SELECT 1" down = noop "nothing" }
  }
}
"#;

    fn index() -> (Analysis, Index) {
        let a = analyze(None, SRC, &HashMap::new());
        let i = build(&a);
        (a, i)
    }

    fn target_at(a: &Analysis, i: &Index, needle: &str, nth: usize) -> Span {
        let offset = SRC.match_indices(needle).nth(nth).map(|(o, _)| o).unwrap();
        let file = a.file().unwrap();
        i.at(file, offset + 1)
            .unwrap_or_else(|| panic!("nothing at {needle}"))
            .target
    }

    #[test]
    fn metric_uses_resolve_to_the_metric() {
        let (a, i) = index();
        let def = target_at(&a, &i, "error_rate", 0);
        assert_eq!(def, target_at(&a, &i, "error_rate", 1));
        assert_eq!(def, target_at(&a, &i, "error_rate", 2));
        assert_eq!(i.references(def).count(), 3);
        let sym = i.symbol(def).unwrap();
        assert_eq!(sym.metric, Some((MetricKind::Percent, None)));
    }

    #[test]
    fn roles_environments_channels_and_arguments() {
        let (a, i) = index();
        let lead = target_at(&a, &i, "lead =", 0);
        assert_eq!(i.references(lead).count(), 3);
        let staging = target_at(&a, &i, "staging {", 0);
        assert_eq!(target_at(&a, &i, "staging }", 0), staging);
        let ops = target_at(&a, &i, "ops =", 0);
        assert_eq!(target_at(&a, &i, "(ops)", 0), ops);
        // The parameter is used inside its block.
        let to = target_at(&a, &i, "to:", 0);
        assert_eq!(target_at(&a, &i, "to std", 0), to);
        assert_eq!(i.symbol(to).unwrap().kind, SymbolKind::Param(Kind::Channel));
    }

    #[test]
    fn migrations_resolve_across_releases_and_stdlib_items_resolve() {
        let (a, i) = index();
        let add_x = target_at(&a, &i, "add_x", 0);
        assert_eq!(target_at(&a, &i, "add_x", 1), add_x);
        let done = target_at(&a, &i, "std.comms.done", 0);
        assert_ne!(done.file, a.file().unwrap());
        let sym = i.symbol(done).unwrap();
        assert_eq!(sym.kind, SymbolKind::Named(Kind::Message));
        // The import names the stdlib module.
        let module = target_at(&a, &i, "import std.comms", 0);
        assert_eq!(i.symbol(module).unwrap().kind, SymbolKind::Module);
        assert_eq!(module.file, done.file);
    }
}
