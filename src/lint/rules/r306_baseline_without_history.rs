//! ## What it does
//! Flags conditions relative to `baseline` (`2x baseline`, `80% of baseline`) in an
//! environment whose metric source can neither split by version nor look back: the built-in
//! `probe` on a provider other than `local`.
//!
//! ## Why is this bad?
//! `baseline` is the same metric on the stable version. Prometheus keeps history and can
//! select the version (`{version}`, `{track}`); a `command` source is run once before the
//! deployment to capture the baseline; the probe splits by version only when deployc runs
//! both versions itself (`local`). Elsewhere the probe measures the mixed traffic of the
//! service URL, so the "baseline" is the canary's own value and the condition compares a
//! metric with itself: it never fires, or fires at random.
//!
//! ## Example
//! ```deploy
//! environment production {
//!   provider = command { deploy = "./deploy.sh {version}" }
//!   metrics  = probe every 5s
//! }
//! release "2.0.0" {
//!   rollback { auto when latency_p95 > 2x baseline for 10m }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! environment production {
//!   provider = command { deploy = "./deploy.sh {version}" }
//!   metrics  = prometheus env PROMETHEUS_URL
//! }
//! ```
//! or compare with a fixed threshold (`latency_p95 > 500ms`).

use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::lower::Action;
use crate::syntax::ast::{MetricsSource, Provider};

pub(crate) static RULE: Rule = Rule {
    code: "R306",
    name: "baseline-without-history",
    level: Level::Deny,
    category: Category::Rollback,
    summary: "a condition compares with `baseline` on a metric source that cannot provide one",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for env in ctx.names.environments() {
        let Some(source @ MetricsSource::Probe { .. }) = env.metrics.first() else {
            continue;
        };
        if env
            .provider
            .iter()
            .any(|p| matches!(p, Provider::Local { .. }))
        {
            continue;
        }
        let mut metrics: Vec<String> = Vec::new();
        let mut releases: Vec<String> = Vec::new();
        for p in ctx.plans().iter().filter(|p| p.environment == env.name.name) {
            for s in p.plan.phases.iter().flat_map(|ph| ph.steps.iter()) {
                if let Action::CaptureBaseline { metrics: m, .. } = &s.action {
                    for name in m {
                        if !metrics.contains(name) {
                            metrics.push(name.clone());
                        }
                    }
                    releases.push(format!("`{}`", p.release));
                }
            }
        }
        if metrics.is_empty() {
            continue;
        }
        let list: Vec<String> = metrics.iter().map(|m| format!("`{m}`")).collect();
        out.report(
            finding(
                format!(
                    "environment `{}` cannot measure a baseline for {}",
                    env.name.name,
                    list.join(", ")
                ),
                source.span(),
                "the probe cannot tell the stable version from the new one here",
            )
            .with_note(if releases.len() == 1 {
                format!("release {} compares with `baseline` here", releases.join(""))
            } else {
                format!("releases {} compare with `baseline` here", releases.join(", "))
            })
            .with_note(
                "the probe splits by version only with the `local` provider, which runs both versions",
            )
            .with_help(
                "use a source that selects the version, such as `metrics = prometheus …` with `{version}` in the queries, or compare with fixed thresholds",
            ),
        );
    }
}
