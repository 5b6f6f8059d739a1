//! A small Kubernetes API client over reqwest (rustls): a kubeconfig's server, CA and client
//! certificate or token; server-side apply with strict field validation, GET, and merge
//! patches of the status subresource. That is all the `argo_rollouts` provider needs, so the
//! provider does not pull a full Kubernetes client into the build.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

/// The field manager deployc applies as (`kubectl apply --server-side --field-manager`).
pub(crate) const FIELD_MANAGER: &str = "deployc";

/// One cluster reached through a kubeconfig.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

fn get<'a>(y: &'a Yaml, key: &str) -> &'a Yaml {
    match y {
        Yaml::Hash(h) => h
            .get(&Yaml::String(key.to_string()))
            .unwrap_or(&Yaml::BadValue),
        _ => &Yaml::BadValue,
    }
}

fn string(y: &Yaml, key: &str) -> Option<String> {
    get(y, key).as_str().map(str::to_string)
}

/// The entry `name` of a kubeconfig list (`clusters`, `users`, `contexts`), its inner object.
fn named<'a>(doc: &'a Yaml, list: &str, inner: &str, name: &str) -> Option<&'a Yaml> {
    get(doc, list)
        .as_vec()?
        .iter()
        .find(|e| string(e, "name").as_deref() == Some(name))
        .map(|e| get(e, inner))
}

/// Reads `FIELD` as a file (relative to the kubeconfig) or `FIELD-data` as base64.
fn bytes(y: &Yaml, field: &str, dir: &Path) -> Result<Option<Vec<u8>>, String> {
    if let Some(data) = string(y, &format!("{field}-data")) {
        return base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map(Some)
            .map_err(|e| format!("kubeconfig `{field}-data` is not base64: {e}"));
    }
    match string(y, field) {
        Some(file) => {
            let path = dir.join(file);
            std::fs::read(&path).map(Some).map_err(|e| {
                format!(
                    "cannot read `{}` named in the kubeconfig: {e}",
                    path.display()
                )
            })
        }
        None => Ok(None),
    }
}

impl Api {
    /// The cluster of `context` (or the current context) in the kubeconfig at `path`.
    pub(crate) fn from_kubeconfig(path: &Path, context: Option<&str>) -> Result<Api, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the kubeconfig `{}`: {e}", path.display()))?;
        let docs = YamlLoader::load_from_str(&text)
            .map_err(|e| format!("the kubeconfig `{}` is not YAML: {e}", path.display()))?;
        let doc = docs.first().ok_or("the kubeconfig is empty")?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let context_name = match context {
            Some(c) => c.to_string(),
            None => {
                string(doc, "current-context").ok_or("the kubeconfig has no current-context")?
            }
        };
        let ctx = named(doc, "contexts", "context", &context_name)
            .ok_or_else(|| format!("the kubeconfig has no context `{context_name}`"))?;
        let cluster_name = string(ctx, "cluster").ok_or("the context names no cluster")?;
        let cluster = named(doc, "clusters", "cluster", &cluster_name)
            .ok_or_else(|| format!("the kubeconfig has no cluster `{cluster_name}`"))?;
        let server = string(cluster, "server").ok_or("the cluster has no server")?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("deployc/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = bytes(cluster, "certificate-authority", &dir)? {
            for cert in reqwest::Certificate::from_pem_bundle(&ca)
                .map_err(|e| format!("the cluster's certificate authority: {e}"))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let mut token = None;
        if let Some(user_name) = string(ctx, "user")
            && let Some(user) = named(doc, "users", "user", &user_name)
        {
            let cert = bytes(user, "client-certificate", &dir)?;
            let key = bytes(user, "client-key", &dir)?;
            if let (Some(mut cert), Some(key)) = (cert, key) {
                cert.push(b'\n');
                cert.extend(key);
                builder = builder.identity(
                    reqwest::Identity::from_pem(&cert)
                        .map_err(|e| format!("the user's client certificate: {e}"))?,
                );
            }
            token = string(user, "token");
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Api {
            base: server.trim_end_matches('/').to_string(),
            http,
            token,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn send(&self, r: reqwest::RequestBuilder, what: &str) -> Result<Option<Value>, String> {
        let response = r.send().await.map_err(|e| format!("{what}: {e}"))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = response.text().await.map_err(|e| format!("{what}: {e}"))?;
        if !status.is_success() {
            // The API's Status object says why; fall back to the body as it came.
            let message = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or(body);
            return Err(format!("{what}: HTTP {}: {message}", status.as_u16()));
        }
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|e| format!("{what}: the answer is not JSON: {e}"))
    }

    /// The object at `path`, `None` when it does not exist.
    pub(crate) async fn get(&self, path: &str) -> Result<Option<Value>, String> {
        self.send(
            self.request(reqwest::Method::GET, path),
            &format!("GET {path}"),
        )
        .await
    }

    /// Server-side apply of `object` with strict field validation: an unknown field is an
    /// error, not silently pruned.
    pub(crate) async fn apply(&self, path: &str, object: &Value) -> Result<Value, String> {
        let r = self
            .request(
                reqwest::Method::PATCH,
                &format!("{path}?fieldManager={FIELD_MANAGER}&fieldValidation=Strict&force=true"),
            )
            .header("Content-Type", "application/apply-patch+yaml")
            // JSON is YAML: the API server reads it as the apply configuration.
            .body(object.to_string());
        self.send(r, &format!("apply {path}"))
            .await?
            .ok_or_else(|| format!("apply {path}: not found"))
    }

    /// A JSON merge patch (`application/merge-patch+json`) of `path`.
    pub(crate) async fn merge_patch(&self, path: &str, patch: &Value) -> Result<Value, String> {
        let r = self
            .request(reqwest::Method::PATCH, path)
            .header("Content-Type", "application/merge-patch+json")
            .body(patch.to_string());
        self.send(r, &format!("patch {path}"))
            .await?
            .ok_or_else(|| format!("patch {path}: not found"))
    }
}

/// The API path of an object from its `apiVersion`, `kind`, namespace and name.
pub(crate) fn object_path(object: &Value) -> Result<String, String> {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind, ns, name) = (
        text("/apiVersion"),
        text("/kind"),
        text("/metadata/namespace"),
        text("/metadata/name"),
    );
    let plural = match kind {
        "Rollout" => "rollouts",
        "AnalysisTemplate" => "analysistemplates",
        "Deployment" => "deployments",
        other => return Err(format!("no API path known for kind `{other}`")),
    };
    if name.is_empty() || ns.is_empty() {
        return Err(format!("the {kind} has no name or namespace"));
    }
    let group = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    Ok(format!("{group}/namespaces/{ns}/{plural}/{name}"))
}
