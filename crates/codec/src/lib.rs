//! agentgate wire codecs.
//!
//! Pure functions from bytes to typed values and back, each with explicit limits on size
//! and nesting so that hostile input costs bounded work. No I/O; every decoder has a
//! fuzz target under `fuzz/`.
#![deny(missing_docs)]

pub mod amtp;
pub mod amtp_batch;
pub mod amtp_txt;
pub mod did_key;
pub mod http_signature;
pub mod ioap;
pub mod json;
pub mod jsonrpc;
