//! Completion: keywords of the block the cursor is in, names in scope where a name goes
//! (metrics in conditions, channels after `notify`, roles after `approval =`, …), units
//! after a number, and placeholders inside strings.
//!
//! The context is read from the current text, which may not parse while the user types; the
//! names come from the last analysis.

use lsp_types::{CompletionItem, CompletionItemKind, CompletionTextEdit, Range, TextEdit};

use super::analysis::Analysis;
use super::position::LineIndex;
use crate::check::placeholders::{Context as Placeholders, ProviderAction};
use crate::resolve::{Kind, Names, STDLIB};
use crate::syntax::ast::{ClusterKind, Item, MetricKind, Param};

/// The block the cursor is in, from the header before its `{`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Top,
    Service,
    Environment,
    LocalProvider,
    CommandProvider,
    Cluster(ClusterKind),
    Team,
    Release,
    Canary,
    BlueGreen,
    Rolling,
    Recreate,
    Migrations,
    Migration,
    Flag,
    Rollback,
    Comms,
    Checklist,
    Metric,
    Other,
}

impl Block {
    fn of_header(header: &str) -> Block {
        let words: Vec<&str> = words(header);
        let first = words.first().copied().unwrap_or("");
        let last = words.last().copied().unwrap_or("");
        match last {
            "canary" => return Block::Canary,
            "blue_green" => return Block::BlueGreen,
            "rolling" => return Block::Rolling,
            "recreate" => return Block::Recreate,
            "local" => return Block::LocalProvider,
            "command" if first == "provider" => return Block::CommandProvider,
            "kubernetes" => return Block::Cluster(ClusterKind::Kubernetes),
            "argo_rollouts" => return Block::Cluster(ClusterKind::ArgoRollouts),
            _ => {}
        }
        match first {
            "service" => Block::Service,
            "environment" => Block::Environment,
            "team" => Block::Team,
            "release" => Block::Release,
            "migrations" => Block::Migrations,
            "expand" | "data" | "index" | "contract" => Block::Migration,
            "flag" => Block::Flag,
            "rollback" => Block::Rollback,
            "comms" => Block::Comms,
            "checklist" => Block::Checklist,
            "metric" => Block::Metric,
            _ => Block::Other,
        }
    }

    /// The keywords that start an entry of this block.
    fn keywords(self) -> Vec<&'static str> {
        match self {
            Block::Top => vec![
                "import",
                "service",
                "environment",
                "team",
                "channel",
                "metric",
                "message",
                "strategy",
                "rollback",
                "comms",
                "checklist",
                "release",
            ],
            Block::Service => vec!["health", "smoke", "url"],
            Block::Environment => vec![
                "requires",
                "approval",
                "provider",
                "database",
                "backup",
                "metrics",
                "window",
                "freeze",
                "flags",
                "url",
                "production",
                "release",
            ],
            Block::LocalProvider => vec!["command", "replicas", "traffic"],
            Block::CommandProvider => ProviderAction::NAMES.to_vec(),
            Block::Cluster(kind) => crate::check::cluster::setting_names(kind).collect(),
            Block::Team => vec!["rollback_decision"],
            Block::Release => vec![
                "risk",
                "strategy",
                "migrations",
                "flag",
                "rollback",
                "comms",
                "monitor",
                "checklist",
            ],
            Block::Canary => vec!["analysis", "no_data", "step"],
            Block::BlueGreen => vec!["analysis", "no_data", "preview", "switch", "keep_previous"],
            Block::Rolling => vec!["analysis", "no_data", "batch", "max_unavailable", "health"],
            Block::Recreate => vec!["downtime"],
            Block::Migrations => vec!["expand", "data", "index", "contract"],
            Block::Migration => vec!["up", "down", "batch", "irreversible"],
            Block::Flag => vec!["initially", "day", "remove"],
            Block::Rollback => vec!["auto", "manual"],
            Block::Comms => vec!["at", "every", "on"],
            Block::Checklist => vec!["check", "run", "confirm"],
            Block::Metric => vec!["prometheus", "probe", "command", "per"],
            Block::Other => Vec::new(),
        }
    }
}

fn words(s: &str) -> Vec<&str> {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')' || c == ':')
        .filter(|w| !w.is_empty())
        .collect()
}

/// Where the cursor is, read from the text before it.
struct Place {
    /// Enclosing blocks, outermost first.
    blocks: Vec<Block>,
    /// Inside a string: the byte offset of its opening quote.
    string: Option<usize>,
    /// Inside a comment.
    comment: bool,
}

fn place(text: &str, offset: usize) -> Place {
    let b = text.as_bytes();
    let end = offset.min(b.len());
    let mut blocks = Vec::new();
    let mut segment_start = 0usize;
    let mut i = 0usize;
    let mut string = None;
    let mut comment = false;
    while i < end {
        let c = b.get(i).copied().unwrap_or(b' ');
        match c {
            b'#' => {
                while i < end && b.get(i) != Some(&b'\n') {
                    i += 1;
                }
                if i >= end {
                    comment = true;
                }
                continue;
            }
            b'"' if b.get(i..i + 3) == Some(b"\"\"\"") => {
                let open = i;
                i += 3;
                while i < end && b.get(i..i + 3) != Some(b"\"\"\"") {
                    i += 1;
                }
                if i >= end {
                    string = Some(open);
                    break;
                }
                i += 3;
                continue;
            }
            b'"' => {
                let open = i;
                i += 1;
                let mut closed = false;
                while i < end {
                    match b.get(i) {
                        Some(b'\\') => i += 2,
                        Some(b'"') => {
                            closed = true;
                            i += 1;
                            break;
                        }
                        Some(b'\n') => {
                            closed = true;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                if !closed {
                    string = Some(open);
                    break;
                }
                continue;
            }
            b'{' => {
                let header = text.get(segment_start..i).unwrap_or("");
                blocks.push(Block::of_header(header));
                segment_start = i + 1;
            }
            b'}' => {
                blocks.pop();
                segment_start = i + 1;
            }
            b'\n' => segment_start = i + 1,
            _ => {}
        }
        i += 1;
    }
    Place {
        blocks,
        string,
        comment,
    }
}

impl Place {
    fn block(&self) -> Block {
        self.blocks.last().copied().unwrap_or(Block::Top)
    }
    fn within(&self, block: Block) -> bool {
        self.blocks.contains(&block)
    }
}

/// The completions at byte `offset` of `text`, with names from `analysis`.
pub(crate) fn complete(
    text: &str,
    offset: usize,
    analysis: Option<&Analysis>,
) -> Vec<CompletionItem> {
    let offset = offset.min(text.len());
    let lines = LineIndex::new(text);
    let line_start = text
        .get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |n| n + 1);
    let before = text.get(line_start..offset).unwrap_or("");
    let place = place(text, offset);
    if place.comment {
        return Vec::new();
    }
    let scope = analysis.map(|a| Scope::new(a, offset));
    if let Some(open) = place.string {
        return placeholders(text, &lines, open, offset, &place, scope.as_ref());
    }
    // The word being typed (names may be dotted: `std.comms.done`).
    let word_start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .map_or(0, |n| n + 1);
    let word = before.get(word_start..).unwrap_or("");
    let range = lines.range(line_start + word_start, offset);
    if let Some(number) = number_prefix(word) {
        let prior = before.get(..word_start).unwrap_or("");
        return units(number, prior, range, scope.as_ref());
    }
    let prior: Vec<&str> = words(before.get(..word_start).unwrap_or(""));
    let mut out = Vec::new();
    let mut push = |label: &str, kind: CompletionItemKind, detail: &str| {
        out.push(item(label, kind, detail, range));
    };
    let names =
        |kind: Kind| -> Vec<String> { scope.as_ref().map(|s| s.names(kind)).unwrap_or_default() };
    let prev = prior.last().copied();
    let prev2 = prior
        .len()
        .checked_sub(2)
        .and_then(|i| prior.get(i))
        .copied();
    let first = prior.first().copied();
    let ends_with_comma = before
        .get(..word_start)
        .unwrap_or("")
        .trim_end()
        .ends_with(',');
    match (prev, prev2) {
        (None, _) => {
            for k in place.block().keywords() {
                push(k, CompletionItemKind::KEYWORD, "keyword");
            }
        }
        (Some("when" | "require" | "check" | "and" | "or"), _)
        | (Some("<" | "<=" | ">" | ">="), _) => {
            for n in names(Kind::Metric) {
                push(&n, CompletionItemKind::FIELD, "metric");
            }
            if matches!(prev, Some("<" | "<=" | ">" | ">=")) {
                push("baseline", CompletionItemKind::KEYWORD, "keyword");
            }
        }
        (Some("notify"), _) => {
            for n in names(Kind::Channel) {
                push(&n, CompletionItemKind::VARIABLE, "channel");
            }
        }
        _ if prior.contains(&"notify") => {
            if ends_with_comma {
                for n in names(Kind::Channel) {
                    push(&n, CompletionItemKind::VARIABLE, "channel");
                }
            } else {
                for n in names(Kind::Message) {
                    push(&n, CompletionItemKind::CONSTANT, "message");
                }
            }
        }
        (Some("approval" | "by"), _) | (Some("="), Some("approval" | "rollback_decision")) => {
            for n in names(Kind::Role) {
                push(&n, CompletionItemKind::VARIABLE, "role");
            }
        }
        _ if first == Some("rollback_decision") && ends_with_comma => {
            for n in names(Kind::Role) {
                push(&n, CompletionItemKind::VARIABLE, "role");
            }
        }
        (Some("="), Some("requires")) => {
            for n in names(Kind::Environment) {
                push(&n, CompletionItemKind::MODULE, "environment");
            }
        }
        (Some("="), Some("strategy")) => {
            for k in ["canary", "blue_green", "rolling", "recreate", "flags_only"] {
                push(k, CompletionItemKind::KEYWORD, "strategy");
            }
            for n in names(Kind::Strategy) {
                push(&n, CompletionItemKind::FUNCTION, "named strategy");
            }
        }
        (Some("="), Some(setting @ ("rollback" | "comms" | "checklist"))) => {
            let kind = match setting {
                "rollback" => Kind::Rollback,
                "comms" => Kind::Comms,
                _ => Kind::Checklist,
            };
            for n in names(kind) {
                push(&n, CompletionItemKind::FUNCTION, kind.name());
            }
        }
        (Some("after" | "of"), _) if place.within(Block::Migrations) => {
            for n in scope.as_ref().map(Scope::migrations).unwrap_or_default() {
                push(&n, CompletionItemKind::EVENT, "migration");
            }
        }
        _ if ends_with_comma
            && matches!(first, Some("expand" | "data" | "index" | "contract"))
            && prior.contains(&"after") =>
        {
            for n in scope.as_ref().map(Scope::migrations).unwrap_or_default() {
                push(&n, CompletionItemKind::EVENT, "migration");
            }
        }
        (Some("import"), _) => {
            for (n, _) in STDLIB {
                push(n, CompletionItemKind::MODULE, "stdlib module");
            }
        }
        (Some("="), Some(setting)) => {
            let values: &[&str] = match setting {
                "provider" => &["local", "command", "kubernetes", "argo_rollouts"],
                "database" => &["sqlite", "postgres"],
                "backup" => &["pg_dump", "snapshot", "none", "run"],
                "metrics" => &["prometheus", "probe", "command"],
                "flags" => &["command", "file"],
                "risk" => &["low", "medium", "high"],
                "health" => &["http"],
                "smoke" => &["run"],
                "up" | "down" => &["sql", "file", "noop"],
                _ => &[],
            };
            for v in values {
                push(v, CompletionItemKind::KEYWORD, "keyword");
            }
        }
        _ => {}
    }
    out
}

fn item(label: &str, kind: CompletionItemKind, detail: &str, range: Range) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail.to_string()),
        filter_text: Some(label.to_string()),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(
            range,
            label.to_string(),
        ))),
        ..CompletionItem::default()
    }
}

/// The digits of a number being typed (`10`, `0.5`, `1_000`), without a unit yet.
fn number_prefix(word: &str) -> Option<&str> {
    let ok = word.starts_with(|c: char| c.is_ascii_digit())
        && word
            .chars()
            .all(|c| c.is_ascii_digit() || c == '_' || c == '.');
    ok.then_some(word)
}

const DURATIONS: &[(&str, &str)] = &[
    ("ms", "milliseconds"),
    ("s", "seconds"),
    ("m", "minutes"),
    ("h", "hours"),
    ("d", "days"),
    ("w", "weeks"),
];
const RATES: &[(&str, &str)] = &[
    ("/s", "per second"),
    ("/m", "per minute"),
    ("/h", "per hour"),
];
const PERCENT: &[(&str, &str)] = &[("%", "percent")];
const RELATIVE: &[(&str, &str)] = &[("x", "times the baseline: `2x baseline`")];

/// Units for `number` given the words before it on its line.
fn units(
    number: &str,
    prior: &str,
    range: Range,
    scope: Option<&Scope<'_>>,
) -> Vec<CompletionItem> {
    let prior_words = words(prior);
    let prev = prior_words.last().copied();
    let mut groups: Vec<&[(&str, &str)]> = match prev {
        Some(
            "for" | "every" | "timeout" | "monitor" | "keep_previous" | "downtime" | "checkins"
            | "then",
        ) => vec![DURATIONS],
        Some("step" | "batch" | "max_unavailable") => vec![PERCENT],
        Some("=") if prior_words.first() == Some(&"traffic") => vec![RATES],
        Some("<" | "<=" | ">" | ">=") => {
            // The metric on the left says the unit.
            let metric = prior_words
                .len()
                .checked_sub(2)
                .and_then(|i| prior_words.get(i))
                .copied();
            match metric.and_then(|m| scope.and_then(|s| s.metric_kind(m))) {
                Some(MetricKind::Percent) => vec![PERCENT, RELATIVE],
                Some(MetricKind::Duration) => vec![DURATIONS, RELATIVE],
                Some(MetricKind::Rate) => vec![RATES, RELATIVE],
                Some(MetricKind::Count | MetricKind::Number) => vec![RELATIVE],
                None => vec![PERCENT, DURATIONS, RATES, RELATIVE],
            }
        }
        _ if prior_words.len() >= 2 && prior_words.get(prior_words.len() - 2) == Some(&"day") => {
            vec![PERCENT]
        }
        _ => vec![DURATIONS, PERCENT, RATES, RELATIVE],
    };
    // `T-24h`, `T+30m`, `+4h`: the number follows a sign, and only durations fit.
    let trimmed = prior.trim_end_matches(['-', '+']);
    if trimmed.len() < prior.len() && (trimmed.ends_with('T') || prior.ends_with('+')) {
        groups = vec![DURATIONS];
    }
    groups
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, (unit, what))| {
            let label = format!("{number}{unit}");
            CompletionItem {
                sort_text: Some(format!("{i:02}")),
                ..item(&label, CompletionItemKind::UNIT, what, range)
            }
        })
        .collect()
}

/// Placeholders for the string opened at `open`, as valid where that string is used.
fn placeholders(
    text: &str,
    lines: &LineIndex<'_>,
    open: usize,
    offset: usize,
    place: &Place,
    scope: Option<&Scope<'_>>,
) -> Vec<CompletionItem> {
    let inside = text.get(open..offset).unwrap_or("");
    // Only right after `{` or inside `{name`.
    let Some(brace) = inside.rfind('{') else {
        return Vec::new();
    };
    let partial = inside.get(brace + 1..).unwrap_or("");
    if !partial
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Vec::new();
    }
    let line_start = text
        .get(..open)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |n| n + 1);
    let head = words(text.get(line_start..open).unwrap_or(""));
    let has = |w: &str| head.contains(&w);
    let context = if has("health") {
        Placeholders::Health
    } else if has("smoke") {
        Placeholders::Smoke
    } else if has("message") || has("notify") {
        Placeholders::Message
    } else if has("prometheus") {
        Placeholders::PrometheusQuery
    } else if has("backup") {
        Placeholders::BackupCommand
    } else if has("flags") {
        Placeholders::FlagCommand
    } else if has("image") {
        Placeholders::Image
    } else if place.block() == Block::LocalProvider && has("command") {
        Placeholders::LocalCommand
    } else if place.block() == Block::Metric || (has("command") && has("metric")) {
        Placeholders::MetricCommand
    } else if place.block() == Block::CommandProvider {
        match head.first().and_then(|a| ProviderAction::from_name(a)) {
            Some(a) => Placeholders::ProviderAction(a),
            None => Placeholders::ProviderAction(ProviderAction::Deploy),
        }
    } else if place.block() == Block::Checklist {
        Placeholders::ChecklistRun
    } else {
        Placeholders::Message
    };
    let mut names: Vec<String> = context.valid().iter().map(|s| s.to_string()).collect();
    if context == Placeholders::Message
        && let Some(s) = scope
    {
        names.extend(
            s.names(Kind::Metric)
                .into_iter()
                .filter(|n| !n.contains('.')),
        );
    }
    let range = lines.range(open + brace, offset);
    names
        .iter()
        .map(|n| {
            let label = format!("{{{n}}}");
            item(
                &label,
                CompletionItemKind::VARIABLE,
                context.describe(),
                range,
            )
        })
        .collect()
}

/// The names visible at the cursor, from an analysis.
struct Scope<'a> {
    analysis: &'a Analysis,
    /// The parameters of the named block the cursor is in.
    params: &'a [Param],
}

impl<'a> Scope<'a> {
    fn new(analysis: &'a Analysis, offset: usize) -> Self {
        let params: &[Param] = analysis
            .ast()
            .and_then(|ast| {
                ast.items.iter().find(|i| {
                    let s = i.span();
                    s.start as usize <= offset && offset <= s.end as usize
                })
            })
            .map(|item| match item {
                Item::Strategy(s) => s.params.as_slice(),
                Item::Rollback(r) => r.params.as_slice(),
                Item::Comms(c) => c.params.as_slice(),
                Item::Checklist(c) => c.params.as_slice(),
                _ => &[],
            })
            .unwrap_or(&[]);
        Scope { analysis, params }
    }

    fn names(&self, kind: Kind) -> Vec<String> {
        let names = Names::new(&self.analysis.session, &self.analysis.compiled.program);
        let mut out = names.visible_names(self.analysis.module(), self.params, kind);
        out.sort();
        out.dedup();
        out
    }

    fn migrations(&self) -> Vec<String> {
        let names = Names::new(&self.analysis.session, &self.analysis.compiled.program);
        let mut out: Vec<String> = names
            .releases()
            .flat_map(|(_, r)| r.migrations.iter().map(|m| m.name.name.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn metric_kind(&self, name: &str) -> Option<MetricKind> {
        let names = Names::new(&self.analysis.session, &self.analysis.compiled.program);
        let path = crate::syntax::ast::Path {
            segments: name
                .split('.')
                .map(|s| crate::syntax::ast::Ident {
                    name: s.to_string(),
                    span: crate::source::Span::synthetic(),
                })
                .collect(),
            span: crate::source::Span::synthetic(),
        };
        match names.lookup_kind(
            self.analysis.module(),
            self.params,
            &path,
            Some(Kind::Metric),
        )? {
            crate::resolve::Def::Metric(m) => Some(m.kind.value),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::lsp::analysis::analyze;

    const SRC: &str = r#"import std.comms
service web { health = http "http://localhost/health" }
environment staging { }
team { lead = "a@example.com" }
channel ops = stdout
metric error_rate: percent = prometheus "rate(errors[{window}])"
metric latency: duration = prometheus "latency"
release "1.0.0" {
  strategy = canary { step 100% }
}
"#;

    /// Completion labels with the text where `|` marks the cursor.
    fn labels(marked: &str) -> Vec<String> {
        let analysis = analyze(None, SRC, &HashMap::new());
        let offset = marked.find('|').unwrap();
        let text = marked.replace('|', "");
        complete(&text, offset, Some(&analysis))
            .into_iter()
            .map(|i| i.label)
            .collect()
    }

    #[test]
    fn keywords_follow_the_enclosing_block() {
        let got = labels("release \"2\" {\n  strategy = canary {\n    |\n  }\n}");
        assert_eq!(got, ["analysis", "no_data", "step"]);
        let got = labels("release \"2\" {\n  |\n}");
        assert!(got.contains(&"migrations".to_string()), "{got:?}");
        let got = labels("|");
        assert!(got.contains(&"release".to_string()), "{got:?}");
        let got = labels("environment e {\n  provider = kubernetes {\n    |");
        assert!(got.contains(&"namespace".to_string()), "{got:?}");
    }

    #[test]
    fn names_in_scope_where_names_go() {
        let got = labels("rollback r {\n  auto when |");
        assert!(
            got.starts_with(&["error_rate".to_string(), "latency".to_string()]),
            "{got:?}"
        );
        assert!(got.contains(&"std.http.latency_p95".to_string()), "{got:?}");
        let got = labels("comms c {\n  on done notify |");
        assert_eq!(got, ["ops"]);
        let got = labels("comms c {\n  on done notify ops std.comms.d|");
        assert!(got.contains(&"std.comms.done".to_string()), "{got:?}");
        let got = labels("environment e {\n  approval = |");
        assert_eq!(got, ["lead"]);
    }

    #[test]
    fn units_follow_the_metric_on_the_left() {
        let got = labels("rollback r {\n  auto when latency > 50|");
        assert_eq!(got[..6], ["50ms", "50s", "50m", "50h", "50d", "50w"]);
        let got = labels("rollback r {\n  auto when error_rate > 5|");
        assert_eq!(got[0], "5%");
        let got = labels("release \"2\" {\n  strategy = canary { step 10% for 1|");
        assert_eq!(got[0], "1ms");
        let got = labels("release \"2\" {\n  comms { at T-2|");
        assert_eq!(got, ["2ms", "2s", "2m", "2h", "2d", "2w"]);
    }

    #[test]
    fn placeholders_inside_strings() {
        let got = labels("service s { smoke = run \"curl {|");
        assert!(got.contains(&"{url}".to_string()), "{got:?}");
        assert!(!got.contains(&"{reason}".to_string()), "{got:?}");
        let got = labels("message m = \"{service} at {we|");
        assert!(got.contains(&"{weight}".to_string()), "{got:?}");
        assert!(got.contains(&"{error_rate}".to_string()), "{got:?}");
        // Outside a brace, nothing.
        assert!(labels("message m = \"plain |").is_empty());
        // Nor in a comment.
        assert!(labels("# step 1|").is_empty());
    }
}
