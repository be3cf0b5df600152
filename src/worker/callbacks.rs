//! The `Callbacks` middleware's rules and the callback messages it and `Retries` send,
//! after `dramatiq.middleware.callbacks` and the `on_retry_exhausted` branch of
//! `dramatiq.middleware.retries` (2.x).
//!
//! A callback is a message to another actor, named by a message option or, failing that,
//! an actor option (Python's `message.options.get(name) or actor.options.get(name)`), whose
//! first argument is the finished message's `asdict()` and whose second is the result, the
//! failure `{ "type", "message" }`, or the retry count `{ "retries", "max_retries" }`.
//! Built here from the core message, so the dict carries the message's values exactly
//! (a float stays a float, a big integer stays whole) whatever JavaScript can hold.

use crate::codec::value::{option, Value};
use crate::model::message::Message;

/// The actor options the `Callbacks` middleware adds to a broker.
pub const ACTOR_OPTIONS: [&str; 2] = ["on_failure", "on_success"];

/// The option naming the actor `Retries` tells when it gives up (a `Retries` actor option).
pub const ON_RETRY_EXHAUSTED: &str = "on_retry_exhausted";

/// Which actor the `name` callback (`on_success`, `on_failure`, `on_retry_exhausted`) goes
/// to: the message's option when truthy, else the actor's when truthy, else none — Python's
/// `or`. The value is returned as given; a name that is no string is no actor's, and the
/// caller's lookup fails (and is logged) as Python's `broker.get_actor` does.
pub fn target<'a>(
    message_options: &'a [(String, Value)],
    actor_options: &'a [(String, Value)],
    name: &str,
) -> Option<&'a Value> {
    option(message_options, name)
        .filter(|v| v.truthy())
        .or_else(|| option(actor_options, name).filter(|v| v.truthy()))
}

/// What an `on_failure` callback is told of the exception: `{"type": type(e).__name__,
/// "message": str(e)}`, in that order.
pub fn failure_payload(exception_type: &str, exception_message: &str) -> Value {
    Value::Dict(vec![
        ("type".into(), Value::Str(exception_type.into())),
        ("message".into(), Value::Str(exception_message.into())),
    ])
}

/// What an `on_retry_exhausted` callback is told: `{"retries": r, "max_retries": m}`, where
/// `r` is the `retries` option before this failure bumped it (`setdefault("retries", 0)`)
/// and `m` the `max_retries` Python's `Retries` looked up: the message's option when
/// present, else the actor's when present, else the middleware's (`null`: no limit).
pub fn exhausted_payload(
    message_options: &[(String, Value)],
    actor_options: &[(String, Value)],
    default_max_retries: Option<u64>,
) -> Value {
    let retries = option(message_options, "retries")
        .cloned()
        .unwrap_or(Value::Int(0));
    let max_retries = option(message_options, "max_retries")
        .or_else(|| option(actor_options, "max_retries"))
        .cloned()
        .unwrap_or_else(|| default_max_retries.map_or(Value::Null, |n| Value::Int(n as i64)));
    Value::Dict(vec![
        ("retries".into(), retries),
        ("max_retries".into(), max_retries),
    ])
}

/// The callback message `target.send(message.asdict(), payload)` enqueues: on the target's
/// queue, no kwargs, no options, a fresh id and timestamp (the caller's, so the core needs
/// no randomness or clock). `payload_marked`: whether the payload's strings hold stand-ins
/// for lone surrogates (see [`Message::push_arg_marked`]).
pub fn callback_message(
    target_queue: &str,
    target_actor: &str,
    finished: &Message,
    payload: Value,
    payload_marked: bool,
    message_id: String,
    now_ms: i64,
) -> Message {
    let mut message = Message {
        queue_name: target_queue.to_owned(),
        actor_name: target_actor.to_owned(),
        args: vec![finished.to_dict()],
        kwargs: Vec::new(),
        options: Vec::new(),
        message_id,
        message_timestamp: now_ms,
        float_timestamp: None,
        // The finished message's dict, stand-ins and all, is its first argument.
        lone_surrogates: finished.lone_surrogates,
    };
    // The payload (a result or an exception's message from JS) with its own.
    message.push_arg_marked(payload, payload_marked);
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::value::opts;

    #[test]
    fn message_option_wins_when_truthy_else_the_actor_option() {
        let msg = opts(&[("on_success", "from_message".into())]);
        let actor = opts(&[("on_success", "from_actor".into())]);
        assert_eq!(
            target(&msg, &actor, "on_success"),
            Some(&Value::from("from_message"))
        );
        // Python's `or`: an empty or null message option falls through to the actor's.
        for empty in [Value::from(""), Value::Null] {
            let msg = opts(&[("on_success", empty)]);
            assert_eq!(
                target(&msg, &actor, "on_success"),
                Some(&Value::from("from_actor"))
            );
        }
        assert_eq!(target(&[], &[], "on_failure"), None);
        assert_eq!(
            target(&[], &opts(&[("on_failure", "".into())]), "on_failure"),
            None
        );
    }

    #[test]
    fn failure_payload_is_type_then_message() {
        assert_eq!(
            crate::codec::encode(&failure_payload("ValueError", "bad ✓")),
            br#"{"type":"ValueError","message":"bad \u2713"}"#.to_vec()
        );
    }

    #[test]
    fn exhausted_payload_reads_as_python_retries_does() {
        // No retries option yet: 0; the middleware's default limit.
        assert_eq!(
            crate::codec::encode(&exhausted_payload(&[], &[], Some(20))),
            br#"{"retries":0,"max_retries":20}"#.to_vec()
        );
        // The message's count; a present message max_retries beats the actor's, even null.
        let msg = opts(&[("retries", 3.into()), ("max_retries", Value::Null)]);
        let actor = opts(&[("max_retries", 3.into())]);
        assert_eq!(
            crate::codec::encode(&exhausted_payload(&msg, &actor, Some(20))),
            br#"{"retries":3,"max_retries":null}"#.to_vec()
        );
        let msg = opts(&[("retries", 2.into())]);
        assert_eq!(
            crate::codec::encode(&exhausted_payload(&msg, &actor, None)),
            br#"{"retries":2,"max_retries":3}"#.to_vec()
        );
        assert_eq!(
            crate::codec::encode(&exhausted_payload(&[], &[], None)),
            br#"{"retries":0,"max_retries":null}"#.to_vec()
        );
    }

    #[test]
    fn callback_message_carries_the_dict_exactly() {
        let finished = Message {
            queue_name: "q".into(),
            actor_name: "a".into(),
            args: vec![Value::Float(1.0)],
            kwargs: vec![("k".into(), Value::Int(2))],
            options: vec![("retries".into(), Value::Int(1))],
            message_id: "id".into(),
            message_timestamp: 5,
            float_timestamp: None,
            lone_surrogates: false,
        };
        let m = callback_message(
            "cbq",
            "cb",
            &finished,
            Value::Int(7),
            false,
            "new".into(),
            9,
        );
        assert_eq!(
            String::from_utf8(m.encode()).unwrap(),
            r#"{"queue_name":"cbq","actor_name":"cb","args":[{"queue_name":"q","actor_name":"a","args":[1.0],"kwargs":{"k":2},"options":{"retries":1},"message_id":"id","message_timestamp":5},7],"kwargs":{},"options":{},"message_id":"new","message_timestamp":9}"#
        );
    }
}
