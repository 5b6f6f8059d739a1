//! Writing values back in the language's own notation (`10m`, `5%`, `T-24h`).

use crate::syntax::ast::*;

/// `90000` → `1m30s`; `0` → `0s`.
pub fn fmt_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let units: [(u64, &str); 6] = [
        (604_800_000, "w"),
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
        (1, "ms"),
    ];
    let mut rest = ms;
    let mut out = String::new();
    for (size, name) in units {
        if rest >= size {
            out.push_str(&format!("{}{name}", rest / size));
            rest %= size;
        }
    }
    out
}

/// An offset with its prefix: `T-24h`, `T-0`, `+4h`.
pub fn fmt_offset(ms: Millis, prefix: &str) -> String {
    if ms == 0 {
        return format!("{prefix}{}0", if prefix == "T" { "-" } else { "" });
    }
    let sign = if ms < 0 { "-" } else { "+" };
    let sign = if prefix == "+" { "" } else { sign };
    format!("{prefix}{sign}{}", fmt_ms(ms.unsigned_abs()))
}

/// `5` → `5%`, `0.5` → `0.5%`.
pub fn fmt_percent(v: f64) -> String {
    format!("{}%", fmt_number(v))
}

pub fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn fmt_operand(o: &Operand, name: &dyn Fn(&str) -> String) -> String {
    match o {
        Operand::Name(p) => {
            if p.segments.len() == 1 {
                name(p.last_name())
            } else {
                p.to_string_dotted()
            }
        }
        Operand::Baseline(_) => "baseline".into(),
        Operand::Duration(d) => {
            if d.value < 0 {
                format!("-{}", fmt_ms(d.value.unsigned_abs()))
            } else {
                fmt_ms(d.value.unsigned_abs())
            }
        }
        Operand::Percent(p) => fmt_percent(p.value),
        Operand::Rate(r) => format!(
            "{}/{}",
            fmt_number(r.value.amount),
            match r.value.per {
                TimeUnit::Second => "s",
                TimeUnit::Minute => "m",
                TimeUnit::Hour => "h",
            }
        ),
        Operand::Number(n) => fmt_number(n.value),
        Operand::TimesBaseline(m) => format!("{}x baseline", fmt_number(m.value)),
        Operand::PercentOfBaseline(p) => format!("{} of baseline", fmt_percent(p.value)),
    }
}

/// A condition in source notation, with metric names mapped through `name`.
pub fn fmt_condition(c: &Condition, name: &dyn Fn(&str) -> String) -> String {
    match c {
        Condition::Compare { lhs, op, rhs, .. } => format!(
            "{} {} {}",
            fmt_operand(lhs, name),
            op.value.symbol(),
            fmt_operand(rhs, name)
        ),
        Condition::And(parts, _) => parts
            .iter()
            .map(|p| match p {
                Condition::Or(..) => format!("({})", fmt_condition(p, name)),
                _ => fmt_condition(p, name),
            })
            .collect::<Vec<_>>()
            .join(" and "),
        Condition::Or(parts, _) => parts
            .iter()
            .map(|p| fmt_condition(p, name))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn fmt_time(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

pub fn fmt_window(w: &Window) -> String {
    let days = if w.first_day.value == w.last_day.value {
        w.first_day.value.name().to_string()
    } else {
        format!("{}..{}", w.first_day.value.name(), w.last_day.value.name())
    };
    format!(
        "{days} {}..{} {}",
        fmt_time(w.from.value),
        fmt_time(w.to.value),
        w.time_zone.value
    )
}

fn fmt_date(d: &Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

pub fn fmt_date_range(r: &DateRange) -> String {
    if r.from.value == r.to.value {
        fmt_date(&r.from.value)
    } else {
        format!("{}..{}", fmt_date(&r.from.value), fmt_date(&r.to.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_in_notation() {
        assert_eq!(fmt_ms(90_000), "1m30s");
        assert_eq!(fmt_ms(86_400_000), "1d");
        assert_eq!(fmt_ms(500), "500ms");
        assert_eq!(fmt_offset(-86_400_000, "T"), "T-1d");
        assert_eq!(fmt_offset(0, "T"), "T-0");
        assert_eq!(fmt_offset(14_400_000, "+"), "+4h");
    }
}
