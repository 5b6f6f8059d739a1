//! A command that prints a number: `metric x = command "curl -s … | jq .value"`.
//!
//! The command line is run by `sh -c`, after its placeholders are replaced by shell-quoted
//! values: a value becomes one single-quoted word whatever it contains, so no service name or
//! version can add a command. The process gets its own process group, and on timeout the whole
//! group is killed, so a pipeline's children do not outlive the reading.
//!
//! The standard output, trimmed, must be one number; anything else is no data with the reason.

use super::{NoDataReason, QueryContext, Reading, number};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// A metric read by running a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSource {
    /// The command line, with placeholders.
    pub template: String,
    pub timeout: Duration,
    /// The working directory (the `.deploy` file's directory); the current one when `None`.
    pub dir: Option<PathBuf>,
}

impl CommandSource {
    pub fn new(template: impl Into<String>, timeout: Duration) -> CommandSource {
        CommandSource {
            template: template.into(),
            timeout,
            dir: None,
        }
    }

    /// The command line with its placeholders shell-quoted.
    pub fn render(&self, ctx: &QueryContext) -> String {
        ctx.render(&self.template, &shell_quote)
    }

    /// Runs the command and reads its number.
    pub async fn read(&self, ctx: &QueryContext) -> Reading {
        self.read_with(ctx, &[]).await
    }

    /// The same, with more placeholders (`{metric}`, `{query}`), filled in the same single pass
    /// and quoted the same way, so that no value is substituted twice.
    pub async fn read_with(&self, ctx: &QueryContext, extra: &[(&str, String)]) -> Reading {
        let line = crate::check::placeholders::render(&self.template, &|name| {
            extra
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .or_else(|| ctx.value(name))
                .map(|v| shell_quote(&v))
        });
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(&line)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Reading::no_data(
                    NoDataReason::CommandFailed,
                    format!("cannot start `sh`: {e}"),
                );
            }
        };
        let pid = child.id();
        match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Err(_) => {
                // `kill_on_drop` ends `sh`; the group kill ends what it started.
                if let Some(pid) = pid {
                    kill_group(pid);
                }
                Reading::no_data(
                    NoDataReason::Timeout,
                    format!("the command did not finish within {:?}", self.timeout),
                )
            }
            Ok(Err(e)) => Reading::no_data(
                NoDataReason::CommandFailed,
                format!("waiting for the command: {e}"),
            ),
            Ok(Ok(out)) if !out.status.success() => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let excerpt: String = stderr.trim().chars().take(200).collect();
                Reading::no_data(
                    NoDataReason::CommandFailed,
                    format!("the command failed ({}): {excerpt}", out.status),
                )
            }
            Ok(Ok(out)) => number(&String::from_utf8_lossy(&out.stdout)),
        }
    }
}

/// One shell word for any value: single quotes, with each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory effects; a negative pid names the process group the
    // child leads (it was spawned with `process_group(0)`), so nothing else is signalled.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_makes_one_word() {
        assert_eq!(shell_quote("1.1.0"), "'1.1.0'");
        assert_eq!(shell_quote("a'b; rm -rf /"), "'a'\\''b; rm -rf /'");
        assert_eq!(shell_quote(""), "''");
    }
}
