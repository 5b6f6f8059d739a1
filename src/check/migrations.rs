//! Migrations: their structure, their SQL, and the order they run in.
//!
//! The order of one release is a DAG (petgraph) built from two kinds of edges: every
//! `after` edge, and the phase order expand → data → index → (application deploy) → contract
//! between every pair of migrations in different phases. A cycle — an `after` edge against
//! the phase order, or `after` edges that loop — is reported once, naming the whole cycle.
//! Within those constraints migrations run in file order (Kahn's algorithm with the file
//! position as the tie-break), so the plan is deterministic.

use std::collections::HashMap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::Checker;
use crate::diagnostics::errors::Error;
use crate::resolve::{ModuleId, Names, ReadFile, Session};
use crate::source::{FileId, Span};
use crate::sql::lint::SqlAnalysis;
use crate::syntax::ast::*;

/// The SQL text of one `up` or `down`, and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedSql {
    pub text: String,
    /// Set when the SQL came from a `.sql` file (loaded into the session's source map).
    pub file: Option<FileId>,
    /// Its syntax tree, parsed once here and read again by the lints.
    pub tree: Option<squawk_syntax::Parse<squawk_syntax::SourceFile>>,
    /// Whether the parse found syntax errors (E407), kept because squawk computes them anew
    /// from the tree on every call.
    pub(crate) syntax_errors: bool,
    /// The text's schema-effect model, with no statement rules run: what the lint reads of a
    /// migration it runs no squawk rule on (every release but the one to ship).
    pub(crate) model: SqlAnalysis,
}

/// The SQL of every migration of the program, by the span of its source: what [`prepare`]
/// runs on, ahead of the checker. [`Checker::sql`] takes each text's result in the order it
/// checks them, so the diagnostics come out as if each were parsed where it is checked; a
/// source missing here is prepared where it is checked.
pub(super) fn sql_texts<'s>(session: &'s Session, names: &Names<'s>) -> Vec<(Span, &'s str)> {
    let mut texts: Vec<(Span, &str)> = Vec::new();
    for (_, item) in names.all_items() {
        let Item::Release(r) = item else { continue };
        for m in &r.migrations {
            for src in m.sql_sources() {
                let text = match src {
                    SqlSource::Inline(lit) => Some(lit.value.as_str()),
                    SqlSource::File(lit) => session
                        .sql_file(lit.span.file, &lit.value)
                        .ok()
                        .and_then(|file| session.sources.get(file))
                        .map(|f| f.text.as_str()),
                };
                if let Some(text) = text {
                    texts.push((src.span(), text));
                }
            }
        }
    }
    texts
}

/// One SQL text parsed, and its schema-effect model built from the tree: the work per text
/// that does not depend on the rest of the program, so it runs on every core ahead of the
/// checker. In an SQL-heavy file it is most of checking it.
pub(super) struct Prepared {
    parse: crate::sql::SqlParse,
    model: SqlAnalysis,
}

pub(super) fn prepare(text: &str) -> Prepared {
    let parse = crate::sql::parse(text);
    // The same call the lint would make for a text it runs no statement rules on.
    let model = crate::sql::lint::analyze_parsed(text, parse.tree.as_ref(), &[], None);
    Prepared { parse, model }
}

/// Rank in the phase order; the application deploy sits between index and contract.
fn rank(p: Phase) -> u8 {
    match p {
        Phase::Expand => 0,
        Phase::Data => 1,
        Phase::Index => 2,
        Phase::Contract => 4,
    }
}

/// Rank of the application deploy in the phase order.
pub const DEPLOY_RANK: u8 = 3;

/// The order of one release's migrations.
pub struct MigrationGraph<'a> {
    /// Migrations that run before the application deploy, in run order.
    pub before_deploy: Vec<&'a Migration>,
    /// Migrations that run after it (contracts), in run order.
    pub after_deploy: Vec<&'a Migration>,
    /// The cycles found, each as the list of migration indices.
    pub cycles: Vec<Vec<usize>>,
}

/// Builds the DAG of one release and orders it.
///
/// The phase order is a constraint between every pair of migrations in different phases:
/// written as one edge per pair it makes the graph quadratic in the release's migrations
/// (and `update_edge` scans a node's edges, so building it was cubic). The graph ordered
/// here puts one barrier node between consecutive phases instead, with an edge from each
/// migration to the barrier after its phase and from the barrier before it: the same
/// reachability between migrations, with O(n) edges. Barriers are taken as soon as they
/// are ready, so the order is the one the pairwise graph gives. A release whose graph has a
/// cycle (a checker error, on small inputs) is ordered and reported on the pairwise graph,
/// whose shortest cycles name only migrations.
pub fn release_graph(r: &Release) -> MigrationGraph<'_> {
    match barrier_order(r) {
        Some(order) => split_at_deploy(r, order, Vec::new()),
        None => pairwise_graph(r),
    }
}

/// The run order of `r` on the barrier graph, or `None` when it has a cycle.
fn barrier_order(r: &Release) -> Option<Vec<usize>> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    const RANKS: [u8; 4] = [0, 1, 2, 4];
    let n = r.migrations.len();
    // Nodes 0..n are the migrations; n + k is the barrier after RANKS[k].
    let barriers = RANKS.len() - 1;
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n + barriers];
    let mut indegree: Vec<usize> = vec![0; n + barriers];
    let mut edge = |out: &mut Vec<Vec<usize>>, from: usize, to: usize| {
        if let (Some(list), Some(d)) = (out.get_mut(from), indegree.get_mut(to)) {
            list.push(to);
            *d += 1;
        }
    };
    for k in 1..barriers {
        edge(&mut out, n + k - 1, n + k);
    }
    for (i, m) in r.migrations.iter().enumerate() {
        let k = RANKS
            .iter()
            .position(|&x| x == rank(m.phase.value))
            .unwrap_or(0);
        if k < barriers {
            edge(&mut out, i, n + k);
        }
        if k > 0 {
            edge(&mut out, n + k - 1, i);
        }
    }
    let by_name: HashMap<&str, usize> = r
        .migrations
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.name.as_str(), i))
        .collect();
    // `after` edges, without duplicates (the pairwise graph merges them).
    let mut seen: std::collections::HashSet<(usize, usize)> = std::collections::HashSet::new();
    for (i, m) in r.migrations.iter().enumerate() {
        for a in &m.after {
            if let Some(&j) = by_name.get(a.name.as_str())
                && seen.insert((j, i))
            {
                edge(&mut out, j, i);
            }
        }
    }
    // Kahn's algorithm: barriers first, then the lowest file position.
    let key = |i: usize| if i >= n { (0, i) } else { (1, i) };
    let mut ready: BinaryHeap<Reverse<(u8, usize)>> = (0..n + barriers)
        .filter(|&i| indegree.get(i) == Some(&0))
        .map(|i| Reverse(key(i)))
        .collect();
    let mut order = Vec::with_capacity(n);
    let mut taken = 0;
    while let Some(Reverse((_, i))) = ready.pop() {
        taken += 1;
        if i < n {
            order.push(i);
        }
        for &j in out.get(i).map_or(&[][..], |v| &v[..]) {
            if let Some(d) = indegree.get_mut(j) {
                *d = d.saturating_sub(1);
                if *d == 0 {
                    ready.push(Reverse(key(j)));
                }
            }
        }
    }
    // Every node taken: no cycle.
    (taken == n + barriers).then_some(order)
}

/// Migrations in `order`, split at the application deploy.
fn split_at_deploy(r: &Release, order: Vec<usize>, cycles: Vec<Vec<usize>>) -> MigrationGraph<'_> {
    let mut before_deploy = Vec::new();
    let mut after_deploy = Vec::new();
    for i in order {
        if let Some(m) = r.migrations.get(i) {
            if rank(m.phase.value) < DEPLOY_RANK {
                before_deploy.push(m);
            } else {
                after_deploy.push(m);
            }
        }
    }
    MigrationGraph {
        before_deploy,
        after_deploy,
        cycles,
    }
}

/// The graph with one phase edge per pair of migrations, for a release with a cycle.
fn pairwise_graph(r: &Release) -> MigrationGraph<'_> {
    let n = r.migrations.len();
    let mut g: DiGraph<usize, ()> = DiGraph::with_capacity(n, n * 2);
    let nodes: Vec<NodeIndex> = (0..n).map(|i| g.add_node(i)).collect();
    let by_name: HashMap<&str, usize> = r
        .migrations
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.name.as_str(), i))
        .collect();
    for (i, m) in r.migrations.iter().enumerate() {
        for a in &m.after {
            if let Some(&j) = by_name.get(a.name.as_str())
                && let (Some(&from), Some(&to)) = (nodes.get(j), nodes.get(i))
            {
                g.update_edge(from, to, ());
            }
        }
    }
    for (i, a) in r.migrations.iter().enumerate() {
        for (j, b) in r.migrations.iter().enumerate() {
            if rank(a.phase.value) < rank(b.phase.value)
                && let (Some(&from), Some(&to)) = (nodes.get(i), nodes.get(j))
            {
                g.update_edge(from, to, ());
            }
        }
    }
    let mut cycles = Vec::new();
    for scc in tarjan_scc(&g) {
        let self_loop =
            scc.len() == 1 && scc.first().is_some_and(|n| g.find_edge(*n, *n).is_some());
        if scc.len() > 1 || self_loop {
            cycles.push(cycle_in(&g, &scc));
        }
    }
    // Kahn's algorithm; ties broken by file position. Nodes on cycles are left out.
    let mut indegree: Vec<usize> = (0..n)
        .map(|i| {
            nodes
                .get(i)
                .map(|ix| {
                    g.neighbors_directed(*ix, petgraph::Direction::Incoming)
                        .count()
                })
                .unwrap_or(0)
        })
        .collect();
    let mut ready: Vec<usize> = (0..n).filter(|i| indegree.get(*i) == Some(&0)).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(pos) = ready
        .iter()
        .enumerate()
        .min_by_key(|(_, i)| **i)
        .map(|(p, _)| p)
    {
        let i = ready.swap_remove(pos);
        order.push(i);
        if let Some(ix) = nodes.get(i) {
            for next in g.neighbors_directed(*ix, petgraph::Direction::Outgoing) {
                let j = next.index();
                if let Some(d) = indegree.get_mut(j) {
                    *d = d.saturating_sub(1);
                    if *d == 0 {
                        ready.push(j);
                    }
                }
            }
        }
    }
    split_at_deploy(r, order, cycles)
}

/// One concrete cycle through a strongly connected component, as node weights.
fn cycle_in(g: &DiGraph<usize, ()>, scc: &[NodeIndex]) -> Vec<usize> {
    let Some(&start) = scc
        .iter()
        .min_by_key(|n| g.node_weight(**n).copied().unwrap_or(0))
    else {
        return Vec::new();
    };
    // Breadth-first search inside the component for the shortest way back to `start`.
    let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut found = None;
    while let Some(n) = queue.pop_front() {
        for next in g.neighbors_directed(n, petgraph::Direction::Outgoing) {
            if !scc.contains(&next) {
                continue;
            }
            if next == start {
                found = Some(n);
                break;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(next) {
                e.insert(n);
                queue.push_back(next);
            }
        }
        if found.is_some() {
            break;
        }
    }
    let mut path = Vec::new();
    let mut cur = found;
    while let Some(n) = cur {
        path.push(g.node_weight(n).copied().unwrap_or(0));
        if n == start {
            break;
        }
        cur = prev.get(&n).copied();
    }
    path.reverse();
    path
}

/// Program-wide checks: `of` across releases, `after` within a release, cycles.
pub(super) fn check_program(releases: &[(ModuleId, &Release)]) -> Vec<Error> {
    let mut errors = Vec::new();
    // name → (release index, migration)
    let mut all: HashMap<&str, (usize, &Migration)> = HashMap::new();
    for (ri, (_, r)) in releases.iter().enumerate() {
        for m in &r.migrations {
            all.entry(m.name.name.as_str()).or_insert((ri, m));
        }
    }
    for (ri, (_, r)) in releases.iter().enumerate() {
        for m in &r.migrations {
            match (m.phase.value, m.of.first()) {
                (Phase::Contract, None) => errors.push(Error::ContractWithoutOf {
                    span: m.name.span,
                    name: m.name.name.clone(),
                }),
                (Phase::Contract, Some(of)) => match all.get(of.name.as_str()) {
                    None => errors.push(Error::UnknownName {
                        span: of.span,
                        kind: "migration",
                        name: of.name.clone(),
                        suggestion: crate::resolve::suggest(&of.name, all.keys().copied()),
                    }),
                    Some((_, target)) if target.phase.value != Phase::Expand => {
                        errors.push(Error::ContractOfNotExpand {
                            span: of.span,
                            target: of.name.clone(),
                            target_span: target.name.span,
                            target_phase: target.phase.value.name(),
                        })
                    }
                    Some((tri, target)) if *tri > ri => {
                        errors.push(Error::ContractOfLaterRelease {
                            span: of.span,
                            target: of.name.clone(),
                            target_span: target.name.span,
                            release: r.version.value.clone(),
                            target_release: releases
                                .get(*tri)
                                .map(|(_, r)| r.version.value.clone())
                                .unwrap_or_default(),
                        })
                    }
                    Some(_) => {}
                },
                (phase, Some(of)) => errors.push(Error::OfOnNonContract {
                    span: of.span,
                    phase: phase.name(),
                }),
                (_, None) => {}
            }
            for a in &m.after {
                let local = r.migrations.iter().any(|x| x.name.name == a.name);
                if local {
                    continue;
                }
                match all.get(a.name.as_str()) {
                    Some((_, target)) => errors.push(Error::AfterOtherRelease {
                        span: a.span,
                        target: a.name.clone(),
                        target_span: target.name.span,
                    }),
                    None => errors.push(Error::UnknownName {
                        span: a.span,
                        kind: "migration",
                        name: a.name.clone(),
                        suggestion: crate::resolve::suggest(
                            &a.name,
                            r.migrations.iter().map(|x| x.name.name.as_str()),
                        ),
                    }),
                }
            }
        }
        for cycle in release_graph(r).cycles {
            let ms: Vec<&Migration> = cycle.iter().filter_map(|i| r.migrations.get(*i)).collect();
            let mut names: Vec<String> = ms.iter().map(|m| m.name.name.clone()).collect();
            if let Some(first) = names.first().cloned() {
                names.push(first);
            }
            let spans: Vec<Span> = ms.iter().map(|m| m.name.span).collect();
            errors.push(Error::MigrationCycle {
                span: spans.first().copied().unwrap_or(r.version.span),
                cycle: names,
                spans,
            });
        }
    }
    errors
}

impl<'a> Checker<'a, '_> {
    pub(super) fn migration(&mut self, m: &Migration) {
        self.repeated(&m.up, "up", |x| x.1);
        self.repeated(&m.down, "down", |x| x.1);
        self.repeated(&m.batch, "batch", |x| x.span);
        self.repeated(&m.irreversible, "irreversible", |x| x.1);
        self.repeated(&m.of, "of", |x| x.span);
        if m.up.is_empty() {
            self.err(Error::MissingUp {
                span: m.name.span,
                name: m.name.name.clone(),
            });
        }
        if let (Some((_, down)), Some((_, irr))) = (m.down.first(), m.irreversible.first()) {
            self.err(Error::DownAndIrreversible {
                down: *down,
                irreversible: *irr,
            });
        }
        for b in &m.batch {
            if b.value == 0 {
                self.err(Error::MustBePositive {
                    span: b.span,
                    what: "the batch size",
                });
            }
        }
        self.repeated(&m.verify, "verify", |x| x.1);
        self.repeated(&m.statement_timeout, "statement_timeout", |x| x.span);
        self.repeated(&m.lock_timeout, "lock_timeout", |x| x.span);
        for t in &m.statement_timeout {
            self.duration(t, true, "`statement_timeout`");
        }
        for t in &m.lock_timeout {
            self.duration(t, true, "`lock_timeout`");
        }
        for src in m.sql_sources() {
            self.sql(src);
        }
        self.batchable(m);
    }

    /// A batched migration must be a statement the runtime can restrict to a key range
    /// (see [`crate::sql::batch`]); anything else would change rows twice or not at all.
    fn batchable(&mut self, m: &Migration) {
        let Some(batch) = m.batch.first() else {
            return;
        };
        if m.phase.value != Phase::Data {
            self.err(Error::Unbatchable {
                span: batch.span,
                reason: "only a `data` migration runs in batches".into(),
            });
            return;
        }
        let key = m
            .batch_key
            .as_ref()
            .map_or(crate::sql::batch::DEFAULT_KEY, |k| k.name.as_str());
        for (src, _) in &m.up {
            let Some(loaded) = self.sql.get(&src.span()) else {
                continue;
            };
            // SQL that does not parse is E407 already; its shape says nothing more.
            let Some(tree) = loaded.tree.as_ref().filter(|_| !loaded.syntax_errors) else {
                continue;
            };
            let Err(e) = crate::sql::batch::shape_parsed(&loaded.text, tree, key) else {
                continue;
            };
            let span = match (src, loaded.file) {
                (SqlSource::Inline(lit), _) => lit.sub_span(e.range.start, e.range.end),
                (_, Some(file)) => Span::new(file, e.range.start, e.range.end),
                (SqlSource::File(lit), None) => lit.span,
            };
            self.err(Error::Unbatchable {
                span,
                reason: e.reason,
            });
        }
    }

    /// Loads (already read by the session) and parses one SQL source.
    fn sql(&mut self, src: &SqlSource) {
        let session = self.names.session;
        let loaded = match src {
            SqlSource::Inline(lit) => LoadedSql {
                text: lit.value.clone(),
                file: None,
                tree: None,
                syntax_errors: false,
                model: SqlAnalysis::default(),
            },
            SqlSource::File(lit) => match session.sql_file(lit.span.file, &lit.value) {
                Ok(file) => LoadedSql {
                    text: session
                        .sources
                        .get(file)
                        .map(|f| f.text.clone())
                        .unwrap_or_default(),
                    file: Some(file),
                    tree: None,
                    syntax_errors: false,
                    model: SqlAnalysis::default(),
                },
                Err(reason) => {
                    self.err(Error::SqlFileNotFound {
                        span: lit.span,
                        path: lit.value.clone(),
                        reason,
                    });
                    return;
                }
            },
        };
        let mut loaded = loaded;
        let Prepared {
            parse: parsed,
            model,
        } = (self.prepared)(&src.span()).unwrap_or_else(|| prepare(&loaded.text));
        loaded.model = model;
        loaded.tree = parsed.tree;
        loaded.syntax_errors = !parsed.errors.is_empty();
        // One error per statement is enough: the parser's follow-up errors repeat the cause.
        // A statement is the text between semicolons, which also covers text the parser
        // could not recognise as a statement at all.
        let segment = |offset: usize| {
            loaded
                .text
                .get(..offset)
                .map(|t| t.matches(';').count())
                .unwrap_or(0)
        };
        let mut reported: Vec<usize> = Vec::new();
        for e in parsed.errors {
            let seg = segment(e.range.start);
            if reported.contains(&seg) {
                continue;
            }
            reported.push(seg);
            let to_span = |range: &std::ops::Range<usize>| match (src, loaded.file) {
                (SqlSource::Inline(lit), _) => lit.sub_span(range.start, range.end),
                (_, Some(file)) => Span::new(file, range.start, range.end),
                (SqlSource::File(lit), None) => lit.span,
            };
            let mut span = to_span(&e.range);
            if span.start == span.end {
                // An empty range (an error at a position) gets one character to point at.
                span.end = span.start.saturating_add(1);
            }
            self.err(Error::SqlParse {
                span,
                message: e.message.clone(),
                statement_span: e.statement.as_ref().map(to_span),
                from_file: match src {
                    SqlSource::File(lit) => Some(lit.span),
                    SqlSource::Inline(_) => None,
                },
            });
        }
        self.sql.insert(src.span(), loaded);
    }
}

/// Reads every `file "….sql"` of the program's modules into the session, once.
pub fn load_sql_files(session: &mut Session, modules: &[ModuleId], read: &mut ReadFile<'_>) {
    let mut wanted: Vec<(FileId, String)> = Vec::new();
    for m in modules {
        let Some(loaded) = session.module(*m) else {
            continue;
        };
        let Some(ast) = &loaded.ast else { continue };
        for item in &ast.items {
            let Item::Release(r) = item else { continue };
            for mig in &r.migrations {
                // `verify` queries included: a `verify = file "…"` was never read.
                for s in mig.sql_sources() {
                    if let SqlSource::File(lit) = s {
                        wanted.push((lit.span.file, lit.value.clone()));
                    }
                }
            }
        }
    }
    for (from, rel) in wanted {
        session.load_sql(from, &rel, read);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of SQL source may name a `.sql` file — `up`, `down` and `verify` — and each
    /// is read, parsed and kept for the plan (a `verify = file "…"` was never read: E406).
    #[test]
    fn every_sql_source_may_be_a_file() {
        let program = r#"
service s {
}

environment local {
  provider = local { command = "app --port {port}", replicas = 1 }
  database = sqlite "app.db"
  backup   = snapshot
}

release "1.0.0" {
  strategy = recreate
  migrations {
    expand notes {
      up     = file "up.sql"
      down   = file "down.sql"
      verify = file "check.sql" == 0
    }
  }
}
"#;
        let files = [(
            "app.deploy".to_string(),
            std::path::PathBuf::from("app.deploy"),
        )];
        let mut read = |p: &std::path::Path| -> std::io::Result<Vec<u8>> {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            match name {
                "app.deploy" => Ok(program.as_bytes().to_vec()),
                "up.sql" => Ok(b"CREATE TABLE notes (id INTEGER PRIMARY KEY)".to_vec()),
                "down.sql" => Ok(b"DROP TABLE notes".to_vec()),
                "check.sql" => Ok(b"SELECT count(*) FROM notes".to_vec()),
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file",
                )),
            }
        };
        let (_, compiled, diags) = crate::compile::compile_files(&files, &mut read).unwrap();
        assert!(diags.is_empty(), "{diags:?}");
        let texts: Vec<&str> = {
            let mut t: Vec<&str> = compiled[0]
                .output
                .sql
                .values()
                .map(|l| l.text.as_str())
                .collect();
            t.sort_unstable();
            t
        };
        assert_eq!(
            texts,
            [
                "CREATE TABLE notes (id INTEGER PRIMARY KEY)",
                "DROP TABLE notes",
                "SELECT count(*) FROM notes"
            ]
        );
    }

    /// A release of `n` migrations in pseudo-random phases, each with up to two `after`
    /// edges to earlier or later migrations (which may make cycles).
    fn release(n: usize, seed: u64) -> Release {
        let mut x = seed;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((x >> 33) % m) as usize
        };
        let mut src = String::from("release \"1.0.0\" {\n  migrations {\n");
        for i in 0..n {
            let phase = ["expand", "data", "index", "contract"][next(4)];
            let of = if phase == "contract" { " of m0" } else { "" };
            // Mostly none; else an earlier migration, which makes a cycle when it is in a
            // later phase.
            let count = if i > 0 && next(3) == 0 {
                1 + next(2)
            } else {
                0
            };
            let after: Vec<String> = (0..count)
                .map(|_| format!("m{}", next(i.max(1) as u64)))
                .collect();
            let after = if after.is_empty() {
                String::new()
            } else {
                format!(" after {}", after.join(", "))
            };
            src.push_str(&format!(
                "    {phase} m{i}{of}{after} {{\n      up = sql \"SELECT 1\"\n      down = noop \"x\"\n    }}\n"
            ));
        }
        src.push_str("  }\n}\n");
        let (module, errors) = crate::syntax::parse(FileId(0), &src);
        assert!(errors.is_empty(), "{errors:?}\n{src}");
        module
            .and_then(|m| {
                m.items.into_iter().find_map(|i| match i {
                    Item::Release(r) => Some(r),
                    _ => None,
                })
            })
            .unwrap_or_else(|| panic!("no release in\n{src}"))
    }

    fn names(ms: &[&Migration]) -> Vec<String> {
        ms.iter().map(|m| m.name.name.clone()).collect()
    }

    #[test]
    fn barrier_graph_orders_as_the_pairwise_graph() {
        let mut acyclic = 0;
        for seed in 0..300 {
            let r = release(2 + (seed as usize % 25), seed);
            let pairwise = pairwise_graph(&r);
            let fast = release_graph(&r);
            if pairwise.cycles.is_empty() {
                acyclic += 1;
                assert!(barrier_order(&r).is_some(), "seed {seed}");
            } else {
                assert!(barrier_order(&r).is_none(), "seed {seed}");
            }
            assert_eq!(
                names(&fast.before_deploy),
                names(&pairwise.before_deploy),
                "seed {seed}"
            );
            assert_eq!(
                names(&fast.after_deploy),
                names(&pairwise.after_deploy),
                "seed {seed}"
            );
            assert_eq!(fast.cycles, pairwise.cycles, "seed {seed}");
        }
        // Both kinds were exercised.
        assert!(acyclic > 20 && acyclic < 280, "{acyclic}");
    }
}
