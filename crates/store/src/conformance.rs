//! Conformance suite: written by the embedded-backend work.
