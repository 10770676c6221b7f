//! The wall clock and randomness, in the forms the core wants them.
//!
//! The core takes time and random bytes as values; this is the one place the gateway
//! reads the system clock and its random number generator for them.

use std::time::{SystemTime, UNIX_EPOCH};

use agentgate_core::Timestamp;
use rand::RngCore;

/// The current time, in milliseconds since the Unix epoch.
pub(crate) fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Timestamp(ms)
}

/// `N` bytes from the thread-local CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

/// A number in `[0, 1)`, for backoff jitter.
pub(crate) fn random_unit() -> f64 {
    let n = u64::from_le_bytes(random_bytes::<8>()) >> 11;
    n as f64 / (1u64 << 53) as f64
}

/// A fresh random (version 4) UUID, drawn from the thread-local generator rather than
/// a system call per id.
pub(crate) fn random_uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(random_bytes::<16>()).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_is_in_range_and_uuids_are_v4() {
        for _ in 0..1000 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(random_uuid().get_version_num(), 4);
        assert_ne!(random_uuid(), random_uuid());
        assert!(now().millis() > 1_600_000_000_000);
    }
}
