//! The `argo_rollouts` provider: deployc applies what `deployc export argo-rollouts` writes
//! (the AnalysisTemplates, the Rollout, then the release's image) and follows the Rollout's
//! `status` as Argo's controller moves it — `currentStepIndex` through the steps, `phase`,
//! `abort` — while the executor runs its own checks, migrations and flags around it. When a
//! deployc trigger fires, the rollback aborts the Rollout the way `kubectl argo rollouts abort`
//! does: a merge patch of `status.abort: true`; Argo then sends the traffic back to the stable
//! version and scales the canary down.
//!
//! The provider only reads and writes the API: nothing here waits on pods, so the tests drive
//! it against a real API server with the status that the controller would write.

pub(crate) mod client;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::world::{self, BoxFuture, Done};
use crate::lower::plan::{ClusterTarget, Plan};
use client::{Api, object_path};

/// How often the Rollout's status is read while waiting.
const POLL: Duration = Duration::from_millis(500);

pub(crate) struct ArgoProvider {
    api: Api,
    /// The exported objects, in the order to apply them (a `workloadRef` Rollout and the
    /// Deployment's image, unless the plan asked for the pod template).
    objects: Vec<Value>,
    /// The same with the pod template in the Rollout.
    standalone: Vec<Value>,
    /// The Rollout's API path.
    rollout: String,
    /// The canary steps of the exported Rollout.
    steps: Vec<Value>,
    /// The Rollout is blue/green: the switch is its promotion.
    blue_green: bool,
    /// How long one step may take to be reached.
    timeout: Duration,
    poll: Duration,
}

impl ArgoProvider {
    /// The provider for `plan`'s cluster; the kubeconfig is resolved against `base` (the
    /// `.deploy` file's directory) and `env`.
    pub(crate) async fn new(
        plan: &Plan,
        cluster: &ClusterTarget,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        options: crate::export::argo::ArgoOptions,
    ) -> Result<ArgoProvider, String> {
        // deployc judges the holds itself (with whatever metric source the environment
        // has) and aborts the Rollout on a breach: one judge, so Argo's copy of the analyses
        // is left out and the holds are pauses.
        let options = crate::export::argo::ArgoOptions {
            without_analysis: true,
            ..options
        };
        let export = crate::export::argo::export(plan, env, options);
        if export.has_errors() {
            let errors: Vec<String> = export
                .diagnostics
                .iter()
                .filter(|d| d.severity == crate::export::ExportSeverity::Error)
                .map(|d| format!("{} ({})", d.message, d.reason))
                .collect();
            return Err(format!(
                "the Argo Rollouts objects cannot be made: {}",
                errors.join("; ")
            ));
        }
        let api = Api::connect(
            cluster.kubeconfig.as_deref(),
            cluster.context.as_deref(),
            base,
            Duration::from_millis(cluster.timeout_ms.max(1)),
        )
        .await?;
        let objects: Vec<Value> = export.objects.into_iter().map(|(_, v)| v).collect();
        // The same objects with the pod template in the Rollout, for a namespace without the
        // Deployment to follow.
        let standalone: Vec<Value> = crate::export::argo::export(
            plan,
            env,
            crate::export::argo::ArgoOptions {
                pod_template: true,
                ..options
            },
        )
        .objects
        .into_iter()
        .map(|(_, v)| v)
        .collect();
        let rollout = objects
            .iter()
            .find(|o| o["kind"] == "Rollout")
            .ok_or("the export has no Rollout")
            .and_then(|r| object_path(r).map_err(|_| "the Rollout has no name"))?;
        let steps = objects
            .iter()
            .find(|o| o["kind"] == "Rollout")
            .and_then(|r| r.pointer("/spec/strategy/canary/steps"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let blue_green = objects
            .iter()
            .any(|o| o["kind"] == "Rollout" && o.pointer("/spec/strategy/blueGreen").is_some());
        Ok(ArgoProvider {
            api,
            objects,
            standalone,
            rollout,
            steps,
            blue_green,
            timeout: Duration::from_millis(cluster.timeout_ms.max(1)),
            poll: POLL,
        })
    }

    async fn status(&self) -> Result<Value, String> {
        let r = self
            .api
            .get(&self.rollout)
            .await?
            .ok_or_else(|| format!("the Rollout at {} does not exist", self.rollout))?;
        Ok(r.get("status").cloned().unwrap_or(Value::Null))
    }

    /// Waits until `done(status)` is true; fails on an abort or a degraded Rollout, or when
    /// the step timeout passes.
    async fn wait_for(&self, what: &str, done: &(dyn Fn(&Value) -> bool + Sync)) -> Done {
        let start = std::time::Instant::now();
        loop {
            let status = self.status().await?;
            if done(&status) {
                return Ok(what.to_string());
            }
            if status.get("abort").and_then(Value::as_bool) == Some(true) {
                return Err(format!("the Rollout was aborted while waiting: {what}"));
            }
            if status.get("phase").and_then(Value::as_str) == Some("Degraded") {
                let message = status.get("message").and_then(Value::as_str).unwrap_or("");
                return Err(format!(
                    "the Rollout is degraded ({message}) while waiting: {what}"
                ));
            }
            if start.elapsed() >= self.timeout {
                return Err(format!(
                    "not reached within {}s: {what}",
                    self.timeout.as_secs()
                ));
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

impl ArgoProvider {
    /// The blue/green switch, after deployc's own gate: promote, as `kubectl argo rollouts
    /// promote` does (the Rollout waits with `autoPromotionEnabled: false` or in its
    /// pre-promotion analysis), and wait until the active Service selects the new pods.
    async fn switch(&self) -> Done {
        self.api
            .merge_patch(&self.rollout, &json!({ "spec": { "paused": false } }))
            .await?;
        self.api
            .merge_patch(
                &format!("{}/status", self.rollout),
                &json!({ "status": { "pauseConditions": null } }),
            )
            .await?;
        self.wait_for(
            "promoted: the active Service selects the new version",
            &|s| {
                let hash = s.get("currentPodHash").and_then(Value::as_str);
                hash.is_some()
                    && s.pointer("/blueGreen/activeSelector")
                        .and_then(Value::as_str)
                        == hash
            },
        )
        .await
    }
}

fn step_index(status: &Value) -> Option<u64> {
    status.get("currentStepIndex").and_then(Value::as_u64)
}

fn phase(status: &Value) -> &str {
    status.get("phase").and_then(Value::as_str).unwrap_or("")
}

impl world::Provider for ArgoProvider {
    fn start_stable<'a>(&'a self, _version: Option<&'a str>) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            match self.api.get(&self.rollout).await? {
                Some(_) => Ok(format!(
                    "the Rollout {} serves the stable version",
                    self.rollout
                )),
                None => Ok(format!(
                    "no Rollout at {} yet: this release creates it",
                    self.rollout
                )),
            }
        })
    }

    fn deploy<'a>(&'a self, version: &'a str) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            // Templates before the Rollout that names them, the Rollout before the image that
            // starts it: Argo rolls the image out with the steps applied just before.
            // A Rollout follows the Deployment of its name when there is one (the team's pod
            // spec stays theirs); in a namespace without it, the Rollout carries the pod
            // template, since a workloadRef to nothing would never start.
            let mut objects = &self.objects;
            if let Some(d) = self.objects.iter().find(|o| o["kind"] == "Deployment") {
                let path = object_path(d)?;
                if self.api.get(&path).await?.is_none() {
                    objects = &self.standalone;
                }
            }
            let mut applied = Vec::new();
            for object in objects {
                let path = object_path(object)?;
                self.api.apply(&path, object).await?;
                applied.push(path);
            }
            Ok(format!(
                "applied {} (server-side, strict) for {version}",
                applied.join(", ")
            ))
        })
    }

    fn weight(&self, percent: f64) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            if self.blue_green && percent >= 100.0 {
                return self.switch().await;
            }
            let rounded = percent.round() as i64;
            let index = self
                .steps
                .iter()
                .position(|s| s.get("setWeight").and_then(Value::as_i64) == Some(rounded));
            let Some(index) = index else {
                // Blue/green and rolling Rollouts have no weights: Argo moves traffic itself.
                return Ok(format!("{percent}%: Argo moves the traffic itself"));
            };
            let target = index as u64 + 1;
            let total = self.steps.len() as u64;
            self.wait_for(
                &format!("Argo set the weight to {rounded}% (step {target} of {total})"),
                &|s| {
                    step_index(s).is_some_and(|i| i >= target)
                        || (target >= total && phase(s) == "Healthy")
                },
            )
            .await
        })
    }

    fn batch(&self, batch: u64, of: u64) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            if batch < of {
                return Ok(format!(
                    "batch {batch} of {of}: Argo replaces the pods itself"
                ));
            }
            self.wait_for("the Rollout is healthy", &|s| phase(s) == "Healthy")
                .await
        })
    }

    fn promote(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            // What `kubectl argo rollouts promote` does for a paused Rollout.
            self.api
                .merge_patch(&self.rollout, &json!({ "spec": { "paused": false } }))
                .await?;
            self.api
                .merge_patch(
                    &format!("{}/status", self.rollout),
                    &json!({ "status": { "pauseConditions": null } }),
                )
                .await?;
            self.wait_for("the Rollout is promoted and healthy", &|s| {
                phase(s) == "Healthy"
            })
            .await
        })
    }

    fn traffic_to_stable(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            // What `kubectl argo rollouts abort` does.
            self.api
                .merge_patch(
                    &format!("{}/status", self.rollout),
                    &json!({ "status": { "abort": true } }),
                )
                .await?;
            let start = std::time::Instant::now();
            loop {
                let status = self.status().await?;
                if status.get("abortedAt").is_some_and(|v| !v.is_null())
                    || phase(&status) == "Degraded"
                {
                    return Ok(format!(
                        "aborted the Rollout {}: Argo returned the traffic to the stable version",
                        self.rollout
                    ));
                }
                if start.elapsed() >= self.timeout {
                    return Err(format!(
                        "the Rollout {} was asked to abort, but the controller did not confirm within {}s",
                        self.rollout,
                        self.timeout.as_secs()
                    ));
                }
                tokio::time::sleep(self.poll).await;
            }
        })
    }

    fn stop_new(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            Ok("Argo scales the aborted version down (abortScaleDownDelaySeconds)".to_string())
        })
    }

    fn health(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            let status = self.status().await?;
            let aborted = status.get("abort").and_then(Value::as_bool) == Some(true);
            match phase(&status) {
                // An aborted Rollout is Degraded by Argo's definition, but what serves is the
                // stable version, which is what a health check after a rollback asks about.
                "Degraded" if aborted => Ok(format!(
                    "the Rollout is aborted; the stable version serves ({} replicas available)",
                    status
                        .get("availableReplicas")
                        .and_then(Value::as_u64)
                        .map_or("unknown".to_string(), |n| n.to_string())
                )),
                "Degraded" => Err(format!(
                    "the Rollout is degraded: {}",
                    status.get("message").and_then(Value::as_str).unwrap_or("")
                )),
                "" => Ok("the Rollout has no status yet".to_string()),
                p => Ok(format!("the Rollout is {p}")),
            }
        })
    }

    fn url(&self) -> Option<String> {
        None
    }

    fn shutdown(&self, _keep_running: bool) -> BoxFuture<'_, Done> {
        Box::pin(async move { Ok("the cluster keeps running what Argo rolled out".to_string()) })
    }
}

#[cfg(test)]
mod tests;
