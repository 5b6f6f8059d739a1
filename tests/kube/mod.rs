//! An in-process stand-in for the Kubernetes API server (hyper on 127.0.0.1), enforcing what
//! the `kubernetes` provider relies on:
//!
//! * server-side apply: `PATCH` with `application/apply-patch+yaml` needs a `fieldManager`;
//!   the fields a manager applied before and leaves out of its next apply are removed;
//!   with `fieldValidation=Strict` an unknown field is answered 400 naming the field, as the
//!   real API does; an invalid object (negative replicas, a selector that does not match the
//!   pod labels) is answered 422;
//! * `PUT` carries the resourceVersion read: a stale one is answered 409;
//! * watches (`?watch=true`): chunked JSON lines with `ADDED`/`MODIFIED` events;
//! * the `status` subresource: writes to the main resource never change the status, and only
//!   `…/status` does;
//! * a tiny controller that makes a Deployment's status follow its spec after a short delay
//!   (observedGeneration, updated, ready and available replicas), unless the scenario says the
//!   pods of a Deployment never become Ready.
//!
//! Every request is logged, so that a test asserts the sequence the provider sent.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

pub const NS: &str = "shop";

/// What the fake does besides behaving.
#[derive(Default, Clone)]
pub struct Scenario {
    /// Deployments whose pods never become Ready.
    pub never_ready: HashSet<String>,
    /// The first N `PUT`s of a Service are answered 409 (someone else changed it meanwhile).
    pub service_conflicts: u32,
    /// The server goes away when it receives a request whose log line contains all these.
    pub die_on: Vec<String>,
    /// How long the controller takes to make the status follow the spec.
    pub delay_ms: u64,
    /// `/healthz` answers 503 while the Service `shop` selects this version's pods.
    pub unhealthy_version: Option<String>,
    /// A Service `shop-preview` selecting `app=shop`.
    pub preview: bool,
    /// An HTTPRoute `shop` sends the traffic to the Service `shop`.
    pub route: bool,
    /// HTTPS with the test certificate of `tests/fixtures/tls`, as a real API server serves.
    pub tls: bool,
    /// The controller reports `ProgressDeadlineExceeded` for pods that never become Ready.
    pub deadline_exceeded: bool,
    /// Pods whose image contains this never become Ready (a broken build).
    pub bad_image: Option<String>,
    /// Applies of this Deployment are answered 422 with this field and message, as an
    /// admission webhook or a policy engine would.
    pub reject: Option<(String, String, String)>,
}

/// One logged request: method, path and a summary of the body.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub status: u16,
}

impl Logged {
    pub fn line(&self) -> String {
        format!("{} {} {}", self.method, self.path, self.status)
    }
}

struct State {
    /// (resource, name) → object.
    objects: BTreeMap<(String, String), Value>,
    rv: u64,
    log: Vec<Logged>,
    scenario: Scenario,
    conflicts_left: u32,
}

pub struct Fake {
    pub addr: SocketAddr,
    tls: bool,
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
}

type Body = BoxBody<Bytes, Infallible>;

struct Shared {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<(String, String, Value)>,
    stop: watch::Sender<bool>,
}

impl Fake {
    /// Starts the fake with a Deployment `shop` (4 replicas of `…/shop:1.0.0`, all available)
    /// and a Service `shop` selecting `app=shop`.
    pub fn start(scenario: Scenario) -> Fake {
        let mut objects = BTreeMap::new();
        objects.insert(
            ("deployments".to_string(), "shop".to_string()),
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "shop", "namespace": NS, "resourceVersion": "1", "generation": 1,
                             "labels": {"app": "shop"}},
                "spec": {
                    "replicas": 4,
                    "selector": {"matchLabels": {"app": "shop"}},
                    "template": {
                        "metadata": {"labels": {"app": "shop"}},
                        "spec": {"containers": [{"name": "app", "image": "registry.example.com/shop:1.0.0",
                                                 "ports": [{"containerPort": 8080}]}]}
                    },
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
                },
                "status": {"observedGeneration": 1, "replicas": 4, "updatedReplicas": 4,
                           "readyReplicas": 4, "availableReplicas": 4}
            }),
        );
        objects.insert(
            ("services".to_string(), "shop".to_string()),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "shop", "namespace": NS, "resourceVersion": "2"},
                "spec": {"selector": {"app": "shop"}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}
            }),
        );
        if scenario.preview {
            objects.insert(
                ("services".to_string(), "shop-preview".to_string()),
                json!({
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "shop-preview", "namespace": NS, "resourceVersion": "4"},
                    "spec": {"selector": {"app": "shop"}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}
                }),
            );
        }
        if scenario.route {
            objects.insert(
                ("httproutes".to_string(), "shop".to_string()),
                json!({
                    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                    "metadata": {"name": "shop", "namespace": NS, "resourceVersion": "3"},
                    "spec": {"parentRefs": [{"name": "gateway"}],
                             "rules": [{"backendRefs": [{"name": "shop", "port": 80}]}]}
                }),
            );
        }
        let tls = scenario.tls;
        let conflicts_left = scenario.service_conflicts;
        let state = Arc::new(Mutex::new(State {
            objects,
            rv: 10,
            log: Vec::new(),
            scenario,
            conflicts_left,
        }));
        let (stop, _) = watch::channel(false);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: state.clone(),
            events: broadcast::channel(1024).0,
            stop: stop.clone(),
        });
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(listener, shared, tls));
        });
        Fake {
            addr,
            tls,
            state,
            stop,
        }
    }

    /// A kubeconfig naming this server, written into `dir`.
    pub fn kubeconfig(&self, dir: &Path) -> std::path::PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}://{}{}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {NS}\ncurrent-context: fake\nusers:\n- name: fake\n  user:\n    token: test\n",
                if self.tls { "https" } else { "http" },
                self.addr,
                if self.tls {
                    format!("\n    certificate-authority: {}", tls_dir().join("ca.pem").display())
                } else {
                    String::new()
                }
            ),
        )
        .unwrap();
        path
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn object(&self, resource: &str, name: &str) -> Option<Value> {
        self.state
            .lock()
            .unwrap()
            .objects
            .get(&(resource.to_string(), name.to_string()))
            .cloned()
    }

    /// The replica counts the provider applied, in order: `name=N`.
    pub fn replicas_applied(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|l| l.method == "PATCH" && l.path.contains("/deployments/") && l.status < 300)
            .filter_map(|l| {
                let name = l.body["metadata"]["name"].as_str()?;
                let r = l.body["spec"]["replicas"].as_i64()?;
                let image = l.body["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .and_then(|i| i.rsplit(':').next())
                    .map(|v| format!(" ({v})"))
                    .unwrap_or_default();
                Some(format!("{name}={r}{image}"))
            })
            .collect()
    }

    /// The backendRef weights written to HTTPRoutes, in order: `shop=75,shop-canary=25 200`.
    pub fn route_writes(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|l| l.method == "PUT" && l.path.contains("/httproutes/"))
            .map(|l| {
                let refs: Vec<String> = l.body["spec"]["rules"][0]["backendRefs"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|r| {
                                format!("{}={}", r["name"].as_str().unwrap_or(""), r["weight"])
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                format!("{} {}", refs.join(","), l.status)
            })
            .collect()
    }

    /// The selectors written to Services, in order, with each answer: `shop {…} 200`.
    pub fn selector_writes(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|l| l.method == "PUT" && l.path.contains("/services/"))
            .map(|l| {
                let sel: Vec<String> = l.body["spec"]["selector"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                            .collect()
                    })
                    .unwrap_or_default();
                format!(
                    "{} {} {}",
                    l.body["metadata"]["name"].as_str().unwrap_or(""),
                    sel.join(","),
                    l.status
                )
            })
            .collect()
    }

    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tls_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls")
}

/// The test certificate for `localhost` and `127.0.0.1`.
fn tls_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(tls_dir().join("server.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_dir().join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}

async fn serve(listener: std::net::TcpListener, shared: Arc<Shared>, tls: bool) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let acceptor = tls.then(|| tokio_rustls::TlsAcceptor::from(tls_config()));
    let mut stop = shared.stop.subscribe();
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r { Ok(s) => s, Err(_) => continue },
            _ = stop.changed() => return,
        };
        let shared = shared.clone();
        match &acceptor {
            Some(a) => {
                let a = a.clone();
                tokio::spawn(async move {
                    if let Ok(s) = a.accept(stream).await {
                        connection(s, shared).await;
                    }
                });
            }
            None => {
                tokio::spawn(connection(stream, shared));
            }
        }
    }
}

async fn connection<S>(stream: S, shared: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut stop = shared.stop.subscribe();
    let svc = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
    // The server going away closes every connection, including the watches.
    tokio::select! {
        _ = conn => {}
        _ = stop.changed() => {}
    }
}

fn full(status: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed())
        .unwrap()
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn query(q: &str, key: &str) -> Option<String> {
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            v.replace("%3D", "=")
                .replace("%2C", ",")
                .replace("%2F", "/")
        })
    })
}

/// `/apis/apps/v1/namespaces/shop/deployments/x[/status]` → (resource, name, subresource).
fn parse_path(path: &str) -> Option<(String, Option<String>, Option<String>)> {
    let rest = path
        .strip_prefix("/apis/apps/v1/namespaces/")
        .or_else(|| path.strip_prefix("/api/v1/namespaces/"))
        .or_else(|| path.strip_prefix("/apis/gateway.networking.k8s.io/v1/namespaces/"))?;
    let mut parts = rest.split('/');
    let _ns = parts.next()?;
    let resource = parts.next()?.to_string();
    Some((
        resource,
        parts.next().map(str::to_string),
        parts.next().map(str::to_string),
    ))
}

async fn handle(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let q = req.uri().query().unwrap_or("").to_string();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        // kube-rs sends apply patches as JSON, YAML's subset.
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    let full_path = if q.is_empty() {
        path.clone()
    } else {
        format!("{path}?{q}")
    };
    // The server goes away on the scenario's request: no answer, every connection closed.
    let die = {
        let st = shared.state.lock().unwrap();
        let line = format!("{method} {full_path} {body}");
        !st.scenario.die_on.is_empty()
            && st.scenario.die_on.iter().all(|d| line.contains(d.as_str()))
    };
    if die {
        let _ = shared.stop.send(true);
        // Never answered: the connection is closed under it.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if path == "/healthz" {
        let st = shared.state.lock().unwrap();
        let serving = st
            .objects
            .get(&("services".to_string(), "shop".to_string()))
            .and_then(|s| {
                s["spec"]["selector"]["app.kubernetes.io/version"]
                    .as_str()
                    .map(str::to_string)
            });
        let sick =
            st.scenario.unhealthy_version.is_some() && serving == st.scenario.unhealthy_version;
        drop(st);
        return if sick {
            full(StatusCode::SERVICE_UNAVAILABLE, &json!("unhealthy"))
        } else {
            full(StatusCode::OK, &json!("ok"))
        };
    }
    let Some((resource, name, sub)) = parse_path(&path) else {
        let (c, v) = status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
        return respond(shared, &method, &full_path, &body, c, v);
    };
    if method == Method::GET && name.is_none() && query(&q, "watch").as_deref() == Some("true") {
        return watch_response(shared, &resource, &q, &full_path);
    }
    let (code, v) = match (method.clone(), name, sub.as_deref()) {
        (Method::GET, None, None) if resource == "pods" => (
            200,
            pods(shared, &query(&q, "labelSelector").unwrap_or_default()),
        ),
        (Method::GET, Some(n), None) => {
            let st = shared.state.lock().unwrap();
            match st.objects.get(&(resource.clone(), n.clone())) {
                Some(o) => (200, o.clone()),
                None => status(404, "NotFound", &format!("{resource} \"{n}\" not found")),
            }
        }
        (Method::PATCH, Some(n), None) => apply(shared, &resource, &n, &q, &content_type, &body),
        (Method::PUT, Some(n), None) => replace(shared, &resource, &n, &body),
        (Method::PUT | Method::PATCH, Some(n), Some("status")) => {
            write_status(shared, &resource, &n, &body)
        }
        _ => status(405, "MethodNotAllowed", "not supported by the fake"),
    };
    respond(shared, &method, &full_path, &body, code, v)
}

fn respond(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    body: &Value,
    code: u16,
    v: Value,
) -> Response<Body> {
    shared.state.lock().unwrap().log.push(Logged {
        method: method.to_string(),
        path: path.to_string(),
        body: body.clone(),
        status: code,
    });
    full(StatusCode::from_u16(code).unwrap(), &v)
}

fn next_rv(st: &mut State) -> String {
    st.rv += 1;
    st.rv.to_string()
}

/// The fields each object may have (strict validation). `*` accepts anything below.
fn known(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "" => &["apiVersion", "kind", "metadata", "spec", "status"],
        ".metadata" => &[
            "name",
            "namespace",
            "labels",
            "annotations",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
            "managedFields",
        ],
        ".spec" => &[
            "replicas",
            "selector",
            "template",
            "strategy",
            "minReadySeconds",
            "revisionHistoryLimit",
            "progressDeadlineSeconds",
            "paused",
            "ports",
            "type",
            "clusterIP",
            "clusterIPs",
            "sessionAffinity",
            "rules",
            "parentRefs",
            "hostnames",
        ],
        ".spec.strategy" => &["type", "rollingUpdate"],
        ".spec.strategy.rollingUpdate" => &["maxSurge", "maxUnavailable"],
        ".spec.selector" => &["matchLabels", "matchExpressions", "*"],
        ".spec.template" => &["metadata", "spec"],
        ".spec.template.metadata" => &["labels", "annotations", "name", "creationTimestamp"],
        ".spec.template.spec" => &[
            "containers",
            "volumes",
            "serviceAccountName",
            "nodeSelector",
            "restartPolicy",
            "terminationGracePeriodSeconds",
            "dnsPolicy",
            "securityContext",
            "schedulerName",
        ],
        ".spec.template.spec.containers[]" => &[
            "name",
            "image",
            "ports",
            "env",
            "resources",
            "readinessProbe",
            "livenessProbe",
            "imagePullPolicy",
            "command",
            "args",
            "terminationMessagePath",
            "terminationMessagePolicy",
        ],
        _ => return None,
    })
}

/// The first field not declared in the schema, as the API names it (`.spec.replica`).
fn unknown_field(v: &Value, path: &str) -> Option<String> {
    let allowed = known(path)?;
    if allowed.contains(&"*") {
        return None;
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{path}.{k}");
                if !allowed.contains(&k.as_str()) {
                    return Some(p);
                }
                if let Value::Array(items) = child {
                    for it in items {
                        if let Some(f) = unknown_field(it, &format!("{p}[]")) {
                            return Some(f);
                        }
                    }
                } else if let Some(f) = unknown_field(child, &p) {
                    return Some(f);
                }
            }
            None
        }
        _ => None,
    }
}

/// Server-side apply merge: maps deeply, `containers` by name, other lists replaced.
fn merge(live: &mut Value, applied: &Value) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                if k == "containers"
                    && let (Some(Value::Array(lc)), Value::Array(ac)) = (l.get_mut(k), v)
                {
                    for c in ac {
                        match lc.iter_mut().find(|x| x["name"] == c["name"]) {
                            Some(x) => merge(x, c),
                            None => lc.push(c.clone()),
                        }
                    }
                    continue;
                }
                match l.get_mut(k) {
                    Some(lv) if lv.is_object() && v.is_object() => merge(lv, v),
                    _ => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (l, a) => *l = a.clone(),
    }
}

/// Removes from `live` the fields `before` set and `now` does not (lists of containers matched
/// by name).
fn remove_dropped(live: &mut Value, before: &Value, now: &Value) {
    let (Value::Object(l), Value::Object(b)) = (live, before) else {
        return;
    };
    for (k, bv) in b {
        if k == "apiVersion" || k == "kind" || k == "name" {
            continue;
        }
        let nv = now.get(k);
        match (l.get_mut(k), nv) {
            (Some(_), None) => {
                l.remove(k);
            }
            (Some(Value::Array(lc)), Some(Value::Array(nc))) if k == "containers" => {
                let Value::Array(bc) = bv else { continue };
                for c in bc {
                    let n = nc.iter().find(|x| x["name"] == c["name"]);
                    match n {
                        None => lc.retain(|x| x["name"] != c["name"]),
                        Some(n) => {
                            if let Some(x) = lc.iter_mut().find(|x| x["name"] == c["name"]) {
                                remove_dropped(x, c, n);
                            }
                        }
                    }
                }
            }
            (Some(lv), Some(nv)) if lv.is_object() && nv.is_object() => {
                remove_dropped(lv, bv, nv);
            }
            _ => {}
        }
    }
}

fn invalid(kind: &str, name: &str, field: &str, msg: &str) -> (u16, Value) {
    status(
        422,
        "Invalid",
        &format!("{kind} \"{name}\" is invalid: {field}: {msg}"),
    )
}

fn validate(resource: &str, name: &str, o: &Value) -> Option<(u16, Value)> {
    if resource != "deployments" {
        return None;
    }
    let r = o["spec"]["replicas"].as_i64().unwrap_or(1);
    if r < 0 {
        return Some(invalid(
            "Deployment.apps",
            name,
            "spec.replicas",
            &format!("Invalid value: {r}: must be greater than or equal to 0"),
        ));
    }
    if let Some(cs) = o["spec"]["template"]["spec"]["containers"].as_array() {
        for (i, c) in cs.iter().enumerate() {
            if c["image"].as_str().is_none_or(str::is_empty) {
                return Some(invalid(
                    "Deployment.apps",
                    name,
                    &format!("spec.template.spec.containers[{i}].image"),
                    "Required value",
                ));
            }
        }
    } else {
        return Some(invalid(
            "Deployment.apps",
            name,
            "spec.template.spec.containers",
            "Required value",
        ));
    }
    let sel = o["spec"]["selector"]["matchLabels"].as_object();
    let labels = o["spec"]["template"]["metadata"]["labels"].as_object();
    match (sel, labels) {
        (Some(s), Some(l)) if s.iter().all(|(k, v)| l.get(k) == Some(v)) => None,
        _ => Some(invalid(
            "Deployment.apps",
            name,
            "spec.template.metadata.labels",
            "Invalid value: `selector` does not match template `labels`",
        )),
    }
}

fn apply(
    shared: &Arc<Shared>,
    resource: &str,
    name: &str,
    q: &str,
    content_type: &str,
    body: &Value,
) -> (u16, Value) {
    if content_type != "application/apply-patch+yaml" {
        return status(
            415,
            "UnsupportedMediaType",
            "the fake only takes server-side apply patches",
        );
    }
    let Some(manager) = query(q, "fieldManager") else {
        return status(
            400,
            "BadRequest",
            "PATCH with apply must specify fieldManager",
        );
    };
    if query(q, "fieldValidation").as_deref() == Some("Strict")
        && let Some(f) = unknown_field(body, "")
    {
        return status(
            400,
            "BadRequest",
            &format!(
                "failed to create typed patch object ({NS}/{name}; {}): {f}: field not declared in schema",
                body["kind"].as_str().unwrap_or("?")
            ),
        );
    }
    if body["metadata"]["name"].as_str() != Some(name) {
        return status(
            400,
            "BadRequest",
            "the name of the object does not match the name on the URL",
        );
    }
    let mut st = shared.state.lock().unwrap();
    if let Some((n, field, msg)) = &st.scenario.reject
        && n == name
    {
        return invalid("Deployment.apps", name, field, msg);
    }
    let key = (resource.to_string(), name.to_string());
    let existed = st.objects.get(&key).cloned();
    let mut obj = existed.clone().unwrap_or_else(|| {
        json!({"apiVersion": body["apiVersion"], "kind": body["kind"],
               "metadata": {"name": name, "namespace": NS, "generation": 0}})
    });
    let mut applied = body.clone();
    // The main resource never writes the status.
    if let Some(m) = applied.as_object_mut() {
        m.remove("status");
    }
    let spec_before = obj["spec"].clone();
    // Server-side apply: the fields this manager applied before and leaves out now are
    // removed (the double gives every field to the last manager that applied it, as `force`
    // does).
    let key_applied = (format!("applied:{resource}:{manager}"), name.to_string());
    if let Some(before) = st.objects.get(&key_applied).cloned() {
        remove_dropped(&mut obj, &before, &applied);
    }
    merge(&mut obj, &applied);
    if let Some(e) = validate(resource, name, &obj) {
        return e;
    }
    st.objects.insert(key_applied, applied.clone());
    obj["metadata"]["managedFields"] = json!([{"manager": manager, "operation": "Apply"}]);
    if obj["spec"] != spec_before {
        let g = obj["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        obj["metadata"]["generation"] = json!(g);
    }
    let rv = next_rv(&mut st);
    obj["metadata"]["resourceVersion"] = json!(rv);
    st.objects.insert(key, obj.clone());
    let delay = st.scenario.delay_ms;
    drop(st);
    let kind = if existed.is_some() {
        "MODIFIED"
    } else {
        "ADDED"
    };
    let _ = shared
        .events
        .send((resource.to_string(), kind.to_string(), obj.clone()));
    if resource == "deployments" && obj["spec"] != spec_before {
        let shared = shared.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            reconcile(&shared, &name);
        });
    }
    (if existed.is_some() { 200 } else { 201 }, obj)
}

fn never_ready(s: &Scenario, name: &str, d: &Value) -> bool {
    s.never_ready.contains(name)
        || s.bad_image.as_ref().is_some_and(|b| {
            d["spec"]["template"]["spec"]["containers"]
                .as_array()
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["image"].as_str().is_some_and(|i| i.contains(b.as_str())))
                })
        })
}

/// The controller: the status follows the spec.
fn reconcile(shared: &Arc<Shared>, name: &str) {
    let mut st = shared.state.lock().unwrap();
    let key = ("deployments".to_string(), name.to_string());
    let Some(mut obj) = st.objects.get(&key).cloned() else {
        return;
    };
    let never = never_ready(&st.scenario, name, &obj);
    let r = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let ready = if never { 0 } else { r };
    let progressing = if never && st.scenario.deadline_exceeded {
        json!({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
               "message": format!("ReplicaSet \"{name}-7d9f\" has timed out progressing.")})
    } else {
        json!({"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"})
    };
    obj["status"] = json!({
        "observedGeneration": obj["metadata"]["generation"],
        "replicas": r, "updatedReplicas": r, "readyReplicas": ready, "availableReplicas": ready,
        "conditions": [progressing]
    });
    obj["metadata"]["resourceVersion"] = json!(next_rv(&mut st));
    st.objects.insert(key, obj.clone());
    drop(st);
    let _ = shared
        .events
        .send(("deployments".into(), "MODIFIED".into(), obj));
}

fn replace(shared: &Arc<Shared>, resource: &str, name: &str, body: &Value) -> (u16, Value) {
    let mut st = shared.state.lock().unwrap();
    let key = (resource.to_string(), name.to_string());
    let Some(live) = st.objects.get(&key).cloned() else {
        return status(404, "NotFound", &format!("{resource} \"{name}\" not found"));
    };
    let conflict = |st: &State| {
        status(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again ({})",
                st.rv
            ),
        )
    };
    if resource == "services" && st.conflicts_left > 0 {
        // Someone else changed the Service between the provider's read and its write.
        st.conflicts_left -= 1;
        let mut changed = live.clone();
        changed["metadata"]["annotations"] = json!({"other-tool/touched": "yes"});
        changed["metadata"]["resourceVersion"] = json!(next_rv(&mut st));
        st.objects.insert(key, changed);
        return conflict(&st);
    }
    if body["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"] {
        return conflict(&st);
    }
    let mut obj = body.clone();
    obj["status"] = live["status"].clone();
    if obj["status"].is_null()
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    obj["metadata"]["resourceVersion"] = json!(next_rv(&mut st));
    st.objects.insert(key, obj.clone());
    drop(st);
    let _ = shared
        .events
        .send((resource.to_string(), "MODIFIED".into(), obj.clone()));
    (200, obj)
}

fn write_status(shared: &Arc<Shared>, resource: &str, name: &str, body: &Value) -> (u16, Value) {
    let mut st = shared.state.lock().unwrap();
    let key = (resource.to_string(), name.to_string());
    let Some(mut obj) = st.objects.get(&key).cloned() else {
        return status(404, "NotFound", &format!("{resource} \"{name}\" not found"));
    };
    obj["status"] = body["status"].clone();
    obj["metadata"]["resourceVersion"] = json!(next_rv(&mut st));
    st.objects.insert(key, obj.clone());
    drop(st);
    let _ = shared
        .events
        .send((resource.to_string(), "MODIFIED".into(), obj.clone()));
    (200, obj)
}

/// Pods of every Deployment whose pod labels match the selector, Ready or not.
fn pods(shared: &Arc<Shared>, selector: &str) -> Value {
    let st = shared.state.lock().unwrap();
    let want: Vec<(&str, &str)> = selector
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let mut items = Vec::new();
    for ((res, name), d) in &st.objects {
        if res != "deployments" {
            continue;
        }
        let labels = &d["spec"]["template"]["metadata"]["labels"];
        if !want.iter().all(|(k, v)| labels[*k].as_str() == Some(*v)) {
            continue;
        }
        let never = never_ready(&st.scenario, name, d);
        let n = d["status"]["replicas"].as_i64().unwrap_or(0);
        for i in 0..n {
            let (ready, waiting) = if never {
                (
                    "False",
                    json!({"waiting": {"reason": "CrashLoopBackOff",
                                       "message": "back-off 10s restarting failed container"}}),
                )
            } else {
                ("True", json!({"running": {}}))
            };
            items.push(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("{name}-7d9f-{i}"), "namespace": NS, "labels": labels},
                "status": {"phase": "Running",
                           "conditions": [{"type": "Ready", "status": ready}],
                           "containerStatuses": [{"name": "app", "ready": ready == "True",
                                                  "restartCount": 0, "image": "x", "imageID": "",
                                                  "state": waiting}]}
            }));
        }
    }
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": st.rv.to_string()}, "items": items})
}

fn watch_response(
    shared: &Arc<Shared>,
    resource: &str,
    q: &str,
    full_path: &str,
) -> Response<Body> {
    let name = query(q, "fieldSelector")
        .and_then(|f| f.strip_prefix("metadata.name=").map(str::to_string));
    let since: u64 = query(q, "resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout: u64 = query(q, "timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(290);
    let mut rx = shared.events.subscribe();
    let (tx, body_rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    // What changed after the resourceVersion the client read comes first.
    let current: Vec<Value> = {
        let st = shared.state.lock().unwrap();
        st.objects
            .iter()
            .filter(|((r, n), _)| r == resource && name.as_ref().is_none_or(|x| x == n))
            .map(|(_, o)| o.clone())
            .filter(|o| {
                o["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_some_and(|v| v > since)
            })
            .collect()
    };
    let resource = resource.to_string();
    let mut stop = shared.stop.subscribe();
    tokio::spawn(async move {
        for o in current {
            let line = format!("{}\n", json!({"type": "MODIFIED", "object": o}));
            if tx.send(Bytes::from(line)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                ev = rx.recv() => {
                    let Ok((r, kind, o)) = ev else { return };
                    if r != resource || name.as_ref().is_some_and(|n| o["metadata"]["name"].as_str() != Some(n)) {
                        continue;
                    }
                    let line = format!("{}\n", json!({"type": kind, "object": o}));
                    if tx.send(Bytes::from(line)).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => return,
                _ = stop.changed() => return,
            }
        }
    });
    shared.state.lock().unwrap().log.push(Logged {
        method: "GET".into(),
        path: full_path.to_string(),
        body: Value::Null,
        status: 200,
    });
    let stream = futures_util::stream::unfold(body_rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap()
}
