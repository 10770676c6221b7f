//! JSON as Python's `json.loads` reads it and `json.dumps(..., ensure_ascii=True)`
//! writes it.
//!
//! The reference client decodes every frame with `json.loads`, which accepts a little
//! more than RFC 8259 (`NaN`, `Infinity`, `-Infinity`; lone UTF-16 surrogates in `\u`
//! escapes) and a little less (integer literals of more than 4,300 digits raise
//! `ValueError`). Its strings are sequences of code points in which an escaped high
//! surrogate followed at once by an escaped low surrogate is one astral character and
//! any other surrogate stays on its own. This module reads that language into a
//! borrowed tree, with a nesting limit, and writes values back the way `json.dumps`
//! does with `sort_keys=True, separators=(",", ":")`, which is what the client signs.

use std::borrow::Cow;

/// The most digits CPython converts from a decimal string to an `int`
/// (`sys.int_info.default_max_str_digits`); longer integer literals fail `json.loads`.
pub(crate) const PY_MAX_INT_DIGITS: usize = 4300;

/// Why a text is not JSON as `json.loads` reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Not in the grammar, at this byte offset.
    Syntax(usize),
    /// An integer literal longer than [`PY_MAX_INT_DIGITS`] digits, at this offset.
    IntegerTooLong(usize),
    /// Arrays and objects nested deeper than the limit.
    TooDeep,
}

/// A string token: the text between its quotes, escapes still in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct JsonStr<'a> {
    pub raw: &'a str,
    /// Whether `raw` holds any backslash (if not, it is the string itself).
    pub escaped: bool,
}

/// A JSON value. Containers below the expansion depth are checked but not kept.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    /// An integer literal (`-?(0|[1-9][0-9]*)`), as written.
    Int(&'a str),
    /// A literal with a fraction or exponent, or `NaN`, `Infinity`, `-Infinity`.
    Float(&'a str),
    Str(JsonStr<'a>),
    Array(Vec<Value<'a>>),
    /// Members in order; a repeated key is kept each time (the last one counts).
    Object(Vec<Member<'a>>),
    /// An array (`false`) or object (`true`) that was checked but not expanded.
    Opaque {
        object: bool,
    },
}

/// One member of an object.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Member<'a> {
    pub key: JsonStr<'a>,
    pub value: Value<'a>,
    /// The value's text, exactly as written.
    pub raw: &'a str,
}

/// Parses a whole document. Containers nested more than `expand` levels deep are
/// returned as [`Value::Opaque`]; nesting beyond `max_depth` is an error.
pub(crate) fn parse(text: &str, expand: usize, max_depth: usize) -> Result<Value<'_>, JsonError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        max_depth,
    };
    p.skip_ws();
    let value = p.value(0, expand)?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(JsonError::Syntax(p.pos));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, literal: &str) -> bool {
        if self.bytes[self.pos..].starts_with(literal.as_bytes()) {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize, expand: usize) -> Result<Value<'a>, JsonError> {
        let start = self.pos;
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(depth + 1, expand),
            Some(b'[') => self.array(depth + 1, expand),
            Some(b'"') => self.string().map(Value::Str),
            Some(b'n') if self.eat("null") => Ok(Value::Null),
            Some(b't') if self.eat("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Value::Bool(false)),
            Some(b'N') if self.eat("NaN") => Ok(Value::Float(&self.text[start..self.pos])),
            Some(b'I') if self.eat("Infinity") => Ok(Value::Float(&self.text[start..self.pos])),
            Some(b'-') if self.bytes.get(self.pos + 1) == Some(&b'I') => {
                if self.eat("-Infinity") {
                    Ok(Value::Float(&self.text[start..self.pos]))
                } else {
                    Err(JsonError::Syntax(start))
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(JsonError::Syntax(start)),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), JsonError> {
        if depth > self.max_depth {
            Err(JsonError::TooDeep)
        } else {
            Ok(())
        }
    }

    fn object(&mut self, depth: usize, expand: usize) -> Result<Value<'a>, JsonError> {
        self.enter(depth)?;
        self.pos += 1;
        let keep = expand > 0;
        let mut members = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(if keep {
                Value::Object(members)
            } else {
                Value::Opaque { object: true }
            });
        }
        loop {
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(JsonError::Syntax(self.pos));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(JsonError::Syntax(self.pos));
            }
            self.pos += 1;
            self.skip_ws();
            let start = self.pos;
            let value = self.value(depth, expand.saturating_sub(1))?;
            if keep {
                members.push(Member {
                    key,
                    value,
                    raw: &self.text[start..self.pos],
                });
            }
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(JsonError::Syntax(self.pos)),
            }
        }
        Ok(if keep {
            Value::Object(members)
        } else {
            Value::Opaque { object: true }
        })
    }

    fn array(&mut self, depth: usize, expand: usize) -> Result<Value<'a>, JsonError> {
        self.enter(depth)?;
        self.pos += 1;
        let keep = expand > 0;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
        } else {
            loop {
                let value = self.value(depth, expand.saturating_sub(1))?;
                if keep {
                    items.push(value);
                }
                self.skip_ws();
                match self.bytes.get(self.pos) {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws();
                    }
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(JsonError::Syntax(self.pos)),
                }
            }
        }
        Ok(if keep {
            Value::Array(items)
        } else {
            Value::Opaque { object: false }
        })
    }

    /// A string token starting at the opening quote.
    fn string(&mut self) -> Result<JsonStr<'a>, JsonError> {
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            match self.bytes.get(i) {
                None => return Err(JsonError::Syntax(self.pos)),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    match self.bytes.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = self.bytes.get(i + 2..i + 6).ok_or(JsonError::Syntax(i))?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(JsonError::Syntax(i));
                            }
                            i += 6;
                        }
                        _ => return Err(JsonError::Syntax(i)),
                    }
                }
                // `json.loads` is strict by default: no raw control characters.
                Some(&b) if b < 0x20 => return Err(JsonError::Syntax(i)),
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        Ok(JsonStr {
            raw: &self.text[start..i],
            escaped,
        })
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, as Python's scanner reads it: a
    /// `.` or `e` not followed by digits ends the number (and the next token fails).
    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        let b = self.bytes;
        let start = self.pos;
        let mut i = start;
        if b[i] == b'-' {
            i += 1;
        }
        let int_start = i;
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return Err(JsonError::Syntax(start)),
        }
        let int_digits = i - int_start;
        let mut float = false;
        if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            float = true;
            i += 2;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            let mut j = i + 1;
            if let Some(b'+' | b'-') = b.get(j) {
                j += 1;
            }
            if b.get(j).is_some_and(u8::is_ascii_digit) {
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
                float = true;
                i = j;
            }
        }
        self.pos = i;
        let text = &self.text[start..i];
        if float {
            Ok(Value::Float(text))
        } else if int_digits > PY_MAX_INT_DIGITS {
            Err(JsonError::IntegerTooLong(start))
        } else {
            Ok(Value::Int(text))
        }
    }
}

impl<'a> JsonStr<'a> {
    /// The string as Python holds it: code points, lone surrogates included.
    pub fn code_points(&self) -> CodePoints<'a> {
        CodePoints {
            rest: self.raw.as_bytes(),
            text: self.raw,
        }
    }

    /// Whether the string equals `s`.
    pub fn is(&self, s: &str) -> bool {
        if !self.escaped {
            return self.raw == s;
        }
        self.code_points().eq(s.chars().map(u32::from))
    }

    /// The string as Rust text, and whether a lone surrogate had to be replaced by
    /// U+FFFD (Rust strings cannot hold one).
    pub fn decode(&self) -> (Cow<'a, str>, bool) {
        if !self.escaped {
            return (Cow::Borrowed(self.raw), false);
        }
        let mut lossy = false;
        let s = self
            .code_points()
            .map(|cp| {
                char::from_u32(cp).unwrap_or_else(|| {
                    lossy = true;
                    char::REPLACEMENT_CHARACTER
                })
            })
            .collect();
        (Cow::Owned(s), lossy)
    }

    /// The string as Rust text, or `None` if it holds a lone surrogate. This is where
    /// pydantic converts a Python string to UTF-8 (to parse a number or a date) and
    /// fails on one.
    pub fn to_utf8(self) -> Option<Cow<'a, str>> {
        match self.decode() {
            (_, true) => None,
            (s, false) => Some(s),
        }
    }
}

/// The code points of a [`JsonStr`] (see [`JsonStr::code_points`]).
pub(crate) struct CodePoints<'a> {
    rest: &'a [u8],
    text: &'a str,
}

impl CodePoints<'_> {
    fn hex4(bytes: &[u8]) -> u32 {
        bytes.iter().fold(0, |acc, &b| {
            acc * 16 + char::from(b).to_digit(16).unwrap_or_default()
        })
    }
}

impl Iterator for CodePoints<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let first = *self.rest.first()?;
        if first != b'\\' {
            // Literal text: one UTF-8 character.
            let at = self.text.len() - self.rest.len();
            let c = self.text[at..].chars().next()?;
            self.rest = &self.rest[c.len_utf8()..];
            return Some(u32::from(c));
        }
        let (cp, used) = match self.rest.get(1) {
            Some(b'b') => (0x08, 2),
            Some(b'f') => (0x0c, 2),
            Some(b'n') => (0x0a, 2),
            Some(b'r') => (0x0d, 2),
            Some(b't') => (0x09, 2),
            Some(b'u') => {
                let high = Self::hex4(self.rest.get(2..6).unwrap_or_default());
                // Python joins an escaped high surrogate with an escaped low one that
                // follows at once; any other surrogate stays alone.
                let low = match self.rest.get(6..12) {
                    Some([b'\\', b'u', hex @ ..]) => Some(Self::hex4(hex)),
                    _ => None,
                };
                match low {
                    Some(low)
                        if (0xd800..0xdc00).contains(&high) && (0xdc00..0xe000).contains(&low) =>
                    {
                        (0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00), 12)
                    }
                    _ => (high, 6),
                }
            }
            Some(&other) => (u32::from(other), 2),
            None => (u32::from(b'\\'), 1),
        };
        self.rest = &self.rest[used.min(self.rest.len())..];
        Some(cp)
    }
}

/// The value of an object's key as the last member with that key.
pub(crate) fn last<'v, 'a>(members: &'v [Member<'a>], key: &str) -> Option<&'v Member<'a>> {
    members.iter().rev().find(|m| m.key.is(key))
}

/// Writes code points the way `json.dumps(ensure_ascii=True)` does.
pub(crate) fn dump_code_points(out: &mut String, cps: impl Iterator<Item = u32>) {
    use std::fmt::Write;
    out.push('"');
    for cp in cps {
        match cp {
            0x22 => out.push_str("\\\""),
            0x5c => out.push_str("\\\\"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            0x20..=0x7e => out.push(char::from(cp as u8)),
            0x10000.. => {
                let v = cp - 0x10000;
                let _ = write!(
                    out,
                    "\\u{:04x}\\u{:04x}",
                    0xd800 + (v >> 10),
                    0xdc00 + (v & 0x3ff)
                );
            }
            _ => {
                let _ = write!(out, "\\u{cp:04x}");
            }
        }
    }
    out.push('"');
}

/// Writes a string the way `json.dumps(ensure_ascii=True)` does.
pub(crate) fn dump_str(out: &mut String, s: &str) {
    dump_code_points(out, s.chars().map(u32::from));
}

/// An integer literal as Python prints the `int` it denotes (`-0` is `0`).
pub(crate) fn canonical_int(literal: &str) -> &str {
    if literal == "-0" { "0" } else { literal }
}

/// The `float` a literal denotes, as Python's `float()` reads it.
pub(crate) fn parse_float(literal: &str) -> f64 {
    match literal {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        // Rust's parser rounds correctly, as CPython's does, and overflows to infinity.
        _ => literal.parse().unwrap_or(f64::NAN),
    }
}

/// `float.__repr__` as `json.dumps` writes it (with `NaN`, `Infinity`, `-Infinity`).
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the shortest digits that round-trip, as CPython's repr does.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if f < 0.0 {
        out.push('-');
    }
    // CPython: scientific notation when the decimal point would sit more than 16
    // places right of the first digit, or 4 or more places left of it.
    let decpt = exp + 1;
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', decpt.unsigned_abs() as usize));
        out.push_str(&digits);
    } else {
        let decpt = decpt as usize;
        if digits.len() <= decpt {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', decpt - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..decpt]);
            out.push('.');
            out.push_str(&digits[decpt..]);
        }
    }
    out
}

/// Writes a value as `json.dumps(v, sort_keys=True, separators=(",", ":"))` writes
/// what `json.loads` made of it: objects keep one member per key (the last) and are
/// sorted by code point.
pub(crate) fn dump_value(out: &mut String, value: &Value<'_>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(literal) => out.push_str(canonical_int(literal)),
        Value::Float(literal) => out.push_str(&float_repr(parse_float(literal))),
        Value::Str(s) => dump_code_points(out, s.code_points()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                dump_value(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let sorted = sorted_unique(members);
            out.push('{');
            for (i, (key, member)) in sorted.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                dump_code_points(out, key.iter().copied());
                out.push(':');
                dump_value(out, &member.value);
            }
            out.push('}');
        }
        // Callers expand what they dump; an opaque value here is a bug, and writing
        // `null` keeps the output JSON.
        Value::Opaque { .. } => out.push_str("null"),
    }
}

/// An object's members with one entry per key (the last, as in a Python `dict`),
/// sorted by the keys' code points (as `sort_keys=True` sorts `str` keys).
fn sorted_unique<'v, 'a>(members: &'v [Member<'a>]) -> Vec<(Vec<u32>, &'v Member<'a>)> {
    let mut keyed: Vec<(Vec<u32>, usize)> = members
        .iter()
        .enumerate()
        .map(|(i, m)| (m.key.code_points().collect(), i))
        .collect();
    // Stable: equal keys stay in order, so the last of each run is the one that counts.
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(Vec<u32>, &Member<'a>)> = Vec::with_capacity(keyed.len());
    for (key, i) in keyed {
        match out.last_mut() {
            Some(prev) if prev.0 == key => prev.1 = &members[i],
            _ => out.push((key, &members[i])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumps(text: &str) -> String {
        let v = parse(text, usize::MAX, 64).unwrap();
        let mut out = String::new();
        dump_value(&mut out, &v);
        out
    }

    #[test]
    fn what_json_loads_accepts_and_refuses() {
        for ok in [
            "{\"a\":1} \n\t\r",
            "{\"a\":-Infinity}",
            "[NaN,Infinity]",
            "{\"a\":1e5,\"b\":1E+5,\"c\":-0.0}",
            "{\"a\":\"\\ud83d\\ude00\\ud83d\\ud83dx\\/\"}",
            "{ \"a\" : [ 1 , 2 ] }",
            "\"\u{7f}\"",
            "  {}",
        ] {
            assert!(parse(ok, usize::MAX, 64).is_ok(), "{ok:?}");
        }
        for bad in [
            "{\"a\":+1}",
            "{\"a\":-NaN}",
            "{\"a\":Infinity,}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":01}",
            "{\"a\":1e}",
            "{\"a\":\"\\U00e9\"}",
            "{\"a\":\"\\u00e\"}",
            "{\"a\":\"\u{1f}\"}",
            "\u{feff}{}",
            "{\"a\":tru}",
            "{\"a\":1\u{a0}}",
            "{\"a\":\"x\"}\u{2028}",
            "{\"a\":\"x}",
            "{1:2}",
            "[1,]",
            "-Inf",
            "",
        ] {
            assert!(
                matches!(parse(bad, usize::MAX, 64), Err(JsonError::Syntax(_))),
                "{bad:?}"
            );
        }
        let digits = "1".repeat(PY_MAX_INT_DIGITS);
        assert!(parse(&digits, 0, 64).is_ok());
        assert!(parse(&format!("-{digits}"), 0, 64).is_ok());
        assert!(parse(&format!("{digits}.5"), 0, 64).is_ok());
        assert_eq!(
            parse(&format!("[{digits}1]"), 0, 64),
            Err(JsonError::IntegerTooLong(1))
        );
    }

    #[test]
    fn depth_is_bounded_whether_or_not_expanded() {
        let deep = format!("{}{}", "[".repeat(5), "]".repeat(5));
        assert!(parse(&deep, usize::MAX, 5).is_ok());
        assert_eq!(parse(&deep, usize::MAX, 4), Err(JsonError::TooDeep));
        assert_eq!(parse(&deep, 0, 4), Err(JsonError::TooDeep));
        assert_eq!(
            parse("[[1]]", 1, 4),
            Ok(Value::Array(vec![Value::Opaque { object: false }]))
        );
    }

    #[test]
    fn strings_are_code_points_as_in_python() {
        let s = |raw: &'static str| JsonStr { raw, escaped: true };
        let cps = |raw| s(raw).code_points().collect::<Vec<_>>();
        assert_eq!(cps("a\\u00e9\u{e9}"), vec![0x61, 0xe9, 0xe9]);
        assert_eq!(cps("\\ud83d\\ude00"), vec![0x1f600]);
        assert_eq!(cps("\\ud83d\\ud83d"), vec![0xd83d, 0xd83d]);
        assert_eq!(cps("\\ude00\\ud83d"), vec![0xde00, 0xd83d]);
        assert_eq!(cps("\\ud83dx"), vec![0xd83d, 0x78]);
        assert_eq!(
            cps("\\\"\\\\\\/\\b\\f\\n\\r\\t"),
            b"\"\\/\x08\x0c\n\r\t".map(u32::from)
        );
        assert!(s("p\\u0061yload").is("payload"));
        assert!(!s("p\\u0061yload").is("paylod"));
        assert_eq!(s("\\ud800").decode(), (Cow::Owned("\u{fffd}".into()), true));
        assert_eq!(s("\\ud800").to_utf8(), None);
        assert_eq!(s("\\u00e9").to_utf8(), Some(Cow::Owned("é".into())));
    }

    #[test]
    fn dumps_like_python() {
        // Each expected output is what CPython 3.11 prints for
        // json.dumps(json.loads(input), sort_keys=True, separators=(",", ":")).
        assert_eq!(
            dumps(
                r#"{"b":1,"a":[1.0,1e16,1e15,0.0001,0.00001,1.5e-7,-0.0,123456789.123,1e22,2.5e-300,1e400,-1e400,NaN,5e-324,1.7976931348623157e308,-0]}"#
            ),
            r#"{"a":[1.0,1e+16,1000000000000000.0,0.0001,1e-05,1.5e-07,-0.0,123456789.123,1e+22,2.5e-300,Infinity,-Infinity,NaN,5e-324,1.7976931348623157e+308,0],"b":1}"#
        );
        assert_eq!(
            dumps(
                "{\"\\uffff\":1,\"\u{1F600}\":2,\"\\ud800\":3,\"a\\u007f\\u0000\\b\\f\\n\\r\\t\\\"\\\\\\/\":4,\"é\":5,\"a\":6,\"a\":7}"
            ),
            r#"{"a":7,"a\u007f\u0000\b\f\n\r\t\"\\/":4,"\u00e9":5,"\ud800":3,"\uffff":1,"\ud83d\ude00":2}"#
        );
    }

    #[test]
    fn float_repr_matches_cpython() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (9_999_999_999_999_998.0, "9999999999999998.0"),
            (0.001, "0.001"),
            (1e-4, "0.0001"),
            (1.2345e-5, "1.2345e-05"),
            (1e100, "1e+100"),
            (123.456, "123.456"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        ] {
            assert_eq!(float_repr(f), want, "{f}");
        }
    }
}
