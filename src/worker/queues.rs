//! The broker's rules, after `dramatiq.broker` / `dramatiq.actor`: queue names, which
//! actor options a broker accepts, and what enqueueing with a delay does to a message.
//!
//! The in-process broker and worker (`pkg/src/brokers/stub.js`, `pkg/src/worker/`) hold queues and call actor
//! functions; every rule they follow about a message is here.

use crate::codec::value::{option, Value};
use crate::model::key::canonical_queue_name;
use crate::model::message::Message;

/// Options every actor takes whatever the middleware (not part of `actor_options`).
pub const ACTOR_KEYWORDS: [&str; 3] = ["actor_name", "queue_name", "priority"];

/// Dramatiq's `QUEUE_NAME_RE` check: a letter or underscore, then letters, digits, `.`,
/// `_` or `-`.
pub fn validate_queue_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Queue names must start with a letter or an underscore followed by any number of \
             letters, digits, dashes or underscores, got {name:?}."
        ))
    }
}

/// Dramatiq's `dq_name`: the queue a delayed message waits on.
pub fn delay_queue_name(queue_name: &str) -> String {
    format!("{}.DQ", canonical_queue_name(queue_name))
}

/// Dramatiq's `xq_name`: the dead-letter queue.
pub fn dead_letter_queue_name(queue_name: &str) -> String {
    format!("{}.XQ", canonical_queue_name(queue_name))
}

/// Dramatiq's consumer line (ERROR) for a message whose actor no one declared, before it
/// is dead-lettered: `Received message for undefined actor %r. Moving it to the DLQ.`
pub fn undefined_actor_line(actor_name: &str) -> String {
    format!(
        "Received message for undefined actor {}. Moving it to the DLQ.",
        crate::codec::py_repr::py_repr(&Value::Str(actor_name.to_owned()))
    )
}

/// Dramatiq's error when a second actor takes a declared name (its `ValueError`):
/// `An actor named %r is already registered.`
pub fn duplicate_actor_message(actor_name: &str) -> String {
    format!(
        "An actor named {} is already registered.",
        crate::codec::py_repr::py_repr(&Value::Str(actor_name.to_owned()))
    )
}

/// A JS option name in Dramatiq's spelling: `storeResults` → `store_results`. Names
/// already in snake_case are unchanged.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Dramatiq's check in `Actor.__init__`: every option must be one some middleware
/// declared. `given` pairs each option as the caller spelled it with its snake_case name.
pub fn check_actor_options(given: &[(String, String)], allowed: &[String]) -> Result<(), String> {
    let invalid: Vec<&str> = given
        .iter()
        .filter(|(_, snake)| !allowed.iter().any(|a| a == snake))
        .map(|(spelled, _)| spelled.as_str())
        .collect();
    if invalid.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "The following actor options are undefined: {}. Did you forget to add a \
             middleware to your Broker?",
            invalid.join(", ")
        ))
    }
}

/// What `broker.enqueue(message, delay=…)` puts on the queue: a copy on the delay queue
/// with an `eta` option. Its key is unchanged, since keys use the canonical queue name.
pub fn delayed(message: &Message, delay_ms: f64, now_ms: i64) -> Message {
    let mut copy = message.clone();
    copy.queue_name = delay_queue_name(&message.queue_name);
    copy.set_option("eta", eta_after(now_ms, delay_ms));
    copy
}

/// Python's `current_millis() + delay`: a whole delay keeps the eta an integer, a
/// fractional one (a pipeline step's `delay: 1.5`, a `Retry(delay=2.5)`) makes it a float
/// (`1765000000124.5`), which is what a Python producer or worker writes.
pub fn eta_after(now_ms: i64, delay_ms: f64) -> Value {
    if delay_ms.fract() == 0.0 && delay_ms.abs() < 9.2e18 {
        Value::Int(now_ms.saturating_add(delay_ms as i64))
    } else {
        Value::Float(now_ms as f64 + delay_ms)
    }
}

/// When a delayed message is due (its `eta` option), if it has one.
pub fn eta(message: &Message) -> Option<f64> {
    match option(&message.options, "eta")? {
        Value::Int(n) => Some(*n as f64),
        Value::Float(x) if x.is_finite() => Some(*x),
        _ => None,
    }
}

/// The copy a worker moves from the delay queue to the work queue once it is due: on the
/// canonical queue and without `eta` (Dramatiq's worker deletes it, so no consumer, Python
/// or ours, holds the copy back again).
pub fn undelayed(message: &Message) -> Message {
    let mut copy = message.clone();
    copy.queue_name = canonical_queue_name(&message.queue_name).to_owned();
    copy.options.retain(|(name, _)| name != "eta");
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::key::KeyScheme;

    #[test]
    fn duplicate_actor_message_is_dramatiqs_word_for_word() {
        assert_eq!(
            duplicate_actor_message("foo"),
            "An actor named 'foo' is already registered."
        );
    }

    #[test]
    fn undefined_actor_line_is_dramatiqs_word_for_word() {
        assert_eq!(
            undefined_actor_line("some-actor"),
            "Received message for undefined actor 'some-actor'. Moving it to the DLQ."
        );
    }

    fn message() -> Message {
        Message {
            queue_name: "default".into(),
            actor_name: "add".into(),
            args: vec![1.into()],
            kwargs: vec![],
            options: vec![("store_results".into(), true.into())],
            message_id: "id-1".into(),
            message_timestamp: 1_000,
            float_timestamp: None,
            lone_surrogates: false,
        }
    }

    #[test]
    fn delay_moves_to_dq_and_keeps_the_key() {
        let m = message();
        let d = delayed(&m, 50.0, 2_000);
        assert_eq!(d.queue_name, "default.DQ");
        assert_eq!(eta(&d), Some(2_050.0));
        assert_eq!(
            option(&d.options, "store_results"),
            Some(&Value::Bool(true))
        );
        let keys = KeyScheme::default();
        let key = |m: &Message| keys.message_key(&m.queue_name, &m.actor_name, &m.message_id);
        assert_eq!(key(&m), key(&d));
        let back = undelayed(&d);
        assert_eq!(back.queue_name, "default");
        assert_eq!(eta(&back), None);
        assert_eq!(key(&back), key(&m));
        // Delaying twice does not stack suffixes.
        assert_eq!(delayed(&d, 1.0, 0).queue_name, "default.DQ");
        // A fractional delay makes a float eta, as Python's `int + float`.
        assert_eq!(
            option(&delayed(&m, 1.5, 2_000).options, "eta"),
            Some(&Value::Float(2_001.5))
        );
        assert_eq!(
            option(&delayed(&m, 0.0, 2_000).options, "eta"),
            Some(&Value::Int(2_000))
        );
        assert_eq!(dead_letter_queue_name("q.DQ"), "q.XQ");
    }

    /// Dramatiq's tests/test_common.py, its parameters as written:
    /// test_q_name_returns_canonical_names, test_dq_name_returns_canonical_delay_names and
    /// test_xq_name_returns_delay_names.
    #[test]
    fn dramatiq_test_common_queue_names() {
        for given in ["default", "default.DQ", "default.XQ"] {
            assert_eq!(canonical_queue_name(given), "default", "q_name({given})");
            assert_eq!(delay_queue_name(given), "default.DQ", "dq_name({given})");
            assert_eq!(
                dead_letter_queue_name(given),
                "default.XQ",
                "xq_name({given})"
            );
        }
    }

    #[test]
    fn queue_names_follow_dramatiq() {
        for ok in ["default", "_q", "a.b-c_d9", "Q"] {
            assert!(validate_queue_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "9q", "-q", "a b", "q!", "é"] {
            assert!(validate_queue_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn option_names_and_checks() {
        assert_eq!(snake_case("storeResults"), "store_results");
        assert_eq!(snake_case("result_ttl"), "result_ttl");
        assert_eq!(snake_case("maxAge"), "max_age");
        let allowed = vec!["store_results".to_owned(), "max_age".to_owned()];
        let given = |names: &[&str]| -> Vec<(String, String)> {
            names
                .iter()
                .map(|n| (n.to_string(), snake_case(n)))
                .collect()
        };
        assert!(check_actor_options(&given(&["storeResults", "max_age"]), &allowed).is_ok());
        let err = check_actor_options(&given(&["storeResults", "resultTtl", "bogus"]), &allowed)
            .unwrap_err();
        assert!(err.contains("resultTtl, bogus"), "{err}");
        assert!(err.contains("Did you forget to add a middleware"), "{err}");
    }
}
