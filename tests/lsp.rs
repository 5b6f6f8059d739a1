//! `deployc lsp` as a process: the handshake, the diagnostics a client receives and a clean
//! shutdown, over real pipes. Every feature is driven by a real client in `editors/lsp/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

/// How long a test waits for one message before it fails (instead of hanging).
const PATIENCE: Duration = Duration::from_secs(30);

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Messages read from the server's stdout by a thread of their own, so a read can time
    /// out; dropping the server closes its stdin and the server exits.
    messages: Receiver<Value>,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_deployc"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            while let Some(m) = read_message(&mut stdout) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        Server {
            child,
            stdin,
            messages,
        }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        let stdin = self.stdin.as_mut().unwrap();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    }

    fn read(&mut self) -> Value {
        self.messages
            .recv_timeout(PATIENCE)
            .expect("no message from the server within 30 s")
    }

    /// Reads until the answer to request `id`.
    fn answer(&mut self, id: i64) -> Value {
        loop {
            let m = self.read();
            if m["id"] == id && m.get("method").is_none() {
                return m;
            }
        }
    }

    fn notification(&mut self, method: &str) -> Value {
        loop {
            let m = self.read();
            if m["method"] == method {
                return m["params"].clone();
            }
        }
    }

    fn initialize(&mut self) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"processId": null, "capabilities": {}, "rootUri": null}}));
        let answer = self.answer(1);
        self.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
        answer["result"].clone()
    }

    fn shutdown(mut self) -> (i32, String) {
        self.send(json!({"jsonrpc": "2.0", "id": 99, "method": "shutdown", "params": null}));
        assert_eq!(self.answer(99)["result"], Value::Null);
        self.send(json!({"jsonrpc": "2.0", "method": "exit", "params": null}));
        self.stdin.take();
        let output = self.child.wait_with_output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// One framed message, or `None` at the end of the stream.
fn read_message(stdout: &mut impl BufRead) -> Option<Value> {
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    stdout.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

#[test]
fn initialize_announces_the_features() {
    let mut server = Server::start();
    let result = server.initialize();
    insta::assert_json_snapshot!(result);
    let (code, stderr) = server.shutdown();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_document_with_a_mistake_gets_its_diagnostics_then_none_once_repaired() {
    let mut server = Server::start();
    server.initialize();
    let text =
        "metric error_rate: percent = probe \"errors\"\nrollback r { auto when eror_rate > 5% }\n";
    server.send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": "untitled:one.deploy", "languageId": "deploy", "version": 1, "text": text}}}));
    let published = server.notification("textDocument/publishDiagnostics");
    insta::assert_json_snapshot!(published);
    // Repair the name: the next version has no error left.
    server.send(json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": "untitled:one.deploy", "version": 2},
        "contentChanges": [{"range": {"start": {"line": 1, "character": 24}, "end": {"line": 1, "character": 24}}, "text": "r"}]}}));
    let published = server.notification("textDocument/publishDiagnostics");
    assert_eq!(published["version"], 2);
    let errors: Vec<&Value> = published["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == 1)
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let (code, stderr) = server.shutdown();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_client_that_goes_away_before_the_handshake_is_one_line_and_exit_2() {
    let mut server = Server::start();
    server.stdin.take();
    let output = server.child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the language server stopped"), "{stderr}");
}
