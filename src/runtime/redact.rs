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
        for v in spellings(value) {
            // Very short values would redact ordinary words; such a secret is not one.
            if v.len() >= 4
                && !self
                    .secrets
                    .iter()
                    .any(|(_, known)| known.eq_ignore_ascii_case(&v))
            {
                self.secrets.push((name.to_string(), v));
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.1.len()));
    }

    /// `text` with every secret replaced, whatever the case of its ASCII letters (a URL's
    /// scheme and host are case-insensitive, and clients print them in lower case).
    pub(crate) fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, value) in &self.secrets {
            out = replace_ignoring_case(&out, value, &format!("[redacted {name}]"));
        }
        out
    }
}

/// The ways a secret's value can come out again. A URL is printed by the code that uses it
/// in other spellings than the variable's: without its trailing slash (joined with a path),
/// normalised by the URL parser (lower-case scheme and host, default port dropped, `/` as
/// the empty path, percent-encoding), without its credentials (HTTP clients move them into
/// a header and print the rest), and its password alone.
fn spellings(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    let mut push = |v: &str| {
        let v = v.to_string();
        if !v.is_empty() && !out.contains(&v) {
            out.push(v);
        }
    };
    push(value.trim_end_matches('/'));
    if let Ok(mut url) = reqwest::Url::parse(value.trim())
        && url.has_host()
    {
        let normal = url.as_str().to_string();
        push(&normal);
        push(normal.trim_end_matches('/'));
        if let Some(p) = url.password() {
            let p = p.to_string();
            push(&p);
            if let Ok(decoded) = percent_decode(&p) {
                push(&decoded);
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            let bare = url.as_str().to_string();
            push(&bare);
            push(bare.trim_end_matches('/'));
        }
    }
    out
}

/// `%XX` sequences decoded, when they make UTF-8.
fn percent_decode(s: &str) -> Result<String, ()> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// Replaces each occurrence of `needle` in `text`, comparing ASCII letters without case.
/// ASCII lower-casing keeps every byte where it is, so offsets found in the lower-cased copy
/// are offsets in `text`, on character boundaries.
fn replace_ignoring_case(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return text.to_string();
    }
    let hay = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, _) in hay.match_indices(&needle) {
        out.push_str(text.get(last..start).unwrap_or(""));
        out.push_str(with);
        last = start + needle.len();
    }
    out.push_str(text.get(last..).unwrap_or(""));
    out
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

    #[test]
    fn a_url_is_redacted_however_it_is_spelled() {
        let mut r = Redactor::default();
        r.add("PROM_URL", "http://User:p%40ss@Prom.EXAMPLE:9090/");
        for text in [
            "prometheus at http://User:p%40ss@Prom.EXAMPLE:9090: refused",
            "error sending request for url (http://prom.example:9090/api/v1/query)",
            "http://user:p%40ss@prom.example:9090/",
            "password p@ss in a header",
        ] {
            let out = r.apply(text);
            assert!(!out.to_ascii_lowercase().contains("prom.example"), "{out}");
            assert!(!out.contains("p@ss") && !out.contains("p%40ss"), "{out}");
            assert!(out.contains("[redacted PROM_URL]"), "{out}");
        }
    }
}
