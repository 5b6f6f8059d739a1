//! Secrets are only ever read from the environment (`env VAR` in the program); their values
//! are replaced by `[redacted VAR]` in everything the runtime writes: journal, progress lines,
//! reports, captured command output.

/// Replaces known secret values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<(String, String)>,
}

impl Redactor {
    /// Collects the variables named `env VAR` anywhere in `text` (the plan's JSON) and reads
    /// their values from the process environment.
    pub(crate) fn from_plan_text(text: &str) -> Redactor {
        let mut r = Redactor::default();
        let mut rest = text;
        while let Some(i) = rest.find("env ") {
            let after = rest.get(i + 4..).unwrap_or("");
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty()
                && let Ok(value) = std::env::var(&name)
            {
                r.add(&name, &value);
            }
            rest = after;
        }
        r
    }

    pub(crate) fn add(&mut self, name: &str, value: &str) {
        // Very short values would redact ordinary words; such a secret is not one.
        if value.len() >= 4 && !self.secrets.iter().any(|(_, v)| v == value) {
            self.secrets.push((name.to_string(), value.to_string()));
            // Longest first, so a secret containing another is replaced whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.1.len()));
        }
    }

    pub(crate) fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, value) in &self.secrets {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &format!("[redacted {name}]"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_values() {
        let mut r = Redactor::default();
        r.add("TOKEN", "s3cr3t-value");
        assert_eq!(
            r.apply("curl -H 'x: s3cr3t-value'"),
            "curl -H 'x: [redacted TOKEN]'"
        );
    }
}
