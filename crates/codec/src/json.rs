//! Bounds on untrusted JSON.

/// Deepest nesting of arrays and objects accepted by default.
pub const DEFAULT_MAX_DEPTH: usize = 32;

/// Returns the nesting depth of the JSON text in `bytes`, or `Err(limit)` as soon as it
/// exceeds `limit`. Brackets inside strings are ignored. The text is not otherwise
/// validated: this runs before the parser so that deep input is refused cheaply.
pub fn check_depth(bytes: &[u8], limit: usize) -> Result<usize, usize> {
    let mut depth = 0usize;
    let mut max = 0usize;
    let mut in_string = false;
    let mut escaped = false;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth() {
        assert_eq!(check_depth(b"1", 3), Ok(0));
        assert_eq!(check_depth(br#"{"a":[1,{"b":2}]}"#, 3), Ok(3));
        assert_eq!(check_depth(br#"{"a":[1,{"b":[2]}]}"#, 3), Err(3));
        assert_eq!(check_depth(br#"{"a":"[[[[[[\"[[["}"#, 1), Ok(1));
    }
}
