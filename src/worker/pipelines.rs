//! Pipelines, after `dramatiq.composition` and `dramatiq.middleware.pipelines`.
//!
//! A pipeline is a chain of messages, each carrying the next as its `pipe_target` option
//! (nested, so the whole rest of the chain travels with the first message, in Dramatiq's
//! wire form: a Python worker can run a pipeline built here and the other way round).
//! When a step succeeds its result is appended to the next step's arguments unless that
//! step, or the current actor, says `pipe_ignore`.

use crate::codec::value::{option, Value};
use crate::model::message::{Message, MessageError};

/// The actor options the `Pipelines` middleware adds to a broker: Dramatiq declares
/// `pipe_target` too, though only a message's `pipe_target` is followed.
pub const ACTOR_OPTIONS: [&str; 2] = ["pipe_ignore", "pipe_target"];

/// Links `messages` into a pipeline: every message but the last gets
/// `options.pipe_target = next.asdict()`, the next one already linked. Ids are kept, so
/// result keys do not change.
pub fn link(messages: Vec<Message>) -> Vec<Message> {
    // From the end: each message links to its already linked successor.
    let mut linked: Vec<Message> = Vec::with_capacity(messages.len());
    for message in messages.into_iter().rev() {
        let next = match linked.last() {
            Some(next) => link_to(&message, next),
            None => message,
        };
        linked.push(next);
    }
    linked.reverse();
    linked
}

/// A copy of `message` whose pipeline target is `next` (linked onward already, if it
/// has a next step of its own).
pub fn link_to(message: &Message, next: &Message) -> Message {
    let mut linked = message.clone();
    linked.set_option("pipe_target", next.to_dict());
    // The step's dict, stand-ins and all, now rides in this message.
    linked.lone_surrogates |= next.lone_surrogates;
    linked
}

/// Whether this message passes its result on to a pipeline's next step (then the
/// "value discarded" warning does not apply).
pub fn pipes_onward(message: &Message) -> bool {
    option(&message.options, "pipe_target").is_some_and(|t| *t != Value::Null)
}

/// The delay `pipeline.run(delay)` enqueues the first step with, as Dramatiq 2.2.1's
/// `max(delay or 0, first.options.get("delay") or 0) or None`: the larger of the run's delay
/// and the first step's own `delay` option, and none at all when that is 0 (so `run({ delay:
/// 0 })` goes to the work queue, not the delay queue, and a first step built with a `delay`
/// option is delayed by it). An option Python cannot compare with 0 (a non-empty string,
/// list or object) fails its `max`, so the pipeline is not run: an error here too.
pub fn run_delay(first: &Message, delay: Option<f64>) -> Result<Option<f64>, MessageError> {
    // Python's `x or 0`: a falsy value (None, 0, False, "", [], {}) is 0.
    let given = delay.filter(|d| *d != 0.0).unwrap_or(0.0);
    let own = match option(&first.options, "delay") {
        Some(v) if v.truthy() => v.as_number().ok_or_else(|| {
            MessageError(format!(
                "pipeline of {}: its first step's delay option is not a number",
                first.message_id
            ))
        })?,
        _ => 0.0,
    };
    // `max(a, b)` is `a` unless `b > a` (so a NaN run delay stays, as in Python).
    let larger = if own > given { own } else { given };
    Ok((larger != 0.0).then_some(larger))
}

/// The next step of a pipeline after `message` returned `result`, and the delay to
/// enqueue it with (its `delay` option); `None` at the end of the chain. `fresh_id` is the
/// step's id when its dict has none (Python's `Message(**dict)` makes a uuid4).
/// `result_marked`: whether the result's strings hold stand-ins for lone surrogates (see
/// [`Message::push_arg_marked`]).
pub fn next_step(
    message: &Message,
    result: &Value,
    result_marked: bool,
    actor_pipe_ignore: bool,
    now_ms: i64,
    fresh_id: impl FnOnce() -> String,
) -> Result<Option<(Message, Option<f64>)>, MessageError> {
    let Some(target) = option(&message.options, "pipe_target").filter(|t| **t != Value::Null)
    else {
        return Ok(None);
    };
    let mut next = Message::from_python_dict(target, now_ms, fresh_id)
        .map_err(|e| MessageError(format!("pipe_target of {}: {}", message.message_id, e.0)))?;
    // The step's dict was read with the message it rides in, stand-ins and all.
    next.lone_surrogates = message.lone_surrogates;
    let ignore =
        option(&next.options, "pipe_ignore").is_some_and(Value::truthy) || actor_pipe_ignore;
    if !ignore {
        next.push_arg_marked(result.clone(), result_marked);
    }
    // Python enqueues with any number as the delay (`delay is not None`): a fraction kept
    // (its eta is then a float, `now + 1.5`), a negative one (an eta already past) as 0,
    // both on the delay queue. A delay that is no number fails Python's `now + delay`,
    // so the step is not sent: an error here too.
    let delay = match option(&next.options, "delay") {
        None | Some(Value::Null) => None,
        Some(given) => match given.as_number() {
            Some(ms) if ms.is_finite() => Some(ms.clamp(0.0, 9_007_199_254_740_991.0)),
            Some(_) => None,
            None => {
                return Err(MessageError(format!(
                    "pipe_target of {}: its delay is not a number",
                    message.message_id
                )))
            }
        },
    };
    Ok(Some((next, delay)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> String {
        "fresh".into()
    }

    fn step(id: &str, args: Vec<Value>) -> Message {
        Message {
            queue_name: "default".into(),
            actor_name: "add".into(),
            args,
            kwargs: vec![],
            options: vec![],
            message_id: id.into(),
            message_timestamp: 7,
            float_timestamp: None,
            lone_surrogates: false,
        }
    }

    #[test]
    fn a_step_read_with_lone_surrogates_keeps_them_in_the_step_before_it() {
        let body = br#"{"queue_name":"default","actor_name":"add","args":["caf\udce9"],"kwargs":{},"options":{},"message_id":"b","message_timestamp":7}"#;
        let read = Message::decode_python(body, 0, fresh).unwrap();
        let linked = link(vec![step("a", vec![1.into()]), read]);
        let first = String::from_utf8(linked[0].encode()).unwrap();
        assert!(first.contains(r#""args":["caf\udce9"]"#), "{first}");
        // And the step the worker builds from it carries them on.
        let (next, _) = next_step(&linked[0], &Value::Int(2), false, false, 9, fresh)
            .unwrap()
            .unwrap();
        assert!(String::from_utf8(next.encode())
            .unwrap()
            .contains(r#""args":["caf\udce9",2]"#));
    }

    #[test]
    fn link_nests_the_rest_of_the_chain() {
        let linked = link(vec![
            step("a", vec![1.into()]),
            step("b", vec![]),
            step("c", vec![]),
        ]);
        let first = option(&linked[0].options, "pipe_target").unwrap();
        assert_eq!(first.get("message_id"), Some(&Value::from("b")));
        let inner = first
            .get("options")
            .and_then(|o| o.get("pipe_target"))
            .unwrap();
        assert_eq!(inner.get("message_id"), Some(&Value::from("c")));
        assert!(option(&linked[2].options, "pipe_target").is_none());
        assert!(pipes_onward(&linked[0]) && !pipes_onward(&linked[2]));
    }

    #[test]
    fn next_step_appends_the_result_unless_ignored() {
        let linked = link(vec![
            step("a", vec![1.into(), 2.into()]),
            step("b", vec![3.into()]),
        ]);
        let (next, delay) = next_step(&linked[0], &Value::Int(3), false, false, 0, fresh)
            .unwrap()
            .unwrap();
        assert_eq!(next.message_id, "b");
        assert_eq!(next.args, vec![Value::Int(3), Value::Int(3)]);
        assert_eq!(delay, None);
        let (ignored, _) = next_step(&linked[0], &Value::Int(3), false, true, 0, fresh)
            .unwrap()
            .unwrap();
        assert_eq!(ignored.args, vec![Value::Int(3)]);

        let mut quiet = step("b", vec![]);
        quiet.set_option("pipe_ignore", true.into());
        quiet.set_option("delay", 25.into());
        let linked = link(vec![step("a", vec![]), quiet]);
        let (next, delay) = next_step(&linked[0], &Value::Int(9), false, false, 0, fresh)
            .unwrap()
            .unwrap();
        assert!(next.args.is_empty());
        assert_eq!(delay, Some(25.0));
        assert_eq!(
            next_step(&linked[1], &Value::Null, false, false, 0, fresh).unwrap(),
            None
        );
        // Any number delays, as Python's `delay is not None`: a fraction, a negative, `true`.
        for (given, want) in [
            (Value::Float(1.5), Some(1.5)),
            (Value::Int(-5), Some(0.0)),
            (Value::Bool(true), Some(1.0)),
            (Value::Int(0), Some(0.0)),
            (Value::Null, None),
        ] {
            let mut later = step("b", vec![]);
            later.set_option("delay", given.clone());
            let linked = link(vec![step("a", vec![]), later]);
            let (_, delay) = next_step(&linked[0], &Value::Null, false, false, 0, fresh)
                .unwrap()
                .unwrap();
            assert_eq!(delay, want, "{given:?}");
        }
    }

    #[test]
    fn run_delay_is_pythons_max_of_the_run_and_the_first_steps_option() {
        let plain = step("a", vec![]);
        assert_eq!(run_delay(&plain, None).unwrap(), None);
        assert_eq!(run_delay(&plain, Some(0.0)).unwrap(), None, "0 is no delay");
        assert_eq!(run_delay(&plain, Some(1.5)).unwrap(), Some(1.5));
        assert_eq!(
            run_delay(&plain, Some(-5.0)).unwrap(),
            None,
            "max(-5, 0) is 0"
        );
        for (own, run, want) in [
            (Value::Int(1000), None, Some(1000.0)),
            (Value::Int(1000), Some(0.0), Some(1000.0)),
            (Value::Int(1000), Some(2000.0), Some(2000.0)),
            (Value::Int(3000), Some(2000.0), Some(3000.0)),
            (Value::Float(2.5), None, Some(2.5)),
            (Value::Bool(true), None, Some(1.0)),
            (Value::Int(-5), None, None),
            (Value::Int(0), None, None),
            (Value::Null, Some(7.0), Some(7.0)),
            (Value::Str(String::new()), None, None),
        ] {
            let mut first = step("a", vec![]);
            first.set_option("delay", own.clone());
            assert_eq!(run_delay(&first, run).unwrap(), want, "{own:?} {run:?}");
        }
        let mut first = step("a", vec![]);
        first.set_option("delay", "soon".into());
        assert!(
            run_delay(&first, Some(5.0)).is_err(),
            "Python's max(5, 'soon') raises"
        );
    }

    #[test]
    fn a_delay_that_is_no_number_sends_nothing() {
        // Python's `current_millis() + "soon"` raises in the hook: no next step.
        let mut later = step("b", vec![]);
        later.set_option("delay", "soon".into());
        let linked = link(vec![step("a", vec![]), later]);
        assert!(next_step(&linked[0], &Value::Null, false, false, 0, fresh).is_err());
    }

    #[test]
    fn a_corrupt_target_is_an_error_not_a_panic() {
        let mut m = step("a", vec![]);
        m.set_option("pipe_target", Value::from("nonsense"));
        let err = next_step(&m, &Value::Null, false, false, 0, fresh).unwrap_err();
        assert!(err.0.contains("pipe_target of a"), "{err}");
    }
}
