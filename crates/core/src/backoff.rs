//! Retry schedule arithmetic.
//!
//! The AMTP spec's schedule (§5.3.2): the first retry after 1 s, then doubling, capped at
//! one hour, each delay varied by ±25 % so that retries from many messages spread out.
//! Randomness comes in as a number in `[0, 1)`.

/// A retry policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry, in ms.
    pub initial_ms: u64,
    /// Longest delay, in ms.
    pub max_ms: u64,
    /// Jitter as a percentage of the delay (25 means ±25 %).
    pub jitter_percent: u64,
    /// Attempts in all (the first try included) before giving up.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_ms: 1_000,
            max_ms: 3_600_000,
            jitter_percent: 25,
            max_attempts: 168,
        }
    }
}

impl Backoff {
    /// Delay before retry number `retry` (1 = the first retry), given `unit` in `[0, 1)`.
    pub fn delay_ms(&self, retry: u32, unit: f64) -> u64 {
        let exp = retry.saturating_sub(1).min(63);
        let base = self
            .initial_ms
            .saturating_mul(1u64 << exp.min(40))
            .min(self.max_ms);
        let spread = base.saturating_mul(self.jitter_percent) / 100;
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let offset = (unit * (2 * spread) as f64) as u64;
        base.saturating_sub(spread).saturating_add(offset)
    }

    /// Whether another attempt may follow `attempts_made`.
    pub fn may_retry(&self, attempts_made: u32) -> bool {
        attempts_made < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubles_then_caps() {
        let b = Backoff {
            jitter_percent: 0,
            ..Backoff::default()
        };
        assert_eq!(b.delay_ms(1, 0.3), 1_000);
        assert_eq!(b.delay_ms(2, 0.3), 2_000);
        assert_eq!(b.delay_ms(3, 0.3), 4_000);
        assert_eq!(b.delay_ms(13, 0.3), 3_600_000);
        assert_eq!(b.delay_ms(1000, 0.3), 3_600_000);
    }

    #[test]
    fn attempts_are_bounded() {
        let b = Backoff {
            max_attempts: 3,
            ..Backoff::default()
        };
        assert!(b.may_retry(2));
        assert!(!b.may_retry(3));
    }

    proptest! {
        #[test]
        fn jitter_stays_within_a_quarter(retry in 1u32..200, unit in 0.0f64..1.0) {
            let b = Backoff::default();
            let plain = Backoff { jitter_percent: 0, ..b }.delay_ms(retry, 0.0);
            let d = b.delay_ms(retry, unit);
            prop_assert!(d >= plain - plain / 4 && d <= plain + plain / 4);
        }
    }
}
