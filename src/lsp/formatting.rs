//! Formatting through the formatter of `deployc fmt`.

use lsp_types::TextEdit;

use super::position::LineIndex;

/// The edits that format `text`: none when it is formatted already, else one edit replacing
/// the whole text. A text that does not parse is not formatted (the formatter never guesses
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
    Ok(vec![TextEdit::new(lines.range(0, text.len()), formatted)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_by_its_formatted_text_once() {
        let text = "channel   ops=stdout\n";
        let edits = format(text).unwrap();
        assert_eq!(edits.len(), 1);
        let formatted = &edits[0].new_text;
        assert_eq!(formatted, &crate::fmt::format_source(text).unwrap());
        assert!(format(formatted).unwrap().is_empty());
    }

    #[test]
    fn a_syntax_error_is_reported_where_it_is() {
        let err = format("channel ops = stdout\nrelease {\n").unwrap_err();
        assert!(err.starts_with("2:9: error[E1"), "{err}");
    }
}
