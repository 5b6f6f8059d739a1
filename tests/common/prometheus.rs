//! A real Prometheus server for tests (the Debian package's `prometheus` binary), scraping
//! one target every second. Included by the test crates that need it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `prometheus` binary on `PATH`. Without it the caller skips, with a printed reason,
/// unless `DEPLOYC_REQUIRE_PROMETHEUS=1` (CI), which makes a missing binary a failure.
pub fn prometheus_binary() -> Option<PathBuf> {
    let required = std::env::var("DEPLOYC_REQUIRE_PROMETHEUS").is_ok_and(|v| v == "1");
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("prometheus"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !required,
            "DEPLOYC_REQUIRE_PROMETHEUS=1 but no `prometheus` binary on PATH"
        );
        eprintln!(
            "skipped: no `prometheus` binary on PATH (Debian: apt-get install prometheus; set DEPLOYC_REQUIRE_PROMETHEUS=1 to make this an error)"
        );
    }
    found
}

/// A Prometheus process, killed when dropped.
pub struct Prometheus {
    child: Child,
    _dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Prometheus {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Prometheus on a free loopback port, scraping `target` (`host:port`) every second.
pub fn start_prometheus(binary: &Path, target: &str) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Prometheus {
        child,
        _dir: dir,
        addr: format!("127.0.0.1:{port}"),
    }
}
