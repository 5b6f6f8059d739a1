#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Benchmarks of the runtime. Each prints its measurements and its target; nothing here
//! asserts on time.
//!
//! * `breach`: breach-to-rollback-start latency. Real `deployc run`s of the quickstart's bad
//!   release (`1.2.0-bad`, which fails 30% of requests) with the local provider; the latency
//!   is read from each run's journal: from the first evaluation at which the breach is visible
//!   (its first `sample` line) to `rollback_started`. Target: one analysis interval + 100 ms.
//! * `simulate`: wall clock of `deployc run examples/checkout.deploy --release 2.1.0 --env
//!   production --simulate benches/runtime/checkout-2.1.0.toml` (the whole plan, including
//!   the seven-day flag rollout), process start-up and compilation included. Target: 1 s.
//! * `proxy`: the local provider's proxy in front of one demo-app instance against requests
//!   straight to that instance, with concurrent keep-alive clients, in rounds of one second
//!   alternating between the paths (so that other work on a shared machine hits both
//!   alike). Two backends: one answering at once (the proxy's own cost is all there is to
//!   see) and one taking 1 ms per request (waiting, as on a database). Loads: paced at fixed
//!   total rates below saturation (the latency the proxy adds at realistic rates: the target
//!   is judged there) and closed loop (every client as fast as it can: throughput and latency
//!   at saturation, where on a small machine the load generator, the application and the
//!   proxy compete for the same cores). Target: p99 added ≤ 1 ms, throughput ≥ 80 %.
//!   `DEPLOYC_BENCH_CLIENTS` (16), `DEPLOYC_BENCH_RATE` (comma-separated rates, `2000,5000`)
//!   and `DEPLOYC_BENCH_SECS` (15, per path and load) change the load.
//! * `journal`: durable appends to a run journal (serialise, redact, write, `fsync`).
//!   Target: median ≤ 1 ms.
//! * `shared`: the PostgreSQL state store on the machine's server (`DEPLOYC_TEST_POSTGRES_URL`,
//!   default `postgres://postgres@127.0.0.1:5432/test`; skipped with the reason when there is
//!   none), in a schema of its own: the deploy lease taken and given back, a flushed journal
//!   append (an `action` line), and every line of a production run's journal (the checkout
//!   example simulated) appended as `deployc run` appends it, flushed lines and observations
//!   apart. Target: median ≤ 2 ms each. Then operator command to
//!   effect: a real `deployc run` holding a canary step (analysis every 500 ms) with its state
//!   in the store, paused and resumed from a second process; from the request's time to the
//!   run's answer in its journal. Target: within one analysis interval + 100 ms.
//!
//! Run all with `cargo bench --bench runtime`, or some with `cargo bench --bench runtime --
//! journal proxy`. `DEPLOYC_BENCH_RUNS` sets the number of real runs for `breach` (default 5).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use deployc::runtime::bench::{JournalFile, LocalProxy};
use deployc::runtime::store::bench::SharedStore;

const DEPLOYC: &str = env!("CARGO_BIN_EXE_deployc");

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    println!("machine: {} cores", cores());
    if wanted("journal") {
        journal();
    }
    if wanted("shared") {
        shared();
    }
    if wanted("simulate") {
        simulate();
    }
    if wanted("proxy") {
        proxy();
    }
    if wanted("breach") {
        breach(false);
        breach(true);
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("bench-runtime")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Nearest-rank percentile of sorted values.
fn pct<T: Copy>(sorted: &[T], p: f64) -> T {
    let rank = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------------------------------
// journal

fn journal() {
    const N: usize = 2000;
    let dir = scratch("journal");
    let mut j = JournalFile::open(&dir.join("journal.jsonl")).unwrap();
    // A typical action line: a resolved command and a little captured output.
    let detail = "started 1.2.0 on ports [40123, 40125] (`deployc demo-app --port {port} \
                  --version {version}`), proxy http://127.0.0.1:40121";
    for _ in 0..50 {
        j.append_action(detail).unwrap();
    }
    let mut t: Vec<Duration> = (0..N)
        .map(|_| {
            let s = Instant::now();
            j.append_action(detail).unwrap();
            s.elapsed()
        })
        .collect();
    t.sort();
    let med = pct(&t, 50.0);
    println!(
        "journal append+fsync ({N} appends): median {}, p90 {}, p99 {}, min {}, max {}  \
         [target: median ≤ 1 ms: {}]",
        ms(med),
        ms(pct(&t, 90.0)),
        ms(pct(&t, 99.0)),
        ms(t[0]),
        ms(t[t.len() - 1]),
        met(med <= Duration::from_millis(1))
    );
}

// ---------------------------------------------------------------------------------------
// shared

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Runs SQL on the bench server; `Err` when it cannot be reached.
fn pg(url: &str, sql: &str) -> Result<Vec<tokio_postgres::Row>, String> {
    block_on(async {
        let (client, conn) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_postgres::connect(url, tokio_postgres::NoTls),
        )
        .await
        .map_err(|_| format!("no answer from {url}"))?
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
        tokio::spawn(conn);
        client.query(sql, &[]).await.map_err(|e| e.to_string())
    })
}

fn summary(name: &str, t: &mut [Duration], target: Duration) {
    t.sort();
    let med = pct(t, 50.0);
    println!(
        "{name} ({} times): median {}, p90 {}, p99 {}, min {}, max {}  [target: median ≤ {}: {}]",
        t.len(),
        ms(med),
        ms(pct(t, 90.0)),
        ms(pct(t, 99.0)),
        ms(t[0]),
        ms(t[t.len() - 1]),
        ms(target),
        met(med <= target)
    );
}

fn shared() {
    const N: usize = 1000;
    let base = std::env::var("DEPLOYC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("bench_shared_{}", std::process::id());
    if let Err(e) = pg(&base, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .and_then(|_| pg(&base, &format!("CREATE SCHEMA {schema}")))
    {
        println!("shared: skipped: {e}");
        return;
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let store = SharedStore::connect(&url).unwrap();
    for _ in 0..50 {
        store.lease_cycle("bench", "warmup").unwrap();
    }
    let mut t: Vec<Duration> = (0..N)
        .map(|_| {
            let s = Instant::now();
            store.lease_cycle("bench", "production").unwrap();
            s.elapsed()
        })
        .collect();
    summary(
        "lease acquire+release (PostgreSQL)",
        &mut t,
        Duration::from_millis(2),
    );
    let mut j = store.journal("bench-run").unwrap();
    let detail = "started 1.2.0 on ports [40123, 40125] (`deployc demo-app --port {port} \
                  --version {version}`), proxy http://127.0.0.1:40121";
    for _ in 0..50 {
        j.append_action(detail).unwrap();
    }
    let mut t: Vec<Duration> = (0..N)
        .map(|_| {
            let s = Instant::now();
            j.append_action(detail).unwrap();
            s.elapsed()
        })
        .collect();
    summary(
        "journal append of an `action` line (PostgreSQL, committed and flushed)",
        &mut t,
        Duration::from_millis(2),
    );
    replay_production_run(&store);
    operator_to_effect(&url, &schema);
    let _ = pg(&base, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
}

/// The journal of a production run, line by line, appended to the store as `deployc run`
/// appends it: the checkout example's release 2.1.0 in production, simulated (the lines are
/// those of a real run: each step, action, message, and every metric sample of every
/// analysis interval), then replayed into a new run of the store with each append timed.
fn replay_production_run(store: &SharedStore) {
    let out = Command::new(DEPLOYC)
        .current_dir(root())
        .args(CHECKOUT_SIMULATION)
        .args(["--log-format", "json", "--state-dir"])
        .arg(scratch("shared-replay"))
        .output()
        .unwrap();
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("{\"seq\""))
        .map(str::to_string)
        .collect();
    assert!(lines.len() > 100, "{out:?}");
    let mut j = store
        .journal(&format!("bench-replay-{}", std::process::id()))
        .unwrap();
    let (mut all, mut durable, mut observations) = (Vec::new(), Vec::new(), Vec::new());
    for line in &lines {
        let s = Instant::now();
        let flushed = j.append_line(line).unwrap();
        let took = s.elapsed();
        all.push(took);
        if flushed {
            durable.push(took)
        } else {
            observations.push(took)
        }
    }
    summary(
        "journal append, every line of a production run (PostgreSQL)",
        &mut all,
        Duration::from_millis(2),
    );
    summary(
        "  of which lines before a side effect (flushed)",
        &mut durable,
        Duration::from_millis(2),
    );
    summary(
        "  of which observations (committed, flushed with the next)",
        &mut observations,
        Duration::from_millis(2),
    );
}

/// Pause and resume a live run from a second process through the store, and read how long
/// each request took to be answered in the run's journal.
fn operator_to_effect(url: &str, schema: &str) {
    const ROUNDS: usize = 10;
    let dir = scratch("shared-operate");
    std::fs::write(
        dir.join("app.deploy"),
        "service app {}\n\nenvironment staging {\n  provider = command {\n    deploy = \"true\"\n    weight = \"true\"\n  }\n  state = postgres env DEPLOYC_STATE_URL\n}\n\nrelease \"1.0.0\" {\n  strategy = canary {\n    analysis every 500ms\n    step 50% for 10m\n    step 100%\n  }\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("deployc.toml"),
        "[rules]\nC501 = \"allow\"\nC502 = \"allow\"\nR301 = \"allow\"\nR305 = \"allow\"\nS403 = \"allow\"\n",
    )
    .unwrap();
    let mut child = Command::new(DEPLOYC)
        .current_dir(&dir)
        .args([
            "run",
            "app.deploy",
            "--release",
            "1.0.0",
            "--env",
            "staging",
        ])
        .args(["--log-format", "json", "--state-dir", "runner-a"])
        .env("DEPLOYC_STATE_URL", url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut run = String::new();
    for line in lines.by_ref() {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(&line.unwrap()) else {
            continue;
        };
        if e["type"] == "run_started" {
            run = e["run"].as_str().unwrap().to_string();
        }
        if e["type"] == "action" && e["what"] == "weight" {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    for i in 0..ROUNDS * 2 {
        let command = if i % 2 == 0 { "pause" } else { "resume" };
        let out = Command::new(DEPLOYC)
            .current_dir(&dir)
            .args([command, &run, "--state", url, "--state-dir", "runner-b"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let _ = Command::new(DEPLOYC)
        .current_dir(&dir)
        .args(["abort", &run, "--state", url, "--state-dir", "runner-b"])
        .output();
    let _ = child.wait();
    let requests: Vec<serde_json::Value> = pg(
        url,
        &format!("SELECT line FROM {schema}.deployc_commands ORDER BY id"),
    )
    .unwrap()
    .iter()
    .map(|r| serde_json::from_str(r.get::<_, &str>(0)).unwrap())
    .collect();
    let journal: Vec<serde_json::Value> = pg(
        url,
        &format!("SELECT line FROM {schema}.deployc_journal WHERE run = '{run}' ORDER BY seq"),
    )
    .unwrap()
    .iter()
    .map(|r| serde_json::from_str(r.get::<_, &str>(0)).unwrap())
    .collect();
    let mut t: Vec<Duration> = requests
        .iter()
        .filter(|r| r["command"] != "abort")
        .filter_map(|r| {
            let answer = journal
                .iter()
                .find(|e| e["type"] == "operator_command" && e["id"] == r["id"])?;
            let took = at(answer).duration_since(at(r));
            Some(Duration::try_from(took).unwrap_or_default())
        })
        .collect();
    assert_eq!(t.len(), ROUNDS * 2);
    summary(
        "operator command to effect (PostgreSQL, analysis every 500 ms)",
        &mut t,
        Duration::from_millis(600),
    );
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

// ---------------------------------------------------------------------------------------
// simulate

/// The whole plan of the checkout example's release 2.1.0 in production, simulated: what
/// `simulate` times and what `shared` replays into the store, line by line.
const CHECKOUT_SIMULATION: [&str; 8] = [
    "run",
    "examples/checkout.deploy",
    "--release",
    "2.1.0",
    "--env",
    "production",
    "--simulate",
    "benches/runtime/checkout-2.1.0.toml",
];

fn simulate() {
    const N: usize = 20;
    let args = CHECKOUT_SIMULATION;
    let once = || {
        let s = Instant::now();
        let out = Command::new(DEPLOYC)
            .current_dir(root())
            .args(args)
            .output()
            .unwrap();
        let took = s.elapsed();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        (took, String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (_, stdout) = once();
    assert!(stdout.contains("day-7"), "the flag rollout did not run");
    let span = stdout
        .lines()
        .find(|l| l.starts_with("simulated:"))
        .unwrap_or("")
        .to_string();
    let mut t: Vec<Duration> = (0..N).map(|_| once().0).collect();
    t.sort();
    let med = pct(&t, 50.0);
    println!(
        "simulate checkout 2.1.0 production ({} timeline lines, {span}; {N} runs): median {}, \
         min {}, max {}  [target ≤ 1 s: {}]",
        stdout.lines().count(),
        ms(med),
        ms(t[0]),
        ms(t[t.len() - 1]),
        met(med <= Duration::from_secs(1))
    );
}

// ---------------------------------------------------------------------------------------
// proxy

/// One keep-alive HTTP/1.1 client connection.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: String,
    body: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Client {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
            line: String::new(),
            body: Vec::new(),
        }
    }

    /// `GET /`; returns whether the answer was 200.
    fn get(&mut self) -> bool {
        self.writer
            .write_all(b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n")
            .unwrap();
        self.line.clear();
        self.reader.read_line(&mut self.line).unwrap();
        let ok = self.line.split_whitespace().nth(1) == Some("200");
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            self.line.clear();
            self.reader.read_line(&mut self.line).unwrap();
            let h = self.line.trim_end().to_ascii_lowercase();
            if h.is_empty() {
                break;
            }
            if let Some(v) = h.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if h == "transfer-encoding: chunked" {
                chunked = true;
            }
        }
        if chunked {
            loop {
                self.line.clear();
                self.reader.read_line(&mut self.line).unwrap();
                let n = usize::from_str_radix(self.line.trim(), 16).unwrap();
                self.body.resize(n + 2, 0);
                self.reader.read_exact(&mut self.body).unwrap();
                if n == 0 {
                    break;
                }
            }
        } else {
            self.body.resize(length, 0);
            self.reader.read_exact(&mut self.body).unwrap();
        }
        ok
    }
}

struct Load {
    latencies: Vec<Duration>,
    requests: usize,
    errors: usize,
    elapsed: Duration,
}

/// `clients` connections to `addr` for `duration`, each as fast as it can (`period` None) or
/// one request per `period`.
fn load(addr: SocketAddr, clients: usize, duration: Duration, period: Option<Duration>) -> Load {
    let start = Instant::now();
    let end = start + duration;
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let mut lat = Vec::new();
                let mut errors = 0;
                // Stagger the paced clients so their requests do not arrive together.
                let mut next = Instant::now()
                    + period.map_or(Duration::ZERO, |p| p * i as u32 / clients as u32);
                loop {
                    if let Some(p) = period {
                        let now = Instant::now();
                        if next > now {
                            std::thread::sleep(next - now);
                        }
                        next += p;
                    }
                    if Instant::now() >= end {
                        break;
                    }
                    let s = Instant::now();
                    if !c.get() {
                        errors += 1;
                    }
                    lat.push(s.elapsed());
                }
                (lat, errors)
            })
        })
        .collect();
    let mut out = Load {
        latencies: Vec::new(),
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for h in handles {
        let (l, e) = h.join().unwrap();
        out.requests += l.len();
        out.latencies.extend(l);
        out.errors += e;
    }
    out.elapsed = start.elapsed();
    out.latencies.sort();
    out
}

/// Requests per second and errors of one load.
fn figures(l: &Load) -> (f64, usize) {
    (l.requests as f64 / l.elapsed.as_secs_f64(), l.errors)
}

fn proxy() {
    let clients: usize = env_num("DEPLOYC_BENCH_CLIENTS").unwrap_or(16);
    let rates: Vec<u64> = std::env::var("DEPLOYC_BENCH_RATE")
        .ok()
        .map(|v| v.split(',').filter_map(|r| r.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![2000, 5000]);
    // Paced loads first: realistic rates, what the target is judged on; then saturation.
    let mut loads: Vec<(String, Option<Duration>)> = rates
        .iter()
        .map(|rate| {
            (
                format!("paced at {rate} req/s in total"),
                Some(Duration::from_secs_f64(clients as f64 / *rate as f64)),
            )
        })
        .collect();
    loads.push(("closed loop (saturation)".into(), None));
    proxy_scenarios("demo-app answering at once", "", clients, &loads);
    proxy_scenarios(
        "demo-app taking 1 ms per request",
        "env DEMO_LATENCY_MS=1 ",
        clients,
        &loads,
    );
}

fn proxy_scenarios(
    backend: &str,
    prefix: &str,
    clients: usize,
    scenarios: &[(String, Option<Duration>)],
) {
    let secs: u64 = env_num("DEPLOYC_BENCH_SECS").unwrap_or(15);
    // Short rounds, alternating: a burst of other work on a shared machine then lands on
    // both paths alike instead of on one path's whole measurement.
    let rounds = usize::try_from(secs.max(1)).unwrap();
    let dir = scratch("proxy");
    let command = format!("{prefix}'{DEPLOYC}' demo-app --port {{port}} --version {{version}}");
    let p = LocalProxy::start(&command, "1.0.0", 1, &dir).unwrap();
    let via = p.addr();
    let direct = SocketAddr::from(([127, 0, 0, 1], p.instance_ports()[0]));
    let d = Duration::from_secs(1);
    // Warm up both paths (connections, the proxy's upstream pool).
    load(direct, clients, Duration::from_millis(500), None);
    load(via, clients, Duration::from_millis(500), None);
    for (name, period) in scenarios {
        let period = *period;
        // Alternate the two paths so drift on a shared machine hits both alike.
        let (mut dl, mut pl) = (Vec::new(), Vec::new());
        let (mut dr, mut pr) = (Vec::new(), Vec::new());
        let (mut de, mut pe) = (0, 0);
        let mut proxy_cpu_total = Duration::ZERO;
        for _ in 0..rounds {
            let a = load(direct, clients, d, period);
            let (rps, errors) = figures(&a);
            dr.push(rps);
            de += errors;
            dl.extend(a.latencies);
            let cpu = proxy_cpu();
            let b = load(via, clients, d, period);
            proxy_cpu_total += proxy_cpu().saturating_sub(cpu);
            let (rps, errors) = figures(&b);
            pr.push(rps);
            pe += errors;
            pl.extend(b.latencies);
        }
        dl.sort();
        pl.sort();
        dr.sort_by(f64::total_cmp);
        pr.sort_by(f64::total_cmp);
        let (d50, d99, p50, p99) = (
            pct(&dl, 50.0),
            pct(&dl, 99.0),
            pct(&pl, 50.0),
            pct(&pl, 99.0),
        );
        let (drps, prps) = (dr[dr.len() / 2], pr[pr.len() / 2]);
        let added99 = p99.saturating_sub(d99);
        let cpu_per_request = proxy_cpu_total.as_secs_f64() * 1e6 / pl.len().max(1) as f64;
        println!(
            "proxy, {backend}, {name}, {clients} keep-alive clients, {rounds}×1 s each:\n  \
             direct: p50 {}, p99 {}, {drps:.0} req/s ({de} errors)\n  \
             proxy:  p50 {}, p99 {}, {prps:.0} req/s ({pe} errors), proxy threads' CPU \
             {cpu_per_request:.1} µs per request\n  \
             added: p50 {}, p99 {}  [target ≤ 1 ms: {}]; throughput {:.1}% of direct \
             [target ≥ 80%: {}]",
            ms(d50),
            ms(d99),
            ms(p50),
            ms(p99),
            ms(p50.saturating_sub(d50)),
            ms(added99),
            met(added99 <= Duration::from_millis(1)),
            prps * 100.0 / drps,
            met(prps >= 0.8 * drps),
        );
    }
    drop(p);
}

/// CPU time (user and system) of this process's threads whose name starts with
/// `deployc-proxy`: the proxy's own cost, apart from the load generator's. Clock-tick
/// resolution (usually 10 ms), fine over seconds of load. Zero where `/proc` is missing.
fn proxy_cpu() -> Duration {
    let tick = 100.0; // USER_HZ on Linux
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("deployc-proxy") {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        ticks += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    Duration::from_secs_f64(ticks as f64 / tick)
}

fn env_num<T: std::str::FromStr>(k: &str) -> Option<T> {
    std::env::var(k).ok().and_then(|v| v.parse().ok())
}

// ---------------------------------------------------------------------------------------
// breach

fn at(e: &serde_json::Value) -> jiff::Timestamp {
    e["at"].as_str().unwrap().parse().unwrap()
}

/// A webhook that accepts connections and never answers: the channel a control loop must not
/// wait on. Its thread ends with the process.
fn hanging_webhook() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("http://{addr}/hook")
}

/// Breach to rollback, and to traffic back on the stable version, on real runs of the
/// quickstart's bad release; with `hanging`, every message also goes to a webhook that never
/// answers (it must change nothing).
fn breach(hanging: bool) {
    let runs: usize = env_num("DEPLOYC_BENCH_RUNS").unwrap_or(5);
    let dir = scratch(if hanging { "breach-hanging" } else { "breach" });
    let mut program = std::fs::read_to_string(root().join("examples/quickstart.deploy")).unwrap();
    let hook = hanging_webhook();
    if hanging {
        program = program
            .replace(
                "channel terminal = stdout",
                "channel terminal = stdout\nchannel hang = webhook env DEPLOYC_BENCH_HANG",
            )
            .replace("notify terminal", "notify hang, terminal");
    }
    std::fs::write(dir.join("quickstart.deploy"), program).unwrap();
    let mut from_eval = Vec::new();
    let mut from_traffic = Vec::new();
    let mut to_stable = Vec::new();
    let mut interval = None;
    for i in 0..runs {
        let state = dir.join(format!("state-{i}"));
        let out = Command::new(DEPLOYC)
            .current_dir(&dir)
            .env("DEPLOYC_BENCH_HANG", &hook)
            .args([
                "run",
                "quickstart.deploy",
                "--release",
                "1.2.0-bad",
                "--env",
                "local",
                "--state-dir",
            ])
            .arg(&state)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let run = std::fs::read_dir(state.join("runs"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        if interval.is_none() {
            let plan: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(run.join("plan.json")).unwrap())
                    .unwrap();
            interval = plan["timeline"]["analysis_interval_ms"].as_u64();
        }
        let entries: Vec<serde_json::Value> = std::fs::read_to_string(run.join("journal.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // The evaluation that saw the breach starts with the first sample after the previous
        // evaluation's verdict; the breach is a failing `require` or a fired trigger.
        let mut eval_start = None;
        let mut visible = None;
        let mut traffic = None;
        let mut rollback = None;
        let mut stable = None;
        for e in &entries {
            match e["type"].as_str().unwrap() {
                "sample" if eval_start.is_none() => eval_start = Some(at(e)),
                "check" if e["result"] == "pass" => eval_start = None,
                "check" | "trigger_fired" if visible.is_none() => visible = eval_start,
                "action"
                    if traffic.is_none()
                        && e["what"] == "weight"
                        && !e["detail"].as_str().unwrap().contains(" 0% ") =>
                {
                    traffic = Some(at(e));
                }
                "rollback_started" if rollback.is_none() => rollback = Some(at(e)),
                // The journal records an action when it is done: traffic is back then.
                "action" if rollback.is_some() && e["what"] == "traffic to stable" => {
                    stable = Some(at(e));
                    break;
                }
                _ => {}
            }
        }
        let (visible, rollback) = (visible.unwrap(), rollback.unwrap());
        if let Some(s) = stable {
            to_stable.push(Duration::from_secs_f64(
                s.duration_since(visible).as_secs_f64().max(0.0),
            ));
        }
        let since = |t: jiff::Timestamp| {
            Duration::from_secs_f64(rollback.duration_since(t).as_secs_f64().max(0.0))
        };
        from_eval.push(since(visible));
        if let Some(t) = traffic {
            from_traffic.push(since(t));
        }
    }
    from_eval.sort();
    from_traffic.sort();
    to_stable.sort();
    let interval = Duration::from_millis(interval.unwrap_or(0));
    let target = interval + Duration::from_millis(100);
    let med = pct(&from_eval, 50.0);
    println!(
        "breach to rollback start (quickstart 1.2.0-bad{}, analysis every {}, {runs} real runs):\n  \
         from the evaluation that saw the breach: median {}, min {}, max {}  [target ≤ {}: {}]",
        if hanging {
            ", every message also to a webhook that never answers"
        } else {
            ""
        },
        ms(interval),
        ms(med),
        ms(from_eval[0]),
        ms(from_eval[from_eval.len() - 1]),
        ms(target),
        met(med <= target)
    );
    if !from_traffic.is_empty() {
        let m = pct(&from_traffic, 50.0);
        println!(
            "  from the bad version receiving traffic: median {}, min {}, max {}  [target ≤ {}: {}]",
            ms(m),
            ms(from_traffic[0]),
            ms(from_traffic[from_traffic.len() - 1]),
            ms(target),
            met(m <= target)
        );
    }
    if !to_stable.is_empty() {
        let m = pct(&to_stable, 50.0);
        println!(
            "  breach to traffic back on the stable version: median {}, min {}, max {}  [target ≤ {}: {}]",
            ms(m),
            ms(to_stable[0]),
            ms(to_stable[to_stable.len() - 1]),
            ms(target),
            met(m <= target)
        );
    }
}
