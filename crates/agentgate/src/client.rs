//! HTTP client shared by the client commands (to be written).
