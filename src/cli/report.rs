//! `deployc report RUN [--note TEXT [--lesson]]` and `deployc status RUN --watch`: the
//! report of a finished run, and the live view of a run another process works on.
//!
//! Both read only the state directory (the run's plan and journal), so they work from any
//! terminal that sees it, while the run goes on elsewhere.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use clap::Args;
use miette::miette;

use crate::history::STATE_DIR;
use crate::lower::Plan;
use crate::runtime::store::Store;
use crate::runtime::{self, LogFormat, NoteSection, control, journal, progress};

#[derive(Args, Debug)]
pub(super) struct ReportArgs {
    /// The run (its id, or `latest`)
    run: String,
    /// Add this note to the report's issues (journaled; the reports are written again)
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    /// The note is a lesson learned, not an issue
    #[arg(long, requires = "note")]
    lesson: bool,
    /// Who writes the note (default: the user and host)
    #[arg(long, value_name = "NAME", requires = "note")]
    by: Option<String>,
    /// The state directory
    #[arg(long, value_name = "DIR", default_value = STATE_DIR)]
    state_dir: PathBuf,
    /// A PostgreSQL state store (`postgres://…`) instead of the state directory
    #[arg(long, value_name = "URL")]
    state: Option<String>,
}

pub(super) fn report(args: ReportArgs) -> miette::Result<i32> {
    let store = Store::open(args.state.as_deref(), &args.state_dir).map_err(|e| miette!("{e}"))?;
    let id = store.resolve_run(&args.run).map_err(|e| miette!("{e}"))?;
    let by = args.by.clone().unwrap_or_else(control::operator);
    let section = if args.lesson {
        NoteSection::Lessons
    } else {
        NoteSection::Issues
    };
    let note = args.note.as_deref().map(|t| (section, t, by.as_str()));
    match runtime::report_run(&store, &args.state_dir, &id, note) {
        Ok(Some(path)) => {
            if note.is_some() {
                println!(
                    "{} added to run {id}",
                    if args.lesson { "lesson" } else { "issue" }
                );
            }
            println!("report: {}", path.display());
            println!("report: {}", path.with_file_name("report.html").display());
            Ok(0)
        }
        Ok(None) => {
            println!(
                "note added to run {id}; it has not ended, so its report is written when it does"
            );
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(2)
        }
    }
}

/// The new whole lines of a growing journal, read from where the last read stopped. A line
/// still being written (no newline yet) waits for the next read.
struct Tail {
    path: PathBuf,
    offset: u64,
    line: usize,
}

impl Tail {
    fn read(&mut self) -> Result<Vec<journal::Entry>, String> {
        let cannot = |e: std::io::Error| format!("cannot read `{}`: {e}", self.path.display());
        let mut f = std::fs::File::open(&self.path).map_err(cannot)?;
        f.seek(SeekFrom::Start(self.offset)).map_err(cannot)?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map_err(cannot)?;
        let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else {
            return Ok(Vec::new());
        };
        let whole = bytes.get(..=end).unwrap_or_default();
        let mut out = Vec::new();
        for line in whole.split(|b| *b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                if !line.is_empty() {
                    self.line += 1;
                }
                continue;
            }
            self.line += 1;
            let e = serde_json::from_slice::<journal::Entry>(line).map_err(|e| {
                format!("journal `{}` line {}: {e}", self.path.display(), self.line)
            })?;
            out.push(e);
        }
        self.offset += u64::try_from(whole.len()).unwrap_or(0);
        Ok(out)
    }
}

/// How a watched journal is followed.
enum Follow {
    File(Tail),
    /// The number of the last entry read.
    Store(u64),
}

/// Prints a journal entry as `deployc run` does.
type Printer = Box<dyn FnMut(&journal::Entry) + Send>;

/// How a watched run ended, as `deployc run` would have exited.
fn exit_code(outcome: &str) -> i32 {
    match outcome {
        "succeeded" | "paused" => 0,
        "rolled_back" | "aborted" => 1,
        _ => 3,
    }
}

/// `deployc status RUN --watch`: the progress lines and, on a terminal, the live view that
/// `deployc run` shows, built from the run's journal as it grows; ends when the run ends (or
/// stops, or its process is gone). A finished run is printed whole at once.
pub(super) fn watch(store: &Store, id: &str) -> miette::Result<i32> {
    let plan: Plan = store.plan(id).map_err(|e| miette!("{e}"))?;
    // A state directory is followed by the byte (the journal file only grows); a PostgreSQL
    // store by the entry number, the server sending only the entries after it.
    let mut tail = match store.dir() {
        Some(dir) => Follow::File(Tail {
            path: dir.join("runs").join(id).join("journal.jsonl"),
            offset: 0,
            line: 0,
        }),
        None => Follow::Store(0),
    };
    let mut printer: Option<Printer> = None;
    let mut seen: Vec<journal::Entry> = Vec::new();
    loop {
        // Liveness before the read: whatever the process wrote before it ended is read.
        let live = store.live(id).is_some();
        let new = match &mut tail {
            Follow::File(t) => t.read(),
            Follow::Store(after) => store.journal_after(id, *after),
        }
        .map_err(|e| miette!("{e}"))?;
        if let (Follow::Store(after), Some(last)) = (&mut tail, new.last()) {
            *after = last.seq;
        }
        for e in new {
            let print = printer.get_or_insert_with(|| {
                let t0 = match &e.event {
                    journal::Event::RunStarted { t0, .. } => t0.parse().ok(),
                    _ => None,
                }
                .or_else(|| e.at.parse().ok())
                .unwrap_or_default();
                progress::printer(LogFormat::Text, t0, &plan)
            });
            print(&e);
            seen.push(e);
        }
        // The last word of the journal: a pause that a resume continued is not an end.
        let end = seen
            .iter()
            .rev()
            .find_map(|e| match &e.event {
                journal::Event::RunFinished { outcome } => Some(Some(outcome.clone())),
                journal::Event::Paused { .. } => Some(Some("paused".to_string())),
                journal::Event::Resumed { .. } => Some(None),
                _ => None,
            })
            .flatten();
        if let Some(outcome) = end {
            progress::hide();
            println!("state: {}", outcome.replace('_', " "));
            return Ok(exit_code(&outcome));
        }
        if !live {
            progress::hide();
            println!(
                "state: no process works on run {id} and it has not ended (`deployc run --resume {id}` continues it)"
            );
            return Ok(2);
        }
        // Polling, not file notifications: the state directory may be on a network file
        // system, and a quarter second is finer than the journal's own pace.
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64) -> String {
        format!(
            "{{\"seq\":{seq},\"at\":\"2026-01-01T00:00:0{seq}Z\",\"type\":\"step_finished\",\"step\":\"s{seq}\"}}\n"
        )
    }

    #[test]
    fn the_tail_takes_whole_lines_and_waits_for_a_line_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let (first, second) = (line(1), line(2));
        let (head, rest) = second.split_at(20);
        std::fs::write(&path, format!("{first}{head}")).unwrap();
        let mut tail = Tail {
            path: path.clone(),
            offset: 0,
            line: 0,
        };
        let seqs = |t: &mut Tail| -> Vec<u64> { t.read().unwrap().iter().map(|e| e.seq).collect() };
        assert_eq!(seqs(&mut tail), [1]);
        assert_eq!(seqs(&mut tail), Vec::<u64>::new());
        std::fs::write(&path, format!("{first}{head}{rest}\n{}", line(3))).unwrap();
        assert_eq!(seqs(&mut tail), [2, 3]);
        // A whole line that is not an entry is an error naming its line.
        std::fs::write(&path, format!("{first}{second}\n{}garbage\n", line(3))).unwrap();
        let err = tail.read().unwrap_err();
        assert!(
            err.ends_with("line 4: expected value at line 1 column 1"),
            "{err}"
        );
    }
}
