//! Pest pairs → AST. The only code that knows the shape of the grammar's pairs.
//!
//! The builder walks each pair's children and dispatches on their rule, so it does not
//! depend on child positions and ignores punctuation and comments wherever they appear.
//! Literal conversions that can fail (a number too large, an escape out of range) record an
//! error and produce a neutral value, so one file reports all such problems at once.

use pest::Parser as _;
use pest::iterators::Pair;

use super::ast::*;
use super::errors::syntax_error;
use crate::diagnostics::errors::Error;
use crate::source::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/deploy.pest"]
pub(crate) struct DeployParser;

type P<'i> = Pair<'i, Rule>;

/// Parses one file. On a syntax error the module is `None` and the error says where.
pub fn parse(file: FileId, src: &str) -> (Option<Module>, Vec<Error>) {
    let pairs = match DeployParser::parse(Rule::file, src) {
        Ok(p) => p,
        Err(e) => return (None, vec![syntax_error(file, src, &e)]),
    };
    let mut b = Builder {
        file,
        errors: Vec::new(),
    };
    let mut module = Module::default();
    for p in pairs.clone().flatten() {
        match p.as_rule() {
            Rule::COMMENT => module.comments.push(Comment {
                text: p.as_str().to_string(),
                span: b.span(&p),
            }),
            Rule::string | Rule::raw_string => module.strings.push(b.span(&p)),
            _ => {}
        }
    }
    for file_pair in pairs {
        for p in file_pair.into_inner() {
            if let Some(item) = b.item(p) {
                module.items.push(item);
            }
        }
    }
    attach_docs(src, &mut module);
    (Some(module), b.errors)
}

/// The doc comment of an item: the run of whole-line comments directly above it.
pub(super) fn attach_docs(src: &str, module: &mut Module) {
    // Lines are found by looking back from an offset to the newline before it: only the
    // lines of comments and items are ever looked at, so this costs what they are long, not
    // a pass over the whole file.
    let bytes = src.as_bytes();
    let line_start = |offset: usize| {
        bytes
            .get(..offset)
            .and_then(|before| before.iter().rposition(|b| *b == b'\n'))
            .map_or(0, |newline| newline + 1)
    };
    // Whole-line comments by the start of their line.
    let mut by_line = std::collections::HashMap::new();
    for c in &module.comments {
        let start = c.span.start as usize;
        let line = line_start(start);
        let whole_line = src.get(line..start).is_some_and(|s| s.trim().is_empty());
        let text = c.text.trim_start_matches('#').trim();
        if whole_line && !text.starts_with("deployc:") {
            by_line.insert(line, text.to_string());
        }
    }
    let doc_for = |span: Span| -> Option<String> {
        let mut line = line_start(span.start as usize);
        let mut lines = Vec::new();
        while line > 0 {
            line = line_start(line - 1);
            match by_line.get(&line) {
                Some(t) => lines.push(t.clone()),
                None => break,
            }
        }
        if lines.is_empty() {
            return None;
        }
        lines.reverse();
        Some(lines.join("\n"))
    };
    for item in &mut module.items {
        let doc = doc_for(item.span());
        match item {
            Item::Service(i) => i.doc = doc,
            Item::Environment(i) => i.doc = doc,
            Item::Channel(i) => i.doc = doc,
            Item::Metric(i) => i.doc = doc,
            Item::Message(i) => i.doc = doc,
            Item::Strategy(i) => i.doc = doc,
            Item::Rollback(i) => i.doc = doc,
            Item::Comms(i) => i.doc = doc,
            Item::Checklist(i) => i.doc = doc,
            Item::Release(i) => {
                i.doc = doc;
                for m in &mut i.migrations {
                    m.doc = doc_for(m.span);
                }
            }
            Item::Import(_) | Item::Team(_) => {}
        }
    }
}

fn first<'i>(p: &P<'i>, rule: Rule) -> Option<P<'i>> {
    p.clone().into_inner().find(|c| c.as_rule() == rule)
}

struct Builder {
    file: FileId,
    errors: Vec<Error>,
}

impl Builder {
    fn span(&self, p: &P) -> Span {
        let s = p.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn spanned<T>(&self, p: &P, value: T) -> Spanned<T> {
        Spanned {
            value,
            span: self.span(p),
        }
    }

    fn ident(&self, p: &P) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(p),
        }
    }

    fn path(&self, p: &P) -> Path {
        Path {
            segments: p
                .clone()
                .into_inner()
                .filter(|c| c.as_rule() == Rule::ident)
                .map(|c| self.ident(&c))
                .collect(),
            span: self.span(p),
        }
    }

    fn first<'i>(&self, p: &P<'i>, rule: Rule) -> Option<P<'i>> {
        first(p, rule)
    }

    fn idents(&self, p: &P) -> Vec<Ident> {
        p.clone()
            .into_inner()
            .filter(|c| c.as_rule() == Rule::ident)
            .map(|c| self.ident(&c))
            .collect()
    }

    /// Decodes a `string` or `raw_string` pair.
    fn string(&mut self, p: &P) -> StrLit {
        let span = self.span(p);
        if p.as_rule() == Rule::raw_string {
            let inner = p.as_str();
            let value = inner
                .get(3..inner.len().saturating_sub(3))
                .unwrap_or("")
                .to_string();
            return StrLit {
                value,
                span,
                escapes: Vec::new(),
                quote_len: 3,
            };
        }
        let raw = p.as_str();
        let body = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
        if !body.contains('\\') {
            // Most strings have no escape: the value is the body as written.
            return StrLit {
                value: body.to_string(),
                span,
                escapes: Vec::new(),
                quote_len: 1,
            };
        }
        let file = self.file;
        let errors = &mut self.errors;
        let (value, escapes) = decode_escapes(body, |at, len| {
            let start = span.start as usize + 1 + at;
            errors.push(Error::InvalidEscape {
                span: Span::new(file, start, start + len),
            });
        });
        StrLit {
            value,
            span,
            escapes,
            quote_len: 1,
        }
    }

    /// The first `string`/`raw_string` child.
    fn child_string(&mut self, p: &P) -> Option<StrLit> {
        let c = p
            .clone()
            .into_inner()
            .find(|c| matches!(c.as_rule(), Rule::string | Rule::raw_string))?;
        Some(self.string(&c))
    }

    fn strings(&mut self, p: &P) -> Vec<StrLit> {
        p.clone()
            .into_inner()
            .filter(|c| c.as_rule() == Rule::string)
            .map(|c| self.string(&c))
            .collect()
    }

    fn number_value(&mut self, p: &P, text: &str) -> f64 {
        let parsed = if text.contains('_') {
            text.replace('_', "").parse::<f64>()
        } else {
            text.parse::<f64>()
        };
        match parsed {
            Ok(v) if v.is_finite() => v,
            _ => {
                self.errors
                    .push(Error::NumberTooLarge { span: self.span(p) });
                0.0
            }
        }
    }

    fn int(&mut self, p: &P) -> Spanned<u64> {
        let text = p.as_str();
        let parsed = if text.contains('_') {
            text.replace('_', "").parse::<u64>()
        } else {
            text.parse::<u64>()
        };
        let v = parsed.unwrap_or_else(|_| {
            self.errors
                .push(Error::NumberTooLarge { span: self.span(p) });
            0
        });
        self.spanned(p, v)
    }

    fn child_int(&mut self, p: &P) -> Option<Spanned<u64>> {
        let c = self.first(p, Rule::int)?;
        Some(self.int(&c))
    }

    /// Milliseconds of `10m`, `-5s`, `T-24h` (as -24h), `+4h`.
    fn duration(&mut self, p: &P) -> Spanned<Millis> {
        let text = p.as_str();
        let (sign, rest) = match text.trim_start_matches('T').chars().next() {
            Some('-') => (-1, text.trim_start_matches('T').get(1..).unwrap_or("")),
            Some('+') => (1, text.trim_start_matches('T').get(1..).unwrap_or("")),
            _ => (1, text),
        };
        let digits_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        let (num, unit) = rest.split_at(digits_end);
        let num: String = num.chars().filter(|c| *c != '_').collect();
        let factor: i64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => 0, // `T-0`
        };
        let value = num
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .and_then(|n| n.checked_mul(sign));
        let value = value.unwrap_or_else(|| {
            self.errors
                .push(Error::NumberTooLarge { span: self.span(p) });
            0
        });
        self.spanned(p, value)
    }

    fn child_duration(&mut self, p: &P) -> Option<Spanned<Millis>> {
        let c = self.first(p, Rule::duration)?;
        Some(self.duration(&c))
    }

    fn percent(&mut self, p: &P) -> Spanned<f64> {
        let text = p.as_str().trim_end_matches('%');
        let v = self.number_value(p, text);
        self.spanned(p, v)
    }

    fn rate(&mut self, p: &P) -> Spanned<Rate> {
        let text = p.as_str();
        let (amount, unit) = text.split_once('/').unwrap_or((text, "s"));
        let amount = self.number_value(p, amount);
        let per = match unit {
            "m" => TimeUnit::Minute,
            "h" => TimeUnit::Hour,
            _ => TimeUnit::Second,
        };
        self.spanned(p, Rate { amount, per })
    }

    fn value_source(&mut self, p: &P) -> Option<ValueSource> {
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::env_ref => {
                    let var = self.first(&c, Rule::env_var)?;
                    return Some(ValueSource::Env {
                        var: var.as_str().to_string(),
                        span: self.span(&c),
                    });
                }
                Rule::string => return Some(ValueSource::Inline(self.string(&c))),
                _ => {}
            }
        }
        None
    }

    fn release_gate(&mut self, p: &P) -> Option<ReleaseGate> {
        let place_pair = self.first(p, Rule::gate_place)?;
        let place = if let Some(n) = self.first(&place_pair, Rule::gate_numbered) {
            let count = self.first(&place_pair, Rule::int)?;
            let count = self.int(&count).value;
            if n.as_str() == "batch" {
                GatePlace::Batch(count)
            } else {
                GatePlace::Step(count)
            }
        } else {
            match place_pair.as_str() {
                "preview" => GatePlace::Preview,
                "switch" => GatePlace::Switch,
                "keep_previous" => GatePlace::KeepPrevious,
                "recreate" => GatePlace::Recreate,
                _ => GatePlace::Smoke,
            }
        };
        let place = self.spanned(&place_pair, place);
        Some(ReleaseGate {
            place,
            role: self.ident(&self.first(p, Rule::ident)?),
            text: self.string(&self.first(p, Rule::string)?),
            timeout: self
                .first(p, Rule::gate_timeout)
                .and_then(|t| self.gate_timeout(&t)),
            span: self.span(p),
        })
    }

    fn gate_timeout(&mut self, p: &P) -> Option<GateTimeout> {
        let timeout = self.child_duration(p)?;
        let action = self.first(p, Rule::gate_action).map(|a| {
            let v = match a.as_str() {
                "continue" => GateAction::Continue,
                "rollback" => GateAction::Rollback,
                _ => GateAction::Abort,
            };
            self.spanned(&a, v)
        });
        Some(GateTimeout {
            timeout,
            action,
            span: self.span(p),
        })
    }

    fn run_command(&mut self, p: &P) -> Option<RunCommand> {
        let command = self.child_string(p)?;
        Some(RunCommand {
            command,
            timeout: self.child_duration(p),
            span: self.span(p),
        })
    }

    fn item(&mut self, p: P) -> Option<Item> {
        Some(match p.as_rule() {
            Rule::import => Item::Import(self.import(&p)?),
            Rule::service => Item::Service(self.service(&p)?),
            Rule::environment => Item::Environment(self.environment(&p)?),
            Rule::team => Item::Team(self.team(&p)),
            Rule::channel => Item::Channel(self.channel(&p)?),
            Rule::metric => Item::Metric(self.metric(&p)?),
            Rule::message_def => Item::Message(MessageDef {
                name: self.ident(&self.first(&p, Rule::ident)?),
                text: self.child_string(&p)?,
                doc: None,
                span: self.span(&p),
            }),
            Rule::strategy_def => {
                let name = self.ident(&self.first(&p, Rule::ident)?);
                let params = self.params(&p);
                let strategy = p
                    .clone()
                    .into_inner()
                    .find_map(|c| self.strategy_expr(&c))?;
                Item::Strategy(NamedStrategy {
                    name,
                    params,
                    strategy,
                    doc: None,
                    span: self.span(&p),
                })
            }
            Rule::rollback_def => Item::Rollback(NamedRollback {
                name: self.ident(&self.first(&p, Rule::ident)?),
                params: self.params(&p),
                triggers: self.rollback_body(&self.first(&p, Rule::rollback_body)?),
                doc: None,
                span: self.span(&p),
            }),
            Rule::comms_def => Item::Comms(NamedComms {
                name: self.ident(&self.first(&p, Rule::ident)?),
                params: self.params(&p),
                entries: self.comms_body(&self.first(&p, Rule::comms_body)?),
                doc: None,
                span: self.span(&p),
            }),
            Rule::checklist_def => Item::Checklist(NamedChecklist {
                name: self.ident(&self.first(&p, Rule::ident)?),
                params: self.params(&p),
                entries: self.checklist_body(&self.first(&p, Rule::checklist_body)?),
                doc: None,
                span: self.span(&p),
            }),
            Rule::release => Item::Release(self.release(&p)?),
            _ => return None,
        })
    }

    fn import(&mut self, p: &P) -> Option<Import> {
        let target = if let Some(s) = self.first(p, Rule::string) {
            ImportTarget::File {
                path: self.string(&s),
                alias: self.ident(&self.first(p, Rule::ident)?),
            }
        } else {
            ImportTarget::Std(self.path(&self.first(p, Rule::path)?))
        };
        Some(Import {
            target,
            span: self.span(p),
        })
    }

    fn service(&mut self, p: &P) -> Option<Service> {
        let mut s = Service {
            name: self.ident(&self.first(p, Rule::ident)?),
            health: Vec::new(),
            smoke: Vec::new(),
            url: Vec::new(),
            doc: None,
            span: self.span(p),
        };
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::health_setting => {
                    if let Some(url) = self.child_string(&c) {
                        s.health.push(HealthCheck {
                            url,
                            expect: self.child_int(&c),
                            timeout: self.child_duration(&c),
                            span: self.span(&c),
                        });
                    }
                }
                Rule::smoke_setting => {
                    if let Some(r) = self.first(&c, Rule::run_command) {
                        s.smoke.extend(self.run_command(&r));
                    }
                }
                Rule::url_setting => s.url.extend(self.child_string(&c)),
                _ => {}
            }
        }
        Some(s)
    }

    fn environment(&mut self, p: &P) -> Option<Environment> {
        let mut e = Environment::empty(self.ident(&self.first(p, Rule::ident)?), self.span(p));
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        for c in p.clone().into_inner() {
            let setting = match c.as_rule() {
                Rule::requires_setting => {
                    e.requires
                        .extend(self.first(&c, Rule::ident).map(|i| self.ident(&i)));
                    "requires"
                }
                Rule::approval_setting => {
                    if let Some(role) = self.first(&c, Rule::ident) {
                        let timeout = self
                            .first(&c, Rule::gate_timeout)
                            .and_then(|t| self.gate_timeout(&t));
                        e.approval.push(Approval {
                            role: self.ident(&role),
                            timeout,
                            span: self.span(&c),
                        });
                    }
                    "approval"
                }
                Rule::provider_setting => {
                    e.provider.extend(self.provider(&c));
                    "provider"
                }
                Rule::database_setting => {
                    e.database.extend(self.database(&c));
                    "database"
                }
                Rule::state_setting => {
                    if let Some(pg) = self.first(&c, Rule::state_postgres)
                        && let Some(url) = self.value_source(&pg)
                    {
                        e.state.push(StateStore {
                            url,
                            span: self.span(&pg),
                        });
                    }
                    "state"
                }
                Rule::backup_setting => {
                    e.backup.extend(self.backup(&c));
                    "backup"
                }
                Rule::metrics_setting => {
                    e.metrics.extend(self.metrics_source(&c));
                    "metrics"
                }
                Rule::window_setting => {
                    e.window.extend(self.window(&c));
                    "window"
                }
                Rule::freeze_setting => {
                    for r in c.clone().into_inner() {
                        if r.as_rule() == Rule::date_range {
                            e.freeze.extend(self.date_range(&r));
                        }
                    }
                    "freeze"
                }
                Rule::flags_setting => {
                    for d in c.clone().into_inner() {
                        let driver = match d.as_rule() {
                            Rule::flags_command => self.child_string(&d).map(FlagDriver::Command),
                            Rule::flags_file => self.child_string(&d).map(FlagDriver::File),
                            _ => None,
                        };
                        if let Some(driver) = driver {
                            e.flags.push((driver, self.span(&c)));
                        }
                    }
                    "flags"
                }
                Rule::env_url_setting => {
                    e.url.extend(self.child_string(&c));
                    "url"
                }
                Rule::statement_timeout => {
                    e.statement_timeout.extend(self.child_duration(&c));
                    "statement_timeout"
                }
                Rule::lock_timeout => {
                    e.lock_timeout.extend(self.child_duration(&c));
                    "lock_timeout"
                }
                Rule::production_marker => {
                    e.production = Some(self.span(&c));
                    "production"
                }
                Rule::env_release => {
                    let keyword = self
                        .first(&c, Rule::kw_release)
                        .map_or_else(|| self.span(&c), |k| self.span(&k));
                    let r = self.settings_block(&c, keyword);
                    e.release
                        .push(ReleaseDefaults::from_entries(r, keyword, self.span(&c)));
                    "release"
                }
                _ => continue,
            };
            let span = self.span(&c);
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == setting) {
                e.repeated.push((setting, *first, span));
            } else {
                seen.push((setting, span));
            }
        }
        Some(e)
    }

    fn provider(&mut self, p: &P) -> Option<Provider> {
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::local_provider => {
                    let mut command = Vec::new();
                    let mut replicas = Vec::new();
                    let mut traffic = Vec::new();
                    for e in c.clone().into_inner() {
                        match e.as_rule() {
                            Rule::local_command => command.extend(self.child_string(&e)),
                            Rule::local_replicas => replicas.extend(self.child_int(&e)),
                            Rule::local_traffic => {
                                if let Some(r) = self.first(&e, Rule::rate) {
                                    traffic.push(Traffic {
                                        rate: self.rate(&r),
                                        paths: self.strings(&e),
                                        span: self.span(&e),
                                    });
                                }
                            }
                            _ => {}
                        }
                    }
                    return Some(Provider::Local {
                        command,
                        replicas,
                        traffic,
                        span: self.span(&c),
                    });
                }
                Rule::command_provider => {
                    let mut actions = Vec::new();
                    for e in c.clone().into_inner() {
                        if e.as_rule() != Rule::command_entry {
                            continue;
                        }
                        let (Some(action), Some(command)) =
                            (self.first(&e, Rule::ident), self.child_string(&e))
                        else {
                            continue;
                        };
                        actions.push(CommandAction {
                            action: self.ident(&action),
                            command,
                            timeout: self.child_duration(&e),
                            span: self.span(&e),
                        });
                    }
                    return Some(Provider::Command {
                        actions,
                        span: self.span(&c),
                    });
                }
                Rule::kubernetes_provider | Rule::argo_provider => {
                    let kind = if c.as_rule() == Rule::kubernetes_provider {
                        ClusterKind::Kubernetes
                    } else {
                        ClusterKind::ArgoRollouts
                    };
                    let mut settings = Vec::new();
                    for e in c.clone().into_inner() {
                        if e.as_rule() != Rule::cluster_entry {
                            continue;
                        }
                        // `eq` is a token of its own: take the name and the value by rule.
                        let mut inner = e.clone().into_inner().filter(|x| {
                            matches!(
                                x.as_rule(),
                                Rule::ident
                                    | Rule::env_ref
                                    | Rule::string
                                    | Rule::duration
                                    | Rule::int
                            )
                        });
                        let (Some(name), Some(v)) = (inner.next(), inner.next()) else {
                            continue;
                        };
                        let value = match v.as_rule() {
                            Rule::env_ref => {
                                let Some(var) = self.first(&v, Rule::env_var) else {
                                    continue;
                                };
                                ClusterValue::Env {
                                    var: var.as_str().to_string(),
                                    span: self.span(&v),
                                }
                            }
                            Rule::string => ClusterValue::Text(self.string(&v)),
                            Rule::duration => ClusterValue::Duration(self.duration(&v)),
                            Rule::int => ClusterValue::Int(self.int(&v)),
                            _ => continue,
                        };
                        settings.push(ClusterSetting {
                            name: self.ident(&name),
                            value,
                            span: self.span(&e),
                        });
                    }
                    return Some(Provider::Cluster {
                        kind,
                        settings,
                        span: self.span(&c),
                    });
                }
                _ => {}
            }
        }
        None
    }

    fn database(&mut self, p: &P) -> Option<Database> {
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::sqlite_db => {
                    return Some(Database::Sqlite {
                        file: self.child_string(&c)?,
                        span: self.span(&c),
                    });
                }
                Rule::postgres_db => {
                    return Some(Database::Postgres {
                        url: self.value_source(&c)?,
                        span: self.span(&c),
                    });
                }
                _ => {}
            }
        }
        None
    }

    fn backup(&mut self, p: &P) -> Option<Backup> {
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::backup_kind => {
                    let s = self.span(&c);
                    return Some(match c.as_str() {
                        "pg_dump" => Backup::PgDump(s),
                        "snapshot" => Backup::Snapshot(s),
                        _ => Backup::None(s),
                    });
                }
                Rule::backup_run => {
                    let command = self.child_string(&c)?;
                    let verify = self
                        .first(&c, Rule::backup_verify)
                        .and_then(|v| self.child_string(&v));
                    let restore = self
                        .first(&c, Rule::backup_restore)
                        .and_then(|r| self.child_string(&r));
                    return Some(Backup::Run {
                        command,
                        verify,
                        restore,
                        span: self.span(&c),
                    });
                }
                _ => {}
            }
        }
        None
    }

    fn metrics_source(&mut self, p: &P) -> Option<MetricsSource> {
        for c in p.clone().into_inner() {
            let span = self.span(&c);
            match c.as_rule() {
                Rule::prometheus_source => {
                    return Some(MetricsSource::Prometheus {
                        url: self.value_source(&c)?,
                        timeout: self.child_duration(&c),
                        span,
                    });
                }
                Rule::probe_source => {
                    return Some(MetricsSource::Probe {
                        every: self.child_duration(&c),
                        span,
                    });
                }
                Rule::command_source => {
                    return Some(MetricsSource::Command {
                        command: self.child_string(&c)?,
                        timeout: self.child_duration(&c),
                        span,
                    });
                }
                _ => {}
            }
        }
        None
    }

    fn weekday(&self, p: &P) -> Spanned<Weekday> {
        let d = match p.as_str() {
            "mon" => Weekday::Mon,
            "tue" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            _ => Weekday::Sun,
        };
        self.spanned(p, d)
    }

    fn time_of_day(&mut self, p: &P) -> Spanned<TimeOfDay> {
        let (h, m) = p.as_str().split_once(':').unwrap_or(("0", "0"));
        let h: u32 = h.parse().unwrap_or(0);
        let m: u32 = m.parse().unwrap_or(0);
        // `24:00` is allowed as the end of a day; anything past it is not a time.
        if h > 24 || m > 59 || (h == 24 && m > 0) {
            self.errors.push(Error::InvalidTime { span: self.span(p) });
        }
        self.spanned(p, h * 60 + m)
    }

    fn window(&mut self, p: &P) -> Option<Window> {
        let days = self.first(p, Rule::weekday_range)?;
        let day_pairs: Vec<P> = days
            .clone()
            .into_inner()
            .filter(|d| d.as_rule() == Rule::weekday)
            .collect();
        let first_day = self.weekday(day_pairs.first()?);
        let last_day = day_pairs
            .get(1)
            .map(|d| self.weekday(d))
            .unwrap_or(first_day);
        let times = self.first(p, Rule::time_range)?;
        let time_pairs: Vec<P> = times
            .clone()
            .into_inner()
            .filter(|t| t.as_rule() == Rule::time_of_day)
            .collect();
        let from = self.time_of_day(time_pairs.first()?);
        let to = self.time_of_day(time_pairs.get(1)?);
        Some(Window {
            first_day,
            last_day,
            from,
            to,
            time_zone: self.child_string(p)?,
            span: self.span(p),
        })
    }

    fn date(&self, p: &P) -> Spanned<Date> {
        let mut parts = p.as_str().split('-');
        let year = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let month = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let day = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        self.spanned(p, Date { year, month, day })
    }

    fn date_range(&self, p: &P) -> Option<DateRange> {
        let dates: Vec<P> = p
            .clone()
            .into_inner()
            .filter(|d| d.as_rule() == Rule::date)
            .collect();
        let from = self.date(dates.first()?);
        let to = dates.get(1).map(|d| self.date(d)).unwrap_or(from);
        Some(DateRange {
            from,
            to,
            span: self.span(p),
        })
    }

    fn team(&mut self, p: &P) -> Team {
        let mut t = Team {
            roles: Vec::new(),
            rollback_decision: Vec::new(),
            span: self.span(p),
        };
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::role_setting => {
                    if let (Some(name), Some(who)) =
                        (self.first(&c, Rule::ident), self.child_string(&c))
                    {
                        t.roles.push(Role {
                            name: self.ident(&name),
                            who,
                            span: self.span(&c),
                        });
                    }
                }
                Rule::decision_setting => {
                    if let Some(list) = self.first(&c, Rule::ident_list) {
                        t.rollback_decision
                            .push((self.idents(&list), self.span(&c)));
                    }
                }
                _ => {}
            }
        }
        t
    }

    fn channel(&mut self, p: &P) -> Option<Channel> {
        let name = self.ident(&self.first(p, Rule::ident)?);
        let mut kind = None;
        let mut required = false;
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::slack_channel => {
                    let room = self.child_string(&c)?;
                    // The webhook is the second value: an env ref or the second string (the
                    // first string is the room, so `value_source` of the whole pair would
                    // read the room).
                    let webhook = match self.first(&c, Rule::env_ref) {
                        Some(e) => {
                            let var = self.first(&e, Rule::env_var)?;
                            ValueSource::Env {
                                var: var.as_str().to_string(),
                                span: self.span(&e),
                            }
                        }
                        None => ValueSource::Inline(self.strings(&c).into_iter().nth(1)?),
                    };
                    kind = Some(ChannelKind::Slack { room, webhook });
                }
                Rule::email_channel => {
                    let smtp = self
                        .first(&c, Rule::email_smtp)
                        .and_then(|m| self.value_source(&m));
                    let to = self.strings(&c);
                    kind = Some(ChannelKind::Email { to, smtp });
                }
                Rule::webhook_channel => {
                    kind = Some(ChannelKind::Webhook {
                        url: self.value_source(&c)?,
                    });
                }
                Rule::stdout_channel => kind = Some(ChannelKind::Stdout),
                Rule::file_channel => {
                    kind = Some(ChannelKind::File {
                        path: self.child_string(&c)?,
                    });
                }
                Rule::required_marker => required = true,
                _ => {}
            }
        }
        Some(Channel {
            name,
            kind: kind?,
            required,
            doc: None,
            span: self.span(p),
        })
    }

    fn source_kind(&self, p: &P) -> Spanned<SourceKind> {
        let k = match p.as_str() {
            "prometheus" => SourceKind::Prometheus,
            "probe" => SourceKind::Probe,
            _ => SourceKind::Command,
        };
        self.spanned(p, k)
    }

    fn per_unit(&self, p: &P) -> Option<Spanned<TimeUnit>> {
        let u = self.first(p, Rule::time_unit)?;
        let v = match u.as_str() {
            "second" => TimeUnit::Second,
            "minute" => TimeUnit::Minute,
            _ => TimeUnit::Hour,
        };
        Some(self.spanned(&u, v))
    }

    fn metric(&mut self, p: &P) -> Option<Metric> {
        let name = self.ident(&self.first(p, Rule::ident)?);
        let kind_pair = self.first(p, Rule::metric_kind)?;
        let kind = match kind_pair.as_str() {
            "percent" => MetricKind::Percent,
            "duration" => MetricKind::Duration,
            "rate" => MetricKind::Rate,
            "count" => MetricKind::Count,
            _ => MetricKind::Number,
        };
        let mut m = Metric {
            name,
            kind: self.spanned(&kind_pair, kind),
            queries: Vec::new(),
            per: None,
            doc: None,
            span: self.span(p),
        };
        for body in p.clone().into_inner() {
            if !matches!(body.as_rule(), Rule::metric_single | Rule::metric_multi) {
                continue;
            }
            for c in body.clone().into_inner() {
                match c.as_rule() {
                    Rule::metric_query | Rule::metric_query_setting => {
                        let (Some(src), Some(query)) =
                            (self.first(&c, Rule::source_kind), self.child_string(&c))
                        else {
                            continue;
                        };
                        m.queries.push(MetricQuery {
                            source: self.source_kind(&src),
                            query,
                        });
                    }
                    Rule::per_unit => m.per = self.per_unit(&c),
                    _ => {}
                }
            }
        }
        Some(m)
    }

    fn params(&self, p: &P) -> Vec<Param> {
        let Some(params) = self.first(p, Rule::params) else {
            return Vec::new();
        };
        params
            .clone()
            .into_inner()
            .filter(|c| c.as_rule() == Rule::param)
            .filter_map(|c| {
                let name = self.ident(&self.first(&c, Rule::ident)?);
                let k = self.first(&c, Rule::param_kind)?;
                let kind = match k.as_str() {
                    "channel" => ParamKind::Channel,
                    "role" => ParamKind::Role,
                    _ => ParamKind::Metric,
                };
                Some(Param {
                    name,
                    kind: self.spanned(&k, kind),
                })
            })
            .collect()
    }

    fn block_use(&self, p: &P) -> Option<BlockUse> {
        Some(BlockUse {
            path: self.path(&self.first(p, Rule::path)?),
            args: self.first(p, Rule::args).map(|a| self.idents(&a)),
            span: self.span(p),
        })
    }

    fn release(&mut self, p: &P) -> Option<Release> {
        let mut r = Release::empty(self.child_string(p)?, self.span(p));
        for c in p.clone().into_inner() {
            self.release_entry(&c, &mut r);
        }
        Some(r)
    }

    /// One entry of a release, or of a release's `environment NAME { … }` block.
    fn release_entry(&mut self, c: &P, r: &mut Release) {
        match c.as_rule() {
            Rule::risk_setting => {
                if let Some(level) = self.first(c, Rule::risk_level) {
                    let v = match level.as_str() {
                        "low" => Risk::Low,
                        "medium" => Risk::Medium,
                        _ => Risk::High,
                    };
                    r.risk.push(self.spanned(&level, v));
                }
            }
            Rule::strategy_setting => {
                for s in c.clone().into_inner() {
                    if let Some(st) = self.strategy_expr(&s) {
                        r.strategy.push(StrategyRef::Inline(st));
                    } else if s.as_rule() == Rule::block_use {
                        r.strategy
                            .extend(self.block_use(&s).map(StrategyRef::Named));
                    }
                }
            }
            Rule::migrations => {
                for m in c.clone().into_inner() {
                    if m.as_rule() == Rule::migration {
                        r.migrations.extend(self.migration(&m));
                    }
                }
            }
            Rule::flag => r.flags.extend(self.flag(c)),
            Rule::rollback_setting => {
                let span = self.span(c);
                if let Some(body) = self.first(c, Rule::rollback_body) {
                    r.rollback.push(Use::Inline {
                        body: self.rollback_body(&body),
                        span,
                    });
                } else if let Some(u) = self.first(c, Rule::block_use) {
                    r.rollback.extend(self.block_use(&u).map(Use::Named));
                }
            }
            Rule::comms_setting => {
                let span = self.span(c);
                if let Some(body) = self.first(c, Rule::comms_body) {
                    r.comms.push(Use::Inline {
                        body: self.comms_body(&body),
                        span,
                    });
                } else if let Some(u) = self.first(c, Rule::block_use) {
                    r.comms.extend(self.block_use(&u).map(Use::Named));
                }
            }
            Rule::checklist_setting => {
                let span = self.span(c);
                if let Some(body) = self.first(c, Rule::checklist_body) {
                    r.checklist.push(Use::Inline {
                        body: self.checklist_body(&body),
                        span,
                    });
                } else if let Some(u) = self.first(c, Rule::block_use) {
                    r.checklist.extend(self.block_use(&u).map(Use::Named));
                }
            }
            Rule::release_gate => r.gates.extend(self.release_gate(c)),
            Rule::release_environment => r.environments.extend(self.release_environment(c)),
            Rule::monitor => {
                if let Some(d) = self.child_duration(c) {
                    let checkins = c
                        .clone()
                        .into_inner()
                        .filter(|k| k.as_rule() == Rule::checkin)
                        .map(|k| self.duration(&k))
                        .collect();
                    r.monitor.push(Monitor {
                        duration: d,
                        checkins,
                        span: self.span(c),
                    });
                }
            }
            _ => {}
        }
    }

    /// `environment NAME { strategy …, monitor …, checklist …, flag … }` inside a release.
    fn release_environment(&mut self, p: &P) -> Option<ReleaseEnvironment> {
        let environment = self.ident(&self.first(p, Rule::ident)?);
        let r = self.settings_block(p, environment.span);
        Some(ReleaseEnvironment::from_entries(
            environment,
            r,
            self.span(p),
        ))
    }

    /// The `strategy`, `monitor`, `checklist` and `flag` entries of a block that gives an
    /// environment its own (a release's `environment NAME { … }`, an environment's
    /// `release { … }`), collected into a release-shaped value.
    fn settings_block(&mut self, p: &P, at: Span) -> Release {
        let mut r = Release::empty(
            StrLit {
                value: String::new(),
                span: at,
                escapes: Vec::new(),
                quote_len: 0,
            },
            self.span(p),
        );
        for c in p.clone().into_inner() {
            self.release_entry(&c, &mut r);
        }
        r
    }

    fn analysis_clause(&mut self, c: &P, analysis: &mut Analysis) {
        match c.as_rule() {
            Rule::analysis => {
                analysis.every = self.child_duration(c);
                analysis.span = Some(self.span(c));
                if let Some(nd) = self.first(c, Rule::no_data) {
                    analysis.no_data = self.no_data(&nd);
                }
            }
            Rule::no_data => analysis.no_data = self.no_data(c),
            _ => {}
        }
    }

    fn no_data(&mut self, p: &P) -> Option<NoData> {
        let a = self.first(p, Rule::no_data_action)?;
        let action = match a.as_str() {
            "pass" => NoDataAction::Pass,
            "pause" => NoDataAction::Pause,
            _ => NoDataAction::Fail,
        };
        Some(NoData {
            action: self.spanned(&a, action),
            after: self.child_int(p),
            span: self.span(p),
        })
    }

    fn strategy_expr(&mut self, p: &P) -> Option<Strategy> {
        let span = self.span(p);
        let empty = || Analysis {
            every: None,
            no_data: None,
            span: None,
        };
        Some(match p.as_rule() {
            Rule::canary => {
                let mut analysis = empty();
                let mut steps = Vec::new();
                for c in p.clone().into_inner() {
                    if c.as_rule() == Rule::canary_step {
                        let Some(w) = self.first(&c, Rule::percent) else {
                            continue;
                        };
                        steps.push(CanaryStep {
                            weight: self.percent(&w),
                            hold: self.child_duration(&c),
                            require: self.first(&c, Rule::condition).map(|x| self.condition(&x)),
                            span: self.span(&c),
                        });
                    } else {
                        self.analysis_clause(&c, &mut analysis);
                    }
                }
                Strategy::Canary {
                    analysis,
                    steps,
                    span,
                }
            }
            Rule::blue_green => {
                let mut analysis = empty();
                let (mut preview, mut switch, mut keep_previous) =
                    (Vec::new(), Vec::new(), Vec::new());
                for c in p.clone().into_inner() {
                    match c.as_rule() {
                        Rule::preview => preview.push(Preview {
                            hold: self.child_duration(&c),
                            require: self.first(&c, Rule::condition).map(|x| self.condition(&x)),
                            smoke: self.first(&c, Rule::smoke_marker).is_some(),
                            span: self.span(&c),
                        }),
                        Rule::switch => {
                            let approval = self.first(&c, Rule::ident).map(|role| Approval {
                                role: self.ident(&role),
                                timeout: self
                                    .first(&c, Rule::gate_timeout)
                                    .and_then(|t| self.gate_timeout(&t)),
                                span: self.span(&c),
                            });
                            switch.push(Switch {
                                approval,
                                span: self.span(&c),
                            });
                        }
                        Rule::keep_previous => keep_previous.extend(self.child_duration(&c)),
                        _ => self.analysis_clause(&c, &mut analysis),
                    }
                }
                Strategy::BlueGreen {
                    analysis,
                    preview,
                    switch,
                    keep_previous,
                    span,
                }
            }
            Rule::rolling => {
                let mut analysis = empty();
                let (mut batch, mut max_unavailable, mut health) =
                    (Vec::new(), Vec::new(), Vec::new());
                for c in p.clone().into_inner() {
                    match c.as_rule() {
                        Rule::rolling_batch => batch.extend(self.count_or_percent(&c)),
                        Rule::max_unavailable => max_unavailable.extend(self.count_or_percent(&c)),
                        Rule::rolling_health => {
                            let durations: Vec<P> = c
                                .clone()
                                .into_inner()
                                .filter(|d| d.as_rule() == Rule::duration)
                                .collect();
                            let (Some(every), Some(timeout)) =
                                (durations.first(), durations.get(1))
                            else {
                                continue;
                            };
                            let healthy = self
                                .first(&c, Rule::healthy_count)
                                .and_then(|h| self.child_int(&h));
                            let unhealthy = self
                                .first(&c, Rule::unhealthy_count)
                                .and_then(|h| self.child_int(&h));
                            health.push(RollingHealth {
                                every: self.duration(every),
                                timeout: self.duration(timeout),
                                healthy,
                                unhealthy,
                                span: self.span(&c),
                            });
                        }
                        _ => self.analysis_clause(&c, &mut analysis),
                    }
                }
                Strategy::Rolling {
                    analysis,
                    batch,
                    max_unavailable,
                    health,
                    span,
                }
            }
            Rule::recreate => Strategy::Recreate {
                downtime: p
                    .clone()
                    .into_inner()
                    .filter(|c| c.as_rule() == Rule::downtime)
                    .filter_map(|c| self.child_duration(&c))
                    .collect(),
                span,
            },
            Rule::flags_only => Strategy::FlagsOnly { span },
            _ => return None,
        })
    }

    fn count_or_percent(&mut self, p: &P) -> Option<Spanned<CountOrPercent>> {
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::percent => {
                    let v = self.percent(&c);
                    return Some(Spanned {
                        value: CountOrPercent::Percent(v.value),
                        span: v.span,
                    });
                }
                Rule::int => {
                    let v = self.int(&c);
                    return Some(Spanned {
                        value: CountOrPercent::Count(v.value),
                        span: v.span,
                    });
                }
                _ => {}
            }
        }
        None
    }

    fn migration(&mut self, p: &P) -> Option<Migration> {
        let phase_pair = self.first(p, Rule::migration_phase)?;
        let phase = match phase_pair.as_str() {
            "expand" => Phase::Expand,
            "data" => Phase::Data,
            "index" => Phase::Index,
            _ => Phase::Contract,
        };
        let mut m = Migration {
            phase: self.spanned(&phase_pair, phase),
            name: self.ident(&self.first(p, Rule::ident)?),
            after: Vec::new(),
            of: Vec::new(),
            up: Vec::new(),
            down: Vec::new(),
            batch: Vec::new(),
            batch_key: None,
            verify: Vec::new(),
            statement_timeout: Vec::new(),
            lock_timeout: Vec::new(),
            irreversible: Vec::new(),
            doc: None,
            span: self.span(p),
        };
        for c in p.clone().into_inner() {
            let span = self.span(&c);
            match c.as_rule() {
                Rule::migration_after => m.after.extend(self.idents(&c)),
                Rule::migration_of => m.of.extend(self.idents(&c)),
                Rule::up_setting => {
                    if let Some(s) = self.sql_source(&c) {
                        m.up.push((s, span));
                    }
                }
                Rule::down_setting => {
                    if let Some(n) = self.first(&c, Rule::noop) {
                        if let Some(why) = self.child_string(&n) {
                            m.down.push((Down::Noop(why), span));
                        }
                    } else if let Some(s) = self.sql_source(&c) {
                        m.down.push((Down::Sql(s), span));
                    }
                }
                Rule::batch => {
                    m.batch.extend(self.child_int(&c));
                    if let Some(key) = self.first(&c, Rule::ident) {
                        m.batch_key = Some(self.ident(&key));
                    }
                }
                Rule::verify_setting => {
                    let mut expect = None;
                    for v in c.clone().into_inner() {
                        match v.as_rule() {
                            Rule::int => {
                                let n = self.int(&v);
                                expect = Some(Spanned {
                                    value: Expected::Int(n.value),
                                    span: n.span,
                                });
                            }
                            Rule::string => {
                                let s = self.string(&v);
                                expect = Some(Spanned {
                                    value: Expected::Text(s.value),
                                    span: s.span,
                                });
                            }
                            _ => {}
                        }
                    }
                    if let (Some(query), Some(expect)) = (self.sql_source(&c), expect) {
                        m.verify.push((Verify { query, expect }, span));
                    }
                }
                Rule::statement_timeout => m.statement_timeout.extend(self.child_duration(&c)),
                Rule::lock_timeout => m.lock_timeout.extend(self.child_duration(&c)),
                Rule::irreversible => {
                    if let Some(why) = self.child_string(&c) {
                        m.irreversible.push((why, span));
                    }
                }
                _ => {}
            }
        }
        Some(m)
    }

    fn sql_source(&mut self, p: &P) -> Option<SqlSource> {
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::sql_text => return self.child_string(&c).map(SqlSource::Inline),
                Rule::sql_file => return self.child_string(&c).map(SqlSource::File),
                _ => {}
            }
        }
        None
    }

    fn flag(&mut self, p: &P) -> Option<Flag> {
        let mut f = Flag {
            name: self.ident(&self.first(p, Rule::ident)?),
            initially: Vec::new(),
            days: Vec::new(),
            remove_by: Vec::new(),
            span: self.span(p),
        };
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::flag_initially => {
                    if let Some(v) = self.first(&c, Rule::on_off) {
                        f.initially.push(self.spanned(&v, v.as_str() == "on"));
                    }
                }
                Rule::flag_day => {
                    let (Some(day), Some(pct)) =
                        (self.first(&c, Rule::int), self.first(&c, Rule::percent))
                    else {
                        continue;
                    };
                    f.days.push(FlagDay {
                        day: self.int(&day),
                        percent: self.percent(&pct),
                        segment: self.first(&c, Rule::ident).map(|s| self.ident(&s)),
                        span: self.span(&c),
                    });
                }
                Rule::flag_remove => f.remove_by.extend(self.child_int(&c)),
                _ => {}
            }
        }
        Some(f)
    }

    fn rollback_body(&mut self, p: &P) -> Vec<Trigger> {
        let mut out = Vec::new();
        for c in p.clone().into_inner() {
            if c.as_rule() != Rule::trigger {
                continue;
            }
            let (Some(k), Some(cond)) = (
                self.first(&c, Rule::trigger_kind),
                self.first(&c, Rule::condition),
            ) else {
                continue;
            };
            let kind = if k.as_str() == "manual" {
                TriggerKind::Manual
            } else {
                TriggerKind::Auto
            };
            out.push(Trigger {
                kind: self.spanned(&k, kind),
                condition: self.condition(&cond),
                hold: self.child_duration(&c),
                timeout: self
                    .first(&c, Rule::gate_timeout)
                    .and_then(|t| self.gate_timeout(&t)),
                span: self.span(&c),
            });
        }
        out
    }

    fn comms_body(&mut self, p: &P) -> Vec<CommsEntry> {
        let mut out = Vec::new();
        for c in p.clone().into_inner() {
            if c.as_rule() != Rule::comms_entry {
                continue;
            }
            let mut when = None;
            let mut channels = Vec::new();
            let mut message = None;
            for e in c.clone().into_inner() {
                match e.as_rule() {
                    Rule::comms_at => {
                        when = self
                            .first(&e, Rule::t_offset)
                            .map(|o| CommsWhen::At(self.duration(&o)))
                    }
                    Rule::comms_every => when = self.child_duration(&e).map(CommsWhen::Every),
                    Rule::comms_on => {
                        when = self
                            .first(&e, Rule::ident)
                            .map(|i| CommsWhen::On(self.ident(&i)))
                    }
                    Rule::ident_list => channels = self.idents(&e),
                    Rule::message_ref => {
                        message = if let Some(s) = self.first(&e, Rule::string) {
                            Some(MessageRef::Text(self.string(&s)))
                        } else {
                            self.first(&e, Rule::path)
                                .map(|p| MessageRef::Named(self.path(&p)))
                        };
                    }
                    _ => {}
                }
            }
            if let (Some(when), Some(message)) = (when, message) {
                out.push(CommsEntry {
                    when,
                    channels,
                    message,
                    span: self.span(&c),
                });
            }
        }
        out
    }

    fn checklist_body(&mut self, p: &P) -> Vec<ChecklistEntry> {
        let mut out = Vec::new();
        for c in p.clone().into_inner() {
            let span = self.span(&c);
            match c.as_rule() {
                Rule::check_condition => {
                    if let Some(cond) = self.first(&c, Rule::condition) {
                        out.push(ChecklistEntry::Check(self.condition(&cond), span));
                    }
                }
                Rule::check_run => {
                    if let Some(r) = self.first(&c, Rule::run_command) {
                        out.extend(self.run_command(&r).map(ChecklistEntry::Run));
                    }
                }
                Rule::check_confirm => {
                    if let (Some(text), Some(by)) =
                        (self.child_string(&c), self.first(&c, Rule::ident))
                    {
                        out.push(ChecklistEntry::Confirm {
                            text,
                            by: self.ident(&by),
                            span,
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn condition(&mut self, p: &P) -> Condition {
        let span = self.span(p);
        let mut parts: Vec<Condition> = Vec::new();
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::cond_and => parts.push(self.condition(&c)),
                Rule::condition => parts.push(self.condition(&c)),
                Rule::comparison => parts.push(self.comparison(&c)),
                _ => {}
            }
        }
        let is_or = p.as_rule() == Rule::condition;
        if parts.len() == 1
            && let Some(only) = parts.pop()
        {
            return only;
        }
        if is_or {
            Condition::Or(parts, span)
        } else {
            Condition::And(parts, span)
        }
    }

    fn comparison(&mut self, p: &P) -> Condition {
        let mut operands = Vec::new();
        let mut op = None;
        for c in p.clone().into_inner() {
            if c.as_rule() == Rule::compare_op {
                let v = match c.as_str() {
                    "<" => CompareOp::Lt,
                    "<=" => CompareOp::Le,
                    ">" => CompareOp::Gt,
                    _ => CompareOp::Ge,
                };
                op = Some(self.spanned(&c, v));
            } else if let Some(o) = self.operand(&c) {
                operands.push(o);
            }
        }
        let span = self.span(p);
        let mut it = operands.into_iter();
        let lhs = it.next().unwrap_or(Operand::Baseline(span));
        let rhs = it.next().unwrap_or(Operand::Baseline(span));
        Condition::Compare {
            lhs,
            op: op.unwrap_or(Spanned {
                value: CompareOp::Lt,
                span,
            }),
            rhs,
            span,
        }
    }

    fn operand(&mut self, c: &P) -> Option<Operand> {
        Some(match c.as_rule() {
            Rule::path => Operand::Name(self.path(c)),
            Rule::kw_baseline => Operand::Baseline(self.span(c)),
            Rule::duration => Operand::Duration(self.duration(c)),
            Rule::percent => Operand::Percent(self.percent(c)),
            Rule::rate => Operand::Rate(self.rate(c)),
            Rule::number => {
                let v = self.number_value(c, c.as_str());
                Operand::Number(self.spanned(c, v))
            }
            Rule::relative => {
                let span = self.span(c);
                if let Some(m) = self.first(c, Rule::multiplier) {
                    let v = self.number_value(&m, m.as_str().trim_end_matches('x'));
                    Operand::TimesBaseline(Spanned { value: v, span })
                } else {
                    let pc = self.first(c, Rule::percent)?;
                    let v = self.percent(&pc).value;
                    Operand::PercentOfBaseline(Spanned { value: v, span })
                }
            }
            _ => return None,
        })
    }
}

/// Decodes the body of a string that has escapes (`\n \t \r \" \\ \u{…}`; any other escaped
/// character stands for itself). Returns the value and, after each escape, (decoded offset,
/// body offset), which maps offsets in the value back to the source. A `\u{…}` that is no
/// character decodes to nothing and is reported to `bad` with its body offset and length.
/// Both parsers decode with this, so their string values cannot differ.
pub(super) fn decode_escapes(
    body: &str,
    mut bad: impl FnMut(usize, usize),
) -> (String, Vec<(u32, u32)>) {
    let mut value = String::with_capacity(body.len());
    let mut escapes = Vec::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        match e {
            'n' => value.push('\n'),
            't' => value.push('\t'),
            'r' => value.push('\r'),
            'u' => {
                let mut hex = String::new();
                for (_, h) in chars.by_ref() {
                    if h == '}' {
                        break;
                    }
                    if h != '{' {
                        hex.push(h);
                    }
                }
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => value.push(ch),
                    None => bad(i, hex.len() + 4),
                }
            }
            _ => value.push(e),
        }
        // After this escape, decoded offset `value.len()` sits at source offset `next`.
        let next = chars.peek().map(|(j, _)| *j).unwrap_or(body.len());
        escapes.push((
            u32::try_from(value.len()).unwrap_or(u32::MAX),
            u32::try_from(next).unwrap_or(u32::MAX),
        ));
    }
    (value, escapes)
}

#[cfg(test)]
mod tests {
    use crate::source::FileId;
    use crate::syntax::ast::Item;

    /// Doc comments: the whole-line comments right above an item or a migration, not a
    /// comment after code, not a suppression, not across a blank line.
    #[test]
    fn docs_are_the_comment_lines_right_above() {
        let src = "# not a doc: a blank line follows\n\n# The service.\n# Second line.\nservice s {\n}\n\nchannel c = stdout # after code\nchannel d = stdout\n# deployc: allow C501\nchannel e = stdout\n\nrelease \"1.0.0\" {\n  strategy = recreate\n  migrations {\n    # Adds a column.\n    expand m {\n      up   = sql \"SELECT 1\"\n      down = noop \"n\"\n    }\n  }\n}\n";
        for (module, what) in [
            (super::parse(FileId(0), src).0, "pest"),
            (crate::syntax::fast::parse(FileId(0), src), "fast"),
        ] {
            let module = module.unwrap_or_else(|| panic!("{what}: does not parse"));
            let docs: Vec<Option<&str>> = module
                .items
                .iter()
                .map(|i| match i {
                    Item::Service(s) => s.doc.as_deref(),
                    Item::Channel(c) => c.doc.as_deref(),
                    Item::Release(r) => r.doc.as_deref(),
                    _ => Some("?"),
                })
                .collect();
            assert_eq!(
                docs,
                [Some("The service.\nSecond line."), None, None, None, None],
                "{what}"
            );
            let Some(Item::Release(r)) = module.items.last() else {
                panic!("{what}: no release");
            };
            assert_eq!(
                r.migrations[0].doc.as_deref(),
                Some("Adds a column."),
                "{what}"
            );
        }
    }
}
