//! Commands: placeholders filled with shell-quoted values, run by `sh -c` with a timeout and
//! their output captured.
//!
//! A placeholder's value is always quoted as one word, whatever it contains, so a version
//! named `1.0; rm -rf /` is an odd version, not a command.

use std::process::Stdio;
use std::time::Duration;

use super::world::{BoxFuture, Done, Shell};

/// The release placeholders every command and message may use (`{service} {version}
/// {previous_version} {environment}`), as one value so that no context forgets one.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReleaseNames {
    pub(crate) service: String,
    pub(crate) version: String,
    /// The stable version, when there is one.
    pub(crate) previous_version: Option<String>,
    pub(crate) environment: String,
}

impl ReleaseNames {
    pub(crate) fn of(plan: &crate::lower::Plan, stable: Option<String>) -> ReleaseNames {
        ReleaseNames {
            service: plan.service.clone(),
            version: plan.release.clone(),
            previous_version: stable,
            environment: plan.environment.clone(),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<String> {
        match name {
            "service" => Some(self.service.clone()),
            "version" => Some(self.version.clone()),
            "previous_version" => self.previous_version.clone(),
            "environment" => Some(self.environment.clone()),
            _ => None,
        }
    }
}

/// `it's` → `'it'\''s'`.
pub(crate) fn quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
    {
        return value.to_string();
    }
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Fills `{name}` placeholders through `value`, quoting each value; unknown placeholders stay.
pub(crate) fn render(template: &str, value: &dyn Fn(&str) -> Option<String>) -> String {
    render_with(template, value, true)
}

/// Fills placeholders without quoting (messages, URLs).
pub(crate) fn render_plain(template: &str, value: &dyn Fn(&str) -> Option<String>) -> String {
    render_with(template, value, false)
}

/// The checker's rule, so that what runs is what was checked: `{name}` is a placeholder, `{{`
/// a literal `{`, any other brace literal text.
fn render_with(template: &str, value: &dyn Fn(&str) -> Option<String>, shell: bool) -> String {
    crate::check::placeholders::render(template, &|name| {
        value(name).map(|v| if shell { quote(&v) } else { v })
    })
}

/// The directory of the running `deployc`, put first on the `PATH` of every command so that
/// `deployc demo-app` in a program means this build.
pub(crate) fn path_with_exe_dir() -> Option<std::ffi::OsString> {
    let dir = std::env::current_exe().ok()?.parent()?.to_path_buf();
    let mut paths = vec![dir];
    if let Some(p) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(paths).ok()
}

/// Runs commands for real.
pub(crate) struct RealShell {
    pub(crate) dir: std::path::PathBuf,
}

impl Shell for RealShell {
    fn run<'a>(&'a self, command: &'a str, timeout_ms: u64) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            let mut cmd = tokio::process::Command::new("sh");
            cmd.arg("-c")
                .arg(command)
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            if let Some(p) = path_with_exe_dir() {
                cmd.env("PATH", p);
            }
            let child = cmd.spawn().map_err(|e| format!("`{command}`: {e}"))?;
            let out =
                tokio::time::timeout(Duration::from_millis(timeout_ms), child.wait_with_output())
                    .await
                    .map_err(|_| format!("`{command}` timed out after {timeout_ms} ms"))?
                    .map_err(|e| format!("`{command}`: {e}"))?;
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            let text = tail(text.trim(), 2000);
            if out.status.success() {
                Ok(format!(
                    "`{command}`: ok{}",
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(": {text}")
                    }
                ))
            } else {
                Err(format!("`{command}` failed ({}): {text}", out.status))
            }
        })
    }
}

/// The last `n` bytes of `s` (on a character boundary).
fn tail(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut start = s.len() - n;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", s.get(start..).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_quoted() {
        let v = |n: &str| match n {
            "version" => Some("1.0; rm -rf /".to_string()),
            "port" => Some("8080".to_string()),
            _ => None,
        };
        assert_eq!(
            render("app --port {port} --version {version} {other}", &v),
            "app --port 8080 --version '1.0; rm -rf /' {other}"
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
