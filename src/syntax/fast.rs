//! A hand-written parser for valid `.deploy` files, tried before pest.
//!
//! Pest spends most of its time on bookkeeping that only matters when a file is wrong: it
//! records every rule it tries so that a syntax error can list what was expected, probes
//! the native stack on every rule entry and snapshots its stack around every sequence. This
//! parser does none of that. It mirrors `grammar/deploy.pest` rule by rule as the same PEG
//! (ordered choice, greedy repetition, lookaheads) and builds the AST directly, exactly as
//! `parser.rs` builds it from pest's pairs, spans included.
//!
//! Invariant: whenever this returns a module, pest accepts the file and `parser.rs` builds
//! an identical module from it with no errors. On anything else it returns `None` and the
//! caller runs pest, which produces the module or today's syntax error; so the grammar stays
//! the definition of the language and the only source of syntax errors, and
//! `tests/fast_parser.rs` compares both parsers on every `.deploy` file of the repository
//! and on mutations of them.
//!
//! Mirroring pest exactly matters for spans. In a non-atomic rule pest skips whitespace and
//! comments between any two elements of a sequence, and does not undo that skip when the
//! next element is an optional or a repetition that matches nothing: a rule that ends with
//! `x?` or `x*` therefore ends after the blanks and comments that follow its last token.
//! The functions below skip at exactly the same places (`skip` between elements, `tok`/`kwt`
//! when a literal is followed by another element), so their spans come out the same.
//!
//! The formatter needs the concrete tree (`cst`), which pest's pairs give: [`parse_cst`]
//! runs the same parser recording those pairs as it matches them ([`Fast::rule`] around
//! each named rule, [`Fast::token`] for each atomic one, string, comment and named
//! punctuation), and `cst::from_events` turns them into the tree exactly as `cst::parse`
//! turns pest's. The skips being at pest's places, so are the comments, inside or after a
//! rule. `tests/fast_parser.rs` compares both trees wherever it compares the modules.
//!
//! Valid files this gives up on, leaving them to pest (each is covered by a test):
//! * literals the AST builder reports as errors: a number too large, an escape that is not a
//!   character, a time of day past 24:00 (pest's builder records those errors and they must
//!   come out in its order);
//! * conditions nested more than [`MAX_DEPTH`] parentheses deep (bounded recursion).

use super::ast::*;
use super::cst::{Event, Kind, Token, TokenKind, Tree};
use crate::source::{FileId, Span};

/// Parentheses nesting in conditions beyond which the parser gives up, so that deeply
/// nested input cannot overflow the stack; pest then decides.
const MAX_DEPTH: u32 = 64;

/// Parses a whole file, or `None` if it is not valid or not understood.
pub(crate) fn parse(file: FileId, src: &str) -> Option<Module> {
    if src.len() >= SPLIT_BYTES
        && let Some(parsed) = parse_in_pieces(file, src, PIECES)
    {
        return parsed;
    }
    let mut p = Fast::<false>::new(file, src);
    let items = p.file();
    if p.bail {
        return None;
    }
    let mut module = Module {
        items: items?,
        comments: p.comments,
        strings: p.strings,
    };
    super::parser::attach_docs(src, &mut module);
    Some(module)
}

/// Files from this size up are parsed in pieces on every core ([`parse_in_pieces`]); below
/// it, starting threads costs more than the parse.
const SPLIT_BYTES: usize = 64 * 1024;

/// How many pieces a large file is cut into: more than the cores, so that a thread that
/// starts late leaves its share to the others.
const PIECES: usize = 8;

/// Parses `src` in up to `pieces` pieces side by side, cut before lines that start with
/// `release ` (a service's history is mostly releases). The cuts are guesses, checked as
/// the pieces are parsed: `Some(result)` when every piece's items ended exactly where the
/// next piece starts, so that the pieces' items are the whole file's (the parser reads
/// the same bytes from the same position, whatever comes before); `None` when a cut fell
/// inside an item (in a multi-line string, say) or the file has too few cuts, and the
/// caller then parses it whole.
fn parse_in_pieces(file: FileId, src: &str, pieces: usize) -> Option<Option<Module>> {
    let cuts = cuts(src, pieces);
    if cuts.len() < 2 {
        return None;
    }
    let mut bounds: Vec<(usize, usize)> = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in &cuts {
        bounds.push((start, cut));
        start = cut;
    }
    bounds.push((start, src.len()));
    let parsed = crate::parallel::map(&bounds, |&(start, end)| {
        let mut p = Fast::<false>::new(file, src);
        let piece = p.piece(start, end);
        (piece, p.bail, p.comments, p.strings)
    });
    let mut module = Module {
        items: Vec::new(),
        comments: Vec::new(),
        strings: Vec::new(),
    };
    for (piece, bail, comments, strings) in parsed {
        match piece {
            // Every piece before this one ended where this one starts, so this one starts
            // where the whole parse would be: what it finds, the whole parse finds.
            // A cut inside an item: the pieces after it say nothing about the whole file.
            Piece::Overran => return None,
            // An item that does not parse: the whole parse fails on it too.
            Piece::Failed => return Some(None),
            Piece::Items(_) if bail => return Some(None),
            Piece::Items(items) => {
                module.items.extend(items);
                module.comments.extend(comments);
                module.strings.extend(strings);
            }
        }
    }
    super::parser::attach_docs(src, &mut module);
    Some(Some(module))
}

/// Where [`parse_in_pieces`] cuts `src`: after the newline of a line that starts with
/// `release `, the first such line after each `len / pieces` bytes, increasing.
fn cuts(src: &str, pieces: usize) -> Vec<usize> {
    let b = src.as_bytes();
    let step = (b.len() / pieces.max(1)).max(1);
    let mut out: Vec<usize> = Vec::new();
    let mut from = step;
    while from < b.len() {
        let Some(found) = b
            .get(from..)
            .and_then(|rest| rest.windows(9).position(|w| w == b"\nrelease "))
        else {
            break;
        };
        let cut = from + found + 1;
        if out.last().is_none_or(|last| *last < cut) {
            out.push(cut);
        }
        from = (cut + 1).max(from + step);
    }
    out
}

/// How one piece of a file parsed.
enum Piece {
    /// Its items, ending exactly at the piece's end.
    Items(Vec<Item>),
    /// An item ran past the piece's end.
    Overran,
    /// An item did not parse.
    Failed,
}

/// The parse of the whole file is `skip, item, (skip, item)*, skip, end`: a piece runs the
/// same steps from `start`, where the whole parse would be after a skip, and must land
/// exactly on `end` after a skip.
impl<const CST: bool> Fast<'_, CST> {
    fn piece(&mut self, start: usize, end: usize) -> Piece {
        self.pos = start;
        self.skip();
        let mut items = Vec::new();
        loop {
            if self.pos == end {
                return Piece::Items(items);
            }
            if self.pos > end {
                return Piece::Overran;
            }
            match self.item() {
                Some(item) => items.push(item),
                None => return Piece::Failed,
            }
            self.skip();
        }
    }
}

/// [`parse`] of a file cut into `pieces` pieces whatever its size, for the tests that
/// compare it with the parse of the whole file: `None` where it falls back to the whole.
pub(crate) fn parse_pieces_only(file: FileId, src: &str, pieces: usize) -> Option<Option<Module>> {
    parse_in_pieces(file, src, pieces)
}

/// The concrete tree of a file (the one `cst::parse` builds from pest's pairs), or `None`
/// where [`parse`] returns `None`: the formatter then takes pest's path.
pub(crate) fn parse_cst(file: FileId, src: &str) -> Option<Tree<'_>> {
    let mut p = Fast::<true>::new(file, src);
    p.file()?;
    if p.bail {
        return None;
    }
    Some(super::cst::from_events(src, &p.events))
}

/// `CST` says whether the parser also records the concrete tree ([`Fast::events`]); it is a
/// constant so that `deployc check`, which does not need the tree, pays nothing for it.
struct Fast<'s, const CST: bool> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    file: FileId,
    /// Comments skipped so far, in file order: pest keeps them as pairs wherever they are.
    comments: Vec<Comment>,
    /// Spans of the string literals matched so far, in file order.
    strings: Vec<Span>,
    depth: u32,
    /// Set when the input is valid but this parser leaves it to pest (see the module docs):
    /// a plain `None` only means that a rule did not match and an alternative may.
    bail: bool,
    /// With `CST`: the pairs pest would produce, as they are matched (rules opened and
    /// closed, tokens). Like the comments, they are cut back when an alternative fails.
    events: Vec<Event<'s>>,
}

/// Where to come back to when an alternative fails.
#[derive(Clone, Copy)]
struct Mark {
    pos: usize,
    comments: usize,
    strings: usize,
    events: usize,
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `[a, rest…]` for the `x ~ ("," ~ x)*` lists of the grammar.
fn prepend<T>(first: T, rest: Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(rest.len() + 1);
    out.push(first);
    out.extend(rest);
    out
}

/// Milliseconds of `10m`, `-5s`, `T-24h`, `T-0` or `+4h`: the same conversion as the pest
/// builder's, `None` where it would report an error.
fn duration_value(text: &str) -> Option<Millis> {
    let t = text.trim_start_matches('T');
    let (sign, rest) = match t.chars().next() {
        Some('-') => (-1, t.get(1..).unwrap_or("")),
        Some('+') => (1, t.get(1..).unwrap_or("")),
        _ => (1, text),
    };
    let digits_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(rest.len());
    let (num, unit) = rest.split_at(digits_end);
    let factor: i64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => 0, // `T-0`
    };
    let n = if num.contains('_') {
        num.replace('_', "").parse::<i64>().ok()?
    } else {
        num.parse::<i64>().ok()?
    };
    n.checked_mul(factor)?.checked_mul(sign)
}

/// A finite number, `None` where the builder would report one too large.
fn number_value(text: &str) -> Option<f64> {
    let parsed = if text.contains('_') {
        text.replace('_', "").parse::<f64>()
    } else {
        text.parse::<f64>()
    };
    parsed.ok().filter(|v| v.is_finite())
}

fn int_value(text: &str) -> Option<u64> {
    if text.contains('_') {
        text.replace('_', "").parse::<u64>().ok()
    } else {
        text.parse::<u64>().ok()
    }
}

fn no_analysis() -> Analysis {
    Analysis {
        every: None,
        no_data: None,
        span: None,
    }
}

impl<'s, const CST: bool> Fast<'s, CST> {
    // -----------------------------------------------------------------------------------------
    // Machinery

    fn new(file: FileId, src: &'s str) -> Self {
        Fast {
            src,
            b: src.as_bytes(),
            pos: 0,
            file,
            comments: Vec::new(),
            strings: Vec::new(),
            depth: 0,
            bail: false,
            // Reserved up front (real programs have an event every five to ten bytes) so that
            // it is grown at most a few times.
            events: Vec::with_capacity(if CST { src.len() / 8 } else { 0 }),
        }
    }

    /// A named rule of the grammar: what `f` matches is one pair, grouped in the concrete
    /// tree as pest groups it.
    #[inline(always)]
    fn rule<T>(&mut self, kind: Kind, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        if !CST {
            return f(self);
        }
        let n = self.events.len();
        self.events.push(Event::Open {
            kind,
            start: self.pos,
        });
        let r = f(self);
        if r.is_some() {
            self.events.push(Event::Close { end: self.pos });
        } else {
            self.events.truncate(n);
        }
        r
    }

    /// A token pest makes a pair of (an atomic rule, a string, a comment, punctuation):
    /// `start..self.pos`.
    #[inline(always)]
    fn token(&mut self, start: usize, kind: TokenKind) {
        if CST && let Some(text) = self.src.get(start..self.pos) {
            // As `cst` trims pairs: a comment in a CRLF file ends before the `\r`.
            let text = text.trim_end();
            self.events.push(Event::Token(Token { text, start, kind }));
        }
    }

    fn byte(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    fn rest(&self) -> &'s [u8] {
        self.b.get(self.pos..).unwrap_or(&[])
    }

    fn span_from(&self, start: usize) -> Span {
        Span::new(self.file, start, self.pos)
    }

    fn text(&self, start: usize, end: usize) -> Option<&'s str> {
        self.src.get(start..end)
    }

    /// The text `start..end` as the module's value. The concrete tree borrows the source
    /// instead, and the module is dropped unread when the tree is recorded: no copy then.
    fn owned(&self, start: usize, end: usize) -> Option<String> {
        let text = self.text(start, end)?;
        Some(if CST { String::new() } else { text.to_string() })
    }

    fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            comments: self.comments.len(),
            strings: self.strings.len(),
            events: self.events.len(),
        }
    }

    fn reset(&mut self, m: Mark) {
        self.pos = m.pos;
        self.comments.truncate(m.comments);
        self.strings.truncate(m.strings);
        if CST {
            self.events.truncate(m.events);
        }
    }

    /// Leaves the file to pest (see [`Fast::bail`]).
    fn give_up<T>(&mut self) -> Option<T> {
        self.bail = true;
        None
    }

    /// `word ~ value` as a rule of its own, tried: an optional clause such as `verify "…"`.
    fn clause<T>(&mut self, word: &str, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok(word)?;
                value(p)
            })
        })
    }

    /// One alternative, an optional or a lookahead: on failure nothing was consumed.
    fn attempt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let m = self.mark();
        let r = f(self);
        if r.is_none() {
            self.reset(m);
        }
        r
    }

    /// `x*` in a non-atomic rule: pest skips before every repetition but the first, and
    /// undoes that skip with the repetition that fails.
    fn rep<T>(&mut self, mut f: impl FnMut(&mut Self) -> Option<T>) -> Vec<T> {
        let mut out = Vec::new();
        match self.attempt(&mut f) {
            Some(v) => out.push(v),
            None => return out,
        }
        loop {
            let m = self.mark();
            self.skip();
            match f(self) {
                Some(v) => out.push(v),
                None => {
                    self.reset(m);
                    return out;
                }
            }
        }
    }

    /// Pest's implicit `(WHITESPACE | COMMENT)*`, keeping the comments.
    fn skip(&mut self) {
        loop {
            while matches!(self.byte(self.pos), b' ' | b'\t' | b'\r' | b'\n') {
                self.pos += 1;
            }
            if self.byte(self.pos) != b'#' {
                return;
            }
            let start = self.pos;
            let end = self
                .rest()
                .iter()
                .position(|&c| c == b'\n')
                .map_or(self.b.len(), |n| start + n);
            self.pos = end;
            self.token(start, TokenKind::Comment);
            // The tree keeps the comments in place; the module is not built from it.
            if !CST {
                self.comments.push(Comment {
                    text: self.text(start, end).unwrap_or("").to_string(),
                    span: Span::new(self.file, start, end),
                });
            }
        }
    }

    /// A literal string of the grammar (no lookahead: `"health"` also matches the start of
    /// `healthy`).
    fn lit(&mut self, s: &str) -> Option<()> {
        if self.rest().starts_with(s.as_bytes()) {
            self.pos += s.len();
            if CST {
                // The punctuation the grammar names (`lb`, `eq`, …) is a pair; other
                // literals are recovered from the gaps between pairs, as `cst` does.
                let kind = match s {
                    "{" => Some(TokenKind::LBrace),
                    "}" => Some(TokenKind::RBrace),
                    "(" => Some(TokenKind::LParen),
                    ")" => Some(TokenKind::RParen),
                    "=" => Some(TokenKind::Eq),
                    ":" => Some(TokenKind::Colon),
                    _ => None,
                };
                if let Some(kind) = kind {
                    self.token(self.pos - s.len(), kind);
                }
            }
            Some(())
        } else {
            None
        }
    }

    /// A literal followed by another element of the same sequence.
    fn tok(&mut self, s: &str) -> Option<()> {
        self.lit(s)?;
        self.skip();
        Some(())
    }

    /// A `kw_*` rule: the word not followed by an identifier character.
    fn kw(&mut self, s: &str) -> Option<()> {
        let rest = self.rest();
        if rest.starts_with(s.as_bytes()) && !is_ident_char(rest.get(s.len()).copied().unwrap_or(0))
        {
            self.pos += s.len();
            let kind = match s {
                "and" => TokenKind::And,
                "or" => TokenKind::Or,
                _ => TokenKind::Word,
            };
            self.token(self.pos - s.len(), kind);
            Some(())
        } else {
            None
        }
    }

    /// A keyword followed by another element of the same sequence.
    fn kwt(&mut self, s: &str) -> Option<()> {
        self.kw(s)?;
        self.skip();
        Some(())
    }

    /// `@{ ("a" | "b" | …) ~ !ident_char }`: the first word that matches is taken (ordered
    /// choice) and the lookahead then accepts or rejects it. Returns its index and span.
    fn word(&mut self, words: &[&str]) -> Option<(usize, Span)> {
        let rest = self.rest();
        let (i, w) = words
            .iter()
            .enumerate()
            .find(|(_, w)| rest.starts_with(w.as_bytes()))?;
        if is_ident_char(rest.get(w.len()).copied().unwrap_or(0)) {
            return None;
        }
        let start = self.pos;
        self.pos += w.len();
        self.token(start, TokenKind::Word);
        Some((i, self.span_from(start)))
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.byte(self.pos) == c {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    // -----------------------------------------------------------------------------------------
    // Lexical rules (atomic: no skipping inside)

    /// End of `ident` at `i`: `(LOWER | "_") ~ (LOWER | DIGIT | "_")* ~ !UPPER`.
    fn ident_end(&self, i: usize) -> Option<usize> {
        if !matches!(self.byte(i), b'a'..=b'z' | b'_') {
            return None;
        }
        let mut j = i + 1;
        while matches!(self.byte(j), b'a'..=b'z' | b'0'..=b'9' | b'_') {
            j += 1;
        }
        if self.byte(j).is_ascii_uppercase() {
            return None;
        }
        Some(j)
    }

    fn ident(&mut self) -> Option<Ident> {
        let start = self.pos;
        let ident = self.ident_in_path()?;
        self.token(start, TokenKind::Word);
        Some(ident)
    }

    /// `ident` as part of a `path`, which is one token.
    fn ident_in_path(&mut self) -> Option<Ident> {
        let start = self.pos;
        let end = self.ident_end(start)?;
        let name = self.owned(start, end)?;
        self.pos = end;
        Some(Ident {
            name,
            span: self.span_from(start),
        })
    }

    /// `path = ${ ident ~ ("." ~ ident)* }`.
    fn path(&mut self) -> Option<Path> {
        let start = self.pos;
        let mut segments = vec![self.ident_in_path()?];
        while self.byte(self.pos) == b'.' {
            let dot = self.pos;
            self.pos += 1;
            match self.ident_in_path() {
                Some(i) => segments.push(i),
                None => {
                    self.pos = dot;
                    break;
                }
            }
        }
        self.token(start, TokenKind::Word);
        Some(Path {
            segments,
            span: self.span_from(start),
        })
    }

    /// `env_var = @{ (UPPER | "_") ~ (UPPER | DIGIT | "_")* ~ !ident_char }`.
    fn env_var(&mut self) -> Option<String> {
        let start = self.pos;
        if !matches!(self.byte(start), b'A'..=b'Z' | b'_') {
            return None;
        }
        let mut j = start + 1;
        while matches!(self.byte(j), b'A'..=b'Z' | b'0'..=b'9' | b'_') {
            j += 1;
        }
        if is_ident_char(self.byte(j)) {
            return None;
        }
        let var = self.owned(start, j)?;
        self.pos = j;
        self.token(start, TokenKind::Word);
        Some(var)
    }

    /// End of `digits` at `i`: `DIGIT ~ (DIGIT | "_" ~ DIGIT)*`.
    fn digits_end(&self, i: usize) -> Option<usize> {
        if !self.byte(i).is_ascii_digit() {
            return None;
        }
        let mut j = i + 1;
        loop {
            let c = self.byte(j);
            if c.is_ascii_digit() {
                j += 1;
            } else if c == b'_' && self.byte(j + 1).is_ascii_digit() {
                j += 2;
            } else {
                return Some(j);
            }
        }
    }

    /// End of `unsigned` at `i`: `digits ~ ("." ~ DIGIT+)?`.
    fn unsigned_end(&self, i: usize) -> Option<usize> {
        let mut j = self.digits_end(i)?;
        if self.byte(j) == b'.' && self.byte(j + 1).is_ascii_digit() {
            j += 2;
            while self.byte(j).is_ascii_digit() {
                j += 1;
            }
        }
        Some(j)
    }

    /// End of `duration_unit` at `i`: `"ms" | "s" | "m" | "h" | "d" | "w"`, in that order.
    fn unit_end(&self, i: usize) -> Option<usize> {
        match self.byte(i) {
            b'm' if self.byte(i + 1) == b's' => Some(i + 2),
            b's' | b'm' | b'h' | b'd' | b'w' => Some(i + 1),
            _ => None,
        }
    }

    /// `int = @{ digits ~ !("." | ident_char | "%" | "/" | ":") }`.
    fn int(&mut self) -> Option<Spanned<u64>> {
        let start = self.pos;
        let end = self.digits_end(start)?;
        let next = self.byte(end);
        if matches!(next, b'.' | b'%' | b'/' | b':') || is_ident_char(next) {
            return None;
        }
        let Some(value) = int_value(self.text(start, end)?) else {
            return self.give_up();
        };
        self.pos = end;
        self.token(start, TokenKind::Word);
        Some(Spanned {
            value,
            span: self.span_from(start),
        })
    }

    /// `number = @{ digits ~ ("." ~ DIGIT+)? ~ !(ident_char | "%" | "/" | ":") }`.
    fn number(&mut self) -> Option<Spanned<f64>> {
        let start = self.pos;
        let end = self.unsigned_end(start)?;
        let next = self.byte(end);
        if matches!(next, b'%' | b'/' | b':') || is_ident_char(next) {
            return None;
        }
        let Some(value) = number_value(self.text(start, end)?) else {
            return self.give_up();
        };
        self.pos = end;
        self.token(start, TokenKind::Word);
        Some(Spanned {
            value,
            span: self.span_from(start),
        })
    }

    /// Converts the duration-like literal `start..end` and moves past it.
    fn millis(&mut self, start: usize, end: usize) -> Option<Spanned<Millis>> {
        let Some(value) = duration_value(self.text(start, end)?) else {
            return self.give_up();
        };
        self.pos = end;
        self.token(start, TokenKind::Word);
        Some(Spanned {
            value,
            span: self.span_from(start),
        })
    }

    /// `duration = @{ "-"? ~ digits ~ duration_unit ~ !ident_char }`.
    fn duration(&mut self) -> Option<Spanned<Millis>> {
        let start = self.pos;
        let i = if self.byte(start) == b'-' {
            start + 1
        } else {
            start
        };
        let end = self.unit_end(self.digits_end(i)?)?;
        if is_ident_char(self.byte(end)) {
            return None;
        }
        self.millis(start, end)
    }

    /// `t_offset = @{ "T" ~ ("-" | "+") ~ (digits ~ duration_unit ~ !ident_char | "0" ~ !ident_char) }`.
    fn t_offset(&mut self) -> Option<Spanned<Millis>> {
        let start = self.pos;
        if self.byte(start) != b'T' || !matches!(self.byte(start + 1), b'-' | b'+') {
            return None;
        }
        let i = start + 2;
        let with_unit = self
            .digits_end(i)
            .and_then(|d| self.unit_end(d))
            .filter(|&e| !is_ident_char(self.byte(e)));
        let end = match with_unit {
            Some(e) => e,
            None if self.byte(i) == b'0' && !is_ident_char(self.byte(i + 1)) => i + 1,
            None => return None,
        };
        self.millis(start, end)
    }

    /// `checkin = @{ "+" ~ digits ~ duration_unit ~ !ident_char }`.
    fn checkin(&mut self) -> Option<Spanned<Millis>> {
        let start = self.pos;
        if self.byte(start) != b'+' {
            return None;
        }
        let end = self.unit_end(self.digits_end(start + 1)?)?;
        if is_ident_char(self.byte(end)) {
            return None;
        }
        self.millis(start, end)
    }

    /// `percent = @{ unsigned ~ "%" }`.
    fn percent(&mut self) -> Option<Spanned<f64>> {
        let start = self.pos;
        let end = self.unsigned_end(start)?;
        if self.byte(end) != b'%' {
            return None;
        }
        let Some(value) = number_value(self.text(start, end)?) else {
            return self.give_up();
        };
        self.pos = end + 1;
        self.token(start, TokenKind::Word);
        Some(Spanned {
            value,
            span: self.span_from(start),
        })
    }

    /// `multiplier = @{ unsigned ~ "x" ~ !ident_char }`, its value.
    fn multiplier(&mut self) -> Option<f64> {
        let start = self.pos;
        let end = self.unsigned_end(start)?;
        if self.byte(end) != b'x' || is_ident_char(self.byte(end + 1)) {
            return None;
        }
        let Some(value) = number_value(self.text(start, end)?) else {
            return self.give_up();
        };
        self.pos = end + 1;
        self.token(start, TokenKind::Word);
        Some(value)
    }

    /// `rate = @{ unsigned ~ "/" ~ ("s" | "m" | "h") ~ !ident_char }`.
    fn rate(&mut self) -> Option<Spanned<Rate>> {
        let start = self.pos;
        let end = self.unsigned_end(start)?;
        if self.byte(end) != b'/' {
            return None;
        }
        let per = match self.byte(end + 1) {
            b's' => TimeUnit::Second,
            b'm' => TimeUnit::Minute,
            b'h' => TimeUnit::Hour,
            _ => return None,
        };
        if is_ident_char(self.byte(end + 2)) {
            return None;
        }
        let Some(amount) = number_value(self.text(start, end)?) else {
            return self.give_up();
        };
        self.pos = end + 2;
        self.token(start, TokenKind::Word);
        Some(Spanned {
            value: Rate { amount, per },
            span: self.span_from(start),
        })
    }

    fn digits_exactly(&self, i: usize, n: usize) -> bool {
        (i..i + n).all(|j| self.byte(j).is_ascii_digit())
    }

    /// `date = @{ DIGIT{4} ~ "-" ~ DIGIT{2} ~ "-" ~ DIGIT{2} ~ !ident_char }`.
    fn date(&mut self) -> Option<Spanned<Date>> {
        let s = self.pos;
        let ok = self.digits_exactly(s, 4)
            && self.byte(s + 4) == b'-'
            && self.digits_exactly(s + 5, 2)
            && self.byte(s + 7) == b'-'
            && self.digits_exactly(s + 8, 2)
            && !is_ident_char(self.byte(s + 10));
        if !ok {
            return None;
        }
        let mut parts = self.text(s, s + 10)?.split('-');
        let year = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
        let month = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
        let day = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
        self.pos = s + 10;
        self.token(s, TokenKind::Word);
        Some(Spanned {
            value: Date { year, month, day },
            span: self.span_from(s),
        })
    }

    /// `time_of_day = @{ DIGIT{2} ~ colon ~ DIGIT{2} ~ !ident_char }`.
    fn time_of_day(&mut self) -> Option<Spanned<TimeOfDay>> {
        let s = self.pos;
        let ok = self.digits_exactly(s, 2)
            && self.byte(s + 2) == b':'
            && self.digits_exactly(s + 3, 2)
            && !is_ident_char(self.byte(s + 5));
        if !ok {
            return None;
        }
        let h: u32 = self.text(s, s + 2)?.parse().ok()?;
        let m: u32 = self.text(s + 3, s + 5)?.parse().ok()?;
        // The builder reports these as errors (`24:00` ends a day; anything past it is not a
        // time of day).
        if h > 24 || m > 59 || (h == 24 && m > 0) {
            return self.give_up();
        }
        self.pos = s + 5;
        self.token(s, TokenKind::Word);
        Some(Spanned {
            value: h * 60 + m,
            span: self.span_from(s),
        })
    }

    fn weekday(&mut self) -> Option<Spanned<Weekday>> {
        let (i, span) = self.word(&["mon", "tue", "wed", "thu", "fri", "sat", "sun"])?;
        Some(Spanned {
            value: Weekday::ALL.get(i).copied()?,
            span,
        })
    }

    /// End of an escape starting with the backslash at `i`.
    fn escape_end(&self, i: usize) -> Option<usize> {
        match self.byte(i + 1) {
            b'"' | b'\\' | b'n' | b't' | b'r' => Some(i + 2),
            b'u' if self.byte(i + 2) == b'{' => {
                let hex = i + 3;
                let mut j = hex;
                while j < hex + 6 && self.byte(j).is_ascii_hexdigit() {
                    j += 1;
                }
                (j > hex && self.byte(j) == b'}').then_some(j + 1)
            }
            _ => None,
        }
    }

    /// `string = ${ "\"" ~ str_inner ~ "\"" }`.
    fn string(&mut self) -> Option<StrLit> {
        let start = self.pos;
        if self.byte(start) != b'"' {
            return None;
        }
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            match self.b.get(i) {
                None | Some(b'\n') => return None,
                Some(b'"') => break,
                Some(b'\\') => {
                    i = self.escape_end(i)?;
                    escaped = true;
                }
                Some(_) => i += 1,
            }
        }
        let body = self.text(start + 1, i)?;
        let (value, escapes) = if escaped {
            // A `\u{…}` that is no character is the builder's error to report.
            let mut bad = false;
            let decoded = super::parser::decode_escapes(body, |_, _| bad = true);
            if bad {
                return self.give_up();
            }
            decoded
        } else {
            (self.owned(start + 1, i)?, Vec::new())
        };
        self.pos = i + 1;
        self.token(start, TokenKind::Text);
        let span = self.span_from(start);
        if !CST {
            self.strings.push(span);
        }
        Some(StrLit {
            value,
            span,
            escapes,
            quote_len: 1,
        })
    }

    /// `raw_string = ${ "\"\"\"" ~ raw_inner ~ "\"\"\"" }`: up to the first `"""`.
    fn raw_string(&mut self) -> Option<StrLit> {
        let start = self.pos;
        if !self.rest().starts_with(b"\"\"\"") {
            return None;
        }
        let content = start + 3;
        let len = self
            .b
            .get(content..)?
            .windows(3)
            .position(|w| w == b"\"\"\"")?;
        let value = self.owned(content, content + len)?;
        self.pos = content + len + 3;
        self.token(start, TokenKind::Text);
        let span = self.span_from(start);
        if !CST {
            self.strings.push(span);
        }
        Some(StrLit {
            value,
            span,
            escapes: Vec::new(),
            quote_len: 3,
        })
    }

    /// `text = _{ raw_string | string }`.
    fn text_lit(&mut self) -> Option<StrLit> {
        if let Some(s) = self.attempt(Self::raw_string) {
            return Some(s);
        }
        self.string()
    }

    // -----------------------------------------------------------------------------------------
    // Shared pieces

    /// `lb ~ (entry ~ ","?)* ~ rb`: the shape of every block.
    fn block(&mut self, mut entry: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.tok("{")?;
        self.rep(|p| {
            entry(p)?;
            p.skip();
            p.eat(b',');
            Some(())
        });
        self.skip();
        self.lit("}")
    }

    /// `(kw_timeout ~ duration)?`, after the skip that precedes it.
    fn opt_timeout(&mut self) -> Option<Spanned<Millis>> {
        self.attempt(|p| {
            p.kwt("timeout")?;
            p.duration()
        })
    }

    /// `(kw_for ~ duration)?`.
    fn opt_hold(&mut self) -> Option<Spanned<Millis>> {
        self.attempt(|p| {
            p.kwt("for")?;
            p.duration()
        })
    }

    /// `(kw_require ~ condition)?`.
    fn opt_require(&mut self) -> Option<Condition> {
        self.attempt(|p| {
            p.kwt("require")?;
            p.condition()
        })
    }

    /// `env_ref = { kw_env ~ env_var }`.
    fn env_ref(&mut self) -> Option<ValueSource> {
        self.rule(Kind::Other, Self::env_ref_pairs)
    }

    fn env_ref_pairs(&mut self) -> Option<ValueSource> {
        let start = self.pos;
        self.kwt("env")?;
        let var = self.env_var()?;
        Some(ValueSource::Env {
            var,
            span: self.span_from(start),
        })
    }

    /// `(env_ref | string)`.
    fn value_source(&mut self) -> Option<ValueSource> {
        if let Some(v) = self.attempt(Self::env_ref) {
            return Some(v);
        }
        self.string().map(ValueSource::Inline)
    }

    /// `run_command = { kw_run ~ string ~ (kw_timeout ~ duration)? }`.
    fn run_command(&mut self) -> Option<RunCommand> {
        self.rule(Kind::Other, Self::run_command_pairs)
    }

    fn run_command_pairs(&mut self) -> Option<RunCommand> {
        let start = self.pos;
        self.kwt("run")?;
        let command = self.string()?;
        self.skip();
        let timeout = self.opt_timeout();
        Some(RunCommand {
            command,
            timeout,
            span: self.span_from(start),
        })
    }

    /// `gate_timeout = { kw_timeout ~ duration ~ ("else" ~ gate_action)? }`.
    fn gate_timeout(&mut self) -> Option<GateTimeout> {
        self.rule(Kind::Other, Self::gate_timeout_pairs)
    }

    fn gate_timeout_pairs(&mut self) -> Option<GateTimeout> {
        let start = self.pos;
        self.kwt("timeout")?;
        let timeout = self.duration()?;
        self.skip();
        let action = self.attempt(|p| {
            p.tok("else")?;
            let (i, span) = p.word(&["abort", "continue", "rollback"])?;
            let value = match i {
                1 => GateAction::Continue,
                2 => GateAction::Rollback,
                _ => GateAction::Abort,
            };
            Some(Spanned { value, span })
        });
        Some(GateTimeout {
            timeout,
            action,
            span: self.span_from(start),
        })
    }

    /// `ident_list = { ident ~ ("," ~ !(ident ~ "=") ~ ident)* }`.
    fn ident_list(&mut self) -> Option<Vec<Ident>> {
        self.rule(Kind::Other, Self::ident_list_pairs)
    }

    fn ident_list_pairs(&mut self) -> Option<Vec<Ident>> {
        let first = self.ident()?;
        self.skip();
        let rest = self.rep(|p| {
            p.tok(",")?;
            // The lookahead: the next name is the start of a `name =` setting.
            let m = p.mark();
            let setting = p.ident_end(p.pos).is_some_and(|end| {
                p.pos = end;
                p.skip();
                p.byte(p.pos) == b'='
            });
            p.reset(m);
            if setting {
                return None;
            }
            p.ident()
        });
        Some(prepend(first, rest))
    }

    /// `(ident ~ ("," ~ ident)*)?` inside parentheses: `args` of a block use.
    fn args(&mut self) -> Option<Vec<Ident>> {
        self.rule(Kind::Params, Self::args_pairs)
    }

    fn args_pairs(&mut self) -> Option<Vec<Ident>> {
        self.tok("(")?;
        let list = self
            .attempt(|p| {
                let first = p.ident()?;
                p.skip();
                let rest = p.rep(|p| {
                    p.tok(",")?;
                    p.ident()
                });
                Some(prepend(first, rest))
            })
            .unwrap_or_default();
        self.skip();
        self.lit(")")?;
        Some(list)
    }

    /// `params = { lp ~ (param ~ ("," ~ param)*)? ~ rp }`.
    fn params(&mut self) -> Option<Vec<Param>> {
        self.rule(Kind::Params, Self::params_pairs)
    }

    fn params_pairs(&mut self) -> Option<Vec<Param>> {
        self.tok("(")?;
        let list = self
            .attempt(|p| {
                let first = p.param()?;
                p.skip();
                let rest = p.rep(|p| {
                    p.tok(",")?;
                    p.param()
                });
                Some(prepend(first, rest))
            })
            .unwrap_or_default();
        self.skip();
        self.lit(")")?;
        Some(list)
    }

    /// `param = { ident ~ colon ~ param_kind }`.
    fn param(&mut self) -> Option<Param> {
        self.rule(Kind::Other, Self::param_pairs)
    }

    fn param_pairs(&mut self) -> Option<Param> {
        let name = self.ident()?;
        self.skip();
        self.tok(":")?;
        let (i, span) = self.word(&["channel", "role", "metric"])?;
        let value = match i {
            0 => ParamKind::Channel,
            1 => ParamKind::Role,
            _ => ParamKind::Metric,
        };
        Some(Param {
            name,
            kind: Spanned { value, span },
        })
    }

    /// `params?` after a block name, then the skip before the next element.
    fn opt_params(&mut self) -> Vec<Param> {
        let params = self.attempt(Self::params).unwrap_or_default();
        self.skip();
        params
    }

    /// `block_use = { path ~ args? }`.
    fn block_use(&mut self) -> Option<BlockUse> {
        self.rule(Kind::Other, Self::block_use_pairs)
    }

    fn block_use_pairs(&mut self) -> Option<BlockUse> {
        let start = self.pos;
        let path = self.path()?;
        self.skip();
        let args = self.attempt(Self::args);
        Some(BlockUse {
            path,
            args,
            span: self.span_from(start),
        })
    }

    /// `(eq ~ block_use | BODY)` after `rollback`, `comms` or `checklist` in a release.
    fn use_or_body<T>(
        &mut self,
        start: usize,
        body: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Use<T>> {
        if let Some(u) = self.attempt(|p| {
            p.tok("=")?;
            p.block_use()
        }) {
            return Some(Use::Named(u));
        }
        let body = body(self)?;
        Some(Use::Inline {
            body,
            span: self.span_from(start),
        })
    }

    // -----------------------------------------------------------------------------------------
    // File and items

    /// `file = { SOI ~ item* ~ EOI }`.
    fn file(&mut self) -> Option<Vec<Item>> {
        self.skip();
        let items = self.rep(Self::item);
        self.skip();
        if self.pos != self.b.len() {
            return None;
        }
        Some(items)
    }

    fn item(&mut self) -> Option<Item> {
        // Every item starts with its own keyword, so at most one alternative can match.
        Some(match self.byte(self.pos) {
            b'i' => Item::Import(self.import()?),
            b's' => {
                if let Some(s) = self.attempt(Self::service) {
                    Item::Service(s)
                } else {
                    Item::Strategy(self.strategy_def()?)
                }
            }
            b'e' => Item::Environment(self.environment()?),
            b't' => Item::Team(self.team()?),
            b'c' => {
                if let Some(c) = self.attempt(Self::channel) {
                    Item::Channel(c)
                } else if let Some(c) = self.attempt(Self::comms_def) {
                    Item::Comms(c)
                } else {
                    Item::Checklist(self.checklist_def()?)
                }
            }
            b'm' => {
                if let Some(m) = self.attempt(Self::metric) {
                    Item::Metric(m)
                } else {
                    Item::Message(self.message_def()?)
                }
            }
            b'r' => {
                if let Some(r) = self.attempt(Self::rollback_def) {
                    Item::Rollback(r)
                } else {
                    Item::Release(self.release()?)
                }
            }
            _ => return None,
        })
    }

    /// `import = { kw_import ~ (string ~ kw_as ~ ident | path) }`.
    fn import(&mut self) -> Option<Import> {
        self.rule(Kind::Other, Self::import_pairs)
    }

    fn import_pairs(&mut self) -> Option<Import> {
        let start = self.pos;
        self.kwt("import")?;
        let file = self.attempt(|p| {
            let path = p.string()?;
            p.skip();
            p.kwt("as")?;
            let alias = p.ident()?;
            Some(ImportTarget::File { path, alias })
        });
        let target = match file {
            Some(t) => t,
            None => ImportTarget::Std(self.path()?),
        };
        Some(Import {
            target,
            span: self.span_from(start),
        })
    }

    /// `service = { kw_service ~ ident ~ lb ~ (service_entry ~ ","?)* ~ rb }`.
    fn service(&mut self) -> Option<Service> {
        self.rule(Kind::Other, Self::service_pairs)
    }

    fn service_pairs(&mut self) -> Option<Service> {
        let start = self.pos;
        self.kwt("service")?;
        let name = self.ident()?;
        self.skip();
        let (mut health, mut smoke, mut url) = (Vec::new(), Vec::new(), Vec::new());
        self.block(|p| {
            if let Some(h) = p.attempt(Self::health_setting) {
                health.push(h);
            } else if let Some(r) = p.attempt(|p| {
                // `smoke_setting = { "smoke" ~ eq ~ run_command }`.
                p.rule(Kind::Other, |p| {
                    p.tok("smoke")?;
                    p.tok("=")?;
                    p.run_command()
                })
            }) {
                smoke.push(r);
            } else {
                // `url_setting = { "url" ~ eq ~ string }`.
                url.push(p.rule(Kind::Other, |p| {
                    p.tok("url")?;
                    p.tok("=")?;
                    p.string()
                })?);
            }
            Some(())
        })?;
        Some(Service {
            name,
            health,
            smoke,
            url,
            doc: None,
            span: self.span_from(start),
        })
    }

    /// `health_setting = { "health" ~ eq ~ "http" ~ string ~ ("expect" ~ int)? ~ (kw_timeout ~ duration)? }`.
    fn health_setting(&mut self) -> Option<HealthCheck> {
        self.rule(Kind::Other, Self::health_setting_pairs)
    }

    fn health_setting_pairs(&mut self) -> Option<HealthCheck> {
        let start = self.pos;
        self.tok("health")?;
        self.tok("=")?;
        self.tok("http")?;
        let url = self.string()?;
        self.skip();
        let expect = self.attempt(|p| {
            p.tok("expect")?;
            p.int()
        });
        self.skip();
        let timeout = self.opt_timeout();
        Some(HealthCheck {
            url,
            expect,
            timeout,
            span: self.span_from(start),
        })
    }

    /// `environment = { kw_environment ~ ident ~ lb ~ (env_entry ~ ","?)* ~ rb }`.
    fn environment(&mut self) -> Option<Environment> {
        self.rule(Kind::Other, Self::environment_pairs)
    }

    fn environment_pairs(&mut self) -> Option<Environment> {
        let start = self.pos;
        self.kwt("environment")?;
        let name = self.ident()?;
        self.skip();
        let mut e = Environment::empty(name, Span::synthetic());
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        self.block(|p| {
            let start = p.pos;
            let setting = p.env_entry(&mut e)?;
            let span = p.span_from(start);
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == setting) {
                e.repeated.push((setting, *first, span));
            } else {
                seen.push((setting, span));
            }
            Some(())
        })?;
        e.span = self.span_from(start);
        Some(e)
    }

    /// One `env_entry`, stored in `e`; returns the setting's name.
    fn env_entry(&mut self, e: &mut Environment) -> Option<&'static str> {
        let start = self.pos;
        if let Some(i) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("requires")?;
                p.tok("=")?;
                p.ident()
            })
        }) {
            e.requires.push(i);
            return Some("requires");
        }
        if let Some(a) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("approval")?;
                p.tok("=")?;
                let role = p.ident()?;
                p.skip();
                let timeout = p.attempt(Self::gate_timeout);
                Some(Approval {
                    role,
                    timeout,
                    span: p.span_from(start),
                })
            })
        }) {
            e.approval.push(a);
            return Some("approval");
        }
        if let Some(v) = self.attempt(Self::provider_setting) {
            e.provider.push(v);
            return Some("provider");
        }
        if let Some(v) = self.attempt(Self::database_setting) {
            e.database.push(v);
            return Some("database");
        }
        if let Some(v) = self.attempt(Self::state_setting) {
            e.state.push(v);
            return Some("state");
        }
        if let Some(v) = self.attempt(Self::backup_setting) {
            e.backup.push(v);
            return Some("backup");
        }
        if let Some(v) = self.attempt(Self::metrics_setting) {
            e.metrics.push(v);
            return Some("metrics");
        }
        if let Some(v) = self.attempt(Self::window_setting) {
            e.window.push(v);
            return Some("window");
        }
        if let Some(v) = self.attempt(Self::freeze_setting) {
            e.freeze.extend(v);
            return Some("freeze");
        }
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("flags")?;
                p.tok("=")?;
                if let Some(s) = p.clause("command", Self::string) {
                    return Some(FlagDriver::Command(s));
                }
                p.rule(Kind::Other, |p| {
                    p.tok("file")?;
                    p.string().map(FlagDriver::File)
                })
            })
        }) {
            e.flags.push((v, self.span_from(start)));
            return Some("flags");
        }
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("url")?;
                p.tok("=")?;
                p.string()
            })
        }) {
            e.url.push(v);
            return Some("url");
        }
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("statement_timeout")?;
                p.tok("=")?;
                p.duration()
            })
        }) {
            e.statement_timeout.push(v);
            return Some("statement_timeout");
        }
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("lock_timeout")?;
                p.tok("=")?;
                p.duration()
            })
        }) {
            e.lock_timeout.push(v);
            return Some("lock_timeout");
        }
        if let Some((_, span)) = self.attempt(|p| p.word(&["production"])) {
            e.production = Some(span);
            return Some("production");
        }
        let v = self.env_release()?;
        e.release.push(v);
        Some("release")
    }

    /// `env_release = { kw_release ~ lb ~ (release_environment_entry ~ ","?)* ~ rb }`.
    fn env_release(&mut self) -> Option<ReleaseDefaults> {
        self.rule(Kind::Other, Self::env_release_pairs)
    }

    fn env_release_pairs(&mut self) -> Option<ReleaseDefaults> {
        let start = self.pos;
        self.kw("release")?;
        let keyword = self.span_from(start);
        self.skip();
        let r = self.settings_block(keyword)?;
        Some(ReleaseDefaults::from_entries(
            r,
            keyword,
            self.span_from(start),
        ))
    }

    /// `provider_setting = { "provider" ~ eq ~ (local_provider | command_provider |
    /// kubernetes_provider | argo_provider) }`.
    fn provider_setting(&mut self) -> Option<Provider> {
        self.rule(Kind::Other, Self::provider_setting_pairs)
    }

    fn provider_setting_pairs(&mut self) -> Option<Provider> {
        self.tok("provider")?;
        self.tok("=")?;
        if let Some(v) = self.attempt(Self::local_provider) {
            return Some(v);
        }
        if let Some(v) = self.attempt(Self::cluster_provider) {
            return Some(v);
        }
        self.rule(Kind::Other, Self::command_provider)
    }

    /// `command_provider = { "command" ~ lb ~ (command_entry ~ ","?)* ~ rb }`.
    fn command_provider(&mut self) -> Option<Provider> {
        let start = self.pos;
        self.tok("command")?;
        let mut actions = Vec::new();
        self.block(|p| {
            // `command_entry = { ident ~ eq ~ string ~ (kw_timeout ~ duration)? }`.
            let action = p.rule(Kind::Other, |p| {
                let start = p.pos;
                let action = p.ident()?;
                p.skip();
                p.tok("=")?;
                let command = p.string()?;
                p.skip();
                let timeout = p.opt_timeout();
                Some(CommandAction {
                    action,
                    command,
                    timeout,
                    span: p.span_from(start),
                })
            })?;
            actions.push(action);
            Some(())
        })?;
        Some(Provider::Command {
            actions,
            span: self.span_from(start),
        })
    }

    /// `kubernetes_provider = { "kubernetes" ~ lb ~ (cluster_entry ~ ","?)* ~ rb }` and
    /// `argo_provider = { "argo_rollouts" ~ lb ~ (cluster_entry ~ ","?)* ~ rb }`.
    fn cluster_provider(&mut self) -> Option<Provider> {
        self.rule(Kind::Other, Self::cluster_provider_pairs)
    }

    fn cluster_provider_pairs(&mut self) -> Option<Provider> {
        let start = self.pos;
        let kind = if self.attempt(|p| p.tok("kubernetes")).is_some() {
            ClusterKind::Kubernetes
        } else {
            self.tok("argo_rollouts")?;
            ClusterKind::ArgoRollouts
        };
        let mut settings = Vec::new();
        self.block(|p| {
            // `cluster_entry = { ident ~ eq ~ (env_ref | string | duration | int) }`.
            let setting = p.rule(Kind::Other, |p| {
                let start = p.pos;
                let name = p.ident()?;
                p.skip();
                p.tok("=")?;
                let value = if let Some(ValueSource::Env { var, span }) = p.attempt(Self::env_ref) {
                    ClusterValue::Env { var, span }
                } else if let Some(s) = p.attempt(Self::string) {
                    ClusterValue::Text(s)
                } else if let Some(d) = p.attempt(Self::duration) {
                    ClusterValue::Duration(d)
                } else {
                    ClusterValue::Int(p.int()?)
                };
                Some(ClusterSetting {
                    name,
                    value,
                    span: p.span_from(start),
                })
            })?;
            settings.push(setting);
            Some(())
        })?;
        Some(Provider::Cluster {
            kind,
            settings,
            span: self.span_from(start),
        })
    }

    /// `local_provider = { "local" ~ lb ~ (local_entry ~ ","?)* ~ rb }`.
    fn local_provider(&mut self) -> Option<Provider> {
        self.rule(Kind::Other, Self::local_provider_pairs)
    }

    fn local_provider_pairs(&mut self) -> Option<Provider> {
        let start = self.pos;
        self.tok("local")?;
        let (mut command, mut replicas, mut traffic) = (Vec::new(), Vec::new(), Vec::new());
        self.block(|p| {
            if let Some(s) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.tok("command")?;
                    p.tok("=")?;
                    p.string()
                })
            }) {
                command.push(s);
            } else if let Some(n) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.tok("replicas")?;
                    p.tok("=")?;
                    p.int()
                })
            }) {
                replicas.push(n);
            } else {
                // `local_traffic = { "traffic" ~ eq ~ rate ~ string ~ ("," ~ string)* }`.
                let t = p.rule(Kind::Other, |p| {
                    let start = p.pos;
                    p.tok("traffic")?;
                    p.tok("=")?;
                    let rate = p.rate()?;
                    p.skip();
                    let first = p.string()?;
                    p.skip();
                    let rest = p.rep(|p| {
                        p.tok(",")?;
                        p.string()
                    });
                    Some(Traffic {
                        rate,
                        paths: prepend(first, rest),
                        span: p.span_from(start),
                    })
                })?;
                traffic.push(t);
            }
            Some(())
        })?;
        Some(Provider::Local {
            command,
            replicas,
            traffic,
            span: self.span_from(start),
        })
    }

    /// `database_setting = { "database" ~ eq ~ (sqlite_db | postgres_db) }`.
    fn database_setting(&mut self) -> Option<Database> {
        self.rule(Kind::Other, Self::database_setting_pairs)
    }

    fn database_setting_pairs(&mut self) -> Option<Database> {
        self.tok("database")?;
        self.tok("=")?;
        let start = self.pos;
        if let Some(file) = self.clause("sqlite", Self::string) {
            return Some(Database::Sqlite {
                file,
                span: self.span_from(start),
            });
        }
        let url = self.rule(Kind::Other, |p| {
            p.tok("postgres")?;
            p.value_source()
        })?;
        Some(Database::Postgres {
            url,
            span: self.span_from(start),
        })
    }

    /// `state_setting = { "state" ~ eq ~ state_postgres }`, `state_postgres = { "postgres" ~
    /// env_ref }`.
    fn state_setting(&mut self) -> Option<StateStore> {
        self.rule(Kind::Other, Self::state_setting_pairs)
    }

    fn state_setting_pairs(&mut self) -> Option<StateStore> {
        self.tok("state")?;
        self.tok("=")?;
        let start = self.pos;
        let url = self.rule(Kind::Other, |p| {
            p.tok("postgres")?;
            p.env_ref()
        })?;
        Some(StateStore {
            url,
            span: self.span_from(start),
        })
    }

    /// `backup_setting = { "backup" ~ eq ~ (backup_run | backup_kind) }`.
    fn backup_setting(&mut self) -> Option<Backup> {
        self.rule(Kind::Other, Self::backup_setting_pairs)
    }

    fn backup_setting_pairs(&mut self) -> Option<Backup> {
        self.tok("backup")?;
        self.tok("=")?;
        let start = self.pos;
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.kwt("run")?;
                let command = p.string()?;
                // Pest skips before each optional, whether it matches or not.
                p.skip();
                let verify = p.clause("verify", Self::string);
                p.skip();
                let restore = p.clause("restore", Self::string);
                Some(Backup::Run {
                    command,
                    verify,
                    restore,
                    span: p.span_from(start),
                })
            })
        }) {
            return Some(v);
        }
        let (i, span) = self.word(&["pg_dump", "snapshot", "none"])?;
        Some(match i {
            0 => Backup::PgDump(span),
            1 => Backup::Snapshot(span),
            _ => Backup::None(span),
        })
    }

    /// `metrics_setting = { "metrics" ~ eq ~ (prometheus_source | probe_source | command_source) }`.
    fn metrics_setting(&mut self) -> Option<MetricsSource> {
        self.rule(Kind::Other, Self::metrics_setting_pairs)
    }

    fn metrics_setting_pairs(&mut self) -> Option<MetricsSource> {
        self.tok("metrics")?;
        self.tok("=")?;
        let start = self.pos;
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("prometheus")?;
                let url = p.value_source()?;
                p.skip();
                let timeout = p.opt_timeout();
                Some(MetricsSource::Prometheus {
                    url,
                    timeout,
                    span: p.span_from(start),
                })
            })
        }) {
            return Some(v);
        }
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("probe")?;
                let every = p.attempt(|p| {
                    p.kwt("every")?;
                    p.duration()
                });
                Some(MetricsSource::Probe {
                    every,
                    span: p.span_from(start),
                })
            })
        }) {
            return Some(v);
        }
        self.rule(Kind::Other, |p| {
            p.tok("command")?;
            let command = p.string()?;
            p.skip();
            let timeout = p.opt_timeout();
            Some(MetricsSource::Command {
                command,
                timeout,
                span: p.span_from(start),
            })
        })
    }

    /// `window_setting = { "window" ~ eq ~ weekday_range ~ time_range ~ string }`.
    fn window_setting(&mut self) -> Option<Window> {
        self.rule(Kind::Other, Self::window_setting_pairs)
    }

    fn window_setting_pairs(&mut self) -> Option<Window> {
        let start = self.pos;
        self.tok("window")?;
        self.tok("=")?;
        // `weekday_range = { weekday ~ (".." ~ weekday)? }`.
        let (first_day, last_day) = self.rule(Kind::Other, |p| {
            let first_day = p.weekday()?;
            p.skip();
            let last_day = p
                .attempt(|p| {
                    p.tok("..")?;
                    p.weekday()
                })
                .unwrap_or(first_day);
            Some((first_day, last_day))
        })?;
        self.skip();
        // `time_range = { time_of_day ~ ".." ~ time_of_day }`.
        let (from, to) = self.rule(Kind::Other, |p| {
            let from = p.time_of_day()?;
            p.skip();
            p.tok("..")?;
            Some((from, p.time_of_day()?))
        })?;
        self.skip();
        let time_zone = self.string()?;
        Some(Window {
            first_day,
            last_day,
            from,
            to,
            time_zone,
            span: self.span_from(start),
        })
    }

    /// `freeze_setting = { "freeze" ~ eq ~ date_range ~ ("," ~ date_range)* }`.
    fn freeze_setting(&mut self) -> Option<Vec<DateRange>> {
        self.rule(Kind::Other, Self::freeze_setting_pairs)
    }

    fn freeze_setting_pairs(&mut self) -> Option<Vec<DateRange>> {
        self.tok("freeze")?;
        self.tok("=")?;
        let first = self.date_range()?;
        self.skip();
        let rest = self.rep(|p| {
            p.tok(",")?;
            p.date_range()
        });
        Some(prepend(first, rest))
    }

    /// `date_range = { date ~ (".." ~ date)? }`.
    fn date_range(&mut self) -> Option<DateRange> {
        self.rule(Kind::Other, Self::date_range_pairs)
    }

    fn date_range_pairs(&mut self) -> Option<DateRange> {
        let start = self.pos;
        let from = self.date()?;
        self.skip();
        let to = self
            .attempt(|p| {
                p.tok("..")?;
                p.date()
            })
            .unwrap_or(from);
        Some(DateRange {
            from,
            to,
            span: self.span_from(start),
        })
    }

    /// `team = { kw_team ~ lb ~ (team_entry ~ ","?)* ~ rb }`.
    fn team(&mut self) -> Option<Team> {
        self.rule(Kind::Other, Self::team_pairs)
    }

    fn team_pairs(&mut self) -> Option<Team> {
        let start = self.pos;
        self.kwt("team")?;
        let (mut roles, mut rollback_decision) = (Vec::new(), Vec::new());
        self.block(|p| {
            let start = p.pos;
            if let Some(list) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.tok("rollback_decision")?;
                    p.tok("=")?;
                    p.ident_list()
                })
            }) {
                rollback_decision.push((list, p.span_from(start)));
                return Some(());
            }
            // `role_setting = { ident ~ eq ~ string }`.
            let role = p.rule(Kind::Other, |p| {
                let name = p.ident()?;
                p.skip();
                p.tok("=")?;
                let who = p.string()?;
                Some(Role {
                    name,
                    who,
                    span: p.span_from(start),
                })
            })?;
            roles.push(role);
            Some(())
        })?;
        Some(Team {
            roles,
            rollback_decision,
            span: self.span_from(start),
        })
    }

    /// `channel = { kw_channel ~ ident ~ eq ~ channel_kind ~ required_marker? }`.
    fn channel(&mut self) -> Option<Channel> {
        self.rule(Kind::Other, Self::channel_pairs)
    }

    fn channel_pairs(&mut self) -> Option<Channel> {
        let start = self.pos;
        self.kwt("channel")?;
        let name = self.ident()?;
        self.skip();
        self.tok("=")?;
        let kind = self.channel_kind()?;
        self.skip();
        let required = self.word(&["required"]).is_some();
        Some(Channel {
            name,
            kind,
            required,
            doc: None,
            span: self.span_from(start),
        })
    }

    fn channel_kind(&mut self) -> Option<ChannelKind> {
        if let Some(k) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("slack")?;
                let room = p.string()?;
                p.skip();
                p.tok("webhook")?;
                let webhook = p.value_source()?;
                Some(ChannelKind::Slack { room, webhook })
            })
        }) {
            return Some(k);
        }
        if let Some(k) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("email")?;
                let first = p.string()?;
                p.skip();
                let rest = p.rep(|p| {
                    p.tok(",")?;
                    p.string()
                });
                p.skip();
                let smtp = p.clause("smtp", Self::value_source);
                Some(ChannelKind::Email {
                    to: prepend(first, rest),
                    smtp,
                })
            })
        }) {
            return Some(k);
        }
        if let Some(k) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("webhook")?;
                p.value_source().map(|url| ChannelKind::Webhook { url })
            })
        }) {
            return Some(k);
        }
        if self.word(&["stdout"]).is_some() {
            return Some(ChannelKind::Stdout);
        }
        self.rule(Kind::Other, |p| {
            p.tok("file")?;
            p.string().map(|path| ChannelKind::File { path })
        })
    }

    /// `metric = { kw_metric ~ ident ~ colon ~ metric_kind ~ (metric_single | metric_multi) }`.
    fn metric(&mut self) -> Option<Metric> {
        self.rule(Kind::Other, Self::metric_pairs)
    }

    fn metric_pairs(&mut self) -> Option<Metric> {
        let start = self.pos;
        self.kwt("metric")?;
        let name = self.ident()?;
        self.skip();
        self.tok(":")?;
        let (i, span) = self.word(&["percent", "duration", "rate", "count", "number"])?;
        let value = match i {
            0 => MetricKind::Percent,
            1 => MetricKind::Duration,
            2 => MetricKind::Rate,
            3 => MetricKind::Count,
            _ => MetricKind::Number,
        };
        self.skip();
        let mut queries = Vec::new();
        let mut per = None;
        // `metric_single = { eq ~ metric_query ~ per_unit? }`.
        let single = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("=")?;
                // `metric_query = { source_kind ~ string }`.
                let (source, query) = p.rule(Kind::Other, |p| {
                    let source = p.source_kind()?;
                    p.skip();
                    Some((source, p.string()?))
                })?;
                p.skip();
                let unit = p.attempt(Self::per_unit);
                Some((MetricQuery { source, query }, unit))
            })
        });
        match single {
            Some((q, unit)) => {
                queries.push(q);
                per = unit;
            }
            None => {
                // `metric_multi = { lb ~ ((metric_query_setting | per_unit) ~ ","?)* ~ rb }`.
                self.rule(Kind::Other, |p| {
                    p.block(|p| {
                        if let Some(q) = p.attempt(|p| {
                            p.rule(Kind::Other, |p| {
                                let source = p.source_kind()?;
                                p.skip();
                                p.tok("=")?;
                                let query = p.string()?;
                                Some(MetricQuery { source, query })
                            })
                        }) {
                            queries.push(q);
                        } else {
                            per = Some(p.per_unit()?);
                        }
                        Some(())
                    })
                })?;
            }
        }
        Some(Metric {
            name,
            kind: Spanned { value, span },
            queries,
            per,
            doc: None,
            span: self.span_from(start),
        })
    }

    fn source_kind(&mut self) -> Option<Spanned<SourceKind>> {
        let (i, span) = self.word(&["prometheus", "probe", "command"])?;
        let value = match i {
            0 => SourceKind::Prometheus,
            1 => SourceKind::Probe,
            _ => SourceKind::Command,
        };
        Some(Spanned { value, span })
    }

    /// `per_unit = { "per" ~ time_unit }`.
    fn per_unit(&mut self) -> Option<Spanned<TimeUnit>> {
        self.rule(Kind::Other, Self::per_unit_pairs)
    }

    fn per_unit_pairs(&mut self) -> Option<Spanned<TimeUnit>> {
        self.tok("per")?;
        let (i, span) = self.word(&["second", "minute", "hour"])?;
        let value = match i {
            0 => TimeUnit::Second,
            1 => TimeUnit::Minute,
            _ => TimeUnit::Hour,
        };
        Some(Spanned { value, span })
    }

    /// `message_def = { kw_message ~ ident ~ eq ~ string }`.
    fn message_def(&mut self) -> Option<MessageDef> {
        self.rule(Kind::Other, Self::message_def_pairs)
    }

    fn message_def_pairs(&mut self) -> Option<MessageDef> {
        let start = self.pos;
        self.kwt("message")?;
        let name = self.ident()?;
        self.skip();
        self.tok("=")?;
        let text = self.string()?;
        Some(MessageDef {
            name,
            text,
            doc: None,
            span: self.span_from(start),
        })
    }

    /// The head the named definitions share: `kw ~ ident ~ params?`; returns where it starts.
    fn def_head(&mut self, kw: &str) -> Option<(usize, Ident, Vec<Param>)> {
        let start = self.pos;
        self.kwt(kw)?;
        let name = self.ident()?;
        self.skip();
        let params = self.opt_params();
        Some((start, name, params))
    }

    /// `strategy_def = { kw_strategy ~ ident ~ params? ~ eq ~ strategy_expr }`.
    fn strategy_def(&mut self) -> Option<NamedStrategy> {
        self.rule(Kind::Other, Self::strategy_def_pairs)
    }

    fn strategy_def_pairs(&mut self) -> Option<NamedStrategy> {
        let (start, name, params) = self.def_head("strategy")?;
        self.tok("=")?;
        let strategy = self.strategy_expr()?;
        Some(NamedStrategy {
            name,
            params,
            strategy,
            doc: None,
            span: self.span_from(start),
        })
    }

    /// `rollback_def = { kw_rollback ~ ident ~ params? ~ rollback_body }`.
    fn rollback_def(&mut self) -> Option<NamedRollback> {
        self.rule(Kind::Other, Self::rollback_def_pairs)
    }

    fn rollback_def_pairs(&mut self) -> Option<NamedRollback> {
        let (start, name, params) = self.def_head("rollback")?;
        let triggers = self.rollback_body()?;
        Some(NamedRollback {
            name,
            params,
            triggers,
            doc: None,
            span: self.span_from(start),
        })
    }

    /// `comms_def = { kw_comms ~ ident ~ params? ~ comms_body }`.
    fn comms_def(&mut self) -> Option<NamedComms> {
        self.rule(Kind::Other, Self::comms_def_pairs)
    }

    fn comms_def_pairs(&mut self) -> Option<NamedComms> {
        let (start, name, params) = self.def_head("comms")?;
        let entries = self.comms_body()?;
        Some(NamedComms {
            name,
            params,
            entries,
            doc: None,
            span: self.span_from(start),
        })
    }

    /// `checklist_def = { kw_checklist ~ ident ~ params? ~ checklist_body }`.
    fn checklist_def(&mut self) -> Option<NamedChecklist> {
        self.rule(Kind::Other, Self::checklist_def_pairs)
    }

    fn checklist_def_pairs(&mut self) -> Option<NamedChecklist> {
        let (start, name, params) = self.def_head("checklist")?;
        let entries = self.checklist_body()?;
        Some(NamedChecklist {
            name,
            params,
            entries,
            doc: None,
            span: self.span_from(start),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Releases

    /// `release = { kw_release ~ string ~ lb ~ (release_entry ~ ","?)* ~ rb }`.
    fn release(&mut self) -> Option<Release> {
        self.rule(Kind::Other, Self::release_pairs)
    }

    fn release_pairs(&mut self) -> Option<Release> {
        let start = self.pos;
        self.kwt("release")?;
        let version = self.string()?;
        self.skip();
        let mut r = Release::empty(version, Span::synthetic());
        self.block(|p| p.release_entry(&mut r))?;
        r.span = self.span_from(start);
        Some(r)
    }

    fn release_entry(&mut self, r: &mut Release) -> Option<()> {
        let start = self.pos;
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("risk")?;
                p.tok("=")?;
                let (i, span) = p.word(&["low", "medium", "high"])?;
                let value = match i {
                    0 => Risk::Low,
                    1 => Risk::Medium,
                    _ => Risk::High,
                };
                Some(Spanned { value, span })
            })
        }) {
            r.risk.push(v);
            return Some(());
        }
        if let Some(v) = self.attempt(Self::strategy_setting) {
            r.strategy.push(v);
            return Some(());
        }
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.tok("migrations")?;
                let mut list = Vec::new();
                p.block(|p| {
                    list.push(p.migration()?);
                    Some(())
                })?;
                Some(list)
            })
        }) {
            r.migrations.extend(v);
            return Some(());
        }
        if let Some(v) = self.attempt(Self::flag) {
            r.flags.push(v);
            return Some(());
        }
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.kwt("rollback")?;
                p.use_or_body(start, Self::rollback_body)
            })
        }) {
            r.rollback.push(v);
            return Some(());
        }
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.kwt("comms")?;
                p.use_or_body(start, Self::comms_body)
            })
        }) {
            r.comms.push(v);
            return Some(());
        }
        if let Some(v) = self.attempt(Self::release_gate) {
            r.gates.push(v);
            return Some(());
        }
        if let Some(v) = self.attempt(Self::release_environment) {
            r.environments.push(v);
            return Some(());
        }
        if let Some(v) = self.attempt(Self::monitor) {
            r.monitor.push(v);
            return Some(());
        }
        let v = self.rule(Kind::Other, |p| {
            p.kwt("checklist")?;
            p.use_or_body(start, Self::checklist_body)
        })?;
        r.checklist.push(v);
        Some(())
    }

    /// `strategy_setting = { kw_strategy ~ eq ~ (strategy_expr | block_use) }`.
    fn strategy_setting(&mut self) -> Option<StrategyRef> {
        self.rule(Kind::Other, |p| {
            p.kwt("strategy")?;
            p.tok("=")?;
            if let Some(s) = p.attempt(Self::strategy_expr) {
                return Some(StrategyRef::Inline(s));
            }
            p.block_use().map(StrategyRef::Named)
        })
    }

    /// `release_environment = { "environment" ~ ident ~ lb ~ (release_environment_entry ~ ","?)* ~ rb }`
    /// with `release_environment_entry = _{ strategy_setting | monitor | checklist_setting | flag }`.
    fn release_environment(&mut self) -> Option<ReleaseEnvironment> {
        self.rule(Kind::Other, Self::release_environment_pairs)
    }

    fn release_environment_pairs(&mut self) -> Option<ReleaseEnvironment> {
        let start = self.pos;
        self.tok("environment")?;
        let environment = self.ident()?;
        self.skip();
        let r = self.settings_block(environment.span)?;
        Some(ReleaseEnvironment::from_entries(
            environment,
            r,
            self.span_from(start),
        ))
    }

    /// `lb ~ (release_environment_entry ~ ","?)* ~ rb` with `release_environment_entry = _{
    /// strategy_setting | monitor | checklist_setting | flag }`: the entries collected into a
    /// release-shaped value.
    fn settings_block(&mut self, at: Span) -> Option<Release> {
        let mut r = Release::empty(
            StrLit {
                value: String::new(),
                span: at,
                escapes: Vec::new(),
                quote_len: 0,
            },
            Span::synthetic(),
        );
        self.block(|p| {
            let entry = p.pos;
            if let Some(v) = p.attempt(Self::strategy_setting) {
                r.strategy.push(v);
                return Some(());
            }
            if let Some(v) = p.attempt(Self::monitor) {
                r.monitor.push(v);
                return Some(());
            }
            if let Some(v) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.kwt("checklist")?;
                    p.use_or_body(entry, Self::checklist_body)
                })
            }) {
                r.checklist.push(v);
                return Some(());
            }
            r.flags.push(p.flag()?);
            Some(())
        })?;
        Some(r)
    }

    /// `release_gate = { "approval" ~ kw_after ~ gate_place ~ "by" ~ ident ~ string ~ gate_timeout? }`
    /// with `gate_place = { gate_numbered ~ int | gate_named }`.
    fn release_gate(&mut self) -> Option<ReleaseGate> {
        self.rule(Kind::Other, Self::release_gate_pairs)
    }

    fn release_gate_pairs(&mut self) -> Option<ReleaseGate> {
        let start = self.pos;
        self.tok("approval")?;
        self.kwt("after")?;
        let place_start = self.pos;
        let value = self.rule(Kind::Other, |p| {
            let numbered = p.attempt(|p| {
                let (i, _) = p.word(&["step", "batch"])?;
                p.skip();
                let n = p.int()?.value;
                Some(if i == 0 {
                    GatePlace::Step(n)
                } else {
                    GatePlace::Batch(n)
                })
            });
            Some(match numbered {
                Some(v) => v,
                None => {
                    let (i, _) =
                        p.word(&["preview", "switch", "keep_previous", "recreate", "smoke"])?;
                    match i {
                        0 => GatePlace::Preview,
                        1 => GatePlace::Switch,
                        2 => GatePlace::KeepPrevious,
                        3 => GatePlace::Recreate,
                        _ => GatePlace::Smoke,
                    }
                }
            })
        })?;
        let place = Spanned {
            value,
            span: self.span_from(place_start),
        };
        self.skip();
        self.tok("by")?;
        let role = self.ident()?;
        self.skip();
        let text = self.string()?;
        self.skip();
        let timeout = self.attempt(Self::gate_timeout);
        Some(ReleaseGate {
            place,
            role,
            text,
            timeout,
            span: self.span_from(start),
        })
    }

    /// `monitor = { "monitor" ~ duration ~ ("then" ~ "checkins" ~ checkin ~ ("," ~ checkin)*)? }`.
    fn monitor(&mut self) -> Option<Monitor> {
        self.rule(Kind::Other, Self::monitor_pairs)
    }

    fn monitor_pairs(&mut self) -> Option<Monitor> {
        let start = self.pos;
        self.tok("monitor")?;
        let duration = self.duration()?;
        self.skip();
        let checkins = self
            .attempt(|p| {
                p.tok("then")?;
                p.tok("checkins")?;
                let first = p.checkin()?;
                p.skip();
                let rest = p.rep(|p| {
                    p.tok(",")?;
                    p.checkin()
                });
                Some(prepend(first, rest))
            })
            .unwrap_or_default();
        Some(Monitor {
            duration,
            checkins,
            span: self.span_from(start),
        })
    }

    /// `strategy_expr = _{ canary | blue_green | rolling | recreate | flags_only }`.
    fn strategy_expr(&mut self) -> Option<Strategy> {
        if let Some(s) = self.attempt(Self::canary) {
            return Some(s);
        }
        if let Some(s) = self.attempt(Self::blue_green) {
            return Some(s);
        }
        if let Some(s) = self.attempt(Self::rolling) {
            return Some(s);
        }
        if let Some(s) = self.attempt(Self::recreate) {
            return Some(s);
        }
        let (_, span) = self.word(&["flags_only"])?;
        Some(Strategy::FlagsOnly { span })
    }

    /// `analysis | no_data`, the entries every progressive strategy accepts; stored the way
    /// the builder's `analysis_clause` stores them.
    fn analysis_clause(&mut self, analysis: &mut Analysis) -> Option<()> {
        if let Some((every, no_data, span)) = self.attempt(|p| {
            // `analysis = { "analysis" ~ kw_every ~ duration ~ ("," ~ no_data)? }`.
            p.rule(Kind::Analysis, |p| {
                let start = p.pos;
                p.tok("analysis")?;
                p.kwt("every")?;
                let every = p.duration()?;
                p.skip();
                let no_data = p.attempt(|p| {
                    p.tok(",")?;
                    p.no_data()
                });
                Some((every, no_data, p.span_from(start)))
            })
        }) {
            analysis.every = Some(every);
            analysis.span = Some(span);
            if no_data.is_some() {
                analysis.no_data = no_data;
            }
            return Some(());
        }
        analysis.no_data = Some(self.no_data()?);
        Some(())
    }

    /// `no_data = { "no_data" ~ no_data_action ~ (kw_after ~ int)? }`.
    fn no_data(&mut self) -> Option<NoData> {
        self.rule(Kind::NoData, Self::no_data_pairs)
    }

    fn no_data_pairs(&mut self) -> Option<NoData> {
        let start = self.pos;
        self.tok("no_data")?;
        let (i, span) = self.word(&["fail", "pass", "pause"])?;
        let value = match i {
            1 => NoDataAction::Pass,
            2 => NoDataAction::Pause,
            _ => NoDataAction::Fail,
        };
        self.skip();
        let after = self.attempt(|p| {
            p.kwt("after")?;
            p.int()
        });
        Some(NoData {
            action: Spanned { value, span },
            after,
            span: self.span_from(start),
        })
    }

    /// `canary = { "canary" ~ lb ~ (canary_entry ~ ","?)* ~ rb }`.
    fn canary(&mut self) -> Option<Strategy> {
        self.rule(Kind::Other, Self::canary_pairs)
    }

    fn canary_pairs(&mut self) -> Option<Strategy> {
        let start = self.pos;
        self.tok("canary")?;
        let mut analysis = no_analysis();
        let mut steps = Vec::new();
        self.block(|p| {
            if p.attempt(|p| p.analysis_clause(&mut analysis)).is_some() {
                return Some(());
            }
            // `canary_step = { "step" ~ percent ~ (kw_for ~ duration)? ~ (kw_require ~ condition)? }`.
            let step = p.rule(Kind::Step, |p| {
                let start = p.pos;
                p.tok("step")?;
                let weight = p.percent()?;
                p.skip();
                let hold = p.opt_hold();
                p.skip();
                let require = p.opt_require();
                Some(CanaryStep {
                    weight,
                    hold,
                    require,
                    span: p.span_from(start),
                })
            })?;
            steps.push(step);
            Some(())
        })?;
        Some(Strategy::Canary {
            analysis,
            steps,
            span: self.span_from(start),
        })
    }

    /// `blue_green = { "blue_green" ~ lb ~ (blue_green_entry ~ ","?)* ~ rb }`.
    fn blue_green(&mut self) -> Option<Strategy> {
        self.rule(Kind::Other, Self::blue_green_pairs)
    }

    fn blue_green_pairs(&mut self) -> Option<Strategy> {
        let start = self.pos;
        self.tok("blue_green")?;
        let mut analysis = no_analysis();
        let (mut preview, mut switch, mut keep_previous) = (Vec::new(), Vec::new(), Vec::new());
        self.block(|p| {
            if p.attempt(|p| p.analysis_clause(&mut analysis)).is_some() {
                return Some(());
            }
            let start = p.pos;
            if let Some(v) = p.attempt(|p| {
                // `preview = { "preview" ~ (kw_for ~ duration)? ~ (kw_require ~ condition)? ~ smoke_marker? }`.
                p.rule(Kind::Other, |p| {
                    p.tok("preview")?;
                    let hold = p.opt_hold();
                    p.skip();
                    let require = p.opt_require();
                    p.skip();
                    let smoke = p.word(&["smoke"]).is_some();
                    Some(Preview {
                        hold,
                        require,
                        smoke,
                        span: p.span_from(start),
                    })
                })
            }) {
                preview.push(v);
                return Some(());
            }
            if let Some(v) = p.attempt(|p| {
                // `switch = { "switch" ~ (kw_after ~ "approval" ~ ident ~ gate_timeout?)? }`.
                p.rule(Kind::Other, |p| {
                    p.tok("switch")?;
                    let gate = p.attempt(|p| {
                        p.kwt("after")?;
                        p.tok("approval")?;
                        let role = p.ident()?;
                        p.skip();
                        Some((role, p.attempt(Self::gate_timeout)))
                    });
                    let span = p.span_from(start);
                    Some(Switch {
                        approval: gate.map(|(role, timeout)| Approval {
                            role,
                            timeout,
                            span,
                        }),
                        span,
                    })
                })
            }) {
                switch.push(v);
                return Some(());
            }
            let d = p.rule(Kind::Other, |p| {
                p.tok("keep_previous")?;
                p.duration()
            })?;
            keep_previous.push(d);
            Some(())
        })?;
        Some(Strategy::BlueGreen {
            analysis,
            preview,
            switch,
            keep_previous,
            span: self.span_from(start),
        })
    }

    /// `count_or_percent = _{ percent | int }`.
    fn count_or_percent(&mut self) -> Option<Spanned<CountOrPercent>> {
        if let Some(v) = self.attempt(Self::percent) {
            return Some(Spanned {
                value: CountOrPercent::Percent(v.value),
                span: v.span,
            });
        }
        let v = self.int()?;
        Some(Spanned {
            value: CountOrPercent::Count(v.value),
            span: v.span,
        })
    }

    /// `rolling = { "rolling" ~ lb ~ (rolling_entry ~ ","?)* ~ rb }`.
    fn rolling(&mut self) -> Option<Strategy> {
        self.rule(Kind::Other, Self::rolling_pairs)
    }

    fn rolling_pairs(&mut self) -> Option<Strategy> {
        let start = self.pos;
        self.tok("rolling")?;
        let mut analysis = no_analysis();
        let (mut batch, mut max_unavailable, mut health) = (Vec::new(), Vec::new(), Vec::new());
        self.block(|p| {
            if p.attempt(|p| p.analysis_clause(&mut analysis)).is_some() {
                return Some(());
            }
            if let Some(v) = p.clause("batch", Self::count_or_percent) {
                batch.push(v);
                return Some(());
            }
            if let Some(v) = p.clause("max_unavailable", Self::count_or_percent) {
                max_unavailable.push(v);
                return Some(());
            }
            // `rolling_health = { "health" ~ kw_every ~ duration ~ kw_timeout ~ duration ~
            // healthy_count? ~ unhealthy_count? }`.
            let h = p.rule(Kind::Other, |p| {
                let start = p.pos;
                p.tok("health")?;
                p.kwt("every")?;
                let every = p.duration()?;
                p.skip();
                p.kwt("timeout")?;
                let timeout = p.duration()?;
                p.skip();
                let healthy = p.clause("healthy", Self::int);
                p.skip();
                let unhealthy = p.clause("unhealthy", Self::int);
                Some(RollingHealth {
                    every,
                    timeout,
                    healthy,
                    unhealthy,
                    span: p.span_from(start),
                })
            })?;
            health.push(h);
            Some(())
        })?;
        Some(Strategy::Rolling {
            analysis,
            batch,
            max_unavailable,
            health,
            span: self.span_from(start),
        })
    }

    /// `recreate = { kw_recreate ~ (lb ~ (downtime ~ ","?)* ~ rb)? }`.
    fn recreate(&mut self) -> Option<Strategy> {
        self.rule(Kind::Other, Self::recreate_pairs)
    }

    fn recreate_pairs(&mut self) -> Option<Strategy> {
        let start = self.pos;
        self.kwt("recreate")?;
        let downtime = self
            .attempt(|p| {
                let mut list = Vec::new();
                p.block(|p| {
                    let d = p.rule(Kind::Other, |p| {
                        p.tok("downtime")?;
                        p.duration()
                    })?;
                    list.push(d);
                    Some(())
                })?;
                Some(list)
            })
            .unwrap_or_default();
        Some(Strategy::Recreate {
            downtime,
            span: self.span_from(start),
        })
    }

    /// `migration = { migration_phase ~ ident ~ (migration_after | migration_of)* ~ lb ~
    /// (migration_entry ~ ","?)* ~ rb }`.
    fn migration(&mut self) -> Option<Migration> {
        self.rule(Kind::Other, Self::migration_pairs)
    }

    fn migration_pairs(&mut self) -> Option<Migration> {
        let start = self.pos;
        let (i, span) = self.word(&["expand", "data", "index", "contract"])?;
        let phase = match i {
            0 => Phase::Expand,
            1 => Phase::Data,
            2 => Phase::Index,
            _ => Phase::Contract,
        };
        self.skip();
        let name = self.ident()?;
        self.skip();
        let (mut after, mut of) = (Vec::new(), Vec::new());
        self.rep(|p| {
            if let Some(list) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.kwt("after")?;
                    let first = p.ident()?;
                    p.skip();
                    let rest = p.rep(|p| {
                        p.tok(",")?;
                        p.ident()
                    });
                    Some(prepend(first, rest))
                })
            }) {
                after.extend(list);
                return Some(());
            }
            let x = p.rule(Kind::Other, |p| {
                p.kwt("of")?;
                p.ident()
            })?;
            of.push(x);
            Some(())
        });
        self.skip();
        let (mut up, mut down, mut batch, mut irreversible) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut verify, mut statement_timeout, mut lock_timeout) =
            (Vec::new(), Vec::new(), Vec::new());
        let mut batch_key = None;
        self.block(|p| {
            let start = p.pos;
            if let Some(s) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.tok("up")?;
                    p.tok("=")?;
                    p.sql_source()
                })
            }) {
                up.push((s, p.span_from(start)));
                return Some(());
            }
            if let Some(d) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.tok("down")?;
                    p.tok("=")?;
                    if let Some(why) = p.clause("noop", Self::string) {
                        return Some(Down::Noop(why));
                    }
                    p.sql_source().map(Down::Sql)
                })
            }) {
                down.push((d, p.span_from(start)));
                return Some(());
            }
            if let Some(v) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.tok("verify")?;
                    p.tok("=")?;
                    let query = p.sql_source()?;
                    p.skip();
                    p.tok("==")?;
                    let expect = match p.attempt(Self::int) {
                        Some(n) => Spanned {
                            value: Expected::Int(n.value),
                            span: n.span,
                        },
                        None => {
                            let s = p.string()?;
                            Spanned {
                                value: Expected::Text(s.value),
                                span: s.span,
                            }
                        }
                    };
                    Some(Verify { query, expect })
                })
            }) {
                verify.push((v, p.span_from(start)));
                return Some(());
            }
            if let Some((n, key)) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.tok("batch")?;
                    let n = p.int()?;
                    p.skip();
                    let key = p.attempt(|p| {
                        p.tok("by")?;
                        p.ident()
                    });
                    Some((n, key))
                })
            }) {
                batch.push(n);
                if key.is_some() {
                    batch_key = key;
                }
                return Some(());
            }
            if let Some(d) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.tok("statement_timeout")?;
                    p.tok("=")?;
                    p.duration()
                })
            }) {
                statement_timeout.push(d);
                return Some(());
            }
            if let Some(d) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.tok("lock_timeout")?;
                    p.tok("=")?;
                    p.duration()
                })
            }) {
                lock_timeout.push(d);
                return Some(());
            }
            let why = p.rule(Kind::Other, |p| {
                p.tok("irreversible")?;
                p.string()
            })?;
            irreversible.push((why, p.span_from(start)));
            Some(())
        })?;
        Some(Migration {
            phase: Spanned { value: phase, span },
            name,
            after,
            of,
            up,
            down,
            batch,
            batch_key,
            verify,
            statement_timeout,
            lock_timeout,
            irreversible,
            doc: None,
            span: self.span_from(start),
        })
    }

    /// `sql_source = _{ sql_text | sql_file }`.
    fn sql_source(&mut self) -> Option<SqlSource> {
        if let Some(s) = self.clause("sql", Self::text_lit) {
            return Some(SqlSource::Inline(s));
        }
        self.rule(Kind::Other, |p| {
            p.tok("file")?;
            p.string().map(SqlSource::File)
        })
    }

    /// `flag = { "flag" ~ ident ~ lb ~ (flag_entry ~ ","?)* ~ rb }`.
    fn flag(&mut self) -> Option<Flag> {
        self.rule(Kind::Other, Self::flag_pairs)
    }

    fn flag_pairs(&mut self) -> Option<Flag> {
        let start = self.pos;
        self.tok("flag")?;
        let name = self.ident()?;
        self.skip();
        let (mut initially, mut days, mut remove_by) = (Vec::new(), Vec::new(), Vec::new());
        self.block(|p| {
            if let Some(v) = p.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    p.tok("initially")?;
                    let (i, span) = p.word(&["on", "off"])?;
                    Some(Spanned {
                        value: i == 0,
                        span,
                    })
                })
            }) {
                initially.push(v);
                return Some(());
            }
            let start = p.pos;
            if let Some(v) = p.attempt(|p| {
                // `flag_day = { "day" ~ int ~ percent ~ (kw_of ~ ident)? }`.
                p.rule(Kind::FlagDay, |p| {
                    p.tok("day")?;
                    let day = p.int()?;
                    p.skip();
                    let percent = p.percent()?;
                    p.skip();
                    let segment = p.attempt(|p| {
                        p.kwt("of")?;
                        p.ident()
                    });
                    Some(FlagDay {
                        day,
                        percent,
                        segment,
                        span: p.span_from(start),
                    })
                })
            }) {
                days.push(v);
                return Some(());
            }
            let n = p.rule(Kind::Other, |p| {
                p.tok("remove")?;
                p.tok("by")?;
                p.tok("day")?;
                p.int()
            })?;
            remove_by.push(n);
            Some(())
        })?;
        Some(Flag {
            name,
            initially,
            days,
            remove_by,
            span: self.span_from(start),
        })
    }

    /// `rollback_body = { lb ~ (trigger ~ ","?)* ~ rb }`.
    fn rollback_body(&mut self) -> Option<Vec<Trigger>> {
        self.rule(Kind::Other, Self::rollback_body_pairs)
    }

    fn rollback_body_pairs(&mut self) -> Option<Vec<Trigger>> {
        let mut out = Vec::new();
        self.block(|p| {
            // `trigger = { trigger_kind ~ kw_when ~ condition ~ (kw_for ~ duration)? ~ gate_timeout? }`.
            let trigger = p.rule(Kind::Trigger, |p| {
                let start = p.pos;
                let (i, span) = p.word(&["auto", "manual"])?;
                let value = if i == 1 {
                    TriggerKind::Manual
                } else {
                    TriggerKind::Auto
                };
                p.skip();
                p.kwt("when")?;
                let condition = p.condition()?;
                p.skip();
                let hold = p.opt_hold();
                p.skip();
                let timeout = p.attempt(Self::gate_timeout);
                Some(Trigger {
                    kind: Spanned { value, span },
                    condition,
                    hold,
                    timeout,
                    span: p.span_from(start),
                })
            })?;
            out.push(trigger);
            Some(())
        })?;
        Some(out)
    }

    /// `comms_body = { lb ~ (comms_entry ~ ","?)* ~ rb }`.
    fn comms_body(&mut self) -> Option<Vec<CommsEntry>> {
        self.rule(Kind::Other, Self::comms_body_pairs)
    }

    fn comms_body_pairs(&mut self) -> Option<Vec<CommsEntry>> {
        let mut out = Vec::new();
        self.block(|p| {
            // `comms_entry = { comms_when ~ kw_notify ~ ident_list ~ message_ref }`.
            let entry = p.rule(Kind::CommsEntry, |p| {
                let start = p.pos;
                let when = p.comms_when()?;
                p.skip();
                p.kwt("notify")?;
                let channels = p.ident_list()?;
                p.skip();
                // `message_ref = { string | path }`.
                let message = p.rule(Kind::Other, |p| {
                    Some(match p.attempt(Self::string) {
                        Some(s) => MessageRef::Text(s),
                        None => MessageRef::Named(p.path()?),
                    })
                })?;
                Some(CommsEntry {
                    when,
                    channels,
                    message,
                    span: p.span_from(start),
                })
            })?;
            out.push(entry);
            Some(())
        })?;
        Some(out)
    }

    /// `comms_when = _{ comms_at | comms_every | comms_on }`.
    fn comms_when(&mut self) -> Option<CommsWhen> {
        if let Some(v) = self.clause("at", Self::t_offset) {
            return Some(CommsWhen::At(v));
        }
        if let Some(v) = self.attempt(|p| {
            p.rule(Kind::Other, |p| {
                p.kwt("every")?;
                p.duration()
            })
        }) {
            return Some(CommsWhen::Every(v));
        }
        self.rule(Kind::Other, |p| {
            p.tok("on")?;
            p.ident().map(CommsWhen::On)
        })
    }

    /// `checklist_body = { lb ~ (checklist_entry ~ ","?)* ~ rb }`.
    fn checklist_body(&mut self) -> Option<Vec<ChecklistEntry>> {
        self.rule(Kind::Other, Self::checklist_body_pairs)
    }

    fn checklist_body_pairs(&mut self) -> Option<Vec<ChecklistEntry>> {
        let mut out = Vec::new();
        self.block(|p| {
            let start = p.pos;
            if let Some(c) = p.clause("check", Self::condition) {
                out.push(ChecklistEntry::Check(c, p.span_from(start)));
                return Some(());
            }
            // `check_run = { run_command }`.
            if let Some(r) = p.attempt(|p| p.rule(Kind::Other, Self::run_command)) {
                out.push(ChecklistEntry::Run(r));
                return Some(());
            }
            let entry = p.rule(Kind::Other, |p| {
                p.tok("confirm")?;
                let text = p.string()?;
                p.skip();
                p.tok("by")?;
                let by = p.ident()?;
                Some(ChecklistEntry::Confirm {
                    text,
                    by,
                    span: p.span_from(start),
                })
            })?;
            out.push(entry);
            Some(())
        })?;
        Some(out)
    }

    // -----------------------------------------------------------------------------------------
    // Conditions

    /// `condition = { cond_and ~ (kw_or ~ cond_and)* }`, depth-limited: parentheses are the
    /// only recursion in the grammar.
    fn condition(&mut self) -> Option<Condition> {
        self.depth += 1;
        let r = if self.depth > MAX_DEPTH {
            self.give_up()
        } else {
            self.condition_or()
        };
        self.depth -= 1;
        r
    }

    fn condition_or(&mut self) -> Option<Condition> {
        self.rule(Kind::Condition, Self::condition_or_pairs)
    }

    fn condition_or_pairs(&mut self) -> Option<Condition> {
        let start = self.pos;
        let first = self.cond_and()?;
        self.skip();
        let rest = self.rep(|p| {
            p.kwt("or")?;
            p.cond_and()
        });
        if rest.is_empty() {
            // The builder unwraps a single part, whose span is its own.
            return Some(first);
        }
        Some(Condition::Or(prepend(first, rest), self.span_from(start)))
    }

    /// `cond_and = { cond_atom ~ (kw_and ~ cond_atom)* }`.
    fn cond_and(&mut self) -> Option<Condition> {
        self.rule(Kind::CondAnd, Self::cond_and_pairs)
    }

    fn cond_and_pairs(&mut self) -> Option<Condition> {
        let start = self.pos;
        let first = self.cond_atom()?;
        self.skip();
        let rest = self.rep(|p| {
            p.kwt("and")?;
            p.cond_atom()
        });
        if rest.is_empty() {
            return Some(first);
        }
        Some(Condition::And(prepend(first, rest), self.span_from(start)))
    }

    /// `cond_atom = _{ lp ~ condition ~ rp | comparison }`.
    fn cond_atom(&mut self) -> Option<Condition> {
        if let Some(c) = self.attempt(|p| {
            p.tok("(")?;
            let c = p.condition()?;
            p.skip();
            p.lit(")")?;
            Some(c)
        }) {
            return Some(c);
        }
        self.rule(Kind::Other, Self::comparison)
    }

    /// `comparison = { operand ~ compare_op ~ operand }`.
    fn comparison(&mut self) -> Option<Condition> {
        let start = self.pos;
        let lhs = self.operand()?;
        self.skip();
        let op_start = self.pos;
        let (value, len) = match (self.byte(op_start), self.byte(op_start + 1)) {
            (b'<', b'=') => (CompareOp::Le, 2),
            (b'>', b'=') => (CompareOp::Ge, 2),
            (b'<', _) => (CompareOp::Lt, 1),
            (b'>', _) => (CompareOp::Gt, 1),
            _ => return None,
        };
        self.pos += len;
        self.token(op_start, TokenKind::Word);
        let op = Spanned {
            value,
            span: self.span_from(op_start),
        };
        self.skip();
        let rhs = self.operand()?;
        Some(Condition::Compare {
            lhs,
            op,
            rhs,
            span: self.span_from(start),
        })
    }

    /// `operand = _{ relative | kw_baseline | duration | percent_value | rate | number | path }`.
    fn operand(&mut self) -> Option<Operand> {
        let start = self.pos;
        if self.byte(start).is_ascii_digit() || self.byte(start) == b'-' {
            // `relative = { (multiplier ~ kw_baseline) | (percent ~ kw_of ~ kw_baseline) }`.
            if let Some(v) = self.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    let v = p.multiplier()?;
                    p.skip();
                    p.kw("baseline")?;
                    Some(Operand::TimesBaseline(Spanned {
                        value: v,
                        span: p.span_from(start),
                    }))
                })
            }) {
                return Some(v);
            }
            if let Some(v) = self.attempt(|p| {
                p.rule(Kind::Other, |p| {
                    let v = p.percent()?;
                    p.skip();
                    p.kwt("of")?;
                    p.kw("baseline")?;
                    Some(Operand::PercentOfBaseline(Spanned {
                        value: v.value,
                        span: p.span_from(start),
                    }))
                })
            }) {
                return Some(v);
            }
            if let Some(d) = self.duration() {
                return Some(Operand::Duration(d));
            }
            if let Some(v) = self.percent() {
                return Some(Operand::Percent(v));
            }
            if let Some(v) = self.rate() {
                return Some(Operand::Rate(v));
            }
            return self.number().map(Operand::Number);
        }
        // Neither a relative value nor a literal can start with anything but a digit or
        // `-`, so only `kw_baseline` and `path` are left.
        if self.kw("baseline").is_some() {
            return Some(Operand::Baseline(self.span_from(start)));
        }
        self.path().map(Operand::Name)
    }
}
