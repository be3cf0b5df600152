//! The `AgeLimit` middleware's decision, after `dramatiq.middleware.age_limit`.
//!
//! A message older than its `max_age` is failed and skipped before its actor runs; with
//! results on, what gets stored is `SkipMessage: Message age limit exceeded` (on nack),
//! exactly as Dramatiq stores it.

use crate::codec::value::{option, Value};

/// The actor options the middleware adds to a broker.
pub const ACTOR_OPTIONS: [&str; 1] = ["max_age"];
/// The message of the `SkipMessage` an expired message is skipped with.
pub const SKIP_MESSAGE: &str = "Message age limit exceeded";

/// Whether a message created at `timestamp_ms` is too old at `now_ms`. `max_age` is the
/// message's option, else the actor's, else `default_max_age_ms` (Dramatiq's `or`: a
/// falsy message option falls through; no limit at all means never too old).
pub fn exceeded(
    default_max_age_ms: Option<u64>,
    message_options: &[(String, Value)],
    actor_options: &[(String, Value)],
    timestamp_ms: i64,
    now_ms: f64,
) -> bool {
    let max_age = option(message_options, "max_age")
        .filter(|v| v.truthy())
        .or_else(|| option(actor_options, "max_age"))
        .map_or(default_max_age_ms, Value::as_count);
    match max_age {
        None | Some(0) => false,
        Some(max_age) => now_ms - timestamp_ms as f64 >= max_age as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::value::opts;

    #[test]
    fn message_then_actor_then_default() {
        let actor = opts(&[("max_age", 1.into())]);
        assert!(exceeded(None, &[], &actor, 1_000, 1_001.0));
        assert!(!exceeded(None, &[], &actor, 1_000, 1_000.5));
        let msg = opts(&[("max_age", 60_000.into())]);
        assert!(!exceeded(None, &msg, &actor, 1_000, 5_000.0));
        assert!(exceeded(Some(10), &[], &[], 0, 10.0));
        assert!(!exceeded(None, &[], &[], 0, 1e12));
        // A falsy message option falls through to the actor's.
        let zero = opts(&[("max_age", 0.into())]);
        assert!(exceeded(None, &zero, &actor, 0, 2.0));
        // Nonsense limits never skip.
        let bad = opts(&[("max_age", "soon".into())]);
        assert!(!exceeded(None, &bad, &[], 0, 1e12));
    }
}
