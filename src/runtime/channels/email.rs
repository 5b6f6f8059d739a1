//! Email through an SMTP relay: a small client over a tokio TCP stream.
//!
//! A deploy sends a handful of plain-text messages to a relay (the local MTA, or the company's
//! relay on a private network), so the client speaks only what that needs: `EHLO` (falling back
//! to `HELO`), `MAIL FROM`, `RCPT TO`, `DATA` with dot-stuffing, `QUIT`. A full mail crate would
//! bring its own TLS and DNS stacks for features the runtime does not use. Not supported yet:
//! STARTTLS and AUTH, so the relay must accept mail from this host without them.
//!
//! SMTP reply classes map onto the retry rules: 4xx is transient, 5xx permanent.

use super::{Event, Failure};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

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
}

impl EmailConfig {
    /// A relay on `host:port` with `EHLO localhost`.
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
        }
    }
}

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
    let stream = TcpStream::connect((config.host.as_str(), config.port))
        .await
        .map_err(|e| {
            Failure::Transient(format!(
                "cannot connect to the SMTP server {}:{}: {e}",
                config.host, config.port
            ))
        })?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);

    expect(&mut read, "the greeting", 220).await?;
    command(&mut write, &format!("EHLO {}", config.hello)).await?;
    if let Err(Failure::Permanent(_)) = expect(&mut read, "EHLO", 250).await {
        command(&mut write, &format!("HELO {}", config.hello)).await?;
        expect(&mut read, "HELO", 250).await?;
    }
    command(&mut write, &format!("MAIL FROM:<{}>", config.from)).await?;
    expect(&mut read, "MAIL FROM", 250).await?;
    for to in &config.to {
        command(&mut write, &format!("RCPT TO:<{to}>")).await?;
        let (code, text) = reply(&mut read).await?;
        if code != 250 && code != 251 {
            return Err(classify(code, &format!("RCPT TO <{to}>"), &text));
        }
    }
    command(&mut write, "DATA").await?;
    expect(&mut read, "DATA", 354).await?;
    let message = message(config, event);
    write
        .write_all(dot_stuff(&message).as_bytes())
        .await
        .map_err(io)?;
    write.write_all(b".\r\n").await.map_err(io)?;
    write.flush().await.map_err(io)?;
    expect(&mut read, "the message", 250).await?;
    // The message is accepted; a relay that drops the line before answering QUIT changes
    // nothing.
    let _ = command(&mut write, "QUIT").await;
    let _ = reply(&mut read).await;
    Ok(())
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

async fn command(w: &mut tokio::net::tcp::OwnedWriteHalf, line: &str) -> Result<(), Failure> {
    w.write_all(format!("{line}\r\n").as_bytes())
        .await
        .map_err(io)
}

async fn expect(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    what: &str,
    code: u16,
) -> Result<(), Failure> {
    let (got, text) = reply(r).await?;
    if got == code {
        Ok(())
    } else {
        Err(classify(got, what, &text))
    }
}

/// Reads one reply, following `250-…` continuation lines; returns the code and the text.
async fn reply(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> Result<(u16, String), Failure> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).await.map_err(io)?;
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
        text.push_str(line.get(4..).unwrap_or("").trim());
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text));
        }
        text.push(' ');
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
    fn headers_cannot_be_injected() {
        assert_eq!(one_line("a\r\nBcc: x"), "a  Bcc: x");
        assert!(check_address("ops@example.com").is_ok());
        assert!(check_address("ops@example.com>\r\nRCPT TO:<x@y").is_err());
    }
}
