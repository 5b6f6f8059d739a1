//! The concrete syntax of a file: every token in source order, comments included, grouped as
//! the grammar's rules group them. The formatter prints it; the AST drops what it keeps
//! (comments, commas, the keywords the grammar matches as bare literals).
//!
//! Pest produces pairs only for named rules, so the literal keywords between them (`health`,
//! `step`, `..`, `,`) exist only as source text. They are recovered from the gaps between a
//! pair's children: after the grammar matched, a gap holds nothing but blanks and such
//! literals (comments and strings are pairs of their own).
//!
//! Valid files do not go through pest: the hand-written parser (`super::fast`) records the
//! pairs pest would produce ([`Event`]) and [`from_events`] builds the same tree from them.
//! [`parse`] builds it from pest's pairs for the files that parser gives up on.

use pest::Parser as _;
use pest::iterators::Pair;

use super::errors::syntax_error;
use super::parser::{DeployParser, Rule};
use crate::diagnostics::errors::Error;
use crate::source::FileId;

/// A group of tokens that one grammar rule matched.
#[derive(Debug, PartialEq)]
pub(crate) struct Tree<'s> {
    pub(crate) kind: Kind,
    pub(crate) children: Vec<Node<'s>>,
}

#[derive(Debug, PartialEq)]
pub(crate) enum Node<'s> {
    Token(Token<'s>),
    Tree(Tree<'s>),
}

/// The few rules whose layout differs from their neighbours'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    /// `a or b`: may be broken before `or` and `and` when it is too long.
    Condition,
    /// `a and b`, an operand of `or`.
    CondAnd,
    /// `(name: kind, …)` and `(arg, …)`: the parenthesis sticks to the name before it.
    Params,
    /// `analysis every D`: a `no_data` entry after it must not be joined to it with a comma,
    /// which would make it the analysis' own `, no_data` clause.
    Analysis,
    NoData,
    /// Entries whose clauses line up in columns over consecutive lines: `step`, a rollback
    /// trigger, a comms entry, a flag's `day`.
    Step,
    Trigger,
    CommsEntry,
    FlagDay,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Token<'s> {
    pub(crate) text: &'s str,
    /// Byte offset in the source.
    pub(crate) start: usize,
    pub(crate) kind: TokenKind,
}

impl Token<'_> {
    pub(crate) fn end(&self) -> usize {
        self.start + self.text.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A keyword, name, number, literal with its unit, operator.
    Word,
    /// A string or a triple-quoted string, exactly as written.
    Text,
    /// `# …` up to the end of its line (without the line break).
    Comment,
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    DotDot,
    Eq,
    Colon,
    And,
    Or,
}

/// Parses `src` into its concrete tree, or the same syntax error `check` reports.
pub(crate) fn parse(file: FileId, src: &str) -> Result<Tree<'_>, Error> {
    // The tree is built and printed recursively, like the AST; the same limit keeps both far
    // from the end of the stack.
    if let Some(offset) = super::too_deep(src) {
        return Err(super::nesting_error(file, offset));
    }
    let pairs = DeployParser::parse(Rule::file, src).map_err(|e| syntax_error(file, src, &e))?;
    let mut children = Vec::new();
    for pair in pairs {
        // `file` itself: its children are the items and the comments between them.
        for child in pair.into_inner() {
            push_pair(src, child, &mut children);
        }
    }
    Ok(Tree {
        kind: Kind::File,
        children,
    })
}

fn kind_of(rule: Rule) -> Kind {
    match rule {
        Rule::condition => Kind::Condition,
        Rule::cond_and => Kind::CondAnd,
        Rule::params | Rule::args => Kind::Params,
        Rule::analysis => Kind::Analysis,
        Rule::no_data => Kind::NoData,
        Rule::canary_step => Kind::Step,
        Rule::trigger => Kind::Trigger,
        Rule::comms_entry => Kind::CommsEntry,
        Rule::flag_day => Kind::FlagDay,
        _ => Kind::Other,
    }
}

fn token_kind(rule: Rule) -> TokenKind {
    match rule {
        Rule::string | Rule::raw_string => TokenKind::Text,
        Rule::COMMENT => TokenKind::Comment,
        Rule::lb => TokenKind::LBrace,
        Rule::rb => TokenKind::RBrace,
        Rule::lp => TokenKind::LParen,
        Rule::rp => TokenKind::RParen,
        Rule::eq => TokenKind::Eq,
        Rule::colon => TokenKind::Colon,
        Rule::kw_and => TokenKind::And,
        Rule::kw_or => TokenKind::Or,
        _ => TokenKind::Word,
    }
}

/// Appends the tokens or the tree of `pair` to `out`.
fn push_pair<'s>(src: &'s str, pair: Pair<'s, Rule>, out: &mut Vec<Node<'s>>) {
    let rule = pair.as_rule();
    if rule == Rule::EOI {
        return;
    }
    let span = pair.as_span();
    // Strings, comments and dotted paths are single tokens although pest gives them inner
    // pairs; atomic rules have none.
    let leaf = matches!(
        rule,
        Rule::string | Rule::raw_string | Rule::path | Rule::COMMENT
    ) || pair.clone().into_inner().next().is_none();
    if leaf {
        if matches!(rule, Rule::string | Rule::raw_string | Rule::COMMENT) {
            out.push(Node::Token(Token {
                text: span.as_str().trim_end(),
                start: span.start(),
                kind: token_kind(rule),
            }));
        } else {
            leaf_tokens(src, span.start(), span.end(), token_kind(rule), out);
        }
        return;
    }
    let mut children = Vec::new();
    let mut at = span.start();
    for child in pair.into_inner() {
        let child_start = child.as_span().start();
        gap_tokens(src, at, child_start, &mut children);
        at = child.as_span().end();
        push_pair(src, child, &mut children);
    }
    gap_tokens(src, at, span.end(), &mut children);
    push_tree(kind_of(rule), children, out);
}

/// The token of a rule with no inner pairs, `src[start..end]`.
fn leaf_tokens<'s>(
    src: &'s str,
    start: usize,
    end: usize,
    kind: TokenKind,
    out: &mut Vec<Node<'s>>,
) {
    let trimmed = src.get(start..end).unwrap_or("").trim_end();
    if trimmed.contains(char::is_whitespace) {
        // A rule made of bare literals only, such as `remove by day` would be.
        gap_tokens(src, start, end, out);
    } else {
        out.push(Node::Token(Token {
            text: trimmed,
            start,
            kind,
        }));
    }
}

/// Appends the tree of a rule with inner pairs to `out`.
fn push_tree<'s>(kind: Kind, mut children: Vec<Node<'s>>, out: &mut Vec<Node<'s>>) {
    // Pest puts the comments after a rule's last token inside the rule when the rule ends
    // with an optional part (it skips trivia before trying it): they belong after it.
    let trailing = children
        .iter()
        .rev()
        .take_while(|n| matches!(n, Node::Token(t) if t.kind == TokenKind::Comment))
        .count();
    let comments = children.split_off(children.len() - trailing);
    out.push(Node::Tree(Tree { kind, children }));
    out.extend(comments);
}

/// What the hand-written parser (`super::fast`) records as it matches a file: the pairs
/// pest would produce for it, in order, so that [`from_events`] builds the tree [`parse`]
/// builds from pest's pairs without running pest.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event<'s> {
    /// A named rule starts at `start`; the next `Close` at its level ends it.
    Open {
        kind: Kind,
        start: usize,
    },
    Close {
        end: usize,
    },
    /// A pair without inner pairs: an atomic rule, a string, a comment, named punctuation.
    Token(Token<'s>),
}

/// A rule being built by [`from_events`].
struct Open {
    kind: Kind,
    start: usize,
    /// The end of its last inner pair: the literals after it are recovered from there.
    at: usize,
    /// Whether it has inner pairs (else it is a leaf: one token).
    inner: bool,
    /// Where its children start in the shared list of nodes.
    first: usize,
}

/// The tree of a file from the events of the hand-written parser: the same steps as
/// [`push_pair`], with the events in place of pest's pairs.
pub(crate) fn from_events<'s>(src: &'s str, events: &[Event<'s>]) -> Tree<'s> {
    // The children of every open rule, one after the other in one list: a rule's children
    // are moved into a vector of their own, of their exact size, when it closes.
    let mut nodes: Vec<Node<'s>> = Vec::with_capacity(64);
    let mut stack = vec![Open {
        kind: Kind::File,
        start: 0,
        at: 0,
        inner: true,
        first: 0,
    }];
    for event in events {
        match *event {
            Event::Open { kind, start } => {
                if let Some(parent) = stack.last_mut() {
                    gap_tokens(src, parent.at, start, &mut nodes);
                }
                stack.push(Open {
                    kind,
                    start,
                    at: start,
                    inner: false,
                    first: nodes.len(),
                });
            }
            Event::Token(t) => {
                if let Some(top) = stack.last_mut() {
                    gap_tokens(src, top.at, t.start, &mut nodes);
                    nodes.push(Node::Token(t));
                    top.at = t.end();
                    top.inner = true;
                }
            }
            Event::Close { end } => {
                // The file itself is never closed: the parser balances its events.
                if stack.len() < 2 {
                    continue;
                }
                let Some(rule) = stack.pop() else {
                    continue;
                };
                if let Some(parent) = stack.last_mut() {
                    parent.at = end;
                    parent.inner = true;
                }
                if !rule.inner {
                    // Every rule the parser records is a `Word` when it is a leaf.
                    leaf_tokens(src, rule.start, end, TokenKind::Word, &mut nodes);
                    continue;
                }
                gap_tokens(src, rule.at, end, &mut nodes);
                // As in `push_tree`: the comments that end the rule go after it.
                let trailing = nodes
                    .get(rule.first..)
                    .unwrap_or_default()
                    .iter()
                    .rev()
                    .take_while(|n| matches!(n, Node::Token(t) if t.kind == TokenKind::Comment))
                    .count();
                let split = nodes.len() - trailing;
                let children: Vec<Node<'s>> = nodes.drain(rule.first..split).collect();
                nodes.insert(
                    rule.first,
                    Node::Tree(Tree {
                        kind: rule.kind,
                        children,
                    }),
                );
            }
        }
    }
    Tree {
        kind: Kind::File,
        children: nodes,
    }
}

/// The literal tokens in `src[from..to]`, which holds only blanks and bare grammar literals.
fn gap_tokens<'s>(src: &'s str, from: usize, to: usize, out: &mut Vec<Node<'s>>) {
    let Some(gap) = src.get(from..to) else {
        return;
    };
    let bytes = gap.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let len = if gap.get(i..).is_some_and(|r| r.starts_with("..")) {
            2
        } else if b"=<>!".contains(&b) {
            // An operator written as one literal (`==` of a migration's `verify`) is one
            // token: printed apart, `= =` would be another program.
            bytes
                .get(i..)
                .map_or(1, |r| r.iter().take_while(|c| b"=<>!".contains(c)).count())
        } else if b.is_ascii_alphanumeric() || b == b'_' {
            bytes.get(i..).map_or(1, |r| {
                r.iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count()
            })
        } else {
            // Any other literal is one character; a multi-byte one is kept whole.
            gap.get(i..)
                .and_then(|r| r.chars().next())
                .map_or(1, char::len_utf8)
        };
        let Some(text) = gap.get(i..i + len) else {
            return;
        };
        let kind = match text {
            "," => TokenKind::Comma,
            ".." => TokenKind::DotDot,
            _ => TokenKind::Word,
        };
        out.push(Node::Token(Token {
            text,
            start: from + i,
            kind,
        }));
        i += len;
    }
}
