//! Time, injected: the core's only notion of "now" and "later".
//!
//! The waiting loop reads `now_ms` and sleeps through a [`Timer`]; the JS bindings implement
//! it with the host's clock and one alarm ([`super::timer_queue`]), the component with WASI's
//! clock, and tests with `testing::ManualClock`, a virtual clock whose executor jumps to the
//! next timer whenever every task is stuck, so a 30-second wait takes microseconds.

use std::future::Future;

/// The longest single sleep: hosts' `setTimeout` fires at once past 2³¹−1 ms, so longer
/// waits are taken in steps.
pub const MAX_SLEEP_MS: f64 = 2_147_483_647.0;

/// A monotonic clock with sleeps.
pub trait Timer: Clone {
    /// The future a sleep returns; dropping it must cancel the underlying timer.
    type Sleep: Future<Output = ()>;
    /// Milliseconds on a monotonic scale (the origin is arbitrary).
    fn now_ms(&self) -> f64;
    /// Completes after `ms` milliseconds (at most [`MAX_SLEEP_MS`]; callers clamp).
    fn sleep_ms(&self, ms: f64) -> Self::Sleep;
}
