//! pydantic 2 "lax mode" coercions, as the reference client applies them to the
//! `dict` that `json.loads` made of a frame (`Message(**data)`: Python input, not
//! JSON input).
//!
//! Ported from pydantic-core 2.41 (`input/input_python.rs`, `input/shared.rs`) and its
//! datetime parser speedate 0.17 (`datetime.rs`, `time.rs`, `numbers.rs`), the
//! versions pydantic 2.12.5 pins. Each function says which rule it mirrors.

use super::pyjson::{JsonStr, Value, canonical_int, parse_float};
pub(crate) use agentgate_core::time::{civil_from_days, days_from_civil};

/// An `int` field (`Optional[int]` once `None` is handled): a JSON integer, a bool
/// (lax), a float with no fractional part, or a string that pydantic's `str_as_int`
/// reads. Returns the integer's canonical decimal text.
pub(crate) fn int(value: &Value<'_>) -> Option<String> {
    match value {
        Value::Int(literal) => Some(canonical_int(literal).to_owned()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        Value::Float(literal) => float_as_int(parse_float(literal)).map(|i| i.to_string()),
        Value::Str(s) => str_as_int(&s.to_utf8()?),
        _ => None,
    }
}

/// A `float` field: a JSON number (an integer too large for a double fails, as
/// `int.__float__` raises), a bool (lax), or a string Rust's `f64` parser reads once
/// trimmed (pydantic's `str_as_float`, which allows `inf` and `nan`).
pub(crate) fn float(value: &Value<'_>) -> Option<f64> {
    match value {
        Value::Float(literal) => Some(parse_float(literal)),
        Value::Int(literal) => {
            // The `int` first: `-0` is 0, which converts to 0.0, not -0.0.
            let f = parse_float(canonical_int(literal));
            f.is_finite().then_some(f)
        }
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Str(s) => str_as_float(&s.to_utf8()?),
        _ => None,
    }
}

/// A `bool` field: a JSON bool; the strings of `str_as_bool`; the integers 0 and 1;
/// the floats 0.0 and 1.0.
pub(crate) fn boolean(value: &Value<'_>) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Str(s) => str_as_bool(&s.to_utf8()?),
        Value::Int(literal) => match canonical_int(literal) {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        },
        Value::Float(literal) => match float_as_int(parse_float(literal)) {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        _ => None,
    }
}

/// `float_as_int`: finite, no fractional part, strictly inside the `i64` range as
/// doubles compare.
fn float_as_int(f: f64) -> Option<i64> {
    if !f.is_finite() || f % 1.0 != 0.0 {
        return None;
    }
    ((i64::MIN as f64) < f && f < (i64::MAX as f64)).then_some(f as i64)
}

/// `str_as_bool`.
fn str_as_bool(s: &str) -> Option<bool> {
    const FALSE: [&str; 5] = ["f", "n", "no", "off", "false"];
    const TRUE: [&str; 5] = ["t", "y", "on", "yes", "true"];
    if s == "0" || FALSE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Some(false)
    } else if s == "1" || TRUE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Some(true)
    } else {
        None
    }
}

/// `str_as_float`: the trimmed text through Rust's `f64` parser, else the untrimmed
/// text with single inner underscores removed.
fn str_as_float(s: &str) -> Option<f64> {
    s.trim()
        .parse()
        .ok()
        .or_else(|| strip_underscores(s)?.parse().ok())
}

/// What jiter's `NumberInt::try_from` makes of a whole text.
enum JiterInt {
    Int(String),
    OutOfRange,
    Invalid,
}

/// jiter's integer reader: `-?(0|[1-9][0-9]*)` filling the whole text, at most 4,300
/// characters long (sign included).
fn jiter_int(s: &str) -> JiterInt {
    let b = s.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let run = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    if run == 0 || (digits[0] == b'0' && run > 1) {
        return JiterInt::Invalid;
    }
    // jiter counts the length only once the value outgrows 18 digits.
    if run > 18 && b.len() - digits.len() + run > 4300 {
        return JiterInt::OutOfRange;
    }
    if run != digits.len() {
        return JiterInt::Invalid;
    }
    JiterInt::Int(canonical_int(s).to_owned())
}

/// `str_as_int`: jiter's reader, then pydantic's `clean_int_str` and jiter again.
fn str_as_int(s: &str) -> Option<String> {
    match jiter_int(s) {
        JiterInt::Int(i) => return Some(i),
        JiterInt::OutOfRange => return None,
        JiterInt::Invalid => {}
    }
    match jiter_int(&clean_int_str(s)?) {
        JiterInt::Int(i) => Some(i),
        _ => None,
    }
}

/// `strip_underscores`: single underscores between other characters.
fn strip_underscores(s: &str) -> Option<String> {
    if s.starts_with('_') || s.ends_with('_') || !s.contains('_') || s.contains("__") {
        None
    } else {
        Some(s.replace('_', ""))
    }
}

/// `clean_int_str`: trim, drop one leading `+`, strip leading zeros, a `.0…` tail and
/// underscores; `None` when nothing changed or the text cannot be an integer.
fn clean_int_str(s: &str) -> Option<String> {
    let len_before = s.len();
    let mut s = s.trim();
    if let Some(rest) = s.strip_prefix('+') {
        if rest.starts_with('-') {
            return None;
        }
        s = rest;
    }
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        if rest.starts_with('-') || rest.starts_with('+') {
            return None;
        }
        negative = true;
        s = rest;
    }
    s = strip_leading_zeros(s)?;
    if let Some(i) = s.find('.') {
        let decimals = &s[i + 1..];
        if !decimals.is_empty() && decimals.chars().all(|c| c == '0') {
            s = &s[..i];
        }
    }
    let sign = if negative { "-" } else { "" };
    if let Some(stripped) = strip_underscores(s) {
        return Some(format!("{sign}{stripped}"));
    }
    if len_before == s.len() {
        return None;
    }
    Some(format!("{sign}{s}"))
}

/// `strip_leading_zeros` (keeps one zero before a `.` or when only zeros remain).
fn strip_leading_zeros(s: &str) -> Option<&str> {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, '0')) => {}
        Some((_, c)) if c.is_ascii_digit() || c == '-' => return Some(s),
        _ => return None,
    }
    for (i, c) in chars {
        match c {
            '0' | '_' => {}
            '1'..='9' | '-' => return Some(&s[i..]),
            '.' => return Some(&s[i - 1..]),
            _ => return None,
        }
    }
    Some(&s[s.len() - 1..])
}

/// An instant accepted by the reference's `datetime` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameTime {
    /// Microseconds since 1970-01-01T00:00:00Z. A time without a zone (the reference
    /// client's own, from `utcnow()`) is read as UTC.
    pub unix_micros: i64,
    /// The zone the text gave, in seconds east of UTC; `None` for a time without one.
    /// Unix timestamps are UTC (`Some(0)`).
    pub utc_offset_seconds: Option<i32>,
}

const MS_WATERSHED: i64 = 20_000_000_000;
/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range speedate accepts.
const UNIX_0000: i64 = -62_167_219_200;
const UNIX_9999: i64 = 253_402_300_799;
/// 0001-01-01T00:00:00Z: Python's `datetime` has no year 0.
const UNIX_0001: i64 = -62_135_596_800;

/// The `datetime` field in lax mode: an ISO 8601 / RFC 3339-like text (see
/// [`parse_datetime_text`]), a Unix timestamp as a JSON number, never `null` or a bool.
pub(crate) fn datetime(value: &Value<'_>) -> Option<FrameTime> {
    match value {
        Value::Str(s) => parse_datetime_text(&s.to_utf8()?),
        Value::Int(literal) => from_timestamp(literal.parse().ok()?, 0),
        Value::Float(literal) => from_float(parse_float(literal)),
        _ => None,
    }
}

/// The text form of the reference's lax `datetime` parser (pydantic-core 2.41 over
/// speedate 0.17, `val_temporal_unit="infer"`, fractions beyond microseconds
/// truncated):
///
/// - `YYYY-MM-DD` then `T`, `t`, a space or `_`, then `HH:MM`, optionally `:SS` and
///   then optionally `.` or `,` and one or more digits; then nothing, `Z`/`z`, or an
///   offset `+`, `-` or U+2212 `HH:MM` or `HHMM` under 24 hours;
/// - a bare date `YYYY-MM-DD` (midnight, no zone);
/// - an integer or decimal Unix timestamp (in milliseconds above 2×10¹⁰);
///
/// with years 0001 to 9999 and real days of the month; no leap seconds.
pub fn parse_datetime_text(text: &str) -> Option<FrameTime> {
    let bytes = text.as_bytes();
    if let Some(t) = rfc3339(bytes) {
        // Parsed, but Python's `datetime` has no year 0: refused, with no retry.
        return (&bytes[..4] != b"0000").then_some(t);
    }
    let parsed = match float_parse_bytes(bytes) {
        IntFloat::Int(i) => from_timestamp(i, 0),
        IntFloat::Float(f) => {
            let normalised = if f.abs() > MS_WATERSHED as f64 {
                f / 1000.0
            } else {
                f
            };
            let seconds = normalised.floor() as i64;
            let micros = ((normalised - seconds as f64) * 1_000_000.0).round() as u32;
            from_timestamp(seconds, micros)
        }
        IntFloat::Err => None,
    };
    // pydantic retries a text that is not a datetime as a date, at midnight.
    parsed.or_else(|| {
        if bytes.len() != 10 {
            return None;
        }
        let (year, month, day) = date(bytes)?;
        (year > 0).then(|| FrameTime {
            unix_micros: days_from_civil(year, month, day) * 86_400_000_000,
            utc_offset_seconds: None,
        })
    })
}

/// speedate's `Date::parse_bytes_partial`: `YYYY-MM-DD` at the start.
fn date(b: &[u8]) -> Option<(i64, i64, i64)> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let max_day = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    (1..=max_day).contains(&day).then_some((year, month, day))
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

/// speedate's `DateTime::parse_bytes_rfc3339_with_config` with truncation.
fn rfc3339(b: &[u8]) -> Option<FrameTime> {
    let (year, month, day) = date(b)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ' | b'_')) {
        return None;
    }
    if b.len() < 16 || b[13] != b':' {
        return None;
    }
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    if hour > 23 || minute > 59 {
        return None;
    }
    let mut pos = 16;
    let mut second = 0;
    let mut micros = 0i64;
    if b.get(16) == Some(&b':') {
        second = digits(b.get(17..19)?)?;
        if second > 59 {
            return None;
        }
        pos = 19;
        if let Some(b'.' | b',') = b.get(19) {
            pos = 20;
            let run = b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
            if run == 0 {
                return None;
            }
            let kept = &b[20..20 + run.min(6)];
            micros = digits(kept)? * 10i64.pow(6 - kept.len() as u32);
            pos += run;
        }
    }
    let mut offset = None;
    if let Some(&c) = b.get(pos) {
        pos += 1;
        if c == b'Z' || c == b'z' {
            offset = Some(0);
        } else {
            let sign = match c {
                b'+' => 1,
                b'-' => -1,
                // U+2212 MINUS SIGN, which ISO 8601 allows.
                0xe2 if b.get(pos..pos + 2) == Some(&[0x88, 0x92]) => {
                    pos += 2;
                    -1
                }
                _ => return None,
            };
            let h = digits(b.get(pos..pos + 2)?)?;
            let m = match b.get(pos + 2) {
                Some(b':') => {
                    pos += 3;
                    digits(b.get(pos..pos + 2)?)?
                }
                Some(c) if c.is_ascii_digit() => {
                    pos += 2;
                    digits(b.get(pos..pos + 2)?)?
                }
                _ => return None,
            };
            if m >= 60 {
                return None;
            }
            let value = sign * (h * 3600 + m * 60);
            if value.abs() >= 86_400 {
                return None;
            }
            offset = Some(value as i32);
            pos += 2;
        }
    }
    if b.len() > pos {
        return None;
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let utc = local - i64::from(offset.unwrap_or(0));
    Some(FrameTime {
        unix_micros: utc * 1_000_000 + micros,
        utc_offset_seconds: offset,
    })
}

enum IntFloat {
    Int(i64),
    Float(f64),
    Err,
}

/// speedate's `float_parse_bytes`: its wrapping integer reader, and a float reader
/// only when that stops at a `.`.
fn float_parse_bytes(s: &[u8]) -> IntFloat {
    let (negative, first, rest) = match s {
        [b'-', first, rest @ ..] => (true, *first, rest),
        [b'+', first, rest @ ..] | [first, rest @ ..] => (false, *first, rest),
        [] => return IntFloat::Err,
    };
    let stop = |c: u8| {
        if c == b'.' {
            // Rust's reader accepts the same decimal forms as lexical's standard format.
            match std::str::from_utf8(s)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
            {
                Some(f) => IntFloat::Float(f),
                None => IntFloat::Err,
            }
        } else {
            IntFloat::Err
        }
    };
    if !first.is_ascii_digit() {
        return stop(first);
    }
    let mut value = i64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return stop(c);
        }
        value = value.wrapping_mul(10).wrapping_add(i64::from(c - b'0'));
        if value < 0 {
            return stop(c);
        }
    }
    IntFloat::Int(if negative { -value } else { value })
}

/// speedate's `from_timestamp_with_config` (unit inferred, zone UTC) and pydantic's
/// refusal of year 0.
fn from_timestamp(timestamp: i64, micros: u32) -> Option<FrameTime> {
    let (mut second, extra) = if timestamp.checked_abs()? <= MS_WATERSHED {
        (timestamp, 0u32)
    } else {
        let mut s = timestamp / 1000;
        let mut us = (timestamp % 1000) * 1000;
        if us < 0 {
            s -= 1;
            us += 1_000_000;
        }
        (s, us as u32)
    };
    let mut total = micros.checked_add(extra)?;
    if total >= 1_000_000 {
        second = second.checked_add(i64::from(total / 1_000_000))?;
        total %= 1_000_000;
    }
    if !(UNIX_0000..=UNIX_9999).contains(&second) || second < UNIX_0001 {
        return None;
    }
    Some(FrameTime {
        unix_micros: second * 1_000_000 + i64::from(total),
        utc_offset_seconds: Some(0),
    })
}

/// speedate's `from_float_with_config` (unit inferred), after pydantic refuses NaN and
/// infinities.
fn from_float(timestamp: f64) -> Option<FrameTime> {
    if !timestamp.is_finite() {
        return None;
    }
    let scale = if timestamp.abs() <= MS_WATERSHED as f64 {
        1_000_000.0
    } else {
        1_000.0
    };
    let micros = timestamp.fract().abs() * scale;
    from_timestamp(timestamp.floor() as i64, micros.round() as u32)
}

/// `str` fields take JSON strings only (pydantic never turns numbers into strings
/// unless told to); lone surrogates are kept.
pub(crate) fn string<'v, 'a>(value: &'v Value<'a>) -> Option<&'v JsonStr<'a>> {
    match value {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value<'_> {
        super::super::pyjson::parse(text, 1, 8).unwrap()
    }

    #[test]
    fn ints_as_pydantic_coerces_them() {
        for (json, want) in [
            ("5", Some("5")),
            ("-0", Some("0")),
            ("true", Some("1")),
            ("5.0", Some("5")),
            ("-1e3", Some("-1000")),
            ("5.5", None),
            ("1e400", None),
            ("NaN", None),
            ("9.3e18", None),
            ("\"5\"", Some("5")),
            ("\" 5 \"", Some("5")),
            ("\"+5\"", Some("5")),
            ("\"-05\"", Some("-5")),
            ("\"5.000\"", Some("5")),
            ("\"5.\"", None),
            ("\"1_000\"", Some("1000")),
            ("\"1__000\"", None),
            ("\"_1\"", None),
            ("\"0x10\"", None),
            ("\"1e3\"", None),
            ("\"+-1\"", None),
            ("\"\"", None),
            ("\"00\"", Some("0")),
            (
                "\"123456789012345678901234567890\"",
                Some("123456789012345678901234567890"),
            ),
            ("null", None),
            ("[]", None),
        ] {
            assert_eq!(int(&v(json)).as_deref(), want, "{json}");
        }
        let long = format!("\"{}\"", "1".repeat(4301));
        assert_eq!(int(&v(&long)), None);
        let long = format!("\" {}\"", "1".repeat(4299));
        assert_eq!(int(&v(&long)).map(|s| s.len()), Some(4299));
    }

    #[test]
    fn floats_and_bools_as_pydantic_coerces_them() {
        assert_eq!(float(&v("5")), Some(5.0));
        assert!(float(&v("-0")).unwrap().is_sign_positive());
        assert!(float(&v("-0.0")).unwrap().is_sign_negative());
        assert_eq!(float(&v("true")), Some(1.0));
        assert_eq!(float(&v("\" 2.5 \"")), Some(2.5));
        assert_eq!(float(&v("\"1_0.5\"")), Some(10.5));
        assert!(float(&v("\"inf\"")).unwrap().is_infinite());
        assert!(float(&v("NaN")).unwrap().is_nan());
        assert_eq!(float(&v(&"9".repeat(400))), None);
        assert_eq!(float(&v("\"x\"")), None);
        assert_eq!(float(&v("{}")), None);
        for (json, want) in [
            ("true", Some(true)),
            ("\"yes\"", Some(true)),
            ("\"OFF\"", Some(false)),
            ("\" yes\"", None),
            ("1", Some(true)),
            ("0.0", Some(false)),
            ("2", None),
            ("0.5", None),
            ("null", None),
        ] {
            assert_eq!(boolean(&v(json)), want, "{json}");
        }
    }

    fn at(text: &str) -> Option<(i64, Option<i32>)> {
        parse_datetime_text(text).map(|t| (t.unix_micros, t.utc_offset_seconds))
    }

    #[test]
    fn datetimes_as_the_lax_parser_reads_them() {
        const T: i64 = 1_768_212_000; // 2026-01-12T10:00:00Z
        let s = |secs: i64| secs * 1_000_000;
        assert_eq!(at("2026-01-12T10:00:00"), Some((s(T), None)));
        assert_eq!(at("2026-01-12T10:00:00Z"), Some((s(T), Some(0))));
        assert_eq!(at("2026-01-12t10:00:00z"), Some((s(T), Some(0))));
        assert_eq!(at("2026-01-12 10:00"), Some((s(T), None)));
        assert_eq!(at("2026-01-12_10:00:00.5"), Some((s(T) + 500_000, None)));
        assert_eq!(
            at("2026-01-12T10:00:00,123456789"),
            Some((s(T) + 123_456, None))
        );
        assert_eq!(at("2026-01-12T11:30:00+01:30"), Some((s(T), Some(5400))));
        assert_eq!(at("2026-01-12T09:00:00-0100"), Some((s(T), Some(-3600))));
        assert_eq!(
            at("2026-01-12T09:00:00\u{2212}01:00"),
            Some((s(T), Some(-3600)))
        );
        assert_eq!(at("2026-01-12"), Some((s(T - 36_000), None)));
        assert_eq!(at("1768212000"), Some((s(T), Some(0))));
        assert_eq!(at("1768212000000"), Some((s(T), Some(0))));
        assert_eq!(at("1768212000.25"), Some((s(T) + 250_000, Some(0))));
        assert_eq!(at("0001-01-01T00:00:00"), Some((s(UNIX_0001), None)));
        for bad in [
            "",
            "2026-01-12T10:00:00+00:00Z",
            "2026-01-12T",
            "2026-01-12T10",
            "2026-01-12T10:00:",
            "2026-01-12T10:00:00.",
            "2026-01-12T24:00:00",
            "2026-01-12T10:00:60",
            "2026-02-30T10:00:00",
            "2026-13-01",
            "2026-1-12",
            "2026-01-12T10:00:00+24:00",
            "2026-01-12T10:00:00+01:60",
            "2026-01-12T10:00:00+1",
            "2026-01-12T10:00:00 ",
            "0000-01-01T00:00:00",
            "0000-01-01",
            "1e9",
            "-99999999999999999",
            "253402300800000",
            "now",
        ] {
            assert_eq!(at(bad), None, "{bad:?}");
        }
        let json = |text| datetime(&v(text));
        assert_eq!(json("1768212000").map(|t| t.unix_micros), Some(s(T)));
        assert_eq!(
            json("1768212000.5").map(|t| t.unix_micros),
            Some(s(T) + 500_000)
        );
        assert_eq!(json("null"), None);
        assert_eq!(json("true"), None);
        assert_eq!(json("NaN"), None);
        assert_eq!(json("99999999999999999999"), None);
    }

    #[test]
    fn civil_days_round_trip() {
        for days in [-719_162, -1, 0, 1, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
