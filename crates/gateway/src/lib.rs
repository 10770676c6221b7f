//! agentgate services and protocol edges.
//!
//! # Layout
//! - [`config`]: the typed configuration.
//! - [`app`]: wiring — opens the store, starts the services and workers.
//! - [`http`]: the HTTP edge (AMTP REST API, admin API, operations endpoints).
//! - Services (crate-internal): `directory` (agents, keys, activity), `messaging`
//!   (accepting and reading messages), `inbox` (pull inboxes, long-poll), `delivery`
//!   (push worker), `federation` (discovery of peers, signing keys, outbox),
//!   `workflows` (coordination), `status_book` (per-recipient delivery status),
//!   [`schemas`] (the JSON Schema registry), with `storage`
//!   (names, timing), `admin_keys`, `secrets`, `metrics` and `clock` beneath them.
pub mod config;

mod admin_keys;
pub mod app;
mod clock;
mod delivery;
pub mod directory;
pub mod federation;
pub mod http;
pub mod inbox;
pub mod messaging;
pub mod metrics;
pub mod paging;
mod presence;
pub mod schemas;
mod secrets;
pub mod server;
mod status_book;
pub mod storage;
pub mod telemetry;
pub mod workflows;
pub mod ws;

pub use app::App;
