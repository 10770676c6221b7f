//! Millisecond timestamps.
//!
//! The core never reads the clock: callers pass a [`Timestamp`] in. On the wire,
//! timestamps are RFC 3339 UTC with exactly three fractional digits
//! (`2026-01-02T03:04:05.678Z`), which every AMTP client, including Python's
//! `fromisoformat` before 3.11, can parse.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Milliseconds since the epoch.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// This time plus `ms` milliseconds (saturating).
    pub fn plus_millis(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`), truncating to milliseconds.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            if !t.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            t.parse().ok()
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        if !(1..=12).contains(&mo)
            || d < 1
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || sec > 60
        {
            return None;
        }
        let mut i = 19;
        let mut ms = 0i64;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            let frac = &s[start..i.min(start + 3)];
            ms = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
        }
        let offset_min = match b.get(i)? {
            b'Z' | b'z' if i + 1 == b.len() => 0,
            sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
                let oh = num(i + 1..i + 3)?;
                let om = num(i + 4..i + 6)?;
                if oh > 23 || om > 59 {
                    return None;
                }
                let m = oh * 60 + om;
                if *sign == b'+' { m } else { -m }
            }
            _ => return None,
        };
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + h * 3600 + mi * 60 + sec.min(59) - offset_min * 60;
        let total = secs.checked_mul(1000)?.checked_add(ms)?;
        u64::try_from(total).ok().map(Timestamp)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date (year, month, day) of a day number from
/// [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Timestamp {
    /// Writes the RFC 3339 form (`YYYY-MM-DDTHH:MM:SS.mmmZ`) into `buf` without
    /// allocating; `None` for years beyond 9999, which need more digits.
    fn rfc3339_into(self, buf: &mut [u8; 24]) -> Option<&str> {
        write_rfc3339(self.0 / 1000, self.0 % 1000, buf)
    }
}

/// Writes `unix_micros` (microseconds since the epoch) as RFC 3339 UTC with six
/// fractional digits (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) into `buf`, without allocating;
/// `None` for years beyond 9999. This is the form log lines carry.
pub fn rfc3339_micros(unix_micros: u64, buf: &mut [u8; 27]) -> Option<&str> {
    write_rfc3339(unix_micros / 1_000_000, unix_micros % 1_000_000, buf)
}

/// Writes `secs` since the epoch and a decimal `fraction` of `buf.len() - 21` digits
/// as `YYYY-MM-DDTHH:MM:SS.<fraction>Z` into `buf`; `None` beyond year 9999.
fn write_rfc3339(secs: u64, fraction: u64, buf: &mut [u8]) -> Option<&str> {
    let secs = secs as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        return None;
    }
    let rem = secs.rem_euclid(86_400);
    let end = buf.len() - 1;
    let fields = [
        (0..4, y),
        (5..7, m),
        (8..10, d),
        (11..13, rem / 3600),
        (14..16, rem % 3600 / 60),
        (17..19, rem % 60),
        (20..end, fraction as i64),
    ];
    for (range, mut value) in fields {
        for b in buf[range].iter_mut().rev() {
            *b = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    for (at, sep) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        buf[at] = sep;
    }
    buf[end] = b'Z';
    std::str::from_utf8(buf).ok()
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0; 24];
        match self.rfc3339_into(&mut buf) {
            Some(text) => f.write_str(text),
            None => self.write_any_year(f),
        }
    }
}

impl Timestamp {
    /// The RFC 3339 form through the formatter, for any year.
    fn write_any_year(self, f: &mut impl fmt::Write) -> fmt::Result {
        let ms = self.0 % 1000;
        let secs = (self.0 / 1000) as i64;
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0; 24];
        match self.rfc3339_into(&mut buf) {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 timestamp: {s}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_with_millis() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_767_323_045_678).to_string(),
            "2026-01-02T03:04:05.678Z"
        );
    }

    #[test]
    fn parses_variants() {
        let t = Timestamp(1_767_323_045_678);
        assert_eq!(
            Timestamp::parse_rfc3339("2026-01-02T03:04:05.678Z"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-01-02T03:04:05.678123+00:00"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-01-02T05:04:05.678+02:00"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-01-02T03:04:05Z"),
            Some(Timestamp(1_767_323_045_000))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-01-02T03:04:05.1Z"),
            Some(Timestamp(1_767_323_045_100))
        );
        for bad in [
            "",
            "2026-01-02",
            "2026-13-02T03:04:05Z",
            "2026-02-30T03:04:05Z",
            "2026-01-02T03:04:05",
            "2026-01-02T03:04:05.Z",
            "2026-01-02T03:04:05Zjunk",
            "2026-01-02T25:04:05Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn display_matches_the_formatter(ms in any::<u64>()) {
            let mut slow = String::new();
            Timestamp(ms).write_any_year(&mut slow).unwrap();
            prop_assert_eq!(Timestamp(ms).to_string(), slow.clone());
            prop_assert_eq!(serde_json::to_string(&Timestamp(ms)).unwrap(), format!("\"{slow}\""));
        }

        #[test]
        fn micros_extend_the_millisecond_form(us in 0u64..253_402_300_799_999_999) {
            let mut buf = [0; 27];
            let text = rfc3339_micros(us, &mut buf).unwrap();
            let millis = Timestamp(us / 1000).to_string();
            prop_assert_eq!(&text[..23], &millis[..23]);
            prop_assert_eq!(&text[23..], format!("{:03}Z", us % 1000));
        }

        #[test]
        fn display_parse_round_trip(ms in 0u64..253_402_300_799_999) {
            let t = Timestamp(ms);
            prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Some(t));
        }
    }
}
