//! The `local` provider: the application's instances as local processes behind deployc's own
//! HTTP reverse proxy.
//!
//! Each instance is the environment's `command` with `{port}` (a free loopback port) and
//! `{version}` filled in (shell-quoted). The proxy listens on another loopback port and sends
//! each request to the stable or the new version according to the weight — deterministically,
//! by a running sum, so that 10% is every tenth request and not "about 10% on average" — and
//! round-robin among a version's instances. Because every request passes through it, the proxy
//! measures each version (see [`stats`]), which makes it the `probe` metric source. Rolling
//! batches replace stable instances with new ones and the split follows the instance counts.
//!
//! With `traffic = 20/s "/"` the provider also generates requests itself, so that a machine
//! with no users still gives the analysis data.
//!
//! The live instances are listed in the run directory (`instances`: pid, port, version), and
//! each carries the run directory in its environment (`DEPLOYC_RUN_DIR`). A runner that was
//! killed leaves its instances behind; when the run is resumed, the provider stops those it
//! can prove are its own (the pid still runs with that marker) before starting any.

mod proxy;
pub(crate) mod stats;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::http::uri::Authority;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::shell::{self, ReleaseNames};
use super::world::{BoxFuture, Done, InstanceHealth, MetricSource, Provider, Track};
use stats::Stats;

/// How long an instance may take to answer its health check after starting.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The list of live instances, in the run directory.
const INSTANCES_FILE: &str = "instances";
/// The environment variable that marks an instance as this run's.
const RUN_MARKER: &str = "DEPLOYC_RUN_DIR";
/// How long a leftover instance gets to stop on SIGTERM before SIGKILL.
const LEFTOVER_GRACE: Duration = Duration::from_secs(3);

struct Instance {
    version: String,
    port: u16,
    /// `127.0.0.1:PORT`, made once: the proxy puts it in every request it forwards here.
    authority: Authority,
    child: tokio::process::Child,
}

#[derive(Default)]
struct Split {
    stable: Vec<Instance>,
    new: Vec<Instance>,
    /// Percent of requests for the new version.
    weight: f64,
    acc: f64,
    rr: usize,
    stable_version: Option<String>,
}

pub(crate) struct Shared {
    command: String,
    replicas: u64,
    health_path: String,
    dir: PathBuf,
    logs: PathBuf,
    split: Mutex<Split>,
    pub(crate) stats: Stats,
    client: Client<HttpConnector, Empty<Bytes>>,
    stop: Arc<AtomicBool>,
    /// Whether the instances left by an earlier process of this run were looked for.
    reaped: AtomicBool,
    /// What was found, told with the next start.
    reaped_note: Mutex<Option<String>>,
    /// Instances spawned and not yet healthy (`pid port version`): listed too, so that a
    /// process killed while one starts does not leave it unknown to `--resume`.
    starting: Mutex<Vec<(u32, u16, String)>>,
}

/// The local provider (and, through [`LocalProbe`], its measurements).
pub(crate) struct LocalProvider {
    shared: Arc<Shared>,
    /// Started with the first action that needs it, stopped by `shutdown` or when the
    /// provider is dropped.
    proxy: Mutex<Option<proxy::Proxy>>,
    traffic: Option<(f64, Vec<String>)>,
    /// The release being deployed (rolling batches start it).
    release: String,
    /// `{service}`, `{environment}` and `{previous_version}` in the instance command.
    names: ReleaseNames,
}

/// The proxy's measurements as a metric source.
pub(crate) struct LocalProbe {
    shared: Arc<Shared>,
}

impl LocalProvider {
    /// `dir` is where instances run (the `.deploy` file's directory), `logs` where their
    /// output goes (the run directory).
    pub(crate) fn new(
        release: String,
        command: String,
        replicas: u64,
        traffic: Option<(f64, Vec<String>)>,
        health_url: Option<&str>,
        dir: PathBuf,
        logs: PathBuf,
    ) -> LocalProvider {
        let health_path = health_url
            .and_then(|u| u.split_once("://"))
            .and_then(|(_, rest)| rest.find('/').and_then(|i| rest.get(i..)))
            .unwrap_or("/health")
            .to_string();
        let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        // The marker of this run's instances must read the same however the run directory
        // was named (`./.deployc/…` at the start, `.deployc/…` on `--resume`).
        let logs = std::fs::canonicalize(&logs).unwrap_or(logs);
        LocalProvider {
            shared: Arc::new(Shared {
                command,
                replicas: replicas.max(1),
                health_path,
                dir,
                logs,
                split: Mutex::new(Split::default()),
                stats: Stats::default(),
                client,
                stop: Arc::new(AtomicBool::new(false)),
                reaped: AtomicBool::new(false),
                reaped_note: Mutex::new(None),
                starting: Mutex::new(Vec::new()),
            }),
            proxy: Mutex::new(None),
            traffic,
            release,
            names: ReleaseNames::default(),
        }
    }

    /// The release placeholders of the instance command.
    pub(crate) fn with_names(mut self, names: ReleaseNames) -> LocalProvider {
        self.names = names;
        self
    }

    pub(crate) fn probe(&self) -> LocalProbe {
        LocalProbe {
            shared: self.shared.clone(),
        }
    }

    /// Starts the proxy (once) and the traffic generator.
    fn ensure_proxy(&self) -> Result<SocketAddr, String> {
        let mut running = self
            .proxy
            .lock()
            .map_err(|_| "the proxy's state is poisoned".to_string())?;
        if let Some(p) = running.as_ref() {
            return Ok(p.addr());
        }
        let p = proxy::Proxy::start(self.shared.clone())?;
        let addr = p.addr();
        *running = Some(p);
        if let Some((rate, paths)) = &self.traffic {
            traffic(self.shared.clone(), addr, *rate, paths.clone());
        }
        Ok(addr)
    }

    async fn start_instances(&self, version: &str, n: u64, new: bool) -> Result<Vec<u16>, String> {
        if !self.shared.reaped.swap(true, Ordering::Relaxed) {
            let stopped = self.stop_leftovers().await;
            if !stopped.is_empty()
                && let Ok(mut note) = self.shared.reaped_note.lock()
            {
                *note = Some(format!(
                    "; stopped {} instance(s) left by an earlier process of this run: {}",
                    stopped.len(),
                    stopped.join(", ")
                ));
            }
        }
        let mut ports = Vec::new();
        for _ in 0..n {
            let inst = self.spawn(version).await;
            let inst = match inst {
                Ok(i) => i,
                Err(e) => {
                    self.record();
                    return Err(e);
                }
            };
            ports.push(inst.port);
            if let Ok(mut s) = self.shared.split.lock() {
                if new {
                    s.new.push(inst);
                } else {
                    s.stable.push(inst);
                }
            }
            // Listed before the next side effect, so that a crash cannot hide an instance.
            self.record();
        }
        Ok(ports)
    }

    /// What [`Self::stop_leftovers`] found, once: appended to the result of the start that
    /// did it.
    fn reaped_note(&self) -> String {
        self.shared
            .reaped_note
            .lock()
            .ok()
            .and_then(|mut n| n.take())
            .unwrap_or_default()
    }

    /// Writes the list of live instances (replacing the file whole, so that a crash leaves
    /// the old list or the new one).
    fn record(&self) {
        let Ok(s) = self.shared.split.lock() else {
            return;
        };
        let mut text = String::new();
        for i in s.stable.iter().chain(s.new.iter()) {
            if let Some(pid) = i.child.id() {
                text.push_str(&format!("{pid} {} {}\n", i.port, i.version));
            }
        }
        drop(s);
        if let Ok(starting) = self.shared.starting.lock() {
            for (pid, port, version) in starting.iter() {
                text.push_str(&format!("{pid} {port} {version}\n"));
            }
        }
        let path = self.shared.logs.join(INSTANCES_FILE);
        let tmp = self.shared.logs.join(format!("{INSTANCES_FILE}.tmp"));
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }

    /// Stops the instances an earlier process of this run left running (it was killed, or
    /// it paused and left them serving): SIGTERM, then SIGKILL after a grace period. Only a
    /// process that still carries this run's marker is signalled, so a pid reused by
    /// something else is left alone. Returns `version@port (pid N)` for each one stopped.
    async fn stop_leftovers(&self) -> Vec<String> {
        let path = self.shared.logs.join(INSTANCES_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Vec::new();
        };
        let marker = format!("{RUN_MARKER}={}", self.shared.logs.display());
        let mut ours = Vec::new();
        for line in text.lines() {
            let mut f = line.split_whitespace();
            let (Some(pid), Some(port), Some(version)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let Ok(pid) = pid.parse::<libc::pid_t>() else {
                continue;
            };
            if carries_marker(pid, &marker) {
                signal(pid, libc::SIGTERM);
                ours.push((pid, format!("{version}@{port} (pid {pid})")));
            }
        }
        let deadline = Instant::now() + LEFTOVER_GRACE;
        while ours.iter().any(|(pid, _)| alive(*pid)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for (pid, _) in &ours {
            if alive(*pid) && carries_marker(*pid, &marker) {
                signal(*pid, libc::SIGKILL);
            }
        }
        let _ = std::fs::remove_file(&path);
        ours.into_iter().map(|(_, d)| d).collect()
    }

    async fn spawn(&self, version: &str) -> Result<Instance, String> {
        let sh = &self.shared;
        let port = free_port()?;
        // `{version}` is the instance's own version: stable instances run the stable one.
        let v = |n: &str| match n {
            "port" => Some(port.to_string()),
            "version" => Some(version.to_string()),
            _ => self.names.get(n),
        };
        let command = shell::render(&sh.command, &v);
        let log_path = sh.logs.join(format!("instance-{version}-{port}.log"));
        let log = std::fs::File::create(&log_path)
            .map_err(|e| format!("cannot create `{}`: {e}", log_path.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = tokio::process::Command::new("sh");
        // `exec` so that stopping the instance stops the application, not only the shell.
        cmd.arg("-c")
            .arg(format!("exec {command}"))
            .current_dir(&sh.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        if let Some(p) = shell::path_with_exe_dir() {
            cmd.env("PATH", p);
        }
        cmd.env(RUN_MARKER, &sh.logs);
        // A process group of its own: a Ctrl-C at the terminal signals deployc, which rolls
        // back through these instances, not the instances themselves.
        cmd.process_group(0);
        let child = cmd.spawn().map_err(|e| format!("`{command}`: {e}"))?;
        let pid = child.id();
        if let (Some(pid), Ok(mut starting)) = (pid, sh.starting.lock()) {
            starting.push((pid, port, version.to_string()));
        }
        // Listed before the health check waits, so that a crash meanwhile cannot hide it.
        self.record();
        let r = self
            .wait_healthy(child, port, version, &command, &log_path)
            .await;
        if let (Some(pid), Ok(mut starting)) = (pid, sh.starting.lock()) {
            starting.retain(|(p, _, _)| *p != pid);
        }
        r
    }

    /// Waits for a spawned instance to answer its health check.
    async fn wait_healthy(
        &self,
        mut child: tokio::process::Child,
        port: u16,
        version: &str,
        command: &str,
        log_path: &Path,
    ) -> Result<Instance, String> {
        let sh = &self.shared;
        let url = format!("http://127.0.0.1:{port}{}", sh.health_path);
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let out = std::fs::read_to_string(log_path).unwrap_or_default();
                return Err(format!("`{command}` exited ({status}): {}", out.trim()));
            }
            if get_status(&sh.client, &url).await == Some(200) {
                let authority =
                    Authority::try_from(format!("127.0.0.1:{port}")).map_err(|e| e.to_string())?;
                return Ok(Instance {
                    version: version.to_string(),
                    port,
                    authority,
                    child,
                });
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.start_kill();
                return Err(format!(
                    "`{command}` did not answer {url} within {START_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn set_weight(&self, w: f64) {
        if let Ok(mut s) = self.shared.split.lock() {
            s.weight = w.clamp(0.0, 100.0);
        }
    }

    fn take(&self, new: bool, n: usize) -> Vec<Instance> {
        let Ok(mut s) = self.shared.split.lock() else {
            return Vec::new();
        };
        let v = if new { &mut s.new } else { &mut s.stable };
        let keep = v.len().saturating_sub(n);
        v.split_off(keep)
    }

    async fn stop(&self, instances: Vec<Instance>) -> Vec<String> {
        let mut out = Vec::new();
        for mut i in instances {
            let _ = i.child.start_kill();
            let _ = i.child.wait().await;
            out.push(format!("{}@{}", i.version, i.port));
        }
        self.record();
        out
    }

    /// The version and port of every instance behind the proxy.
    fn serving(&self) -> Vec<(String, u16)> {
        self.shared
            .split
            .lock()
            .map(|s| {
                s.stable
                    .iter()
                    .chain(s.new.iter())
                    .map(|i| (i.version.clone(), i.port))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn counts(&self) -> (usize, usize) {
        self.shared
            .split
            .lock()
            .map(|s| (s.stable.len(), s.new.len()))
            .unwrap_or((0, 0))
    }
}

/// Whether `pid` runs with `marker` (`NAME=VALUE`) in its environment (Linux `/proc`; where
/// there is no `/proc`, nothing is proven and nothing is signalled).
fn carries_marker(pid: libc::pid_t, marker: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
        env.split(|b| *b == 0)
            .any(|entry| entry == marker.as_bytes())
    })
}

/// Whether `pid` is a running process (a zombie waiting for its parent counts as gone).
fn alive(pid: libc::pid_t) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) STATE …`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn signal(pid: libc::pid_t, sig: libc::c_int) {
    if pid <= 0 {
        return;
    }
    // SAFETY: kill(2) has no memory effects; `pid` is positive, so exactly one process is
    // signalled, and the caller checked it is this run's instance.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// A free loopback port (the instance binds it right after; a race with another process is
/// possible but then its start fails and says so).
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

async fn get_status(client: &Client<HttpConnector, Empty<Bytes>>, url: &str) -> Option<u16> {
    let uri: hyper::Uri = url.parse().ok()?;
    let fut = client.get(uri);
    let resp = tokio::time::timeout(Duration::from_secs(2), fut)
        .await
        .ok()?
        .ok()?;
    Some(resp.status().as_u16())
}

/// Requests `paths` in turn through the proxy at `rate` per second until the provider stops.
fn traffic(shared: Arc<Shared>, addr: SocketAddr, rate: f64, paths: Vec<String>) {
    let paths = if paths.is_empty() {
        vec!["/".to_string()]
    } else {
        paths
    };
    let period = Duration::from_secs_f64(1.0 / rate.max(0.01));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        let mut i = 0usize;
        while !shared.stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let path = paths.get(i % paths.len()).cloned().unwrap_or_default();
            i += 1;
            let url = format!("http://{addr}{path}");
            let client = shared.client.clone();
            tokio::spawn(async move {
                if let Ok(uri) = url.parse::<hyper::Uri>() {
                    let _ = tokio::time::timeout(Duration::from_secs(5), client.get(uri)).await;
                }
            });
        }
    });
}

impl Provider for LocalProvider {
    fn start_stable<'a>(&'a self, version: Option<&'a str>) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            let addr = self.ensure_proxy()?;
            let Some(version) = version else {
                return Ok(format!(
                    "no stable version: the new version will take all traffic (proxy http://{addr})"
                ));
            };
            let running = self
                .shared
                .split
                .lock()
                .map(|s| s.stable_version.as_deref() == Some(version) && !s.stable.is_empty())
                .unwrap_or(false);
            if let Ok(mut s) = self.shared.split.lock() {
                s.stable_version = Some(version.to_string());
            }
            if running {
                return Ok(format!(
                    "{version} already serves all traffic through http://{addr}"
                ));
            }
            let ports = self
                .start_instances(version, self.shared.replicas, false)
                .await?;
            self.set_weight(0.0);
            Ok(format!(
                "started {version} on ports {ports:?} (`{}`), proxy http://{addr}{}",
                self.shared.command,
                self.reaped_note()
            ))
        })
    }

    fn deploy<'a>(&'a self, version: &'a str) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            self.ensure_proxy()?;
            let (_, n) = self.counts();
            if n > 0 {
                return Ok(format!("{version} already running"));
            }
            let ports = self
                .start_instances(version, self.shared.replicas, true)
                .await?;
            Ok(format!(
                "started {version} on ports {ports:?} with no traffic{}",
                self.reaped_note()
            ))
        })
    }

    fn weight(&self, percent: f64) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            self.set_weight(percent);
            Ok(format!(
                "proxy sends {percent}% of requests to the new version"
            ))
        })
    }

    fn batch(&self, batch: u64, of: u64) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            self.ensure_proxy()?;
            let total = self.shared.replicas;
            let target = (total * batch).div_ceil(of.max(1)).min(total);
            let (stable, new) = self.counts();
            let release = self.release.clone();
            let add = target.saturating_sub(u64::try_from(new).unwrap_or(0));
            let ports = self.start_instances(&release, add, true).await?;
            let remove = stable.saturating_sub(usize::try_from(total - target).unwrap_or(0));
            let stopped = self.stop(self.take(false, remove)).await;
            self.set_weight(target as f64 * 100.0 / total as f64);
            Ok(format!(
                "batch {batch}/{of}: started {release} on {ports:?}, stopped {stopped:?}; {target} of {total} instances new{}",
                self.reaped_note()
            ))
        })
    }

    fn promote(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            self.set_weight(100.0);
            let (stable, _) = self.counts();
            let stopped = self.stop(self.take(false, stable)).await;
            Ok(format!(
                "the new version serves all traffic; stopped {stopped:?}"
            ))
        })
    }

    fn traffic_to_stable(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            let (stable, _) = self.counts();
            let version = self
                .shared
                .split
                .lock()
                .ok()
                .and_then(|s| s.stable_version.clone());
            let missing = self
                .shared
                .replicas
                .saturating_sub(u64::try_from(stable).unwrap_or(0));
            let mut started = Vec::new();
            if missing > 0 {
                let Some(v) = version.as_deref() else {
                    return Err("there is no stable version to return to".into());
                };
                started = self.start_instances(v, missing, false).await?;
            }
            self.set_weight(0.0);
            Ok(format!(
                "proxy sends all requests to the stable version{}",
                if started.is_empty() {
                    String::new()
                } else {
                    format!(" (restarted on {started:?})")
                }
            ))
        })
    }

    fn stop_new(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            let (_, n) = self.counts();
            let stopped = self.stop(self.take(true, n)).await;
            Ok(format!("stopped {stopped:?}"))
        })
    }

    fn health(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            let ports = self.serving();
            if ports.is_empty() {
                return Ok("no instance is running yet".into());
            }
            let mut ok = Vec::new();
            for (v, port) in ports {
                let url = format!("http://127.0.0.1:{port}{}", self.shared.health_path);
                match get_status(&self.shared.client, &url).await {
                    Some(200) => ok.push(format!("{v}@{port}")),
                    other => return Err(format!("{url} answered {other:?}")),
                }
            }
            Ok(format!("healthy: {}", ok.join(", ")))
        })
    }

    fn instance_health(&self) -> BoxFuture<'_, Vec<InstanceHealth>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for (v, port) in self.serving() {
                let url = format!("http://127.0.0.1:{port}{}", self.shared.health_path);
                let result = match get_status(&self.shared.client, &url).await {
                    Some(200) => Ok(format!("{url} answered 200")),
                    Some(status) => Err(format!("{url} answered {status}")),
                    None => Err(format!("{url} did not answer")),
                };
                out.push(InstanceHealth {
                    instance: Some(format!("{v}@{port}")),
                    result,
                });
            }
            out
        })
    }

    fn url(&self) -> Option<String> {
        let a = self.proxy.lock().ok()?.as_ref()?.addr();
        Some(format!("http://{a}"))
    }

    fn shutdown(&self, keep_running: bool) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            self.shared.stop.store(true, Ordering::Relaxed);
            // The proxy cannot outlive this process, whether the instances do or not.
            let proxy = self.proxy.lock().ok().and_then(|mut p| p.take());
            drop(proxy);
            if keep_running {
                let list: Vec<String> = self
                    .shared
                    .split
                    .lock()
                    .map(|s| {
                        s.stable
                            .iter()
                            .chain(s.new.iter())
                            .map(|i| format!("{}@http://127.0.0.1:{}", i.version, i.port))
                            .collect()
                    })
                    .unwrap_or_default();
                // Forget the handles: the processes outlive this one.
                if let Ok(mut s) = self.shared.split.lock() {
                    s.stable.clear();
                    s.new.clear();
                }
                return Ok(format!("left running: {}", list.join(", ")));
            }
            let (s, n) = self.counts();
            let mut stopped = self.stop(self.take(false, s)).await;
            stopped.extend(self.stop(self.take(true, n)).await);
            Ok(format!("stopped {stopped:?}"))
        })
    }
}

impl MetricSource for LocalProbe {
    fn query<'a>(
        &'a self,
        metric: &'a str,
        query: Option<&'a str>,
        track: Track,
        window_ms: u64,
    ) -> BoxFuture<'a, Option<f64>> {
        Box::pin(std::future::ready(
            self.shared.stats.query(metric, query, track, window_ms),
        ))
    }
}

impl LocalProvider {
    /// The ports of the running instances, stable first (benchmarks request them directly).
    pub(crate) fn ports(&self) -> Vec<u16> {
        self.shared
            .split
            .lock()
            .map(|s| {
                s.stable
                    .iter()
                    .chain(s.new.iter())
                    .map(|i| i.port)
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Shared {
    /// The instance for the next request: the version by the weight, the instance in turn.
    pub(crate) fn route(&self) -> Option<(Track, Authority)> {
        let mut s = self.split.lock().ok()?;
        let new = if s.new.is_empty() {
            false
        } else if s.stable.is_empty() {
            true
        } else {
            s.acc += s.weight;
            if s.acc >= 100.0 {
                s.acc -= 100.0;
                true
            } else {
                false
            }
        };
        s.rr = s.rr.wrapping_add(1);
        let rr = s.rr;
        let list = if new { &s.new } else { &s.stable };
        let len = list.len();
        if len == 0 {
            return None;
        }
        let authority = list.get(rr % len)?.authority.clone();
        Some((if new { Track::New } else { Track::Stable }, authority))
    }
}
