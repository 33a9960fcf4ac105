//! Randomness for sampling and ids: a per-thread xorshift, seeded from the std
//! hasher's random keys. Not for secrets.

use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::time::SystemTime;

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    use std::hash::BuildHasher;
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    std::thread::current().id().hash(&mut h);
    SystemTime::now().hash(&mut h);
    h.finish() | 1
}

pub(crate) fn random_u64() -> u64 {
    RNG.try_with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
    .unwrap_or_else(|_| seed())
}

pub(crate) fn random_bytes16() -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&random_u64().to_le_bytes());
    out[8..].copy_from_slice(&random_u64().to_le_bytes());
    out
}

/// True with probability `rate`.
#[inline]
pub(crate) fn chance(rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate <= 0.0 {
        return false;
    }
    ((random_u64() >> 11) as f64 / (1u64 << 53) as f64) < rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chance_follows_the_rate() {
        assert!(chance(1.0));
        assert!(!chance(0.0));
        let hits = (0..100_000).filter(|_| chance(0.25)).count();
        assert!((20_000..30_000).contains(&hits), "{hits}");
    }
}
