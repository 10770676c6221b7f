//! The condition language of conditional workflows.
//!
//! A conditional workflow step carries `{"if": "<expression>", "then": […], "else": […]}`.
//! The expression is parsed once into a [`Condition`] and evaluated against a JSON
//! context (for workflows, the participants' replies). The language is small and
//! total: parsing is bounded by fixed [limits](MAX_LEN), evaluation visits each node of
//! the expression at most once, has no loops or function calls, and never fails: a
//! path that does not resolve is `null`, and a comparison between values of different
//! kinds is false.
//!
//! ```
//! use agentgate_core::condition::Condition;
//! use serde_json::json;
//!
//! let c = Condition::parse(r#"$.response.approve == true && $.response.amount >= 100"#)?;
//! assert!(c.evaluate(&json!({"response": {"approve": true, "amount": 120}})));
//! assert!(!c.evaluate(&json!({"response": {"approve": true}})));
//! # Ok::<(), agentgate_core::condition::ConditionError>(())
//! ```
//!
//! The user-facing reference (grammar, semantics, limits, errors) is
//! `docs/protocols/workflow-conditions.md`.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Number, Value};

/// Longest expression, in bytes of UTF-8 text. The canonical form (see
/// [`Condition`]'s `Display`) must fit too.
pub const MAX_LEN: usize = 4096;
/// Deepest nesting, counted twice over: operators (`!`, comparisons, `&&` and `||`
/// chains) inside operators may nest this deep, and so may parentheses inside
/// parentheses.
pub const MAX_DEPTH: usize = 32;
/// Most values (paths, literals, array literals, `exists(…)`) plus operators
/// (`||`, `&&`, `!`, comparisons) in one expression.
pub const MAX_NODES: usize = 256;
/// Most elements in one array literal.
pub const MAX_ARRAY_LEN: usize = 256;

/// Why a text is not a valid condition.
///
/// Offsets are in bytes from the start of the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConditionError {
    /// The text is empty or only whitespace.
    #[error("the expression is empty")]
    Empty,
    /// The text is longer than [`MAX_LEN`] bytes.
    #[error("the expression is {len} bytes long; at most 4096 are allowed")]
    TooLong {
        /// The text's length in bytes.
        len: usize,
    },
    /// The expression's canonical form is longer than [`MAX_LEN`] bytes (the canonical
    /// form puts spaces around operators and writes numbers in full, so it can be
    /// longer than the text).
    #[error("the expression's canonical form is {len} bytes long; at most 4096 are allowed")]
    CanonicalTooLong {
        /// The canonical form's length in bytes.
        len: usize,
    },
    /// A token that does not belong where it is.
    #[error("expected {expected} at byte {offset}, found {found}")]
    Unexpected {
        /// Where the token starts.
        offset: usize,
        /// What the grammar allows there.
        expected: &'static str,
        /// The token found (quoted), or `end of input`.
        found: String,
    },
    /// A string literal without its closing quote.
    #[error("unterminated string starting at byte {offset}")]
    UnterminatedString {
        /// Where the string's opening quote is.
        offset: usize,
    },
    /// A backslash escape that JSON does not define, or a `\u` escape that is not a
    /// Unicode scalar value (a lone surrogate).
    #[error("invalid escape sequence at byte {offset}")]
    InvalidEscape {
        /// Where the backslash is.
        offset: usize,
    },
    /// A raw control character (U+0000–U+001F) inside a string literal.
    #[error("unescaped control character in a string at byte {offset}")]
    ControlCharacter {
        /// Where the character is.
        offset: usize,
    },
    /// A number that is not a JSON number (`01`, `1.`, `.5`, `-`, `1e`).
    #[error("invalid number at byte {offset}")]
    InvalidNumber {
        /// Where the number starts.
        offset: usize,
    },
    /// A number too large for a 64-bit float (`1e400`).
    #[error("the number at byte {offset} is out of range")]
    NumberOutOfRange {
        /// Where the number starts.
        offset: usize,
    },
    /// An array index that is not an integer from 0 to 4294967295 written without
    /// leading zeros.
    #[error("invalid array index at byte {offset}: indices are integers from 0 to 4294967295")]
    InvalidIndex {
        /// Where the index starts.
        offset: usize,
    },
    /// The expression nests deeper than [`MAX_DEPTH`] levels.
    #[error("expression nests deeper than 32 levels (at byte {offset})")]
    TooDeep {
        /// Where the level over the limit starts.
        offset: usize,
    },
    /// The expression has more than [`MAX_NODES`] values and operators.
    #[error("expression has more than 256 values and operators (at byte {offset})")]
    TooManyNodes {
        /// Where the value or operator over the limit is.
        offset: usize,
    },
    /// An array literal with more than [`MAX_ARRAY_LEN`] elements.
    #[error("array literal starting at byte {offset} has more than 256 elements")]
    ArrayTooLong {
        /// Where the array's `[` is.
        offset: usize,
    },
}

impl ConditionError {
    /// A stable UPPER_SNAKE code for error responses: `INVALID_CONDITION` for every
    /// variant.
    pub fn code(&self) -> &'static str {
        "INVALID_CONDITION"
    }

    /// The byte offset the error points at, where it points at one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            ConditionError::Empty
            | ConditionError::TooLong { .. }
            | ConditionError::CanonicalTooLong { .. } => None,
            ConditionError::Unexpected { offset, .. }
            | ConditionError::UnterminatedString { offset }
            | ConditionError::InvalidEscape { offset }
            | ConditionError::ControlCharacter { offset }
            | ConditionError::InvalidNumber { offset }
            | ConditionError::NumberOutOfRange { offset }
            | ConditionError::InvalidIndex { offset }
            | ConditionError::TooDeep { offset }
            | ConditionError::TooManyNodes { offset }
            | ConditionError::ArrayTooLong { offset } => Some(*offset),
        }
    }
}

/// A parsed condition expression.
///
/// Parse one with [`Condition::parse`] (or `str::parse`), test it with
/// [`Condition::evaluate`]. `Display` writes the canonical text: one space around each
/// binary operator, parentheses only where the structure needs them, `.name` for keys
/// that are identifiers and `["…"]` for others. The canonical text parses back to an
/// equal `Condition`; serde stores a condition as that text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    root: Expr,
}

/// A node of the syntax tree. `Or` and `And` hold two or more operands; `Literal`
/// holds a scalar or an array of scalars.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Box<Expr>, CompareOp, Box<Expr>),
    Path(Path),
    Literal(Value),
    Exists(Path),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

/// `$` followed by keys and indices.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Path(Vec<Segment>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(u32),
}

impl Condition {
    /// Parses an expression.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        if text.len() > MAX_LEN {
            return Err(ConditionError::TooLong { len: text.len() });
        }
        let mut p = Parser {
            src: text,
            bytes: text.as_bytes(),
            pos: 0,
            nodes: 0,
        };
        p.skip_ws();
        if p.pos == p.bytes.len() {
            return Err(ConditionError::Empty);
        }
        let node = p.or(Open { parens: 0, nots: 0 })?;
        p.skip_ws();
        if p.pos < p.bytes.len() {
            return Err(p.unexpected(p.pos, "an operator or the end of the expression"));
        }
        let condition = Condition { root: node.expr };
        let mut measure = Measure(0);
        // Writing to a `Measure` cannot fail.
        let _ = write!(measure, "{condition}");
        if measure.0 > MAX_LEN {
            return Err(ConditionError::CanonicalTooLong { len: measure.0 });
        }
        Ok(condition)
    }

    /// Evaluates the condition against `context`: true if the expression's value is
    /// truthy (anything but `null`, `false`, `0`, `""`, `[]` and `{}`).
    pub fn evaluate(&self, context: &Value) -> bool {
        truthy(eval(&self.root, context))
    }
}

impl FromStr for Condition {
    type Err = ConditionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Condition::parse(s)
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Condition::parse(&text).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------
// Parsing

/// Counts the bytes written through it.
struct Measure(usize);

impl fmt::Write for Measure {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// A parsed subexpression and its operator nesting height (0 for a value).
struct Node {
    expr: Expr,
    height: usize,
}

/// The `(` and `!` enclosing the point being parsed. Both bound the parser's recursion;
/// enclosing `!`s are a lower bound of the operator height, so checking them early
/// agrees with the final height check.
#[derive(Clone, Copy)]
struct Open {
    parens: usize,
    nots: usize,
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Values and operators seen so far.
    nodes: usize,
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

const OPERATOR_BYTES: &str = "=!<>&|";

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.bytes
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(s))
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// The run of `[A-Za-z0-9_]` at `at`.
    fn word_at(&self, at: usize) -> &'a str {
        let mut end = at;
        while self.bytes.get(end).copied().is_some_and(is_word_byte) {
            end += 1;
        }
        self.src.get(at..end).unwrap_or("")
    }

    /// Describes the token at `at` for an error message.
    fn describe(&self, at: usize) -> String {
        let rest = self.src.get(at..).unwrap_or("");
        let Some(first) = rest.chars().next() else {
            return "end of input".to_string();
        };
        let len = if first.is_ascii_alphanumeric() || first == '_' {
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len())
                .min(24)
        } else if OPERATOR_BYTES.contains(first) {
            rest.find(|c: char| !OPERATOR_BYTES.contains(c))
                .unwrap_or(rest.len())
                .min(2)
        } else {
            first.len_utf8()
        };
        format!("{:?}", rest.get(..len).unwrap_or(""))
    }

    fn unexpected(&self, at: usize, expected: &'static str) -> ConditionError {
        ConditionError::Unexpected {
            offset: at,
            expected,
            found: self.describe(at),
        }
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), ConditionError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(self.pos, expected))
        }
    }

    /// Counts one value or operator, found at `at`.
    fn count(&mut self, at: usize) -> Result<(), ConditionError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(ConditionError::TooManyNodes { offset: at });
        }
        Ok(())
    }

    /// The height of an operator over operands of height `inner`, the operator at `at`.
    fn level(&self, inner: usize, at: usize) -> Result<usize, ConditionError> {
        let height = inner + 1;
        if height > MAX_DEPTH {
            return Err(ConditionError::TooDeep { offset: at });
        }
        Ok(height)
    }

    /// `or := and ( "||" and )*`.
    fn or(&mut self, open: Open) -> Result<Node, ConditionError> {
        self.chain(open, b"||", Parser::and, Expr::Or)
    }

    /// `and := not ( "&&" not )*`.
    fn and(&mut self, open: Open) -> Result<Node, ConditionError> {
        self.chain(open, b"&&", Parser::not, Expr::And)
    }

    fn chain(
        &mut self,
        open: Open,
        op: &[u8],
        operand: fn(&mut Self, Open) -> Result<Node, ConditionError>,
        build: fn(Vec<Expr>) -> Expr,
    ) -> Result<Node, ConditionError> {
        let first = operand(self, open)?;
        self.skip_ws();
        if !self.starts_with(op) {
            return Ok(first);
        }
        let op_at = self.pos;
        let mut height = first.height;
        let mut items = vec![first.expr];
        while self.starts_with(op) {
            self.count(self.pos)?;
            self.pos += op.len();
            let next = operand(self, open)?;
            height = height.max(next.height);
            items.push(next.expr);
            self.skip_ws();
        }
        Ok(Node {
            expr: build(items),
            height: self.level(height, op_at)?,
        })
    }

    /// `not := "!" not | cmp`.
    fn not(&mut self, open: Open) -> Result<Node, ConditionError> {
        self.skip_ws();
        let at = self.pos;
        if self.peek() != Some(b'!') {
            return self.comparison(open);
        }
        if open.nots >= MAX_DEPTH {
            return Err(ConditionError::TooDeep { offset: at });
        }
        self.count(at)?;
        self.pos += 1;
        let inner = self.not(Open {
            nots: open.nots + 1,
            ..open
        })?;
        Ok(Node {
            expr: Expr::Not(Box::new(inner.expr)),
            height: self.level(inner.height, at)?,
        })
    }

    /// `cmp := value ( op value )?`.
    fn comparison(&mut self, open: Open) -> Result<Node, ConditionError> {
        let lhs = self.value(open)?;
        self.skip_ws();
        let at = self.pos;
        let (op, len) = match (self.peek(), self.peek_at(1)) {
            (Some(b'='), Some(b'=')) => (CompareOp::Eq, 2),
            (Some(b'!'), Some(b'=')) => (CompareOp::Ne, 2),
            (Some(b'<'), Some(b'=')) => (CompareOp::Le, 2),
            (Some(b'>'), Some(b'=')) => (CompareOp::Ge, 2),
            (Some(b'<'), _) => (CompareOp::Lt, 1),
            (Some(b'>'), _) => (CompareOp::Gt, 1),
            _ if self.word_at(at) == "in" => (CompareOp::In, 2),
            _ => return Ok(lhs),
        };
        self.count(at)?;
        self.pos += len;
        let rhs = self.value(open)?;
        Ok(Node {
            expr: Expr::Compare(Box::new(lhs.expr), op, Box::new(rhs.expr)),
            height: self.level(lhs.height.max(rhs.height), at)?,
        })
    }

    /// `value := path | literal | array | "exists" "(" path ")" | "(" expr ")"`.
    fn value(&mut self, open: Open) -> Result<Node, ConditionError> {
        self.skip_ws();
        let at = self.pos;
        let expr = match self.peek() {
            Some(b'(') => {
                if open.parens >= MAX_DEPTH {
                    return Err(ConditionError::TooDeep { offset: at });
                }
                self.pos += 1;
                let inner = self.or(Open {
                    parens: open.parens + 1,
                    ..open
                })?;
                self.skip_ws();
                self.expect(b')', "`)`")?;
                // Grouping adds no node and no operator level.
                return Ok(inner);
            }
            Some(b'$') => {
                self.count(at)?;
                Expr::Path(self.path()?)
            }
            Some(b'[') => {
                self.count(at)?;
                Expr::Literal(self.array()?)
            }
            Some(b'"' | b'-' | b'0'..=b'9') => {
                self.count(at)?;
                Expr::Literal(self.literal()?)
            }
            Some(c) if is_word_byte(c) => match self.word_at(at) {
                "true" | "false" | "null" => {
                    self.count(at)?;
                    Expr::Literal(self.literal()?)
                }
                "exists" => {
                    self.count(at)?;
                    self.pos += "exists".len();
                    self.skip_ws();
                    self.expect(b'(', "`(` after `exists`")?;
                    self.skip_ws();
                    if self.peek() != Some(b'$') {
                        return Err(self.unexpected(self.pos, "a path"));
                    }
                    let path = self.path()?;
                    self.skip_ws();
                    self.expect(b')', "`)`")?;
                    Expr::Exists(path)
                }
                _ => return Err(self.unexpected(at, "a value")),
            },
            _ => return Err(self.unexpected(at, "a value")),
        };
        Ok(Node { expr, height: 0 })
    }

    /// `literal := string | number | "true" | "false" | "null"`.
    fn literal(&mut self) -> Result<Value, ConditionError> {
        let at = self.pos;
        match self.peek() {
            Some(b'"') => return Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => return Ok(Value::Number(self.number()?)),
            _ => {}
        }
        let word = self.word_at(at);
        let value = match word {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            _ => return Err(self.unexpected(at, "a string, number, true, false or null")),
        };
        self.pos += word.len();
        Ok(value)
    }

    /// `array := "[" ( literal ( "," literal )* )? "]"`, at the `[`.
    fn array(&mut self) -> Result<Value, ConditionError> {
        let at = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            if items.len() == MAX_ARRAY_LEN {
                return Err(ConditionError::ArrayTooLong { offset: at });
            }
            items.push(self.literal()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.unexpected(self.pos, "`,` or `]`")),
            }
        }
    }

    /// `path := "$" ( "." ident | "[" string "]" | "[" integer "]" )*`, at the `$`.
    fn path(&mut self) -> Result<Path, ConditionError> {
        self.pos += 1;
        let mut segments = Vec::new();
        loop {
            let before = self.pos;
            self.skip_ws();
            match self.peek() {
                Some(b'.') => {
                    self.pos += 1;
                    self.skip_ws();
                    segments.push(Segment::Key(self.ident()?));
                }
                Some(b'[') => {
                    self.pos += 1;
                    self.skip_ws();
                    let segment = match self.peek() {
                        Some(b'"') => Segment::Key(self.string()?),
                        Some(b'-' | b'0'..=b'9') => Segment::Index(self.index()?),
                        _ => return Err(self.unexpected(self.pos, "a quoted name or an index")),
                    };
                    self.skip_ws();
                    self.expect(b']', "`]`")?;
                    segments.push(segment);
                }
                _ => {
                    self.pos = before;
                    return Ok(Path(segments));
                }
            }
        }
    }

    /// `ident := [A-Za-z_][A-Za-z0-9_-]*`.
    fn ident(&mut self) -> Result<String, ConditionError> {
        let at = self.pos;
        if !self.peek().is_some_and(is_ident_start) {
            return Err(self.unexpected(at, "a name"));
        }
        while self.peek().is_some_and(is_ident_byte) {
            self.pos += 1;
        }
        Ok(self.src.get(at..self.pos).unwrap_or("").to_string())
    }

    /// A non-negative integer index without leading zeros, at a digit or `-`.
    fn index(&mut self) -> Result<u32, ConditionError> {
        let at = self.pos;
        let invalid = ConditionError::InvalidIndex { offset: at };
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = self.src.get(at..self.pos).unwrap_or("");
        if digits.is_empty()
            || (digits.len() > 1 && digits.starts_with('0'))
            || matches!(self.peek(), Some(b'.' | b'e' | b'E'))
        {
            return Err(invalid);
        }
        digits.parse().map_err(|_| invalid)
    }

    /// A JSON number, at a digit or `-`. Integers that fit in 64 bits stay integers;
    /// others become the nearest 64-bit float.
    fn number(&mut self) -> Result<Number, ConditionError> {
        let at = self.pos;
        let invalid = ConditionError::InvalidNumber { offset: at };
        let digits = |p: &mut Self| {
            let start = p.pos;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos > start
        };
        let mut integer = true;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(invalid),
        }
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if !digits(self) {
                return Err(invalid);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(invalid);
            }
        }
        if matches!(self.peek(), Some(b'0'..=b'9' | b'.')) {
            return Err(invalid);
        }
        let text = self.src.get(at..self.pos).unwrap_or("");
        if integer {
            let exact = if text.starts_with('-') {
                text.parse::<i64>().ok().map(Number::from)
            } else {
                text.parse::<u64>().ok().map(Number::from)
            };
            if let Some(n) = exact {
                return Ok(n);
            }
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .ok_or(ConditionError::NumberOutOfRange { offset: at })
    }

    /// A JSON string literal, at the opening quote.
    fn string(&mut self) -> Result<String, ConditionError> {
        let at = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run = self.pos;
            while self
                .peek()
                .is_some_and(|c| c != b'"' && c != b'\\' && c >= 0x20)
            {
                self.pos += 1;
            }
            // Both ends sit at an ASCII byte or the end of the text: char boundaries.
            out.push_str(self.src.get(run..self.pos).unwrap_or(""));
            let escape = self.pos;
            match self.peek() {
                None => return Err(ConditionError::UnterminatedString { offset: at }),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        None => return Err(ConditionError::UnterminatedString { offset: at }),
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            out.push(self.unicode_escape(at, escape)?);
                            continue;
                        }
                        Some(_) => return Err(ConditionError::InvalidEscape { offset: escape }),
                    };
                    self.pos += 1;
                    out.push(c);
                }
                Some(_) => return Err(ConditionError::ControlCharacter { offset: escape }),
            }
        }
    }

    /// The character of a `\uXXXX` escape (or surrogate pair), after the `\u`.
    fn unicode_escape(&mut self, string_at: usize, escape: usize) -> Result<char, ConditionError> {
        let unterminated = ConditionError::UnterminatedString { offset: string_at };
        let invalid = ConditionError::InvalidEscape { offset: escape };
        let high = self.hex4(string_at, escape)?;
        let code = match high {
            0xD800..=0xDBFF => {
                match (self.peek(), self.peek_at(1)) {
                    (Some(b'\\'), Some(b'u')) => self.pos += 2,
                    (None, _) | (Some(b'\\'), None) => return Err(unterminated),
                    _ => return Err(invalid),
                }
                let low = self.hex4(string_at, escape)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(invalid);
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(invalid),
            _ => high,
        };
        char::from_u32(code).ok_or(invalid)
    }

    fn hex4(&mut self, string_at: usize, escape: usize) -> Result<u32, ConditionError> {
        let mut code = 0;
        for _ in 0..4 {
            let Some(c) = self.peek() else {
                return Err(ConditionError::UnterminatedString { offset: string_at });
            };
            let digit = char::from(c)
                .to_digit(16)
                .ok_or(ConditionError::InvalidEscape { offset: escape })?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }
}

// ---------------------------------------------------------------------------------
// Evaluation

static NULL: Value = Value::Null;
static TRUE: Value = Value::Bool(true);
static FALSE: Value = Value::Bool(false);

fn boolean(b: bool) -> &'static Value {
    if b { &TRUE } else { &FALSE }
}

/// The value of `expr`; operators yield booleans.
fn eval<'a>(expr: &'a Expr, context: &'a Value) -> &'a Value {
    match expr {
        Expr::Or(items) => boolean(items.iter().any(|e| truthy(eval(e, context)))),
        Expr::And(items) => boolean(items.iter().all(|e| truthy(eval(e, context)))),
        Expr::Not(inner) => boolean(!truthy(eval(inner, context))),
        Expr::Compare(lhs, op, rhs) => {
            boolean(compare(eval(lhs, context), *op, eval(rhs, context)))
        }
        Expr::Path(path) => path.resolve(context).unwrap_or(&NULL),
        Expr::Literal(value) => value,
        Expr::Exists(path) => boolean(path.resolve(context).is_some()),
    }
}

impl Path {
    /// The value at this path, if every step exists: keys step into objects, indices
    /// into arrays.
    fn resolve<'a>(&self, context: &'a Value) -> Option<&'a Value> {
        self.0
            .iter()
            .try_fold(context, |value, segment| match segment {
                Segment::Key(key) => value.as_object()?.get(key),
                Segment::Index(i) => value.as_array()?.get(usize::try_from(*i).ok()?),
            })
    }
}

/// `null`, `false`, zero, `""`, `[]` and `{}` are false; everything else is true.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn compare(lhs: &Value, op: CompareOp, rhs: &Value) -> bool {
    let order = || match (lhs, rhs) {
        (Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
        (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        _ => None,
    };
    match op {
        CompareOp::Eq => json_eq(lhs, rhs),
        CompareOp::Ne => !json_eq(lhs, rhs),
        CompareOp::Lt => order() == Some(Ordering::Less),
        CompareOp::Le => matches!(order(), Some(Ordering::Less | Ordering::Equal)),
        CompareOp::Gt => order() == Some(Ordering::Greater),
        CompareOp::Ge => matches!(order(), Some(Ordering::Greater | Ordering::Equal)),
        CompareOp::In => rhs
            .as_array()
            .is_some_and(|items| items.iter().any(|item| json_eq(lhs, item))),
    }
}

fn as_integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// Orders two numbers exactly, integers against floats included.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    match (as_integer(a), as_integer(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        (Some(x), None) => compare_integer_float(x, b.as_f64()?),
        (None, Some(y)) => compare_integer_float(y, a.as_f64()?).map(Ordering::reverse),
        (None, None) => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn compare_integer_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    let whole = f.trunc();
    // `as` saturates; integers here have at most 65 bits, far from the saturation points,
    // so a saturated `whole` still orders correctly against `i`.
    let order = i.cmp(&(whole as i128));
    Some(match order {
        Ordering::Equal if f > whole => Ordering::Less,
        Ordering::Equal if f < whole => Ordering::Greater,
        order => order,
    })
}

/// JSON equality with numbers compared by value, without recursion.
fn json_eq(a: &Value, b: &Value) -> bool {
    let mut pending: Vec<(&Value, &Value)> = Vec::new();
    let mut next = Some((a, b));
    while let Some((x, y)) = next.take().or_else(|| pending.pop()) {
        match (x, y) {
            (Value::Null, Value::Null) => {}
            (Value::Bool(p), Value::Bool(q)) if p == q => {}
            (Value::Number(m), Value::Number(n))
                if compare_numbers(m, n) == Some(Ordering::Equal) => {}
            (Value::String(s), Value::String(t)) if s == t => {}
            (Value::Array(xs), Value::Array(ys)) if xs.len() == ys.len() => {
                pending.extend(xs.iter().zip(ys));
            }
            (Value::Object(xm), Value::Object(ym)) if xm.len() == ym.len() => {
                for (key, xv) in xm {
                    match ym.get(key) {
                        Some(yv) => pending.push((xv, yv)),
                        None => return false,
                    }
                }
            }
            _ => return false,
        }
    }
    true
}

// ---------------------------------------------------------------------------------
// Canonical text

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, &self.root)
    }
}

fn is_value(expr: &Expr) -> bool {
    matches!(expr, Expr::Path(_) | Expr::Literal(_) | Expr::Exists(_))
}

fn write_operand(f: &mut fmt::Formatter<'_>, expr: &Expr, parenthesize: bool) -> fmt::Result {
    if parenthesize {
        f.write_char('(')?;
        write_expr(f, expr)?;
        f.write_char(')')
    } else {
        write_expr(f, expr)
    }
}

fn write_expr(f: &mut fmt::Formatter<'_>, expr: &Expr) -> fmt::Result {
    match expr {
        Expr::Or(items) | Expr::And(items) => {
            let (op, nested): (&str, fn(&Expr) -> bool) = match expr {
                Expr::Or(_) => (" || ", |e: &Expr| matches!(e, Expr::Or(_))),
                _ => (" && ", |e: &Expr| matches!(e, Expr::Or(_) | Expr::And(_))),
            };
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(op)?;
                }
                write_operand(f, item, nested(item))?;
            }
            Ok(())
        }
        Expr::Not(inner) => {
            f.write_char('!')?;
            write_operand(
                f,
                inner,
                matches!(**inner, Expr::Or(_) | Expr::And(_) | Expr::Compare(..)),
            )
        }
        Expr::Compare(lhs, op, rhs) => {
            write_operand(f, lhs, !is_value(lhs))?;
            f.write_str(match op {
                CompareOp::Eq => " == ",
                CompareOp::Ne => " != ",
                CompareOp::Lt => " < ",
                CompareOp::Le => " <= ",
                CompareOp::Gt => " > ",
                CompareOp::Ge => " >= ",
                CompareOp::In => " in ",
            })?;
            write_operand(f, rhs, !is_value(rhs))
        }
        Expr::Path(path) => write_path(f, path),
        Expr::Literal(value) => write_literal(f, value),
        Expr::Exists(path) => {
            f.write_str("exists(")?;
            write_path(f, path)?;
            f.write_char(')')
        }
    }
}

fn write_path(f: &mut fmt::Formatter<'_>, path: &Path) -> fmt::Result {
    f.write_char('$')?;
    for segment in &path.0 {
        match segment {
            Segment::Key(key) if is_ident(key) => write!(f, ".{key}")?,
            Segment::Key(key) => {
                f.write_char('[')?;
                write_string(f, key)?;
                f.write_char(']')?;
            }
            Segment::Index(i) => write!(f, "[{i}]")?,
        }
    }
    Ok(())
}

fn is_ident(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(is_ident_start) && bytes.all(is_ident_byte)
}

fn write_literal(f: &mut fmt::Formatter<'_>, value: &Value) -> fmt::Result {
    match value {
        Value::Null => f.write_str("null"),
        Value::Bool(b) => write!(f, "{b}"),
        Value::Number(n) => write!(f, "{n}"),
        Value::String(s) => write_string(f, s),
        Value::Array(items) => {
            f.write_char('[')?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_literal(f, item)?;
            }
            f.write_char(']')
        }
        // The parser never produces object literals; written as JSON for completeness.
        Value::Object(_) => write!(f, "{value}"),
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if c < ' ' => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({
            "responses": {
                "approver@b.test": {
                    "status": "completed",
                    "payload": {"approve": true, "amount": 120}
                },
                "auditor@c.test": {"status": "failed", "payload": null}
            },
            "response": {
                "approve": true,
                "amount": 120,
                "ratio": 0.5,
                "region": "eu",
                "tags": ["urgent", "blue"],
                "nothing": null,
                "zero": 0,
                "empty": {},
                "nums": [1.0, 2, 3.5],
                "weird key": {"a.b": 7}
            },
            "allowed": ["eu", "us"]
        })
    }

    fn eval(text: &str) -> bool {
        Condition::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .evaluate(&ctx())
    }

    fn err(text: &str) -> ConditionError {
        Condition::parse(text).expect_err(text)
    }

    fn canonical(text: &str) -> String {
        Condition::parse(text).unwrap().to_string()
    }

    #[test]
    fn brief_examples() {
        assert!(eval("$.response.approve == true"));
        assert!(eval(
            r#"$.responses["approver@b.test"].payload.amount >= 100 && $.response.region in ["eu", "us"]"#
        ));
        assert!(eval("!exists($.response.error)"));
        assert!(eval(r#"$.response.tags[0] == "urgent""#));
    }

    /// The examples of `docs/protocols/workflow-conditions.md`.
    #[test]
    fn documented_examples() {
        let context = json!({
            "responses": {
                "approver@b.test": {
                    "status": "completed",
                    "payload": {"approve": true, "amount": 120}
                }
            },
            "response": {"approve": true, "amount": 120}
        });
        for (text, expected) in [
            ("$.response.approve == true", true),
            (
                r#"$.responses["approver@b.test"].payload.amount >= 100"#,
                true,
            ),
            (
                r#"$.response.amount >= 100 && $.response.region in ["eu", "us"]"#,
                false,
            ),
            ("!exists($.response.error)", true),
            (r#"$.response.tags[0] == "urgent""#, false),
            ("$.response.approve", true),
            (
                r#"$.response.amount > 100 || $.responses["approver@b.test"].status != "completed""#,
                true,
            ),
            ("!($.response.missing < 100)", true),
            ("$.response.missing >= 100", false),
            (r#""e" in "eu""#, false),
            ("9007199254740993 == 9007199254740992.0", false),
        ] {
            let c = Condition::parse(text).unwrap();
            assert_eq!(c.evaluate(&context), expected, "{text}");
        }
        let c = Condition::parse("$.x == $.y && $.x in $.list").unwrap();
        assert!(c.evaluate(&json!({
            "x": [1, {"a": 2}], "y": [1.0, {"a": 2.0}], "list": [[1.0, {"a": 2}], [2]]
        })));
        assert_eq!(canonical("1e16"), "1e+16");
        assert_eq!(canonical("1e-7"), "1e-7");
        assert_eq!(canonical("1e15"), "1000000000000000.0");
        assert_eq!(canonical(r#""a/é""#), r#""a/é""#);
    }

    #[test]
    fn paths() {
        assert!(eval(r#"$ == $"#));
        assert!(eval(r#"$.response.region == "eu""#));
        assert!(eval(r#"$["response"]["region"] == "eu""#));
        assert!(eval(r#"$.response["weird key"]["a.b"] == 7"#));
        assert!(eval(r#"$.response.tags[1] == "blue""#));
        assert!(eval(r#"$ . response [ "tags" ] [ 1 ] == "blue""#));
        assert!(eval("$.response.nums[2] == 3.5"));
        assert!(eval("$._x-y == null"));
        // Missing paths are null.
        assert!(eval("$.nope == null"));
        assert!(eval("$.response.tags[9] == null"));
        assert!(eval("$.response.region.x == null"));
        assert!(eval("$.response.amount[0] == null"));
        assert!(eval(r#"$.response.tags["0"] == null"#));
        assert!(eval("$.response[0] == null"));
        assert!(eval("$[4294967295] == null"));
        assert!(!eval("$.nope"));
        // The whole context.
        let c = Condition::parse("$ == 3").unwrap();
        assert!(c.evaluate(&json!(3.0)));
        assert!(!c.evaluate(&json!({})));
    }

    #[test]
    fn equality() {
        assert!(eval("1 == 1.0"));
        assert!(eval("$.response.amount == 120.0"));
        assert!(eval("$.response.amount != 120.5"));
        assert!(eval("-0 == 0.0"));
        assert!(eval("0 == -0.0"));
        assert!(eval("1e2 == 100"));
        assert!(eval("-5 == -5.0"));
        assert!(eval("18446744073709551615 == 18446744073709551615"));
        assert!(eval("18446744073709551615 != 18446744073709551614"));
        assert!(eval("9007199254740993 != 9007199254740992.0"));
        assert!(eval("$.response.nums == [1, 2.0, 3.5]"));
        assert!(eval("$.response.nums != [1, 2, 3.5, 4]"));
        assert!(!eval(
            r#"$.responses["approver@b.test"].payload == $.response.approve"#
        ));
        assert!(eval(r#""a" == "a""#));
        assert!(eval(r#""a" != "A""#));
        assert!(eval("null == null"));
        assert!(eval("true != 1"));
        assert!(eval(r#""1" != 1"#));
        assert!(eval("$.response.nothing == null"));
        assert!(eval("$.response.empty != null"));
        assert!(eval("[] == []"));
        assert!(eval("[] != [null]"));
        // Objects: by key, whatever the order, numbers by value.
        let c = Condition::parse("$.a == $.b").unwrap();
        assert!(c.evaluate(&json!({"a": {"x": 1, "y": [2]}, "b": {"y": [2.0], "x": 1.0}})));
        assert!(!c.evaluate(&json!({"a": {"x": 1}, "b": {"x": 1, "y": 2}})));
        assert!(!c.evaluate(&json!({"a": {"x": 1, "z": 2}, "b": {"x": 1, "y": 2}})));
        assert!(!c.evaluate(&json!({"a": [1, [2]], "b": [1, [3]]})));
    }

    #[test]
    fn ordering() {
        assert!(eval("2 < 10"));
        assert!(eval("2 <= 2.0"));
        assert!(eval("2.5 > 2"));
        assert!(eval("-1 < 0"));
        assert!(eval("-1.5 < -1"));
        assert!(eval("3 >= 3"));
        assert!(!eval("3 > 3"));
        assert!(eval("$.response.amount > 100"));
        assert!(eval("$.response.ratio < 1"));
        assert!(eval("9007199254740993 > 9007199254740992.0"));
        assert!(eval("18446744073709551615 < 18446744073709551616"));
        // Integers beyond 64 bits become the nearest float: -2^63 - 1 rounds to -2^63.
        assert!(eval("-9223372036854775808 == -9223372036854775809"));
        assert!(eval("-9223372036854775807 > -9223372036854775809"));
        assert!(eval("1e300 > 18446744073709551615"));
        assert!(eval("-1e300 < -9223372036854775808"));
        // Strings by Unicode scalar value.
        assert!(eval(r#""a" < "b""#));
        assert!(eval(r#""Z" < "a""#));
        assert!(eval(r#""ab" < "abc""#));
        assert!(eval(r#""abc" < "abd""#));
        assert!(eval(r#""z" < "é""#));
        assert!(eval(r#""\uffff" < "😀""#));
        assert!(eval(r#""b" >= "b""#));
        assert!(eval(r#""10" < "9""#));
    }

    #[test]
    fn ordering_across_kinds_is_false() {
        for (a, b) in [
            ("1", r#""1""#),
            (r#""1""#, "1"),
            ("null", "0"),
            ("0", "null"),
            ("null", "null"),
            ("true", "false"),
            ("true", "1"),
            ("[1]", "[2]"),
            ("$.response.empty", "$.response.empty"),
            ("$.nope", "1"),
        ] {
            for op in ["<", "<=", ">", ">="] {
                let text = format!("{a} {op} {b}");
                assert!(!eval(&text), "{text}");
                assert!(eval(&format!("!({text})")), "!({text})");
            }
        }
    }

    #[test]
    fn membership() {
        assert!(eval(r#""eu" in ["eu", "us"]"#));
        assert!(!eval(r#""fr" in ["eu", "us"]"#));
        assert!(eval(r#"$.response.region in $.allowed"#));
        assert!(eval(r#""urgent" in $.response.tags"#));
        assert!(eval("1 in $.response.nums"));
        assert!(eval("2.0 in [1, 2, 3]"));
        assert!(eval("null in [1, null]"));
        assert!(!eval("$.nope in [1]"));
        assert!(eval("$.nope in [null]"));
        assert!(!eval("1 in []"));
        // The right side must be an array.
        assert!(!eval(r#""e" in "eu""#));
        assert!(!eval(r#""region" in $.response"#));
        assert!(!eval("1 in $.nope"));
        assert!(!eval("1 in 1"));
        // Any value on the left, compared by JSON equality.
        let c = Condition::parse("$.x in $.list").unwrap();
        assert!(c.evaluate(&json!({"x": {"a": 1}, "list": [0, {"a": 1.0}]})));
        assert!(c.evaluate(&json!({"x": [1], "list": [[1]]})));
        assert!(!c.evaluate(&json!({"x": [1], "list": [1]})));
    }

    #[test]
    fn exists() {
        assert!(eval("exists($.response.region)"));
        assert!(eval("exists($.response.nothing)"));
        assert!(eval(r#"exists($.responses["auditor@c.test"].payload)"#));
        assert!(eval("exists($.response.tags[1])"));
        assert!(!eval("exists($.response.tags[2])"));
        assert!(!eval("exists($.response.error)"));
        assert!(!eval("exists($.response.nothing.x)"));
        assert!(eval("exists($)"));
        assert!(eval("exists( $ . response )"));
        assert!(eval("!exists($.response.error)"));
        assert!(eval("exists($.response.error) == false"));
        let c = Condition::parse("exists($)").unwrap();
        assert!(c.evaluate(&Value::Null));
    }

    #[test]
    fn truthiness() {
        for falsy in [
            "null",
            "false",
            "0",
            "0.0",
            "-0.0",
            "0e5",
            r#""""#,
            "[]",
            "$.response.empty",
            "$.response.nothing",
            "$.response.zero",
            "$.nope",
        ] {
            assert!(!eval(falsy), "{falsy}");
            assert!(eval(&format!("!{falsy}")), "!{falsy}");
        }
        for truthy in [
            "true",
            "1",
            "-1",
            "0.5",
            "1e-300",
            r#""0""#,
            r#""false""#,
            r#"" ""#,
            "[0]",
            "[null]",
            "[false]",
            "$.response",
            "$.response.tags",
            "$",
        ] {
            assert!(eval(truthy), "{truthy}");
        }
        let c = Condition::parse("$.o").unwrap();
        assert!(c.evaluate(&json!({"o": {"a": null}})));
    }

    #[test]
    fn logic_and_precedence() {
        assert!(eval("true && true"));
        assert!(!eval("true && false"));
        assert!(eval("false || true"));
        assert!(!eval("false || false"));
        assert!(eval("!false"));
        assert!(!eval("!!false"));
        assert!(eval("!!!false"));
        // && binds tighter than ||.
        assert!(eval("true || false && false"));
        assert!(!eval("(true || false) && false"));
        assert!(eval("false && false || true"));
        // A comparison binds tighter than && and ||.
        assert!(eval("1 == 1 && 2 == 2 || 3 == 4"));
        // ! applies to the comparison that follows it: `!1 == 2` is `!(1 == 2)`.
        assert!(eval("!1 == 2"));
        assert!(!eval("(!1) == 2"));
        assert!(eval("(!1) == false"));
        // ! binds tighter than && and ||.
        assert!(!eval("!true && true"));
        assert!(eval("!false || false"));
        // Operators yield booleans, which can be compared.
        assert!(eval("($.response.amount > 100) == true"));
        assert!(eval("(1 || 0) == true"));
        assert!(eval("($.response.region) == \"eu\""));
        assert!(eval("(1 == 1) in [true]"));
        // Whitespace is optional and insignificant.
        assert!(eval(
            "$.response.amount>=100&&$.response.region in[\"eu\"]||false"
        ));
        assert!(eval(" \t\n\r1\n==\r1 "));
    }

    #[test]
    fn short_circuit() {
        // The right-hand sides would be false or null; they are not consulted.
        assert!(!eval(r#"false && $.response.tags[0]["x"].y > 5"#));
        assert!(eval(r#"true || $.response.amount[3]["a b"] == 1"#));
        assert!(eval(r#"$.response.approve || exists($.a.b.c[0])"#));
        // Chains stop at the first decisive operand.
        assert!(eval("false || false || 1 || $.x"));
        assert!(!eval("true && 1 && 0 && $.response"));
    }

    #[test]
    fn canonical_text() {
        assert_eq!(canonical("$.a==1"), "$.a == 1");
        assert_eq!(canonical(r#"$["a"]["b c"][0]"#), r#"$.a["b c"][0]"#);
        assert_eq!(canonical(r#"$["1a"]["a-1"]["é"]"#), r#"$["1a"].a-1["é"]"#);
        assert_eq!(canonical("((($.a)))"), "$.a");
        assert_eq!(canonical("($.a || $.b)"), "$.a || $.b");
        assert_eq!(canonical("($.a || $.b) || $.c"), "($.a || $.b) || $.c");
        assert_eq!(canonical("$.a || ($.b || $.c)"), "$.a || ($.b || $.c)");
        assert_eq!(canonical("$.a || $.b && $.c"), "$.a || $.b && $.c");
        assert_eq!(canonical("($.a || $.b) && $.c"), "($.a || $.b) && $.c");
        assert_eq!(canonical("($.a && $.b) && $.c"), "($.a && $.b) && $.c");
        assert_eq!(canonical("!($.a == 1)"), "!($.a == 1)");
        assert_eq!(canonical("!$.a == 1"), "!($.a == 1)");
        assert_eq!(canonical("(!$.a) == 1"), "(!$.a) == 1");
        assert_eq!(canonical("!(!$.a)"), "!!$.a");
        assert_eq!(canonical("!($.a && $.b)"), "!($.a && $.b)");
        assert_eq!(
            canonical("($.a == 1) == ($.b < 2)"),
            "($.a == 1) == ($.b < 2)"
        );
        assert_eq!(canonical("exists ( $ [ 0 ] )"), "exists($[0])");
        assert_eq!(
            canonical(r#"[1,"a" ,null,true,false, 1.5]"#),
            r#"[1, "a", null, true, false, 1.5]"#
        );
        assert_eq!(canonical("[ ]"), "[]");
        assert_eq!(
            canonical(r#""\u00e9\/\b\f\n\r\t\"\\\u0001\u007f""#),
            "\"é/\\b\\f\\n\\r\\t\\\"\\\\\\u0001\u{7f}\""
        );
        assert_eq!(canonical(r#""\ud83d\ude00""#), "\"😀\"");
        assert_eq!(canonical("-0"), "0");
        assert_eq!(canonical("1.0"), "1.0");
        assert_eq!(canonical("1E2"), "100.0");
        assert_eq!(canonical("18446744073709551616"), "1.8446744073709552e+19");
        assert_eq!(canonical("-9223372036854775808"), "-9223372036854775808");
        assert_eq!(canonical("$.a in [1]"), "$.a in [1]");
        for op in ["==", "!=", "<", "<=", ">", ">="] {
            assert_eq!(canonical(&format!("$.a{op}$.b")), format!("$.a {op} $.b"));
        }
        assert_eq!(canonical("$[0]in$.b"), "$[0] in $.b");
        assert_eq!(canonical("1in[1]"), "1 in [1]");
        // After a name, `in` would continue the name.
        assert_eq!(canonical("$.a in$.b"), "$.a in $.b");
        assert_eq!(
            err("$.ain $.b"),
            unexpected(6, "an operator or the end of the expression", r#""$""#)
        );
        // The canonical text parses back to the same condition.
        for text in [
            "1e-7 == 1.5e300",
            "-0.0 < 1e16",
            "0.1 + 0",
            "123456789.123 != 5e-324",
            "1.7976931348623157e308",
        ] {
            if let Ok(c) = Condition::parse(text) {
                assert_eq!(Condition::parse(&c.to_string()), Ok(c), "{text}");
            }
        }
    }

    #[test]
    fn serde_as_text() {
        let c = Condition::parse(r#"$["a"]==1"#).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#""$.a == 1""#);
        assert_eq!(serde_json::from_str::<Condition>(&json).unwrap(), c);
        let bad = serde_json::from_str::<Condition>(r#""$.a ==""#).unwrap_err();
        assert!(
            bad.to_string().contains("expected a value at byte 6"),
            "{bad}"
        );
        assert!(serde_json::from_str::<Condition>("1").is_err());
        assert_eq!("$.a".parse::<Condition>(), Condition::parse("$.a"));
    }

    fn unexpected(offset: usize, expected: &'static str, found: &str) -> ConditionError {
        ConditionError::Unexpected {
            offset,
            expected,
            found: found.to_string(),
        }
    }

    #[test]
    fn syntax_errors() {
        use ConditionError as E;
        assert_eq!(err(""), E::Empty);
        assert_eq!(err(" \n\t"), E::Empty);
        assert_eq!(err("$.a == && 1"), unexpected(7, "a value", r#""&&""#));
        assert_eq!(
            err("$.a == && 1").to_string(),
            r#"expected a value at byte 7, found "&&""#
        );
        assert_eq!(err("$.a =="), unexpected(6, "a value", "end of input"));
        assert_eq!(err("$.a =="), unexpected(6, "a value", "end of input"));
        assert_eq!(
            err("$.a = 1"),
            unexpected(4, "an operator or the end of the expression", r#""=""#)
        );
        assert_eq!(
            err("$.a & $.b"),
            unexpected(4, "an operator or the end of the expression", r#""&""#)
        );
        assert_eq!(
            err("$.a and $.b"),
            unexpected(4, "an operator or the end of the expression", r#""and""#)
        );
        assert_eq!(
            err("1 == 1 == 1"),
            unexpected(7, "an operator or the end of the expression", r#""==""#)
        );
        assert_eq!(
            err("$.a)"),
            unexpected(3, "an operator or the end of the expression", r#"")""#)
        );
        assert_eq!(err("($.a"), unexpected(4, "`)`", "end of input"));
        assert_eq!(err("($.a ]"), unexpected(5, "`)`", r#""]""#));
        assert_eq!(err("True"), unexpected(0, "a value", r#""True""#));
        assert_eq!(err("truex"), unexpected(0, "a value", r#""truex""#));
        assert_eq!(err("foo == 1"), unexpected(0, "a value", r#""foo""#));
        assert_eq!(
            err("1 inx [1]"),
            unexpected(2, "an operator or the end of the expression", r#""inx""#)
        );
        assert_eq!(err("$."), unexpected(2, "a name", "end of input"));
        assert_eq!(err("$.1"), unexpected(2, "a name", r#""1""#));
        assert_eq!(err("$.-a"), unexpected(2, "a name", r#""-""#));
        assert_eq!(err("$.é"), unexpected(2, "a name", r#""é""#));
        assert_eq!(
            err("$[a]"),
            unexpected(2, "a quoted name or an index", r#""a""#)
        );
        assert_eq!(
            err("$[]"),
            unexpected(2, "a quoted name or an index", r#""]""#)
        );
        assert_eq!(err(r#"$["a""#), unexpected(5, "`]`", "end of input"));
        assert_eq!(err("$[0 1]"), unexpected(4, "`]`", r#""1""#));
        assert_eq!(
            err("exists"),
            unexpected(6, "`(` after `exists`", "end of input")
        );
        assert_eq!(
            err("exists $.a"),
            unexpected(7, "`(` after `exists`", r#""$""#)
        );
        assert_eq!(err("exists(1)"), unexpected(7, "a path", r#""1""#));
        assert_eq!(err("exists($.a"), unexpected(10, "`)`", "end of input"));
        assert_eq!(
            err("[1,]"),
            unexpected(3, "a string, number, true, false or null", r#""]""#)
        );
        assert_eq!(
            err("[[1]]"),
            unexpected(1, "a string, number, true, false or null", r#""[""#)
        );
        assert_eq!(
            err("[$.a]"),
            unexpected(1, "a string, number, true, false or null", r#""$""#)
        );
        assert_eq!(err("[1 2]"), unexpected(3, "`,` or `]`", r#""2""#));
        assert_eq!(err("[1"), unexpected(2, "`,` or `]`", "end of input"));
        assert_eq!(err("!"), unexpected(1, "a value", "end of input"));
        assert_eq!(err("!= 1"), unexpected(1, "a value", r#""=""#));
        assert_eq!(err("$.a || "), unexpected(7, "a value", "end of input"));
        assert_eq!(err("{}"), unexpected(0, "a value", r#""{""#));
        assert_eq!(err("1 == \u{a0}1"), unexpected(5, "a value", r#""\u{a0}""#));
        assert_eq!(
            err("$.a\u{1}"),
            unexpected(3, "an operator or the end of the expression", r#""\u{1}""#)
        );
        assert_eq!(
            err("$.a == abcdefghijklmnopqrstuvwxyz"),
            unexpected(7, "a value", r#""abcdefghijklmnopqrstuvwx""#)
        );
    }

    #[test]
    fn string_errors() {
        use ConditionError as E;
        assert_eq!(err(r#"$ == "abc"#), E::UnterminatedString { offset: 5 });
        assert_eq!(
            err(r#"$ == "abc"#).to_string(),
            "unterminated string starting at byte 5"
        );
        assert_eq!(err(r#""abc\"#), E::UnterminatedString { offset: 0 });
        assert_eq!(err(r#""\u12"#), E::UnterminatedString { offset: 0 });
        assert_eq!(err(r#""\ud83d"#), E::UnterminatedString { offset: 0 });
        assert_eq!(err(r#""\ud83d\"#), E::UnterminatedString { offset: 0 });
        assert_eq!(err(r#"$["a"#), E::UnterminatedString { offset: 2 });
        assert_eq!(err(r#""a\x""#), E::InvalidEscape { offset: 2 });
        assert_eq!(err(r#""a\'""#), E::InvalidEscape { offset: 2 });
        assert_eq!(err(r#""\u12g4""#), E::InvalidEscape { offset: 1 });
        assert_eq!(err(r#""\udc00""#), E::InvalidEscape { offset: 1 });
        assert_eq!(err(r#""\ud800x""#), E::InvalidEscape { offset: 1 });
        assert_eq!(err(r#""\ud800\n""#), E::InvalidEscape { offset: 1 });
        assert_eq!(err(r#""\ud800\u0041""#), E::InvalidEscape { offset: 1 });
        assert_eq!(
            err(r#""\q""#).to_string(),
            "invalid escape sequence at byte 1"
        );
        assert_eq!(err("\"a\nb\""), E::ControlCharacter { offset: 2 });
        assert_eq!(err("\"\u{0}\""), E::ControlCharacter { offset: 1 });
        assert_eq!(
            err("\"\t\"").to_string(),
            "unescaped control character in a string at byte 1"
        );
        // DEL and non-ASCII are fine raw.
        assert!(Condition::parse("\"\u{7f}é😀\" != \"\"").is_ok());
    }

    #[test]
    fn number_and_index_errors() {
        use ConditionError as E;
        for (text, offset) in [
            ("01", 0),
            ("$.a == 01", 7),
            ("1.", 0),
            (".5", 0),
            ("-", 0),
            ("-a", 0),
            ("--1", 0),
            ("1e", 0),
            ("1e+", 0),
            ("1.5.2", 0),
            ("-01", 0),
            ("[1, 2.]", 4),
        ] {
            let e = err(text);
            if text == ".5" {
                assert_eq!(e, unexpected(0, "a value", r#"".""#));
                continue;
            }
            assert_eq!(e, E::InvalidNumber { offset }, "{text}");
        }
        assert_eq!(err("1.").to_string(), "invalid number at byte 0");
        assert_eq!(err("$.a < 1e400"), E::NumberOutOfRange { offset: 6 });
        assert_eq!(err("-1e400"), E::NumberOutOfRange { offset: 0 });
        assert_eq!(
            err("1e400").to_string(),
            "the number at byte 0 is out of range"
        );
        // Underflow rounds to zero, as in JSON parsers.
        assert!(!eval("1e-400"));
        for (text, offset) in [
            ("$[-1]", 2),
            ("$[1.5]", 2),
            ("$[01]", 2),
            ("$[1e2]", 2),
            ("$[ 4294967296 ]", 3),
            ("$.a[99999999999999999999]", 4),
        ] {
            assert_eq!(err(text), E::InvalidIndex { offset }, "{text}");
        }
        assert_eq!(
            err("$[-1]").to_string(),
            "invalid array index at byte 2: indices are integers from 0 to 4294967295"
        );
    }

    #[test]
    fn length_limit() {
        let padded = format!("{}{}", "1", " ".repeat(MAX_LEN - 1));
        assert_eq!(padded.len(), MAX_LEN);
        assert!(Condition::parse(&padded).is_ok());
        let long = format!("{} ", padded);
        assert_eq!(err(&long), ConditionError::TooLong { len: MAX_LEN + 1 });
        assert_eq!(
            err(&long).to_string(),
            "the expression is 4097 bytes long; at most 4096 are allowed"
        );
        // The canonical form must fit as well: 1e15 is written out in full.
        let text = format!("[{}]", vec!["1e15"; MAX_ARRAY_LEN].join(","));
        assert!(text.len() <= MAX_LEN);
        let e = err(&text);
        assert!(
            matches!(e, ConditionError::CanonicalTooLong { len } if len > MAX_LEN),
            "{e}"
        );
        assert!(e.to_string().contains("canonical form"));
        assert!(e.to_string().contains("at most 4096"));
    }

    #[test]
    fn depth_limit() {
        let parens = |n: usize, inner: &str| format!("{}{inner}{}", "(".repeat(n), ")".repeat(n));
        // Parentheses inside parentheses.
        assert!(Condition::parse(&parens(MAX_DEPTH, "$.a == 1")).is_ok());
        assert_eq!(
            err(&parens(MAX_DEPTH + 1, "$.a")),
            ConditionError::TooDeep { offset: MAX_DEPTH }
        );
        assert_eq!(
            err(&parens(MAX_DEPTH + 1, "$.a")).to_string(),
            "expression nests deeper than 32 levels (at byte 32)"
        );
        // `!` inside `!`.
        let nots = |n: usize| "!".repeat(n);
        let c = Condition::parse(&format!("{}true", nots(MAX_DEPTH))).unwrap();
        assert!(c.evaluate(&Value::Null));
        assert_eq!(
            err(&format!("{}true", nots(MAX_DEPTH + 1))),
            ConditionError::TooDeep { offset: MAX_DEPTH }
        );
        // Operators inside operators, with or without parentheses: `||` over `&&` over
        // the `!`s over a comparison.
        let ops = |n: usize| format!("$.c || $.b && {}$.a == 1", nots(n));
        assert!(Condition::parse(&ops(MAX_DEPTH - 3)).is_ok());
        assert_eq!(
            err(&ops(MAX_DEPTH - 2)),
            ConditionError::TooDeep { offset: 4 }
        );
        assert_eq!(
            err(&format!("{}$.a == 1", nots(MAX_DEPTH))),
            ConditionError::TooDeep { offset: 0 }
        );
        // A chain is one level however long it is.
        let chain = vec!["$.a"; 100].join(" || ");
        assert!(Condition::parse(&parens(MAX_DEPTH, &chain)).is_ok());
        // Comparisons nested through parentheses: both measures reach the limit.
        let compares = |n: usize| (0..n).fold("$.a".to_string(), |e, _| format!("({e}) == true"));
        let c = Condition::parse(&compares(MAX_DEPTH)).unwrap();
        assert_eq!(Condition::parse(&c.to_string()), Ok(c.clone()));
        assert!(c.evaluate(&json!({"a": true})));
        assert!(matches!(
            err(&compares(MAX_DEPTH + 1)),
            ConditionError::TooDeep { .. }
        ));
        // The canonical text of the deepest expressions parses back, although it writes
        // `!(a == b)` where the input had `!a == b`.
        let mixed = |n: usize| (0..n).fold("$.a".to_string(), |e, _| format!("!({e}) == true"));
        let c = Condition::parse(&mixed(MAX_DEPTH / 2)).unwrap();
        assert_eq!(Condition::parse(&c.to_string()), Ok(c.clone()));
        c.evaluate(&json!({"a": false}));
        assert!(Condition::parse(&mixed(MAX_DEPTH / 2 + 1)).is_err());
    }

    #[test]
    fn node_limit() {
        // n values joined by n - 1 operators: 2n - 1 nodes.
        let values = |n: usize| vec!["true"; n].join(" || ");
        assert!(Condition::parse(&values(128)).is_ok()); // 255
        assert!(Condition::parse(&format!("!{}", values(128))).is_ok()); // 256
        assert_eq!(
            err(&format!("!!{}", values(128))),
            ConditionError::TooManyNodes {
                offset: 2 + 127 * 8
            }
        );
        assert_eq!(
            err(&values(129)),
            ConditionError::TooManyNodes { offset: 128 * 8 }
        );
        assert_eq!(
            err(&values(129)).to_string(),
            "expression has more than 256 values and operators (at byte 1024)"
        );
        // Parentheses are not nodes; array elements are not either.
        let wrapped = vec!["(true)"; 128].join("||");
        assert!(Condition::parse(&wrapped).is_ok());
        let arrays = vec!["[1, 2, 3]"; 128].join(" in ");
        assert!(Condition::parse(&arrays).is_err()); // comparisons do not chain
        assert!(Condition::parse(&vec!["$.a in [1, 2, 3]"; 64].join(" && ")).is_ok()); // 255
    }

    #[test]
    fn array_limit() {
        let array = |n: usize| format!("$.a in [{}]", vec!["\"x\""; n].join(", "));
        let c = Condition::parse(&array(MAX_ARRAY_LEN)).unwrap();
        assert!(c.evaluate(&json!({"a": "x"})));
        assert_eq!(
            err(&array(MAX_ARRAY_LEN + 1)),
            ConditionError::ArrayTooLong { offset: 7 }
        );
        assert_eq!(
            err(&array(MAX_ARRAY_LEN + 1)).to_string(),
            "array literal starting at byte 7 has more than 256 elements"
        );
    }

    #[test]
    fn error_codes_and_offsets() {
        let errors = [
            err(""),
            err(&" ".repeat(MAX_LEN + 1)),
            err(&format!("[{}]", vec!["1e15"; MAX_ARRAY_LEN].join(","))),
            err("$.a =="),
            err("\"a"),
            err("\"\\x\""),
            err("\"\u{1}\""),
            err("01"),
            err("1e999"),
            err("$[-1]"),
            err(&"!".repeat(MAX_DEPTH + 1)),
            err(&vec!["1"; MAX_NODES].join("||")),
            err(&format!("[{}]", vec!["1"; MAX_ARRAY_LEN + 1].join(","))),
        ];
        for e in &errors {
            assert_eq!(e.code(), "INVALID_CONDITION");
            let has_offset = !matches!(
                e,
                ConditionError::Empty
                    | ConditionError::TooLong { .. }
                    | ConditionError::CanonicalTooLong { .. }
            );
            assert_eq!(e.offset().is_some(), has_offset, "{e:?}");
        }
        assert_eq!(err("$.a ==").offset(), Some(6));
        assert_eq!(err("\"a").offset(), Some(0));
    }

    #[test]
    fn limits_in_messages_match_constants() {
        assert!(
            err(&" ".repeat(MAX_LEN + 1))
                .to_string()
                .contains(&MAX_LEN.to_string())
        );
        assert!(
            ConditionError::TooDeep { offset: 0 }
                .to_string()
                .contains(&MAX_DEPTH.to_string())
        );
        assert!(
            ConditionError::TooManyNodes { offset: 0 }
                .to_string()
                .contains(&MAX_NODES.to_string())
        );
        assert!(
            ConditionError::ArrayTooLong { offset: 0 }
                .to_string()
                .contains(&MAX_ARRAY_LEN.to_string())
        );
    }

    // ----- property tests -----

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::sample::select(vec!["a", "b", "c-d", "x y", "", "é", "0"])
                .prop_map(String::from),
            1 => any::<String>(),
        ]
    }

    fn path() -> impl Strategy<Value = Path> {
        let segment = prop_oneof![
            3 => key().prop_map(Segment::Key),
            2 => (0u32..3).prop_map(Segment::Index),
            1 => any::<u32>().prop_map(Segment::Index),
        ];
        prop::collection::vec(segment, 0..4).prop_map(Path)
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..3).prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            (-4.0f64..4.0).prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            key().prop_map(Value::String),
        ]
    }

    fn op() -> impl Strategy<Value = CompareOp> {
        prop::sample::select(vec![
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Lt,
            CompareOp::Le,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::In,
        ])
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            3 => path().prop_map(Expr::Path),
            2 => scalar().prop_map(Expr::Literal),
            1 => prop::collection::vec(scalar(), 0..4).prop_map(|v| Expr::Literal(Value::Array(v))),
            1 => path().prop_map(Expr::Exists),
        ];
        leaf.prop_recursive(5, 48, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
                inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
                (inner.clone(), op(), inner).prop_map(|(l, o, r)| Expr::Compare(
                    Box::new(l),
                    o,
                    Box::new(r)
                )),
            ]
        })
    }

    fn json_value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..4)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    fn node_count(e: &Expr) -> usize {
        match e {
            Expr::Or(items) | Expr::And(items) => {
                items.iter().map(node_count).sum::<usize>() + items.len() - 1
            }
            Expr::Not(inner) => 1 + node_count(inner),
            Expr::Compare(l, _, r) => 1 + node_count(l) + node_count(r),
            Expr::Path(_) | Expr::Literal(_) | Expr::Exists(_) => 1,
        }
    }

    fn condition(root: Expr) -> Condition {
        Condition { root }
    }

    /// Token soup that is often close to valid.
    fn near_miss() -> impl Strategy<Value = String> {
        let token = prop::sample::select(vec![
            "$", ".", "a", "[", "]", "0", "\"x\"", "\"", "\\", "(", ")", "!", "==", "!=", "<",
            "<=", ">", ">=", "in", "&&", "||", "&", "|", "=", "exists", "true", "false", "null",
            "-", "1.5", "1e3", ",", " ", "\\u", "d800", "é", "\n",
        ]);
        prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
    }

    proptest! {
        #[test]
        fn printed_ast_parses_back(e in expr()) {
            let c = condition(e);
            let text = c.to_string();
            prop_assume!(node_count(&c.root) <= MAX_NODES && text.len() <= MAX_LEN);
            prop_assert_eq!(Condition::parse(&text), Ok(c));
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            if let Ok(c) = Condition::parse(&text) {
                prop_assert_eq!(Condition::parse(&c.to_string()), Ok(c));
            }
        }

        #[test]
        fn parse_near_misses(text in near_miss()) {
            if let Ok(c) = Condition::parse(&text) {
                let printed = c.to_string();
                prop_assert_eq!(Condition::parse(&printed), Ok(c.clone()));
                c.evaluate(&Value::Null);
            }
        }

        #[test]
        fn evaluate_never_panics_and_is_consistent(
            a in expr(),
            b in expr(),
            o in op(),
            context in json_value(),
        ) {
            let va = condition(a.clone()).evaluate(&context);
            let vb = condition(b.clone()).evaluate(&context);
            let not = condition(Expr::Not(Box::new(a.clone())));
            prop_assert_eq!(not.evaluate(&context), !va);
            let or = condition(Expr::Or(vec![a.clone(), b.clone()]));
            prop_assert_eq!(or.evaluate(&context), va || vb);
            let and = condition(Expr::And(vec![a.clone(), b.clone()]));
            prop_assert_eq!(and.evaluate(&context), va && vb);
            let cmp = |l: &Expr, op, r: &Expr| {
                condition(Expr::Compare(Box::new(l.clone()), op, Box::new(r.clone())))
                    .evaluate(&context)
            };
            let _ = cmp(&a, o, &b);
            prop_assert_eq!(cmp(&a, CompareOp::Eq, &b), cmp(&b, CompareOp::Eq, &a));
            prop_assert_eq!(cmp(&a, CompareOp::Ne, &b), !cmp(&a, CompareOp::Eq, &b));
            prop_assert_eq!(cmp(&a, CompareOp::Lt, &b), cmp(&b, CompareOp::Gt, &a));
            prop_assert_eq!(cmp(&a, CompareOp::Le, &b), cmp(&b, CompareOp::Ge, &a));
            prop_assert_eq!(
                cmp(&a, CompareOp::Le, &b),
                cmp(&a, CompareOp::Lt, &b)
                    || (cmp(&a, CompareOp::Eq, &b) && cmp(&a, CompareOp::Ge, &b))
            );
        }

        #[test]
        fn equality_is_reflexive_symmetric_and_extends_serde(x in json_value(), y in json_value()) {
            prop_assert!(json_eq(&x, &x));
            if x == y {
                prop_assert!(json_eq(&x, &y));
            }
            prop_assert_eq!(json_eq(&x, &y), json_eq(&y, &x));
        }

        #[test]
        fn number_order_is_exact(a in any::<i64>(), f in any::<f64>()) {
            prop_assume!(f.is_finite());
            let (na, nf) = (Number::from(a), Number::from_f64(f).unwrap());
            let expected = if (f as i128 as f64) == f.trunc() && f.abs() < 1e30 {
                // Exact comparison through integers and the fractional part.
                let whole = f.trunc() as i128;
                match i128::from(a).cmp(&whole) {
                    Ordering::Equal => 0.0f64.partial_cmp(&(f - f.trunc())).unwrap(),
                    o => o,
                }
            } else {
                (a as f64).partial_cmp(&f).unwrap()
            };
            prop_assert_eq!(compare_numbers(&na, &nf), Some(expected));
        }
    }
}
