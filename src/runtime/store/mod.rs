//! State stores: where runs keep what outlives their process — the run index (each run's
//! plan), the journals, the history, the operators' pending requests, and the lease that lets
//! one deploy at a time work on a service in an environment.
//!
//! Two stores behind one door: the state directory (`.deployc/`, the embedded default: one
//! machine) and PostgreSQL (`state = postgres env VAR` or `--state URL`: every machine that
//! reaches the database shares it). The executor writes through a [`Journal`] and reads an
//! [`Inbox`] and never knows which store is behind them; the command line asks the store for
//! runs, journals and history the same way.
//!
//! Whatever the store, a run's files for people (the report, instance logs, backups) stay in
//! the local state directory's `runs/RUN/`.

pub(crate) mod postgres;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::history::{HISTORY_FILE, History, HistoryEntry};
use crate::lower::Plan;

use super::control::{self, COMMANDS_FILE, Request};
use super::journal::{self, Entry, Journal};
use super::redact::Redactor;
use postgres::{Held, LeaseKey, PgStore};

/// What stops a run whose deploy lease was taken over (journaled as its `signal`).
pub(crate) const LEASE_LOST: &str = "lease lost";

/// The journal's file name in a run's directory.
const JOURNAL_FILE: &str = "journal.jsonl";

/// A state store.
#[derive(Clone)]
pub(crate) enum Store {
    /// The state directory: `runs/RUN/{plan.json,journal.jsonl,commands.jsonl}`, `history`,
    /// `run.SERVICE.ENVIRONMENT.lock`.
    Dir(PathBuf),
    Postgres(Arc<PgStore>),
}

impl Store {
    /// The store of `--state URL` (or an environment's `state =`), else the state directory.
    /// A PostgreSQL store is connected (and its tables created) here: an unreachable one is
    /// an error before anything is written.
    pub(crate) fn open(url: Option<&str>, state_dir: &Path) -> Result<Store, String> {
        match url {
            Some(url) => Ok(Store::Postgres(Arc::new(PgStore::connect(url)?))),
            None => Ok(Store::Dir(state_dir.to_path_buf())),
        }
    }

    /// The store in messages: the directory, or the URL without its password.
    pub(crate) fn shown(&self) -> String {
        match self {
            Store::Dir(d) => format!("`{}`", d.display()),
            Store::Postgres(pg) => format!("the state store `{}`", pg.shown()),
        }
    }

    /// The state directory, when the store is one.
    pub(crate) fn dir(&self) -> Option<&Path> {
        match self {
            Store::Dir(d) => Some(d),
            Store::Postgres(_) => None,
        }
    }

    /// Whether this is a shared (PostgreSQL) store.
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// Every run id, oldest first (ids begin with their start time).
    pub(crate) fn runs(&self) -> Result<Vec<String>, String> {
        match self {
            Store::Dir(d) => {
                let runs = d.join("runs");
                let mut ids: Vec<String> = std::fs::read_dir(&runs)
                    .map_err(|e| format!("no runs in `{}`: {e}", d.display()))?
                    .flatten()
                    .filter(|e| e.path().join(JOURNAL_FILE).is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                ids.sort();
                Ok(ids)
            }
            Store::Postgres(pg) => pg.runs(),
        }
    }

    /// Whether a run of this id exists (a new run picks another id).
    pub(crate) fn has_run(&self, run: &str) -> Result<bool, String> {
        match self {
            Store::Dir(d) => Ok(d.join("runs").join(run).exists()),
            Store::Postgres(pg) => pg.has_run(run),
        }
    }

    /// The run an operator names: its id, or `latest` for the newest run.
    pub(crate) fn resolve_run(&self, run: &str) -> Result<String, String> {
        if run != "latest" {
            // A run id is one path component deployc made (see `runtime::path_component`):
            // anything else (`../x`, `a/b`) names no run and must not reach the file system.
            let known = super::path_component(run) == run
                && match self {
                    Store::Dir(d) => d.join("runs").join(run).join(JOURNAL_FILE).is_file(),
                    Store::Postgres(pg) => pg.has_run(run)?,
                };
            if known {
                return Ok(run.to_string());
            }
            return Err(format!(
                "no run `{run}` in {} (`deployc status` lists them)",
                self.shown()
            ));
        }
        let ids = match self {
            Store::Dir(_) => self.runs().unwrap_or_default(),
            Store::Postgres(pg) => pg.runs()?,
        };
        ids.into_iter()
            .max()
            .ok_or_else(|| format!("no runs in {}", self.shown()))
    }

    /// Records a new run with its plan (`plan.json` in its directory, or a row).
    pub(crate) fn create_run(&self, run: &str, plan: &Plan, text: &str) -> Result<(), String> {
        match self {
            Store::Dir(d) => {
                let dir = d.join("runs").join(run);
                super::private_dir(&dir)?;
                std::fs::write(dir.join("plan.json"), text)
                    .map_err(|e| format!("cannot write the plan: {e}"))
            }
            Store::Postgres(pg) => {
                pg.create_run(run, &plan.service, &plan.environment, &plan.release, text)
            }
        }
    }

    /// The plan a run was started with.
    pub(crate) fn plan(&self, run: &str) -> Result<Plan, String> {
        let text = match self {
            Store::Dir(d) => {
                let runs = d.join("runs");
                std::fs::read_to_string(runs.join(run).join("plan.json"))
                    .map_err(|e| format!("run `{run}` in `{}`: {e}", runs.display()))?
            }
            Store::Postgres(pg) => pg
                .plan_text(run)?
                .ok_or_else(|| format!("no run `{run}` in {}", self.shown()))?,
        };
        serde_json::from_str(&text).map_err(|e| format!("run `{run}`: {e}"))
    }

    /// The journal of `run`, opened for appending.
    pub(crate) fn open_journal(&self, run: &str, redactor: Redactor) -> Result<Journal, String> {
        match self {
            Store::Dir(d) => Journal::open(&d.join("runs").join(run).join(JOURNAL_FILE), redactor),
            Store::Postgres(pg) => Journal::postgres(pg.clone(), run, redactor),
        }
    }

    /// The entries of `run`'s journal.
    pub(crate) fn read_journal(&self, run: &str) -> Result<Vec<Entry>, String> {
        match self {
            Store::Dir(d) => journal::read(&d.join("runs").join(run).join(JOURNAL_FILE)),
            Store::Postgres(pg) => journal::parse_lines(&pg.journal_lines(run, 0)?, run),
        }
    }

    /// The entries of `run`'s journal after the one numbered `after` (a PostgreSQL store
    /// sends only those: a waiting operator command polls it).
    pub(crate) fn journal_after(&self, run: &str, after: u64) -> Result<Vec<Entry>, String> {
        match self {
            Store::Dir(_) => Ok(self
                .read_journal(run)?
                .into_iter()
                .filter(|e| e.seq > after)
                .collect()),
            Store::Postgres(pg) => journal::parse_lines(
                &pg.journal_lines(run, i64::try_from(after).unwrap_or(i64::MAX))?,
                run,
            ),
        }
    }

    /// The history's text (one JSON line per finished run) and where it is, for messages.
    pub(crate) fn history_text(&self) -> Result<(String, String), String> {
        match self {
            Store::Dir(d) => {
                let path = d.join(HISTORY_FILE);
                match std::fs::read_to_string(&path) {
                    Ok(t) => Ok((path.display().to_string(), t)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Ok((path.display().to_string(), String::new()))
                    }
                    Err(e) => Err(format!("cannot read `{}`: {e}", path.display())),
                }
            }
            Store::Postgres(pg) => Ok((pg.shown().to_string(), pg.history_text()?)),
        }
    }

    pub(crate) fn history(&self) -> Result<History, String> {
        let (name, text) = self.history_text()?;
        History::parse(&text).map_err(|e| format!("`{name}` line {}: {}", e.line, e.message))
    }

    /// Appends a finished run to the history, durably.
    pub(crate) fn append_history(&self, entry: &HistoryEntry) -> Result<(), String> {
        match self {
            Store::Dir(d) => {
                use std::io::Write;
                let path = d.join(HISTORY_FILE);
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| format!("cannot open `{}`: {e}", path.display()))?;
                f.write_all(History::line(entry).as_bytes())
                    .and_then(|()| f.sync_data())
                    .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
            }
            Store::Postgres(pg) => pg.append_history(&History::line(entry)),
        }
    }

    /// Appends an operator's request for `run`, durably.
    pub(crate) fn send_request(&self, run: &str, request: &Request) -> Result<(), String> {
        match self {
            Store::Dir(d) => {
                control::append(&d.join("runs").join(run).join(COMMANDS_FILE), request)
            }
            Store::Postgres(pg) => {
                let line = serde_json::to_string(request).map_err(|e| e.to_string())?;
                pg.append_command(run, &line)
            }
        }
    }

    /// Every request sent to `run` (answered or not).
    pub(crate) fn requests(&self, run: &str) -> Vec<Request> {
        let lines: Vec<String> = match self {
            Store::Dir(d) => std::fs::read_to_string(d.join("runs").join(run).join(COMMANDS_FILE))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect(),
            Store::Postgres(pg) => pg
                .commands(run, 0)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, l)| l)
                .collect(),
        };
        lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The live run's side of the requests: those sent from now on.
    pub(crate) fn inbox(&self, run: &str) -> Result<control::Inbox, String> {
        match self {
            Store::Dir(d) => Ok(control::Inbox::open(&d.join("runs").join(run))),
            Store::Postgres(pg) => {
                let after = pg.last_command(run)?;
                Ok(control::Inbox::postgres(pg.clone(), run, after))
            }
        }
    }

    /// Who works on `run` now, if a live process does: its pid (state directory) or the
    /// holder of an unexpired lease naming it (PostgreSQL).
    pub(crate) fn live(&self, run: &str) -> Option<Live> {
        match self {
            Store::Dir(d) => control::live_pid(d, run).map(Live::Pid),
            Store::Postgres(pg) => pg.live_holder(run).ok().flatten().map(Live::Lease),
        }
    }

    /// Whether the process found by [`Store::live`] still works on `run`.
    pub(crate) fn still_live(&self, run: &str, live: &Live) -> bool {
        match live {
            Live::Pid(pid) => control::alive(*pid),
            Live::Lease(_) => self.live(run).is_some(),
        }
    }

    /// Takes the right to deploy `plan`'s service to its environment for `run`: the state
    /// directory's lock, or the PostgreSQL lease (renewed every third of `ttl` while the
    /// [`Lease`] lives). Refused, with who holds it and since when, while another run holds
    /// it; a lease whose holder stopped renewing it is taken over once expired, and who held
    /// it is returned for the journal.
    pub(crate) fn lease(
        &self,
        plan: &Plan,
        run: &str,
        ttl: Duration,
    ) -> Result<(Lease, Option<Held>), String> {
        match self {
            Store::Dir(d) => {
                let mut lock = super::lock_state_dir(d, &plan.service, &plan.environment)?;
                lock.name_run(run)?;
                Ok((Lease::Dir(lock), None))
            }
            Store::Postgres(pg) => {
                let key = LeaseKey {
                    service: plan.service.clone(),
                    environment: plan.environment.clone(),
                    holder: format!("{} pid {}", control::operator(), std::process::id()),
                    run: run.to_string(),
                };
                let previous = match pg.acquire(&key, ttl)? {
                    Ok(previous) => previous,
                    Err(held) => {
                        return Err(format!(
                            "`{}` in `{}` is being deployed by {} since {} (run `{}`; its lease expires at {} unless renewed): wait for it to end",
                            key.service,
                            key.environment,
                            held.holder,
                            held.since,
                            held.run,
                            held.expires
                        ));
                    }
                };
                let (stop, stopped) = mpsc::channel::<()>();
                let beat_store = pg.clone();
                let beat_key = key.clone();
                let lost = Arc::new(AtomicBool::new(false));
                let beat_lost = lost.clone();
                let every = (ttl / 3).max(Duration::from_millis(100));
                let beat = std::thread::Builder::new()
                    .name("deployc-lease".into())
                    .spawn(move || {
                        heartbeat(&beat_store, &beat_key, ttl, every, &stopped, &beat_lost);
                    })
                    .map_err(|e| format!("cannot start the lease's heartbeat: {e}"))?;
                Ok((
                    Lease::Postgres {
                        store: pg.clone(),
                        key,
                        stop: Some(stop),
                        beat: Some(beat),
                        lost,
                    },
                    previous,
                ))
            }
        }
    }
}

/// Renews the lease every `every` until told to stop (or the lease is dropped). A lease found
/// taken over by another run, or not renewed for a whole `ttl` (the database unreachable: it
/// may be taken over by now), is lost: `lost` is set, which stops the run where it is.
fn heartbeat(
    store: &PgStore,
    key: &LeaseKey,
    ttl: Duration,
    every: Duration,
    stop: &mpsc::Receiver<()>,
    lost: &AtomicBool,
) {
    let mut renewed = Instant::now();
    loop {
        match stop.recv_timeout(every) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        let why = match store.renew(key, ttl) {
            Ok(true) => {
                renewed = Instant::now();
                continue;
            }
            Ok(false) => "was taken over by another run".to_string(),
            // A failed renewal is retried at the next beat, while the lease lasts.
            Err(_) if renewed.elapsed() < ttl => continue,
            Err(e) => format!("could not be renewed for {} s ({e})", ttl.as_secs()),
        };
        eprintln!(
            "warning: the lease of `{}` in `{}` {why}: this run stops where it is",
            key.service, key.environment
        );
        lost.store(true, Ordering::SeqCst);
        return;
    }
}

/// A process working on a run.
pub(crate) enum Live {
    Pid(i32),
    /// The lease's holder (`user@host pid N`).
    Lease(String),
}

/// The right to deploy, held while the run works; given back when dropped (a process killed
/// outright gives back the directory's lock with its descriptor, and lets its PostgreSQL
/// lease expire).
pub(crate) enum Lease {
    /// Held, never read: the `flock` lasts as long as its descriptor.
    Dir(#[allow(dead_code)] super::StateLock),
    Postgres {
        store: Arc<PgStore>,
        key: LeaseKey,
        stop: Option<mpsc::Sender<()>>,
        beat: Option<std::thread::JoinHandle<()>>,
        /// Set by the heartbeat when the lease is lost.
        lost: Arc<AtomicBool>,
    },
}

impl Lease {
    /// The flag the heartbeat sets when the lease is lost (none for the directory's lock,
    /// which the kernel holds until the process ends).
    pub(crate) fn lost(&self) -> Option<Arc<AtomicBool>> {
        match self {
            Lease::Dir(_) => None,
            Lease::Postgres { lost, .. } => Some(lost.clone()),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Lease::Postgres {
            store,
            key,
            stop,
            beat,
            ..
        } = self
        {
            drop(stop.take());
            if let Some(b) = beat.take() {
                let _ = b.join();
            }
            // Not given back, it expires on its own: nothing is lost but the wait.
            let _ = store.release(key);
        }
    }
}

#[doc(hidden)]
pub mod bench {
    //! Entry points for `benches/runtime.rs`: the PostgreSQL store's lease and journal append,
    //! as `deployc run` uses them. Not part of the supported API.

    use std::sync::Arc;
    use std::time::Duration;

    use super::postgres::{LeaseKey, PgStore};

    /// A connection to a PostgreSQL state store.
    pub struct SharedStore(Arc<PgStore>);

    impl SharedStore {
        pub fn connect(url: &str) -> Result<SharedStore, String> {
            PgStore::connect(url).map(|s| SharedStore(Arc::new(s)))
        }

        /// Takes and gives back the lease of `service` in `environment` once.
        pub fn lease_cycle(&self, service: &str, environment: &str) -> Result<(), String> {
            let key = LeaseKey {
                service: service.to_string(),
                environment: environment.to_string(),
                holder: format!("bench pid {}", std::process::id()),
                run: "bench".to_string(),
            };
            match self.0.acquire(&key, Duration::from_secs(30))? {
                Ok(_) => self.0.release(&key),
                Err(held) => Err(format!("the lease is held by {}", held.holder)),
            }
        }

        /// The journal of a new run `run`, appended to as `deployc run` does.
        pub fn journal(&self, run: &str) -> Result<crate::runtime::bench::JournalFile, String> {
            self.0.create_run(run, "bench", "bench", "0", "{}")?;
            crate::runtime::journal::Journal::postgres(
                self.0.clone(),
                run,
                crate::runtime::redact::Redactor::default(),
            )
            .map(crate::runtime::bench::JournalFile::from_journal)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    //! The PostgreSQL store against the machine's server, in a schema of each test's own;
    //! skipped (with the reason) without a server, unless `DEPLOYC_REQUIRE_POSTGRES=1`.

    use super::*;
    use crate::runtime::journal::Event;

    /// A store in a fresh schema named after `name`, or `None` when there is no server.
    fn store(name: &str) -> Option<Store> {
        let base = std::env::var("DEPLOYC_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("store_{name}_{}", std::process::id());
        let setup = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let (client, conn) = tokio::time::timeout(
                    Duration::from_secs(5),
                    tokio_postgres::connect(&base, tokio_postgres::NoTls),
                )
                .await
                .map_err(|_| format!("no answer from {base}"))?
                .map_err(|e| format!("cannot connect to {base}: {e}"))?;
                tokio::spawn(conn);
                client
                    .batch_execute(&format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                    ))
                    .await
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = setup {
            assert!(
                std::env::var("DEPLOYC_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "DEPLOYC_REQUIRE_POSTGRES=1 but {e}"
            );
            eprintln!("skipped: {e}");
            return None;
        }
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        Some(Store::open(Some(&url), Path::new("unused")).unwrap())
    }

    fn plan(service: &str, environment: &str) -> Plan {
        serde_json::from_value(serde_json::json!({
            "format": crate::lower::PLAN_FORMAT,
            "service": service,
            "release": "1.0.0",
            "environment": environment,
            "source": "app.deploy",
            "risk": null,
            "strategy": "canary",
            "start": null,
            "production": false,
            "team": [],
            "rollback_decision": [],
            "channels": [],
            "metrics": [],
            "phases": [],
            "triggers": [],
            "comms": [],
            "point_of_no_return": null,
            "timeline": {
                "expected_ms": 0,
                "worst_case_detection_ms": 0,
                "worst_case_rollback_ms": 0,
                "schedule_end_ms": 0,
                "analysis_interval_ms": 500
            },
            "notes": [],
            "target": {}
        }))
        .unwrap()
    }

    #[test]
    fn a_held_lease_refuses_and_an_expired_one_is_taken_over() {
        let Some(store) = store("lease") else {
            return;
        };
        let p = plan("app", "staging");
        let ttl = Duration::from_secs(1);
        let (first, none) = store.lease(&p, "r1", ttl).unwrap();
        assert!(none.is_none());
        // Another environment of the same service is free.
        let (other, _) = store.lease(&plan("app", "eu"), "r9", ttl).unwrap();
        drop(other);
        let refused = store.lease(&p, "r2", ttl).err().unwrap();
        assert!(
            refused.starts_with("`app` in `staging` is being deployed by ")
                && refused.contains("(run `r1`;"),
            "{refused}"
        );
        assert!(matches!(store.live("r1"), Some(Live::Lease(_))));
        // The heartbeat keeps it past its first expiry.
        std::thread::sleep(Duration::from_millis(1500));
        assert!(store.lease(&p, "r2", ttl).is_err());
        // A holder that stops renewing without giving it back (as a killed process).
        if let Lease::Postgres { stop, beat, .. } = &mut { first } {
            drop(stop.take());
            beat.take().unwrap().join().unwrap();
            let (_second, previous) = {
                std::thread::sleep(Duration::from_millis(1200));
                store.lease(&p, "r2", ttl).unwrap()
            };
            let previous = previous.unwrap();
            assert_eq!(previous.run, "r1");
            assert!(
                previous
                    .holder
                    .ends_with(&format!("pid {}", std::process::id()))
            );
            assert!(store.live("r1").is_none());
            assert!(store.live("r2").is_some());
        } else {
            panic!("not a PostgreSQL lease");
        }
    }

    #[test]
    fn journal_history_and_requests_round_trip() {
        let Some(store) = store("journal") else {
            return;
        };
        let p = plan("app", "staging");
        assert!(!store.has_run("r1").unwrap());
        store.create_run("r1", &p, "{\"x\":1}").unwrap();
        assert!(store.has_run("r1").unwrap());
        let mut j = store.open_journal("r1", Redactor::default()).unwrap();
        let at = jiff::Timestamp::UNIX_EPOCH;
        j.append(
            at,
            Event::StepStarted {
                step: "a".into(),
                title: "A".into(),
            },
        )
        .unwrap();
        j.append(at, Event::StepFinished { step: "a".into() })
            .unwrap();
        let read = store.read_journal("r1").unwrap();
        assert_eq!(read, j.entries());
        // A reopened journal goes on from the last line.
        let mut again = store.open_journal("r1", Redactor::default()).unwrap();
        let e = again
            .append(
                at,
                Event::RunFinished {
                    outcome: "succeeded".into(),
                },
            )
            .unwrap();
        assert_eq!(e.seq, 3);
        let mut inbox = store.inbox("r1").unwrap();
        let request = |id: &str| Request {
            id: id.into(),
            at: "2026-01-01T00:00:00Z".into(),
            command: "pause".into(),
            full: false,
            role: None,
            who: "ana@ops-1".into(),
            why: None,
        };
        store.send_request("r1", &request("1")).unwrap();
        assert_eq!(inbox.poll(), vec![request("1")]);
        assert!(inbox.poll().is_empty());
        store.send_request("r1", &request("2")).unwrap();
        assert_eq!(inbox.poll(), vec![request("2")]);
        assert_eq!(store.requests("r1").len(), 2);
        assert_eq!(store.resolve_run("latest").unwrap(), "r1");
        assert!(store.resolve_run("r7").is_err());
        assert!(store.history().unwrap().entries.is_empty());
        let entry = HistoryEntry {
            format: crate::history::HISTORY_FORMAT,
            run: "r1".into(),
            service: "app".into(),
            release: "1.0.0".into(),
            environment: "staging".into(),
            outcome: crate::history::Outcome::Succeeded,
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:10:00Z".into(),
            migrations: Vec::new(),
            rollback: None,
        };
        store.append_history(&entry).unwrap();
        assert!(
            store
                .history()
                .unwrap()
                .succeeded("app", "1.0.0", "staging")
        );
    }
}
