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
}

/// A minimal SMTP responder. The first `refuse_first` sessions get `451` to `MAIL FROM`.
pub async fn smtp_server(
    refuse_first: usize,
) -> (SocketAddr, mpsc::UnboundedReceiver<SmtpSession>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((stream, _)) = listener.accept().await {
            n += 1;
            let refuse = n <= refuse_first;
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            let mut session = SmtpSession::default();
            write.write_all(b"220 test ESMTP\r\n").await.unwrap();
            loop {
                let mut line = String::new();
                if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                let cmd = line.trim_end().to_string();
                session.commands.push(cmd.clone());
                let upper = cmd.to_ascii_uppercase();
                let answer: &[u8] = if upper.starts_with("EHLO") {
                    b"250-test greets you\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n"
                } else if upper.starts_with("MAIL FROM") && refuse {
                    b"451 4.3.0 try again later\r\n"
                } else if upper.starts_with("MAIL FROM") || upper.starts_with("RCPT TO") {
                    b"250 ok\r\n"
                } else if upper == "DATA" {
                    write.write_all(b"354 go ahead\r\n").await.unwrap();
                    loop {
                        let mut l = String::new();
                        read.read_line(&mut l).await.unwrap();
                        if l == ".\r\n" {
                            break;
                        }
                        session.data.push_str(&l);
                    }
                    b"250 queued\r\n"
                } else if upper == "QUIT" {
                    write.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                } else {
                    b"502 not implemented\r\n"
                };
                write.write_all(answer).await.unwrap();
            }
            let _ = tx.send(session);
        }
    });
    (addr, rx)
}
