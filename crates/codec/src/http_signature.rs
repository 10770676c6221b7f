//! HTTP Message Signatures ([RFC 9421]) and `Content-Digest` ([RFC 9530]) for federation.
//!
//! When gateway A delivers to gateway B (`POST /v1/messages`), A signs the request with
//! its Ed25519 federation key and B verifies the signature. This module is the pure part
//! of that exchange: it builds the signature base, writes and reads the
//! `Signature-Input` and `Signature` field values, and computes and checks
//! `Content-Digest`. Keys, the Ed25519 operations, the clock and replay protection belong
//! to the caller; nothing here does I/O or reads the time.
//!
//! # The agentgate signing profile
//!
//! - Label: `amtp` ([`LABEL`]).
//! - Covered components, in this order ([`COVERED_COMPONENTS`]): `"@method"`, `"@path"`,
//!   `"content-digest"`, `"date"`, `"amtp-sender-domain"` (a request header carrying the
//!   sending gateway's domain).
//! - Parameters, in this order: `created` and `expires` (integers, Unix seconds, `expires`
//!   later than `created`), `nonce` (a non-empty string), `keyid` (a string of the form
//!   `<domain>:<key-id>`) and `alg="ed25519"` ([`ALGORITHM`]).
//! - Signature: the raw 64-byte Ed25519 signature of the UTF-8 (in fact US-ASCII)
//!   signature base, sent as a byte sequence: `Signature: amtp=:<base64>:`.
//! - `Content-Digest: sha-256=:<base64 of the SHA-256 of the body>:`.
//!
//! A `Signature-Input` that departs from the profile in any way (a component left out or
//! added, another order, a missing or unknown parameter, another algorithm) is refused by
//! [`parse_signature_input`] with its own [`SignatureError`] variant, so that a peer
//! cannot get a request accepted whose signature leaves out, say, the body digest.
//!
//! # What the caller still checks
//!
//! - `created` and `expires` against its clock, with its own allowance for skew;
//! - the nonce against its replay cache;
//! - that the keyid's domain ([`SignatureParams::keyid_parts`]) is the
//!   `amtp-sender-domain` of the request, and which key the keyid names;
//! - the Ed25519 signature over [`signature_base`];
//! - the body against `Content-Digest` with [`verify_content_digest`].
//!
//! Component values are passed in as the request carries them. A header that occurs on
//! several field lines is combined first, as RFC 9421 §2.1 describes (each line's value
//! trimmed, joined with `", "`).
//!
//! # Example
//!
//! ```
//! use agentgate_codec::http_signature::{self as sig, SignatureParams};
//! use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
//!
//! let key = SigningKey::from_bytes(&[7; 32]);
//! let body = br#"{"hello": "world"}"#;
//! let digest = sig::content_digest_sha256(body);
//! let values = [
//!     ("@method", "POST"),
//!     ("@path", "/v1/messages"),
//!     ("content-digest", digest.as_str()),
//!     ("date", "Tue, 14 Nov 2023 22:13:20 GMT"),
//!     ("amtp-sender-domain", "a.example"),
//! ];
//!
//! // The sending gateway signs the base and attaches both fields.
//! let params = SignatureParams::amtp(1_700_000_000, 1_700_000_300, "c2f1e0", "a.example:k1");
//! let base = sig::signature_base(&values, &params)?;
//! let input = sig::serialize_signature_input(sig::LABEL, &params)?;
//! let signature = key.sign(base.as_bytes()).to_bytes();
//! let signature = sig::serialize_signature(sig::LABEL, &signature)?;
//!
//! // The receiving gateway reads the fields, rebuilds the base and verifies.
//! let received = sig::parse_signature_input(&input, sig::LABEL)?;
//! let bytes = sig::parse_signature(&signature, sig::LABEL)?;
//! sig::verify_content_digest(&digest, body)?;
//! let base = sig::signature_base(&values, &received)?;
//! let verified = key.verifying_key().verify(base.as_bytes(), &Signature::from_bytes(&bytes));
//! assert!(verified.is_ok());
//! # Ok::<(), sig::SignatureError>(())
//! ```
//!
//! [RFC 9421]: https://www.rfc-editor.org/rfc/rfc9421
//! [RFC 9530]: https://www.rfc-editor.org/rfc/rfc9530

use sfv::{
    BareItem, DictSerializer, Dictionary, InnerListSerializer, Integer, Item, KeyRef, ListEntry,
    ListSerializer, Parameters, Parser, RefBareItem, StringRef,
};
use sha2::{Digest, Sha256};

/// The signature label agentgate signs and looks for.
pub const LABEL: &str = "amtp";

/// The header carrying the sending gateway's domain; a covered component.
pub const SENDER_DOMAIN_HEADER: &str = "amtp-sender-domain";

/// The covered components of the profile, in signing order.
pub const COVERED_COMPONENTS: [&str; 5] = [
    "@method",
    "@path",
    "content-digest",
    "date",
    SENDER_DOMAIN_HEADER,
];

/// The only signature algorithm of the profile (the `alg` parameter).
pub const ALGORITHM: &str = "ed25519";

/// Longest `Signature-Input`, `Signature` or `Content-Digest` value accepted, in bytes.
pub const MAX_FIELD_BYTES: usize = 4096;

/// Length of an Ed25519 signature, in bytes.
pub const SIGNATURE_BYTES: usize = 64;

/// The parameters of the profile, in the order they are written.
const PARAMETER_NAMES: [&str; 5] = ["created", "expires", "nonce", "keyid", "alg"];

/// The derived components (RFC 9421 §2.2) a signature base may cover. `@query-param`
/// needs a component parameter and `@signature-params` may not be covered, so neither is
/// listed.
const DERIVED_COMPONENTS: [&str; 8] = [
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@request-target",
    "@path",
    "@query",
    "@status",
];

const SIGNATURE_INPUT_FIELD: &str = "Signature-Input";
const SIGNATURE_FIELD: &str = "Signature";
const CONTENT_DIGEST_FIELD: &str = "Content-Digest";
const SHA_256: &str = "sha-256";

const KEY_CREATED: &KeyRef = sfv::key_ref("created");
const KEY_EXPIRES: &KeyRef = sfv::key_ref("expires");
const KEY_NONCE: &KeyRef = sfv::key_ref("nonce");
const KEY_KEYID: &KeyRef = sfv::key_ref("keyid");
const KEY_ALG: &KeyRef = sfv::key_ref("alg");
const KEY_SHA_256: &KeyRef = sfv::key_ref(SHA_256);

/// A signature parameter ready to be written: its name and its value.
type Parameter<'a> = (&'static KeyRef, RefBareItem<'a>);

/// The covered components and parameters of one signature (one `Signature-Input` member).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureParams {
    /// Covered component identifiers, in signing order, without quotes (`"@method"` is
    /// `@method`).
    pub components: Vec<String>,
    /// When the signature was made, Unix seconds.
    pub created: u64,
    /// When the signature stops being valid, Unix seconds.
    pub expires: u64,
    /// A value the signer never uses twice, for replay protection.
    pub nonce: String,
    /// The signing key, as `<domain>:<key-id>`.
    pub keyid: String,
    /// The signature algorithm; [`ALGORITHM`] in the profile.
    pub alg: String,
}

impl SignatureParams {
    /// Parameters of the agentgate profile: the [`COVERED_COMPONENTS`] and [`ALGORITHM`],
    /// with the given times, nonce and keyid.
    pub fn amtp(
        created: u64,
        expires: u64,
        nonce: impl Into<String>,
        keyid: impl Into<String>,
    ) -> Self {
        SignatureParams {
            components: COVERED_COMPONENTS.iter().map(|c| (*c).to_owned()).collect(),
            created,
            expires,
            nonce: nonce.into(),
            keyid: keyid.into(),
            alg: ALGORITHM.to_owned(),
        }
    }

    /// Checks that these parameters follow the agentgate profile: exactly the
    /// [`COVERED_COMPONENTS`] in order, `alg` is [`ALGORITHM`], `expires` is after
    /// `created`, the nonce is not empty and the keyid is `<domain>:<key-id>`.
    ///
    /// [`parse_signature_input`] applies this check; a signer may call it before sending.
    pub fn check_profile(&self) -> Result<(), SignatureError> {
        check_profile_components(&self.components)?;
        if self.alg != ALGORITHM {
            return Err(SignatureError::UnsupportedAlgorithm(self.alg.clone()));
        }
        if self.expires <= self.created {
            return Err(SignatureError::ExpiresNotAfterCreated {
                created: self.created,
                expires: self.expires,
            });
        }
        if self.nonce.is_empty() {
            return Err(SignatureError::EmptyNonce);
        }
        self.keyid_parts().map(|_| ())
    }

    /// Splits the keyid at its first `:` into the signer's domain and its key id, both
    /// non-empty. The domain is returned as written; comparing it with the
    /// `amtp-sender-domain` header is the caller's job.
    pub fn keyid_parts(&self) -> Result<(&str, &str), SignatureError> {
        match self.keyid.split_once(':') {
            Some((domain, key)) if !domain.is_empty() && !key.is_empty() => Ok((domain, key)),
            _ => Err(SignatureError::InvalidKeyId(self.keyid.clone())),
        }
    }
}

/// Why a signature field, a signature base or a `Content-Digest` cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A field value is longer than [`MAX_FIELD_BYTES`].
    #[error("{field} is {len} bytes; the limit is {MAX_FIELD_BYTES}")]
    TooLong {
        /// The field (`Signature-Input`, `Signature` or `Content-Digest`).
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// A field value is not a structured-field dictionary.
    #[error("{field} is not a structured-field dictionary: {reason}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What the structured-field parser reported.
        reason: String,
    },
    /// The dictionary has no member of the wanted name.
    #[error("{field} has no member {member:?}")]
    MissingMember {
        /// The field.
        field: &'static str,
        /// The label (or digest algorithm) looked for.
        member: String,
    },
    /// The `Signature-Input` member is not an inner list of components.
    #[error("Signature-Input member {0:?} is not an inner list")]
    NotInnerList(String),
    /// A `Signature` or `Content-Digest` member is not a byte sequence.
    #[error("{field} member {member:?} is not a byte sequence")]
    NotByteSequence {
        /// The field.
        field: &'static str,
        /// The member.
        member: String,
    },
    /// An entry of the covered-component list is not a string.
    #[error("a covered component is not a string")]
    ComponentNotString,
    /// A covered component carries parameters (`"date";sf`); the profile uses none.
    #[error("component {0:?} has parameters; none are supported")]
    ComponentParameters(String),
    /// A component identifier is neither a lowercase header name nor a supported derived
    /// component.
    #[error("{0:?} is not a supported component identifier")]
    InvalidComponentId(String),
    /// A component is covered more than once.
    #[error("component {0:?} is covered more than once")]
    DuplicateComponent(String),
    /// A component of the profile is not covered.
    #[error("component {0:?} missing from the covered list")]
    MissingComponent(String),
    /// A component outside the profile is covered.
    #[error("component {0:?} is not part of the amtp signing profile")]
    UnexpectedComponent(String),
    /// All profile components are covered, but in another order.
    #[error(
        "covered components {0:?} are not in profile order \
         (@method, @path, content-digest, date, amtp-sender-domain)"
    )]
    ComponentOrder(Vec<String>),
    /// The component values given do not name the covered components, in order.
    #[error("component values are given for {found:?} but the covered list is {expected:?}")]
    ComponentValuesMismatch {
        /// The covered list of the parameters.
        expected: Vec<String>,
        /// The components the values were given for.
        found: Vec<String>,
    },
    /// A header value has characters other than visible ASCII, space and tab.
    #[error("value of header {0:?} has characters other than visible ASCII, space and tab")]
    InvalidFieldValue(String),
    /// A derived component's value is empty or has characters other than visible ASCII.
    #[error("value of {0:?} is empty or has characters other than visible ASCII")]
    InvalidDerivedValue(String),
    /// A signature parameter the profile does not define.
    #[error("unknown signature parameter {0:?}")]
    UnknownParameter(String),
    /// A signature parameter of the profile is absent.
    #[error("signature parameter {0} is missing")]
    MissingParameter(&'static str),
    /// A signature parameter has the wrong type (e.g. `created` is a string).
    #[error("{name} is not {expected}")]
    ParameterType {
        /// The parameter.
        name: &'static str,
        /// What it should be, e.g. "an integer".
        expected: &'static str,
    },
    /// The signature parameters are all there but in another order.
    #[error("signature parameters are not in profile order (created, expires, nonce, keyid, alg)")]
    ParameterOrder,
    /// `alg` is not [`ALGORITHM`].
    #[error("alg {0:?} is not supported (expected \"ed25519\")")]
    UnsupportedAlgorithm(String),
    /// `expires` is not later than `created`.
    #[error("expires ({expires}) is not after created ({created})")]
    ExpiresNotAfterCreated {
        /// The `created` parameter.
        created: u64,
        /// The `expires` parameter.
        expires: u64,
    },
    /// `nonce` is the empty string.
    #[error("nonce is empty")]
    EmptyNonce,
    /// `keyid` is not `<domain>:<key-id>`.
    #[error("keyid {0:?} is not of the form <domain>:<key-id>")]
    InvalidKeyId(String),
    /// A label to write is not a structured-field key (lowercase letters, digits, `_-.*`).
    #[error("{0:?} is not a valid signature label")]
    InvalidLabel(String),
    /// A parameter to write cannot be represented as a structured-field value.
    #[error("{name} cannot be written as a structured field: {reason}")]
    Unrepresentable {
        /// The parameter.
        name: &'static str,
        /// Why not.
        reason: &'static str,
    },
    /// The signature is not 64 bytes long.
    #[error("signature is {0} bytes; Ed25519 signatures are 64")]
    SignatureLength(usize),
    /// The `sha-256` digest differs from the SHA-256 of the body.
    #[error("Content-Digest does not match the body")]
    DigestMismatch,
}

/// Builds the signature base (RFC 9421 §2.5) of the profile parameters `params`.
///
/// `values` pairs each covered component identifier (without quotes) with its value,
/// in the order of `params.components`. Each gives one line `"<component>": <value>`;
/// the last line is `"@signature-params": <inner list with parameters>`; lines are
/// separated by `\n`, with none after the last.
///
/// Header values are trimmed of leading and trailing spaces and tabs (RFC 9421 §2.1)
/// and may otherwise hold visible ASCII, spaces and tabs. Derived components (`@method`,
/// `@path`, …) are taken as given (`@method` keeps its case) and must be non-empty visible
/// ASCII.
pub fn signature_base(
    values: &[(&str, &str)],
    params: &SignatureParams,
) -> Result<String, SignatureError> {
    let given = values.iter().map(|(id, _)| *id);
    if !given.eq(params.components.iter().map(String::as_str)) {
        return Err(SignatureError::ComponentValuesMismatch {
            expected: params.components.clone(),
            found: values.iter().map(|(id, _)| (*id).to_owned()).collect(),
        });
    }
    base_with_parameters(values, &profile_parameters(params)?)
}

/// Writes the `Signature-Input` field value `<label>=(<components>);<parameters>`.
///
/// This only checks that the values can be written (strings of printable ASCII,
/// integers below 10^15, valid component identifiers); see
/// [`SignatureParams::check_profile`] for the profile rules.
pub fn serialize_signature_input(
    label: &str,
    params: &SignatureParams,
) -> Result<String, SignatureError> {
    signature_input_with_parameters(label, &params.components, &profile_parameters(params)?)
}

/// Writes the `Signature` field value `<label>=:<base64 of signature>:`.
pub fn serialize_signature(
    label: &str,
    signature: &[u8; SIGNATURE_BYTES],
) -> Result<String, SignatureError> {
    let label = label_key(label)?;
    let mut out = String::new();
    let mut dict = DictSerializer::with_buffer(&mut out);
    let _ = dict.bare_item(label, RefBareItem::ByteSequence(signature));
    let _ = dict.finish();
    Ok(out)
}

/// Reads the member `label` of a `Signature-Input` field value and checks it against the
/// agentgate profile ([`SignatureParams::check_profile`]).
///
/// Other members (signatures under other labels) are ignored. Values longer than
/// [`MAX_FIELD_BYTES`] are refused before parsing. As in every structured-field
/// dictionary, a member or parameter given twice counts with its last value; the
/// signature base is rebuilt from what was parsed, so a signature only verifies over
/// exactly those values.
pub fn parse_signature_input(
    header_value: &str,
    label: &str,
) -> Result<SignatureParams, SignatureError> {
    let dict = parse_dictionary(SIGNATURE_INPUT_FIELD, header_value)?;
    let ListEntry::InnerList(list) = member(&dict, SIGNATURE_INPUT_FIELD, label)? else {
        return Err(SignatureError::NotInnerList(label.to_owned()));
    };
    let components = list
        .items
        .iter()
        .map(component_of_item)
        .collect::<Result<Vec<_>, _>>()?;
    let params = read_parameters(components, &list.params)?;
    params.check_profile()?;
    Ok(params)
}

/// Reads the member `label` of a `Signature` field value: a byte sequence of exactly
/// [`SIGNATURE_BYTES`] bytes.
pub fn parse_signature(
    header_value: &str,
    label: &str,
) -> Result<[u8; SIGNATURE_BYTES], SignatureError> {
    let dict = parse_dictionary(SIGNATURE_FIELD, header_value)?;
    let bytes = byte_sequence(&dict, SIGNATURE_FIELD, label)?;
    <[u8; SIGNATURE_BYTES]>::try_from(bytes)
        .map_err(|_| SignatureError::SignatureLength(bytes.len()))
}

/// The `Content-Digest` field value of `body`: `sha-256=:<base64 of SHA-256(body)>:`.
pub fn content_digest_sha256(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut out = String::new();
    let mut dict = DictSerializer::with_buffer(&mut out);
    let _ = dict.bare_item(KEY_SHA_256, RefBareItem::ByteSequence(&digest));
    let _ = dict.finish();
    out
}

/// Checks that the `sha-256` member of a `Content-Digest` field value is the SHA-256 of
/// `body`. Digests under other algorithms are ignored; a value without `sha-256` is
/// refused.
pub fn verify_content_digest(header_value: &str, body: &[u8]) -> Result<(), SignatureError> {
    let dict = parse_dictionary(CONTENT_DIGEST_FIELD, header_value)?;
    let claimed = byte_sequence(&dict, CONTENT_DIGEST_FIELD, SHA_256)?;
    if claimed == Sha256::digest(body).as_slice() {
        Ok(())
    } else {
        Err(SignatureError::DigestMismatch)
    }
}

/// The signature base of any component list and parameters; [`signature_base`] is this
/// with the profile parameters.
fn base_with_parameters(
    values: &[(&str, &str)],
    parameters: &[Parameter<'_>],
) -> Result<String, SignatureError> {
    let ids: Vec<&str> = values.iter().map(|(id, _)| *id).collect();
    let components = component_strings(&ids)?;
    let mut base = String::new();
    for (id, value) in values {
        base.push('"');
        base.push_str(id);
        base.push_str("\": ");
        base.push_str(component_value(id, value)?);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    let mut list = ListSerializer::with_buffer(&mut base);
    write_inner_list(list.inner_list(), &components, parameters);
    let _ = list.finish();
    Ok(base)
}

/// The `Signature-Input` value of any component list and parameters.
fn signature_input_with_parameters<S: AsRef<str>>(
    label: &str,
    components: &[S],
    parameters: &[Parameter<'_>],
) -> Result<String, SignatureError> {
    let label = label_key(label)?;
    let components = component_strings(components)?;
    let mut out = String::new();
    let mut dict = DictSerializer::with_buffer(&mut out);
    write_inner_list(dict.inner_list(label), &components, parameters);
    let _ = dict.finish();
    Ok(out)
}

/// Writes `(<components>)` followed by `;name=value` for each parameter.
fn write_inner_list(
    mut list: InnerListSerializer<'_>,
    components: &[&StringRef],
    parameters: &[Parameter<'_>],
) {
    for component in components {
        let _ = list.bare_item(*component);
    }
    let mut params = list.finish();
    for (name, value) in parameters {
        params = params.parameter(name, *value);
    }
}

/// The profile parameters of `params`, checked to be writable.
fn profile_parameters(params: &SignatureParams) -> Result<Vec<Parameter<'_>>, SignatureError> {
    Ok(vec![
        (KEY_CREATED, sf_integer("created", params.created)?.into()),
        (KEY_EXPIRES, sf_integer("expires", params.expires)?.into()),
        (
            KEY_NONCE,
            RefBareItem::String(sf_string("nonce", &params.nonce)?),
        ),
        (
            KEY_KEYID,
            RefBareItem::String(sf_string("keyid", &params.keyid)?),
        ),
        (KEY_ALG, RefBareItem::String(sf_string("alg", &params.alg)?)),
    ])
}

fn sf_integer(name: &'static str, value: u64) -> Result<Integer, SignatureError> {
    Integer::try_from(value).map_err(|_| SignatureError::Unrepresentable {
        name,
        reason: "integers are at most 999999999999999",
    })
}

fn sf_string<'a>(name: &'static str, value: &'a str) -> Result<&'a StringRef, SignatureError> {
    StringRef::from_str(value).map_err(|_| SignatureError::Unrepresentable {
        name,
        reason: "strings hold printable ASCII only",
    })
}

fn label_key(label: &str) -> Result<&KeyRef, SignatureError> {
    KeyRef::from_str(label).map_err(|_| SignatureError::InvalidLabel(label.to_owned()))
}

/// Checks each component identifier and that none repeats.
fn component_strings<S: AsRef<str>>(ids: &[S]) -> Result<Vec<&StringRef>, SignatureError> {
    let mut out: Vec<&StringRef> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = component_id(id.as_ref())?;
        if out.contains(&id) {
            return Err(SignatureError::DuplicateComponent(id.as_str().to_owned()));
        }
        out.push(id);
    }
    Ok(out)
}

/// A supported derived component, or a lowercase header name (RFC 9110 token characters).
fn component_id(id: &str) -> Result<&StringRef, SignatureError> {
    let valid = if id.starts_with('@') {
        DERIVED_COMPONENTS.contains(&id)
    } else {
        !id.is_empty() && id.bytes().all(is_lowercase_tchar)
    };
    let invalid = || SignatureError::InvalidComponentId(id.to_owned());
    if !valid {
        return Err(invalid());
    }
    StringRef::from_str(id).map_err(|_| invalid())
}

fn is_lowercase_tchar(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The canonical value of one component: header values trimmed, derived values as given.
fn component_value<'v>(id: &str, value: &'v str) -> Result<&'v str, SignatureError> {
    if id.starts_with('@') {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SignatureError::InvalidDerivedValue(id.to_owned()));
        }
        Ok(value)
    } else {
        let value = value.trim_matches([' ', '\t']);
        if !value
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
        {
            return Err(SignatureError::InvalidFieldValue(id.to_owned()));
        }
        Ok(value)
    }
}

/// Checks a covered-component list against [`COVERED_COMPONENTS`], naming the first
/// problem found: an extra component, a repeated one, a missing one, then the order.
fn check_profile_components(components: &[String]) -> Result<(), SignatureError> {
    for (i, component) in components.iter().enumerate() {
        if !COVERED_COMPONENTS.contains(&component.as_str()) {
            return Err(SignatureError::UnexpectedComponent(component.clone()));
        }
        if components[..i].contains(component) {
            return Err(SignatureError::DuplicateComponent(component.clone()));
        }
    }
    if let Some(missing) = COVERED_COMPONENTS
        .iter()
        .find(|wanted| !components.iter().any(|c| c == *wanted))
    {
        return Err(SignatureError::MissingComponent((*missing).to_owned()));
    }
    if components != COVERED_COMPONENTS {
        return Err(SignatureError::ComponentOrder(components.to_vec()));
    }
    Ok(())
}

/// Parses a bounded field value as a structured-field dictionary.
fn parse_dictionary(field: &'static str, value: &str) -> Result<Dictionary, SignatureError> {
    if value.len() > MAX_FIELD_BYTES {
        return Err(SignatureError::TooLong {
            field,
            len: value.len(),
        });
    }
    Parser::new(value)
        .parse::<Dictionary>()
        .map_err(|e| SignatureError::Malformed {
            field,
            reason: e.to_string(),
        })
}

fn member<'d>(
    dict: &'d Dictionary,
    field: &'static str,
    name: &str,
) -> Result<&'d ListEntry, SignatureError> {
    dict.get(name).ok_or_else(|| SignatureError::MissingMember {
        field,
        member: name.to_owned(),
    })
}

/// The member `name` of `dict`, which must be a byte sequence (parameters ignored).
fn byte_sequence<'d>(
    dict: &'d Dictionary,
    field: &'static str,
    name: &str,
) -> Result<&'d [u8], SignatureError> {
    match member(dict, field, name)? {
        ListEntry::Item(item) => item.bare_item.as_byte_sequence(),
        ListEntry::InnerList(_) => None,
    }
    .ok_or_else(|| SignatureError::NotByteSequence {
        field,
        member: name.to_owned(),
    })
}

/// A covered component as listed in `Signature-Input`: a string without parameters.
fn component_of_item(item: &Item) -> Result<String, SignatureError> {
    let id = item
        .bare_item
        .as_string()
        .ok_or(SignatureError::ComponentNotString)?;
    if !item.params.is_empty() {
        return Err(SignatureError::ComponentParameters(id.as_str().to_owned()));
    }
    Ok(id.as_str().to_owned())
}

/// Reads the profile parameters: nothing unknown, nothing missing, then the order of
/// [`PARAMETER_NAMES`], then each value's type.
fn read_parameters(
    components: Vec<String>,
    parameters: &Parameters,
) -> Result<SignatureParams, SignatureError> {
    if let Some(unknown) = parameters
        .keys()
        .find(|key| !PARAMETER_NAMES.contains(&key.as_str()))
    {
        return Err(SignatureError::UnknownParameter(
            unknown.as_str().to_owned(),
        ));
    }
    let value = |name: &'static str| {
        parameters
            .get(name)
            .ok_or(SignatureError::MissingParameter(name))
    };
    let (created, expires, nonce, keyid, alg) = (
        value("created")?,
        value("expires")?,
        value("nonce")?,
        value("keyid")?,
        value("alg")?,
    );
    // Exactly the five names are present, each once: only their order can differ.
    if !parameters.keys().map(|k| k.as_str()).eq(PARAMETER_NAMES) {
        return Err(SignatureError::ParameterOrder);
    }
    Ok(SignatureParams {
        components,
        created: integer_parameter("created", created)?,
        expires: integer_parameter("expires", expires)?,
        nonce: string_parameter("nonce", nonce)?,
        keyid: string_parameter("keyid", keyid)?,
        alg: string_parameter("alg", alg)?,
    })
}

fn integer_parameter(name: &'static str, value: &BareItem) -> Result<u64, SignatureError> {
    let wrong = |expected| SignatureError::ParameterType { name, expected };
    let integer = value.as_integer().ok_or(wrong("an integer"))?;
    u64::try_from(integer).map_err(|_| wrong("a non-negative integer"))
}

fn string_parameter(name: &'static str, value: &BareItem) -> Result<String, SignatureError> {
    value
        .as_string()
        .map(|s| s.as_str().to_owned())
        .ok_or(SignatureError::ParameterType {
            name,
            expected: "a string",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
    use proptest::prelude::*;

    const INPUT: &str = concat!(
        r#"amtp=("@method" "@path" "content-digest" "date" "amtp-sender-domain")"#,
        r#";created=1700000000;expires=1700000300;nonce="c2f1e0";keyid="a.example:k1""#,
        r#";alg="ed25519""#,
    );

    fn params() -> SignatureParams {
        SignatureParams::amtp(1_700_000_000, 1_700_000_300, "c2f1e0", "a.example:k1")
    }

    /// `INPUT` with `from` replaced by `to` (which must occur).
    fn input_with(from: &str, to: &str) -> String {
        assert!(INPUT.contains(from), "{from} not in the test input");
        INPUT.replacen(from, to, 1)
    }

    fn parse_err(value: &str) -> SignatureError {
        parse_signature_input(value, LABEL).unwrap_err()
    }

    const BODY: &[u8] = br#"{"hello": "world"}"#;
    /// SHA-256 of `BODY`, base64.
    const BODY_SHA_256: &str = "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=";

    fn values(digest: &str) -> [(&'static str, String); 5] {
        [
            ("@method", "POST".to_owned()),
            ("@path", "/v1/messages".to_owned()),
            ("content-digest", digest.to_owned()),
            ("date", "Tue, 14 Nov 2023 22:13:20 GMT".to_owned()),
            ("amtp-sender-domain", "a.example".to_owned()),
        ]
    }

    fn borrowed<'a>(values: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
        values.iter().map(|(id, v)| (*id, v.as_str())).collect()
    }

    // ---- happy paths ----

    #[test]
    fn serialises_the_profile_exactly() {
        assert_eq!(serialize_signature_input(LABEL, &params()).unwrap(), INPUT);
    }

    #[test]
    fn parses_what_it_serialises() {
        let p = params();
        assert_eq!(p.check_profile(), Ok(()));
        assert_eq!(parse_signature_input(INPUT, LABEL), Ok(p));
    }

    #[test]
    fn ignores_other_labels_and_whitespace() {
        let value = format!(r#"  other=("@method");created=1, {INPUT} "#);
        assert_eq!(parse_signature_input(&value, LABEL), Ok(params()));
    }

    #[test]
    fn keyid_parts_split_at_the_first_colon() {
        let p = SignatureParams::amtp(1, 2, "n", "a.example:key:2");
        assert_eq!(p.keyid_parts(), Ok(("a.example", "key:2")));
    }

    #[test]
    fn builds_the_exact_signature_base() {
        let digest = format!("sha-256=:{BODY_SHA_256}:");
        let values = values(&digest);
        let expected = concat!(
            "\"@method\": POST\n",
            "\"@path\": /v1/messages\n",
            "\"content-digest\": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n",
            "\"date\": Tue, 14 Nov 2023 22:13:20 GMT\n",
            "\"amtp-sender-domain\": a.example\n",
            "\"@signature-params\": (\"@method\" \"@path\" \"content-digest\" \"date\" ",
            "\"amtp-sender-domain\");created=1700000000;expires=1700000300;nonce=\"c2f1e0\"",
            ";keyid=\"a.example:k1\";alg=\"ed25519\"",
        );
        assert_eq!(
            signature_base(&borrowed(&values), &params()).unwrap(),
            expected
        );
    }

    #[test]
    fn header_values_are_trimmed_and_derived_values_kept() {
        let mut values = values("sha-256=:AA==:");
        values[3].1 = " \tTue, 14 Nov 2023\t22:13:20 GMT \t".to_owned();
        values[0].1 = "post".to_owned();
        let base = signature_base(&borrowed(&values), &params()).unwrap();
        assert!(base.starts_with("\"@method\": post\n"));
        assert!(base.contains("\n\"date\": Tue, 14 Nov 2023\t22:13:20 GMT\n"));
    }

    #[test]
    fn empty_header_values_are_allowed() {
        let mut values = values("sha-256=:AA==:");
        values[4].1 = "  ".to_owned();
        let base = signature_base(&borrowed(&values), &params()).unwrap();
        assert!(base.contains("\n\"amtp-sender-domain\": \n"));
    }

    #[test]
    fn signature_round_trip() {
        let bytes: [u8; 64] = std::array::from_fn(|i| i as u8);
        let value = serialize_signature(LABEL, &bytes).unwrap();
        assert!(value.starts_with("amtp=:AAECAwQF") && value.ends_with("==:"));
        assert_eq!(parse_signature(&value, LABEL), Ok(bytes));
    }

    #[test]
    fn sign_and_verify_with_a_fixed_seed() {
        let key = SigningKey::from_bytes(&[42; 32]);
        let digest = content_digest_sha256(BODY);
        let values = values(&digest);
        let base = signature_base(&borrowed(&values), &params()).unwrap();
        let input = serialize_signature_input(LABEL, &params()).unwrap();
        let signature = serialize_signature(LABEL, &key.sign(base.as_bytes()).to_bytes()).unwrap();

        let received = parse_signature_input(&input, LABEL).unwrap();
        let bytes = parse_signature(&signature, LABEL).unwrap();
        verify_content_digest(&digest, BODY).unwrap();
        let rebuilt = signature_base(&borrowed(&values), &received).unwrap();
        assert_eq!(rebuilt, base);
        let sig = Signature::from_bytes(&bytes);
        assert!(key.verifying_key().verify(rebuilt.as_bytes(), &sig).is_ok());

        let mut tampered = values.clone();
        tampered[1].1 = "/v1/other".to_owned();
        let tampered = signature_base(&borrowed(&tampered), &received).unwrap();
        assert!(
            key.verifying_key()
                .verify(tampered.as_bytes(), &sig)
                .is_err()
        );
    }

    // ---- RFC 9421 Appendix B.2.6 ----

    /// The signature base of RFC 9421 B.2.6 ("Signing a Request Using ed25519").
    const B26_BASE: &str = concat!(
        "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n",
        "\"@method\": POST\n",
        "\"@path\": /foo\n",
        "\"@authority\": example.com\n",
        "\"content-type\": application/json\n",
        "\"content-length\": 18\n",
        "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" ",
        "\"content-type\" \"content-length\");created=1618884473",
        ";keyid=\"test-key-ed25519\"",
    );
    /// B.2.6's `Signature-Input` and `Signature` values (line wrapping undone).
    const B26_SIGNATURE_INPUT: &str = concat!(
        r#"sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")"#,
        r#";created=1618884473;keyid="test-key-ed25519""#,
    );
    const B26_SIGNATURE: &str = concat!(
        "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1",
        "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:",
    );
    /// RFC 9421 B.1.4 `test-key-ed25519`: the public key (SubjectPublicKeyInfo) and the
    /// private key (PKCS #8), base64 bodies of the PEM blocks.
    const B14_PUBLIC_KEY: &str = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=";
    const B14_PRIVATE_KEY: &str =
        "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF";

    /// The last 32 bytes of a DER key, after checking its fixed Ed25519 prefix.
    fn ed25519_key_bytes(der_base64: &str, prefix: &[u8]) -> [u8; 32] {
        let der = STANDARD.decode(der_base64).unwrap();
        assert_eq!(&der[..prefix.len()], prefix);
        der[prefix.len()..].try_into().unwrap()
    }

    fn b14_public_key() -> VerifyingKey {
        let spki_prefix = [
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        VerifyingKey::from_bytes(&ed25519_key_bytes(B14_PUBLIC_KEY, &spki_prefix)).unwrap()
    }

    fn b14_private_key() -> SigningKey {
        let pkcs8_prefix = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        SigningKey::from_bytes(&ed25519_key_bytes(B14_PRIVATE_KEY, &pkcs8_prefix))
    }

    fn b26_values() -> [(&'static str, &'static str); 6] {
        [
            ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
            ("@method", "POST"),
            ("@path", "/foo"),
            ("@authority", "example.com"),
            ("content-type", "application/json"),
            ("content-length", "18"),
        ]
    }

    fn b26_parameters() -> Vec<Parameter<'static>> {
        vec![
            (
                KEY_CREATED,
                sf_integer("created", 1_618_884_473).unwrap().into(),
            ),
            (
                KEY_KEYID,
                RefBareItem::String(sfv::string_ref("test-key-ed25519")),
            ),
        ]
    }

    #[test]
    fn rfc9421_b26_signature_base_is_reproduced() {
        let base = base_with_parameters(&b26_values(), &b26_parameters()).unwrap();
        assert_eq!(base, B26_BASE);
        let ids = b26_values().map(|(id, _)| id);
        let input = signature_input_with_parameters("sig-b26", &ids, &b26_parameters());
        assert_eq!(input.unwrap(), B26_SIGNATURE_INPUT);
    }

    #[test]
    fn rfc9421_b26_published_signature_verifies() {
        let bytes = parse_signature(B26_SIGNATURE, "sig-b26").unwrap();
        let signature = Signature::from_bytes(&bytes);
        let public = b14_public_key();
        assert!(
            public
                .verify_strict(B26_BASE.as_bytes(), &signature)
                .is_ok()
        );
        assert!(public.verify_strict(b"another base", &signature).is_err());
        assert_eq!(
            serialize_signature("sig-b26", &bytes).unwrap(),
            B26_SIGNATURE
        );
    }

    #[test]
    fn rfc9421_b14_private_key_reproduces_the_signature() {
        // Ed25519 is deterministic: the RFC's private key gives the published bytes.
        let key = b14_private_key();
        assert_eq!(key.verifying_key(), b14_public_key());
        let expected = parse_signature(B26_SIGNATURE, "sig-b26").unwrap();
        assert_eq!(key.sign(B26_BASE.as_bytes()).to_bytes(), expected);
    }

    #[test]
    fn rfc9421_b26_input_is_not_our_profile() {
        assert_eq!(
            parse_signature_input(B26_SIGNATURE_INPUT, "sig-b26"),
            Err(SignatureError::MissingParameter("expires"))
        );
    }

    // ---- Content-Digest ----

    #[test]
    fn content_digest_of_known_bodies() {
        assert_eq!(
            content_digest_sha256(BODY),
            format!("sha-256=:{BODY_SHA_256}:")
        );
        assert_eq!(
            content_digest_sha256(b""),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
    }

    #[test]
    fn content_digest_verifies_alongside_other_algorithms() {
        let own = content_digest_sha256(BODY);
        assert_eq!(verify_content_digest(&own, BODY), Ok(()));
        let several = format!("sha-512=:AAAA:, {own}, md5=?1");
        assert_eq!(verify_content_digest(&several, BODY), Ok(()));
    }

    #[test]
    fn content_digest_errors() {
        assert_eq!(
            verify_content_digest(&content_digest_sha256(b"other"), BODY),
            Err(SignatureError::DigestMismatch)
        );
        assert_eq!(
            verify_content_digest("sha-256=:AAAA:", BODY),
            Err(SignatureError::DigestMismatch)
        );
        assert_eq!(
            verify_content_digest("sha-512=:AAAA:", BODY),
            Err(SignatureError::MissingMember {
                field: "Content-Digest",
                member: "sha-256".into()
            })
        );
        assert_eq!(
            verify_content_digest(&format!("sha-256=\"{BODY_SHA_256}\""), BODY),
            Err(SignatureError::NotByteSequence {
                field: "Content-Digest",
                member: "sha-256".into()
            })
        );
        assert!(matches!(
            verify_content_digest("sha-256=:not base64:", BODY),
            Err(SignatureError::Malformed {
                field: "Content-Digest",
                ..
            })
        ));
        let long = format!("{}, x=1", content_digest_sha256(BODY)) + &" ".repeat(4096);
        assert_eq!(
            verify_content_digest(&long, BODY),
            Err(SignatureError::TooLong {
                field: "Content-Digest",
                len: long.len()
            })
        );
    }

    // ---- Signature errors ----

    #[test]
    fn signature_errors() {
        assert_eq!(
            parse_signature("amtp=:AAAA:", LABEL),
            Err(SignatureError::SignatureLength(3))
        );
        assert_eq!(
            parse_signature(B26_SIGNATURE, LABEL),
            Err(SignatureError::MissingMember {
                field: "Signature",
                member: "amtp".into()
            })
        );
        assert_eq!(
            parse_signature("amtp=(:AAAA:)", LABEL),
            Err(SignatureError::NotByteSequence {
                field: "Signature",
                member: "amtp".into()
            })
        );
        assert!(matches!(
            parse_signature("amtp=:AAAA", LABEL),
            Err(SignatureError::Malformed {
                field: "Signature",
                ..
            })
        ));
        let long = "a".repeat(MAX_FIELD_BYTES + 1);
        assert_eq!(
            parse_signature(&long, LABEL),
            Err(SignatureError::TooLong {
                field: "Signature",
                len: MAX_FIELD_BYTES + 1
            })
        );
        assert_eq!(
            serialize_signature("Amtp", &[0; 64]),
            Err(SignatureError::InvalidLabel("Amtp".into()))
        );
    }

    // ---- Signature-Input errors ----

    #[test]
    fn refuses_oversized_and_malformed_input() {
        let long = format!("{INPUT}{}", " ".repeat(MAX_FIELD_BYTES));
        assert_eq!(
            parse_err(&long),
            SignatureError::TooLong {
                field: "Signature-Input",
                len: long.len()
            }
        );
        assert!(matches!(
            parse_err("amtp=(\"@method\""),
            SignatureError::Malformed {
                field: "Signature-Input",
                ..
            }
        ));
    }

    #[test]
    fn refuses_a_missing_label_or_a_label_that_is_no_inner_list() {
        let err = parse_signature_input(INPUT, "other").unwrap_err();
        assert_eq!(
            err,
            SignatureError::MissingMember {
                field: "Signature-Input",
                member: "other".into()
            }
        );
        assert_eq!(
            parse_err(r#"other=(), x=1"#).to_string(),
            "Signature-Input has no member \"amtp\""
        );
        assert_eq!(
            parse_err(r#"amtp="@method";created=1"#),
            SignatureError::NotInnerList("amtp".into())
        );
    }

    #[test]
    fn refuses_malformed_component_lists() {
        assert_eq!(
            parse_err(&input_with(r#""@path""#, "path")),
            SignatureError::ComponentNotString
        );
        assert_eq!(
            parse_err(&input_with(r#""date""#, r#""date";sf"#)),
            SignatureError::ComponentParameters("date".into())
        );
        assert_eq!(
            parse_err(&input_with(r#" "date""#, "")),
            SignatureError::MissingComponent("date".into())
        );
        let err = parse_err(&input_with(r#" "content-digest""#, ""));
        assert_eq!(
            err.to_string(),
            "component \"content-digest\" missing from the covered list"
        );
        assert_eq!(
            parse_err(&input_with(r#""date""#, r#""date" "host""#)),
            SignatureError::UnexpectedComponent("host".into())
        );
        assert_eq!(
            parse_err(&input_with(r#""date""#, r#""date" "date""#)),
            SignatureError::DuplicateComponent("date".into())
        );
        assert_eq!(
            parse_err(&input_with(r#""@method" "@path""#, r#""@path" "@method""#)),
            SignatureError::ComponentOrder(
                [
                    "@path",
                    "@method",
                    "content-digest",
                    "date",
                    "amtp-sender-domain"
                ]
                .map(String::from)
                .to_vec()
            )
        );
    }

    #[test]
    fn refuses_unknown_missing_misplaced_and_mistyped_parameters() {
        assert_eq!(
            parse_err(&format!("{INPUT};tag=\"x\"")),
            SignatureError::UnknownParameter("tag".into())
        );
        assert_eq!(
            parse_err(&input_with(";expires=1700000300", "")),
            SignatureError::MissingParameter("expires")
        );
        assert_eq!(
            parse_err(&input_with(r#";alg="ed25519""#, "")),
            SignatureError::MissingParameter("alg")
        );
        assert_eq!(
            parse_err(&input_with(
                ";created=1700000000;expires=1700000300",
                ";expires=1700000300;created=1700000000"
            )),
            SignatureError::ParameterOrder
        );
        let err = parse_err(&input_with("created=1700000000", "created=\"1700000000\""));
        assert_eq!(
            err,
            SignatureError::ParameterType {
                name: "created",
                expected: "an integer"
            }
        );
        assert_eq!(err.to_string(), "created is not an integer");
        assert_eq!(
            parse_err(&input_with("expires=1700000300", "expires=-1")),
            SignatureError::ParameterType {
                name: "expires",
                expected: "a non-negative integer"
            }
        );
        assert_eq!(
            parse_err(&input_with(r#"nonce="c2f1e0""#, "nonce=c2f1e0")),
            SignatureError::ParameterType {
                name: "nonce",
                expected: "a string"
            }
        );
        assert_eq!(
            parse_err(&input_with(r#"keyid="a.example:k1""#, "keyid=:AAAA:")),
            SignatureError::ParameterType {
                name: "keyid",
                expected: "a string"
            }
        );
        assert_eq!(
            parse_err(&input_with(r#"alg="ed25519""#, "alg=ed25519")),
            SignatureError::ParameterType {
                name: "alg",
                expected: "a string"
            }
        );
    }

    #[test]
    fn refuses_parameters_outside_the_profile() {
        assert_eq!(
            parse_err(&input_with(r#"alg="ed25519""#, r#"alg="rsa-pss-sha512""#)),
            SignatureError::UnsupportedAlgorithm("rsa-pss-sha512".into())
        );
        assert_eq!(
            parse_err(&input_with("expires=1700000300", "expires=1700000000")),
            SignatureError::ExpiresNotAfterCreated {
                created: 1_700_000_000,
                expires: 1_700_000_000
            }
        );
        assert_eq!(
            parse_err(&input_with(r#"nonce="c2f1e0""#, r#"nonce="""#)),
            SignatureError::EmptyNonce
        );
        for keyid in ["a.example", ":k1", "a.example:", ""] {
            assert_eq!(
                parse_err(&input_with(r#""a.example:k1""#, &format!("\"{keyid}\""))),
                SignatureError::InvalidKeyId(keyid.into())
            );
        }
    }

    // ---- signature base and serialisation errors ----

    #[test]
    fn signature_base_refuses_values_that_do_not_match_the_covered_list() {
        let values = values("sha-256=:AA==:");
        let mut swapped = borrowed(&values);
        swapped.swap(0, 1);
        let err = signature_base(&swapped, &params()).unwrap_err();
        assert!(matches!(
            err,
            SignatureError::ComponentValuesMismatch { .. }
        ));
        let short = &borrowed(&values)[..4];
        assert!(matches!(
            signature_base(short, &params()),
            Err(SignatureError::ComponentValuesMismatch { .. })
        ));
    }

    #[test]
    fn signature_base_refuses_bad_values() {
        for bad in ["Tue\r\n", "Tue\nX: y", "Tue\u{7f}", "Tu\u{e9}", "a\0b"] {
            let mut values = values("sha-256=:AA==:");
            values[3].1 = bad.to_owned();
            assert_eq!(
                signature_base(&borrowed(&values), &params()),
                Err(SignatureError::InvalidFieldValue("date".into())),
                "{bad:?}"
            );
        }
        for bad in ["", "PO ST", "POST\n", "\tPOST"] {
            let mut values = values("sha-256=:AA==:");
            values[0].1 = bad.to_owned();
            assert_eq!(
                signature_base(&borrowed(&values), &params()),
                Err(SignatureError::InvalidDerivedValue("@method".into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn component_ids_are_checked() {
        for bad in [
            "Date",
            "",
            "@signature-params",
            "@query-param",
            "@foo",
            "da te",
            "a\"b",
        ] {
            assert_eq!(
                base_with_parameters(&[(bad, "x")], &[]),
                Err(SignatureError::InvalidComponentId(bad.into())),
                "{bad:?}"
            );
        }
        assert_eq!(
            base_with_parameters(&[("date", "x"), ("date", "y")], &[]),
            Err(SignatureError::DuplicateComponent("date".into()))
        );
        let mut p = params();
        p.components[2] = "Content-Digest".into();
        assert_eq!(
            serialize_signature_input(LABEL, &p),
            Err(SignatureError::InvalidComponentId("Content-Digest".into()))
        );
    }

    #[test]
    fn serialisation_refuses_unrepresentable_values() {
        let mut p = params();
        p.expires = 1_000_000_000_000_000;
        assert_eq!(
            serialize_signature_input(LABEL, &p),
            Err(SignatureError::Unrepresentable {
                name: "expires",
                reason: "integers are at most 999999999999999"
            })
        );
        let mut p = params();
        p.nonce = "caf\u{e9}".into();
        assert!(matches!(
            serialize_signature_input(LABEL, &p),
            Err(SignatureError::Unrepresentable { name: "nonce", .. })
        ));
        let mut p = params();
        p.keyid = "a\nb".into();
        assert!(matches!(
            signature_base(
                &[],
                &SignatureParams {
                    components: vec![],
                    ..p
                }
            ),
            Err(SignatureError::Unrepresentable { name: "keyid", .. })
        ));
        assert_eq!(
            serialize_signature_input("sig 1", &params()),
            Err(SignatureError::InvalidLabel("sig 1".into()))
        );
    }

    #[test]
    fn strings_are_escaped_when_written_and_read() {
        let p = SignatureParams::amtp(1, 2, r#"a"b\c"#, "a.example:k1");
        let input = serialize_signature_input(LABEL, &p).unwrap();
        assert!(input.contains(r#"nonce="a\"b\\c""#), "{input}");
        assert_eq!(parse_signature_input(&input, LABEL), Ok(p));
    }

    // ---- properties ----

    fn valid_params() -> impl Strategy<Value = SignatureParams> {
        (0u64..(1 << 40) - 1)
            .prop_flat_map(|created| (Just(created), created + 1..1 << 40))
            .prop_flat_map(|(created, expires)| {
                (
                    Just(created),
                    Just(expires),
                    "[A-Za-z0-9+/=_-]{1,32}",
                    "[a-z0-9.-]{1,24}:[A-Za-z0-9._-]{1,16}",
                )
            })
            .prop_map(|(created, expires, nonce, keyid)| {
                SignatureParams::amtp(created, expires, nonce, keyid)
            })
    }

    proptest! {
        #[test]
        fn valid_params_round_trip(p in valid_params()) {
            let input = serialize_signature_input(LABEL, &p).unwrap();
            prop_assert_eq!(parse_signature_input(&input, LABEL), Ok(p));
        }

        #[test]
        fn parsers_never_panic_on_arbitrary_strings(s in any::<String>()) {
            let _ = parse_signature_input(&s, LABEL);
            let _ = parse_signature(&s, LABEL);
            let _ = verify_content_digest(&s, s.as_bytes());
        }

        #[test]
        fn parsers_never_panic_on_structured_looking_strings(
            s in r#"[a-z0-9@"();=:, *?.+/-]{0,200}"#
        ) {
            let _ = parse_signature_input(&s, LABEL);
            let _ = parse_signature_input(&format!("amtp={s}"), LABEL);
            let _ = parse_signature(&format!("amtp={s}"), LABEL);
            let _ = verify_content_digest(&format!("sha-256={s}"), b"");
        }
    }
}
