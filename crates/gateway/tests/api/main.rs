//! HTTP API tests against an in-process gateway on 127.0.0.1 with an embedded store in
//! a temporary directory. One test binary with one module per area, to link once.

mod agents;
mod auth;
mod federation;
mod federation_batch;
mod inbox;
mod load;
mod messaging;
mod operations;
mod push;
mod recovery;
mod schemas;
mod support;
mod websocket;
mod websocket_ioap;
mod workflows;
mod ws_client;
