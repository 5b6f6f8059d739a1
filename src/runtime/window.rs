//! The deployment window and freeze periods, checked against the clock at the start of a run:
//! `mon..fri 09:00..16:00 Europe/Berlin`, freezes as `2026-12-20..2027-01-04`.

use jiff::civil::{Date, Time, Weekday};

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}

/// `Ok(description)` inside the window and outside every freeze; `Err(why)` otherwise.
pub(crate) fn check(
    window: Option<&str>,
    freeze: &[String],
    now: jiff::Timestamp,
) -> Result<String, String> {
    let mut zone = jiff::tz::TimeZone::UTC;
    let mut notes = Vec::new();
    if let Some(w) = window {
        let parts: Vec<&str> = w.split_whitespace().collect();
        let [days, times, tz] = parts.as_slice() else {
            return Err(format!("cannot read the window `{w}`"));
        };
        zone = jiff::tz::TimeZone::get(tz).map_err(|e| format!("window time zone: {e}"))?;
        let local = now.to_zoned(zone.clone());
        let (d1, d2) = days.split_once("..").unwrap_or((days, days));
        let (t1, t2) = times
            .split_once("..")
            .ok_or_else(|| format!("cannot read the window `{w}`"))?;
        let (d1, d2) = (
            weekday(d1).ok_or_else(|| format!("day `{d1}`"))?,
            weekday(d2).ok_or_else(|| format!("day `{d2}`"))?,
        );
        let t1: Time = t1.parse().map_err(|e| format!("time `{t1}`: {e}"))?;
        // `24:00` ends the day (the language allows it as the end of a range, and
        // `00:00..24:00` is the whole day); every time of day is before it.
        let t2: Option<Time> = if t2 == "24:00" {
            None
        } else {
            Some(t2.parse().map_err(|e| format!("time `{t2}`: {e}"))?)
        };
        let day = local.weekday().to_monday_zero_offset();
        let (a, b) = (d1.to_monday_zero_offset(), d2.to_monday_zero_offset());
        let day_ok = if a <= b {
            a <= day && day <= b
        } else {
            day >= a || day <= b
        };
        let t = local.time();
        if !day_ok || t < t1 || t2.is_some_and(|t2| t >= t2) {
            return Err(format!(
                "{} is outside the deployment window {w}",
                local.strftime("%a %Y-%m-%d %H:%M %Z")
            ));
        }
        notes.push(format!("inside the window {w}"));
    }
    let today = now.to_zoned(zone).date();
    for f in freeze {
        let (a, b) = f.split_once("..").unwrap_or((f, f));
        let (a, b): (Date, Date) = (
            a.parse().map_err(|e| format!("freeze `{f}`: {e}"))?,
            b.parse().map_err(|e| format!("freeze `{f}`: {e}"))?,
        );
        if a <= today && today <= b {
            return Err(format!("{today} is in the freeze {f}"));
        }
    }
    if !freeze.is_empty() {
        notes.push("outside every freeze".into());
    }
    Ok(notes.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_freeze() {
        let t: jiff::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap(); // a Tuesday
        assert!(check(Some("mon..fri 09:00..16:00 UTC"), &[], t).is_ok());
        assert!(check(Some("sat..sun 09:00..16:00 UTC"), &[], t).is_err());
        assert!(check(Some("mon..fri 11:00..16:00 UTC"), &[], t).is_err());
        assert!(check(None, &["2026-11-30..2026-12-02".into()], t).is_err());
        assert!(check(None, &["2026-12-02".into()], t).is_ok());
    }

    #[test]
    fn a_window_ending_at_24_00_runs_to_the_end_of_the_day() {
        let late: jiff::Timestamp = "2026-12-01T23:59:30Z".parse().unwrap(); // a Tuesday
        assert!(check(Some("mon..sun 00:00..24:00 UTC"), &[], late).is_ok());
        assert!(check(Some("tue 18:00..24:00 UTC"), &[], late).is_ok());
        let early: jiff::Timestamp = "2026-12-01T17:59:00Z".parse().unwrap();
        assert!(check(Some("tue 18:00..24:00 UTC"), &[], early).is_err());
        // Midnight belongs to the next day, which this window does not include.
        let midnight: jiff::Timestamp = "2026-12-02T00:00:00Z".parse().unwrap();
        assert!(check(Some("tue 18:00..24:00 UTC"), &[], midnight).is_err());
    }
}
