//! The connection to the API server and the few request patterns the provider uses: read,
//! server-side apply, read-modify-write with the resourceVersion (409 re-read and retried a
//! bounded number of times), and waiting for a Deployment by watching it under a deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Client, Config};

use super::objects::FIELD_MANAGER;

/// How many times a read-modify-write is retried after a 409 (someone else changed the object
/// between the read and the write).
const CONFLICT_RETRIES: u32 = 5;

/// Connects to the cluster named by the target: its `kubeconfig` (a path or `env VAR`) or the
/// default discovery (`KUBECONFIG`, `~/.kube/config`, in-cluster), and its `context`.
pub(crate) async fn connect(
    kubeconfig: Option<&str>,
    context: Option<&str>,
    base: &std::path::Path,
    timeout: Duration,
) -> Result<(Client, String), String> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        cluster: None,
        user: None,
    };
    let mut config = match kubeconfig {
        Some(k) => {
            let path = match k.strip_prefix("env ") {
                Some(var) => std::env::var(var.trim()).map_err(|_| {
                    format!(
                        "kubernetes: the variable `{}` (kubeconfig) is not set",
                        var.trim()
                    )
                })?,
                None => k.to_string(),
            };
            let path = base.join(path);
            let file = Kubeconfig::read_from(&path).map_err(|e| {
                format!(
                    "kubernetes: cannot read the kubeconfig `{}`: {e}",
                    path.display()
                )
            })?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| format!("kubernetes: kubeconfig `{}`: {e}", path.display()))?
        }
        None => match Config::from_kubeconfig(&options).await {
            Ok(c) => c,
            Err(file_error) => {
                if context.is_some() {
                    return Err(format!("kubernetes: kubeconfig: {file_error}"));
                }
                Config::incluster().map_err(|_| {
                    format!("kubernetes: no kubeconfig ({file_error}) and not running in a cluster")
                })?
            }
        },
    };
    // A request that hangs fails after the read timeout; it is longer than any wait (which
    // deployc bounds itself) so that it never cuts a quiet watch short.
    config.read_timeout = Some(timeout.max(Duration::from_secs(30)) + Duration::from_secs(5));
    config.connect_timeout = Some(Duration::from_secs(10));
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config)
        .map_err(|e| format!("kubernetes: cannot build a client for {url}: {e}"))?;
    Ok((client, url))
}

/// An API error in one line: what was asked, the status code and the API's own message (which
/// names the object and the field).
pub(crate) fn explain(what: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            let msg = if s.message.is_empty() {
                s.reason.clone()
            } else {
                s.message.clone()
            };
            format!("{what}: the API answered {} {}: {msg}", s.code, s.reason)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            format!(
                "{what}: the API server cannot be reached ({})",
                root_cause(e)
            )
        }
        other => format!("{what}: {other}"),
    }
}

/// The innermost error of a chain: "connection refused" rather than "client error".
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// The cluster's API as the provider uses it.
pub(crate) struct Cluster {
    pub(crate) client: Client,
    pub(crate) namespace: String,
    pub(crate) timeout: Duration,
}

/// What a wait looks for in a Deployment's status.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want {
    /// At least this many replicas updated to the current template and available.
    Updated(i32),
    /// The rollout finished: every replica updated and available, none left of the old one.
    RolledOut,
    /// No pods left (scaled to zero).
    Empty,
}

impl Cluster {
    pub(crate) fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub(crate) fn services(&self) -> Api<Service> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub(crate) fn routes(&self) -> Api<DynamicObject> {
        let gvk = GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute");
        let ar = ApiResource::from_gvk_with_plural(&gvk, "httproutes");
        Api::namespaced_with(self.client.clone(), &self.namespace, &ar)
    }

    pub(crate) async fn deployment(&self, name: &str) -> Result<Option<Deployment>, String> {
        self.deployments()
            .get_opt(name)
            .await
            .map_err(|e| explain(&format!("GET deployment {}/{name}", self.namespace), &e))
    }

    /// Server-side apply of a Deployment (field manager `deployc`, strict validation, force).
    pub(crate) async fn apply_deployment(
        &self,
        name: &str,
        body: &serde_json::Value,
    ) -> Result<Deployment, String> {
        let pp = PatchParams::apply(FIELD_MANAGER)
            .force()
            .validation_strict();
        self.deployments()
            .patch(name, &pp, &Patch::Apply(body))
            .await
            .map_err(|e| explain(&format!("apply deployment {}/{name}", self.namespace), &e))
    }

    /// Server-side apply of a Service.
    pub(crate) async fn apply_service(
        &self,
        name: &str,
        body: &serde_json::Value,
    ) -> Result<Service, String> {
        let pp = PatchParams::apply(FIELD_MANAGER)
            .force()
            .validation_strict();
        self.services()
            .patch(name, &pp, &Patch::Apply(body))
            .await
            .map_err(|e| explain(&format!("apply service {}/{name}", self.namespace), &e))
    }

    /// Sets a Service's selector by read-modify-write: the write carries the resourceVersion
    /// read, so a concurrent change is answered 409 and the change is made again on a fresh
    /// read. Returns the selector it replaced.
    pub(crate) async fn set_selector(
        &self,
        name: &str,
        selector: &BTreeMap<String, String>,
    ) -> Result<(BTreeMap<String, String>, u32), String> {
        let api = self.services();
        let what = format!("service {}/{name}", self.namespace);
        let mut conflicts = 0;
        loop {
            let mut svc = api
                .get(name)
                .await
                .map_err(|e| explain(&format!("GET {what}"), &e))?;
            let spec = svc.spec.get_or_insert_with(Default::default);
            let before = spec.selector.replace(selector.clone()).unwrap_or_default();
            match api.replace(name, &PostParams::default(), &svc).await {
                Ok(_) => return Ok((before, conflicts)),
                Err(e) if is_conflict(&e) && conflicts < CONFLICT_RETRIES => conflicts += 1,
                Err(e) => return Err(explain(&format!("PUT {what} (selector)"), &e)),
            }
        }
    }

    /// Sets the weights of an HTTPRoute's backendRefs (`service` and `canary`) in every rule
    /// that names one of them, by read-modify-write as for selectors.
    pub(crate) async fn set_route_weights(
        &self,
        route: &str,
        service: &str,
        canary: &str,
        canary_weight: i64,
    ) -> Result<u32, String> {
        let api = self.routes();
        let what = format!("httproute {}/{route}", self.namespace);
        let mut conflicts = 0;
        loop {
            let mut obj = api
                .get(route)
                .await
                .map_err(|e| explain(&format!("GET {what}"), &e))?;
            set_weights(&mut obj.data, service, canary, canary_weight)
                .map_err(|e| format!("{what}: {e}"))?;
            match api.replace(route, &PostParams::default(), &obj).await {
                Ok(_) => return Ok(conflicts),
                Err(e) if is_conflict(&e) && conflicts < CONFLICT_RETRIES => conflicts += 1,
                Err(e) => return Err(explain(&format!("PUT {what} (weights)"), &e)),
            }
        }
    }

    /// Waits until the Deployment's status shows `want`, watching it (no polling sleep), at
    /// most the target's timeout. `ProgressDeadlineExceeded` fails at once; a timeout fails
    /// with the pods that are not Ready and why.
    pub(crate) async fn wait(&self, name: &str, want: Want) -> Result<String, String> {
        let api = self.deployments();
        let what = format!("deployment {}/{name}", self.namespace);
        let watched = async {
            loop {
                let d = api
                    .get(name)
                    .await
                    .map_err(|e| explain(&format!("GET {what}"), &e))?;
                if let Some(done) = reached(&d, want).map_err(|e| format!("{what}: {e}"))? {
                    return Ok(done);
                }
                let rv = d.metadata.resource_version.clone().unwrap_or_default();
                let wp = WatchParams::default()
                    .fields(&format!("metadata.name={name}"))
                    .timeout(290);
                let stream = api
                    .watch(&wp, &rv)
                    .await
                    .map_err(|e| explain(&format!("watch {what}"), &e))?;
                let mut stream = std::pin::pin!(stream);
                while let Some(ev) = stream.next().await {
                    match ev {
                        Ok(WatchEvent::Added(d) | WatchEvent::Modified(d)) => {
                            if let Some(done) =
                                reached(&d, want).map_err(|e| format!("{what}: {e}"))?
                            {
                                return Ok(done);
                            }
                        }
                        Ok(WatchEvent::Deleted(_)) => {
                            return Err(format!("{what} was deleted while deployc waited"));
                        }
                        Ok(WatchEvent::Bookmark(_)) => {}
                        // An expired resourceVersion (410) or a broken stream: read again.
                        Ok(WatchEvent::Error(_)) => break,
                        Err(e) => return Err(explain(&format!("watch {what}"), &e)),
                    }
                }
            }
        };
        match tokio::time::timeout(self.timeout, watched).await {
            Ok(r) => r,
            Err(_) => {
                let status = match self.deployment(name).await {
                    Ok(Some(d)) => summary(&d),
                    Ok(None) => "gone".into(),
                    Err(e) => e,
                };
                let pods = self.not_ready(name).await.unwrap_or_default();
                Err(format!(
                    "{what} not {} after {}: {status}{}",
                    match want {
                        Want::Updated(n) => format!("{n} updated and available"),
                        Want::RolledOut => "rolled out".into(),
                        Want::Empty => "scaled to zero".into(),
                    },
                    crate::lower::fmt_ms(u64::try_from(self.timeout.as_millis()).unwrap_or(0)),
                    if pods.is_empty() {
                        String::new()
                    } else {
                        format!("; {pods}")
                    }
                ))
            }
        }
    }

    /// The pods of a Deployment that are not Ready, with the reason of each (the containers'
    /// waiting reasons, or the Ready condition's message).
    pub(crate) async fn not_ready(&self, deployment: &str) -> Result<String, String> {
        let Some(d) = self.deployment(deployment).await? else {
            return Ok(String::new());
        };
        let selector = d
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.clone())
            .unwrap_or_default();
        let sel: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let pods = self
            .pods()
            .list(&ListParams::default().labels(&sel.join(",")))
            .await
            .map_err(|e| explain("list pods", &e))?;
        let mut out = Vec::new();
        for p in pods.items {
            let name = p.metadata.name.clone().unwrap_or_default();
            let Some(status) = &p.status else {
                out.push(format!("pod {name} has no status yet"));
                continue;
            };
            let ready = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if ready {
                continue;
            }
            let mut why: Vec<String> = status
                .container_statuses
                .iter()
                .flatten()
                .filter_map(|c| {
                    let w = c.state.as_ref()?.waiting.as_ref()?;
                    Some(format!(
                        "container {} waiting: {}{}",
                        c.name,
                        w.reason.clone().unwrap_or_default(),
                        w.message
                            .as_ref()
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default()
                    ))
                })
                .collect();
            if why.is_empty() {
                why.push(
                    status
                        .conditions
                        .iter()
                        .flatten()
                        .find(|c| c.type_ == "Ready")
                        .and_then(|c| c.message.clone().or(c.reason.clone()))
                        .unwrap_or_else(|| {
                            format!(
                                "phase {}",
                                status.phase.clone().unwrap_or_else(|| "unknown".into())
                            )
                        }),
                );
            }
            out.push(format!("pod {name} not Ready: {}", why.join(", ")));
        }
        Ok(out.join("; "))
    }
}

/// A Deployment's status in a few words.
pub(crate) fn summary(d: &Deployment) -> String {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let s = d.status.clone().unwrap_or_default();
    format!(
        "{} of {want} available, {} updated, {} in total",
        s.available_replicas.unwrap_or(0),
        s.updated_replicas.unwrap_or(0),
        s.replicas.unwrap_or(0)
    )
}

/// Whether the Deployment's status shows `want` (`Some` with a description), not yet
/// (`None`), or never will (`Err`: the progress deadline passed).
pub(crate) fn reached(d: &Deployment, want: Want) -> Result<Option<String>, String> {
    let status = d.status.clone().unwrap_or_default();
    let generation = d.metadata.generation.unwrap_or(0);
    // Until the controller has seen the latest spec, the status (and a deadline condition)
    // is about the previous one: right after a rollback's apply, the failed rollout's
    // `ProgressDeadlineExceeded` is still there.
    if status.observed_generation.unwrap_or(0) < generation {
        return Ok(None);
    }
    if let Some(c) = status.conditions.iter().flatten().find(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    }) {
        return Err(format!(
            "ProgressDeadlineExceeded: {}",
            c.message.clone().unwrap_or_default()
        ));
    }
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let ok = match want {
        Want::Updated(n) => updated >= n && available >= n.min(desired),
        Want::RolledOut => updated == desired && available == desired && total == desired,
        Want::Empty => total == 0,
    };
    Ok(ok.then(|| summary(d)))
}

/// Sets the weights of the backendRefs named `service` and `canary` in an HTTPRoute's rules,
/// adding the canary's ref beside the stable one where it is missing.
fn set_weights(
    data: &mut serde_json::Value,
    service: &str,
    canary: &str,
    canary_weight: i64,
) -> Result<(), String> {
    let rules = data
        .get_mut("spec")
        .and_then(|s| s.get_mut("rules"))
        .and_then(|r| r.as_array_mut())
        .ok_or("it has no spec.rules")?;
    let mut found = false;
    for rule in rules {
        let Some(refs) = rule.get_mut("backendRefs").and_then(|r| r.as_array_mut()) else {
            continue;
        };
        let Some(stable) = refs
            .iter()
            .find(|r| r.get("name").and_then(|n| n.as_str()) == Some(service))
            .cloned()
        else {
            continue;
        };
        found = true;
        if !refs
            .iter()
            .any(|r| r.get("name").and_then(|n| n.as_str()) == Some(canary))
        {
            let mut c = stable;
            if let Some(o) = c.as_object_mut() {
                o.insert("name".into(), serde_json::json!(canary));
            }
            refs.push(c);
        }
        for r in refs.iter_mut() {
            let weight = match r.get("name").and_then(|n| n.as_str()) {
                Some(n) if n == service => 100 - canary_weight,
                Some(n) if n == canary => canary_weight,
                _ => continue,
            };
            if let Some(o) = r.as_object_mut() {
                o.insert("weight".into(), serde_json::json!(weight));
            }
        }
    }
    if found {
        Ok(())
    } else {
        Err(format!("no rule sends traffic to the Service `{service}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(v: serde_json::Value) -> Deployment {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_rollout_is_reached_only_once_the_controller_saw_the_generation() {
        let lagging = deployment(serde_json::json!({
            "metadata": {"name": "shop", "generation": 3},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
        }));
        assert_eq!(reached(&lagging, Want::RolledOut), Ok(None));
        let done = deployment(serde_json::json!({
            "metadata": {"name": "shop", "generation": 3},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 3, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}
        }));
        // An old pod is still there: not rolled out, but two are updated and available.
        assert_eq!(reached(&done, Want::RolledOut), Ok(None));
        assert!(reached(&done, Want::Updated(2)).unwrap().is_some());
        assert_eq!(reached(&done, Want::Empty), Ok(None));
    }

    #[test]
    fn the_progress_deadline_of_an_older_generation_is_not_this_ones() {
        let rolled_back = deployment(serde_json::json!({
            "metadata": {"name": "shop", "generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "conditions": [{"type": "Progressing", "status": "False",
                "reason": "ProgressDeadlineExceeded"}]}
        }));
        assert_eq!(reached(&rolled_back, Want::RolledOut), Ok(None));
    }

    #[test]
    fn the_progress_deadline_fails_at_once() {
        let stuck = deployment(serde_json::json!({
            "metadata": {"name": "shop", "generation": 1},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "conditions": [{"type": "Progressing", "status": "False",
                "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"shop-5d\" has timed out progressing."}]}
        }));
        let e = reached(&stuck, Want::Updated(1)).unwrap_err();
        assert!(e.contains("ProgressDeadlineExceeded: ReplicaSet"), "{e}");
    }

    #[test]
    fn route_weights_add_the_canary_beside_the_stable_service() {
        let mut data = serde_json::json!({"spec": {"rules": [
            {"backendRefs": [{"name": "shop", "port": 80}]},
            {"backendRefs": [{"name": "other", "port": 80}]}
        ]}});
        set_weights(&mut data, "shop", "shop-canary", 10).unwrap_or_default();
        let refs = &data["spec"]["rules"][0]["backendRefs"];
        assert_eq!(refs[0]["weight"], 90);
        assert_eq!(refs[1]["name"], "shop-canary");
        assert_eq!(refs[1]["weight"], 10);
        assert_eq!(refs[1]["port"], 80);
        assert!(
            data["spec"]["rules"][1]["backendRefs"][0]
                .get("weight")
                .is_none()
        );
        assert!(set_weights(&mut data, "nope", "c", 1).is_err());
    }
}
