//! Tiny loopback servers for the tests: HTTP/1.1 (one request per connection) and SMTP.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Serves HTTP on a free loopback port; `handler` answers each request with a status and a
/// body. Every request is also sent on the returned channel.
pub async fn http_server(
    handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static,
) -> (SocketAddr, mpsc::UnboundedReceiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            let handler = handler.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                let mut line = String::new();
                if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let path = parts.next().unwrap_or("").to_string();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    read.read_line(&mut h).await.unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    if let Some((n, v)) = h.split_once(':') {
                        headers.push((n.trim().to_string(), v.trim().to_string()));
                    }
                }
                let len = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse::<usize>().unwrap())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                read.read_exact(&mut body).await.unwrap();
                let request = Request {
                    method,
                    path,
                    headers,
                    body,
                };
                let (status, text) = handler(&request);
                let _ = tx.send(request);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = write.write_all(response.as_bytes()).await;
                let _ = write.shutdown().await;
            });
        }
    });
    (addr, rx)
}

/// A port that accepts connections and never answers.
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

/// What the SMTP responder saw in one session.
#[derive(Debug, Clone, Default)]
pub struct SmtpSession {
    pub commands: Vec<String>,
    /// The DATA as received, dot-stuffing included, without the final `.` line.
    pub data: String,
    /// Whether the session was under TLS when the message was sent.
    pub tls: bool,
    /// The user who logged in, if one did.
    pub user: Option<String>,
}

/// How the test relay behaves.
#[derive(Clone, Default)]
pub struct SmtpOptions {
    /// The first sessions that get `451` to `MAIL FROM`.
    pub refuse_first: usize,
    /// Offers `STARTTLS` with this certificate.
    pub starttls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte (`smtps`).
    pub implicit: Option<Arc<rustls::ServerConfig>>,
    /// Offers these `AUTH` mechanisms (once under TLS) and accepts this user and password.
    pub auth: Option<(&'static str, &'static str, &'static str)>,
}

/// The server certificate of `tests/fixtures/tls` (for `localhost` and `127.0.0.1`).
pub fn test_tls() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

async fn send(conn: &mut BufReader<Box<dyn Io>>, answer: &[u8]) {
    conn.write_all(answer).await.unwrap();
    conn.flush().await.unwrap();
}

async fn line(conn: &mut BufReader<Box<dyn Io>>) -> Option<String> {
    let mut line = String::new();
    match conn.read_line(&mut line).await {
        Ok(n) if n > 0 => Some(line),
        _ => None,
    }
}

/// A minimal SMTP responder. The first `refuse_first` sessions get `451` to `MAIL FROM`.
pub async fn smtp_server(
    refuse_first: usize,
) -> (SocketAddr, mpsc::UnboundedReceiver<SmtpSession>) {
    smtp_server_with(SmtpOptions {
        refuse_first,
        ..SmtpOptions::default()
    })
    .await
}

/// An SMTP responder with TLS and authentication as `options` say.
pub async fn smtp_server_with(
    options: SmtpOptions,
) -> (SocketAddr, mpsc::UnboundedReceiver<SmtpSession>) {
    use base64::Engine;
    let b64 = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((stream, _)) = listener.accept().await {
            n += 1;
            let refuse = n <= options.refuse_first;
            let mut session = SmtpSession::default();
            let stream: Box<dyn Io> = match &options.implicit {
                Some(tls) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
                    match acceptor.accept(stream).await {
                        Ok(s) => {
                            session.tls = true;
                            Box::new(s)
                        }
                        Err(_) => {
                            let _ = tx.send(session);
                            continue;
                        }
                    }
                }
                None => Box::new(stream),
            };
            let mut conn = BufReader::new(stream);
            send(&mut conn, b"220 test ESMTP\r\n").await;
            while let Some(l) = line(&mut conn).await {
                let cmd = l.trim_end().to_string();
                session.commands.push(cmd.clone());
                let upper = cmd.to_ascii_uppercase();
                if upper.starts_with("EHLO") {
                    let mut answer = String::from("250-test greets you\r\n250-8BITMIME\r\n");
                    if options.starttls.is_some() && !session.tls {
                        answer.push_str("250-STARTTLS\r\n");
                    }
                    if let Some((mechanisms, _, _)) = options.auth
                        && session.tls
                    {
                        answer.push_str(&format!("250-AUTH {mechanisms}\r\n"));
                    }
                    answer.push_str("250 SIZE 1000000\r\n");
                    send(&mut conn, answer.as_bytes()).await;
                } else if upper == "STARTTLS" && options.starttls.is_some() && !session.tls {
                    send(&mut conn, b"220 ready to start TLS\r\n").await;
                    let acceptor =
                        tokio_rustls::TlsAcceptor::from(options.starttls.clone().unwrap());
                    match acceptor.accept(conn.into_inner()).await {
                        Ok(s) => {
                            session.tls = true;
                            conn = BufReader::new(Box::new(s));
                        }
                        Err(_) => break,
                    }
                } else if let Some((_, user, password)) = options.auth
                    && upper.starts_with("AUTH ")
                {
                    let (who, pass) = if let Some(token) = cmd.get("AUTH PLAIN ".len()..)
                        && upper.starts_with("AUTH PLAIN ")
                    {
                        let t = b64(token);
                        let mut parts = t.split('\0').skip(1);
                        (
                            parts.next().unwrap_or("").to_string(),
                            parts.next().unwrap_or("").to_string(),
                        )
                    } else {
                        send(&mut conn, b"334 VXNlcm5hbWU6\r\n").await;
                        let u = line(&mut conn).await.unwrap_or_default();
                        session.commands.push(u.trim_end().to_string());
                        send(&mut conn, b"334 UGFzc3dvcmQ6\r\n").await;
                        let p = line(&mut conn).await.unwrap_or_default();
                        session.commands.push(p.trim_end().to_string());
                        (b64(&u), b64(&p))
                    };
                    if who == user && pass == password {
                        session.user = Some(who);
                        send(&mut conn, b"235 2.7.0 accepted\r\n").await;
                    } else {
                        send(&mut conn, b"535 5.7.8 bad credentials\r\n").await;
                    }
                } else if upper.starts_with("MAIL FROM") && refuse {
                    send(&mut conn, b"451 4.3.0 try again later\r\n").await;
                } else if upper.starts_with("MAIL FROM") || upper.starts_with("RCPT TO") {
                    send(&mut conn, b"250 ok\r\n").await;
                } else if upper == "DATA" {
                    send(&mut conn, b"354 go ahead\r\n").await;
                    while let Some(l) = line(&mut conn).await {
                        if l == ".\r\n" {
                            break;
                        }
                        session.data.push_str(&l);
                    }
                    send(&mut conn, b"250 queued\r\n").await;
                } else if upper == "QUIT" {
                    send(&mut conn, b"221 bye\r\n").await;
                    break;
                } else {
                    send(&mut conn, b"502 not implemented\r\n").await;
                }
            }
            let _ = tx.send(session);
        }
    });
    (addr, rx)
}
