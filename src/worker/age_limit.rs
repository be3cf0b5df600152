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

/// Dramatiq's `AgeLimit` line for a message it skips (WARNING): `Message %r has exceeded
/// its age limit.`
pub fn exceeded_line(message_id: &str) -> String {
    format!(
        "Message {} has exceeded its age limit.",
        crate::codec::py_repr::py_repr(&Value::Str(message_id.to_owned()))
    )
}

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
    // Python's `age >= max_age` is numeric whatever the number's type: a float, a
    // negative or `true` limit skips too. Anything Python could not compare never skips.
    let max_age = match option(message_options, "max_age")
        .filter(|v| v.truthy())
        .or_else(|| option(actor_options, "max_age"))
    {
        Some(v) if v.truthy() => v.as_number(),
        Some(_) => None,
        None => default_max_age_ms.filter(|&ms| ms > 0).map(|ms| ms as f64),
    };
    max_age.is_some_and(|max_age| now_ms - timestamp_ms as f64 >= max_age)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::value::opts;

    #[test]
    fn log_line_is_dramatiqs_word_for_word() {
        assert_eq!(
            exceeded_line("m-1"),
            "Message 'm-1' has exceeded its age limit."
        );
    }

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
        // Python compares any number: a fraction, a negative limit, `true` (1 ms).
        let half = opts(&[("max_age", Value::Float(1000.5))]);
        assert!(exceeded(None, &half, &[], 0, 1_000.5));
        assert!(!exceeded(None, &half, &[], 0, 1_000.0));
        assert!(exceeded(
            None,
            &opts(&[("max_age", Value::Int(-1))]),
            &[],
            0,
            0.0
        ));
        assert!(exceeded(
            None,
            &opts(&[("max_age", true.into())]),
            &[],
            0,
            1.0
        ));
        assert!(!exceeded(
            None,
            &opts(&[("max_age", Value::BigInt("9".repeat(40)))]),
            &[],
            0,
            1e15
        ));
    }
}
