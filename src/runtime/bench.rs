//! Entry points for `benches/runtime.rs`, which can only reach the public API: the local
//! provider's proxy started on its own (to compare requests through it with requests straight
//! to an instance) and the journal's durable append. Not part of the supported API.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc;

use super::journal::{Event, Journal};
use super::local::LocalProvider;
use super::redact::Redactor;
use super::world::Provider;

/// The local provider's proxy in front of `replicas` instances of `command`, as in `deployc
/// run`: the provider on a current-thread tokio runtime of its own thread, the proxy on its
/// threads (named `deployc-proxy-N`). Dropping it stops the instances.
pub struct LocalProxy {
    addr: SocketAddr,
    ports: Vec<u16>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LocalProxy {
    /// Starts `version` as the stable version (all traffic) with `command` (placeholders
    /// `{port}` and `{version}`), run in `dir`; instance logs go to `dir` too.
    pub fn start(
        command: &str,
        version: &str,
        replicas: u64,
        dir: &Path,
    ) -> Result<LocalProxy, String> {
        let provider = LocalProvider::new(
            version.to_string(),
            command.to_string(),
            replicas,
            None,
            None,
            dir.to_path_buf(),
            dir.to_path_buf(),
        );
        let version = version.to_string();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        // Named, so that a profile of the benchmark can tell the provider's work from the
        // proxy's (its own threads) and the load's.
        let thread = std::thread::Builder::new()
            .name("deployc-provider".into())
            .spawn(move || {
                let rt = match super::runtime() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let started = provider.start_stable(Some(&version)).await;
                    let ready = started.and_then(|_| {
                        let url = provider.url().ok_or("the proxy did not start")?;
                        let addr = url
                            .trim_start_matches("http://")
                            .parse::<SocketAddr>()
                            .map_err(|e| e.to_string())?;
                        Ok((addr, provider.ports()))
                    });
                    let ok = ready.is_ok();
                    let _ = ready_tx.send(ready);
                    if ok {
                        let _ = stop_rx.await;
                    }
                    let _ = provider.shutdown(false).await;
                });
            })
            .map_err(|e| format!("cannot start the proxy thread: {e}"))?;
        let (addr, ports) = ready_rx
            .recv()
            .map_err(|_| "the proxy thread ended".to_string())??;
        Ok(LocalProxy {
            addr,
            ports,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The instances' own ports, for requests that bypass the proxy.
    pub fn instance_ports(&self) -> &[u16] {
        &self.ports
    }
}

impl Drop for LocalProxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A run journal on disk, appended to as `deployc run` does (serialise, redact, write, fsync).
pub struct JournalFile(Journal);

impl JournalFile {
    pub(crate) fn from_journal(journal: Journal) -> JournalFile {
        JournalFile(journal)
    }

    pub fn open(path: &Path) -> Result<JournalFile, String> {
        Journal::open(path, Redactor::default()).map(JournalFile)
    }

    /// Appends the event of a journal line written by another run (as `--log-format json`
    /// prints it), at its own time; returns whether the line had to be on disk before the
    /// append returned (an observation does not: see the journal's documentation).
    pub fn append_line(&mut self, line: &str) -> Result<bool, String> {
        let entry: super::journal::Entry = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let at: jiff::Timestamp = entry.at.parse().map_err(|e| format!("{e}"))?;
        let durable = entry.event.needs_flush();
        self.0.append(at, entry.event).map(|_| durable)
    }

    /// Appends a typical `action` line with `detail` and returns once it is on disk.
    pub fn append_action(&mut self, detail: &str) -> Result<(), String> {
        self.0
            .append(
                jiff::Timestamp::now(),
                Event::Action {
                    step: Some("canary-1".into()),
                    what: "weight".into(),
                    ok: true,
                    detail: detail.to_string(),
                },
            )
            .map(|_| ())
    }
}
