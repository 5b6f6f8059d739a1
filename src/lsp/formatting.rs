//! Formatting through the formatter of `deployc fmt`.

use lsp_types::TextEdit;

use super::position::LineIndex;

/// The edits that format `text`: none when it is formatted already, else one edit per run
/// of changed lines, so that the editor keeps the cursor, the selection and the marks of
/// every line the formatter left alone (a whole-text replacement moves them all). A text that does not parse is not formatted (the formatter never guesses
/// around a syntax error): the error says where, as `line:column: error[CODE] message`.
pub(crate) fn format(text: &str) -> Result<Vec<TextEdit>, String> {
    let lines = LineIndex::new(text);
    let formatted = crate::fmt::format_source(text).map_err(|e| {
        let d = e.diagnostic();
        match e.range() {
            Some(r) => {
                let at = lines.position(r.start);
                format!(
                    "{}:{}: error[{}] {}",
                    at.line + 1,
                    at.character + 1,
                    d.code,
                    d.message
                )
            }
            None => format!("error[{}] {}", d.code, d.message),
        }
    })?;
    if formatted == text {
        return Ok(Vec::new());
    }
    Ok(line_edits(&lines, text, &formatted))
}

/// The edits that turn `old` into `new`, a line-level diff: each replaces whole lines of
/// `old` (positions in `old`, as the protocol wants: the editor applies them all at once).
fn line_edits(lines: &LineIndex, old: &str, new: &str) -> Vec<TextEdit> {
    let diff = similar::TextDiff::from_lines(old, new);
    // Byte offset where each line starts, plus the end: line `i` is `starts[i]..starts[i+1]`.
    let starts = |text: &str| -> Vec<usize> {
        let mut out = vec![0];
        out.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        if out.last() != Some(&text.len()) {
            out.push(text.len());
        }
        out
    };
    let (old_starts, new_starts) = (starts(old), starts(new));
    let at = |starts: &[usize], line: usize| starts.get(line).copied();
    let mut edits = Vec::new();
    for op in diff.ops() {
        if matches!(op, similar::DiffOp::Equal { .. }) {
            continue;
        }
        let (old_range, new_range) = (op.old_range(), op.new_range());
        let (Some(from), Some(to), Some(new_from), Some(new_to)) = (
            at(&old_starts, old_range.start),
            at(&old_starts, old_range.end),
            at(&new_starts, new_range.start),
            at(&new_starts, new_range.end),
        ) else {
            // Offsets out of step with the diff cannot happen; the whole text is still right.
            return vec![TextEdit::new(lines.range(0, old.len()), new.to_string())];
        };
        let text = new.get(new_from..new_to).unwrap_or_default().to_string();
        edits.push(TextEdit::new(lines.range(from, to), text));
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` with `edits` applied as an editor does: all against the original text.
    fn apply(text: &str, edits: &[TextEdit]) -> String {
        let lines = LineIndex::new(text);
        let mut ranges: Vec<_> = edits
            .iter()
            .map(|e| (lines.byte_range(e.range), e.new_text.as_str()))
            .collect();
        ranges.sort_by_key(|(r, _)| r.start);
        let mut out = String::new();
        let mut at = 0;
        for (r, new) in ranges {
            assert!(r.start >= at, "overlapping edits: {edits:?}");
            out.push_str(&text[at..r.start]);
            out.push_str(new);
            at = r.end;
        }
        out.push_str(&text[at..]);
        out
    }

    #[test]
    fn only_the_lines_that_change_are_edited() {
        let text = "channel   ops=stdout\n\nteam {\n  lead = \"a@example.com\"\n}\n\nchannel  dev =stdout\n";
        let edits = format(text).unwrap();
        // Two runs of changed lines; the team block, already formatted, is left alone.
        assert_eq!(edits.len(), 2, "{edits:?}");
        assert!(
            edits.iter().all(|e| !e.new_text.contains("team")),
            "{edits:?}"
        );
        let formatted = apply(text, &edits);
        assert_eq!(formatted, crate::fmt::format_source(text).unwrap());
        assert!(format(&formatted).unwrap().is_empty());
    }

    #[test]
    fn every_example_formats_through_its_edits() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "deploy") {
                continue;
            }
            // A layout the formatter must undo: every line indented by one more space (a
            // triple-quoted string's lines keep theirs: strings are never changed), and no
            // final line break.
            let text = std::fs::read_to_string(&path).unwrap();
            let messy: String = text.lines().map(|l| format!(" {l}\n")).collect();
            let messy = messy.trim_end_matches('\n');
            let edits = format(messy).unwrap();
            let formatted = crate::fmt::format_source(messy).unwrap();
            assert_eq!(apply(messy, &edits), formatted, "{}", path.display());
            assert!(format(&formatted).unwrap().is_empty());
        }
    }

    #[test]
    fn a_syntax_error_is_reported_where_it_is() {
        let err = format("channel ops = stdout\nrelease {\n").unwrap_err();
        assert!(err.starts_with("2:9: error[E1"), "{err}");
    }
}
