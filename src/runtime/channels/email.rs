//! Email through an SMTP relay: a small client over a tokio TCP stream.
//!
//! A deploy sends a handful of plain-text messages to a relay (the local MTA, the company's
//! relay, or a mail service), so the client speaks only what that needs: `EHLO` (falling back
//! to `HELO`), `STARTTLS` or TLS from the start, `AUTH PLAIN` / `AUTH LOGIN`, `MAIL FROM`,
//! `RCPT TO`, `DATA` with dot-stuffing, `QUIT`. A full mail crate would bring its own TLS and
//! DNS stacks; TLS here is the rustls the rest of the runtime uses, with the web PKI roots and
//! an optional private CA.
//!
//! A password is only ever sent over TLS: asked to authenticate on a plain connection, the
//! client stops before `AUTH`.
//!
//! SMTP reply classes map onto the retry rules: 4xx is transient, 5xx permanent.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Event, Failure, Secret};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text (`smtp://`, the default): a relay on this host or a private network.
    Plain,
    /// `STARTTLS` when the relay offers it, else plain text (`?tls=opportunistic`).
    Opportunistic,
    /// `STARTTLS`, and nothing is sent without it (`?tls=required`).
    StartTls,
    /// TLS from the first byte (`smtps://`, port 465 by default).
    Implicit,
}

/// The account the relay asks for (`smtp://USER:PASSWORD@host`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
}

/// Where and to whom mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    /// The relay's host name or address.
    pub host: String,
    pub port: u16,
    /// The envelope and `From:` address.
    pub from: String,
    pub to: Vec<String>,
    /// The name given in `EHLO`.
    pub hello: String,
    pub security: Security,
    pub credentials: Option<Credentials>,
    /// PEM certificates of a private CA trusted besides the web PKI roots (`?ca=PATH`).
    pub ca_file: Option<PathBuf>,
}

impl EmailConfig {
    /// A relay on `host:port` with `EHLO localhost`, plain text, no account.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        from: impl Into<String>,
        to: Vec<String>,
    ) -> Self {
        EmailConfig {
            host: host.into(),
            port,
            from: from.into(),
            to,
            hello: "localhost".into(),
            security: Security::Plain,
            credentials: None,
            ca_file: None,
        }
    }

    /// The TLS client settings: the web PKI roots, plus the private CA if there is one. Read
    /// when the channel is set up, so that a missing or unreadable CA file is a configuration
    /// error rather than a failed message.
    pub fn tls(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = &self.ca_file {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| format!("the CA file `{}`: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "the CA file `{}` holds no certificate",
                    path.display()
                ));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("the CA file `{}`: {e}", path.display()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

/// The connection, plain or TLS, read through a buffer (writes pass through it).
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Conn = BufReader<Box<dyn Io>>;

/// Sends one message for `event`. The caller bounds the whole conversation with its timeout.
pub(super) async fn send(config: &EmailConfig, event: &Event) -> Result<(), Failure> {
    for address in std::iter::once(&config.from).chain(&config.to) {
        check_address(address)?;
    }
    if config.to.is_empty() {
        return Err(Failure::Permanent(
            "the email channel has no recipient".into(),
        ));
    }
    if config.credentials.is_some() && config.security == Security::Plain {
        return Err(Failure::Permanent(
            "the SMTP password would be sent unencrypted: use `smtps://` or `?tls=required`".into(),
        ));
    }
    let tcp = TcpStream::connect((config.host.as_str(), config.port))
        .await
        .map_err(|e| {
            Failure::Transient(format!(
                "cannot connect to the SMTP server {}:{}: {e}",
                config.host, config.port
            ))
        })?;
    let _ = tcp.set_nodelay(true);
    let mut encrypted = config.security == Security::Implicit;
    let stream: Box<dyn Io> = if encrypted {
        Box::new(handshake(config, Box::new(tcp)).await?)
    } else {
        Box::new(tcp)
    };
    let mut conn: Conn = BufReader::new(stream);

    expect(&mut conn, "the greeting", 220).await?;
    let mut capabilities = hello(&mut conn, config).await?;
    if !encrypted
        && matches!(
            config.security,
            Security::Opportunistic | Security::StartTls
        )
    {
        if offers(&capabilities, "STARTTLS") {
            command(&mut conn, "STARTTLS").await?;
            expect(&mut conn, "STARTTLS", 220).await?;
            // Anything already buffered came before the handshake, unprotected: a relay (or
            // someone in between) trying to slip commands into the TLS session.
            if !conn.buffer().is_empty() {
                return Err(Failure::Permanent(
                    "the SMTP server sent data after accepting STARTTLS".into(),
                ));
            }
            conn = BufReader::new(Box::new(handshake(config, conn.into_inner()).await?));
            encrypted = true;
            // RFC 3207: what the server offered before TLS is forgotten.
            capabilities = hello(&mut conn, config).await?;
        } else if config.security == Security::StartTls {
            return Err(Failure::Permanent(format!(
                "the SMTP server {}:{} does not offer STARTTLS, and the channel requires TLS",
                config.host, config.port
            )));
        }
    }
    if let Some(account) = &config.credentials {
        if !encrypted {
            return Err(Failure::Permanent(
                "the SMTP server did not offer STARTTLS: the password is not sent unencrypted"
                    .into(),
            ));
        }
        authenticate(&mut conn, &capabilities, account).await?;
    }
    command(&mut conn, &format!("MAIL FROM:<{}>", config.from)).await?;
    expect(&mut conn, "MAIL FROM", 250).await?;
    for to in &config.to {
        command(&mut conn, &format!("RCPT TO:<{to}>")).await?;
        let (code, text) = reply(&mut conn).await?;
        if code != 250 && code != 251 {
            return Err(classify(code, &format!("RCPT TO <{to}>"), &text.join(" ")));
        }
    }
    command(&mut conn, "DATA").await?;
    expect(&mut conn, "DATA", 354).await?;
    let message = message(config, event);
    conn.write_all(dot_stuff(&message).as_bytes())
        .await
        .map_err(io)?;
    conn.write_all(b".\r\n").await.map_err(io)?;
    conn.flush().await.map_err(io)?;
    expect(&mut conn, "the message", 250).await?;
    // The message is accepted; a relay that drops the line before answering QUIT changes
    // nothing.
    let _ = command(&mut conn, "QUIT").await;
    let _ = reply(&mut conn).await;
    Ok(())
}

/// `EHLO`, or `HELO` for a server that does not know it; returns the extensions offered
/// (none after `HELO`).
async fn hello(conn: &mut Conn, config: &EmailConfig) -> Result<Vec<String>, Failure> {
    command(conn, &format!("EHLO {}", config.hello)).await?;
    let (code, lines) = reply(conn).await?;
    if code == 250 {
        // The first line is the greeting; each further line is one extension.
        return Ok(lines.into_iter().skip(1).collect());
    }
    if (400..500).contains(&code) {
        return Err(classify(code, "EHLO", &lines.join(" ")));
    }
    command(conn, &format!("HELO {}", config.hello)).await?;
    expect(conn, "HELO", 250).await?;
    Ok(Vec::new())
}

/// Whether the extension `name` is among those offered.
fn offers(capabilities: &[String], name: &str) -> bool {
    capabilities.iter().any(|c| {
        c.split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(name))
    })
}

/// The `AUTH` mechanisms offered (`AUTH PLAIN LOGIN`, or the old `AUTH=LOGIN`).
fn mechanisms(capabilities: &[String]) -> Vec<String> {
    capabilities
        .iter()
        .filter_map(|c| {
            let upper = c.to_ascii_uppercase();
            upper
                .strip_prefix("AUTH ")
                .or_else(|| upper.strip_prefix("AUTH="))
                .map(str::to_string)
        })
        .flat_map(|m| m.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// `AUTH PLAIN`, else `AUTH LOGIN`, whichever the server offers first in that order.
async fn authenticate(
    conn: &mut Conn,
    capabilities: &[String],
    account: &Credentials,
) -> Result<(), Failure> {
    use base64::Engine;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let offered = mechanisms(capabilities);
    let user = account.user.as_bytes();
    let password = account.password.expose().as_bytes();
    if offered.iter().any(|m| m == "PLAIN") {
        let mut token = vec![0u8];
        token.extend_from_slice(user);
        token.push(0);
        token.extend_from_slice(password);
        command(conn, &format!("AUTH PLAIN {}", b64(&token))).await?;
    } else if offered.iter().any(|m| m == "LOGIN") {
        command(conn, "AUTH LOGIN").await?;
        expect(conn, "AUTH LOGIN", 334).await?;
        command(conn, &b64(user)).await?;
        expect(conn, "the user name", 334).await?;
        command(conn, &b64(password)).await?;
    } else {
        return Err(Failure::Permanent(format!(
            "the SMTP server offers no authentication deployc speaks (PLAIN or LOGIN){}",
            if offered.is_empty() {
                String::new()
            } else {
                format!(": it offers {}", offered.join(", "))
            }
        )));
    }
    let (code, text) = reply(conn).await?;
    if code == 235 {
        Ok(())
    } else {
        Err(classify(
            code,
            &format!("the login of `{}`", account.user),
            &text.join(" "),
        ))
    }
}

/// The TLS handshake, with the relay's host name (or address) as the name to verify.
async fn handshake(
    config: &EmailConfig,
    io: Box<dyn Io>,
) -> Result<tokio_rustls::client::TlsStream<Box<dyn Io>>, Failure> {
    let tls = config.tls().map_err(Failure::Permanent)?;
    let name = rustls::pki_types::ServerName::try_from(config.host.clone()).map_err(|e| {
        Failure::Permanent(format!("`{}` is not a TLS server name: {e}", config.host))
    })?;
    tokio_rustls::TlsConnector::from(tls)
        .connect(name, io)
        .await
        .map_err(|e| {
            // A certificate the roots do not vouch for will not change on retry.
            let m = format!(
                "TLS with the SMTP server {}:{}: {e}",
                config.host, config.port
            );
            if e.kind() == std::io::ErrorKind::InvalidData {
                Failure::Permanent(m)
            } else {
                Failure::Transient(m)
            }
        })
}

/// The message: headers and a plain-text body, lines ending in CRLF.
fn message(config: &EmailConfig, e: &Event) -> String {
    let subject = one_line(&format!(
        "[deployc] {} {} on {}: {}",
        e.service, e.release, e.environment, e.event
    ));
    let date = jiff::fmt::rfc2822::to_string(&jiff::Zoned::now()).unwrap_or_default();
    let mut body = String::new();
    body.push_str(&e.text);
    body.push_str("\n\n");
    body.push_str(&format!("run: {}\n", e.run));
    if let Some(step) = &e.step {
        body.push_str(&format!("step: {step}\n"));
    }
    for (name, value) in &e.metrics {
        body.push_str(&format!("{name}: {value}\n"));
    }
    let mut m = String::new();
    m.push_str(&format!("From: <{}>\r\n", config.from));
    let to: Vec<String> = config.to.iter().map(|t| format!("<{t}>")).collect();
    m.push_str(&format!("To: {}\r\n", to.join(", ")));
    m.push_str(&format!("Subject: {subject}\r\n"));
    if !date.is_empty() {
        m.push_str(&format!("Date: {date}\r\n"));
    }
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    m.push_str("Content-Transfer-Encoding: 8bit\r\n");
    m.push_str("\r\n");
    m.push_str(&crlf(&body));
    m
}

/// Every line ending becomes CRLF, and the text ends with one.
fn crlf(text: &str) -> String {
    let mut out: String = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .collect::<Vec<_>>()
        .join("\r\n");
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out
}

/// A line starting with `.` gets another, so that no line of the text can end the `DATA`.
pub(crate) fn dot_stuff(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    out
}

/// Header values must stay on one line: a newline in a subject would let the text add headers.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

fn check_address(a: &str) -> Result<(), Failure> {
    let ok = !a.is_empty()
        && a.contains('@')
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    if ok {
        Ok(())
    } else {
        Err(Failure::Permanent(format!(
            "invalid email address `{}`",
            one_line(a)
        )))
    }
}

async fn command(conn: &mut Conn, line: &str) -> Result<(), Failure> {
    conn.write_all(format!("{line}\r\n").as_bytes())
        .await
        .map_err(io)?;
    // A TLS stream holds what is written until it is flushed.
    conn.flush().await.map_err(io)
}

async fn expect(conn: &mut Conn, what: &str, code: u16) -> Result<(), Failure> {
    let (got, text) = reply(conn).await?;
    if got == code {
        Ok(())
    } else {
        Err(classify(got, what, &text.join(" ")))
    }
}

/// Reads one reply, following `250-…` continuation lines; returns the code and the text of
/// each line.
async fn reply(conn: &mut Conn) -> Result<(u16, Vec<String>), Failure> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = conn.read_line(&mut line).await.map_err(io)?;
        if n == 0 {
            return Err(Failure::Transient(
                "the SMTP server closed the connection".into(),
            ));
        }
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| {
                Failure::Permanent(format!("the SMTP server answered `{}`", line.trim()))
            })?;
        lines.push(line.get(4..).unwrap_or("").trim().to_string());
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, lines));
        }
    }
}

fn classify(code: u16, what: &str, text: &str) -> Failure {
    let m = format!("the SMTP server refused {what}: {code} {text}");
    if (400..500).contains(&code) {
        Failure::Transient(m)
    } else {
        Failure::Permanent(m)
    }
}

fn io(e: std::io::Error) -> Failure {
    Failure::Transient(format!("SMTP connection: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_are_stuffed_and_lines_are_crlf() {
        let body = crlf(".hidden\nok\n..two\n.");
        assert_eq!(dot_stuff(&body), "..hidden\r\nok\r\n...two\r\n..\r\n");
    }

    #[test]
    fn extensions_and_mechanisms_are_read_from_the_ehlo_reply() {
        let caps: Vec<String> = ["STARTTLS", "AUTH LOGIN PLAIN", "AUTH=CRAM-MD5", "SIZE 10"]
            .map(String::from)
            .to_vec();
        assert!(offers(&caps, "starttls"));
        assert!(!offers(&caps, "8BITMIME"));
        assert_eq!(mechanisms(&caps), ["LOGIN", "PLAIN", "CRAM-MD5"]);
    }

    #[test]
    fn headers_cannot_be_injected() {
        assert_eq!(one_line("a\r\nBcc: x"), "a  Bcc: x");
        assert!(check_address("ops@example.com").is_ok());
        assert!(check_address("ops@example.com>\r\nRCPT TO:<x@y").is_err());
    }
}
