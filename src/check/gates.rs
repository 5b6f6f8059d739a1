//! Pause points: `approval after PLACE by ROLE "TEXT" …` must follow a step the release's
//! plan has, in every environment. A canary has `step 1` to `step N`; a rolling update has
//! as many batches as each environment's instance count makes (so a gate after `batch 3`
//! is checked against every environment); blue/green has `preview`, `switch` and, when it
//! keeps the previous version, `keep_previous`; recreate has `recreate`; and `smoke` needs
//! the service's smoke test.

use crate::diagnostics::errors::Error;
use crate::syntax::ast::{
    CountOrPercent, Environment, GatePlace, Provider, Release, Spanned, Strategy,
};

use super::cluster::ClusterSettings;

/// How many instances a rollout replaces in an environment: the local provider's or the
/// cluster's `replicas`, else 3 (the `command` provider does not say).
pub(crate) fn environment_instances(env: &Environment) -> u64 {
    known_instances(env).unwrap_or(DEFAULT_INSTANCES)
}

/// The instances an environment runs, where deployc runs them: the local provider's
/// `replicas` (3 when not given, as it starts them), the cluster's `replicas` when given;
/// `None` for the `command` provider, whose instances deployc does not know.
pub(crate) fn known_instances(env: &Environment) -> Option<u64> {
    env.provider.iter().find_map(|p| match p {
        Provider::Local { replicas, .. } => {
            Some(replicas.first().map_or(DEFAULT_INSTANCES, |r| r.value))
        }
        Provider::Cluster { kind, settings, .. } => ClusterSettings::read(*kind, settings)
            .count("replicas")
            .map(|r| r.value),
        Provider::Command { .. } => None,
    })
}

/// Instances assumed where the program does not say.
const DEFAULT_INSTANCES: u64 = 3;

/// How many instances one rolling batch replaces, out of `instances`.
pub(crate) fn rolling_batch_size(batch: &[Spanned<CountOrPercent>], instances: u64) -> u64 {
    match batch.first().map(|b| b.value) {
        Some(CountOrPercent::Count(n)) => n.max(1),
        Some(CountOrPercent::Percent(p)) => {
            // A share of the instances, rounded up: 25% of 6 is 2 at a time, never 0.
            ((instances as f64) * p / 100.0).ceil().max(1.0) as u64
        }
        None => 1,
    }
}

/// How many batches a rolling update of `instances` takes.
pub(crate) fn rolling_batches(batch: &[Spanned<CountOrPercent>], instances: u64) -> u64 {
    instances
        .div_ceil(rolling_batch_size(batch, instances))
        .max(1)
}

/// Checks each gate of `release` against its (resolved) strategy.
pub(super) fn check(
    release: &Release,
    strategy: &Strategy,
    has_smoke: bool,
    environments: &[&Environment],
    errors: &mut Vec<Error>,
) {
    for g in &release.gates {
        let place = g.place.value;
        let valid = || valid_places(strategy, has_smoke, environments);
        let missing = |why: String| Error::GateWithoutStep {
            span: g.place.span,
            place: place.describe(),
            why,
            valid: valid(),
        };
        let other = || format!("the strategy is `{}`", strategy.name());
        match (place, strategy) {
            (GatePlace::Step(n), Strategy::Canary { steps, .. }) => {
                let count = u64::try_from(steps.len()).unwrap_or(u64::MAX);
                if n == 0 || n > count {
                    errors.push(missing(format!("the canary has {count} step(s)")));
                }
            }
            (GatePlace::Batch(n), Strategy::Rolling { batch, .. }) => {
                if n == 0 {
                    errors.push(missing("batches are counted from 1".into()));
                    continue;
                }
                // The first environment with too few batches is named: one error per gate.
                if let Some((env, count)) = environments
                    .iter()
                    .map(|e| (e, rolling_batches(batch, environment_instances(e))))
                    .find(|(_, count)| n > *count)
                {
                    errors.push(missing(format!(
                        "in environment `{}` the rolling update has {count} batch(es)",
                        env.name.name
                    )));
                }
            }
            (GatePlace::Preview | GatePlace::Switch, Strategy::BlueGreen { .. })
            | (GatePlace::Recreate, Strategy::Recreate { .. }) => {}
            (GatePlace::KeepPrevious, Strategy::BlueGreen { keep_previous, .. }) => {
                if keep_previous.is_empty() {
                    errors.push(missing(
                        "the blue/green strategy has no `keep_previous`".into(),
                    ));
                }
            }
            (GatePlace::Smoke, _) => {
                if !has_smoke {
                    errors.push(missing("the service has no `smoke` test".into()));
                }
            }
            _ => errors.push(missing(other())),
        }
    }
}

/// The places a gate of this release may follow, as written.
fn valid_places(
    strategy: &Strategy,
    has_smoke: bool,
    environments: &[&Environment],
) -> Vec<String> {
    let mut out = Vec::new();
    match strategy {
        Strategy::Canary { steps, .. } => {
            out.extend((1..=steps.len()).map(|n| format!("step {n}")));
        }
        Strategy::Rolling { batch, .. } => {
            let fewest = environments
                .iter()
                .map(|e| rolling_batches(batch, environment_instances(e)))
                .min()
                .unwrap_or(1);
            out.extend((1..=fewest).map(|n| format!("batch {n}")));
        }
        Strategy::BlueGreen { keep_previous, .. } => {
            out.push("preview".into());
            out.push("switch".into());
            if !keep_previous.is_empty() {
                out.push("keep_previous".into());
            }
        }
        Strategy::Recreate { .. } => out.push("recreate".into()),
        Strategy::FlagsOnly { .. } => {}
    }
    if has_smoke {
        out.push("smoke".into());
    }
    out
}
