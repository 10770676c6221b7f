//! Parses arbitrary text as an RFC 3339 timestamp; a parsed value must print to text that
//! parses back to the same instant.
#![no_main]

use agentgate_core::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(t) = Timestamp::parse_rfc3339(text) {
        assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Some(t));
    }
});
