//! `deployc run` with `provider = kubernetes` end to end: the real binary against the API
//! double of `tests/kube/` through a kubeconfig naming it. Each scenario asserts what the
//! double saw (replica counts, selector writes) and the run's exit code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "kube/mod.rs"]
mod api_double;
#[path = "common/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::Output;

use api_double::{Fake, Scenario};
use process::{deployc, text};

fn scratch(name: &str) -> PathBuf {
    process::scratch_in("kube-e2e", name)
}

/// These programs test the provider, not a safe rollout: the findings about missing notices,
/// triggers and roles are switched off the way a user would.
fn allow_rules(dir: &Path) {
    process::allow_rules(
        dir,
        &["C501", "C502", "C505", "R301", "R305", "S403", "T801"],
    );
}

/// A program for the double: a Deployment `shop` of 4 replicas behind the Service `shop`.
fn program(dir: &Path, fake: &Fake, strategy: &str) {
    program_with(dir, fake, strategy, "");
}

fn program_with(dir: &Path, fake: &Fake, strategy: &str, settings: &str) {
    fake.kubeconfig(dir);
    allow_rules(dir);
    std::fs::write(
        dir.join("app.deploy"),
        format!(
            r#"service shop {{
  health = http "{health}" expect 200 timeout 1s
}}

environment prod {{
  provider = kubernetes {{ namespace = "shop", deployment = "shop", container = "app", image = "registry.example.com/shop:{{version}}", service = "shop", replicas = 4, kubeconfig = "kubeconfig", timeout = 3s{settings} }}
}}

release "1.1.0" {{
  strategy = {strategy}
}}
"#,
            health = fake.url("/healthz")
        ),
    )
    .unwrap();
}

const CANARY: &str = "canary {
    analysis every 1s, no_data fail after 3
    step 25% for 1s
    step 50% for 1s
    step 100%
  }";

const BLUE_GREEN: &str = "blue_green {
    analysis every 1s, no_data fail after 3
    preview for 1s
    switch
    keep_previous 1s
  }";

const ROLLING: &str = "rolling { batch 2, max_unavailable 1, health every 1s timeout 1s, analysis every 1s, no_data fail after 3 }";

const RECREATE: &str = "recreate";

fn run(dir: &Path) -> Output {
    deployc()
        .current_dir(dir)
        .args(["run", "app.deploy", "--release", "1.1.0", "--env", "prod"])
        .output()
        .unwrap()
}

fn fake(scenario: Scenario) -> Fake {
    Fake::start(Scenario {
        delay_ms: 150,
        ..scenario
    })
}

#[test]
fn a_good_canary_moves_replicas_step_by_step_and_promotes() {
    let fake = fake(Scenario::default());
    let dir = scratch("canary-good");
    program(&dir, &fake, CANARY);
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(
        fake.replicas_applied(),
        [
            "shop-canary=0 (1.1.0)",
            "shop-canary=1 (1.1.0)",
            "shop=3 (1.0.0)",
            "shop-canary=2 (1.1.0)",
            "shop=2 (1.0.0)",
            "shop-canary=4 (1.1.0)",
            "shop=0 (1.0.0)",
            "shop=4 (1.1.0)",
            "shop-canary=0 (1.1.0)",
        ],
        "{t}"
    );
    // Every write is a server-side apply by deployc with strict validation.
    for l in fake.log().iter().filter(|l| l.method == "PATCH") {
        assert!(
            l.path.contains("fieldManager=deployc") && l.path.contains("fieldValidation=Strict"),
            "{}",
            l.line()
        );
    }
    // Waits watch the Deployment instead of polling.
    assert!(
        fake.log().iter().any(|l| l.path.contains("watch=true")),
        "no watch: {t}"
    );
    let shop = fake.object("deployments", "shop").unwrap();
    assert_eq!(
        shop["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/shop:1.1.0"
    );
    // The canary's pods carry the stable labels (the Service selects them) and its own.
    let canary = fake.object("deployments", "shop-canary").unwrap();
    let labels = &canary["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels["app"], "shop");
    assert_eq!(labels["deployc.dev/track"], "canary");
    assert_eq!(labels["app.kubernetes.io/version"], "1.1.0");
}

#[test]
fn b_pods_that_never_become_ready_time_out_and_roll_back() {
    let fake = fake(Scenario {
        never_ready: ["shop-canary".to_string()].into(),
        ..Scenario::default()
    });
    let dir = scratch("canary-never-ready");
    program(&dir, &fake, CANARY);
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    // Which pod is not Ready, and why.
    assert!(
        t.contains("not rolled out") || t.contains("not 1 updated"),
        "{t}"
    );
    assert!(t.contains("CrashLoopBackOff"), "{t}");
    assert_eq!(
        fake.replicas_applied(),
        [
            "shop-canary=0 (1.1.0)",
            "shop-canary=1 (1.1.0)",
            "shop=4 (1.0.0)",
            "shop-canary=0 (1.1.0)"
        ],
        "{t}"
    );
    // The stable Deployment never lost a replica.
    let shop = fake.object("deployments", "shop").unwrap();
    assert_eq!(shop["spec"]["replicas"], 4);
    assert_eq!(
        shop["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/shop:1.0.0"
    );
}

#[test]
fn c_a_conflict_during_the_switch_is_read_again_and_retried() {
    let fake = fake(Scenario {
        service_conflicts: 1,
        ..Scenario::default()
    });
    let dir = scratch("blue-green-conflict");
    program(&dir, &fake, BLUE_GREEN);
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(
        fake.selector_writes(),
        [
            "shop app=shop,app.kubernetes.io/version=1.1.0 409",
            "shop app=shop,app.kubernetes.io/version=1.1.0 200",
        ],
        "{t}"
    );
    assert!(t.contains("after 1 conflict"), "{t}");
    let svc = fake.object("services", "shop").unwrap();
    assert_eq!(
        svc["spec"]["selector"]["app.kubernetes.io/version"],
        "1.1.0"
    );
    // The other tool's change survived the retry.
    assert_eq!(svc["metadata"]["annotations"]["other-tool/touched"], "yes");
    // The new version has its own Deployment; the previous one is kept, scaled to zero.
    let green = fake.object("deployments", "shop-1-1-0").unwrap();
    assert_eq!(green["spec"]["replicas"], 4);
    let blue = fake.object("deployments", "shop").unwrap();
    assert_eq!(blue["spec"]["replicas"], 0);
}

#[test]
fn d_the_api_server_going_away_mid_step_fails_clearly() {
    let fake = fake(Scenario {
        die_on: vec![
            "PATCH /apis/apps/v1/namespaces/shop/deployments/shop-canary?".into(),
            r#""replicas":2"#.into(),
        ],
        ..Scenario::default()
    });
    let dir = scratch("canary-server-gone");
    program(&dir, &fake, CANARY);
    let out = run(&dir);
    let t = text(&out);
    // The rollback could not reach the cluster either: a person must act (docs/runtime.md).
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(t.contains("cannot be reached"), "{t}");
    // The rollback was attempted against the cluster, and says why it could not finish.
    assert!(
        t.lines()
            .any(|l| l.contains("✗ traffic to stable:") && l.contains("cannot be reached")),
        "rollback not attempted: {t}"
    );
    assert!(!t.contains("panicked"), "{t}");
}

#[test]
fn a_missing_cluster_is_a_configuration_error() {
    let fake = fake(Scenario::default());
    let dir = scratch("no-cluster");
    program(&dir, &fake, CANARY);
    // Nothing listens on port 1 (a freed port of another test's double could be taken again).
    let config = std::fs::read_to_string(dir.join("kubeconfig")).unwrap();
    let config = config.replace(&fake.addr.to_string(), "127.0.0.1:1");
    std::fs::write(dir.join("kubeconfig"), config).unwrap();
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("cannot be reached"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
}

#[test]
fn dry_run_prints_the_requests_without_a_cluster() {
    let fake = fake(Scenario::default());
    let dir = scratch("dry-run");
    program(&dir, &fake, CANARY);
    fake.stop();
    let out = deployc()
        .current_dir(&dir)
        .args([
            "run",
            "app.deploy",
            "--release",
            "1.1.0",
            "--env",
            "prod",
            "--dry-run",
        ])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("PATCH /apis/apps/v1/namespaces/shop/deployments/shop-canary?fieldManager=deployc&fieldValidation=Strict&force=true (apply the whole canary Deployment with replicas 1)"),
        "{t}"
    );
    assert!(
        t.contains("(apply container app image <as read>, replicas 3)"),
        "{t}"
    );
    assert!(fake.log().is_empty());
}

#[test]
fn an_invalid_object_is_reported_with_its_field_and_not_retried() {
    let fake = fake(Scenario {
        reject: Some((
            "shop-canary".into(),
            "spec.template.spec.containers[0].image".into(),
            "Invalid value: \"registry.example.com/shop:1.1.0\": not from an allowed registry"
                .into(),
        )),
        ..Scenario::default()
    });
    let dir = scratch("invalid-object");
    program(&dir, &fake, CANARY);
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("422 Invalid: Deployment.apps \"shop-canary\" is invalid: spec.template.spec.containers[0].image"),
        "{t}"
    );
    let applies = fake
        .log()
        .iter()
        .filter(|l| l.method == "PATCH" && l.path.contains("/deployments/shop-canary"))
        .count();
    // Sent once, never retried blindly (nothing was created, so nothing to scale down).
    assert_eq!(applies, 1, "{t}");
}

/// The double itself enforces what the provider relies on, checked with kube-rs directly.
#[test]
fn the_double_enforces_apply_validation_conflicts_and_the_status_subresource() {
    use ::kube::api::{Api, Patch, PatchParams, PostParams};
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Service;

    let fake = fake(Scenario::default());
    let dir = scratch("double");
    let path = fake.kubeconfig(&dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let kc = ::kube::config::Kubeconfig::read_from(&path).unwrap();
        let config = ::kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let client = ::kube::Client::try_from(config).unwrap();
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), api_double::NS);
        let strict = PatchParams::apply("deployc").force().validation_strict();
        let err = |r: Result<Deployment, ::kube::Error>| match r {
            Err(::kube::Error::Api(s)) => (s.code, s.message),
            other => panic!("{other:?}"),
        };
        // An unknown field: 400 naming it.
        let (code, msg) = err(deployments
            .patch(
                "shop",
                &strict,
                &Patch::Apply(
                    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "shop"}, "spec": {"replica": 3}}),
                ),
            )
            .await);
        assert_eq!(code, 400);
        assert!(
            msg.contains(".spec.replica: field not declared in schema"),
            "{msg}"
        );
        // Negative replicas: 422.
        let (code, msg) = err(deployments
            .patch(
                "shop",
                &strict,
                &Patch::Apply(
                    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "shop"}, "spec": {"replicas": -1}}),
                ),
            )
            .await);
        assert_eq!(code, 422);
        assert!(msg.contains("spec.replicas"), "{msg}");
        // An apply without a field manager: 400.
        let (code, _) = err(deployments
            .patch(
                "shop",
                &PatchParams::default(),
                &Patch::Apply(
                    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "shop"}, "spec": {"replicas": 2}}),
                ),
            )
            .await);
        assert_eq!(code, 400);
        // The main resource never writes the status; the subresource does.
        let d = deployments
            .patch(
                "shop",
                &strict,
                &Patch::Apply(
                    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "shop"}, "spec": {"replicas": 2},
                    "status": {"availableReplicas": 99}}),
                ),
            )
            .await
            .unwrap();
        assert_eq!(d.status.unwrap().available_replicas, Some(4));
        let mut d = deployments.get("shop").await.unwrap();
        d.status.as_mut().unwrap().available_replicas = Some(1);
        let d = deployments
            .replace_status("shop", &PostParams::default(), &d)
            .await
            .unwrap();
        assert_eq!(d.status.unwrap().available_replicas, Some(1));
        // A write with a stale resourceVersion: 409.
        let services: Api<Service> = Api::namespaced(client, api_double::NS);
        let mut svc = services.get("shop").await.unwrap();
        services
            .replace("shop", &PostParams::default(), &svc)
            .await
            .unwrap();
        svc.spec.as_mut().unwrap().selector = Some([("app".into(), "x".into())].into());
        match services.replace("shop", &PostParams::default(), &svc).await {
            Err(::kube::Error::Api(s)) => assert_eq!(s.code, 409),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn rolling_applies_the_image_with_surge_and_unavailable_and_follows_the_rollout() {
    let fake = fake(Scenario::default());
    let dir = scratch("rolling-good");
    program(&dir, &fake, ROLLING);
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let shop = fake.object("deployments", "shop").unwrap();
    assert_eq!(
        shop["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/shop:1.1.0"
    );
    assert_eq!(shop["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 2);
    assert_eq!(
        shop["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        1
    );
}

#[test]
fn a_rolling_update_whose_pods_fail_goes_back_to_the_previous_image() {
    let fake = fake(Scenario {
        bad_image: Some(":1.1.0".into()),
        ..Scenario::default()
    });
    let dir = scratch("rolling-bad");
    program(&dir, &fake, ROLLING);
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("CrashLoopBackOff"), "{t}");
    let shop = fake.object("deployments", "shop").unwrap();
    assert_eq!(
        shop["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/shop:1.0.0"
    );
    assert_eq!(shop["status"]["availableReplicas"], 4);
}

#[test]
fn recreate_scales_to_zero_then_applies_the_new_image() {
    let fake = fake(Scenario::default());
    let dir = scratch("recreate");
    program(&dir, &fake, RECREATE);
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(
        fake.replicas_applied(),
        ["shop=0 (1.0.0)", "shop=4 (1.1.0)"],
        "{t}"
    );
}

#[test]
fn a_canary_behind_a_route_moves_exact_weights() {
    let fake = fake(Scenario {
        route: true,
        ..Scenario::default()
    });
    let dir = scratch("canary-route");
    program_with(&dir, &fake, CANARY, r#", route = "shop""#);
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(
        fake.route_writes(),
        [
            "shop=75,shop-canary=25 200",
            "shop=50,shop-canary=50 200",
            "shop=0,shop-canary=100 200",
            "shop=100,shop-canary=0 200",
        ],
        "{t}"
    );
    // The stable Deployment keeps every replica while the route splits the traffic.
    assert_eq!(
        fake.replicas_applied(),
        [
            "shop-canary=0 (1.1.0)",
            "shop-canary=1 (1.1.0)",
            "shop-canary=2 (1.1.0)",
            "shop-canary=4 (1.1.0)",
            "shop=4 (1.1.0)",
            "shop-canary=0 (1.1.0)",
        ],
        "{t}"
    );
    let svc = fake.object("services", "shop-canary").unwrap();
    assert_eq!(svc["spec"]["selector"]["deployc.dev/track"], "canary");
    assert_eq!(svc["spec"]["ports"][0]["port"], 80);
}

#[test]
fn the_progress_deadline_fails_the_step_without_waiting_for_the_timeout() {
    let fake = fake(Scenario {
        bad_image: Some(":1.1.0".into()),
        deadline_exceeded: true,
        ..Scenario::default()
    });
    let dir = scratch("rolling-deadline");
    program(&dir, &fake, ROLLING);
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("ProgressDeadlineExceeded"), "{t}");
    // The step failed on the condition, not on the wait's timeout.
    assert!(!t.contains("after 3s"), "{t}");
}

#[test]
fn blue_green_switches_back_when_the_new_version_is_unhealthy_after_the_switch() {
    let fake = fake(Scenario {
        unhealthy_version: Some("1.1.0".into()),
        preview: true,
        ..Scenario::default()
    });
    let dir = scratch("blue-green-unhealthy");
    program_with(
        &dir,
        &fake,
        BLUE_GREEN,
        r#", preview_service = "shop-preview""#,
    );
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert_eq!(
        fake.selector_writes(),
        [
            "shop-preview app=shop,app.kubernetes.io/version=1.1.0 200",
            "shop app=shop,app.kubernetes.io/version=1.1.0 200",
            "shop app=shop 200",
        ],
        "{t}"
    );
    // The new version is stopped and kept; the previous one never stopped serving.
    let green = fake.object("deployments", "shop-1-1-0").unwrap();
    assert_eq!(green["spec"]["replicas"], 0);
    let blue = fake.object("deployments", "shop").unwrap();
    assert_eq!(blue["spec"]["replicas"], 4);
}

#[test]
fn blue_green_pods_that_never_become_ready_are_stopped_before_any_switch() {
    let fake = fake(Scenario {
        never_ready: ["shop-1-1-0".to_string()].into(),
        ..Scenario::default()
    });
    let dir = scratch("blue-green-never-ready");
    program(&dir, &fake, BLUE_GREEN);
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("CrashLoopBackOff"), "{t}");
    assert!(fake.selector_writes().is_empty(), "{t}");
    assert_eq!(
        fake.replicas_applied(),
        ["shop-1-1-0=4 (1.1.0)", "shop-1-1-0=0 (1.1.0)"],
        "{t}"
    );
}

#[test]
fn the_client_speaks_tls_with_the_kubeconfig_certificate_authority() {
    let fake = fake(Scenario {
        tls: true,
        ..Scenario::default()
    });
    let dir = scratch("tls");
    // The health check goes to a plain double; the API to the TLS one.
    let plain = Fake::start(Scenario::default());
    program(&dir, &plain, RECREATE);
    fake.kubeconfig(&dir);
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    assert_eq!(
        fake.replicas_applied(),
        ["shop=0 (1.0.0)", "shop=4 (1.1.0)"],
        "{t}"
    );
}

#[test]
fn a_server_certificate_the_kubeconfig_does_not_trust_is_a_configuration_error() {
    let fake = fake(Scenario {
        tls: true,
        ..Scenario::default()
    });
    let dir = scratch("tls-untrusted");
    program(&dir, &fake, RECREATE);
    let config = std::fs::read_to_string(dir.join("kubeconfig")).unwrap();
    let config: String = config
        .lines()
        .filter(|l| !l.contains("certificate-authority"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("kubeconfig"), config).unwrap();
    let out = run(&dir);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("certificate"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    assert!(fake.log().is_empty(), "{t}");
}

#[test]
fn a_resumed_canary_keeps_its_replicas() {
    let fake = fake(Scenario::default());
    let dir = scratch("canary-resume");
    program(&dir, &fake, CANARY);
    let mut child = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.1.0", "--env", "prod"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed during the first step's hold, once the canary serves.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !fake
        .replicas_applied()
        .iter()
        .any(|r| r == "shop=3 (1.0.0)")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            fake.replicas_applied()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = fake.replicas_applied().len();
    let run_id = std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    let out = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--resume", &run_id])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let applied = fake.replicas_applied();
    // The resumed run re-applies the canary with the replicas it had, never zero.
    let resumed: Vec<&String> = applied[before..]
        .iter()
        .filter(|r| r.starts_with("shop-canary="))
        .collect();
    assert_eq!(
        resumed.first().map(|r| r.as_str()),
        Some("shop-canary=1 (1.1.0)"),
        "{applied:?}\n{t}"
    );
    assert_eq!(
        resumed.last().map(|r| r.as_str()),
        Some("shop-canary=0 (1.1.0)"),
        "{applied:?}\n{t}"
    );
    assert_eq!(
        fake.object("deployments", "shop").unwrap()["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/shop:1.1.0"
    );
}

/// Server-side apply removes the fields a manager applied before and leaves out now: every
/// apply deployc sends must carry all the fields it owns, across runs too.
#[test]
fn two_canary_releases_in_a_row_keep_every_field_deployc_owns() {
    let fake = fake(Scenario::default());
    let dir = scratch("canary-twice");
    program(&dir, &fake, CANARY);
    let deploy = std::fs::read_to_string(dir.join("app.deploy")).unwrap();
    let second = deploy
        .split("release \"1.1.0\"")
        .nth(1)
        .unwrap()
        .to_string();
    std::fs::write(
        dir.join("app.deploy"),
        format!("{deploy}\nrelease \"1.2.0\"{second}"),
    )
    .unwrap();
    let out = run(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.2.0", "--env", "prod"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let shop = fake.object("deployments", "shop").unwrap();
    assert_eq!(
        shop["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/shop:1.2.0"
    );
    assert_eq!(shop["spec"]["replicas"], 4);
    let canary = fake.object("deployments", "shop-canary").unwrap();
    assert_eq!(canary["spec"]["replicas"], 0);
    assert_eq!(
        canary["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/shop:1.2.0"
    );
}
