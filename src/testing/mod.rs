//! Test helpers, compiled only for tests (`cfg(test)` or the `testing` feature, which the
//! crate's own integration tests turn on): not part of the library's API.

mod manual_clock;
mod rng;

pub use manual_clock::{ManualClock, ManualSleep};
pub use rng::Rng;
