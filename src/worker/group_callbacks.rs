//! Dramatiq's group completion callbacks (`group.add_completion_callback` and the
//! `GroupCallbacks` middleware): what a group's children carry and what finishing one
//! means. The barrier itself is `crate::rate_limits::Barrier` under the group's completion
//! id (a fresh UUID, no namespace), created for as many parties as the group has children.

use crate::codec::Value;
use crate::model::message::{Message, MessageError};

/// The option naming a group's completion barrier.
pub const UUID_OPTION: &str = "group_completion_uuid";

/// The option holding the group's callbacks, as `Message.asdict()` dicts.
pub const CALLBACKS_OPTION: &str = "group_completion_callbacks";

/// Dramatiq's default barrier TTL for group callbacks: one day.
pub const DEFAULT_BARRIER_TTL_MS: u64 = 86_400_000;

/// A group's child as `group.run()` enqueues it: a copy with the completion id and the
/// callbacks added to its options (after the ones it has, as Python's `copy(options=…)`).
/// For a pipeline child, this is applied to its last step.
pub fn mark_child(message: &Message, uuid: &str, callbacks: &[Value]) -> Message {
    let mut marked = message.clone();
    marked.set_option(UUID_OPTION, Value::Str(uuid.to_owned()));
    marked.set_option(CALLBACKS_OPTION, Value::List(callbacks.to_vec()));
    marked
}

/// What finishing a group's member asks of the worker once the barrier clears: the
/// callbacks to enqueue, in order, and, when one of them is not a message Python's
/// `Message(**dict)` builds, why (Python's hook raises there: the callbacks before it were
/// enqueued, the rest never are). Python decrements the barrier before it reads them, so
/// a bad callback still counts the member: the worker waits on the barrier first.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The barrier's key: the group's completion id.
    pub uuid: String,
    /// The callbacks to enqueue when the barrier clears, up to the first invalid one.
    pub callbacks: Vec<Message>,
    /// Why the callback after `callbacks` could not be read, if one could not.
    pub invalid: Option<MessageError>,
}

/// What finishing `message` successfully asks of the worker: a [`Completion`] when it
/// belongs to a group with callbacks (both options present and, as Python tests them,
/// truthy), else `None`. A completion id that is no string is an error before anything
/// (Python's `Barrier` cannot be made of it). `fresh_id` gives a callback whose dict has no
/// id one (Python's `Message(**dict)` makes a uuid4).
pub fn completion(
    message: &Message,
    now_ms: i64,
    fresh_id: &mut dyn FnMut() -> String,
) -> Result<Option<Completion>, MessageError> {
    let uuid = match message.option(UUID_OPTION) {
        Some(Value::Str(s)) if !s.is_empty() => s.clone(),
        Some(v) if v.truthy() => {
            return Err(MessageError(format!("{UUID_OPTION} must be a string")));
        }
        _ => return Ok(None),
    };
    let items = match message.option(CALLBACKS_OPTION) {
        Some(Value::List(items)) if !items.is_empty() => items.as_slice(),
        Some(v) if v.truthy() => {
            return Ok(Some(Completion {
                uuid,
                callbacks: Vec::new(),
                invalid: Some(MessageError(format!("{CALLBACKS_OPTION} must be a list"))),
            }));
        }
        _ => return Ok(None),
    };
    let mut callbacks = Vec::with_capacity(items.len());
    let mut invalid = None;
    for dict in items {
        match Message::from_python_dict(dict, now_ms, &mut *fresh_id) {
            Ok(mut m) => {
                // Read with the message it rides in, stand-ins and all.
                m.lone_surrogates = message.lone_surrogates;
                callbacks.push(m);
            }
            Err(e) => {
                invalid = Some(MessageError(format!(
                    "a completion callback of group {uuid}: {}",
                    e.0
                )));
                break;
            }
        }
    }
    Ok(Some(Completion {
        uuid,
        callbacks,
        invalid,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> String {
        "fresh".into()
    }

    fn msg(id: &str, options: Vec<(String, Value)>) -> Message {
        let mut m = Message::from_dict(
            &Value::Dict(vec![
                ("queue_name".into(), Value::Str("default".into())),
                ("actor_name".into(), Value::Str("add".into())),
                ("message_id".into(), Value::Str(id.into())),
            ]),
            7,
        )
        .unwrap();
        m.options = options;
        m
    }

    #[test]
    fn children_carry_the_uuid_and_callbacks_after_their_own_options() {
        let cb = msg("cb", vec![]);
        let child = msg("c1", vec![("max_retries".into(), Value::Int(3))]);
        let marked = mark_child(&child, "u-1", &[cb.to_dict()]);
        let names: Vec<&str> = marked.options.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["max_retries", UUID_OPTION, CALLBACKS_OPTION]);
        assert_eq!(
            crate::codec::encode(&marked.to_dict()),
            format!(
                r#"{{"queue_name":"default","actor_name":"add","args":[],"kwargs":{{}},"options":{{"max_retries":3,"group_completion_uuid":"u-1","group_completion_callbacks":[{}]}},"message_id":"c1","message_timestamp":7}}"#,
                String::from_utf8(crate::codec::encode(&cb.to_dict())).unwrap()
            )
            .into_bytes()
        );
        let done = completion(&marked, 0, &mut fresh).unwrap().unwrap();
        assert_eq!(done.uuid, "u-1");
        assert_eq!(done.callbacks, [cb]);
        assert_eq!(done.invalid, None);
    }

    #[test]
    fn only_members_of_a_group_with_callbacks_complete_anything() {
        assert_eq!(completion(&msg("a", vec![]), 0, &mut fresh).unwrap(), None);
        let empty = mark_child(&msg("b", vec![]), "u", &[]);
        assert_eq!(
            completion(&empty, 0, &mut fresh).unwrap(),
            None,
            "no callbacks: nothing to do"
        );
        let no_uuid = mark_child(&msg("c", vec![]), "", &[msg("cb", vec![]).to_dict()]);
        assert_eq!(completion(&no_uuid, 0, &mut fresh).unwrap(), None);
        let bad = mark_child(&msg("d", vec![]), "u", &[Value::Int(1)]);
        let done = completion(&bad, 0, &mut fresh).unwrap().unwrap();
        assert!(done.callbacks.is_empty() && done.invalid.is_some());
    }

    #[test]
    fn callbacks_are_read_as_python_builds_them_up_to_the_first_it_cannot() {
        // Python: `Message(**dict)` per callback after the barrier cleared; an unknown key
        // raises there, so the ones before it are sent and the rest are not.
        let good = msg("cb1", vec![]).to_dict();
        let Value::Dict(mut extra) = msg("cb2", vec![]).to_dict() else {
            panic!()
        };
        extra.push(("zzz".into(), Value::Int(1)));
        let later = msg("cb3", vec![]).to_dict();
        let marked = mark_child(&msg("e", vec![]), "u", &[good, Value::Dict(extra), later]);
        let done = completion(&marked, 0, &mut fresh).unwrap().unwrap();
        let ids: Vec<&str> = done
            .callbacks
            .iter()
            .map(|m| m.message_id.as_str())
            .collect();
        assert_eq!(ids, ["cb1"]);
        assert!(done.invalid.unwrap().0.contains("'zzz'"));
        let mut not_list = msg("f", vec![]);
        not_list.set_option(UUID_OPTION, "u".into());
        not_list.set_option(CALLBACKS_OPTION, "cb".into());
        let done = completion(&not_list, 0, &mut fresh).unwrap().unwrap();
        assert!(done.callbacks.is_empty() && done.invalid.is_some());
        let mut bad_uuid = msg("g", vec![]);
        bad_uuid.set_option(UUID_OPTION, Value::Int(5));
        bad_uuid.set_option(
            CALLBACKS_OPTION,
            Value::List(vec![msg("cb", vec![]).to_dict()]),
        );
        assert!(completion(&bad_uuid, 0, &mut fresh).is_err());
    }
}
