//! The JSON log line: one object per event, written straight into the line buffer.
//!
//! The shape is that of `tracing-subscriber`'s flattened JSON format, which operators'
//! log pipelines already parse:
//!
//! ```text
//! {"timestamp":"2026-11-23T02:07:47.412016Z","level":"INFO","message":"request",
//!  "method":"GET","route":"/health","status":200,"latency_ms":0.027,"target":"agentgate::http"}
//! ```
//!
//! (one line in the output). Every request logs one of these, so the formatter avoids
//! the general machinery: no intermediate map, no allocation per field, the time from a
//! stack buffer. Span context is not included (agentgate opens no spans; libraries that
//! do are capped at `warn`).

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use agentgate_core::Timestamp;
use agentgate_core::time::rfc3339_micros;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as flattened JSON objects, one per line.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = String::with_capacity(256);
        line.push_str("{\"timestamp\":\"");
        push_now(&mut line);
        line.push_str("\",\"level\":\"");
        line.push_str(meta.level().as_str());
        line.push('"');
        let mut fields = Fields {
            line,
            scratch: String::new(),
        };
        event.record(&mut fields);
        let mut line = fields.line;
        line.push_str(",\"target\":");
        push_json_str(&mut line, meta.target());
        line.push_str("}\n");
        writer.write_str(&line)
    }
}

/// Appends the current time, RFC 3339 UTC with microseconds.
fn push_now(line: &mut String) {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let mut buf = [0; 27];
    match rfc3339_micros(micros, &mut buf) {
        Some(text) => line.push_str(text),
        None => {
            let _ = write!(line, "{}", Timestamp(micros / 1000));
        }
    }
}

/// Appends each field as `,"name":value`.
struct Fields {
    line: String,
    /// Reused for values that arrive as `Debug` or `Display`.
    scratch: String,
}

impl Fields {
    fn key(&mut self, field: &Field) {
        self.line.push(',');
        push_json_str(&mut self.line, field.name());
        self.line.push(':');
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        push_json_str(&mut self.line, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.line.push_str(if value { "true" } else { "false" });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.line, "{value}");
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.line, "{value}");
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            let _ = write!(self.line, "{value}");
        } else {
            // JSON has no NaN or infinity.
            self.line.push_str("null");
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.scratch.clear();
        let _ = write!(self.scratch, "{value}");
        self.key(field);
        push_json_str(&mut self.line, &self.scratch);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.scratch.clear();
        let _ = write!(self.scratch, "{value:?}");
        self.key(field);
        push_json_str(&mut self.line, &self.scratch);
    }
}

/// Appends `text` as a JSON string: quotes, backslashes and control characters escaped.
pub(crate) fn push_json_str(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut clean = 0;
    for (i, b) in text.bytes().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[clean..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        } else {
            out.push_str(escape);
        }
        clean = i + 1;
    }
    out.push_str(&text[clean..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    #[test]
    fn lines_have_the_flattened_json_shape() {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines)
            .with_writer(out.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                target: "agentgate::http",
                method = "POST",
                status = 200u16,
                latency_ms = 0.25,
                negative = -3i64,
                ok = true,
                nan = f64::NAN,
                request_id = %"id-\"1\"",
                "request"
            );
            tracing::warn!(path = ?std::path::Path::new("/tmp/a\nb"), "odd {}", "path");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first = &lines[0];
        let raw = text.lines().next().unwrap();
        assert!(raw.starts_with(r#"{"timestamp":""#), "{raw}");
        let at = |key: &str| raw.find(&format!("\"{key}\":")).unwrap();
        assert!(
            at("timestamp") < at("level") && at("level") < at("message"),
            "{raw}"
        );
        assert!(raw.ends_with(r#","target":"agentgate::http"}"#), "{raw}");
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "request");
        assert_eq!(first["method"], "POST");
        assert_eq!(first["status"], 200);
        assert_eq!(first["latency_ms"], 0.25);
        assert_eq!(first["negative"], -3);
        assert_eq!(first["ok"], true);
        assert!(first["nan"].is_null());
        assert_eq!(first["request_id"], "id-\"1\"");
        assert_eq!(first["target"], "agentgate::http");
        let ts = first["timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), 27, "{ts}");
        assert!(Timestamp::parse_rfc3339(ts).is_some(), "{ts}");
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["message"], "odd path");
        assert_eq!(lines[1]["path"], "\"/tmp/a\\nb\"");
    }

    proptest! {
        #[test]
        fn strings_round_trip_through_a_json_parser(text in any::<String>()) {
            let mut out = String::new();
            push_json_str(&mut out, &text);
            prop_assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text);
        }
    }
}
