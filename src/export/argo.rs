//! A checked plan as Argo Rollouts objects: a `Rollout`, one `AnalysisTemplate` per analysis,
//! and the image of the release for the Deployment the Rollout follows.
//!
//! The mapping is described in `docs/argo-rollouts.md`. The choices that shape it:
//!
//! * **`workloadRef`** by default: teams keep their Deployment (ports, resources, probes,
//!   environment — things a runbook does not know) as the one place of the pod spec, and the
//!   Rollout borrows its template. The release's image is then a change of that Deployment,
//!   exported as `deployment.yaml`, a server-side-apply configuration that owns only the
//!   container's image. `pod_template` writes a self-contained template instead.
//! * **Conditions are split per metric**: Argo judges each metric of an analysis on its own
//!   and fails the analysis when any metric fails, so `a and b` is two metrics, and a trigger
//!   `a or b` (rollback when either breaks) is two metrics that must both stay good. What does
//!   not split that way (`or` across metrics in a `require`) is not exported.
//! * **Empty and NaN results are guarded explicitly** in every condition, and the `no_data`
//!   policy decides what they mean, so no index error turns into an analysis error.
//! * **Values are compared in deployc's units** (percent as a number of percent, durations in
//!   milliseconds, rates per second), exactly as `deployc run` compares the same queries.

use serde_json::{Map, Value, json};

use super::{Export, ExportDiagnostic, ExportSeverity};
use crate::lower::plan::{
    Action, ClusterTarget, PhaseName, Plan, PlanMetric, SourceRef, Step, TargetProvider,
};
use crate::runtime::condition::{self, Condition, Op, Operand};
use crate::runtime::metrics::prometheus_duration;

/// Options of the export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArgoOptions {
    /// Write the pod template into the Rollout instead of a `workloadRef` to the Deployment.
    pub pod_template: bool,
    /// Leave the analyses to deployc (`deployc run` judges every hold itself and aborts the
    /// Rollout): no AnalysisTemplates, holds as pauses, no background analysis.
    pub without_analysis: bool,
}

/// The analysis interval when the strategy gives none (the plan's documented estimate).
const DEFAULT_INTERVAL_MS: u64 = 60_000;
/// `no_data … after N` when the strategy gives no `N`.
const DEFAULT_NO_DATA_AFTER: u64 = 3;

/// Exports `plan`; `env` reads the exporting process's environment (for `env VAR` settings).
pub fn export(plan: &Plan, env: &dyn Fn(&str) -> Option<String>, options: ArgoOptions) -> Export {
    let mut x = Exporter {
        plan,
        env,
        analyses: !options.without_analysis,
        diagnostics: Vec::new(),
        templates: Vec::new(),
        address: None,
        address_failed: false,
        unit_warned: Vec::new(),
    };
    let objects = match &plan.target.provider {
        Some(TargetProvider::ArgoRollouts(cluster)) => x.objects(cluster, options),
        Some(TargetProvider::Kubernetes(cluster)) => {
            let cluster = as_rollout(cluster, &plan.strategy);
            x.note(
                format!(
                    "environment `{}` deploys with the `kubernetes` provider: the Rollout \
                     `{}` takes its Deployment over",
                    plan.environment, cluster.workload
                ),
                "the Rollout follows the Deployment of the same name (`workloadRef`), and \
                 Argo's controller then makes the changes `deployc run` would make itself; \
                 switch the environment to `provider = argo_rollouts { … }` to have \
                 `deployc run` drive that Rollout",
                None,
            );
            x.objects(&cluster, options)
        }
        _ => {
            x.error(
                format!(
                    "environment `{}` deploys with neither the `argo_rollouts` nor the \
                     `kubernetes` provider",
                    plan.environment
                ),
                "only a plan for a cluster environment has a Rollout to export",
                None,
            );
            Vec::new()
        }
    };
    let mut diagnostics = x.diagnostics;
    // Errors first, then warnings, then notes; within a level in the order of the plan.
    diagnostics.sort_by_key(|d| std::cmp::Reverse(d.severity));
    Export {
        objects,
        diagnostics,
    }
}

/// A `kubernetes` environment's target as an Argo Rollout would have it. Without a route, the
/// kubernetes provider's Service selects the stable and the canary pods alike, so the Rollout
/// must not take that Service over as its stable Service (Argo would then send the canary
/// nothing); with a route, the canary Service is the one the kubernetes provider creates.
fn as_rollout(cluster: &ClusterTarget, strategy: &str) -> ClusterTarget {
    let mut c = cluster.clone();
    if strategy != "blue_green" {
        if c.route.is_some() {
            c.canary_service = c.service.as_ref().map(|s| format!("{s}-canary"));
        } else {
            c.service = None;
        }
    }
    c
}

struct Exporter<'a> {
    plan: &'a Plan,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// Whether analyses are exported (see [`ArgoOptions::without_analysis`]).
    analyses: bool,
    diagnostics: Vec<ExportDiagnostic>,
    /// Analysis templates made so far: (name, object).
    templates: Vec<(String, Value)>,
    /// The Prometheus address, once resolved.
    address: Option<String>,
    address_failed: bool,
    /// Duration metrics whose unit was already explained.
    unit_warned: Vec<String>,
}

/// What an analysis checks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A `require`: the condition must hold.
    Require,
    /// A rollback trigger: the condition must not hold.
    Trigger,
}

/// The `no_data` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoData {
    Fail,
    Pass,
    Pause,
}

/// One Argo metric: the comparisons of one deployc metric, in `result[0]` terms.
#[derive(Debug, Clone, PartialEq)]
struct Group {
    metric: String,
    /// Compared with the stable version's value (a ratio query).
    relative: bool,
    expr: String,
}

/// A condition pushed into "what is good", with negations resolved.
#[derive(Debug, Clone, PartialEq)]
enum Good {
    Leaf {
        metric: String,
        relative: bool,
        op: Op,
        value: f64,
    },
    And(Vec<Good>),
    Or(Vec<Good>),
}

impl<'a> Exporter<'a> {
    fn push(
        &mut self,
        severity: ExportSeverity,
        message: impl Into<String>,
        reason: impl Into<String>,
        source: Option<&SourceRef>,
    ) {
        let d = ExportDiagnostic::new(severity, message, reason, source);
        // The same finding from two places of the plan (a channel in two messages) is said
        // once.
        if !self.diagnostics.contains(&d) {
            self.diagnostics.push(d);
        }
    }

    fn error(
        &mut self,
        message: impl Into<String>,
        reason: impl Into<String>,
        source: Option<&SourceRef>,
    ) {
        self.push(ExportSeverity::Error, message, reason, source);
    }

    fn warn(
        &mut self,
        message: impl Into<String>,
        reason: impl Into<String>,
        source: Option<&SourceRef>,
    ) {
        self.push(ExportSeverity::Warning, message, reason, source);
    }

    fn note(
        &mut self,
        message: impl Into<String>,
        reason: impl Into<String>,
        source: Option<&SourceRef>,
    ) {
        self.push(ExportSeverity::Note, message, reason, source);
    }

    fn interval_ms(&self) -> u64 {
        match self.plan.timeline.analysis_interval_ms {
            0 => DEFAULT_INTERVAL_MS,
            ms => ms,
        }
    }

    fn no_data(&self) -> (NoData, u64) {
        let policy = match self.plan.target.no_data.as_deref() {
            Some("pass") => NoData::Pass,
            Some("pause") => NoData::Pause,
            _ => NoData::Fail,
        };
        let after = self
            .plan
            .target
            .no_data_after
            .unwrap_or(DEFAULT_NO_DATA_AFTER)
            .max(1);
        (policy, after)
    }

    fn steps(&self) -> impl Iterator<Item = (PhaseName, &'a Step)> {
        self.plan
            .phases
            .iter()
            .flat_map(|p| p.steps.iter().map(move |s| (p.name, s)))
    }

    /// Every object, in the order to apply them.
    fn objects(&mut self, cluster: &ClusterTarget, options: ArgoOptions) -> Vec<(String, Value)> {
        let image = self.image(cluster);
        let strategy = self.strategy(cluster);
        self.not_exported_steps();
        let annotations = self.notifications();
        let mut rollout_spec = Map::new();
        match cluster.replicas {
            Some(r) => {
                rollout_spec.insert("replicas".into(), json!(r));
            }
            None => self.warn(
                "the Rollout's replica count is not set",
                "Argo runs 1 replica when `spec.replicas` is absent (it does not take the Deployment's count, even with `workloadRef`): set `replicas = N`, or let a HorizontalPodAutoscaler scale the Rollout",
                None,
            ),
        }
        let labels = json!({
            "app.kubernetes.io/name": self.plan.service,
            "app.kubernetes.io/managed-by": "deployc",
        });
        let mut deployment = None;
        if options.pod_template {
            let app = json!({ "app": cluster.workload });
            rollout_spec.insert("selector".into(), json!({ "matchLabels": app }));
            rollout_spec.insert(
                "template".into(),
                json!({
                    "metadata": { "labels": app },
                    "spec": { "containers": [{ "name": cluster.container, "image": image }] },
                }),
            );
        } else {
            rollout_spec.insert(
                "workloadRef".into(),
                json!({
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": cluster.workload,
                    // The Deployment is scaled down as the Rollout's pods become ready, so
                    // the two never serve side by side for long.
                    "scaleDown": "progressively",
                }),
            );
            deployment = Some(json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": { "name": cluster.workload, "namespace": cluster.namespace },
                "spec": { "template": { "spec": { "containers": [
                    { "name": cluster.container, "image": image }
                ] } } },
            }));
        }
        if let Some(s) = strategy {
            rollout_spec.insert("strategy".into(), s);
        }
        let mut metadata = json!({
            "name": cluster.workload,
            "namespace": cluster.namespace,
            "labels": labels,
        });
        if !annotations.is_empty()
            && let Some(m) = metadata.as_object_mut()
        {
            m.insert("annotations".into(), Value::Object(annotations));
        }
        let rollout = json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": metadata,
            "spec": rollout_spec,
        });
        let mut objects: Vec<(String, Value)> = std::mem::take(&mut self.templates)
            .into_iter()
            .map(|(name, t)| (format!("analysistemplate-{name}.yaml"), t))
            .collect();
        objects.push(("rollout.yaml".into(), rollout));
        if let Some(d) = deployment {
            objects.push(("deployment.yaml".into(), d));
        }
        objects
    }

    /// The image with the release placeholders filled in.
    fn image(&mut self, cluster: &ClusterTarget) -> String {
        let plan = self.plan;
        let previous = plan.target.previous_release.clone();
        crate::check::placeholders::render(&cluster.image, &|name| match name {
            "version" => Some(plan.release.clone()),
            "service" => Some(plan.service.clone()),
            "environment" => Some(plan.environment.clone()),
            "previous_version" => previous.clone(),
            _ => None,
        })
    }

    fn strategy(&mut self, cluster: &ClusterTarget) -> Option<Value> {
        match self.plan.strategy.as_str() {
            "canary" => Some(self.canary(cluster)),
            "blue_green" => self.blue_green(cluster),
            "rolling" => Some(self.rolling()),
            other => {
                let source = self
                    .steps()
                    .find(|(p, _)| *p == PhaseName::Deploy)
                    .and_then(|(_, s)| s.source.clone());
                self.error(
                    format!("a `{other}` release has no Argo Rollouts strategy"),
                    match other {
                        "flags_only" => "nothing is redeployed: the release is its flag changes, which `deployc run` applies",
                        _ => "Argo Rollouts has canary and blue/green strategies only",
                    },
                    source.as_ref(),
                );
                None
            }
        }
    }

    fn canary(&mut self, cluster: &ClusterTarget) -> Value {
        let name = cluster.workload.clone();
        let mut steps = Vec::new();
        let canary_steps: Vec<&Step> = self
            .steps()
            .filter(|(_, s)| matches!(s.action, Action::CanaryStep { .. }))
            .map(|(_, s)| s)
            .collect();
        for (i, step) in canary_steps.iter().enumerate() {
            let Action::CanaryStep { weight, hold_ms } = step.action else {
                continue;
            };
            if weight.fract() != 0.0 {
                self.error(
                    format!("a {weight}% step is not a whole percent"),
                    "Argo Rollouts' `setWeight` takes whole percents",
                    step.source.as_ref(),
                );
            }
            steps.push(json!({ "setWeight": weight.round() as i64 }));
            let require = step
                .guards
                .iter()
                .find(|g| g.kind == "require")
                .map(|g| g.condition.clone());
            let analysis = require.and_then(|condition| {
                let count = hold_ms.div_ceil(self.interval_ms()).max(1);
                self.analysis(
                    &format!("{name}-step-{}", i + 1),
                    Purpose::Require,
                    &condition,
                    self.interval_ms(),
                    Some(count),
                    step.source.as_ref(),
                )
            });
            match analysis {
                // The analysis runs for the hold (`count` × `interval`), so no separate pause
                // is needed: the step ends when the analysis passes.
                Some(a) => steps.push(json!({ "analysis": a })),
                // Without an (exportable) analysis the hold is still kept.
                None if hold_ms > 0 => {
                    steps.push(json!({ "pause": { "duration": duration(hold_ms) } }));
                }
                None => {}
            }
        }
        let mut canary = Map::new();
        canary.insert("steps".into(), Value::Array(steps));
        self.services_and_routing(cluster, &mut canary);
        if let Some(background) = self.triggers(&name) {
            let mut b = background;
            if let Some(m) = b.as_object_mut() {
                // Triggers are armed from the first traffic change: after the first
                // `setWeight`.
                m.insert("startingStep".into(), json!(1));
            }
            canary.insert("analysis".into(), b);
        }
        json!({ "canary": canary })
    }

    fn services_and_routing(&mut self, cluster: &ClusterTarget, canary: &mut Map<String, Value>) {
        if let Some(s) = &cluster.service {
            canary.insert("stableService".into(), json!(s));
        }
        if let Some(s) = &cluster.canary_service {
            canary.insert("canaryService".into(), json!(s));
        }
        if let Some(route) = &cluster.route {
            canary.insert(
                "trafficRouting".into(),
                json!({ "plugins": { "argoproj-labs/gatewayAPI": {
                    "httpRoute": route,
                    "namespace": cluster.namespace,
                } } }),
            );
        }
    }

    fn rolling(&mut self) -> Value {
        let mut canary = Map::new();
        if let Some((_, step)) = self
            .steps()
            .find(|(_, s)| matches!(s.action, Action::RollingBatch { .. }))
            && let Action::RollingBatch {
                instances,
                max_unavailable,
                ..
            } = step.action
        {
            canary.insert("maxSurge".into(), json!(instances));
            canary.insert("maxUnavailable".into(), json!(max_unavailable));
        }
        if let Some(b) = self.triggers(&self.plan.service.clone()) {
            canary.insert("analysis".into(), b);
        }
        json!({ "canary": canary })
    }

    fn blue_green(&mut self, cluster: &ClusterTarget) -> Option<Value> {
        let name = cluster.workload.clone();
        let mut bg = Map::new();
        let Some(active) = &cluster.service else {
            self.error(
                "a blue/green Rollout needs the active Service",
                "`activeService` is required by Argo Rollouts: set `service = \"…\"`",
                None,
            );
            return None;
        };
        bg.insert("activeService".into(), json!(active));
        if let Some(p) = &cluster.preview_service {
            bg.insert("previewService".into(), json!(p));
        }
        if cluster.route.is_some() || cluster.canary_service.is_some() {
            self.note(
                "`route` and `canary_service` are not used by a blue/green Rollout",
                "Argo switches blue/green traffic with the active and preview Services' selectors",
                None,
            );
        }
        let steps: Vec<&Step> = self.steps().map(|(_, s)| s).collect();
        let mut approval = false;
        for step in steps {
            match &step.action {
                Action::Preview { hold_ms, smoke } => {
                    let require = step
                        .guards
                        .iter()
                        .find(|g| g.kind == "require")
                        .map(|g| g.condition.clone());
                    let analysis = require.and_then(|condition| {
                        let count = hold_ms.div_ceil(self.interval_ms()).max(1);
                        self.analysis(
                            &format!("{name}-preview"),
                            Purpose::Require,
                            &condition,
                            self.interval_ms(),
                            Some(count),
                            step.source.as_ref(),
                        )
                    });
                    if let Some(a) = analysis {
                        bg.insert("prePromotionAnalysis".into(), a);
                    } else if *hold_ms > 0 {
                        bg.insert("autoPromotionSeconds".into(), json!(hold_ms.div_ceil(1000)));
                    }
                    if *smoke {
                        self.warn(
                            "the preview's smoke test is not exported",
                            "Argo runs no commands before promotion; `deployc run` runs the smoke test against the preview",
                            step.source.as_ref(),
                        );
                    }
                }
                Action::Approval { on_timeout, .. } if step.id == "deploy.switch-approval" => {
                    approval = true;
                    if let Some(t) = on_timeout {
                        self.warn(
                            format!("the switch approval's timeout (`{t}`) is not exported"),
                            "an Argo Rollout waits for promotion without a deadline: `kubectl argo rollouts promote` or abort by hand, or let `deployc run` keep the timer",
                            step.source.as_ref(),
                        );
                    }
                }
                Action::KeepPrevious { duration_ms } => {
                    bg.insert(
                        "scaleDownDelaySeconds".into(),
                        json!(duration_ms.div_ceil(1000)),
                    );
                }
                _ => {}
            }
        }
        // Without an approval the switch follows the preview on its own.
        bg.insert("autoPromotionEnabled".into(), json!(!approval));
        if approval {
            bg.remove("autoPromotionSeconds");
        }
        if let Some(post) = self.triggers(&name) {
            let mut post = post;
            let keep = self
                .steps()
                .find_map(|(_, s)| match s.action {
                    Action::KeepPrevious { duration_ms } => Some(duration_ms),
                    _ => None,
                })
                .unwrap_or(0);
            // After the switch the triggers run while the previous colour is kept, where
            // switching back is instant; the analysis must end for the Rollout to finish.
            self.set_count(&mut post, keep.div_ceil(self.interval_ms()).max(1));
            bg.insert("postPromotionAnalysis".into(), post);
        }
        Some(json!({ "blueGreen": bg }))
    }

    /// Sets `count` on the metrics of the template an analysis reference points to.
    fn set_count(&mut self, analysis: &mut Value, count: u64) {
        let names: Vec<String> = analysis
            .get("templates")
            .and_then(Value::as_array)
            .map(|ts| {
                ts.iter()
                    .filter_map(|t| t.get("templateName").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        for (name, template) in &mut self.templates {
            if !names.contains(name) {
                continue;
            }
            if let Some(metrics) = template
                .pointer_mut("/spec/metrics")
                .and_then(Value::as_array_mut)
            {
                for m in metrics {
                    if let Some(m) = m.as_object_mut() {
                        m.insert("count".into(), json!(count));
                    }
                }
            }
        }
    }

    /// The background analysis of the release's `auto` rollback triggers.
    fn triggers(&mut self, name: &str) -> Option<Value> {
        if !self.analyses {
            return None;
        }
        let plan = self.plan;
        let mut exported = Vec::new();
        for t in &plan.triggers {
            if t.mode != "auto" {
                self.warn(
                    format!("the `{}` trigger `{}` is not exported", t.mode, t.condition),
                    "Argo has no rollback that waits for a person's decision on a metric; `deployc run` asks the rollback deciders",
                    t.source.as_ref(),
                );
                continue;
            }
            exported.push(t);
        }
        if exported.is_empty() {
            return None;
        }
        // One template for all triggers: a background analysis fails when any metric does.
        let mut metrics = Vec::new();
        let mut args: Vec<String> = Vec::new();
        for t in exported {
            let window = if t.for_ms == 0 {
                self.interval_ms()
            } else {
                t.for_ms
            };
            if let Some((ms, a)) = self.metrics(
                Purpose::Trigger,
                &t.condition,
                window,
                None,
                t.source.as_ref(),
            ) {
                metrics.extend(ms);
                for x in a {
                    if !args.contains(&x) {
                        args.push(x);
                    }
                }
            }
        }
        if metrics.is_empty() {
            return None;
        }
        dedupe_names(&mut metrics);
        Some(self.template(&format!("{name}-rollback"), metrics, args))
    }

    /// One analysis for `condition`: its template is recorded, and the reference to it
    /// (`templates`, `args`) is returned.
    fn analysis(
        &mut self,
        template: &str,
        purpose: Purpose,
        condition: &str,
        window_ms: u64,
        count: Option<u64>,
        source: Option<&SourceRef>,
    ) -> Option<Value> {
        if !self.analyses {
            return None;
        }
        let (mut metrics, args) = self.metrics(purpose, condition, window_ms, count, source)?;
        dedupe_names(&mut metrics);
        Some(self.template(template, metrics, args))
    }

    /// Records an AnalysisTemplate and returns the Rollout's reference to it.
    fn template(&mut self, name: &str, metrics: Vec<Value>, args: Vec<String>) -> Value {
        let mut args = args;
        args.sort();
        let declared: Vec<Value> = args.iter().map(|a| json!({ "name": a })).collect();
        let passed: Vec<Value> = args
            .iter()
            .map(|a| json!({ "name": a, "value": self.arg_value(a) }))
            .collect();
        let plan = self.plan;
        let cluster_ns = match &plan.target.provider {
            Some(TargetProvider::ArgoRollouts(c) | TargetProvider::Kubernetes(c)) => {
                c.namespace.clone()
            }
            _ => String::new(),
        };
        let mut spec = Map::new();
        if !declared.is_empty() {
            spec.insert("args".into(), Value::Array(declared));
        }
        spec.insert("metrics".into(), Value::Array(metrics));
        self.templates.push((
            name.to_string(),
            json!({
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "AnalysisTemplate",
                "metadata": {
                    "name": name,
                    "namespace": cluster_ns,
                    "labels": {
                        "app.kubernetes.io/name": plan.service,
                        "app.kubernetes.io/managed-by": "deployc",
                    },
                },
                "spec": spec,
            }),
        ));
        let mut reference = json!({ "templates": [{ "templateName": name }] });
        if !passed.is_empty()
            && let Some(m) = reference.as_object_mut()
        {
            m.insert("args".into(), Value::Array(passed));
        }
        reference
    }

    fn arg_value(&self, arg: &str) -> String {
        match arg {
            "service" => self.plan.service.clone(),
            "version" => self.plan.release.clone(),
            "stable-version" => self
                .plan
                .target
                .previous_release
                .clone()
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The Argo metrics of one condition and the template arguments their queries use.
    fn metrics(
        &mut self,
        purpose: Purpose,
        text: &str,
        window_ms: u64,
        count: Option<u64>,
        source: Option<&SourceRef>,
    ) -> Option<(Vec<Value>, Vec<String>)> {
        let parsed = match condition::parse(text) {
            Ok(c) => c,
            Err(e) => {
                self.error(format!("cannot read the condition `{text}`"), e.0, source);
                return None;
            }
        };
        let good = match good(&parsed, purpose == Purpose::Trigger) {
            Ok(g) => g,
            Err(why) => {
                self.warn(
                    format!("the condition `{text}` is not exported"),
                    why,
                    source,
                );
                return None;
            }
        };
        let groups = match groups(&good) {
            Ok(g) => g,
            Err(why) => {
                self.warn(
                    format!("the condition `{text}` is not exported"),
                    why,
                    source,
                );
                return None;
            }
        };
        let address = self.address(source)?;
        let (policy, after) = self.no_data();
        let interval = self.interval_ms();
        let mut out = Vec::new();
        let mut args = Vec::new();
        for g in groups {
            let Some(metric) = self
                .plan
                .metrics
                .iter()
                .find(|m| m.name == g.metric)
                .cloned()
            else {
                self.error(
                    format!("metric `{}` is not in the plan", g.metric),
                    "the plan lists every metric its conditions use",
                    source,
                );
                return None;
            };
            let Some(query) = self.query(&metric, g.relative, window_ms, text, source) else {
                continue;
            };
            if !g.relative {
                self.unit_note(&metric, source);
            }
            let guard = "len(result) > 0 && !isNaN(result[0])";
            let expr = parens(&g.expr);
            let mut m = Map::new();
            m.insert("name".into(), json!(metric_name(&g)));
            m.insert("interval".into(), json!(duration(interval)));
            if let Some(c) = count {
                m.insert("count".into(), json!(c));
            }
            match policy {
                NoData::Fail => {
                    m.insert(
                        "successCondition".into(),
                        json!(format!("{guard} && {expr}")),
                    );
                }
                NoData::Pass => {
                    m.insert(
                        "successCondition".into(),
                        json!(format!("len(result) == 0 || isNaN(result[0]) || {expr}")),
                    );
                }
                NoData::Pause => {
                    m.insert(
                        "successCondition".into(),
                        json!(format!("{guard} && {expr}")),
                    );
                    m.insert(
                        "failureCondition".into(),
                        json!(format!("{guard} && !({})", g.expr)),
                    );
                    // A measurement without data is inconclusive; too many pause the
                    // Rollout for a person.
                    m.insert("inconclusiveLimit".into(), json!(after - 1));
                }
            }
            // Breaking a threshold once fails: a `require` must hold throughout, and a
            // trigger's query already averages over its `for` window.
            let mut failure_limit = 0;
            if purpose == Purpose::Trigger
                && !metric.query.as_deref().unwrap_or("").contains("{window}")
            {
                failure_limit = window_ms.div_ceil(interval).saturating_sub(1);
                self.warn(
                    format!("the `for` window of `{text}` is exported as {} failed measurements", failure_limit + 1),
                    format!("the query of `{}` has no `{{window}}` to average over the window, and Argo counts failures in total, not in a row", metric.name),
                    source,
                );
            }
            m.insert("failureLimit".into(), json!(failure_limit));
            // Errors (Prometheus unreachable, a query error) are tolerated as often in a row
            // as the `no_data` policy tolerates missing data.
            m.insert("consecutiveErrorLimit".into(), json!(after - 1));
            let mut prometheus = Map::new();
            prometheus.insert("address".into(), json!(address));
            prometheus.insert("query".into(), json!(query));
            if let Some(t) = self
                .plan
                .target
                .metrics_source
                .as_ref()
                .and_then(|s| s.timeout_ms)
            {
                prometheus.insert("timeout".into(), json!(t.div_ceil(1000)));
            }
            m.insert("provider".into(), json!({ "prometheus": prometheus }));
            for a in ["service", "version", "stable-version"] {
                if query.contains(&format!("{{{{args.{a}}}}}")) && !args.contains(&a.to_string()) {
                    args.push(a.to_string());
                }
            }
            out.push(Value::Object(m));
        }
        if policy == NoData::Fail && after > 1 {
            self.note_once_no_data(after, source);
        }
        if out.is_empty() {
            None
        } else {
            Some((out, args))
        }
    }

    fn note_once_no_data(&mut self, after: u64, source: Option<&SourceRef>) {
        let message = format!(
            "`no_data fail after {after}` is exported as: a measurement without data fails"
        );
        if self.diagnostics.iter().any(|d| d.message == message) {
            return;
        }
        self.warn(
            message,
            "Argo counts a measurement that did not meet `successCondition` as a failure and has no limit for missing data in a row; the export fails at once, which is stricter (Prometheus errors are still tolerated via `consecutiveErrorLimit`)",
            source,
        );
    }

    fn unit_note(&mut self, metric: &PlanMetric, source: Option<&SourceRef>) {
        if metric.kind != "duration" || self.unit_warned.contains(&metric.name) {
            return;
        }
        self.unit_warned.push(metric.name.clone());
        self.warn(
            format!("thresholds of `{}` are exported in milliseconds", metric.name),
            "Argo compares the query's result as it is, and deployc compares durations in milliseconds: the query must return milliseconds (a `histogram_quantile` over seconds buckets needs `* 1000`)",
            source,
        );
    }

    /// The PromQL of one Argo metric: the metric's query for the new version, or its ratio
    /// to the stable version's value for a baseline comparison.
    fn query(
        &mut self,
        metric: &PlanMetric,
        relative: bool,
        window_ms: u64,
        text: &str,
        source: Option<&SourceRef>,
    ) -> Option<String> {
        let Some(template) = metric
            .query
            .clone()
            .filter(|_| metric.source == "prometheus")
        else {
            self.error(
                format!("metric `{}` has no Prometheus query", metric.name),
                "Argo's analysis reads Prometheus: give the metric a `prometheus = \"…\"` query",
                source,
            );
            return None;
        };
        let window = prometheus_duration(std::time::Duration::from_millis(window_ms));
        let new = self.render(&template, "canary", "{{args.version}}", &window);
        if !relative {
            return Some(new);
        }
        let selects = |q: &str| q.contains("{version}") || q.contains("{track}");
        if !selects(&template) {
            self.warn(
                format!("the baseline comparison in `{text}` is not exported"),
                format!("the query of `{}` selects no version (`{{version}}` or `{{track}}`), so it has no PromQL form for the stable version", metric.name),
                source,
            );
            return None;
        }
        if template.contains("{version}")
            && !template.contains("{track}")
            && self.plan.target.previous_release.is_none()
        {
            self.warn(
                format!("the baseline comparison in `{text}` is not exported"),
                "the stable version is not known (no earlier release in the file), and the query selects versions by `{version}`",
                source,
            );
            return None;
        }
        let stable = self.render(&template, "stable", "{{args.stable-version}}", &window);
        Some(format!("({new}) / ({stable})"))
    }

    fn render(&self, template: &str, track: &str, version: &str, window: &str) -> String {
        let plan = self.plan;
        crate::check::placeholders::render(template, &|name| match name {
            "service" => Some("{{args.service}}".to_string()),
            "version" => Some(version.to_string()),
            "previous_version" => Some("{{args.stable-version}}".to_string()),
            "environment" => Some(plan.environment.clone()),
            "track" => Some(track.to_string()),
            "window" => Some(window.to_string()),
            _ => None,
        })
    }

    /// The environment's Prometheus URL; a diagnostic (once) when there is none.
    fn address(&mut self, source: Option<&SourceRef>) -> Option<String> {
        if let Some(a) = &self.address {
            return Some(a.clone());
        }
        if self.address_failed {
            return None;
        }
        let metrics = self.plan.target.metrics_source.clone();
        let resolved = match metrics {
            Some(m) if m.kind == "prometheus" => {
                let value = m.value.unwrap_or_default();
                match value.strip_prefix("env ") {
                    Some(var) => (self.env)(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                        (
                            format!("the Prometheus URL is read from `env {var}`, which is not set"),
                            format!("an AnalysisTemplate holds the address itself: set `{var}` when exporting"),
                        )
                    }),
                    None => Ok(value),
                }
            }
            Some(m) => Err((
                format!("environment `{}` reads metrics from `{}`", self.plan.environment, m.kind),
                "Argo's analysis is exported for Prometheus only: use `metrics = prometheus \"URL\"`".to_string(),
            )),
            None => Err((
                format!("environment `{}` has no metric source", self.plan.environment),
                "the analyses need a Prometheus server: add `metrics = prometheus \"URL\"`".to_string(),
            )),
        };
        match resolved {
            Ok(a) => {
                self.address = Some(a.clone());
                Some(a)
            }
            Err((message, reason)) => {
                self.address_failed = true;
                self.error(message, reason, source);
                None
            }
        }
    }

    /// Steps of the plan that Argo does not carry, each said once.
    fn not_exported_steps(&mut self) {
        let mut flags: Vec<String> = Vec::new();
        let steps: Vec<(PhaseName, &Step)> = self.steps().collect();
        for (phase, step) in steps {
            let src = step.source.as_ref();
            match &step.action {
                Action::Migrate { name, .. } => {
                    let when = if phase == PhaseName::PostDeploy {
                        "after the Rollout has finished"
                    } else {
                        "before the Rollout is applied"
                    };
                    self.warn(
                        format!("migration `{name}` is not exported"),
                        format!("Argo Rollouts has no migrations: `deployc run` with the `argo_rollouts` provider runs it {when}"),
                        src,
                    );
                }
                Action::Flag { flag, .. } | Action::FlagRemoval { flag, .. }
                    if !flags.contains(flag) =>
                {
                    flags.push(flag.clone());
                    self.warn(
                        format!("the rollout of flag `{flag}` is not exported"),
                        "Argo Rollouts does not drive feature flags: `deployc run` applies them with the environment's flag driver",
                        src,
                    );
                }
                Action::Approval {
                    role,
                    question: Some(q),
                    ..
                } => self.warn(
                    format!("the approval by `{role}` at `{}` (\"{q}\") is not exported", step.id),
                    "the Rollout does not wait for a person there; `deployc run` asks for the approval at that step",
                    src,
                ),
                Action::Approval { role, on_timeout, .. } if step.id != "deploy.switch-approval" => {
                    let timeout = on_timeout.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
                    self.warn(
                        format!("the approval by `{role}` before anything changes{timeout} is not exported"),
                        "Argo starts a Rollout as soon as it is applied; `deployc run` asks for the approval before it applies the Rollout",
                        src,
                    );
                }
                Action::Checklist { .. } => self.warn(
                    "the checklist is not exported",
                    "Argo has no pre-deployment checks; `deployc run` runs the checklist before it applies the Rollout",
                    src,
                ),
                Action::Backup { .. } => self.warn(
                    "the backup is not exported",
                    "`deployc run` takes the backup before the migrations",
                    src,
                ),
                Action::Smoke { .. } => self.warn(
                    "the smoke test is not exported",
                    "Argo runs no commands; `deployc run` runs the smoke test",
                    src,
                ),
                Action::CheckWindow { .. } => self.note(
                    "the deploy window and freezes are not exported",
                    "Argo starts a Rollout whenever it is applied; `deployc run` and `deployc plan --start` check the window",
                    src,
                ),
                Action::CheckRequires { environment } => self.note(
                    format!("the requirement that the release succeeded in `{environment}` is not exported"),
                    "Argo knows one cluster; `deployc run` reads the history",
                    src,
                ),
                Action::Monitor { duration_ms } if !self.plan.triggers.is_empty() => self.warn(
                    format!("the monitoring period ({}) is not exported", duration(*duration_ms)),
                    "Argo's background analysis ends when the Rollout is complete; `deployc run` keeps the triggers armed while it monitors",
                    src,
                ),
                _ => {}
            }
        }
    }

    /// `notifications.argoproj.io/subscribe.<trigger>.<service>` annotations from the comms.
    fn notifications(&mut self) -> Map<String, Value> {
        let plan = self.plan;
        let mut subs: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut configured: Vec<String> = Vec::new();
        for message in &plan.comms {
            let trigger = match (message.when.as_str(), message.spec.as_str()) {
                ("at", "T-0") | ("on", "start") => Some("on-rollout-updated"),
                ("on", "step") => Some("on-rollout-step-completed"),
                ("on", "done") => Some("on-rollout-completed"),
                ("on", "rollback") => Some("on-rollout-aborted"),
                ("on", "approval_needed") => Some("on-rollout-paused"),
                _ => None,
            };
            let Some(trigger) = trigger else {
                let why = match message.when.as_str() {
                    "at" => {
                        "Argo notifies on Rollout events, not at a time before or after the start"
                    }
                    "every" => "Argo notifies on Rollout events, not periodically",
                    _ => {
                        "Argo has no event for a rollback that needs a person; `deployc run` sends it"
                    }
                };
                self.warn(
                    format!(
                        "the message `{} {}` is not exported",
                        message.when, message.spec
                    ),
                    why,
                    None,
                );
                continue;
            };
            for channel_name in &message.channels {
                let Some(channel) = plan.channels.iter().find(|c| &c.name == channel_name) else {
                    continue;
                };
                let (service, recipient) = match channel.kind.as_str() {
                    "slack" => {
                        let room = channel
                            .target
                            .split(" via ")
                            .next()
                            .unwrap_or("")
                            .trim_start_matches('#')
                            .to_string();
                        ("slack".to_string(), room)
                    }
                    "email" => (
                        "email".to_string(),
                        channel
                            .target
                            .split(',')
                            .map(str::trim)
                            .collect::<Vec<_>>()
                            .join(";"),
                    ),
                    // A webhook is named in the notification ConfigMap
                    // (`service.webhook.<name>`); the subscription names it.
                    "webhook" => (channel.name.clone(), String::new()),
                    other => {
                        self.warn(
                            format!("the `{other}` channel `{}` is not exported", channel.name),
                            "Argo notifications go to services such as Slack, email and webhooks, not to a local stream or file",
                            None,
                        );
                        continue;
                    }
                };
                if !configured.contains(&service) {
                    configured.push(service.clone());
                }
                let key = format!("notifications.argoproj.io/subscribe.{trigger}.{service}");
                let list = subs.entry(key).or_default();
                if !recipient.is_empty() && !list.contains(&recipient) {
                    list.push(recipient);
                }
            }
        }
        if !configured.is_empty() {
            self.note(
                format!("notifications go through Argo's notification services: {}", configured.join(", ")),
                "the services and their secrets (Slack token, SMTP server, webhook URLs) and the message templates are set in `argo-rollouts-notification-configmap`, not in the Rollout; the messages' texts are deployc's",
                None,
            );
        }
        subs.into_iter()
            .map(|(k, v)| (k, Value::String(v.join(";"))))
            .collect()
    }
}

/// Gives repeated metric names a suffix (`error_rate`, `error_rate-2`).
fn dedupe_names(metrics: &mut [Value]) {
    let mut seen: Vec<String> = Vec::new();
    for m in metrics.iter_mut() {
        let Some(obj) = m.as_object_mut() else {
            continue;
        };
        let base = obj
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut name = base.clone();
        let mut n = 1;
        while seen.contains(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        obj.insert("name".into(), json!(name));
        seen.push(name);
    }
}

fn metric_name(g: &Group) -> String {
    if g.relative {
        format!("{}-vs-baseline", g.metric)
    } else {
        g.metric.clone()
    }
}

/// A duration as Argo writes it (`10m`, `90s`): a Go duration, which has no days or weeks,
/// in whole seconds.
fn duration(ms: u64) -> String {
    let secs = ms.div_ceil(1000);
    if secs > 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs > 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Wraps an expression with `||` or `&&` in parentheses.
fn parens(e: &str) -> String {
    if e.contains("||") || e.contains("&&") {
        format!("({e})")
    } else {
        e.to_string()
    }
}

fn negate(op: Op) -> Op {
    match op {
        Op::Lt => Op::Ge,
        Op::Le => Op::Gt,
        Op::Gt => Op::Le,
        Op::Ge => Op::Lt,
        Op::Eq => Op::Ne,
        Op::Ne => Op::Eq,
    }
}

fn flip(op: Op) -> Op {
    match op {
        Op::Lt => Op::Gt,
        Op::Le => Op::Ge,
        Op::Gt => Op::Lt,
        Op::Ge => Op::Le,
        other => other,
    }
}

fn op_str(op: Op) -> &'static str {
    match op {
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Eq => "==",
        Op::Ne => "!=",
    }
}

/// A number as expr reads it: whole numbers without a fraction.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// What must hold for the analysis to pass: the condition itself for a `require`, its
/// negation for a trigger (De Morgan pushes the negation down to the comparisons).
fn good(c: &Condition, negated: bool) -> Result<Good, String> {
    match c {
        Condition::Compare { lhs, op, rhs } => {
            let (metric, op, other) = match (lhs, rhs) {
                (Operand::Metric(m), other) => (m.clone(), *op, other),
                (other, Operand::Metric(m)) => (m.clone(), flip(*op), other),
                _ => return Err("the comparison has no metric".into()),
            };
            let (relative, value) = match other {
                Operand::Value(v) => (false, *v),
                Operand::Baseline => (true, 1.0),
                Operand::TimesBaseline(k) => (true, *k),
                Operand::PercentOfBaseline(p) => (true, p / 100.0),
                Operand::Metric(_) => {
                    return Err(
                        "Argo compares one query's result with a number, not two metrics".into(),
                    );
                }
            };
            Ok(Good::Leaf {
                metric,
                relative,
                op: if negated { negate(op) } else { op },
                value,
            })
        }
        Condition::And(parts) => {
            let parts = parts
                .iter()
                .map(|p| good(p, negated))
                .collect::<Result<_, _>>()?;
            Ok(if negated {
                Good::Or(parts)
            } else {
                Good::And(parts)
            })
        }
        Condition::Or(parts) => {
            let parts = parts
                .iter()
                .map(|p| good(p, negated))
                .collect::<Result<_, _>>()?;
            Ok(if negated {
                Good::And(parts)
            } else {
                Good::Or(parts)
            })
        }
    }
}

/// The Argo metrics of a good-condition: `and` splits into metrics (each must pass), `or`
/// must stay within one metric's result.
fn groups(g: &Good) -> Result<Vec<Group>, String> {
    match g {
        Good::Leaf {
            metric,
            relative,
            op,
            value,
        } => Ok(vec![Group {
            metric: metric.clone(),
            relative: *relative,
            expr: format!("result[0] {} {}", op_str(*op), number(*value)),
        }]),
        Good::And(parts) => {
            let mut out: Vec<Group> = Vec::new();
            for p in parts {
                for group in groups(p)? {
                    match out
                        .iter_mut()
                        .find(|o| o.metric == group.metric && o.relative == group.relative)
                    {
                        Some(o) => {
                            o.expr = format!("{} && {}", parens_or(&o.expr), parens_or(&group.expr))
                        }
                        None => out.push(group),
                    }
                }
            }
            Ok(out)
        }
        Good::Or(parts) => {
            let mut key: Option<(String, bool)> = None;
            let mut exprs = Vec::new();
            for p in parts {
                let gs = groups(p)?;
                let [one] = gs.as_slice() else {
                    return Err("an `or` over several metrics cannot be split: Argo judges each metric on its own".into());
                };
                let k = (one.metric.clone(), one.relative);
                if key.as_ref().is_some_and(|existing| existing != &k) {
                    return Err("an `or` over several metrics cannot be split: Argo judges each metric on its own".into());
                }
                key = Some(k);
                exprs.push(parens(&one.expr));
            }
            let Some((metric, relative)) = key else {
                return Err("an empty condition".into());
            };
            Ok(vec![Group {
                metric,
                relative,
                expr: exprs.join(" || "),
            }])
        }
    }
}

fn parens_or(e: &str) -> String {
    if e.contains("||") {
        format!("({e})")
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, negated: bool) -> Result<Vec<(String, String)>, String> {
        let c = condition::parse(text).map_err(|e| e.0)?;
        Ok(groups(&good(&c, negated)?)?
            .into_iter()
            .map(|g| (metric_name(&g), g.expr))
            .collect())
    }

    #[test]
    fn requires_split_by_metric() {
        assert_eq!(
            split("error_rate < 1% and latency_p95 < 500ms", false).unwrap(),
            vec![
                ("error_rate".into(), "result[0] < 1".into()),
                ("latency_p95".into(), "result[0] < 500".into())
            ]
        );
        assert_eq!(
            split("error_rate < 1% or error_rate > 50%", false).unwrap(),
            vec![(
                "error_rate".into(),
                "result[0] < 1 || result[0] > 50".into()
            )]
        );
        assert!(split("error_rate < 1% or latency_p95 < 5ms", false).is_err());
    }

    #[test]
    fn triggers_are_negated() {
        assert_eq!(
            split("error_rate > 5% or latency_p95 > 2x baseline", true).unwrap(),
            vec![
                ("error_rate".into(), "result[0] <= 5".into()),
                ("latency_p95-vs-baseline".into(), "result[0] <= 2".into())
            ]
        );
        assert!(split("error_rate > 5% and latency_p95 > 1s", true).is_err());
        assert_eq!(
            split("signups < 80% of baseline", true).unwrap(),
            vec![("signups-vs-baseline".into(), "result[0] >= 0.8".into())]
        );
    }

    #[test]
    fn durations_are_go_durations() {
        assert_eq!(duration(600_000), "10m");
        assert_eq!(duration(90_000), "90s");
        assert_eq!(duration(1500), "2s");
        assert_eq!(duration(86_400_000), "24h");
        assert_eq!(duration(3_600_000), "1h");
    }
}
