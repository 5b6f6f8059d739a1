//! Positions as LSP counts them: a 0-based line and a column in UTF-16 code units.
//!
//! The compiler speaks byte offsets; every conversion between the two goes through a
//! [`LineIndex`] of the text the offsets refer to, so a position is never computed against
//! a different version of the file than the one it came from.

use lsp_types::{Position, Range};

/// Line starts of one text, for converting between byte offsets and LSP positions.
pub(crate) struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        LineIndex {
            text,
            starts: crate::source::line_starts(text),
        }
    }

    /// The LSP position of a byte offset (clamped to the text; an offset inside a
    /// multi-byte character counts from that character's start).
    pub(crate) fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = crate::source::line_index(&self.starts, offset);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let col: usize = self
            .text
            .get(start..)
            .unwrap_or("")
            .char_indices()
            .take_while(|(i, _)| start + i < offset)
            .map(|(_, c)| c.len_utf16())
            .sum();
        Position::new(to_u32(line), to_u32(col))
    }

    /// The byte offset of an LSP position; a column past the line's end is its end (before
    /// the newline), a line past the last is the end of the text.
    pub(crate) fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let end = self
            .starts
            .get(position.line as usize + 1)
            .copied()
            .unwrap_or(self.text.len());
        let line = self.text.get(start..end).unwrap_or("");
        let mut units = 0usize;
        for (i, c) in line.char_indices() {
            // The character the position falls on or inside (a surrogate pair's second
            // half is the character's start).
            if units + c.len_utf16() > position.character as usize || c == '\n' || c == '\r' {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    pub(crate) fn range(&self, start: usize, end: usize) -> Range {
        Range::new(self.position(start), self.position(end))
    }

    pub(crate) fn byte_range(&self, range: Range) -> std::ops::Range<usize> {
        let start = self.offset(range.start);
        let end = self.offset(range.end).max(start);
        start..end
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Applies one change of `textDocument/didChange` to `text`: a range replaced, or the whole
/// text when the change has no range.
pub(crate) fn apply_change(text: &mut String, change: lsp_types::TextDocumentContentChangeEvent) {
    match change.range {
        None => *text = change.text,
        Some(range) => {
            let bytes = LineIndex::new(text).byte_range(range);
            text.replace_range(bytes, &change.text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_round_trip() {
        let text = "ab\ncd\n";
        let index = LineIndex::new(text);
        assert_eq!(index.position(4), Position::new(1, 1));
        assert_eq!(index.offset(Position::new(1, 1)), 4);
        assert_eq!(index.position(text.len()), Position::new(2, 0));
    }

    #[test]
    fn columns_count_utf16_code_units() {
        // `é` is 2 bytes and 1 UTF-16 unit; `😀` is 4 bytes and 2 units.
        let text = "# é😀x\nrelease";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(index.position(x), Position::new(0, 5));
        assert_eq!(index.offset(Position::new(0, 5)), x);
        // Inside the surrogate pair: the character's start.
        assert_eq!(index.offset(Position::new(0, 4)), text.find('😀').unwrap());
    }

    #[test]
    fn positions_past_the_end_are_clamped() {
        let text = "ab\ncd";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(Position::new(0, 99)), 2);
        assert_eq!(index.offset(Position::new(9, 0)), text.len());
        assert_eq!(index.position(999), Position::new(1, 2));
    }

    #[test]
    fn incremental_changes_apply_in_utf16() {
        let mut text = "a😀b\nc".to_string();
        let change = lsp_types::TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(0, 3), Position::new(1, 0))),
            range_length: None,
            text: "B\nC".into(),
        };
        apply_change(&mut text, change);
        assert_eq!(text, "a😀B\nCc");
    }
}
