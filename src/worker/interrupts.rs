//! Which attempts `TimeLimit` and `ShutdownNotifications` may interrupt, after
//! `dramatiq.middleware.time_limit` and `dramatiq.middleware.shutdown` (2.x). Each is read
//! straight from the options the core holds, once per message, so the worker's hot path
//! never copies a message's options into JavaScript to decide.

use crate::codec::value::{option, Value};

/// The option names `TimeLimit` adds to a broker.
pub const TIME_LIMIT_OPTIONS: [&str; 1] = ["time_limit"];
/// The option names `ShutdownNotifications` adds to a broker.
pub const SHUTDOWN_OPTIONS: [&str; 1] = ["notify_shutdown"];

/// A limit as Python's `monotonic() + ttl / 1000` reads it: an int, a float, or a bool (an
/// int in Python: a message's `time_limit: true` is a 1 ms limit, an actor's `false` 0 ms).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Int(n) => Some(*n as f64),
        Value::Float(x) if !x.is_nan() => Some(*x),
        _ => None,
    }
}

/// The time limit in ms: Python's `message.options.get("time_limit") or
/// actor.options.get("time_limit", default)`: the message's when truthy, else the actor's
/// when present, else the middleware's. A value that is no number (Python would fail on
/// it) falls back to the middleware's; a bool is the int Python takes it for.
pub fn time_limit_ms(
    message_options: &[(String, Value)],
    actor_options: &[(String, Value)],
    default_ms: f64,
) -> f64 {
    option(message_options, "time_limit")
        .filter(|v| v.truthy())
        .or_else(|| option(actor_options, "time_limit"))
        .and_then(number)
        .unwrap_or(default_ms)
}

/// Python's `should_notify`: the message's `notify_shutdown` unless absent or `None`, else
/// the actor's likewise, else the middleware's; then its truthiness.
pub fn notify_shutdown(
    message_options: &[(String, Value)],
    actor_options: &[(String, Value)],
    default: bool,
) -> bool {
    let given = |options: &[(String, Value)]| {
        option(options, "notify_shutdown")
            .filter(|v| !matches!(v, Value::Null))
            .map(Value::truthy)
    };
    given(message_options)
        .or_else(|| given(actor_options))
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::value::opts;

    #[test]
    fn time_limit_message_when_truthy_else_actor_when_present_else_default() {
        let actor = opts(&[("time_limit", 200.into())]);
        assert_eq!(
            time_limit_ms(&opts(&[("time_limit", 50.into())]), &actor, 1e3),
            50.0
        );
        assert_eq!(
            time_limit_ms(&opts(&[("time_limit", 0.into())]), &actor, 1e3),
            200.0
        );
        assert_eq!(time_limit_ms(&[], &actor, 1e3), 200.0);
        assert_eq!(time_limit_ms(&[], &[], 1e3), 1e3);
        assert_eq!(
            time_limit_ms(&[], &opts(&[("time_limit", 2.5.into())]), 1e3),
            2.5
        );
        assert_eq!(
            time_limit_ms(&[], &opts(&[("time_limit", "x".into())]), 1e3),
            1e3
        );
    }

    #[test]
    fn time_limit_bool_is_the_int_python_reads() {
        // `monotonic() + True / 1000`: a message's true is a 1 ms limit; an actor's false
        // (reached only when the message's is falsy) is 0 ms, not the default.
        let actor = opts(&[("time_limit", 200.into())]);
        assert_eq!(
            time_limit_ms(&opts(&[("time_limit", true.into())]), &actor, 1e3),
            1.0
        );
        assert_eq!(
            time_limit_ms(&opts(&[("time_limit", false.into())]), &actor, 1e3),
            200.0
        );
        assert_eq!(
            time_limit_ms(&[], &opts(&[("time_limit", false.into())]), 1e3),
            0.0
        );
    }

    #[test]
    fn notify_shutdown_skips_absent_and_none_only() {
        let yes = opts(&[("notify_shutdown", true.into())]);
        let no = opts(&[("notify_shutdown", false.into())]);
        let none = opts(&[("notify_shutdown", Value::Null)]);
        assert!(!notify_shutdown(&no, &yes, true), "an explicit false wins");
        assert!(notify_shutdown(&none, &yes, false));
        assert!(notify_shutdown(&[], &[], true));
        assert!(!notify_shutdown(&[], &none, false));
        assert!(notify_shutdown(
            &opts(&[("notify_shutdown", 1.into())]),
            &[],
            false
        ));
    }
}
