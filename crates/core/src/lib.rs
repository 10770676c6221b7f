//! The agentgate domain core.
//!
//! Plain types and rules with no I/O: nothing here opens a socket, reads a file or
//! looks at the wall clock. Time and randomness come in as values so every rule can be
//! tested exhaustively.
//!
//! # Layout
//! - [`domain`]: DNS domain names a gateway serves or talks to.
//! - [`address`]: `name@domain` agent addresses and local agent names.
//! - [`id`]: message identifiers (any RFC 9562 UUID; v7 minted here).
//! - [`time`]: millisecond timestamps and their wire format.
//! - [`envelope`]: the AMTP message envelope and its validation.
//! - [`schema_id`]: schema ids `namespace:domain.entity.vN`, agents' wildcards and
//!   registry search filters.
//! - [`agent`]: registered agents and their delivery modes.
//! - [`backoff`]: retry schedule arithmetic.
//! - [`delivery`]: per-recipient delivery status and its transitions.
//! - [`condition`]: the condition expression language of conditional workflows.
//! - [`workflow`]: coordination workflows (parallel, sequential, conditional).
#![deny(missing_docs)]

pub mod address;
pub mod agent;
pub mod backoff;
pub mod condition;
pub mod delivery;
pub mod domain;
pub mod envelope;
pub mod id;
pub mod schema_id;
pub mod time;
pub mod workflow;

pub use address::{Address, AddressError, AgentName};
pub use agent::{Agent, DeliveryMode};
pub use delivery::{DeliveryStatus, MessageStatus};
pub use domain::{Domain, DomainError};
pub use envelope::{Envelope, EnvelopeError, RawJson};
pub use id::MessageId;
pub use schema_id::{SchemaFilter, SchemaId};
pub use time::Timestamp;
