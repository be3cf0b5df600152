//! Dramatiq's back-off for polling a store that cannot announce a write.
//!
//! `compute_backoff(attempts, factor=100)` from `dramatiq.common`: the delay doubles per
//! attempt from `[100, 200)` ms, with jitter, and once past 2 s it is drawn from
//! `[1000, 2000)` ms. The random source is injected so tests are deterministic.

/// The back-off factor Dramatiq's `get_result` uses, in milliseconds.
pub const BACKOFF_FACTOR_MS: f64 = 100.0;
/// The longest back-off, in milliseconds.
pub const MAX_BACKOFF_MS: f64 = 2000.0;
/// The largest exponent applied to the factor.
pub const MAX_EXPONENT: u32 = 32;

/// A small, fast pseudo-random generator (SplitMix64): jitter needs spread, not secrecy.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// A generator from a seed (the bindings seed it from `Math.random`).
    pub fn new(seed: u64) -> Self {
        Jitter(seed)
    }

    /// A fresh generator split off this one, so each wait gets its own jitter sequence.
    pub fn split(&mut self) -> Jitter {
        Jitter::new(self.uniform(0.0, 1.0).to_bits())
    }

    /// A uniform float in `[low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits → [0, 1).
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        low + (high - low) * unit
    }
}

/// Successive polling delays for one wait.
#[derive(Debug, Clone)]
pub struct Backoff {
    attempts: u32,
    jitter: Jitter,
}

impl Backoff {
    /// A fresh back-off (attempt 0) drawing jitter from `jitter`.
    pub fn new(jitter: Jitter) -> Self {
        Backoff {
            attempts: 0,
            jitter,
        }
    }

    /// The next delay in milliseconds; advances the attempt count.
    pub fn next_delay_ms(&mut self) -> f64 {
        let (attempts, delay) = compute_backoff(self.attempts, &mut self.jitter);
        self.attempts = attempts;
        delay
    }
}

/// Dramatiq's `compute_backoff(attempts, factor=100)` with jitter on, in milliseconds:
/// returns the next attempt count and the delay.
pub fn compute_backoff(attempts: u32, jitter: &mut Jitter) -> (u32, f64) {
    compute_backoff_with(attempts, BACKOFF_FACTOR_MS, MAX_BACKOFF_MS, jitter)
}

/// Dramatiq's `compute_backoff(attempts, factor=…, max_backoff=…)` with jitter on: the
/// delay `factor · 2^attempts`, stretched by `[1, 2)`, and past `max_ms` drawn from
/// `[max_ms / 2, max_ms)`. Retries use it with `min_backoff` as the factor.
pub fn compute_backoff_with(
    attempts: u32,
    factor_ms: f64,
    max_ms: f64,
    jitter: &mut Jitter,
) -> (u32, f64) {
    let backoff = backoff_ms(f64::from(attempts), factor_ms, max_ms, jitter);
    (attempts.saturating_add(1), backoff)
}

/// The delay of [`compute_backoff_with`] for any count Python's `Retries` may hand it: a
/// message's `retries` option can be negative or fractional (`2 ** -4`, `2 ** 1.5`). Not
/// finite where Python's `int(…)` of it raises (a NaN count or factor, an infinite one).
pub fn backoff_ms(attempts: f64, factor_ms: f64, max_ms: f64, jitter: &mut Jitter) -> f64 {
    // Python's `min(attempts, 32)` keeps a NaN count (its first argument) as it is.
    let exponent = if attempts > f64::from(MAX_EXPONENT) {
        f64::from(MAX_EXPONENT)
    } else {
        attempts
    };
    let mut backoff = (factor_ms * 2f64.powf(exponent) * jitter.uniform(1.0, 2.0)).trunc();
    if !backoff.is_finite() {
        // Python's first `int(…)` raises here, before any cap.
        return backoff;
    }
    if backoff > max_ms {
        backoff = (max_ms * jitter.uniform(0.5, 1.0)).trunc();
    }
    backoff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_in_dramatiqs_ranges() {
        for seed in 0..200 {
            let mut b = Backoff::new(Jitter::new(seed));
            let ranges = [
                (100.0, 200.0),
                (200.0, 400.0),
                (400.0, 800.0),
                (800.0, 1600.0),
            ];
            for (low, high) in ranges {
                let d = b.next_delay_ms();
                assert!(
                    d >= low && d < high,
                    "seed {seed}: {d} not in [{low},{high})"
                );
            }
            let d = b.next_delay_ms();
            assert!((1000.0..=2000.0).contains(&d), "attempt 4: {d}");
            for _ in 0..40 {
                let d = b.next_delay_ms();
                assert!((1000.0..2000.0).contains(&d), "late attempt: {d}");
            }
        }
    }

    #[test]
    fn jitter_spreads() {
        let mut j = Jitter::new(7);
        let xs: Vec<f64> = (0..1000).map(|_| j.uniform(0.0, 1.0)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.45..0.55).contains(&mean), "mean {mean}");
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
    }
}
