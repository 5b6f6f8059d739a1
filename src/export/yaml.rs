//! A small YAML emitter for `serde_json::Value` documents.
//!
//! Kubernetes objects are JSON data, so no YAML-only feature (anchors, tags, multi-line
//! scalars) is needed, and a well-kept YAML serializer would be a new dependency for the
//! one job of printing maps, lists and scalars. Two properties matter more than looks:
//!
//! * the output is valid YAML 1.2 *and* reads the same in YAML 1.1, which is what kubectl's
//!   parser follows: a string is written plain only when no YAML version could read it as
//!   anything but that string (not `on`, `no`, `1e3`, `0x1f`, `~` or `null`); everything
//!   else is a double-quoted JSON string, which YAML 1.2 reads as the same string;
//! * map keys are sorted, so the same objects always print the same bytes.

use serde_json::Value;

/// One YAML document (without the `---` separator), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_list(&mut out, items, 0),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

/// Several documents as one stream, separated by `---`.
pub fn stream(values: &[Value]) -> String {
    let mut out = String::new();
    for v in values {
        out.push_str("---\n");
        out.push_str(&to_yaml(v));
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn sorted(map: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    for (i, (k, v)) in sorted(map).into_iter().enumerate() {
        // The first key of a map inside a list item follows the `- ` on the same line.
        if i > 0 || level == 0 {
            indent(out, level);
        }
        out.push_str(&string(k));
        out.push(':');
        write_value_after_key(out, v, level);
    }
}

fn write_value_after_key(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            indent(out, level + 2);
            write_map_continued(out, m, level + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            // Lists under a key are indented like maps, which every parser accepts.
            write_list(out, items, level + 2);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

/// A map whose first key's indentation is already written.
fn write_map_continued(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    for (i, (k, v)) in sorted(map).into_iter().enumerate() {
        if i > 0 {
            indent(out, level);
        }
        out.push_str(&string(k));
        out.push(':');
        write_value_after_key(out, v, level);
    }
}

fn write_list(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                out.push(' ');
                write_map_continued(out, m, level + 2);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_list(out, inner, level + 2);
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

/// A scalar or an empty collection on one line.
fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string, plain when that is unambiguous, else double-quoted.
fn string(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        // A JSON string is a YAML double-quoted scalar with the same value.
        serde_json::Value::String(s.to_string()).to_string()
    }
}

/// Words that YAML 1.1 or 1.2 read as booleans or null.
const RESERVED: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
];

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    // Starting with a letter rules out numbers, indicators (`-`, `?`, `:`, `#`, `&`, `*`,
    // `!`, `|`, `>`, `'`, `"`, `%`, `@`, `` ` ``) and flow characters; `.`/`_` are excluded
    // to avoid `.inf`/`.nan` and friends. Later characters are limited to ones that cannot
    // start a comment (` #`) or a mapping (`: `).
    first.is_ascii_alphabetic()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_lists_and_scalars() {
        let v = json!({
            "kind": "Rollout",
            "apiVersion": "argoproj.io/v1alpha1",
            "spec": {
                "steps": [{"setWeight": 10}, {"pause": {}}, {"pause": {"duration": "10m"}}],
                "empty": [],
                "names": ["a", "on", "1.0", "x y"],
                "nested": [[1, 2], []],
            },
            "flag": true,
            "none": null,
        });
        assert_eq!(
            to_yaml(&v),
            "apiVersion: argoproj.io/v1alpha1\nflag: true\nkind: Rollout\nnone: null\nspec:\n  empty: []\n  names:\n    - a\n    - \"on\"\n    - \"1.0\"\n    - \"x y\"\n  nested:\n    -\n      - 1\n      - 2\n    - []\n  steps:\n    - setWeight: 10\n    - pause: {}\n    - pause:\n        duration: \"10m\"\n"
        );
    }

    #[test]
    fn strings_that_could_be_something_else_are_quoted() {
        for s in [
            "", "yes", "No", "ON", "~", "null", "1", "1e3", "0x1f", ".inf", "-a", "a: b", "a #b",
            "#c", "a\nb", "é",
        ] {
            assert!(string(s).starts_with('"'), "{s} should be quoted");
        }
        for s in [
            "app",
            "registry.example.com/app",
            "on-rollout-completed",
            "v1",
        ] {
            assert_eq!(string(s), s);
        }
    }
}
