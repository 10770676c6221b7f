//! DNS domain names.
//!
//! The rules follow the AMTP deployment guide: `localhost` is allowed; otherwise labels
//! of 1–63 characters from `[A-Za-z0-9-]` with no leading or trailing hyphen, at most 253
//! characters in all, no trailing dot and no underscore. Domains compare
//! case-insensitively, so they are stored lowercased.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest domain name accepted, in characters.
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest label accepted, in characters.
pub const MAX_LABEL_LEN: usize = 63;

/// A validated, lowercased domain name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

/// Why a string is not a valid domain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// The domain is empty (or only whitespace).
    #[error("domain is empty")]
    Empty,
    /// Longer than [`MAX_DOMAIN_LEN`].
    #[error("domain is {0} characters long; at most 253 are allowed")]
    TooLong(usize),
    /// Ends with a dot.
    #[error("domain must not end with a dot")]
    TrailingDot,
    /// Two dots in a row or a leading dot.
    #[error("domain has an empty label")]
    EmptyLabel,
    /// A label longer than [`MAX_LABEL_LEN`].
    #[error("domain label '{0}' is longer than 63 characters")]
    LabelTooLong(String),
    /// A label starting or ending with a hyphen.
    #[error("domain label '{0}' starts or ends with a hyphen")]
    HyphenAtEdge(String),
    /// An underscore, which host names may not contain.
    #[error("domain must not contain an underscore")]
    Underscore,
    /// Any other character outside `[A-Za-z0-9.-]`.
    #[error("domain contains the invalid character {0:?}")]
    InvalidCharacter(char),
}

impl Domain {
    /// Parses and normalises (lowercases) a domain name.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(DomainError::Empty);
        }
        if s.chars().count() > MAX_DOMAIN_LEN {
            return Err(DomainError::TooLong(s.chars().count()));
        }
        if s.ends_with('.') {
            return Err(DomainError::TrailingDot);
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
        {
            return Err(if c == '_' {
                DomainError::Underscore
            } else {
                DomainError::InvalidCharacter(c)
            });
        }
        for label in s.split('.') {
            if label.is_empty() {
                return Err(DomainError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(DomainError::LabelTooLong(label.to_string()));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(DomainError::HyphenAtEdge(label.to_string()));
            }
        }
        Ok(Domain(s.to_ascii_lowercase()))
    }

    /// The normalised text of the domain.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Domain {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Domain::parse(s)
    }
}

impl Serialize for Domain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Domain::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_guide_examples() {
        for ok in [
            "company-a.com",
            "api.example.org",
            "localhost",
            "a",
            "x1.y2.z3",
        ] {
            assert!(Domain::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_guide_examples_with_the_reason() {
        assert_eq!(
            Domain::parse("invalid_domain"),
            Err(DomainError::Underscore)
        );
        assert_eq!(
            Domain::parse("domain-.com"),
            Err(DomainError::HyphenAtEdge("domain-".into()))
        );
        assert_eq!(Domain::parse("example.com."), Err(DomainError::TrailingDot));
        assert_eq!(Domain::parse(""), Err(DomainError::Empty));
        assert_eq!(Domain::parse("a..b"), Err(DomainError::EmptyLabel));
        assert_eq!(Domain::parse(".a"), Err(DomainError::EmptyLabel));
        assert_eq!(
            Domain::parse("a b"),
            Err(DomainError::InvalidCharacter(' '))
        );
        let label = "a".repeat(64);
        assert_eq!(
            Domain::parse(&format!("{label}.com")),
            Err(DomainError::LabelTooLong(label))
        );
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(long.len(), 259);
        assert_eq!(Domain::parse(&long), Err(DomainError::TooLong(259)));
    }

    #[test]
    fn lowercases_and_trims() {
        assert_eq!(
            Domain::parse(" Example.COM ").unwrap().as_str(),
            "example.com"
        );
    }

    #[test]
    fn label_of_63_is_fine() {
        assert!(Domain::parse(&format!("{}.com", "a".repeat(63))).is_ok());
    }
}
