//! agentgate services and protocol edges.
pub mod config;
