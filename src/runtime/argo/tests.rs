//! The provider against a real Kubernetes API server (`tests/apiserver/run.sh`), with this
//! test writing the Rollout status that Argo's controller would write. Skipped with the reason
//! when the server is not built, unless `DEPLOYC_REQUIRE_KUBE_APISERVER=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};
use yaml_rust2::{Yaml, YamlLoader};

use super::*;
use crate::lower::plan::TargetProvider;
use crate::runtime::world::Provider;

const DEFAULT_BIN: &str = "/var/cache/deployc-k8s/apiextensions-apiserver";

struct Server {
    dir: PathBuf,
    kubeconfig: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let mut pids = Vec::new();
        for pid_file in ["apiserver.pid", "etcd.pid"] {
            if let Ok(pid) = std::fs::read_to_string(self.dir.join(pid_file)) {
                // Only the processes this test started, by their id.
                let _ = Command::new("kill").arg(pid.trim()).status();
                pids.push(pid.trim().to_string());
            }
        }
        // The etcd data (about 64 MB a server) goes once both have exited; a failed test
        // keeps it, with the servers' logs, to look at.
        if std::thread::panicking() {
            return;
        }
        for _ in 0..100 {
            if pids.iter().all(|p| !Path::new("/proc").join(p).exists()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(name: &str, slot: u32) -> Option<Server> {
    let bin = std::env::var("DEPLOYC_KUBE_APISERVER").unwrap_or_else(|_| DEFAULT_BIN.into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let missing = if !Path::new(&bin).is_file() {
        Some(format!("the API server binary `{bin}` is not built"))
    } else if !Command::new("sh")
        .args([
            "-c",
            "command -v etcd && command -v openssl && command -v curl",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        Some("etcd, openssl or curl is not installed".to_string())
    } else {
        None
    };
    if let Some(why) = missing {
        if std::env::var("DEPLOYC_REQUIRE_KUBE_APISERVER").as_deref() == Ok("1") {
            panic!("DEPLOYC_REQUIRE_KUBE_APISERVER=1 but {why}");
        }
        eprintln!("skipped: {why}");
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "deployc-argo-provider-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Apart from other test processes (the process id) and from the other test here (`slot`).
    let port = 40_000 + (std::process::id() % 2_000) * 4 + slot * 2;
    let out = Command::new("bash")
        .arg(root.join("tests/apiserver/run.sh"))
        .arg(&dir)
        .env("BIN", &bin)
        .env("PORT", port.to_string())
        .env("EPORT", (port + 10_001).to_string())
        .output()
        .unwrap();
    let server = Server {
        kubeconfig: dir.join("kubeconfig"),
        dir,
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(server)
}

fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => json!(s.parse::<f64>().unwrap()),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => json!(s),
        Yaml::Boolean(b) => json!(b),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                m.insert(k.as_str().unwrap().to_string(), to_json(v));
            }
            Value::Object(m)
        }
        _ => Value::Null,
    }
}

/// The plan of `release` in `env` of an example, as `deployc plan` makes it.
fn plan_of(file: &str, release: &str, env: &str) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let mut read = crate::compile::read_from_disk;
    let (session, compiled, _) =
        crate::compile::compile_files(&[(file.to_string(), path)], &mut read).unwrap();
    let c = &compiled[0];
    let names = crate::resolve::Names::new(&session, &c.program);
    crate::lower::lower(
        &names,
        &session.sources,
        &c.output.sql,
        release,
        env,
        &crate::lower::LowerOptions::default(),
    )
    .unwrap()
}

/// Installs the Rollout and AnalysisTemplate CRDs; the client of the server.
async fn install_crds(server: &Server) -> Api {
    let kubeconfig = server.kubeconfig.to_string_lossy().into_owned();
    let api = Api::connect(
        Some(&kubeconfig),
        None,
        Path::new("/"),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    for (file, plural) in [
        ("rollout-crd.yaml", "rollouts"),
        ("analysis-template-crd.yaml", "analysistemplates"),
    ] {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/schemas/argo-rollouts")
                .join(file),
        )
        .unwrap();
        let crd = to_json(&YamlLoader::load_from_str(&text).unwrap()[0]);
        api.apply(
            &format!(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.argoproj.io"
            ),
            &crd,
        )
        .await
        .unwrap();
        let mut served = false;
        for _ in 0..100 {
            if api
                .get(&format!("/apis/argoproj.io/v1alpha1/{plural}"))
                .await
                .is_ok_and(|r| r.is_some())
            {
                served = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(served, "{plural} are not served");
    }

    api
}

/// The provider for `release` of the storefront example, against `server`.
async fn provider(server: &Server, release: &str) -> ArgoProvider {
    let mut plan = plan_of("examples/storefront-argo.deploy", release, "production");
    let Some(TargetProvider::ArgoRollouts(cluster)) = &mut plan.target.provider else {
        panic!("not an argo_rollouts plan");
    };
    cluster.kubeconfig = Some(server.kubeconfig.to_string_lossy().into_owned());
    let cluster = cluster.clone();
    // The API server here serves custom resources only, so the Rollout carries the pod
    // template instead of following a Deployment.
    let mut p = ArgoProvider::new(
        &plan,
        &cluster,
        Path::new("/"),
        &|_| None,
        crate::export::argo::ArgoOptions {
            pod_template: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    p.poll = Duration::from_millis(50);
    p.timeout = Duration::from_secs(20);
    p
}

/// Writes the status the controller would write.
async fn controller_writes(api: &Api, rollout: &str, status: Value) {
    api.merge_patch(&format!("{rollout}/status"), &json!({ "status": status }))
        .await
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn follows_the_steps_and_aborts_when_a_trigger_fires() {
    let Some(server) = start("canary", 0) else {
        return;
    };
    let api = install_crds(&server).await;

    let provider = provider(&server, "3.4.0").await;
    let rollout = provider.rollout.clone();

    let said = provider.start_stable(None).await.unwrap();
    assert!(said.contains("no Rollout"), "{said}");
    let said = provider.deploy("3.4.0").await.unwrap();
    assert!(said.contains("rollouts/storefront"), "{said}");
    let applied = api.get(&rollout).await.unwrap().unwrap();
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/storefront:3.4.0"
    );
    assert_eq!(
        applied["spec"]["strategy"]["canary"]["steps"][0],
        json!({ "setWeight": 10 })
    );
    // Steps: 0 setWeight 10, 1 pause 10m, 2 setWeight 50, 3 pause 15m, 4 setWeight 100:
    // deployc judges the holds itself.
    assert_eq!(
        applied["spec"]["strategy"]["canary"]["steps"][1],
        json!({ "pause": { "duration": "10m" } })
    );
    assert!(
        applied["spec"]["strategy"]["canary"]
            .get("analysis")
            .is_none()
    );
    let controller = {
        let api = api.clone();
        let rollout = rollout.clone();
        tokio::spawn(async move {
            controller_writes(
                &api,
                &rollout,
                json!({ "phase": "Progressing", "currentStepIndex": 0 }),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            controller_writes(&api, &rollout, json!({ "currentStepIndex": 1 })).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            controller_writes(&api, &rollout, json!({ "currentStepIndex": 3 })).await;
            // Then wait for deployc's abort and confirm it as the controller does.
            for _ in 0..400 {
                let r = api.get(&rollout).await.unwrap().unwrap();
                if r["status"]["abort"] == json!(true) {
                    controller_writes(
                        &api,
                        &rollout,
                        json!({
                            "phase": "Degraded",
                            "message": "RolloutAborted: Rollout aborted update to revision 2",
                            "abortedAt": "2026-12-01T09:30:00Z",
                            "currentStepIndex": 0,
                        }),
                    )
                    .await;
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        })
    };
    let said = provider.weight(10.0).await.unwrap();
    assert!(said.contains("10%"), "{said}");
    let said = provider.weight(50.0).await.unwrap();
    assert!(said.contains("50%"), "{said}");
    assert!(provider.health().await.unwrap().contains("Progressing"));

    // A deployc trigger fires: the rollback aborts the Rollout.
    let said = provider.traffic_to_stable().await.unwrap();
    assert!(said.contains("aborted"), "{said}");
    assert!(controller.await.unwrap(), "the abort was never written");
    let status = api.get(&rollout).await.unwrap().unwrap()["status"].clone();
    assert_eq!(status["abort"], json!(true));
    // After the abort nothing moves forward: waiting for a weight fails at once.
    let err = provider.weight(100.0).await.unwrap_err();
    assert!(err.contains("aborted"), "{err}");
    // Degraded because aborted: the stable version serves, which is healthy for a rollback.
    assert!(provider.health().await.unwrap().contains("aborted"));
}

#[tokio::test(flavor = "current_thread")]
async fn the_blue_green_switch_promotes_the_rollout() {
    let Some(server) = start("blue-green", 1) else {
        return;
    };
    let api = install_crds(&server).await;
    let provider = provider(&server, "3.5.0").await;
    let rollout = provider.rollout.clone();
    provider.deploy("3.5.0").await.unwrap();
    let applied = api.get(&rollout).await.unwrap().unwrap();
    assert_eq!(
        applied["spec"]["strategy"]["blueGreen"]["autoPromotionEnabled"],
        json!(false)
    );
    // The controller has brought up the preview and waits for promotion.
    controller_writes(
        &api,
        &rollout,
        json!({
            "phase": "Paused",
            "currentPodHash": "new",
            "pauseConditions": [{ "reason": "BlueGreenPause", "startTime": "2026-12-01T09:00:00Z" }],
            "blueGreen": { "activeSelector": "old", "previewSelector": "new" },
        }),
    )
    .await;
    let controller = {
        let api = api.clone();
        let rollout = rollout.clone();
        tokio::spawn(async move {
            for _ in 0..400 {
                let r = api.get(&rollout).await.unwrap().unwrap();
                if r["status"]
                    .get("pauseConditions")
                    .is_none_or(Value::is_null)
                    && r["spec"]["paused"] == json!(false)
                {
                    controller_writes(
                        &api,
                        &rollout,
                        json!({ "phase": "Healthy", "blueGreen": { "activeSelector": "new" } }),
                    )
                    .await;
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        })
    };
    // deployc's switch approval was given: the switch promotes.
    let said = provider.weight(100.0).await.unwrap();
    assert!(said.contains("promoted"), "{said}");
    assert!(controller.await.unwrap());
}
