//! Names of buckets, keys, streams and queues.

use crate::{Result, StoreError};

/// Longest name or key, in bytes.
pub const MAX_NAME_LEN: usize = 1024;

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'=' | b'-')
}

/// Checks that `name` is dot-separated non-empty tokens of `[A-Za-z0-9_=-]`.
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(StoreError::InvalidArgument(format!(
            "name must be 1-{MAX_NAME_LEN} bytes, got {}",
            name.len()
        )));
    }
    // One pass: every byte is a token byte or a dot, and no token is empty.
    let mut token_empty = true;
    for &b in name.as_bytes() {
        if b == b'.' && !token_empty {
            token_empty = true;
        } else if is_token_byte(b) {
            token_empty = false;
        } else {
            token_empty = true;
            break;
        }
    }
    if token_empty {
        return Err(StoreError::InvalidArgument(format!(
            "invalid name {name:?}: tokens of [A-Za-z0-9_=-] separated by single dots"
        )));
    }
    Ok(())
}

/// Encodes arbitrary text as one name token: bytes outside `[A-Za-z0-9_-]` become `=XX`.
/// An empty string becomes `=`.
pub fn escape_token(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    escape_token_into(text, &mut out);
    out
}

/// Appends [`escape_token`]`(text)` to `out`.
pub fn escape_token_into(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if text.is_empty() {
        out.push('=');
        return;
    }
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push('=');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

/// Reverses [`escape_token`]; `None` if `token` is not such an encoding.
pub fn unescape_token(token: &str) -> Option<String> {
    if token == "=" {
        return Some(String::new());
    }
    let b = token.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            let hex = token.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("inbox.a=40b").is_ok());
        for bad in [
            "", ".a", "a.", "a..b", "a b", "a@b", "a>b", "a*", "a.b.", "ab*c.d",
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn names_are_dot_separated_non_empty_tokens(
            name in "[a-c=._@ -]{0,12}",
        ) {
            let by_definition = name
                .split('.')
                .all(|t| !t.is_empty() && t.bytes().all(is_token_byte));
            proptest::prop_assert_eq!(validate_name(&name).is_ok(), by_definition);
        }
    }

    #[test]
    fn escaping_round_trips_and_is_a_valid_token() {
        for s in ["sales@example.com", "a.b+c@x", "", "日本", "=", "plain"] {
            let e = escape_token(s);
            assert!(validate_name(&e).is_ok(), "{s} -> {e}");
            assert!(!e.contains('.'));
            assert_eq!(unescape_token(&e).as_deref(), Some(s));
        }
        assert_eq!(escape_token("a@b.c"), "a=40b=2Ec");
    }
}
