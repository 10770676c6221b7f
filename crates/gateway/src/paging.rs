//! The query parameters every paged listing shares: `limit` and `cursor`.

/// A paging parameter the caller got wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// `limit` out of range or not a number.
    #[error("limit must be an integer from 1 to {max}")]
    InvalidLimit {
        /// The largest limit accepted.
        max: usize,
    },
    /// `cursor` is not one this gateway issued.
    #[error("cursor is not valid")]
    InvalidCursor,
}

/// The page size asked for: `default` when absent, else an integer from 1 to `max`.
pub(crate) fn limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, PageError> {
    match raw {
        None => Ok(default),
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or(PageError::InvalidLimit { max }),
    }
}

/// The position a cursor stands for: `None` when absent or empty, else what `decode`
/// makes of it (which must be `Some` for a cursor this gateway issued).
pub(crate) fn cursor<T>(
    raw: Option<&str>,
    decode: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, PageError> {
    match raw {
        None | Some("") => Ok(None),
        Some(c) => decode(c).map(Some).ok_or(PageError::InvalidCursor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(limit(None, 50, 1000), Ok(50));
        assert_eq!(limit(Some("1"), 50, 1000), Ok(1));
        assert_eq!(limit(Some("1000"), 50, 1000), Ok(1000));
        for bad in ["0", "1001", "-1", "ten", "", " 5", "5.0"] {
            assert_eq!(
                limit(Some(bad), 50, 1000),
                Err(PageError::InvalidLimit { max: 1000 }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn cursors() {
        let decode = |c: &str| c.strip_prefix("at-").map(str::to_string);
        assert_eq!(cursor(None, decode), Ok(None));
        assert_eq!(cursor(Some(""), decode), Ok(None));
        assert_eq!(cursor(Some("at-7"), decode), Ok(Some("7".to_string())));
        assert_eq!(cursor(Some("7"), decode), Err(PageError::InvalidCursor));
    }
}
