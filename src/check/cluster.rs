//! The settings of the cluster providers (`kubernetes { … }`, `argo_rollouts { … }`): which
//! names each takes, the kind of value of each, and what a strategy needs from them. The
//! parsers keep the settings as written so that one table here decides, and lowering reads
//! the checked settings through [`ClusterSettings::read`] instead of deciding again.

use std::collections::HashMap;

use crate::diagnostics::errors::Error;
use crate::resolve::suggest;
use crate::source::Span;
use crate::syntax::ast::*;

/// The kind of value a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    /// A Kubernetes object name (DNS-1123 label).
    Name,
    /// A container image reference with placeholders.
    Image,
    /// Free text.
    Text,
    /// A path written inline or `env VAR`.
    PathOrEnv,
    /// A whole number greater than zero.
    Count,
    /// A duration greater than zero.
    Duration,
}

impl Value {
    fn expected(self) -> (&'static str, &'static str) {
        match self {
            Value::Name => ("a Kubernetes name in quotes", "namespace = \"checkout\""),
            Value::Image => (
                "an image in quotes",
                "image = \"registry.example.com/app:{version}\"",
            ),
            Value::Text => ("text in quotes", "context = \"prod-eu\""),
            Value::PathOrEnv => (
                "a path in quotes or `env VAR`",
                "kubeconfig = env KUBECONFIG",
            ),
            Value::Count => ("a whole number", "replicas = 10"),
            Value::Duration => ("a duration", "timeout = 10m"),
        }
    }
}

struct Spec {
    name: &'static str,
    value: Value,
    required: bool,
}

const fn spec(name: &'static str, value: Value, required: bool) -> Spec {
    Spec {
        name,
        value,
        required,
    }
}

const KUBERNETES: &[Spec] = &[
    spec("namespace", Value::Name, true),
    spec("deployment", Value::Name, true),
    spec("container", Value::Name, false),
    spec("image", Value::Image, true),
    spec("service", Value::Name, false),
    spec("preview_service", Value::Name, false),
    spec("replicas", Value::Count, false),
    spec("route", Value::Name, false),
    spec("context", Value::Text, false),
    spec("kubeconfig", Value::PathOrEnv, false),
    spec("timeout", Value::Duration, false),
];

const ARGO: &[Spec] = &[
    spec("namespace", Value::Name, true),
    spec("rollout", Value::Name, true),
    spec("container", Value::Name, false),
    spec("image", Value::Image, true),
    spec("service", Value::Name, false),
    spec("preview_service", Value::Name, false),
    spec("canary_service", Value::Name, false),
    spec("replicas", Value::Count, false),
    spec("route", Value::Name, false),
    spec("context", Value::Text, false),
    spec("kubeconfig", Value::PathOrEnv, false),
    spec("timeout", Value::Duration, false),
];

/// The settings a cluster provider takes, in the order the docs list them (completion offers
/// them).
pub(crate) fn setting_names(kind: ClusterKind) -> impl Iterator<Item = &'static str> {
    specs(kind).iter().map(|s| s.name)
}

fn specs(kind: ClusterKind) -> &'static [Spec] {
    match kind {
        ClusterKind::Kubernetes => KUBERNETES,
        ClusterKind::ArgoRollouts => ARGO,
    }
}

/// How long a rollout step may take to become ready when `timeout` is not set (the
/// Deployment default `progressDeadlineSeconds`).
pub const DEFAULT_TIMEOUT_MS: u64 = 600_000;

/// The checked settings of one cluster provider, each with its span.
#[derive(Debug, Clone, Default)]
pub struct ClusterSettings<'a> {
    texts: HashMap<&'static str, &'a StrLit>,
    counts: HashMap<&'static str, Spanned<u64>>,
    durations: HashMap<&'static str, Spanned<i64>>,
    envs: HashMap<&'static str, &'a str>,
}

impl<'a> ClusterSettings<'a> {
    /// The settings whose names and kinds are right (the checker reports the others).
    pub fn read(kind: ClusterKind, settings: &'a [ClusterSetting]) -> ClusterSettings<'a> {
        let mut out = ClusterSettings::default();
        for s in settings {
            let Some(spec) = specs(kind).iter().find(|x| x.name == s.name.name) else {
                continue;
            };
            match (&s.value, spec.value) {
                (ClusterValue::Text(t), Value::Name | Value::Image | Value::Text)
                | (ClusterValue::Text(t), Value::PathOrEnv) => {
                    out.texts.entry(spec.name).or_insert(t);
                }
                (ClusterValue::Env { var, .. }, Value::PathOrEnv) => {
                    out.envs.entry(spec.name).or_insert(var);
                }
                (ClusterValue::Int(n), Value::Count) => {
                    out.counts.entry(spec.name).or_insert(*n);
                }
                (ClusterValue::Duration(d), Value::Duration) => {
                    out.durations.entry(spec.name).or_insert(*d);
                }
                _ => {}
            }
        }
        out
    }

    /// A text setting's value.
    pub fn text(&self, name: &str) -> Option<&'a str> {
        self.texts.get(name).map(|t| t.value.as_str())
    }

    /// A count setting.
    pub fn count(&self, name: &str) -> Option<Spanned<u64>> {
        self.counts.get(name).copied()
    }

    /// A duration setting in milliseconds (positive once checked).
    pub fn duration_ms(&self, name: &str) -> Option<u64> {
        self.durations
            .get(name)
            .and_then(|d| u64::try_from(d.value).ok())
    }

    /// A path setting as the plan writes it: the path, or `env VAR`.
    pub fn path_or_env(&self, name: &str) -> Option<String> {
        self.envs
            .get(name)
            .map(|v| format!("env {v}"))
            .or_else(|| self.text(name).map(str::to_string))
    }
}

/// Checks the settings of one cluster provider: known names, the kind of each value, names
/// Kubernetes accepts, required settings, and an image that names the version.
pub(super) fn check_settings(
    kind: ClusterKind,
    settings: &[ClusterSetting],
    span: Span,
    errors: &mut Vec<Error>,
) {
    let table = specs(kind);
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for s in settings {
        let Some(spec) = table.iter().find(|x| x.name == s.name.name) else {
            errors.push(Error::UnknownSetting {
                span: s.name.span,
                what: match kind {
                    ClusterKind::Kubernetes => "kubernetes setting",
                    ClusterKind::ArgoRollouts => "argo_rollouts setting",
                },
                name: s.name.name.clone(),
                valid: table.iter().map(|x| x.name).collect(),
                suggestion: suggest(&s.name.name, table.iter().map(|x| x.name)),
            });
            continue;
        };
        if let Some(first) = seen.get(spec.name) {
            errors.push(Error::RepeatedSetting {
                setting: spec.name.to_string(),
                first: *first,
                second: s.span,
            });
            continue;
        }
        seen.insert(spec.name, s.span);
        let kind_ok = matches!(
            (&s.value, spec.value),
            (
                ClusterValue::Text(_),
                Value::Name | Value::Image | Value::Text | Value::PathOrEnv
            ) | (ClusterValue::Env { .. }, Value::PathOrEnv)
                | (ClusterValue::Int(_), Value::Count)
                | (ClusterValue::Duration(_), Value::Duration)
        );
        if !kind_ok {
            let (expected, example) = spec.value.expected();
            errors.push(Error::ClusterValueKind {
                span: s.value.span(),
                setting: spec.name.to_string(),
                expected,
                example,
            });
            continue;
        }
        match (&s.value, spec.value) {
            (ClusterValue::Text(t), Value::Name) => {
                if let Some(reason) = name_problem(&t.value) {
                    errors.push(Error::InvalidKubernetesName {
                        span: t.span,
                        setting: spec.name.to_string(),
                        name: t.value.clone(),
                        reason,
                    });
                }
            }
            (ClusterValue::Text(t), Value::Image) if !t.value.contains("{version}") => {
                errors.push(Error::ImageWithoutVersion { span: t.span });
            }
            (ClusterValue::Int(n), Value::Count) if n.value == 0 => {
                errors.push(Error::MustBePositive {
                    span: n.span,
                    what: "`replicas`",
                });
            }
            (ClusterValue::Duration(d), Value::Duration) => {
                if d.value < 0 {
                    errors.push(Error::NegativeDuration { span: d.span });
                } else if d.value == 0 {
                    errors.push(Error::MustBePositive {
                        span: d.span,
                        what: "a timeout",
                    });
                }
            }
            _ => {}
        }
    }
    for spec in table.iter().filter(|s| s.required) {
        if !seen.contains_key(spec.name) {
            errors.push(Error::MissingSetting {
                span,
                item: format!("the {} provider", kind.keyword()),
                setting: spec.name,
                example: match spec.name {
                    "namespace" => "namespace = \"checkout\"",
                    "deployment" => "deployment = \"checkout\"",
                    "rollout" => "rollout = \"checkout\"",
                    _ => "image = \"registry.example.com/checkout:{version}\"",
                },
            });
        }
    }
}

/// Why `name` is not a DNS-1123 label, the rule for namespaces, Deployments, Services and
/// containers.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty");
    }
    if name.len() > 63 {
        return Some("longer than 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some("only lower-case letters, digits and `-` are allowed");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("must start and end with a letter or digit");
    }
    None
}

/// What a release's strategy needs from an environment's cluster provider: a strategy the
/// provider can run, the Services it switches, and canary weights that the replica count can
/// express when no route splits the traffic.
pub(super) fn check_strategy(
    kind: ClusterKind,
    settings: &[ClusterSetting],
    provider_span: Span,
    environment: &str,
    strategy: &Strategy,
    at: Span,
    errors: &mut Vec<Error>,
) {
    let s = ClusterSettings::read(kind, settings);
    let provider = kind.keyword();
    let needed = |setting: &'static str, why: &'static str, example: &'static str| {
        Error::ClusterSettingNeeded {
            span: at,
            setting,
            provider,
            provider_span,
            environment: environment.to_string(),
            why,
            example,
        }
    };
    match strategy {
        Strategy::Recreate { .. } if kind == ClusterKind::ArgoRollouts => {
            errors.push(Error::StrategyNotSupported {
                span: at,
                strategy: strategy.name(),
                provider,
                provider_span,
                environment: environment.to_string(),
                help: "Argo Rollouts runs canary and blue/green rollouts; use `provider = kubernetes { … }` for a recreate",
            });
        }
        Strategy::BlueGreen { .. } if s.text("service").is_none() => {
            errors.push(needed(
                "service",
                "blue/green switches the Service's selector",
                "service = \"checkout\"",
            ));
        }
        Strategy::Canary { steps, .. } => {
            if kind == ClusterKind::ArgoRollouts && s.text("route").is_some() {
                if s.text("service").is_none() {
                    errors.push(needed(
                        "service",
                        "a routed canary needs the stable Service",
                        "service = \"checkout\"",
                    ));
                }
                if s.text("canary_service").is_none() {
                    errors.push(needed(
                        "canary_service",
                        "a routed canary needs the canary Service",
                        "canary_service = \"checkout-canary\"",
                    ));
                }
            }
            if kind == ClusterKind::Kubernetes
                && s.text("route").is_some()
                && s.text("service").is_none()
            {
                errors.push(needed(
                    "service",
                    "the route sends the canary's share to a Service of the new version",
                    "service = \"checkout\"",
                ));
            }
            if s.text("route").is_some() {
                return;
            }
            let Some(replicas) = s.count("replicas") else {
                errors.push(needed(
                    "replicas",
                    "without a route the canary's weight is a share of the replicas",
                    "replicas = 10",
                ));
                return;
            };
            if replicas.value == 0 {
                return;
            }
            let suggestion = replicas_for(steps.iter().map(|st| st.weight.value));
            for st in steps {
                let pods = st.weight.value * replicas.value as f64 / 100.0;
                if (pods - pods.round()).abs() > 1e-9 {
                    errors.push(Error::WeightNotExpressible {
                        span: st.weight.span,
                        weight: st.weight.value,
                        replicas: replicas.value,
                        replicas_span: replicas.span,
                        environment: environment.to_string(),
                        suggestion,
                    });
                }
            }
        }
        _ => {}
    }
}

/// The smallest replica count that expresses every weight as whole pods (100 when the
/// weights are not whole percents, which then need a route).
fn replicas_for(weights: impl Iterator<Item = f64>) -> u64 {
    let mut lcm: u64 = 1;
    for w in weights {
        if w.fract() != 0.0 || !(0.0..=100.0).contains(&w) {
            return 100;
        }
        // Whole pods at `w`% of `n` replicas need `n` to be a multiple of 100 / gcd(w, 100).
        let need = 100 / gcd(w as u64, 100);
        lcm = lcm / gcd(lcm, need) * need;
    }
    lcm
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_that_express_every_step() {
        assert_eq!(replicas_for([5.0, 25.0, 50.0, 100.0].into_iter()), 20);
        assert_eq!(replicas_for([10.0, 50.0, 100.0].into_iter()), 10);
        assert_eq!(replicas_for([33.0].into_iter()), 100);
        assert_eq!(replicas_for([0.5].into_iter()), 100);
    }

    #[test]
    fn kubernetes_names() {
        assert_eq!(name_problem("checkout-v2"), None);
        assert!(name_problem("Checkout").is_some());
        assert!(name_problem("-a").is_some());
        assert!(name_problem(&"a".repeat(64)).is_some());
        assert!(name_problem("").is_some());
    }
}
