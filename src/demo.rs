//! The demo application used by `examples/quickstart.deploy` and the runtime's end-to-end
//! tests: a tiny std-only HTTP server started as `deployc demo-app --port P --version V`.
//!
//! It serves `/` (the version, in a line of text) and `/health` (200 by default, as a broken
//! build's health endpoint often is). A version whose name contains `bad` fails 30% of the
//! requests to other paths with 500 and answers 50 ms late, so a canary can fail for real;
//! `DEMO_ERROR_PERCENT` and `DEMO_LATENCY_MS` set those for any version, and
//! `DEMO_HEALTHY_CHECKS=N` makes `/health` answer 503 after its first `N` answers (a build
//! that starts, passes its start-up check and then falls over).
//! `deployc demo-app --get URL` fetches a URL and fails unless it answers 2xx (smoke tests
//! with nothing installed).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

struct Behaviour {
    version: String,
    error_percent: u64,
    latency: Duration,
    count: AtomicU64,
    /// `/health` answers 200 this many times, then 503; `None`: always 200.
    healthy_checks: Option<u64>,
    health_count: AtomicU64,
}

/// Runs the demo application; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let mut port = None;
    let mut version = "0.0.0".to_string();
    let mut get = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => port = it.next().and_then(|p| p.parse::<u16>().ok()),
            "--version" => version = it.next().cloned().unwrap_or_default(),
            "--get" => get = it.next().cloned(),
            other => {
                eprintln!("demo-app: unknown argument `{other}`");
                return 2;
            }
        }
    }
    if let Some(url) = get {
        return fetch(&url);
    }
    let Some(port) = port else {
        eprintln!("usage: deployc demo-app --port PORT --version VERSION | --get URL");
        return 2;
    };
    let env_num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let bad = version.contains("bad");
    let b = Arc::new(Behaviour {
        error_percent: env_num("DEMO_ERROR_PERCENT").unwrap_or(if bad { 30 } else { 0 }),
        latency: Duration::from_millis(env_num("DEMO_LATENCY_MS").unwrap_or(if bad {
            50
        } else {
            0
        })),
        version,
        count: AtomicU64::new(0),
        healthy_checks: env_num("DEMO_HEALTHY_CHECKS"),
        health_count: AtomicU64::new(0),
    });
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo-app: cannot listen on 127.0.0.1:{port}: {e}");
            return 1;
        }
    };
    eprintln!("demo-app {} listening on 127.0.0.1:{port}", b.version);
    for stream in listener.incoming().flatten() {
        let b = b.clone();
        std::thread::spawn(move || serve(stream, &b));
    }
    0
}

fn serve(stream: TcpStream, b: &Behaviour) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut close = false;
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if lower == "connection: close" {
                close = true;
            }
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let (status, text) = if path == "/health" {
            let n = b.health_count.fetch_add(1, Ordering::Relaxed);
            if b.healthy_checks.is_some_and(|limit| n >= limit) {
                ("503 Service Unavailable", "unhealthy\n".to_string())
            } else {
                ("200 OK", "ok\n".to_string())
            }
        } else {
            let n = b.count.fetch_add(1, Ordering::Relaxed);
            if !b.latency.is_zero() {
                std::thread::sleep(b.latency);
            }
            // Spread failures evenly: of every 100 requests, the first `error_percent` fail.
            if n % 100 < b.error_percent {
                (
                    "500 Internal Server Error",
                    format!("{} failed\n", b.version),
                )
            } else {
                ("200 OK", format!("hello from demo-app {}\n", b.version))
            }
        };
        let resp = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if out.write_all(resp.as_bytes()).is_err() || close {
            return;
        }
    }
}

/// `--get http://127.0.0.1:PORT/path`: 0 on a 2xx answer.
fn fetch(url: &str) -> i32 {
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("demo-app --get: only http:// URLs");
        return 2;
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("/")),
        None => (rest, "/"),
    };
    let result = (|| -> std::io::Result<String> {
        let mut s = TcpStream::connect(host)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    })();
    match result {
        Ok(resp) => {
            let status = resp.split_whitespace().nth(1).unwrap_or("");
            println!("{url}: {status}");
            if status.starts_with('2') { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            1
        }
    }
}
