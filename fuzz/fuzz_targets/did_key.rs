//! Parses arbitrary text as a did:key and as a REGISTER public key; a parsed DID must
//! re-encode to the same text in the form it was read in.
#![no_main]

use agentgate_codec::did_key::{parse, parse_public_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(did) = parse(text) {
        assert_eq!(did.to_did(), text);
        assert_eq!(parse_public_key(text), Ok(did.key));
    }
    let _ = parse_public_key(text);
});
