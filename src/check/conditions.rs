//! Conditions: a metric compared with a value of its kind, or relative to `baseline`.

use super::{Checker, Scope};
use crate::diagnostics::errors::Error;
use crate::resolve::{Def, Kind};
use crate::syntax::ast::*;

/// The unit kind of a literal operand, in words.
pub fn value_kind_name(o: &Operand) -> &'static str {
    match o {
        Operand::Duration(_) => "duration",
        Operand::Percent(_) => "percent",
        Operand::Rate(_) => "rate",
        Operand::Number(_) => "number",
        Operand::TimesBaseline(_) | Operand::PercentOfBaseline(_) | Operand::Baseline(_) => {
            "baseline"
        }
        Operand::Name(_) => "metric",
    }
}

fn example(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Percent => "1%",
        MetricKind::Duration => "500ms",
        MetricKind::Rate => "100/s",
        MetricKind::Count | MetricKind::Number => "10",
    }
}

impl<'a> Checker<'a, '_> {
    pub(super) fn condition(&mut self, c: &Condition, scope: Scope<'a>) {
        match c {
            Condition::And(parts, _) | Condition::Or(parts, _) => {
                for p in parts {
                    self.condition(p, scope);
                }
            }
            Condition::Compare { lhs, rhs, span, .. } => {
                let path = match lhs {
                    Operand::Name(p) => p,
                    Operand::Baseline(s) => {
                        self.err(Error::BaselineOnLeft { span: *s });
                        return;
                    }
                    _ => {
                        self.err(Error::NoMetricInComparison { span: *span });
                        return;
                    }
                };
                let def = self.resolve(scope, path, Kind::Metric);
                let kind = match def {
                    Some(Def::Metric(m)) => Some((m.kind.value, m.name.name.as_str())),
                    // A metric parameter's kind is known only where the block is used.
                    _ => None,
                };
                self.rhs(rhs, kind, path);
            }
        }
    }

    fn rhs(&mut self, rhs: &Operand, metric: Option<(MetricKind, &str)>, path: &Path) {
        match rhs {
            Operand::Duration(d) => self.duration(d, false, "a threshold"),
            Operand::Percent(p) if matches!(metric, Some((MetricKind::Percent, _))) => {
                self.percent(p, "threshold")
            }
            Operand::PercentOfBaseline(p) if p.value < 0.0 => self.percent(p, "share of baseline"),
            Operand::TimesBaseline(m) if m.value <= 0.0 => self.err(Error::MustBePositive {
                span: m.span,
                what: "a baseline multiplier",
            }),
            _ => {}
        }
        let Some((kind, name)) = metric else {
            return;
        };
        let fits = match rhs {
            Operand::TimesBaseline(_) | Operand::PercentOfBaseline(_) | Operand::Baseline(_) => {
                true
            }
            Operand::Percent(_) => kind == MetricKind::Percent,
            Operand::Duration(_) => kind == MetricKind::Duration,
            Operand::Rate(_) => kind == MetricKind::Rate,
            Operand::Number(_) => matches!(
                kind,
                MetricKind::Rate | MetricKind::Count | MetricKind::Number
            ),
            Operand::Name(_) => false,
        };
        if !fits {
            self.err(Error::TypeMismatch {
                span: rhs.span(),
                metric: name.to_string(),
                metric_span: path.span,
                metric_kind: kind.name(),
                value_kind: value_kind_name(rhs),
                example: example(kind),
            });
        }
    }
}
