//! The bytes the reference client signs for a REGISTER.

use super::pyjson::{self, Member, Value, dump_code_points, dump_str, dump_value, last};
use super::{Coerced, DEFAULT_VERSION, Frame, IoapError, MAX_DEPTH, select};

/// The bytes whose Ed25519 signature a REGISTER from the reference client carries
/// (see "The signed bytes of a REGISTER" in the module documentation).
///
/// The frame must have a string `timestamp`: the client always sends one, and without
/// it the signed text is unknown. A strict-mode gateway frame (CHALLENGE, REGISTERED,
/// RECEIPT) has no signed form. Both are [`IoapError::Unsignable`].
pub fn register_signing_bytes(frame: &Frame<'_>) -> Result<Vec<u8>, IoapError> {
    if frame.message_type().is_none() {
        return Err(IoapError::Unsignable("a gateway frame has no signed form"));
    }
    // Read again with every level expanded: `Any` and dict payload values are dumped
    // in full, and `parse_frame` kept them unexpanded.
    let root = pyjson::parse(frame.text(), usize::MAX, MAX_DEPTH)?;
    let Value::Object(members) = &root else {
        return Err(IoapError::NotAnObject);
    };
    let Some(Value::Object(payload)) = last(members, "payload").map(|m| &m.value) else {
        return Err(IoapError::WrongType { field: "payload" });
    };
    let selected = select(payload).ok_or(IoapError::Unsignable(
        "the payload matches no IoAP v1 payload model",
    ))?;
    let timestamp = match last(members, "timestamp").map(|m| &m.value) {
        Some(Value::Str(s)) => s,
        Some(_) => return Err(IoapError::Unsignable("the timestamp is not a string")),
        None => return Err(IoapError::Unsignable("the frame has no timestamp")),
    };

    let mut out = String::with_capacity(frame.text().len() + 64);
    out.push_str("{\"correlation_id\":");
    match last(members, "correlation_id").map(|m| &m.value) {
        Some(Value::Str(s)) => dump_code_points(&mut out, s.code_points()),
        _ => out.push_str("null"),
    }
    out.push_str(",\"from\":");
    dump_field(&mut out, members, "from", "from_did");
    out.push_str(",\"id\":");
    dump_field(&mut out, members, "id", "id");

    out.push_str(",\"payload\":{");
    let mut fields = selected.values;
    fields.sort_by_key(|(name, _)| *name);
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        dump_str(&mut out, name);
        out.push(':');
        match value {
            Coerced::Null => out.push_str("null"),
            Coerced::Str(s) => dump_code_points(&mut out, s.code_points()),
            Coerced::Int(digits) => out.push_str(digits),
            Coerced::Float(f) => out.push_str(&pyjson::float_repr(*f)),
            Coerced::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Coerced::Json(v) => dump_value(&mut out, v),
            Coerced::Code(code) => dump_str(&mut out, code.as_str()),
            Coerced::EmptyDict => out.push_str("{}"),
            Coerced::Success => out.push_str("\"success\""),
        }
    }
    out.push('}');

    // The client signs `isoformat()` and sends `isoformat() + "Z"`.
    out.push_str(",\"timestamp\":");
    let mut cps: Vec<u32> = timestamp.code_points().collect();
    if cps.last() == Some(&u32::from('Z')) {
        cps.pop();
    }
    dump_code_points(&mut out, cps.into_iter());
    out.push_str(",\"to\":");
    dump_field(&mut out, members, "to", "to_did");
    out.push_str(",\"type\":");
    dump_str(&mut out, frame.frame_type().as_str());
    out.push_str(",\"version\":");
    match last(members, "version").map(|m| &m.value) {
        Some(Value::Str(s)) => dump_code_points(&mut out, s.code_points()),
        _ => dump_str(&mut out, DEFAULT_VERSION),
    }
    out.push('}');
    Ok(out.into_bytes())
}

/// A string field that `parse_frame` already found, by its name or its other name.
fn dump_field(out: &mut String, members: &[Member<'_>], name: &str, other: &str) {
    match last(members, name)
        .or_else(|| last(members, other))
        .map(|m| &m.value)
    {
        Some(Value::Str(s)) => dump_code_points(out, s.code_points()),
        _ => out.push_str("null"),
    }
}
