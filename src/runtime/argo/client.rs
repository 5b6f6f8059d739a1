//! The requests the `argo_rollouts` provider makes, over the same kube-rs client as the
//! `kubernetes` provider (one kubeconfig reader, one TLS stack): GET, server-side apply with
//! strict field validation, and merge patches (of the status subresource, for an abort).
//! Rollouts are custom resources, so the requests are raw paths with JSON bodies rather than
//! typed objects.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// The field manager deployc applies as (`kubectl apply --server-side --field-manager`).
pub(crate) const FIELD_MANAGER: &str = "deployc";

/// One cluster reached through a kubeconfig.
#[derive(Clone)]
pub(crate) struct Api {
    client: kube::Client,
}

impl Api {
    /// The cluster of `kubeconfig` (a path relative to `base`, or `env VAR`; the default
    /// discovery without it) and `context`.
    pub(crate) async fn connect(
        kubeconfig: Option<&str>,
        context: Option<&str>,
        base: &Path,
        timeout: Duration,
    ) -> Result<Api, String> {
        let (client, _) = super::super::kube::connect(kubeconfig, context, base, timeout).await?;
        Ok(Api { client })
    }

    async fn send(
        &self,
        method: http::Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        what: &str,
    ) -> Result<Option<Value>, String> {
        let mut request = http::Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            request = request.header(http::header::CONTENT_TYPE, ct);
        }
        let request = request.body(body).map_err(|e| format!("{what}: {e}"))?;
        match self.client.request::<Value>(request).await {
            Ok(v) => Ok(Some(v)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(super::super::kube::explain(what, &e)),
        }
    }

    /// The object at `path`, `None` when it does not exist.
    pub(crate) async fn get(&self, path: &str) -> Result<Option<Value>, String> {
        self.send(
            http::Method::GET,
            path,
            None,
            Vec::new(),
            &format!("GET {path}"),
        )
        .await
    }

    /// Server-side apply of `object` with strict field validation: an unknown field is an
    /// error, not silently pruned.
    pub(crate) async fn apply(&self, path: &str, object: &Value) -> Result<Value, String> {
        let what = format!("apply {path}");
        self.send(
            http::Method::PATCH,
            &format!("{path}?fieldManager={FIELD_MANAGER}&fieldValidation=Strict&force=true"),
            // JSON is YAML: the API server reads it as the apply configuration.
            Some("application/apply-patch+yaml"),
            object.to_string().into_bytes(),
            &what,
        )
        .await?
        .ok_or_else(|| format!("{what}: not found"))
    }

    /// A JSON merge patch (`application/merge-patch+json`) of `path`.
    pub(crate) async fn merge_patch(&self, path: &str, patch: &Value) -> Result<Value, String> {
        let what = format!("patch {path}");
        self.send(
            http::Method::PATCH,
            path,
            Some("application/merge-patch+json"),
            patch.to_string().into_bytes(),
            &what,
        )
        .await?
        .ok_or_else(|| format!("{what}: not found"))
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
