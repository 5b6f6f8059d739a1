use crate::net::{
    SmtpOptions, http_server, silent_server, smtp_server, smtp_server_with, test_tls,
};
use deployc::runtime::channels::{
    Channel, Credentials, Driver, EmailConfig, Event, RetryPolicy, Secret, Security, Sender,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn event() -> Event {
    Event {
        run: "20260101-120000-checkout".into(),
        service: "checkout".into(),
        release: "1.1.0".into(),
        environment: "production".into(),
        event: "step_finished".into(),
        step: Some("canary 5%".into()),
        text: "Canary at 5%: error rate 0.2%\n.a line starting with a dot".into(),
        metrics: [("error_rate".to_string(), 0.002), ("p99".to_string(), 0.31)]
            .into_iter()
            .collect(),
        time: "2026-01-01T12:00:00Z".into(),
    }
}

fn fast(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        timeout: Duration::from_secs(2),
    }
}

fn channel(name: &str, driver: Driver, attempts: u32) -> Channel {
    Channel {
        name: name.into(),
        driver,
        required: false,
        retry: fast(attempts),
    }
}

#[tokio::test]
async fn webhook_receives_the_event_as_json() {
    let (addr, mut requests) = http_server(|_| (200, "ok".into())).await;
    let url = format!("http://{addr}/hooks/T0001/s3cret-token");
    let ch = channel(
        "ops",
        Driver::Webhook {
            url: Secret::new(url),
        },
        3,
    );
    let d = Sender::new().unwrap().send(&ch, &event()).await;
    assert!(d.delivered(), "{d:?}");
    assert_eq!((d.attempts, d.kind), (1, "webhook"));
    let r = requests.recv().await.unwrap();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hooks/T0001/s3cret-token");
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = r.json();
    assert_eq!(body["run"], "20260101-120000-checkout");
    assert_eq!(body["service"], "checkout");
    assert_eq!(body["release"], "1.1.0");
    assert_eq!(body["environment"], "production");
    assert_eq!(body["event"], "step_finished");
    assert_eq!(body["step"], "canary 5%");
    assert_eq!(body["metrics"]["error_rate"], 0.002);
    assert!(body["text"].as_str().unwrap().starts_with("Canary at 5%"));
}

#[tokio::test]
async fn slack_gets_an_incoming_webhook_payload() {
    let (addr, mut requests) = http_server(|_| (200, "ok".into())).await;
    let ch = channel(
        "slack",
        Driver::Slack {
            webhook: Secret::new(format!("http://{addr}/services/T/B/X")),
        },
        1,
    );
    assert!(Sender::new().unwrap().send(&ch, &event()).await.delivered());
    let body = requests.recv().await.unwrap().json();
    let obj = body.as_object().unwrap();
    assert_eq!(obj.len(), 1, "only `text`: {body}");
    let text = obj["text"].as_str().unwrap();
    assert!(text.starts_with("Canary at 5%: error rate 0.2%"), "{text}");
    assert!(
        text.contains("checkout 1.1.0 · production · step canary 5%"),
        "{text}"
    );
}

#[tokio::test]
async fn transient_failures_are_retried_until_success() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let (addr, _requests) = http_server(move |_| {
        if c.fetch_add(1, Ordering::SeqCst) < 2 {
            (503, "busy".into())
        } else {
            (200, "ok".into())
        }
    })
    .await;
    let ch = channel(
        "ops",
        Driver::Webhook {
            url: Secret::new(format!("http://{addr}/h")),
        },
        5,
    );
    let d = Sender::new().unwrap().send(&ch, &event()).await;
    assert!(d.delivered(), "{d:?}");
    assert_eq!(d.attempts, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn failures_after_retries_are_data_without_secrets() {
    let (addr, _requests) = http_server(|_| (500, "boom".into())).await;
    let secret = format!("http://{addr}/hooks/very-secret-path");
    let mut ch = channel(
        "pager",
        Driver::Webhook {
            url: Secret::new(secret.clone()),
        },
        3,
    );
    ch.required = true;
    let sender = Sender::new().unwrap();
    let d = sender.send(&ch, &event()).await;
    assert_eq!(d.attempts, 3);
    let error = d.error.clone().unwrap();
    assert!(error.contains("500"), "{error}");
    assert!(d.must_abort());
    assert!(!format!("{d:?} {ch:?}").contains("very-secret-path"));

    // A client error is permanent: one attempt.
    let (addr, _r) = http_server(|_| (404, "no such hook".into())).await;
    let ch = channel(
        "x",
        Driver::Webhook {
            url: Secret::new(format!("http://{addr}/gone")),
        },
        3,
    );
    let d = sender.send(&ch, &event()).await;
    assert_eq!(d.attempts, 1);
    assert!(!d.must_abort(), "not required");

    // Nobody listening: the connection error names no secret.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}/hooks/another-secret");
    let ch = channel(
        "x",
        Driver::Slack {
            webhook: Secret::new(url),
        },
        2,
    );
    let d = sender.send(&ch, &event()).await;
    assert_eq!(d.attempts, 2);
    let error = d.error.unwrap();
    assert!(!error.contains("another-secret"), "{error}");

    // A server that never answers: each attempt times out.
    let silent = silent_server().await;
    let mut ch = channel(
        "x",
        Driver::Webhook {
            url: Secret::new(format!("http://{silent}/h")),
        },
        2,
    );
    ch.retry.timeout = Duration::from_millis(200);
    let d = sender.send(&ch, &event()).await;
    assert_eq!(d.attempts, 2);
    assert!(d.error.is_some());
}

#[tokio::test]
async fn email_speaks_smtp_with_dot_stuffing_and_retries() {
    let (addr, mut sessions) = smtp_server(1).await;
    let config = EmailConfig::new(
        addr.ip().to_string(),
        addr.port(),
        "deploy@example.com",
        vec!["oncall@example.com".into(), "lead@example.com".into()],
    );
    let ch = channel("mail", Driver::Email(config), 3);
    let d = Sender::new().unwrap().send(&ch, &event()).await;
    assert!(d.delivered(), "{d:?}");
    assert_eq!(d.attempts, 2, "the first session answered 451");

    let refused = sessions.recv().await.unwrap();
    assert!(refused.data.is_empty());
    let s = sessions.recv().await.unwrap();
    assert_eq!(s.commands[0], "EHLO localhost");
    assert_eq!(s.commands[1], "MAIL FROM:<deploy@example.com>");
    assert_eq!(s.commands[2], "RCPT TO:<oncall@example.com>");
    assert_eq!(s.commands[3], "RCPT TO:<lead@example.com>");
    assert_eq!(s.commands[4], "DATA");
    assert_eq!(s.commands.last().unwrap(), "QUIT");
    assert!(
        s.data
            .contains("Subject: [deployc] checkout 1.1.0 on production: step_finished\r\n")
    );
    assert!(
        s.data.contains("\r\n..a line starting with a dot\r\n"),
        "{}",
        s.data
    );
    assert!(s.data.contains("error_rate: 0.002\r\n"));
}

/// One event through an email channel to `config`, with up to `attempts` attempts.
async fn send_mail(config: EmailConfig, attempts: u32) -> deployc::runtime::channels::Delivery {
    Sender::new()
        .unwrap()
        .send(&channel("mail", Driver::Email(config), attempts), &event())
        .await
}

/// A relay config for the loopback test relay, trusting the test CA.
fn tls_relay(addr: std::net::SocketAddr, security: Security, account: bool) -> EmailConfig {
    let mut c = EmailConfig::new(
        "127.0.0.1",
        addr.port(),
        "deploy@example.com",
        vec!["oncall@example.com".into()],
    );
    c.security = security;
    c.ca_file =
        Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem"));
    if account {
        c.credentials = Some(Credentials {
            user: "deploy".into(),
            password: Secret::new("s3cret pass"),
        });
    }
    c
}

#[tokio::test]
async fn email_upgrades_with_starttls_and_logs_in_with_auth_plain() {
    let (addr, mut sessions) = smtp_server_with(SmtpOptions {
        starttls: Some(test_tls()),
        auth: Some(("LOGIN PLAIN", "deploy", "s3cret pass")),
        ..SmtpOptions::default()
    })
    .await;
    let config = tls_relay(addr, Security::StartTls, true);
    let d = send_mail(config, 1).await;
    assert!(d.delivered(), "{d:?}");
    let s = sessions.recv().await.unwrap();
    assert!(s.tls);
    assert_eq!(s.user.as_deref(), Some("deploy"));
    let verbs: Vec<&str> = s
        .commands
        .iter()
        .map(|c| c.split([' ', ':']).next().unwrap())
        .collect();
    assert_eq!(
        verbs,
        [
            "EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"
        ]
    );
    assert!(s.commands[3].starts_with("AUTH PLAIN "), "{:?}", s.commands);
    assert!(s.data.contains("error_rate: 0.002"));
}

#[tokio::test]
async fn email_over_implicit_tls_logs_in_with_auth_login() {
    let (addr, mut sessions) = smtp_server_with(SmtpOptions {
        implicit: Some(test_tls()),
        auth: Some(("LOGIN", "deploy", "s3cret pass")),
        ..SmtpOptions::default()
    })
    .await;
    let d = send_mail(tls_relay(addr, Security::Implicit, true), 1).await;
    assert!(d.delivered(), "{d:?}");
    let s = sessions.recv().await.unwrap();
    assert!(s.tls);
    assert_eq!(s.user.as_deref(), Some("deploy"));
    assert_eq!(s.commands[1], "AUTH LOGIN");

    // The wrong password is a permanent failure: no retry.
    let mut wrong = tls_relay(addr, Security::Implicit, true);
    wrong.credentials = Some(Credentials {
        user: "deploy".into(),
        password: Secret::new("guess"),
    });
    let d = send_mail(wrong, 3).await;
    assert_eq!(d.attempts, 1, "{d:?}");
    assert!(d.error.unwrap().contains("535"));
}

#[tokio::test]
async fn email_requiring_tls_never_sends_in_the_clear() {
    // A relay without STARTTLS: `tls=required` stops before MAIL FROM, and so does a password.
    let (addr, mut sessions) = smtp_server(0).await;
    let d = send_mail(tls_relay(addr, Security::StartTls, false), 3).await;
    assert_eq!(d.attempts, 1, "{d:?}");
    assert!(d.error.unwrap().contains("does not offer STARTTLS"));
    let s = sessions.recv().await.unwrap();
    assert!(!s.commands.iter().any(|c| c.starts_with("MAIL")), "{s:?}");

    let d = send_mail(tls_relay(addr, Security::Opportunistic, true), 3).await;
    assert!(d.error.unwrap().contains("not sent unencrypted"));
    let s = sessions.recv().await.unwrap();
    assert!(!s.commands.iter().any(|c| c.starts_with("AUTH")), "{s:?}");

    // Opportunistic without an account: plain text when STARTTLS is not offered.
    let d = send_mail(tls_relay(addr, Security::Opportunistic, false), 1).await;
    assert!(d.delivered(), "{d:?}");
    assert!(!sessions.recv().await.unwrap().tls);
}

#[tokio::test]
async fn email_refuses_a_certificate_its_roots_do_not_vouch_for() {
    let (addr, _sessions) = smtp_server_with(SmtpOptions {
        starttls: Some(test_tls()),
        ..SmtpOptions::default()
    })
    .await;
    let mut config = tls_relay(addr, Security::StartTls, false);
    config.ca_file = None;
    let d = send_mail(config, 3).await;
    assert_eq!(
        d.attempts, 1,
        "a certificate does not change on retry: {d:?}"
    );
    let e = d.error.unwrap();
    assert!(e.contains("TLS with the SMTP server"), "{e}");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
}

#[tokio::test]
async fn email_rejects_header_injection() {
    let config = EmailConfig::new(
        "127.0.0.1",
        1,
        "deploy@example.com",
        vec!["a@example.com>\r\nRCPT TO:<b@example.com".into()],
    );
    let d = Sender::new()
        .unwrap()
        .send(&channel("mail", Driver::Email(config), 3), &event())
        .await;
    assert_eq!(d.attempts, 1);
    assert!(d.error.unwrap().contains("invalid email address"));
}

#[tokio::test]
async fn file_channel_appends_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs/r1/messages.jsonl");
    let ch = channel("log", Driver::File { path: path.clone() }, 1);
    let sender = Sender::new().unwrap();
    let mut second = event();
    second.event = "rollback_started".into();
    second.step = None;
    assert!(sender.send(&ch, &event()).await.delivered());
    assert!(sender.send(&ch, &second).await.delivered());
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["event"], "step_finished");
    assert_eq!(lines[1]["event"], "rollback_started");
    assert!(lines[1]["step"].is_null());

    let stdout = channel("console", Driver::Stdout, 1);
    assert!(sender.send(&stdout, &event()).await.delivered());
}
