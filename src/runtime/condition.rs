//! Conditions as the plan writes them (`error_rate < 1% and latency_p95 < 200ms`,
//! `latency_p95 > 2x baseline`), parsed back into a small tree and evaluated against metric
//! values.
//!
//! The plan carries conditions in source notation so that what a reviewer reads is what runs;
//! the runtime parses that notation again instead of trusting a second encoding. Values are
//! normalised to the units metric sources report: percentages as numbers of percent (`5%` is
//! `5.0`), durations in milliseconds, rates per second.

use std::fmt;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    Compare { lhs: Operand, op: Op, rhs: Operand },
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Metric(String),
    /// `baseline`: the baseline of the metric on the other side.
    Baseline,
    Value(f64),
    /// `2x baseline`
    TimesBaseline(f64),
    /// `80% of baseline`
    PercentOfBaseline(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A condition the runtime cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConditionError(pub(crate) String);

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What evaluating needs: a metric's current value and its baseline (either may be missing).
pub(crate) trait Values {
    fn value(&self, metric: &str) -> Option<f64>;
    fn baseline(&self, metric: &str) -> Option<f64>;
}

impl Condition {
    /// Every metric the condition reads, in order, without repeats.
    pub(crate) fn metrics(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<String>) {
        match self {
            Condition::Compare { lhs, rhs, .. } => {
                for o in [lhs, rhs] {
                    if let Operand::Metric(m) = o
                        && !out.contains(m)
                    {
                        out.push(m.clone());
                    }
                }
            }
            Condition::And(parts) | Condition::Or(parts) => {
                for p in parts {
                    p.collect(out);
                }
            }
        }
    }

    /// Whether any operand is relative to a baseline.
    pub(crate) fn uses_baseline(&self) -> bool {
        match self {
            Condition::Compare { lhs, rhs, .. } => [lhs, rhs].iter().any(|o| {
                matches!(
                    o,
                    Operand::Baseline | Operand::TimesBaseline(_) | Operand::PercentOfBaseline(_)
                )
            }),
            Condition::And(parts) | Condition::Or(parts) => parts.iter().any(|p| p.uses_baseline()),
        }
    }

    /// `Some(true|false)`, or `None` when a value it needs is missing (the `no_data` policy
    /// decides). `and`/`or` short-circuit on a known result, so one missing metric does not
    /// hide a breach of another.
    pub(crate) fn eval(&self, v: &dyn Values) -> Option<bool> {
        match self {
            Condition::Compare { lhs, op, rhs } => {
                let metric = match (lhs, rhs) {
                    (Operand::Metric(m), _) | (_, Operand::Metric(m)) => Some(m.as_str()),
                    _ => None,
                };
                let a = operand(lhs, metric, v)?;
                let b = operand(rhs, metric, v)?;
                Some(match op {
                    Op::Lt => a < b,
                    Op::Le => a <= b,
                    Op::Gt => a > b,
                    Op::Ge => a >= b,
                    Op::Eq => (a - b).abs() < f64::EPSILON,
                    Op::Ne => (a - b).abs() >= f64::EPSILON,
                })
            }
            Condition::And(parts) => {
                let mut unknown = false;
                for p in parts {
                    match p.eval(v) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                if unknown { None } else { Some(true) }
            }
            Condition::Or(parts) => {
                let mut unknown = false;
                for p in parts {
                    match p.eval(v) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if unknown { None } else { Some(false) }
            }
        }
    }
}

fn operand(o: &Operand, metric: Option<&str>, v: &dyn Values) -> Option<f64> {
    match o {
        Operand::Metric(m) => v.value(m),
        Operand::Value(x) => Some(*x),
        Operand::Baseline => v.baseline(metric?),
        Operand::TimesBaseline(k) => v.baseline(metric?).map(|b| b * k),
        Operand::PercentOfBaseline(p) => v.baseline(metric?).map(|b| b * p / 100.0),
    }
}

/// Parses a condition in the plan's notation.
pub(crate) fn parse(text: &str) -> Result<Condition, ConditionError> {
    let tokens = tokenize(text)?;
    // A plan given with `--plan` is input like any other: its parentheses are bounded as the
    // compiler bounds them, so the recursive descent below cannot exhaust the stack.
    let mut depth = 0usize;
    for t in &tokens {
        match t.as_str() {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > crate::syntax::MAX_NESTING {
            return Err(ConditionError(format!(
                "condition nested too deeply (more than {} parentheses)",
                crate::syntax::MAX_NESTING
            )));
        }
    }
    let mut p = Parser { tokens, pos: 0 };
    let c = p.or()?;
    if p.pos != p.tokens.len() {
        return Err(ConditionError(format!(
            "unexpected `{}` in condition `{text}`",
            p.tokens.get(p.pos).map(|t| t.as_str()).unwrap_or("")
        )));
    }
    Ok(c)
}

/// A trigger guard as the plan writes it: `auto when COND for 10s`.
pub(crate) fn split_trigger(text: &str) -> Option<(&str, &str)> {
    let rest = text
        .strip_prefix("auto when ")
        .or_else(|| text.strip_prefix("manual when "))?;
    Some(match rest.rfind(" for ") {
        Some(i) => (
            rest.get(..i).unwrap_or(rest),
            rest.get(i + 5..).unwrap_or(""),
        ),
        None => (rest, ""),
    })
}

fn tokenize(text: &str) -> Result<Vec<String>, ConditionError> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push(c.to_string());
            i += 1;
        } else if "<>=!".contains(c) {
            let mut s = c.to_string();
            if chars.get(i + 1) == Some(&'=') {
                s.push('=');
                i += 1;
            }
            out.push(s);
            i += 1;
        } else {
            let start = i;
            while let Some(&d) = chars.get(i) {
                if d.is_whitespace() || "()<>=!".contains(d) {
                    break;
                }
                i += 1;
            }
            out.push(chars.get(start..i).unwrap_or(&[]).iter().collect());
        }
    }
    if out.is_empty() {
        return Err(ConditionError("empty condition".into()));
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<String>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(|s| s.as_str())
    }
    fn next(&mut self) -> Option<String> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some("or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::Or(parts)
        })
    }
    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut parts = vec![self.atom()?];
        while self.peek() == Some("and") {
            self.pos += 1;
            parts.push(self.atom()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::And(parts)
        })
    }
    fn atom(&mut self) -> Result<Condition, ConditionError> {
        if self.peek() == Some("(") {
            self.pos += 1;
            let c = self.or()?;
            if self.next().as_deref() != Some(")") {
                return Err(ConditionError("missing `)`".into()));
            }
            return Ok(c);
        }
        let lhs = self.operand()?;
        let op = match self.next().as_deref() {
            Some("<") => Op::Lt,
            Some("<=") => Op::Le,
            Some(">") => Op::Gt,
            Some(">=") => Op::Ge,
            Some("==") => Op::Eq,
            Some("!=") => Op::Ne,
            other => {
                return Err(ConditionError(format!(
                    "expected a comparison, found `{}`",
                    other.unwrap_or("end")
                )));
            }
        };
        let rhs = self.operand()?;
        Ok(Condition::Compare { lhs, op, rhs })
    }
    fn operand(&mut self) -> Result<Operand, ConditionError> {
        let Some(t) = self.next() else {
            return Err(ConditionError("missing operand".into()));
        };
        if t == "baseline" {
            return Ok(Operand::Baseline);
        }
        if let Some(k) = t.strip_suffix('x')
            && let Ok(k) = k.parse::<f64>()
            && self.peek() == Some("baseline")
        {
            self.pos += 1;
            return Ok(Operand::TimesBaseline(k));
        }
        if let Some(p) = t.strip_suffix('%')
            && let Ok(p) = p.parse::<f64>()
        {
            if self.peek() == Some("of") {
                self.pos += 1;
                if self.next().as_deref() != Some("baseline") {
                    return Err(ConditionError("expected `baseline` after `of`".into()));
                }
                return Ok(Operand::PercentOfBaseline(p));
            }
            return Ok(Operand::Value(p));
        }
        if let Some(v) = quantity(&t) {
            return Ok(Operand::Value(v));
        }
        if t.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        {
            // `std.http.error_rate` and `error_rate` name the same measurement.
            let name = t.rsplit('.').next().unwrap_or(&t).to_string();
            return Ok(Operand::Metric(name));
        }
        Err(ConditionError(format!("cannot read `{t}`")))
    }
}

/// A number, a duration (in ms) or a rate (per second).
fn quantity(t: &str) -> Option<f64> {
    if let Ok(v) = t.parse::<f64>() {
        return Some(v);
    }
    if let Some((amount, per)) = t.split_once('/') {
        let a: f64 = amount.parse().ok()?;
        return match per {
            "s" => Some(a),
            "m" => Some(a / 60.0),
            "h" => Some(a / 3600.0),
            _ => None,
        };
    }
    duration_ms(t).map(|d| d as f64)
}

/// `1m30s` → 90000; `500ms` → 500. Used for conditions, trigger windows and scenarios.
pub(crate) fn duration_ms(t: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = t;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: u64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let (unit, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            let u = match rest.chars().next()? {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                'w' => 604_800_000,
                _ => return None,
            };
            (u, 1)
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        rest = rest.get(len..)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct V;
    impl Values for V {
        fn value(&self, m: &str) -> Option<f64> {
            match m {
                "error_rate" => Some(2.0),
                "latency_p95" => Some(300.0),
                _ => None,
            }
        }
        fn baseline(&self, m: &str) -> Option<f64> {
            (m == "latency_p95").then_some(100.0)
        }
    }

    #[test]
    fn parses_and_evaluates() {
        let c = parse("error_rate < 1% and latency_p95 < 200ms").unwrap();
        assert_eq!(c.eval(&V), Some(false));
        assert_eq!(c.metrics(), vec!["error_rate", "latency_p95"]);
        assert_eq!(
            parse("latency_p95 > 2x baseline").unwrap().eval(&V),
            Some(true)
        );
        assert_eq!(
            parse("latency_p95 < 80% of baseline").unwrap().eval(&V),
            Some(false)
        );
        assert_eq!(parse("signups < 10/s").unwrap().eval(&V), None);
        assert_eq!(
            parse("signups < 10/s or error_rate > 1%").unwrap().eval(&V),
            Some(true)
        );
        assert_eq!(
            parse("(error_rate > 1% or signups > 1) and latency_p95 >= 1m30s")
                .unwrap()
                .eval(&V),
            Some(false)
        );
    }

    #[test]
    fn triggers_and_durations() {
        assert_eq!(
            split_trigger("auto when error_rate > 5% for 10s"),
            Some(("error_rate > 5%", "10s"))
        );
        assert_eq!(duration_ms("1m30s"), Some(90_000));
        assert_eq!(duration_ms("500ms"), Some(500));
        assert_eq!(duration_ms("7d"), Some(604_800_000));
        assert_eq!(duration_ms("x"), None);
        assert!(parse("error_rate <").is_err());
    }
}
