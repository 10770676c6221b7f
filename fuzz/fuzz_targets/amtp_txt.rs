//! Parses arbitrary text as an `_amtp` discovery record; a parsed record must format to
//! text that parses back to the same record.
#![no_main]

use agentgate_codec::amtp_txt::{format_record, parse_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(record) = parse_record(text) {
        assert_eq!(parse_record(&format_record(&record)), Ok(record));
    }
});
