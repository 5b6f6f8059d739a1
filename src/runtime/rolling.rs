//! A rolling batch's health, judged as `rolling { … }` declares it: after a batch the
//! executor probes every `health every D`; an instance is healthy after `healthy N` passing
//! checks in a row and out of service after `unhealthy N` failing ones. The batch is done
//! when every instance is healthy; it fails at once when more instances are out of service
//! than `max_unavailable` allows, and when `timeout D` passes before every instance is
//! healthy.
//!
//! Providers that see instances (the local one) report each; the others report the service
//! as a whole, and the service out of service is every instance out of service, which no
//! `max_unavailable` below the instance count allows. The judging is pure (the executor
//! probes, sleeps and journals), so the counting is tested without processes.

use std::collections::{BTreeMap, BTreeSet};

use crate::lower::{BatchHealth, fmt_ms};

use super::world::InstanceHealth;

/// The name under which a provider's whole-service check is counted.
const SERVICE: &str = "the service";

/// What one round of checks means for the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every instance passed `healthy` checks in a row: the batch is done.
    Healthy(String),
    /// Not yet healthy; each line is an instance that has just gone out of service while the
    /// batch may still tolerate it (journaled, not fatal).
    Waiting(Vec<String>),
    /// More instances out of service than `max_unavailable` allows.
    Failed(String),
}

/// Passing and failing checks in a row, per instance.
#[derive(Debug, Default, Clone, Copy)]
struct Streak {
    passes: u64,
    failures: u64,
}

/// The health of one batch, check by check.
pub(crate) struct BatchWatch {
    health: BatchHealth,
    max_unavailable: u64,
    streaks: BTreeMap<String, Streak>,
    /// The latest failure of each instance, for the messages.
    last_error: BTreeMap<String, String>,
    /// Instances already reported out of service (each is journaled once).
    reported: BTreeSet<String>,
    whole_service: bool,
}

impl BatchWatch {
    pub(crate) fn new(health: BatchHealth, max_unavailable: u64) -> BatchWatch {
        BatchWatch {
            health,
            max_unavailable,
            streaks: BTreeMap::new(),
            last_error: BTreeMap::new(),
            reported: BTreeSet::new(),
            whole_service: false,
        }
    }

    /// Counts one round of checks. Instances no longer reported (old ones the batch stopped)
    /// are forgotten: they serve nothing any more.
    pub(crate) fn observe(&mut self, checks: &[InstanceHealth]) -> Verdict {
        let name = |c: &InstanceHealth| c.instance.clone().unwrap_or_else(|| SERVICE.into());
        let names: BTreeSet<String> = checks.iter().map(name).collect();
        self.streaks.retain(|k, _| names.contains(k));
        self.reported.retain(|k| names.contains(k));
        self.whole_service = checks.iter().any(|c| c.instance.is_none());
        for c in checks {
            let n = name(c);
            let s = self.streaks.entry(n.clone()).or_default();
            match &c.result {
                Ok(_) => {
                    s.passes = s.passes.saturating_add(1);
                    s.failures = 0;
                    self.last_error.remove(&n);
                    // Back in service: a later failure streak is reported again.
                    self.reported.remove(&n);
                }
                Err(e) => {
                    s.failures = s.failures.saturating_add(1);
                    s.passes = 0;
                    self.last_error.insert(n, e.clone());
                }
            }
        }
        let out: Vec<String> = self
            .streaks
            .iter()
            .filter(|(_, s)| s.failures >= self.health.unhealthy)
            .map(|(n, _)| n.clone())
            .collect();
        let out_count = if self.whole_service && !out.is_empty() {
            // The platform's answer is about every instance at once.
            u64::MAX
        } else {
            u64::try_from(out.len()).unwrap_or(u64::MAX)
        };
        if out_count > self.max_unavailable {
            let who = if self.whole_service {
                format!(
                    "{SERVICE} is out of service ({} failing checks in a row)",
                    self.health.unhealthy
                )
            } else {
                format!(
                    "{} instance(s) out of service ({} failing checks in a row), more than max_unavailable {}",
                    out.len(),
                    self.health.unhealthy,
                    self.max_unavailable
                )
            };
            return Verdict::Failed(format!("{who}: {}", self.errors(&out)));
        }
        if !self.streaks.is_empty()
            && self
                .streaks
                .values()
                .all(|s| s.passes >= self.health.healthy)
        {
            let names: Vec<&str> = self.streaks.keys().map(String::as_str).collect();
            return Verdict::Healthy(format!(
                "healthy after {} passing check(s) in a row: {}",
                self.health.healthy,
                names.join(", ")
            ));
        }
        let newly: Vec<String> = out
            .into_iter()
            .filter(|n| !self.reported.contains(n))
            .collect();
        let notes = newly
            .iter()
            .map(|n| {
                format!(
                    "{n} out of service ({} failing checks in a row; max_unavailable {}): {}",
                    self.health.unhealthy,
                    self.max_unavailable,
                    self.last_error.get(n).map(String::as_str).unwrap_or("-")
                )
            })
            .collect();
        self.reported.extend(newly);
        Verdict::Waiting(notes)
    }

    /// Why the batch failed when its `timeout` passed before every instance was healthy.
    pub(crate) fn timed_out(&self) -> String {
        let pending: Vec<String> = self
            .streaks
            .iter()
            .filter(|(_, s)| s.passes < self.health.healthy)
            .map(|(n, s)| match self.last_error.get(n) {
                Some(e) => format!("{n} (failing: {e})"),
                None => format!(
                    "{n} ({} of {} passing checks)",
                    s.passes, self.health.healthy
                ),
            })
            .collect();
        let pending = if pending.is_empty() {
            "no instance answered".to_string()
        } else {
            pending.join(", ")
        };
        format!(
            "not healthy within {} ({} passing checks in a row needed): {pending}",
            fmt_ms(self.health.timeout_ms),
            self.health.healthy
        )
    }

    fn errors(&self, names: &[String]) -> String {
        names
            .iter()
            .map(|n| match self.last_error.get(n) {
                Some(e) => format!("{n}: {e}"),
                None => n.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn health(healthy: u64, unhealthy: u64) -> BatchHealth {
        BatchHealth {
            every_ms: 1_000,
            timeout_ms: 30_000,
            healthy,
            unhealthy,
        }
    }

    fn checks(results: &[(&str, bool)]) -> Vec<InstanceHealth> {
        results
            .iter()
            .map(|(n, ok)| InstanceHealth {
                instance: (*n != "service").then(|| n.to_string()),
                result: if *ok {
                    Ok("200".into())
                } else {
                    Err(format!("{n} answered 503"))
                },
            })
            .collect()
    }

    #[test]
    fn an_instance_is_healthy_after_the_passes_in_a_row_and_a_failure_starts_over() {
        let mut w = BatchWatch::new(health(2, 3), 1);
        assert_eq!(
            w.observe(&checks(&[("a", true), ("b", true)])),
            Verdict::Waiting(vec![])
        );
        assert_eq!(
            w.observe(&checks(&[("a", true), ("b", false)])),
            Verdict::Waiting(vec![])
        );
        assert_eq!(
            w.observe(&checks(&[("a", true), ("b", true)])),
            Verdict::Waiting(vec![])
        );
        let Verdict::Healthy(d) = w.observe(&checks(&[("a", true), ("b", true)])) else {
            panic!("b passed twice in a row");
        };
        assert_eq!(d, "healthy after 2 passing check(s) in a row: a, b");
    }

    #[test]
    fn instances_out_of_service_up_to_max_unavailable_wait_and_one_more_fails() {
        let mut w = BatchWatch::new(health(1, 2), 1);
        let one_down = checks(&[("a", false), ("b", true), ("c", false)]);
        assert_eq!(w.observe(&one_down), Verdict::Waiting(vec![]));
        // `a` and `c` reach two failures in a row together: two out of service, one allowed.
        let Verdict::Failed(d) = w.observe(&one_down) else {
            panic!("two out of service with max_unavailable 1");
        };
        assert_eq!(
            d,
            "2 instance(s) out of service (2 failing checks in a row), more than max_unavailable 1: a: a answered 503; c: c answered 503"
        );
        let mut w = BatchWatch::new(health(1, 2), 1);
        let a_down = checks(&[("a", false), ("b", true)]);
        assert_eq!(w.observe(&a_down), Verdict::Waiting(vec![]));
        let Verdict::Waiting(notes) = w.observe(&a_down) else {
            panic!("one out of service is allowed");
        };
        assert_eq!(
            notes,
            ["a out of service (2 failing checks in a row; max_unavailable 1): a answered 503"]
        );
        // Reported once, not at every check.
        assert_eq!(w.observe(&a_down), Verdict::Waiting(vec![]));
        assert!(w.timed_out().contains("a (failing: a answered 503)"));
    }

    #[test]
    fn the_service_as_a_whole_out_of_service_fails_whatever_max_unavailable() {
        let mut w = BatchWatch::new(health(1, 2), 3);
        assert_eq!(
            w.observe(&checks(&[("service", false)])),
            Verdict::Waiting(vec![])
        );
        let Verdict::Failed(d) = w.observe(&checks(&[("service", false)])) else {
            panic!("the whole service is down");
        };
        assert_eq!(
            d,
            "the service is out of service (2 failing checks in a row): the service: service answered 503"
        );
    }

    #[test]
    fn instances_the_batch_stopped_are_forgotten() {
        let mut w = BatchWatch::new(health(1, 1), 0);
        assert!(matches!(
            w.observe(&checks(&[("old", true), ("new", true)])),
            Verdict::Healthy(_)
        ));
        let mut w = BatchWatch::new(health(2, 3), 0);
        w.observe(&checks(&[("old", false), ("new", true)]));
        let Verdict::Healthy(d) = w.observe(&checks(&[("new", true)])) else {
            panic!("only `new` is left and it passed twice");
        };
        assert!(d.ends_with(": new"), "{d}");
    }

    #[test]
    fn a_timeout_names_what_is_not_healthy_yet() {
        let mut w = BatchWatch::new(health(3, 5), 1);
        w.observe(&checks(&[("a", true), ("b", false)]));
        assert_eq!(
            w.timed_out(),
            "not healthy within 30s (3 passing checks in a row needed): a (1 of 3 passing checks), b (failing: b answered 503)"
        );
        let w = BatchWatch::new(health(3, 5), 1);
        assert!(w.timed_out().ends_with(": no instance answered"));
    }
}
