//! Metric sources: commands, and a real Prometheus server (the `prometheus` binary, started
//! here on loopback with a 1 s scrape interval over an endpoint served by the test). Without
//! the binary the Prometheus tests skip, unless `DEPLOYC_REQUIRE_PROMETHEUS=1`.

use crate::net::{http_server, silent_server};
use crate::prometheus_server::{prometheus_binary, start_prometheus};
use deployc::runtime::metrics::{
    CommandSource, NoDataReason, Prometheus, QueryContext, Reading, Series,
};
use std::time::{Duration, Instant};

fn ctx() -> QueryContext {
    QueryContext {
        service: "checkout".into(),
        version: "1.1.0".into(),
        track: "canary".into(),
        window: Duration::from_secs(60),
        environment: "production".into(),
        previous_version: Some("1.0.0".into()),
    }
}

fn reason(r: &Reading) -> Option<NoDataReason> {
    match r {
        Reading::NoData(n) => Some(n.reason),
        Reading::Value(_) => None,
    }
}

#[tokio::test]
async fn command_prints_a_number_with_quoted_placeholders() {
    let src = CommandSource::new("printf '%s' 0.25", Duration::from_secs(5));
    assert_eq!(src.read(&ctx()).await, Reading::Value(0.25));

    // The value arrives as one argument, whatever it contains.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let evil = QueryContext {
        version: format!("1.0'; touch {}; echo '", marker.display()),
        ..ctx()
    };
    let src = CommandSource::new(
        "test \"$(printf '%s' {version})\" = \"$(printf '%s' {version})\" && echo 1",
        Duration::from_secs(5),
    );
    assert_eq!(src.read(&evil).await, Reading::Value(1.0));
    let src = CommandSource::new("echo {version} >/dev/null; echo 2", Duration::from_secs(5));
    assert_eq!(src.read(&evil).await, Reading::Value(2.0));
    assert!(!marker.exists(), "a placeholder value ran a command");

    let failing = CommandSource::new("echo oops >&2; exit 3", Duration::from_secs(5));
    let r = failing.read(&ctx()).await;
    assert_eq!(reason(&r), Some(NoDataReason::CommandFailed));
    assert!(format!("{r:?}").contains("oops"));

    let words = CommandSource::new("echo not a number", Duration::from_secs(5));
    assert_eq!(
        reason(&words.read(&ctx()).await),
        Some(NoDataReason::Unparseable)
    );

    let slow = CommandSource::new("sleep 30 | cat; echo 1", Duration::from_millis(300));
    let start = Instant::now();
    assert_eq!(
        reason(&slow.read(&ctx()).await),
        Some(NoDataReason::Timeout)
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn prometheus_unreachable_and_silent_servers_are_no_data() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = Prometheus::new(&format!("http://{closed}"), Duration::from_secs(2)).unwrap();
    assert_eq!(
        reason(&p.query("up", &ctx()).await),
        Some(NoDataReason::Unreachable)
    );

    let silent = silent_server().await;
    let p = Prometheus::new(&format!("http://{silent}"), Duration::from_millis(300)).unwrap();
    assert_eq!(
        reason(&p.query("up", &ctx()).await),
        Some(NoDataReason::Timeout)
    );

    let (addr, _r) = http_server(|_| (502, "bad gateway".into())).await;
    let p = Prometheus::new(&format!("http://{addr}/"), Duration::from_secs(2)).unwrap();
    assert_eq!(
        reason(&p.query("up", &ctx()).await),
        Some(NoDataReason::HttpStatus)
    );
}

const EXPOSITION: &str = "\
# HELP demo_requests_total Requests served.
# TYPE demo_requests_total counter
demo_requests_total{service=\"checkout\",version=\"1.1.0\",track=\"canary\"} 42
demo_requests_total{service=\"checkout\",version=\"1.0.0\",track=\"stable\"} 900
# HELP demo_error_ratio Errors per request.
# TYPE demo_error_ratio gauge
demo_error_ratio{service=\"checkout\",version=\"1.1.0\",track=\"canary\"} 0.02
";

#[tokio::test]
async fn prometheus_instant_and_range_queries_on_a_real_server() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let (target, _scrapes) = http_server(|r| {
        if r.path == "/metrics" {
            (200, EXPOSITION.into())
        } else {
            (404, String::new())
        }
    })
    .await;
    let server = start_prometheus(&binary, &target.to_string());
    let p = Prometheus::new(&server.url(), Duration::from_secs(5)).unwrap();
    let gauge = r#"demo_error_ratio{service="{service}",version="{version}",track="{track}"}"#;

    // Poll until the first sample is in, rather than sleeping a guessed time.
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        let r = p.query(gauge, &ctx()).await;
        if let Reading::Value(v) = r {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no sample from prometheus within 60 s; last reading {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(first, 0.02);

    // One series of two: the labels select it.
    let counter = r#"demo_requests_total{service="{service}",track="{track}"}"#;
    assert_eq!(p.query(counter, &ctx()).await, Reading::Value(42.0));
    let stable = QueryContext {
        track: "stable".into(),
        version: "1.0.0".into(),
        ..ctx()
    };
    assert_eq!(p.query(counter, &stable).await, Reading::Value(900.0));
    // `{window}` inside a range selector.
    assert_eq!(
        p.query(
            r#"max_over_time(demo_error_ratio{track="{track}"}[{window}])"#,
            &ctx()
        )
        .await,
        Reading::Value(0.02)
    );
    // Scalars.
    assert_eq!(
        p.query("scalar(sum(demo_requests_total)) / 2", &ctx())
            .await,
        Reading::Value(471.0)
    );
    // Several series where one number is needed.
    assert_eq!(
        reason(&p.query("demo_requests_total", &ctx()).await),
        Some(NoDataReason::Ambiguous)
    );
    // No series: no traffic for that version yet.
    let other = QueryContext {
        version: "9.9.9".into(),
        ..ctx()
    };
    assert_eq!(
        reason(&p.query(gauge, &other).await),
        Some(NoDataReason::Empty)
    );
    // A value cannot escape its string and widen the query.
    let sneaky = QueryContext {
        track: "x\"} or vector(1) or x{a=\"".into(),
        ..ctx()
    };
    assert_eq!(
        reason(&p.query(gauge, &sneaky).await),
        Some(NoDataReason::Empty)
    );
    // NaN (0/0) is not a reading.
    assert_eq!(
        reason(&p.query("sum(demo_error_ratio) * 0 / 0", &ctx()).await),
        Some(NoDataReason::NotANumber)
    );
    // Broken PromQL: Prometheus says what is wrong.
    let broken = p.query("sum(demo_requests_total", &ctx()).await;
    assert_eq!(reason(&broken), Some(NoDataReason::QueryError));
    assert!(format!("{broken:?}").contains("bad_data"), "{broken:?}");

    // A range query over the last seconds.
    let end = jiff::Timestamp::now();
    let start = end - jiff::SignedDuration::from_secs(30);
    match p
        .query_range(gauge, &ctx(), start, end, Duration::from_secs(1))
        .await
    {
        Series::Points(points) => {
            assert!(!points.is_empty());
            assert!(points.iter().all(|(_, v)| *v == 0.02));
            assert!(points.windows(2).all(|w| w[0].0 < w[1].0));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        p.query_range(gauge, &other, start, end, Duration::from_secs(1)).await,
        Series::NoData(n) if n.reason == NoDataReason::Empty
    ));
    drop(server);
}
