//! The objects and requests of the Kubernetes provider, as data: the names deployc gives the
//! Deployments it creates, the server-side apply bodies it sends, and the request lines a dry
//! run prints. The real provider builds its bodies here too, so what `--dry-run` shows is what
//! a run sends.

use serde_json::{Value, json};

use crate::lower::ClusterTarget;

/// The field manager of every write: `kubectl get … --show-managed-fields` names deployc.
pub(crate) const FIELD_MANAGER: &str = "deployc";

/// The query of a server-side apply: strict field validation (a misspelt field is an error,
/// not silently pruned) and `force`, because deployc takes over the fields it sets from
/// whoever set them before (kubectl, a Helm release).
pub(crate) const APPLY_QUERY: &str = "?fieldManager=deployc&fieldValidation=Strict&force=true";

/// The label that carries the version on the pods deployc creates.
pub(crate) const VERSION_LABEL: &str = "app.kubernetes.io/version";
/// The label that tells a canary's pods from the stable ones.
pub(crate) const TRACK_LABEL: &str = "deployc.dev/track";

/// How the provider changes the cluster, from the plan's strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    Canary,
    BlueGreen,
    Rolling,
    Recreate,
    /// `flags_only`: the workload is not changed.
    None,
}

impl Strategy {
    pub(crate) fn from_plan(name: &str) -> Strategy {
        match name {
            "canary" => Strategy::Canary,
            "blue_green" => Strategy::BlueGreen,
            "rolling" => Strategy::Rolling,
            "recreate" => Strategy::Recreate,
            _ => Strategy::None,
        }
    }
}

/// A label value made from a version: at most 63 characters of `[A-Za-z0-9._-]`, starting and
/// ending with an alphanumeric character (`1.2.0+build.5` → `1.2.0-build.5`).
pub(crate) fn label_value(version: &str) -> String {
    let s: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    s.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// A DNS-1123 name `<base>-<version>`: lower case, dots and other characters as dashes, at
/// most 63 characters (`checkout` and `2.1.0-rc.1` → `checkout-2-1-0-rc-1`).
pub(crate) fn versioned_name(base: &str, version: &str) -> String {
    let v: String = version
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut name = format!("{base}-{}", v.trim_matches('-'));
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

/// The canary Deployment of a canary rollout.
pub(crate) fn canary_name(t: &ClusterTarget) -> String {
    let mut n = format!("{}-canary", t.workload);
    n.truncate(63);
    n
}

/// The Service that selects the canary's pods when traffic is split by an `HTTPRoute`.
pub(crate) fn canary_service(t: &ClusterTarget) -> String {
    t.canary_service.clone().unwrap_or_else(|| {
        let mut n = format!("{}-canary", t.service.as_deref().unwrap_or(&t.workload));
        n.truncate(63);
        n
    })
}

/// The image of a version: the target's template with its placeholders filled.
pub(crate) fn image(t: &ClusterTarget, version: &str, service: &str, environment: &str) -> String {
    t.image
        .replace("{version}", version)
        .replace("{service}", service)
        .replace("{environment}", environment)
}

pub(crate) fn deployment_path(ns: &str, name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}")
}

pub(crate) fn service_path(ns: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{ns}/services/{name}")
}

pub(crate) fn route_path(ns: &str, name: &str) -> String {
    format!("/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/{name}")
}

/// Server-side apply of a Deployment's container image (and replicas and rolling-update
/// bounds when given): only the fields deployc owns, so the rest of the object stays as its
/// owners wrote it.
pub(crate) fn image_body(
    name: &str,
    container: &str,
    image: &str,
    replicas: Option<i32>,
    rolling: Option<(i32, i32)>,
) -> Value {
    let mut spec = serde_json::Map::new();
    spec.insert(
        "template".into(),
        json!({ "spec": { "containers": [ { "name": container, "image": image } ] } }),
    );
    if let Some(r) = replicas {
        spec.insert("replicas".into(), json!(r));
    }
    if let Some((surge, unavailable)) = rolling {
        spec.insert(
            "strategy".into(),
            json!({
                "type": "RollingUpdate",
                "rollingUpdate": { "maxSurge": surge, "maxUnavailable": unavailable },
            }),
        );
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name },
        "spec": spec,
    })
}

/// One API request, for the dry run and the journal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) summary: String,
}

impl Request {
    fn new(method: &'static str, path: String, summary: impl Into<String>) -> Request {
        Request {
            method,
            path,
            summary: summary.into(),
        }
    }

    pub(crate) fn line(&self) -> String {
        if self.summary.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {} ({})", self.method, self.path, self.summary)
        }
    }
}

/// Requests as the lines of one journal entry.
pub(crate) fn lines(requests: &[Request]) -> String {
    let n = requests.len();
    let list: Vec<String> = requests.iter().map(Request::line).collect();
    format!(
        "{n} API request{}:\n                → {}",
        if n == 1 { "" } else { "s" },
        list.join("\n                → ")
    )
}

/// What a provider operation asks of the API.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op<'a> {
    Stable(Option<&'a str>),
    Deploy,
    Weight(f64),
    Batch(u64, u64),
    Promote,
    TrafficToStable,
    StopNew,
    Health,
}

/// Everything a dry run needs to know to describe the requests.
pub(crate) struct Describe<'a> {
    pub(crate) target: &'a ClusterTarget,
    pub(crate) strategy: Strategy,
    pub(crate) release: &'a str,
    pub(crate) service: &'a str,
    pub(crate) environment: &'a str,
    pub(crate) stable: Option<&'a str>,
    /// `max_unavailable` of a rolling strategy.
    pub(crate) max_unavailable: u64,
}

/// The requests of one operation, without contacting a cluster. Counts the cluster decides
/// (the current replicas when the target sets none) are written `N`.
pub(crate) fn describe(d: &Describe<'_>, op: Op<'_>) -> Vec<Request> {
    let t = d.target;
    let ns = t.namespace.as_str();
    let dep = deployment_path(ns, &t.workload);
    let apply = |name: &str| format!("{}{APPLY_QUERY}", deployment_path(ns, name));
    let watch = |name: &str, until: &str| {
        Request::new(
            "GET",
            format!(
                "/apis/apps/v1/namespaces/{ns}/deployments?watch=true&fieldSelector=metadata.name%3D{name}"
            ),
            format!(
                "until {until}, at most {}",
                crate::lower::fmt_ms(t.timeout_ms)
            ),
        )
    };
    // Every apply carries all the fields deployc owns on the object (server-side apply removes
    // the ones left out): the image comes with every replica count.
    let stable_image = d
        .stable
        .map(|v| image(t, v, d.service, d.environment))
        .unwrap_or_else(|| "<as read>".into());
    let total = t.replicas.map(|r| r.to_string());
    let total_s = total.clone().unwrap_or_else(|| "N".into());
    let new_image = image(t, d.release, d.service, d.environment);
    let canary = canary_name(t);
    let green = versioned_name(&t.workload, d.release);
    let pods = |sel: &str| {
        Request::new(
            "GET",
            format!("/api/v1/namespaces/{ns}/pods?labelSelector={sel}"),
            "when not all are Ready: which pods and why",
        )
    };
    let mut out = Vec::new();
    match op {
        Op::Stable(version) => {
            out.push(Request::new(
                "GET",
                dep.clone(),
                "the stable Deployment: its image, replicas, selector and pod template",
            ));
            if d.strategy == Strategy::BlueGreen
                && let Some(v) = version
            {
                out.push(Request::new(
                    "GET",
                    deployment_path(ns, &versioned_name(&t.workload, v)),
                    format!("the Deployment of {v} when a blue/green release left one"),
                ));
            }
            if d.strategy == Strategy::BlueGreen
                && let Some(s) = &t.service
            {
                out.push(Request::new(
                    "GET",
                    service_path(ns, s),
                    "the selector to switch back to on rollback",
                ));
            }
        }
        Op::Health => {
            out.push(Request::new(
                "GET",
                dep.clone(),
                "available replicas == desired",
            ));
            out.push(pods("<the Deployment's selector>"));
        }
        Op::Deploy => match d.strategy {
            Strategy::Canary => {
                out.push(Request::new(
                    "GET",
                    deployment_path(ns, &canary),
                    "a canary of this version left by an interrupted run keeps its replicas",
                ));
                out.push(Request::new(
                    "PATCH",
                    apply(&canary),
                    format!(
                        "apply Deployment {canary}: the stable pod template with image {new_image}, labels {TRACK_LABEL}=canary {VERSION_LABEL}={}, replicas 0",
                        label_value(d.release)
                    ),
                ));
                if let Some(r) = &t.route {
                    let cs = canary_service(t);
                    out.push(Request::new(
                        "PATCH",
                        format!(
                            "{}?fieldManager=deployc&fieldValidation=Strict&force=true",
                            service_path(ns, &cs)
                        ),
                        format!("apply Service {cs} selecting the canary's pods"),
                    ));
                    out.push(Request::new(
                        "GET",
                        route_path(ns, r),
                        "the backendRefs of the stable Service",
                    ));
                }
            }
            Strategy::BlueGreen => {
                out.push(Request::new(
                    "PATCH",
                    apply(&green),
                    format!(
                        "apply Deployment {green}: the stable pod template with image {new_image}, label {VERSION_LABEL}={}, replicas {total_s}",
                        label_value(d.release)
                    ),
                ));
                out.push(watch(&green, "Available"));
                if let Some(p) = &t.preview_service {
                    out.push(Request::new("GET", service_path(ns, p), ""));
                    out.push(Request::new(
                        "PUT",
                        service_path(ns, p),
                        format!(
                            "spec.selector → {VERSION_LABEL}={} (resourceVersion checked; 409 re-read and retried)",
                            label_value(d.release)
                        ),
                    ));
                }
            }
            // The image is applied at the first batch or at the switch.
            Strategy::Rolling | Strategy::Recreate | Strategy::None => {}
        },
        Op::Weight(p) => match d.strategy {
            Strategy::Canary => {
                for name in [t.workload.as_str(), canary.as_str()] {
                    out.push(Request::new(
                        "GET",
                        deployment_path(ns, name),
                        "serving and healthy before the change",
                    ));
                }
                if let Some(r) = &t.route {
                    let cs = canary_service(t);
                    let w = crate::lower::fmt_number(p);
                    out.push(Request::new(
                        "PATCH",
                        apply(&canary),
                        format!("apply the whole canary Deployment with replicas ⌈{w}% × {total_s}⌉ (at least 1)"),
                    ));
                    out.push(watch(&canary, "the canary's replicas are available"));
                    out.push(Request::new("GET", route_path(ns, r), ""));
                    out.push(Request::new(
                        "PUT",
                        route_path(ns, r),
                        format!(
                            "spec.rules[].backendRefs weights: {} {}, {cs} {w} (resourceVersion checked)",
                            t.service.as_deref().unwrap_or("?"),
                            crate::lower::fmt_number(100.0 - p)
                        ),
                    ));
                } else {
                    let (c, s) = match t.replicas {
                        Some(total) => {
                            let c = canary_replicas(total, p);
                            (c.to_string(), total.saturating_sub(c).to_string())
                        }
                        None => (
                            format!("{}% × N", crate::lower::fmt_number(p)),
                            "the rest of N".into(),
                        ),
                    };
                    out.push(Request::new(
                        "PATCH",
                        apply(&canary),
                        format!("apply the whole canary Deployment with replicas {c}"),
                    ));
                    out.push(watch(&canary, &format!("{c} available")));
                    out.push(Request::new(
                        "PATCH",
                        format!("{dep}{APPLY_QUERY}"),
                        format!(
                            "apply container {} image {stable_image}, replicas {s}",
                            t.container
                        ),
                    ));
                    out.push(watch(&t.workload, &format!("{s} available")));
                }
            }
            Strategy::BlueGreen => {
                out.push(Request::new(
                    "GET",
                    deployment_path(ns, &green),
                    "rolled out and available before the switch",
                ));
                if let Some(s) = &t.service {
                    out.push(Request::new("GET", service_path(ns, s), ""));
                    out.push(Request::new(
                        "PUT",
                        service_path(ns, s),
                        format!(
                            "spec.selector → {VERSION_LABEL}={} (resourceVersion checked; 409 re-read and retried)",
                            label_value(d.release)
                        ),
                    ));
                }
            }
            Strategy::Recreate => {
                out.push(Request::new(
                    "PATCH",
                    format!("{dep}{APPLY_QUERY}"),
                    format!(
                        "apply container {} image {stable_image}, replicas 0",
                        t.container
                    ),
                ));
                out.push(watch(&t.workload, "no pods are left"));
                out.push(Request::new(
                    "PATCH",
                    format!("{dep}{APPLY_QUERY}"),
                    format!(
                        "apply container {} image {new_image}, replicas {total_s}",
                        t.container
                    ),
                ));
                out.push(watch(&t.workload, "rolled out"));
            }
            Strategy::Rolling | Strategy::None => {}
        },
        Op::Batch(b, of) => {
            if b <= 1 {
                let (surge, unavailable) = rolling_bounds(t.replicas, of, d.max_unavailable);
                out.push(Request::new(
                    "PATCH",
                    format!("{dep}{APPLY_QUERY}"),
                    format!(
                        "apply container {} image {new_image}, replicas {total_s}, strategy RollingUpdate maxSurge {} maxUnavailable {unavailable}",
                        t.container,
                        surge.map(|s| s.to_string()).unwrap_or_else(|| format!("N/{of}"))
                    ),
                ));
            }
            let until = if b >= of {
                "rolled out: observedGeneration ≥ generation, every replica updated and available"
                    .to_string()
            } else {
                format!("{b}/{of} of the replicas updated and available")
            };
            out.push(watch(&t.workload, &until));
        }
        Op::Promote => match d.strategy {
            Strategy::Canary => {
                out.push(Request::new(
                    "PATCH",
                    format!("{dep}{APPLY_QUERY}"),
                    format!(
                        "apply container {} image {new_image}, replicas {total_s}",
                        t.container
                    ),
                ));
                out.push(watch(&t.workload, "rolled out"));
                if let Some(r) = &t.route {
                    out.push(Request::new("GET", route_path(ns, r), ""));
                    out.push(Request::new(
                        "PUT",
                        route_path(ns, r),
                        "all weight on the stable Service",
                    ));
                }
                out.push(Request::new(
                    "PATCH",
                    apply(&canary),
                    "apply the whole canary Deployment with replicas 0",
                ));
                out.push(watch(&canary, "no pods are left"));
            }
            Strategy::BlueGreen => {
                out.push(Request::new(
                    "PATCH",
                    format!("{dep}{APPLY_QUERY}"),
                    "apply the previous Deployment again with replicas 0 (kept, not deleted)",
                ));
                out.push(watch(&t.workload, "no pods are left"));
            }
            _ => {}
        },
        Op::TrafficToStable => match d.strategy {
            Strategy::Canary => {
                if let Some(r) = &t.route {
                    out.push(Request::new("GET", route_path(ns, r), ""));
                    out.push(Request::new(
                        "PUT",
                        route_path(ns, r),
                        "all weight on the stable Service",
                    ));
                } else {
                    out.push(Request::new(
                        "PATCH",
                        format!("{dep}{APPLY_QUERY}"),
                        format!(
                            "apply container {} image {stable_image}, replicas {total_s}",
                            t.container
                        ),
                    ));
                    out.push(watch(&t.workload, "all available"));
                }
            }
            Strategy::BlueGreen => {
                if let Some(s) = &t.service {
                    out.push(Request::new("GET", service_path(ns, s), ""));
                    out.push(Request::new(
                        "PUT",
                        service_path(ns, s),
                        "spec.selector → the selector read before the switch",
                    ));
                }
            }
            Strategy::Rolling | Strategy::Recreate => {
                let prev = d
                    .stable
                    .map(|v| image(t, v, d.service, d.environment))
                    .unwrap_or_else(|| "the image read before the rollout".into());
                out.push(Request::new(
                    "PATCH",
                    format!("{dep}{APPLY_QUERY}"),
                    format!(
                        "apply container {} image {prev}, replicas {total_s}",
                        t.container
                    ),
                ));
                out.push(watch(&t.workload, "rolled out"));
            }
            Strategy::None => {}
        },
        Op::StopNew => match d.strategy {
            Strategy::Canary => {
                out.push(Request::new(
                    "PATCH",
                    apply(&canary),
                    "apply the whole canary Deployment with replicas 0",
                ));
                out.push(watch(&canary, "no pods are left"));
            }
            Strategy::BlueGreen => {
                out.push(Request::new(
                    "PATCH",
                    apply(&green),
                    "apply the whole Deployment with replicas 0 (kept for inspection)",
                ));
                out.push(watch(&green, "no pods are left"));
            }
            _ => {}
        },
    }
    out
}

/// The canary's replicas at `percent` of `total` (the checker made it a whole number when no
/// route splits the traffic; rounding covers a plan from elsewhere).
pub(crate) fn canary_replicas(total: u64, percent: f64) -> u64 {
    let exact = total as f64 * percent / 100.0;
    (exact.round().max(0.0) as u64).min(total)
}

/// The canary's replicas behind a route: enough to carry its weight, at least one.
pub(crate) fn routed_canary_replicas(total: u64, percent: f64) -> u64 {
    if percent <= 0.0 {
        return 0;
    }
    let exact = (total as f64 * percent / 100.0).ceil().max(1.0) as u64;
    exact.min(total.max(1))
}

/// `maxSurge` (one batch) and `maxUnavailable` of a rolling rollout.
pub(crate) fn rolling_bounds(
    total: Option<u64>,
    of: u64,
    max_unavailable: u64,
) -> (Option<u64>, u64) {
    let surge = total.map(|t| t.div_ceil(of.max(1)).max(1));
    (surge, max_unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels() {
        assert_eq!(
            versioned_name("checkout", "2.1.0-rc.1"),
            "checkout-2-1-0-rc-1"
        );
        assert_eq!(label_value("1.2.0+build.5"), "1.2.0-build.5");
        assert_eq!(label_value("+x+"), "x");
        assert!(versioned_name(&"a".repeat(60), "1.0.0").len() <= 63);
    }

    #[test]
    fn canary_counts() {
        assert_eq!(canary_replicas(20, 5.0), 1);
        assert_eq!(canary_replicas(4, 50.0), 2);
        assert_eq!(canary_replicas(4, 100.0), 4);
        assert_eq!(routed_canary_replicas(10, 1.0), 1);
        assert_eq!(routed_canary_replicas(10, 0.0), 0);
        assert_eq!(rolling_bounds(Some(10), 3, 1), (Some(4), 1));
    }

    #[test]
    fn apply_bodies_set_only_owned_fields() {
        let b = image_body("shop", "app", "r/shop:2", Some(3), Some((1, 0)));
        assert_eq!(
            b["spec"]["template"]["spec"]["containers"][0]["image"],
            "r/shop:2"
        );
        assert_eq!(b["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 1);
        assert!(b["spec"].get("selector").is_none());
    }
}
