//! The `kubernetes` provider: `deployc run` drives Deployments, Services and a Gateway API
//! `HTTPRoute` through the Kubernetes API, instead of the `kubectl set image`, `rollout
//! status`, `scale` and `patch service` commands of a hand-written runbook.
//!
//! Why a module of its own, and why this way:
//!
//! * Every write is a server-side apply by the field manager `deployc` with strict field
//!   validation, of only the fields deployc owns (an image, a replica count, the rolling-update
//!   bounds), so a misspelt field is an error naming it rather than silently pruned, and the
//!   fields other tools own are left alone. The two writes that change a field others own —
//!   a Service's selector (the blue/green switch) and an `HTTPRoute`'s weights — are a read
//!   and a write carrying the resourceVersion read: a concurrent change is answered 409, and
//!   deployc reads again and retries a few times instead of overwriting it.
//! * Every wait watches the Deployment (no polling sleep) until its status shows the state
//!   wanted (`observedGeneration`, updated and available replicas), fails at once on
//!   `ProgressDeadlineExceeded`, and is bounded by the target's `timeout`; a timeout says
//!   which pods are not Ready and why.
//! * 4xx answers are reported with the API's own message (which names the object and the
//!   field) and never retried blindly.
//! * The requests are built in [`objects`], which also describes them for `--dry-run`: what a
//!   dry run prints is what a run sends.
//!
//! Only `runtime` sees this module: the rest of the crate knows the plan's `ClusterTarget`.

mod client;
// The `argo_rollouts` provider reaches its cluster through the same client.
pub(super) use client::{connect, explain};
pub(crate) mod objects;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;

use super::world::{BoxFuture, Done, Provider};
use crate::lower::{Action, ClusterTarget, Plan};
use client::{Cluster, Want};
use objects::{Strategy, TRACK_LABEL, VERSION_LABEL};

/// What the provider learnt from the cluster before it changed anything, and what it created.
#[derive(Debug, Clone, Default)]
struct State {
    /// The total replicas: the target's `replicas`, else the stable Deployment's.
    total: i32,
    /// The Deployment serving the stable version.
    stable: String,
    /// The stable Deployment as read: its pod template is the template of the new ones.
    template: Option<Deployment>,
    /// The stable container's image, put back by a rollback of a rolling or recreate rollout.
    stable_image: Option<String>,
    /// The Service's selector before the blue/green switch.
    selector_before: Option<BTreeMap<String, String>>,
    /// The Deployment of the new version (canary or green), once applied.
    new_deployment: Option<String>,
    /// Whether the blue/green switch happened.
    switched: bool,
    /// The image each Deployment that deployc did not create runs as deployc last applied
    /// it (or read it): every apply carries it again (see [`KubeProvider::scale`]).
    images: BTreeMap<String, String>,
}

/// The provider of a `kubernetes` target.
pub(crate) struct KubeProvider {
    cluster: Cluster,
    target: ClusterTarget,
    strategy: Strategy,
    release: String,
    service: String,
    environment: String,
    /// The plan's health check: URL and expected status.
    health: Option<(String, u64)>,
    max_unavailable: u64,
    http: reqwest::Client,
    state: Mutex<State>,
}

/// The health check and rolling bounds of a plan.
fn plan_facts(plan: &Plan) -> (Option<(String, u64)>, u64) {
    let mut health = None;
    let mut max_unavailable = 0;
    for s in plan.phases.iter().flat_map(|p| p.steps.iter()) {
        match &s.action {
            Action::HealthCheck { url, expect } if health.is_none() => {
                health = Some((url.clone(), *expect));
            }
            Action::RollingBatch {
                max_unavailable: m, ..
            } => max_unavailable = *m,
            _ => {}
        }
    }
    (health, max_unavailable)
}

/// The dry-run description of one operation on a `kubernetes` target.
pub(crate) fn describe(
    plan: &Plan,
    target: &ClusterTarget,
    stable: Option<&str>,
    op: objects::Op<'_>,
) -> String {
    let (health, max_unavailable) = plan_facts(plan);
    let d = objects::Describe {
        target,
        strategy: Strategy::from_plan(&plan.strategy),
        release: &plan.release,
        service: &plan.service,
        environment: &plan.environment,
        stable,
        max_unavailable,
    };
    let mut requests = objects::describe(&d, op);
    // The plan's HTTP health check runs with the pod checks and after each traffic change.
    if let Some((url, expect)) = health.filter(|(u, _)| !u.contains('{')) {
        let after_change = match op {
            objects::Op::Health | objects::Op::Batch(..) => true,
            objects::Op::Weight(_) => d.strategy != Strategy::Rolling,
            _ => false,
        };
        if after_change {
            requests.push(objects::Request {
                method: "GET",
                path: url,
                summary: format!("the service's health check, expecting {expect}"),
            });
        }
    }
    if requests.is_empty() {
        "no API request".into()
    } else {
        objects::lines(&requests)
    }
}

impl KubeProvider {
    /// Connects and reads the stable Deployment: a bad kubeconfig, an unreachable API server
    /// or a missing Deployment is a configuration error before anything changes.
    pub(crate) async fn connect(
        plan: &Plan,
        target: &ClusterTarget,
        base: &Path,
    ) -> Result<KubeProvider, String> {
        let timeout = Duration::from_millis(target.timeout_ms);
        let (client, url) = client::connect(
            target.kubeconfig.as_deref(),
            target.context.as_deref(),
            base,
            timeout,
        )
        .await?;
        let cluster = Cluster {
            client,
            namespace: target.namespace.clone(),
            timeout,
        };
        match cluster.deployment(&target.workload).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(format!(
                    "kubernetes: deployment {}/{} not found at {url}",
                    target.namespace, target.workload
                ));
            }
            Err(e) => return Err(format!("kubernetes ({url}): {e}")),
        }
        let (health, max_unavailable) = plan_facts(plan);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(KubeProvider {
            cluster,
            target: target.clone(),
            strategy: Strategy::from_plan(&plan.strategy),
            release: plan.release.clone(),
            service: plan.service.clone(),
            environment: plan.environment.clone(),
            health,
            max_unavailable,
            http,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> State {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }

    /// Reads the stable Deployment when this process has not (a run resumed before its
    /// stable step finished, or in its rollback).
    async fn ensure_read(&self) -> Result<(), String> {
        if self.state().template.is_none() {
            self.start_stable_inner(None).await?;
        }
        Ok(())
    }

    /// The Deployment of the new version, by its name (it may have been applied by the
    /// process that a resumed run continues).
    fn new_name(&self) -> Option<String> {
        match self.strategy {
            Strategy::Canary => Some(objects::canary_name(&self.target)),
            Strategy::BlueGreen => Some(objects::versioned_name(
                &self.target.workload,
                &self.release,
            )),
            _ => None,
        }
    }

    fn ns(&self) -> &str {
        &self.target.namespace
    }

    fn new_image(&self) -> String {
        objects::image(
            &self.target,
            &self.release,
            &self.service,
            &self.environment,
        )
    }

    fn image_of(&self, d: &Deployment) -> Option<String> {
        d.spec
            .as_ref()?
            .template
            .spec
            .as_ref()?
            .containers
            .iter()
            .find(|c| c.name == self.target.container)?
            .image
            .clone()
    }

    /// Applies an image (with the replicas, and the rolling bounds when given) to a Deployment
    /// deployc did not create, and remembers it.
    async fn apply_image(
        &self,
        name: &str,
        image: &str,
        replicas: i32,
        rolling: Option<(i32, i32)>,
    ) -> Result<(), String> {
        let body =
            objects::image_body(name, &self.target.container, image, Some(replicas), rolling);
        self.cluster.apply_deployment(name, &body).await?;
        self.update(|s| {
            s.images.insert(name.to_string(), image.to_string());
        });
        Ok(())
    }

    /// The whole configuration deployc applies to a Deployment, with `replicas`. Server-side
    /// apply removes the fields a manager applied before and leaves out now, so a scale carries
    /// every field deployc owns on that Deployment: the whole object for the ones it creates
    /// (canary, a version's Deployment), the image and replicas for the others.
    fn full_body(&self, name: &str, replicas: i32) -> Result<serde_json::Value, String> {
        if self.new_name().as_deref() == Some(name) {
            let track = match self.strategy {
                Strategy::Canary => "canary",
                _ => "release",
            };
            return self.new_deployment(name, &self.version_labels(track), replicas);
        }
        let s = self.state();
        if name != self.target.workload
            && name == s.stable
            && let Some(d) = &s.template
        {
            // A version's Deployment that an earlier blue/green release created: its own
            // object again, as read.
            let spec = d.spec.clone().ok_or("the stable Deployment has no spec")?;
            return Ok(serde_json::json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": { "name": name, "labels": d.metadata.labels.clone().unwrap_or_default() },
                "spec": {
                    "replicas": replicas,
                    "selector": spec.selector,
                    "template": spec.template,
                },
            }));
        }
        let image = s
            .images
            .get(name)
            .cloned()
            .or(s.stable_image)
            .ok_or("the stable image was not read")?;
        Ok(objects::image_body(
            name,
            &self.target.container,
            &image,
            Some(replicas),
            None,
        ))
    }

    async fn scale(&self, name: &str, replicas: i32) -> Result<String, String> {
        let body = self.full_body(name, replicas)?;
        self.cluster.apply_deployment(name, &body).await?;
        let want = if replicas == 0 {
            Want::Empty
        } else {
            Want::Updated(replicas)
        };
        let status = self.cluster.wait(name, want).await?;
        Ok(format!("{name} → {replicas} replicas ({status})"))
    }

    /// A new Deployment from the stable one's pod template: the new image, the extra labels on
    /// its selector and pods, `replicas`.
    fn new_deployment(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        replicas: i32,
    ) -> Result<serde_json::Value, String> {
        let s = self.state();
        let base = s
            .template
            .ok_or("the stable Deployment was not read (no stable step ran)")?;
        let spec = base.spec.ok_or("the stable Deployment has no spec")?;
        let mut template = spec.template;
        let meta = template.metadata.get_or_insert_with(Default::default);
        let pod_labels = meta.labels.get_or_insert_with(BTreeMap::new);
        pod_labels.extend(labels.clone());
        let pod = template
            .spec
            .as_mut()
            .ok_or("the stable Deployment's template has no pod spec")?;
        let image = self.new_image();
        let container = pod
            .containers
            .iter_mut()
            .find(|c| c.name == self.target.container)
            .ok_or_else(|| {
                format!(
                    "the stable Deployment has no container `{}`",
                    self.target.container
                )
            })?;
        container.image = Some(image);
        let mut selector = spec.selector.match_labels.unwrap_or_default();
        selector.extend(labels.clone());
        let mut meta_labels = BTreeMap::new();
        meta_labels.extend(labels.clone());
        meta_labels.insert(
            "app.kubernetes.io/managed-by".to_string(),
            "deployc".to_string(),
        );
        Ok(serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": name, "labels": meta_labels },
            "spec": {
                "replicas": replicas,
                "selector": { "matchLabels": selector },
                "template": template,
            },
        }))
    }

    fn version_labels(&self, track: &str) -> BTreeMap<String, String> {
        let mut l = BTreeMap::new();
        l.insert(
            VERSION_LABEL.to_string(),
            objects::label_value(&self.release),
        );
        l.insert(TRACK_LABEL.to_string(), track.to_string());
        l
    }

    /// The plan's HTTP health check, when its URL is a real address (a `{port}` placeholder
    /// belongs to the local provider).
    async fn http_check(&self) -> Result<Option<String>, String> {
        let Some((url, expect)) = &self.health else {
            return Ok(None);
        };
        if url.contains('{') {
            return Ok(None);
        }
        let r = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("health {url}: {}", client::root_cause(&e)))?;
        let code = u64::from(r.status().as_u16());
        if code == *expect {
            Ok(Some(format!("GET {url} {code}")))
        } else {
            Err(format!("health {url}: {code}, expected {expect}"))
        }
    }

    /// The Deployments that serve traffic now.
    fn serving(&self) -> Vec<String> {
        let s = self.state();
        let stable = if s.stable.is_empty() {
            self.target.workload.clone()
        } else {
            s.stable.clone()
        };
        match (self.strategy, self.new_name()) {
            (Strategy::Canary, Some(c)) => vec![stable, c],
            (Strategy::BlueGreen, Some(g)) if s.switched => vec![g],
            _ => vec![stable],
        }
    }

    async fn check_health(&self) -> Result<String, String> {
        let mut parts = Vec::new();
        for (i, name) in self.serving().into_iter().enumerate() {
            let Some(d) = self.cluster.deployment(&name).await? else {
                // A canary not applied yet serves nothing; the first one must exist.
                if i > 0 {
                    continue;
                }
                return Err(format!("deployment {}/{name} not found", self.ns()));
            };
            let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let available = d
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0);
            if available < desired {
                let pods = self.cluster.not_ready(&name).await.unwrap_or_default();
                return Err(format!(
                    "deployment {}/{name}: {available} of {desired} replicas available{}",
                    self.ns(),
                    if pods.is_empty() {
                        String::new()
                    } else {
                        format!("; {pods}")
                    }
                ));
            }
            parts.push(format!("{name} {available}/{desired} available"));
        }
        if let Some(h) = self.http_check().await? {
            parts.push(h);
        }
        Ok(parts.join(", "))
    }

    async fn start_stable_inner(&self, version: Option<&str>) -> Result<String, String> {
        let base = self
            .cluster
            .deployment(&self.target.workload)
            .await?
            .ok_or_else(|| {
                format!(
                    "deployment {}/{} not found",
                    self.ns(),
                    self.target.workload
                )
            })?;
        let mut stable = self.target.workload.clone();
        let mut template = base;
        // A blue/green release before this one left the stable version in a Deployment of its
        // own.
        if self.strategy == Strategy::BlueGreen
            && let Some(v) = version
        {
            let name = objects::versioned_name(&self.target.workload, v);
            if let Some(d) = self.cluster.deployment(&name).await? {
                stable = name;
                template = d;
            }
        }
        let image = self.image_of(&template).ok_or_else(|| {
            format!(
                "deployment {}/{stable} has no container `{}`",
                self.ns(),
                self.target.container
            )
        })?;
        let current = template.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let total = self
            .target
            .replicas
            .and_then(|r| i32::try_from(r).ok())
            .unwrap_or(current);
        let mut selector_before = None;
        if self.strategy == Strategy::BlueGreen
            && let Some(s) = &self.target.service
        {
            let svc = self
                .cluster
                .services()
                .get(s)
                .await
                .map_err(|e| client::explain(&format!("GET service {}/{s}", self.ns()), &e))?;
            selector_before = Some(svc.spec.and_then(|s| s.selector).unwrap_or_default());
        }
        let status = client::summary(&template);
        self.update(|st| {
            st.total = total;
            st.stable = stable.clone();
            st.template = Some(template);
            st.stable_image = Some(image.clone());
            st.images.insert(stable.clone(), image.clone());
            st.selector_before = selector_before;
        });
        Ok(format!(
            "deployment {}/{stable} serves {image} ({status}); {total} replicas in total",
            self.ns()
        ))
    }

    async fn deploy_inner(&self) -> Result<String, String> {
        self.ensure_read().await?;
        let total = self.state().total;
        match self.strategy {
            Strategy::Canary => {
                let name = objects::canary_name(&self.target);
                let labels = self.version_labels("canary");
                // A resumed run finds its own canary serving: its replicas stay until the next
                // step sets them. A canary of another version starts from zero.
                let replicas = match self.cluster.deployment(&name).await? {
                    Some(d) if self.image_of(&d).as_deref() == Some(self.new_image().as_str()) => {
                        d.spec.and_then(|s| s.replicas).unwrap_or(0)
                    }
                    _ => 0,
                };
                let body = self.new_deployment(&name, &labels, replicas)?;
                self.cluster.apply_deployment(&name, &body).await?;
                self.update(|s| s.new_deployment = Some(name.clone()));
                let mut done = format!(
                    "applied deployment {}/{name} ({replicas} replicas)",
                    self.ns()
                );
                if self.target.route.is_some() {
                    let stable_svc = self
                        .target
                        .service
                        .as_deref()
                        .ok_or("a canary with a `route` needs the stable `service`")?;
                    let svc = self.cluster.services().get(stable_svc).await.map_err(|e| {
                        client::explain(&format!("GET service {}/{stable_svc}", self.ns()), &e)
                    })?;
                    let mut selector = svc
                        .spec
                        .as_ref()
                        .and_then(|s| s.selector.clone())
                        .unwrap_or_default();
                    selector.extend(labels);
                    let ports = svc.spec.map(|s| s.ports).unwrap_or_default();
                    let cs = objects::canary_service(&self.target);
                    let body = serde_json::json!({
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": { "name": cs },
                        "spec": { "selector": selector, "ports": ports },
                    });
                    self.cluster.apply_service(&cs, &body).await?;
                    done.push_str(&format!(", service {}/{cs}", self.ns()));
                }
                Ok(done)
            }
            Strategy::BlueGreen => {
                let name = objects::versioned_name(&self.target.workload, &self.release);
                let labels = self.version_labels("release");
                let body = self.new_deployment(&name, &labels, total)?;
                self.cluster.apply_deployment(&name, &body).await?;
                self.update(|s| s.new_deployment = Some(name.clone()));
                let status = match self.cluster.wait(&name, Want::RolledOut).await {
                    Ok(s) => s,
                    Err(e) => {
                        // A deploy that failed is not rolled back by the plan (nothing was
                        // deployed as far as it knows): the pods that never became ready are
                        // stopped here, the Deployment kept for inspection.
                        let stopped = match self.scale(&name, 0).await {
                            Ok(_) => format!("{name} scaled back to zero"),
                            Err(e2) => format!("{name} not scaled back: {e2}"),
                        };
                        return Err(format!("{e}; {stopped}"));
                    }
                };
                let mut done = format!("deployment {}/{name} available ({status})", self.ns());
                if let Some(p) = &self.target.preview_service {
                    let mut selector = self
                        .cluster
                        .services()
                        .get(p)
                        .await
                        .map_err(|e| {
                            client::explain(&format!("GET service {}/{p}", self.ns()), &e)
                        })?
                        .spec
                        .and_then(|s| s.selector)
                        .unwrap_or_default();
                    selector.insert(VERSION_LABEL.into(), objects::label_value(&self.release));
                    self.cluster.set_selector(p, &selector).await?;
                    done.push_str(&format!("; preview service {p} selects it"));
                }
                Ok(done)
            }
            Strategy::Rolling | Strategy::Recreate | Strategy::None => Ok(format!(
                "nothing to start: {} gets {} at the rollout",
                self.target.workload,
                self.new_image()
            )),
        }
    }

    async fn weight_inner(&self, percent: f64) -> Result<String, String> {
        self.ensure_read().await?;
        let s = self.state();
        let total = u64::try_from(s.total).unwrap_or(0);
        match self.strategy {
            Strategy::Canary => {
                self.check_health().await?;
                let canary = s
                    .new_deployment
                    .clone()
                    .unwrap_or_else(|| objects::canary_name(&self.target));
                let mut done = Vec::new();
                if let Some(route) = &self.target.route {
                    let c = objects::routed_canary_replicas(total, percent);
                    done.push(self.scale(&canary, to_i32(c)).await?);
                    let stable_svc = self.target.service.as_deref().unwrap_or_default();
                    let w = percent.round() as i64;
                    let conflicts = self
                        .cluster
                        .set_route_weights(
                            route,
                            stable_svc,
                            &objects::canary_service(&self.target),
                            w,
                        )
                        .await?;
                    done.push(format!(
                        "httproute {route}: {stable_svc} {}, canary {w}{}",
                        100 - w,
                        retried(conflicts)
                    ));
                } else {
                    let c = objects::canary_replicas(total, percent);
                    // The canary grows before the stable shrinks: the capacity never drops.
                    done.push(self.scale(&canary, to_i32(c)).await?);
                    done.push(self.scale(&s.stable, to_i32(total - c)).await?);
                }
                if let Some(h) = self.http_check().await? {
                    done.push(h);
                }
                Ok(done.join("; "))
            }
            Strategy::BlueGreen => {
                let service = self
                    .target
                    .service
                    .as_deref()
                    .ok_or("blue_green needs the `service` to switch")?;
                let green = s
                    .new_deployment
                    .clone()
                    .or_else(|| self.new_name())
                    .ok_or("the new version was not deployed")?;
                self.check_health_of(&green).await?;
                let mut selector = s.selector_before.clone().unwrap_or_default();
                selector.insert(VERSION_LABEL.into(), objects::label_value(&self.release));
                let (before, conflicts) = self.cluster.set_selector(service, &selector).await?;
                self.update(|st| {
                    st.switched = true;
                    if st.selector_before.is_none() {
                        st.selector_before = Some(before);
                    }
                });
                let mut done = format!(
                    "service {}/{service} selects {VERSION_LABEL}={}{}",
                    self.ns(),
                    objects::label_value(&self.release),
                    retried(conflicts)
                );
                if let Some(h) = self.http_check().await? {
                    done.push_str(&format!("; {h}"));
                }
                Ok(done)
            }
            Strategy::Recreate => {
                let name = s.stable.clone();
                let down = self.scale(&name, 0).await?;
                self.apply_image(&name, &self.new_image(), s.total, None)
                    .await?;
                let status = self.cluster.wait(&name, Want::RolledOut).await?;
                Ok(format!(
                    "{down}; {name} runs {} ({status})",
                    self.new_image()
                ))
            }
            Strategy::Rolling | Strategy::None => Ok("no traffic split to change".into()),
        }
    }

    async fn check_health_of(&self, name: &str) -> Result<(), String> {
        let d = self
            .cluster
            .deployment(name)
            .await?
            .ok_or_else(|| format!("deployment {}/{name} not found", self.ns()))?;
        match client::reached(&d, Want::RolledOut)? {
            Some(_) => Ok(()),
            None => {
                let pods = self.cluster.not_ready(name).await.unwrap_or_default();
                Err(format!(
                    "deployment {}/{name} is not ready ({}){}",
                    self.ns(),
                    client::summary(&d),
                    if pods.is_empty() {
                        String::new()
                    } else {
                        format!("; {pods}")
                    }
                ))
            }
        }
    }

    async fn batch_inner(&self, batch: u64, of: u64) -> Result<String, String> {
        self.ensure_read().await?;
        let s = self.state();
        let name = s.stable.clone();
        let total = u64::try_from(s.total).unwrap_or(0);
        let mut done = Vec::new();
        if batch <= 1 {
            let (surge, unavailable) =
                objects::rolling_bounds(Some(total), of, self.max_unavailable);
            self.apply_image(
                &name,
                &self.new_image(),
                s.total,
                Some((to_i32(surge.unwrap_or(1)), to_i32(unavailable))),
            )
            .await?;
            done.push(format!(
                "applied image {} to {}/{name} (maxSurge {}, maxUnavailable {unavailable})",
                self.new_image(),
                self.ns(),
                surge.unwrap_or(1)
            ));
        }
        let want = if batch >= of {
            Want::RolledOut
        } else {
            Want::Updated(to_i32((total * batch).div_ceil(of.max(1))))
        };
        done.push(self.cluster.wait(&name, want).await?);
        if let Some(h) = self.http_check().await? {
            done.push(h);
        }
        Ok(done.join("; "))
    }

    async fn promote_inner(&self) -> Result<String, String> {
        self.ensure_read().await?;
        let s = self.state();
        match self.strategy {
            Strategy::Canary => {
                self.apply_image(&s.stable, &self.new_image(), s.total, None)
                    .await?;
                let status = self.cluster.wait(&s.stable, Want::RolledOut).await?;
                let mut done = vec![format!("{} runs {} ({status})", s.stable, self.new_image())];
                if let (Some(route), Some(svc)) = (&self.target.route, &self.target.service) {
                    self.cluster
                        .set_route_weights(route, svc, &objects::canary_service(&self.target), 0)
                        .await?;
                    done.push(format!("httproute {route}: all weight on {svc}"));
                }
                if let Some(c) = s.new_deployment.clone().or_else(|| self.new_name()) {
                    done.push(self.scale(&c, 0).await?);
                }
                Ok(done.join("; "))
            }
            Strategy::BlueGreen => {
                // The previous version is kept, scaled to zero, so that it can be scaled back.
                if s.new_deployment.as_deref() == Some(s.stable.as_str()) {
                    return Ok("nothing to stop".into());
                }
                Ok(format!(
                    "previous deployment kept: {}",
                    self.scale(&s.stable, 0).await?
                ))
            }
            _ => Ok(format!("{} runs {}", s.stable, self.new_image())),
        }
    }

    async fn traffic_to_stable_inner(&self) -> Result<String, String> {
        self.ensure_read().await?;
        let s = self.state();
        match self.strategy {
            Strategy::Canary => {
                if let (Some(route), Some(svc)) = (&self.target.route, &self.target.service) {
                    self.cluster
                        .set_route_weights(route, svc, &objects::canary_service(&self.target), 0)
                        .await?;
                    Ok(format!("httproute {route}: all weight on {svc}"))
                } else {
                    self.scale(&s.stable, s.total).await
                }
            }
            Strategy::BlueGreen => {
                let Some(service) = &self.target.service else {
                    return Ok("no service to switch back".into());
                };
                if !s.switched {
                    return Ok(format!(
                        "service {service} still selects the stable version"
                    ));
                }
                let before = s.selector_before.clone().unwrap_or_default();
                let (_, conflicts) = self.cluster.set_selector(service, &before).await?;
                self.update(|st| st.switched = false);
                let sel: Vec<String> = before.iter().map(|(k, v)| format!("{k}={v}")).collect();
                Ok(format!(
                    "service {}/{service} selects {} again{}",
                    self.ns(),
                    sel.join(","),
                    retried(conflicts)
                ))
            }
            Strategy::Rolling | Strategy::Recreate => {
                let image = s
                    .stable_image
                    .clone()
                    .ok_or("the previous image was not read")?;
                self.apply_image(&s.stable, &image, s.total, None).await?;
                let status = self.cluster.wait(&s.stable, Want::RolledOut).await?;
                Ok(format!("{} runs {image} again ({status})", s.stable))
            }
            Strategy::None => Ok("nothing changed".into()),
        }
    }

    async fn stop_new_inner(&self) -> Result<String, String> {
        self.ensure_read().await?;
        match (self.strategy, self.new_name()) {
            (Strategy::Canary | Strategy::BlueGreen, Some(name)) => {
                if self.cluster.deployment(&name).await?.is_none() {
                    return Ok(format!("no deployment {}/{name} to stop", self.ns()));
                }
                self.scale(&name, 0).await
            }
            (Strategy::Rolling | Strategy::Recreate, _) => {
                Ok("the previous image replaced the new pods".into())
            }
            _ => Ok("no new Deployment".into()),
        }
    }
}

fn to_i32(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn retried(conflicts: u32) -> String {
    if conflicts == 0 {
        String::new()
    } else {
        format!(
            " (after {conflicts} conflict{}, read again)",
            if conflicts == 1 { "" } else { "s" }
        )
    }
}

impl Provider for KubeProvider {
    fn start_stable<'a>(&'a self, version: Option<&'a str>) -> BoxFuture<'a, Done> {
        Box::pin(self.start_stable_inner(version))
    }
    fn deploy<'a>(&'a self, _version: &'a str) -> BoxFuture<'a, Done> {
        Box::pin(self.deploy_inner())
    }
    fn weight(&self, percent: f64) -> BoxFuture<'_, Done> {
        Box::pin(self.weight_inner(percent))
    }
    fn batch(&self, batch: u64, of: u64) -> BoxFuture<'_, Done> {
        Box::pin(self.batch_inner(batch, of))
    }
    fn promote(&self) -> BoxFuture<'_, Done> {
        Box::pin(self.promote_inner())
    }
    fn traffic_to_stable(&self) -> BoxFuture<'_, Done> {
        Box::pin(self.traffic_to_stable_inner())
    }
    fn stop_new(&self) -> BoxFuture<'_, Done> {
        Box::pin(self.stop_new_inner())
    }
    fn health(&self) -> BoxFuture<'_, Done> {
        Box::pin(self.check_health())
    }
    fn url(&self) -> Option<String> {
        None
    }
    fn shutdown(&self, _keep_running: bool) -> BoxFuture<'_, Done> {
        Box::pin(std::future::ready(Ok(
            "the cluster keeps its Deployments (nothing runs in this process)".to_string(),
        )))
    }
}
