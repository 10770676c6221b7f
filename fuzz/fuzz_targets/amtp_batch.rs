//! Parses arbitrary bytes as a batch of deliveries; a parsed batch, rebuilt from its
//! envelopes, must parse back to the same envelopes, and each envelope goes through the
//! envelope decoder as the receiving gateway would send it.
#![no_main]

use agentgate_codec::amtp::{Limits, decode_envelope};
use agentgate_codec::amtp_batch::{body, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = parse(data) else {
        return;
    };
    let envelopes: Vec<&str> = batch.messages.iter().map(|m| m.get()).collect();
    let rebuilt = body(envelopes.iter().map(|e| e.as_bytes()));
    let again = parse(&rebuilt).expect("a rebuilt batch parses");
    let again: Vec<&str> = again.messages.iter().map(|m| m.get()).collect();
    assert_eq!(again, envelopes);
    for e in envelopes {
        let _ = decode_envelope(e.as_bytes(), &Limits::default());
    }
});
