//! Decodes arbitrary bytes as an AMTP envelope, validates it, and checks that a valid
//! envelope survives encode → decode → validate unchanged.
#![no_main]

use agentgate_codec::amtp::{decode_envelope, encode_envelope, Limits};
use agentgate_core::{Envelope, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_bytes: 64 * 1024, max_depth: 32 };
    if let Ok(wire) = decode_envelope(data, &limits) {
        if let Ok(env) = Envelope::from_wire(wire, Timestamp(1_700_000_000_000), [9; 10]) {
            let bytes = encode_envelope(&env);
            let again = decode_envelope(&bytes, &Limits { max_bytes: usize::MAX, ..limits })
                .expect("an encoded envelope decodes");
            let back = Envelope::from_wire(again, Timestamp(0), [0; 10])
                .expect("an encoded envelope validates");
            assert_eq!(back, env);
        }
    }
});
