//! Feeds arbitrary text to the federation signature parsers (`Signature-Input`,
//! `Signature`, `Content-Digest`) and checks that an accepted `Signature-Input` writes
//! back to a value that parses to the same parameters.
#![no_main]

use agentgate_codec::http_signature::{
    LABEL, parse_signature, parse_signature_input, serialize_signature_input, verify_content_digest,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(params) = parse_signature_input(text, LABEL) {
        let written =
            serialize_signature_input(LABEL, &params).expect("accepted parameters can be written");
        let again = parse_signature_input(&written, LABEL).expect("written parameters parse");
        assert_eq!(again, params);
    }
    let _ = parse_signature(text, LABEL);
    let _ = verify_content_digest(text, data);
});
