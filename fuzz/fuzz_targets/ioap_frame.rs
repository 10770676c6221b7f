//! Parses arbitrary text as an IoAP frame in both modes. A frame that parses must keep
//! its text and payload unchanged, rebuild its REGISTER signing bytes without
//! panicking (as ASCII), and give the same answer for an IoAP v1 type in both modes.
#![no_main]

use agentgate_codec::ioap::{
    Mode, offending_id, parse_frame, parse_frame_in, register_signing_bytes,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = offending_id(text);
    for mode in [Mode::Compat, Mode::Strict] {
        let Ok(frame) = parse_frame_in(text, mode) else {
            continue;
        };
        assert!(std::ptr::eq(frame.text(), text));
        assert!(text.contains(frame.payload_raw()));
        if let Ok(bytes) = register_signing_bytes(&frame) {
            assert!(bytes.is_ascii());
        }
        if mode == Mode::Strict && frame.message_type().is_some() {
            let compat = parse_frame(text).expect("an IoAP v1 frame reads in compat mode too");
            assert_eq!(compat.payload_model(), frame.payload_model());
        }
    }
});
