//! Parses arbitrary text as an address, agent name and domain; a parsed value must print
//! to text that parses back to the same value.
#![no_main]

use agentgate_core::{Address, AgentName, Domain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(a) = Address::parse(text) {
        assert_eq!(Address::parse(&a.to_string()), Ok(a));
    }
    if let Ok(n) = AgentName::parse(text) {
        assert_eq!(AgentName::parse(n.as_str()), Ok(n));
    }
    if let Ok(d) = Domain::parse(text) {
        assert_eq!(Domain::parse(d.as_str()), Ok(d));
    }
});
