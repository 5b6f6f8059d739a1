//! Lays out a concrete tree as lines, then aligns them.
//!
//! One pass walks the tree and appends tokens to the current line; a block either stays on
//! one line or gets one entry per line, decided from the source (was it on one line, holds it
//! a comment) and the width (does it fit), never from how it was indented. A second pass over
//! the finished lines aligns the `=` of consecutive one-line settings and the trailing
//! comments of consecutive lines. Every decision reads only the tokens and whether the source
//! put a block on one line or a blank line between two entries, so printing the output again
//! makes the same decisions: the output is a fixed point.

use crate::syntax::cst::{Kind, Node, Token, TokenKind, Tree};

/// The width lines are kept within, where the layout can choose (strings are never split).
const WIDTH: usize = 100;
const INDENT: &str = "  ";
/// Blanks between code and a comment after it.
const COMMENT_GAP: usize = 2;
/// The room a line's text is given to begin with.
const LINE_CAPACITY: usize = 64;

#[derive(Debug, Default)]
struct Line<'s> {
    indent: usize,
    text: String,
    comment: Option<&'s str>,
    blank_before: bool,
    /// Where `=` goes in a one-line `name = …` setting (the length of `name`), for aligning.
    key: Option<usize>,
    /// A one-line entry whose clauses line up with the same entries around it: its kind and
    /// where each clause starts (column, byte offset in `text`).
    row: Option<(Kind, Vec<(usize, usize)>)>,
}

impl Line<'_> {
    /// A line holding only a comment.
    fn is_comment(&self) -> bool {
        self.text.starts_with('#')
    }

    /// The column the line's code ends at (its last line, for a triple-quoted string).
    fn width(&self) -> usize {
        match self.text.rfind('\n') {
            Some(i) => self.text.len() - i - 1,
            None => self.indent * INDENT.len() + self.text.chars().count(),
        }
    }
}

/// Formats the tree of `src`.
pub(super) fn print(src: &str, tree: &Tree<'_>) -> String {
    let mut p = Printer::new(src, false);
    p.after_open = true;
    p.entries(&tree.children);
    let mut lines = p.lines;
    lines.push(p.cur);
    lines.retain(|l| !l.text.is_empty() || l.comment.is_some());
    align_keys(&mut lines);
    align_rows(&mut lines);
    render(&mut lines)
}

struct Printer<'s> {
    src: &'s str,
    /// The finished lines; `cur` is the one being built, the last of the output so far.
    lines: Vec<Line<'s>>,
    cur: Line<'s>,
    indent: usize,
    /// The next token starts a new line: a comment ended the current one.
    need_break: bool,
    /// Nothing has been printed since the last `{` (or the start): no blank line goes here.
    after_open: bool,
    /// The end of the last token printed, to find blank lines in the source.
    prev_end: usize,
    prev_kind: Option<TokenKind>,
    /// The entry whose `=` is to be marked for alignment: its first line's index.
    key_line: Option<usize>,
    /// Inside a condition: only the outermost one is broken when too long.
    in_condition: bool,
    /// Measuring: every block on one line, no condition broken.
    flat: bool,
}

impl<'s> Printer<'s> {
    fn new(src: &'s str, flat: bool) -> Self {
        Printer {
            src,
            lines: Vec::new(),
            cur: Line::default(),
            indent: 0,
            need_break: false,
            after_open: false,
            prev_end: 0,
            prev_kind: None,
            key_line: None,
            in_condition: false,
            flat,
        }
    }

    /// Starts a line at `indent`.
    fn new_line(&mut self, indent: usize, blank_before: bool) {
        let next = Line {
            indent,
            blank_before,
            // Nearly every line is filled to tens of bytes: one allocation instead of four
            // or five as it grows (the measuring printers keep a single line).
            text: String::with_capacity(if self.flat { 0 } else { LINE_CAPACITY }),
            ..Line::default()
        };
        self.lines.push(std::mem::replace(&mut self.cur, next));
        self.need_break = false;
        self.after_open = false;
    }

    /// Whether the source has a blank line between the last token printed and `start`.
    fn blank_in_source(&self, start: usize) -> bool {
        !self.after_open
            && self
                .src
                .get(self.prev_end.min(start)..start)
                .is_some_and(|gap| gap.bytes().filter(|b| *b == b'\n').count() >= 2)
    }

    /// The entries of a block or of the file, one per line (the caller set the indent).
    fn entries(&mut self, nodes: &[Node<'s>]) {
        for node in nodes {
            match node {
                // Separators: a block on several lines needs none.
                Node::Token(t) if t.kind == TokenKind::Comma => {}
                Node::Token(t) if t.kind == TokenKind::Comment => self.comment(t),
                _ => {
                    let Some(start) = first_token(node).map(|t| t.start) else {
                        continue;
                    };
                    let blank = self.blank_in_source(start);
                    self.new_line(self.indent, blank);
                    let first = self.lines.len();
                    let outer = self.key_line.replace(first);
                    match node {
                        Node::Tree(t) if column_of(t.kind, t, 0).is_some() => self.row(t),
                        _ => self.node(node),
                    }
                    // Only an entry printed on one line takes part in alignment.
                    if self.lines.len() != first
                        && let Some(line) = self.lines.get_mut(first)
                    {
                        line.key = None;
                        line.row = None;
                    }
                    self.key_line = outer;
                }
            }
        }
    }

    fn comment(&mut self, t: &Token<'s>) {
        let trailing = {
            let line_start = self
                .src
                .get(..t.start)
                .and_then(|s| s.rfind('\n'))
                .map_or(0, |i| i + 1);
            self.src
                .get(line_start..t.start)
                .is_some_and(|s| !s.trim().is_empty())
        };
        if trailing && self.cur.comment.is_none() && !self.cur.text.is_empty() {
            self.cur.comment = Some(t.text);
        } else {
            let blank = self.blank_in_source(t.start);
            self.new_line(self.indent, blank);
            self.cur.text.push_str(t.text);
        }
        self.need_break = true;
        self.prev_end = t.end();
        self.prev_kind = Some(TokenKind::Comment);
    }

    fn node(&mut self, node: &Node<'s>) {
        match node {
            Node::Token(t) => self.token(t, Kind::Other),
            Node::Tree(t) => self.tree(t),
        }
    }

    fn tree(&mut self, tree: &Tree<'s>) {
        if tree.kind == Kind::Condition && !self.in_condition {
            self.in_condition = true;
            self.condition(tree);
            self.in_condition = false;
            return;
        }
        let open = tree
            .children
            .iter()
            .position(|n| matches!(n, Node::Token(t) if t.kind == TokenKind::LBrace));
        let close = tree
            .children
            .iter()
            .rposition(|n| matches!(n, Node::Token(t) if t.kind == TokenKind::RBrace));
        if let (Some(open), Some(close)) = (open, close)
            && open < close
            && let (
                Some(head),
                Some(Node::Token(lb)),
                Some(inner),
                Some(Node::Token(rb)),
                Some(tail),
            ) = (
                tree.children.get(..open),
                tree.children.get(open),
                tree.children.get(open + 1..close),
                tree.children.get(close),
                tree.children.get(close + 1..),
            )
        {
            for n in head {
                self.child(n, tree.kind);
            }
            self.block(lb, inner, rb);
            for n in tail {
                self.child(n, tree.kind);
            }
            return;
        }
        for n in &tree.children {
            self.child(n, tree.kind);
        }
    }

    /// An entry whose clauses are aligned in columns: where each clause starts is noted.
    fn row(&mut self, tree: &Tree<'s>) {
        let first = self.lines.len();
        let mut cells = Vec::new();
        for (i, n) in tree.children.iter().enumerate() {
            if let Some(column) = column_of(tree.kind, tree, i)
                && self.lines.len() == first
            {
                cells.push((column, self.cur.text.len()));
            }
            self.child(n, tree.kind);
        }
        if self.lines.len() == first {
            self.cur.row = Some((tree.kind, cells));
        }
    }

    fn child(&mut self, node: &Node<'s>, parent: Kind) {
        match node {
            Node::Token(t) => self.token(t, parent),
            Node::Tree(t) => self.tree(t),
        }
    }

    /// `{ … }`: on one line when the source had it so, it holds no comment and it fits;
    /// otherwise one entry per line, one level deeper.
    fn block(&mut self, lb: &Token<'s>, inner: &[Node<'s>], rb: &Token<'s>) {
        let entries = || {
            inner
                .iter()
                .filter(|n| !matches!(n, Node::Token(t) if t.kind == TokenKind::Comma))
        };
        let one_line = entries().next().is_none() || self.flat || self.fits_on_line(lb, inner, rb);
        self.token(lb, Kind::Other);
        // The `=` of a setting comes before its block, never inside it.
        self.key_line = None;
        if one_line {
            let mut prev: Option<&Node<'s>> = None;
            for e in entries() {
                if let Some(p) = prev
                    && !(kind_of(p) == Some(Kind::Analysis) && kind_of(e) == Some(Kind::NoData))
                {
                    self.word(",", TokenKind::Comma, None);
                }
                self.node(e);
                prev = Some(e);
            }
            self.token(rb, Kind::Other);
            return;
        }
        self.indent += 1;
        self.after_open = true;
        self.entries(inner);
        self.indent -= 1;
        self.new_line(self.indent, false);
        self.token(rb, Kind::Other);
    }

    fn fits_on_line(&self, lb: &Token<'s>, inner: &[Node<'s>], rb: &Token<'s>) -> bool {
        let one_line_in_source = self
            .src
            .get(lb.start..rb.end())
            .is_some_and(|s| !s.contains('\n'));
        if !one_line_in_source || inner.iter().any(has_comment) {
            return false;
        }
        let mut m = Printer::new(self.src, true);
        m.block(lb, inner, rb);
        self.cur.width() + 1 + m.cur.text.len() <= WIDTH
    }

    /// A condition too long for its line is broken before each of its `or` and `and`; the
    /// parts are indented one level more than the entry.
    fn condition(&mut self, tree: &Tree<'s>) {
        let long = !self.flat && !has_comment_tree(tree) && {
            let mut m = Printer::new(self.src, true);
            m.in_condition = true;
            for n in &tree.children {
                m.child(n, tree.kind);
            }
            self.cur.width() + 1 + m.cur.text.len() > WIDTH
        };
        for n in &tree.children {
            match n {
                Node::Token(t) if long && t.kind == TokenKind::Or => {
                    self.new_line(self.indent + 1, false);
                    self.token(t, tree.kind);
                }
                Node::Tree(and) if long && and.kind == Kind::CondAnd => {
                    for a in &and.children {
                        if let Node::Token(t) = a
                            && t.kind == TokenKind::And
                        {
                            self.new_line(self.indent + 1, false);
                        }
                        self.child(a, and.kind);
                    }
                }
                _ => self.child(n, tree.kind),
            }
        }
    }

    fn token(&mut self, t: &Token<'s>, parent: Kind) {
        if t.kind == TokenKind::Comment {
            self.comment(t);
            return;
        }
        self.word(t.text, t.kind, Some(parent));
        self.prev_end = t.end();
        if t.kind == TokenKind::Eq && self.key_line == Some(self.lines.len()) {
            // The name before ` =`.
            self.cur.key = self.cur.text.len().checked_sub(2);
            self.key_line = None;
        }
    }

    /// Appends one token's text with the blank the tokens around it call for.
    fn word(&mut self, text: &str, kind: TokenKind, parent: Option<Kind>) {
        if self.need_break {
            self.new_line(self.indent + 1, false);
        }
        let prev = self.prev_kind;
        let glued = matches!(
            kind,
            TokenKind::Comma | TokenKind::RParen | TokenKind::Colon | TokenKind::DotDot
        ) || matches!(prev, Some(TokenKind::LParen | TokenKind::DotDot))
            || (kind == TokenKind::RBrace && prev == Some(TokenKind::LBrace))
            || (kind == TokenKind::LParen && parent == Some(Kind::Params));
        if !self.cur.text.is_empty() && !glued {
            self.cur.text.push(' ');
        }
        self.cur.text.push_str(text);
        self.prev_kind = Some(kind);
    }
}

/// The column the `i`th child of a row entry starts, if it starts one (the first child
/// starts column 0); `None` for every child of a tree that is not a row.
fn column_of(kind: Kind, tree: &Tree<'_>, i: usize) -> Option<usize> {
    let node = tree.children.get(i)?;
    let word = match node {
        Node::Token(t) => Some(t.text),
        Node::Tree(_) => None,
    };
    let first_word = first_token(node).map(|t| t.text);
    let last_tree = tree
        .children
        .iter()
        .rposition(|n| matches!(n, Node::Tree(_)));
    let column = match kind {
        Kind::Step | Kind::Trigger | Kind::CommsEntry | Kind::FlagDay if i == 0 => 0,
        Kind::Step => match word? {
            "for" => 1,
            "require" => 2,
            _ => return None,
        },
        Kind::Trigger => match (word, first_word) {
            (Some("when"), _) => 1,
            (Some("for"), _) => 2,
            (None, Some("timeout")) => 3,
            _ => return None,
        },
        Kind::CommsEntry => match word {
            Some("notify") => 1,
            None if last_tree == Some(i) => 2,
            _ => return None,
        },
        // `day N`, then the percentage, then `of SEGMENT`.
        Kind::FlagDay => match (i, word?) {
            (2, _) => 1,
            (_, "of") => 2,
            _ => return None,
        },
        _ => return None,
    };
    Some(column)
}

fn kind_of(node: &Node<'_>) -> Option<Kind> {
    match node {
        Node::Tree(t) => Some(t.kind),
        Node::Token(_) => None,
    }
}

fn first_token<'a, 's>(node: &'a Node<'s>) -> Option<&'a Token<'s>> {
    match node {
        Node::Token(t) => Some(t),
        Node::Tree(t) => t.children.iter().find_map(first_token),
    }
}

fn has_comment(node: &Node<'_>) -> bool {
    match node {
        Node::Token(t) => t.kind == TokenKind::Comment,
        Node::Tree(t) => has_comment_tree(t),
    }
}

fn has_comment_tree(tree: &Tree<'_>) -> bool {
    tree.children.iter().any(has_comment)
}

/// The runs of lines that align together: lines with the same `key(line)` at one indent,
/// with only comment lines between them and no blank line from the first to the last.
fn runs<K: PartialEq>(lines: &[Line<'_>], key: impl Fn(&Line<'_>) -> Option<K>) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    let mut run_key: Option<(K, usize)> = None;
    for (i, line) in lines.iter().enumerate() {
        let k = key(line);
        let continues = !line.blank_before
            && match (&run_key, &k) {
                (Some((rk, indent)), Some(k)) => rk == k && *indent == line.indent,
                // A comment line neither ends a run nor takes part in it.
                (Some(_), None) => line.is_comment(),
                (None, _) => false,
            };
        if k.is_none() {
            if !continues {
                out.push(std::mem::take(&mut run));
                run_key = None;
            }
            continue;
        }
        if !continues {
            out.push(std::mem::take(&mut run));
        }
        run.push(i);
        run_key = k.map(|k| (k, line.indent));
    }
    out.push(run);
    out.retain(|r| r.len() > 1);
    out
}

/// Pads the names of consecutive one-line settings at one indent so their `=` line up; a
/// blank line or any line but a comment ends the run.
fn align_keys(lines: &mut [Line<'_>]) {
    for run in runs(lines, |l| l.key.map(|_| ())) {
        let Some(max) = run.iter().filter_map(|i| lines.get(*i)?.key).max() else {
            continue;
        };
        for i in run {
            if let Some(line) = lines.get_mut(i)
                && let Some(k) = line.key
                && k < max
                && line.text.is_char_boundary(k)
            {
                line.text.insert_str(k, &" ".repeat(max - k));
            }
        }
    }
}

/// Lines up the clauses of consecutive one-line entries of one kind at one indent (canary
/// steps, rollback triggers, comms entries, flag days): each clause is padded to the widest
/// of its column; a clause an entry does not have is left blank.
fn align_rows(lines: &mut [Line<'_>]) {
    for run in runs(lines, |l| l.row.as_ref().map(|(kind, _)| *kind)) {
        let split: Vec<Vec<(usize, String)>> = run
            .iter()
            .map(|i| lines.get(*i).map(cells).unwrap_or_default())
            .collect();
        let columns = split
            .iter()
            .flatten()
            .map(|(c, _)| c + 1)
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for (c, text) in split.iter().flatten() {
            if let Some(w) = widths.get_mut(*c) {
                *w = (*w).max(text.chars().count());
            }
        }
        for (i, row) in run.iter().zip(&split) {
            let mut text = String::new();
            for (c, width) in widths.iter().enumerate() {
                if *width == 0 {
                    continue;
                }
                let cell = row
                    .iter()
                    .find(|(k, _)| *k == c)
                    .map_or("", |(_, t)| t.as_str());
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(cell);
                text.push_str(&" ".repeat(width - cell.chars().count()));
            }
            if let Some(line) = lines.get_mut(*i) {
                line.text = text.trim_end().to_string();
            }
        }
    }
}

/// A row line cut at the starts of its clauses.
fn cells(line: &Line<'_>) -> Vec<(usize, String)> {
    let Some((_, starts)) = &line.row else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, (column, start)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(line.text.len(), |(_, e)| *e);
        let text = line.text.get(*start..end).unwrap_or("").trim();
        out.push((*column, text.to_string()));
    }
    out
}

/// The text of the lines; the comments after code on consecutive lines start at one column.
fn render(lines: &mut [Line<'_>]) -> String {
    let size: usize = lines
        .iter()
        .map(|l| l.indent * INDENT.len() + l.text.len() + l.comment.map_or(0, |c| c.len() + 8) + 2)
        .sum();
    let mut out = String::with_capacity(size);
    for run in
        lines.chunk_by_mut(|a, b| a.comment.is_some() && b.comment.is_some() && !b.blank_before)
    {
        let column = run
            .iter()
            .filter(|l| l.comment.is_some())
            .map(|l| l.width() + COMMENT_GAP)
            .max()
            .unwrap_or(0);
        for line in run.iter() {
            if line.blank_before {
                out.push('\n');
            }
            for _ in 0..line.indent {
                out.push_str(INDENT);
            }
            out.push_str(&line.text);
            if let Some(c) = line.comment {
                let pad = column.saturating_sub(line.width()).max(1);
                out.extend(std::iter::repeat_n(' ', pad));
                out.push_str(c);
            }
            out.push('\n');
        }
    }
    out
}
