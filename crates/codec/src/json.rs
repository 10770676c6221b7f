//! Bounds on untrusted JSON.

/// Deepest nesting of arrays and objects accepted by default.
pub const DEFAULT_MAX_DEPTH: usize = 32;

/// Returns the nesting depth of the JSON text in `bytes`, or `Err(limit)` as soon as it
/// exceeds `limit`. Brackets inside strings are ignored. The text is not otherwise
/// validated: this runs before the parser so that deep input is refused cheaply.
pub fn check_depth(bytes: &[u8], limit: usize) -> Result<usize, usize> {
    let mut depth = 0usize;
    let mut max = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = string_end(bytes, i + 1),
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Err(limit);
                }
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(max)
}

/// The index of the `"` that closes the string whose text starts at `from` (or the
/// length of `bytes` when it is unterminated). Strings are most of an envelope's bytes
/// (a payload's text), so this jumps between quotes and backslashes with `memchr`
/// rather than looking at every byte.
fn string_end(bytes: &[u8], mut from: usize) -> usize {
    while let Some(offset) = memchr::memchr2(b'"', b'\\', &bytes[from.min(bytes.len())..]) {
        let at = from + offset;
        if bytes[at] == b'"' {
            return at;
        }
        // A backslash escapes the byte after it, whatever it is.
        from = at + 2;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth() {
        assert_eq!(check_depth(b"1", 3), Ok(0));
        assert_eq!(check_depth(br#"{"a":[1,{"b":2}]}"#, 3), Ok(3));
        assert_eq!(check_depth(br#"{"a":[1,{"b":[2]}]}"#, 3), Err(3));
        assert_eq!(check_depth(br#"{"a":"[[[[[[\"[[["}"#, 1), Ok(1));
        assert_eq!(check_depth(br#"{"a":"x\\"}"#, 1), Ok(1));
        assert_eq!(check_depth(br#"["\"#, 1), Ok(1));
        assert_eq!(check_depth(br#"["#, 0), Err(0));
    }

    /// The byte-at-a-time definition the fast scan must agree with.
    fn naive_depth(bytes: &[u8], limit: usize) -> Result<usize, usize> {
        let (mut depth, mut max) = (0usize, 0usize);
        let (mut in_string, mut escaped) = (false, false);
        for &b in bytes {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > limit {
                        return Err(limit);
                    }
                    max = max.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(max)
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_byte_at_a_time_scan(
            text in proptest::collection::vec(
                proptest::sample::select(b"[]{}\"\\ax".to_vec()), 0..64),
            limit in 0usize..8,
        ) {
            proptest::prop_assert_eq!(check_depth(&text, limit), naive_depth(&text, limit));
        }
    }
}
