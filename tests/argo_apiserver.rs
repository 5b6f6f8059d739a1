//! The exported Argo Rollouts objects against a real Kubernetes API server (the CRD API server
//! started by `tests/apiserver/run.sh`): the Argo CRDs are installed, every exported object is
//! applied with server-side apply and strict field validation and read back unchanged, and a
//! misspelt field is rejected.
//!
//! Skipped with a printed reason when the server binary, etcd or openssl is missing, unless
//! `DEPLOYC_REQUIRE_KUBE_APISERVER=1`, which makes a missing tool a failure. The server binary
//! is `DEPLOYC_KUBE_APISERVER`, by default where the project tools' build script caches it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const DEFAULT_BIN: &str = "/var/cache/deployc-k8s/apiextensions-apiserver";

/// The server, etcd and the kubeconfig's credentials; stops both processes when dropped.
struct ApiServer {
    dir: PathBuf,
    base: String,
    client: reqwest::Client,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        for pid_file in ["apiserver.pid", "etcd.pid"] {
            if let Ok(pid) = std::fs::read_to_string(self.dir.join(pid_file))
                && let Ok(pid) = pid.trim().parse::<i32>()
            {
                // Only the processes this test started, by their id.
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }
}

fn tool_missing() -> Option<String> {
    let bin = std::env::var("DEPLOYC_KUBE_APISERVER").unwrap_or_else(|_| DEFAULT_BIN.into());
    if !Path::new(&bin).is_file() {
        return Some(format!("the API server binary `{bin}` is not built"));
    }
    for tool in ["etcd", "openssl", "curl"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    None
}

/// Starts the server, or says why the test is skipped (`None`).
fn start(name: &str, slot: u32) -> Option<ApiServer> {
    if let Some(why) = tool_missing() {
        if std::env::var("DEPLOYC_REQUIRE_KUBE_APISERVER").as_deref() == Ok("1") {
            panic!("DEPLOYC_REQUIRE_KUBE_APISERVER=1 but {why}");
        }
        eprintln!("skipped: {why} (build it with the project tools' kube-apiserver/build.sh)");
        return None;
    }
    let bin = std::env::var("DEPLOYC_KUBE_APISERVER").unwrap_or_else(|_| DEFAULT_BIN.into());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("argo-apiserver")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Ports apart from other test runs on the machine (from the process id) and from the
    // other test of this file (`slot`).
    let port = 20_000 + (std::process::id() % 2_000) * 4 + slot * 2;
    let eport = port + 10_001;
    let out = Command::new("bash")
        .arg("tests/apiserver/run.sh")
        .arg(&dir)
        .env("BIN", &bin)
        .env("PORT", port.to_string())
        .env("EPORT", eport.to_string())
        .output()
        .unwrap();
    let mut server = ApiServer {
        dir: dir.clone(),
        base: format!("https://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
    };
    assert!(
        out.status.success(),
        "run.sh failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("apiserver.log")).unwrap_or_default()
    );
    let pki = dir.join("pki");
    let mut identity = std::fs::read(pki.join("admin.crt")).unwrap();
    identity.extend(std::fs::read(pki.join("admin.key")).unwrap());
    let serving = std::fs::read(pki.join("serving/apiserver.crt")).unwrap();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .identity(reqwest::Identity::from_pem(&identity).unwrap());
    for cert in reqwest::Certificate::from_pem_bundle(&serving).unwrap() {
        builder = builder.add_root_certificate(cert);
    }
    server.client = builder.build().unwrap();
    Some(server)
}

impl ApiServer {
    /// Server-side apply of a YAML document with strict field validation.
    async fn apply(&self, path: &str, yaml: &str) -> (u16, String) {
        let r = self
            .client
            .patch(format!(
                "{}{path}?fieldManager=deployc&fieldValidation=Strict&force=true",
                self.base
            ))
            .header("Content-Type", "application/apply-patch+yaml")
            .body(yaml.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Installs a CRD and waits until its resources are served.
    async fn install_crd(&self, file: &str, plural: &str) {
        let text =
            std::fs::read_to_string(Path::new("tests/schemas/argo-rollouts").join(file)).unwrap();
        let name = format!("{plural}.argoproj.io");
        let (status, body) = self
            .apply(
                &format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"),
                &text,
            )
            .await;
        assert!(status < 300, "installing {name}: {status} {body}");
        for _ in 0..100 {
            let (status, _) = self
                .get(&format!("/apis/argoproj.io/v1alpha1/{plural}"))
                .await;
            if status == 200 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{name} is not served");
    }
}

fn plural(kind: &str) -> &'static str {
    match kind {
        "Rollout" => "rollouts",
        "AnalysisTemplate" => "analysistemplates",
        other => panic!("unexpected kind {other}"),
    }
}

fn export(release: &str, env: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_deployc"))
        .args([
            "export",
            "argo-rollouts",
            "examples/storefront-argo.deploy",
            "--release",
            release,
            "--env",
            env,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The JSON form of one exported document, as the export made it.
fn export_json(release: &str, env: &str) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_deployc"))
        .args([
            "plan",
            "examples/storefront-argo.deploy",
            "--release",
            release,
            "--env",
            env,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let plan: deployc::lower::Plan = serde_json::from_slice(&out.stdout).unwrap();
    deployc::export::argo::export(&plan, &|_| None, Default::default())
        .objects
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn exported_objects_apply_strictly_and_read_back() {
    let Some(server) = start("apply", 0) else {
        return;
    };
    server
        .install_crd("analysis-template-crd.yaml", "analysistemplates")
        .await;
    server.install_crd("rollout-crd.yaml", "rollouts").await;
    server
        .install_crd(
            "cluster-analysis-template-crd.yaml",
            "clusteranalysistemplates",
        )
        .await;

    let mut applied = 0;
    for (release, env) in [
        ("3.4.0", "production"),
        ("3.4.0", "staging"),
        ("3.5.0", "production"),
    ] {
        let documents = export(release, env);
        let objects = export_json(release, env);
        assert_eq!(documents.len(), objects.len());
        for (yaml, object) in documents.iter().zip(&objects) {
            let kind = object["kind"].as_str().unwrap();
            // The API server here serves custom resources only; the Deployment's image is a
            // core object, checked with kubernetes-validate in CI.
            if kind == "Deployment" {
                continue;
            }
            let ns = object["metadata"]["namespace"].as_str().unwrap();
            let name = object["metadata"]["name"].as_str().unwrap();
            let path = format!(
                "/apis/argoproj.io/v1alpha1/namespaces/{ns}/{}/{name}",
                plural(kind)
            );
            // The YAML exactly as the command printed it.
            let (status, body) = server.apply(&path, yaml).await;
            assert!(
                status == 200 || status == 201,
                "{release} {env} {kind} {name}: {status} {body}"
            );
            let (status, back) = server.get(&path).await;
            assert_eq!(status, 200);
            assert_eq!(
                back["spec"], object["spec"],
                "{release} {env} {kind} {name}: the server stored something else (pruned?)"
            );
            assert_eq!(back["metadata"]["labels"], object["metadata"]["labels"]);
            if let Some(a) = object["metadata"].get("annotations") {
                assert_eq!(&back["metadata"]["annotations"], a);
            }
            applied += 1;
        }
    }
    assert!(applied >= 6, "only {applied} objects applied");
}

#[tokio::test(flavor = "current_thread")]
async fn a_misspelt_field_is_rejected_by_the_server() {
    let Some(server) = start("misspelt", 1) else {
        return;
    };
    server.install_crd("rollout-crd.yaml", "rollouts").await;
    let documents = export("3.4.0", "production");
    let rollout = documents
        .iter()
        .find(|d| d.contains("kind: Rollout"))
        .unwrap();
    assert!(rollout.contains("- setWeight: 10"));
    let misspelt = rollout.replace("- setWeight: 10", "- setWieght: 10");
    let path = "/apis/argoproj.io/v1alpha1/namespaces/storefront/rollouts/storefront";
    let (status, body) = server.apply(path, &misspelt).await;
    assert!(status >= 400, "accepted: {status} {body}");
    assert!(body.contains("setWieght"), "{body}");
    // The same object as exported is accepted.
    let (status, body) = server.apply(path, rollout).await;
    assert!(status < 300, "{status} {body}");
}

/// A stand-in for Argo's controller: moves the Rollout at `path` through its steps (one step
/// every 300 ms), marks it Healthy after the last, and confirms an abort as the controller
/// does. Returns whether it saw an abort.
async fn controller(
    server: &ApiServer,
    path: &str,
    stop: tokio::sync::watch::Receiver<bool>,
) -> bool {
    let status = |s: Value| serde_json::json!({ "status": s }).to_string();
    let patch = |body: String| {
        server
            .client
            .patch(format!("{}{path}/status", server.base))
            .header("Content-Type", "application/merge-patch+json")
            .body(body)
            .send()
    };
    let mut last_move = std::time::Instant::now();
    loop {
        if *stop.borrow() {
            return false;
        }
        let (code, rollout) = server.get(path).await;
        if code == 200 {
            let steps = rollout["spec"]["strategy"]["canary"]["steps"]
                .as_array()
                .map_or(0, Vec::len) as u64;
            let s = &rollout["status"];
            if s["abort"] == serde_json::json!(true) {
                patch(status(serde_json::json!({
                    "phase": "Degraded",
                    "message": "RolloutAborted: Rollout aborted update to revision 2",
                    "abortedAt": "2026-12-01T09:30:00Z",
                    "currentStepIndex": 0,
                })))
                .await
                .unwrap();
                return true;
            }
            match s["currentStepIndex"].as_u64() {
                None => {
                    patch(status(
                        serde_json::json!({ "phase": "Progressing", "currentStepIndex": 0 }),
                    ))
                    .await
                    .unwrap();
                    last_move = std::time::Instant::now();
                }
                Some(i) if i < steps && last_move.elapsed().as_millis() >= 300 => {
                    let next = i + 1;
                    let phase = if next == steps {
                        "Healthy"
                    } else {
                        "Progressing"
                    };
                    patch(status(
                        serde_json::json!({ "phase": phase, "currentStepIndex": next }),
                    ))
                    .await
                    .unwrap();
                    last_move = std::time::Instant::now();
                }
                _ => {}
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A program for `deployc run`: a canary on the server's cluster whose error rate is read
/// from files the test writes.
fn run_program(dir: &Path, kubeconfig: &Path, canary_error_rate: &str) -> PathBuf {
    std::fs::copy(kubeconfig, dir.join("kubeconfig")).unwrap();
    std::fs::write(
        dir.join("deployc.toml"),
        "[rules]\nC501 = \"allow\"\nC502 = \"allow\"\nC505 = \"allow\"\nR301 = \"allow\"\nR305 = \"allow\"\nS403 = \"allow\"\nT801 = \"allow\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("error_rate-stable.txt"), "0.1\n").unwrap();
    std::fs::write(
        dir.join("error_rate-canary.txt"),
        format!("{canary_error_rate}\n"),
    )
    .unwrap();
    let file = dir.join("app.deploy");
    std::fs::write(
        &file,
        r#"service shop {
}

environment prod {
  provider = argo_rollouts { namespace = "shop", rollout = "shop", container = "app", image = "registry.example.com/shop:{version}", replicas = 10, kubeconfig = "kubeconfig", timeout = 20s }
  metrics  = command "cat {metric}-{track}.txt"
}

metric error_rate: percent = command "unused"

release "1.0.0" {
  strategy = canary {
    analysis every 1s, no_data fail after 3
    step 10% for 2s require error_rate < 10%
    step 100%
  }
  rollback {
    auto when error_rate > 5% for 1s
  }
  monitor 2s
}
"#,
    )
    .unwrap();
    file
}

async fn deployc_run(dir: &Path, file: &Path) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_deployc"))
        .args(["run"])
        .arg(file)
        .args([
            "--release",
            "1.0.0",
            "--env",
            "prod",
            "--yes",
            "--state-dir",
        ])
        .arg(dir.join("state"))
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "current_thread")]
async fn deployc_run_follows_the_rollout_and_aborts_it_when_a_trigger_fires() {
    let Some(server) = start("run", 2) else {
        return;
    };
    server.install_crd("rollout-crd.yaml", "rollouts").await;
    server
        .install_crd("analysis-template-crd.yaml", "analysistemplates")
        .await;
    let path = "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/shop";
    let kubeconfig = server.dir.join("kubeconfig");

    // A healthy canary: deployc follows the Rollout to the end.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("argo-apiserver/run-ok");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = run_program(&dir, &kubeconfig, "0.2");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (aborted, (code, out)) = tokio::join!(controller(&server, path, stop_rx), async {
        let r = deployc_run(&dir, &file).await;
        let _ = stop_tx.send(true);
        r
    });
    assert_eq!(code, 0, "{out}");
    assert!(!aborted);
    assert!(out.contains("Argo set the weight to 10%"), "{out}");
    let (_, rollout) = server.get(path).await;
    assert_eq!(rollout["status"]["phase"], "Healthy", "{out}");
    // deployc judged the hold: the Rollout pauses there instead of running an analysis.
    assert_eq!(
        rollout["spec"]["strategy"]["canary"]["steps"][1],
        serde_json::json!({ "pause": { "duration": "2s" } })
    );

    // A canary within the step's requirement (< 10%) but past the rollback trigger
    // (> 5% for 1s): the trigger fires and deployc aborts the Rollout.
    let (code, _) = {
        let r = server
            .client
            .delete(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), ())
    };
    assert!(code < 300);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("argo-apiserver/run-abort");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = run_program(&dir, &kubeconfig, "7");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (aborted, (code, out)) = tokio::join!(controller(&server, path, stop_rx), async {
        let r = deployc_run(&dir, &file).await;
        let _ = stop_tx.send(true);
        r
    });
    assert_eq!(code, 1, "rolled back cleanly: {out}");
    assert!(aborted, "deployc never wrote status.abort: {out}");
    assert!(out.contains("aborted the Rollout"), "{out}");
    assert!(
        out.contains("rollback from deploy.canary-1: trigger `error_rate > 5%` fired"),
        "{out}"
    );
    let (_, rollout) = server.get(path).await;
    assert_eq!(rollout["status"]["abort"], serde_json::json!(true));
}
