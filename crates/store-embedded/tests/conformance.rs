//! The storage ports' conformance suite, run against the embedded backend.

use agentgate_store_embedded::{EmbeddedOptions, EmbeddedStore};

agentgate_store::conformance_suite!(|| async {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = EmbeddedOptions { cache_mb: 8 };
    let store = EmbeddedStore::open(dir.path(), options).expect("open store");
    (store, dir)
});
