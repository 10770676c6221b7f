//! Agent addresses (`local@domain`) and local agent names.
//!
//! An [`Address`] accepts a bare RFC 5322 addr-spec with a dot-atom local part: no
//! display names, quoting or comments. The domain compares case-insensitively; the
//! local part is case-sensitive. Agents registered on this gateway additionally follow
//! the stricter [`AgentName`] rules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::{Domain, DomainError};

/// Longest local part (and agent name), in characters.
pub const MAX_LOCAL_LEN: usize = 64;

/// Why a string is not a valid address or agent name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// No `@`, or more than one.
    #[error("address must have the form local@domain")]
    NotAnAddress,
    /// The part before `@` is empty.
    #[error("the local part is empty")]
    EmptyLocal,
    /// The local part (or name) is longer than 64 characters.
    #[error("the local part is {0} characters long; at most 64 are allowed")]
    LocalTooLong(usize),
    /// A character not allowed in a local part or agent name.
    #[error("invalid character {0:?} in the local part")]
    InvalidCharacter(char),
    /// A local part with a leading, trailing or doubled dot.
    #[error("the local part has a misplaced dot")]
    MisplacedDot,
    /// An agent name starting or ending with `.`, `-` or `_`.
    #[error("agent names must not start or end with '.', '-' or '_'")]
    BadEdge,
    /// The domain part is invalid.
    #[error("invalid domain: {0}")]
    Domain(#[from] DomainError),
}

/// The name of an agent registered on this gateway: 1–64 characters of
/// `[A-Za-z0-9._-]`, not starting or ending with `.`, `-` or `_`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentName(String);

impl AgentName {
    /// Validates an agent name.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        if input.is_empty() {
            return Err(AddressError::EmptyLocal);
        }
        let n = input.chars().count();
        if n > MAX_LOCAL_LEN {
            return Err(AddressError::LocalTooLong(n));
        }
        if let Some(c) = input
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(AddressError::InvalidCharacter(c));
        }
        let edge = |c: char| matches!(c, '.' | '-' | '_');
        if input.starts_with(edge) || input.ends_with(edge) {
            return Err(AddressError::BadEdge);
        }
        Ok(AgentName(input.to_string()))
    }

    /// The name's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated `local@domain` address.
///
/// The canonical text (`local@domain`, the domain lower-cased) is kept whole, so that
/// displaying, serializing and building keys from an address copy one string rather
/// than format two. Addresses order by local part, then domain.
#[derive(Clone, Debug)]
pub struct Address {
    /// `local@domain`.
    text: String,
    /// The position of the `@` in `text`.
    at: usize,
    domain: Domain,
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Address {}

impl std::hash::Hash for Address {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.local(), &self.domain).cmp(&(other.local(), &other.domain))
    }
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

impl Address {
    /// Parses a bare addr-spec `local@domain`.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let mut parts = input.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(AddressError::NotAnAddress);
        };
        if local.is_empty() {
            return Err(AddressError::EmptyLocal);
        }
        let n = local.chars().count();
        if n > MAX_LOCAL_LEN {
            return Err(AddressError::LocalTooLong(n));
        }
        if let Some(c) = local.chars().find(|c| !(is_atext(*c) || *c == '.')) {
            return Err(AddressError::InvalidCharacter(c));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(AddressError::MisplacedDot);
        }
        Ok(Address::join(local, Domain::parse(domain)?))
    }

    /// Builds the address of a local agent.
    pub fn new(name: &AgentName, domain: &Domain) -> Self {
        Address::join(&name.0, domain.clone())
    }

    fn join(local: &str, domain: Domain) -> Self {
        let mut text = String::with_capacity(local.len() + 1 + domain.as_str().len());
        text.push_str(local);
        text.push('@');
        text.push_str(domain.as_str());
        Address {
            text,
            at: local.len(),
            domain,
        }
    }

    /// The canonical text, `local@domain`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The part before `@`.
    pub fn local(&self) -> &str {
        &self.text[..self.at]
    }

    /// The domain after `@`.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The local part as an [`AgentName`], if it satisfies the agent-name rules.
    pub fn agent_name(&self) -> Result<AgentName, AddressError> {
        AgentName::parse(self.local())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Address::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for AgentName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AgentName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AgentName::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names() {
        for ok in ["a", "sales", "api.v2", "a-b_c.d", "A1", &"x".repeat(64)] {
            assert!(AgentName::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(AgentName::parse(""), Err(AddressError::EmptyLocal));
        assert_eq!(
            AgentName::parse(&"x".repeat(65)),
            Err(AddressError::LocalTooLong(65))
        );
        for bad in [".a", "a.", "-a", "a-", "_a", "a_"] {
            assert_eq!(AgentName::parse(bad), Err(AddressError::BadEdge), "{bad}");
        }
        assert_eq!(
            AgentName::parse("a@b"),
            Err(AddressError::InvalidCharacter('@'))
        );
        assert_eq!(
            AgentName::parse("a b"),
            Err(AddressError::InvalidCharacter(' '))
        );
    }

    #[test]
    fn addresses() {
        let a = Address::parse("Sales.Team@Example.COM").unwrap();
        assert_eq!(a.local(), "Sales.Team");
        assert_eq!(a.domain().as_str(), "example.com");
        assert_eq!(a.to_string(), "Sales.Team@example.com");
        assert_eq!(a, Address::parse("Sales.Team@example.com").unwrap());
        assert_ne!(a, Address::parse("sales.team@example.com").unwrap());
        assert_eq!(a.as_str(), "Sales.Team@example.com");
        let name = AgentName::parse("Sales.Team").unwrap();
        assert_eq!(Address::new(&name, a.domain()), a);
        // Ordered by local part, then domain (not by the joined text, where '@' would
        // sort after '.').
        let mut v = [
            Address::parse("a@z.com").unwrap(),
            Address::parse("a.b@a.com").unwrap(),
            Address::parse("a@a.com").unwrap(),
        ];
        v.sort();
        let sorted: Vec<_> = v.iter().map(Address::as_str).collect();
        assert_eq!(sorted, ["a@a.com", "a@z.com", "a.b@a.com"]);
        assert_eq!(Address::parse("nobody"), Err(AddressError::NotAnAddress));
        assert_eq!(Address::parse("a@b@c"), Err(AddressError::NotAnAddress));
        assert_eq!(Address::parse("@x.com"), Err(AddressError::EmptyLocal));
        assert_eq!(
            Address::parse("Bob <b@x.com>"),
            Err(AddressError::InvalidCharacter(' '))
        );
        assert_eq!(
            Address::parse("a..b@x.com"),
            Err(AddressError::MisplacedDot)
        );
        assert!(matches!(
            Address::parse("a@bad_domain"),
            Err(AddressError::Domain(_))
        ));
        assert!(matches!(
            Address::parse("a@"),
            Err(AddressError::Domain(DomainError::Empty))
        ));
    }

    #[test]
    fn serde_round_trip() {
        let a: Address = serde_json::from_str("\"x@y.org\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"x@y.org\"");
        assert!(serde_json::from_str::<Address>("\"xy.org\"").is_err());
    }
}
