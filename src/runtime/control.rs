//! Operator commands on a live run: `deployc abort|pause|resume|promote|approve|reject RUN`.
//!
//! The state store is the transport, so that steering a run needs no server of its own and
//! works wherever the store is reachable: a command appends one request (a JSON line, fsynced
//! to `RUN/commands.jsonl` in a state directory, or a committed row of `deployc_commands` in
//! PostgreSQL, from any machine); the live run reads the new lines at every analysis
//! interval of a hold and while it waits at a gate, acts, and journals its answer as an
//! `operator_command` event carrying the request's id; the command waits for that answer in
//! the journal, a bounded time. A run that is not live is refused before anything is
//! written: a request nobody reads would be taken by surprise by a later `--resume`.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::journal::{self, Event};
use super::store::Store;
use super::store::postgres::PgStore;

/// The requests of a run, beside its journal.
pub(crate) const COMMANDS_FILE: &str = "commands.jsonl";

/// One operator's request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Request {
    pub(crate) id: String,
    /// RFC 3339.
    pub(crate) at: String,
    /// `abort`, `pause`, `resume`, `promote`, `approve` or `reject`.
    pub(crate) command: String,
    /// `promote --full`: skip the remaining canary steps to the last one (full traffic).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) full: bool,
    /// `approve` and `reject`: the role the operator answers for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<String>,
    /// `user@host`.
    pub(crate) who: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) why: Option<String>,
}

/// The live run's side: the requests appended since it started reading.
pub(crate) enum Inbox {
    File {
        path: PathBuf,
        offset: u64,
    },
    /// The rows of `deployc_commands` for `run` numbered after `after`.
    Shared {
        store: Arc<PgStore>,
        run: String,
        after: i64,
    },
}

impl Inbox {
    /// Starts at the file's current end: a request written before this process took the run
    /// (for a process that died since) was never answered, and its sender has given up.
    pub(crate) fn open(run_dir: &Path) -> Inbox {
        let path = run_dir.join(COMMANDS_FILE);
        let offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Inbox::File { path, offset }
    }

    /// The requests of `run` in a PostgreSQL store after the one numbered `after` (the last
    /// one when the run is taken, for the same reason as [`Inbox::open`]).
    pub(crate) fn postgres(store: Arc<PgStore>, run: &str, after: i64) -> Inbox {
        Inbox::Shared {
            store,
            run: run.to_string(),
            after,
        }
    }

    /// The requests appended since the last poll. Only whole lines are taken: a line being
    /// written is read at the next poll. A line that does not parse is skipped; a store that
    /// cannot be read is asked again at the next poll.
    pub(crate) fn poll(&mut self) -> Vec<Request> {
        match self {
            Inbox::File { path, offset } => poll_file(path, offset),
            Inbox::Shared { store, run, after } => {
                let Ok(rows) = store.commands(run, *after) else {
                    return Vec::new();
                };
                if let Some((last, _)) = rows.last() {
                    *after = *last;
                }
                rows.iter()
                    .filter_map(|(_, l)| serde_json::from_str(l).ok())
                    .collect()
            }
        }
    }
}

fn poll_file(path: &Path, offset: &mut u64) -> Vec<Request> {
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let mut text = String::new();
    if f.seek(SeekFrom::Start(*offset)).is_err() || f.read_to_string(&mut text).is_err() {
        return Vec::new();
    }
    let Some(end) = text.rfind('\n') else {
        return Vec::new();
    };
    let whole = text.get(..=end).unwrap_or_default();
    *offset += u64::try_from(whole.len()).unwrap_or(0);
    whole
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// What the live run is doing on behalf of its operators.
#[derive(Default)]
pub(crate) struct Steering {
    /// Who paused the run, while it is paused.
    pub(crate) paused_by: Option<String>,
    /// An abort taken, with the rollback's reason (naming the operator).
    pub(crate) abort: Option<String>,
    /// A promote taken during the current hold: `Some(full)`.
    pub(crate) promote: Option<bool>,
    /// `promote --full`: the remaining canary steps before the last are skipped (by whom).
    pub(crate) skip_to_full: Option<String>,
}

/// Why a command was refused or could not be answered: a one-line message, exit 2.
pub(crate) type Refusal = String;

/// The pid of the process working in the state directory for `run`, when it is alive: a
/// lock file names the pid and the run of the process that holds it (one lock per service
/// and environment).
pub(crate) fn live_pid(state_dir: &Path, run: &str) -> Option<i32> {
    // A run holds the lock of its service in its environment; the lock names the run on its
    // second line. The locks are few (one per service and environment ever deployed here).
    let locks = std::fs::read_dir(state_dir.join(super::LOCKS_DIR)).ok()?;
    locks.flatten().find_map(|lock| {
        let text = std::fs::read_to_string(lock.path()).ok()?;
        let mut lines = text.lines();
        let pid: i32 = lines.next()?.trim().parse().ok()?;
        if lines.next().map(str::trim) != Some(run) {
            return None;
        }
        alive(pid).then_some(pid)
    })
}

pub(crate) fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether the journal says the run ended (or stopped, to be resumed later).
fn ended(entries: &[journal::Entry]) -> Option<String> {
    entries
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            Event::RunFinished { outcome } => Some(format!("it ended ({outcome})")),
            Event::Paused { step, .. } => Some(format!(
                "it stopped until `{step}` is due (`deployc run --resume` continues it)"
            )),
            Event::Interrupted { action, .. } if action == "pause" => {
                Some("it was stopped by a signal (`deployc run --resume` continues it)".into())
            }
            Event::Resumed { .. } => Some(String::new()),
            _ => None,
        })
        .filter(|s| !s.is_empty())
}

/// The gate the run waits at: its step and the roles that decide it.
pub(crate) fn waiting_gate(entries: &[journal::Entry]) -> Option<(String, Vec<String>)> {
    for e in entries.iter().rev() {
        match &e.event {
            Event::Decision { .. } => return None,
            Event::GateWaiting { step, roles, .. } => return Some((step.clone(), roles.clone())),
            _ => {}
        }
    }
    None
}

/// `user@host`, for the journal and the channels.
pub(crate) fn operator() -> String {
    // SAFETY: `getuid` cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() };
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| user_of(uid))
        .unwrap_or_else(|| format!("uid {uid}"));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

/// The name of user `uid` in `/etc/passwd` (a service account or a container may have no
/// `USER` set).
fn user_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
}

/// The run's answer to a request.
pub(crate) struct Answer {
    pub(crate) ok: bool,
    pub(crate) state: String,
}

/// Sends `request` to the live run `run` and waits for its answer. Refused (nothing written)
/// when the run is not live, or for an `approve`/`reject` whose role does not decide the gate
/// the run waits at.
pub(crate) fn send(
    store: &Store,
    run: &str,
    mut request: Request,
) -> Result<(String, Answer), Refusal> {
    let run = store.resolve_run(run)?;
    let entries = store.read_journal(&run)?;
    if let Some(why) = ended(&entries) {
        return Err(format!("run `{run}` is not live: {why}"));
    }
    let Some(live) = store.live(&run) else {
        return Err(format!(
            "run `{run}` is not live: no process holds it (`deployc run --resume {run}` continues a run whose process died)"
        ));
    };
    if let Some(role) = &request.role {
        let Some((step, roles)) = waiting_gate(&entries) else {
            return Err(format!("run `{run}` is not waiting at a gate"));
        };
        if !roles.iter().any(|r| r == role) {
            return Err(format!(
                "`{role}` does not decide the gate at `{step}` (it waits for {})",
                roles.join(", ")
            ));
        }
    }
    let interval = store
        .plan(&run)
        .ok()
        .map(|p| p.timeline.analysis_interval_ms.max(100))
        .unwrap_or(1_000);
    request.id = format!(
        "{}-{}",
        jiff::Timestamp::now().as_millisecond(),
        std::process::id()
    );
    store.send_request(&run, &request)?;
    // The run takes a request within one interval; the margin covers an action under way.
    let limit = Duration::from_millis(interval.saturating_mul(2)) + Duration::from_secs(5);
    let start = Instant::now();
    let mut seen = entries.last().map_or(0, |e| e.seq);
    loop {
        let entries = store.journal_after(&run, seen).unwrap_or_default();
        seen = entries.last().map_or(seen, |e| e.seq);
        let answer = entries.iter().find_map(|e| match &e.event {
            Event::OperatorCommand { id, ok, state, .. } if id == &request.id => Some(Answer {
                ok: *ok,
                state: state.clone(),
            }),
            _ => None,
        });
        if let Some(a) = answer {
            return Ok((run, a));
        }
        if !store.still_live(&run, &live) {
            return Err(format!(
                "run `{run}` ended before it took the {} command",
                request.command
            ));
        }
        if start.elapsed() > limit {
            return Err(format!(
                "run `{run}` did not answer within {} s; the request `{}` stays pending and the run may still take it",
                limit.as_secs(),
                request.id
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn append(path: &Path, request: &Request) -> Result<(), Refusal> {
    use std::os::unix::fs::OpenOptionsExt;
    let line = serde_json::to_string(request).map_err(|e| e.to_string())? + "\n";
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot open `{}`: {e}", path.display()))?;
    // One write of the whole line: appends of concurrent operators do not interleave.
    f.write_all(line.as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

/// The requests of a run that its journal has not answered (for `deployc status`).
pub(crate) fn pending(store: &Store, run: &str, entries: &[journal::Entry]) -> Vec<Request> {
    store
        .requests(run)
        .into_iter()
        .filter(|r| {
            !entries
                .iter()
                .any(|e| matches!(&e.event, Event::OperatorCommand { id, .. } if id == &r.id))
        })
        .collect()
}

/// Who paused the run, while it stands paused (for `deployc status`).
pub(crate) fn paused_by(entries: &[journal::Entry]) -> Option<(String, String)> {
    let mut by = None;
    for e in entries {
        if let Event::OperatorCommand {
            command, who, ok, ..
        } = &e.event
        {
            match command.as_str() {
                "pause" if *ok => by = Some((who.clone(), e.at.clone())),
                "resume" if *ok => by = None,
                _ => {}
            }
        }
        if matches!(e.event, Event::RunFinished { .. }) {
            by = None;
        }
    }
    by
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn request(id: &str, command: &str) -> Request {
        Request {
            id: id.into(),
            at: "2026-01-01T00:00:00Z".into(),
            command: command.into(),
            full: false,
            role: None,
            who: "ana@ops-1".into(),
            why: None,
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("deployc-control-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_inbox_takes_whole_lines_only_and_each_once() {
        let d = dir("inbox");
        let path = d.join(COMMANDS_FILE);
        std::fs::write(&path, "").unwrap();
        let mut inbox = Inbox::open(&d);
        append(&path, &request("1", "pause")).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        // A line being written is taken once it is whole.
        f.write_all(b"{\"id\":\"2\",\"at\":\"x\",\"command\":\"res")
            .unwrap();
        let got = inbox.poll();
        assert_eq!(got, vec![request("1", "pause")]);
        f.write_all(b"ume\",\"who\":\"ana@ops-1\"}\n").unwrap();
        let got = inbox.poll();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].command, "resume");
        assert!(inbox.poll().is_empty());
    }

    #[test]
    fn a_request_left_before_the_run_took_it_is_not_taken() {
        let d = dir("stale");
        append(&d.join(COMMANDS_FILE), &request("1", "abort")).unwrap();
        let mut inbox = Inbox::open(&d);
        assert!(inbox.poll().is_empty());
    }

    #[test]
    fn pending_requests_are_those_the_journal_has_not_answered() {
        let d = dir("pending");
        let run_dir = d.join("runs").join("r1");
        std::fs::create_dir_all(&run_dir).unwrap();
        append(&run_dir.join(COMMANDS_FILE), &request("1", "pause")).unwrap();
        append(&run_dir.join(COMMANDS_FILE), &request("2", "resume")).unwrap();
        let answered = journal::Entry {
            seq: 1,
            at: "2026-01-01T00:00:01Z".into(),
            event: Event::OperatorCommand {
                id: "1".into(),
                command: "pause".into(),
                who: "ana@ops-1".into(),
                why: None,
                step: None,
                ok: true,
                state: "paused".into(),
            },
        };
        let left = pending(&Store::Dir(d), "r1", std::slice::from_ref(&answered));
        assert_eq!(left, vec![request("2", "resume")]);
        assert_eq!(
            paused_by(&[answered]),
            Some(("ana@ops-1".into(), "2026-01-01T00:00:01Z".into()))
        );
    }
}
