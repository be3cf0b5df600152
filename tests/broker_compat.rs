//! What a real Dramatiq 2.2.1 `RedisBroker` wrote (`tests/fixtures/broker-vectors.json`),
//! replayed through the broker core: the same message bytes, the same enqueue (id, delay,
//! queue, body) and the same Redis keys.
#![cfg(not(target_arch = "wasm32"))]

use dramatiq_results::brokers::redis::{prepare, redis_message_id, Dispatcher, Keys};
use dramatiq_results::codec::value::Value;
use dramatiq_results::codec::{decode, encode};
use dramatiq_results::model::message::Message;

/// The fixture, read with our own decoder: it holds NaN and Infinity, which only Python's
/// JSON dialect has.
fn fixture() -> Value {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/broker-vectors.json"
    ))
    .expect("fixture");
    decode(&bytes).expect("fixture decodes")
}

fn cases(all: &Value) -> &[Value] {
    match all.get("cases") {
        Some(Value::List(cases)) => cases,
        _ => panic!("no cases"),
    }
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{field} missing"))
}

fn list<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    match v.get(field) {
        Some(Value::List(items)) => items,
        _ => panic!("{field} is not a list"),
    }
}

fn message(dict: &Value) -> Message {
    Message::from_dict(dict, 0).expect("a message dict")
}

/// Checks one (message dict, encoded) pair both ways.
fn check_pair(name: &str, dict: &Value, encoded: &str) {
    let m = message(dict);
    assert_eq!(
        String::from_utf8(m.encode()).unwrap(),
        encoded,
        "{name}: encode"
    );
    let back = message(&decode(encoded.as_bytes()).expect("encoded decodes"));
    assert_eq!(back.encode(), encoded.as_bytes(), "{name}: decode → encode");
}

#[test]
fn every_message_encodes_byte_for_byte() {
    let all = fixture();
    let mut pairs = 0;
    for case in cases(&all) {
        let name = text(case, "case");
        match (case.get("message"), case.get("encoded")) {
            (Some(dict), Some(Value::Str(encoded))) => {
                check_pair(name, dict, encoded);
                pairs += 1;
            }
            (None, Some(Value::List(encoded))) => {
                let messages = list(case, "messages");
                assert_eq!(messages.len(), encoded.len(), "{name}");
                for (dict, enc) in messages.iter().zip(encoded) {
                    check_pair(name, dict, enc.as_str().expect("encoded text"));
                    pairs += 1;
                }
            }
            _ => {
                // No encoding recorded: the message must still round-trip.
                let dicts: Vec<&Value> = match case.get("messages") {
                    Some(Value::List(items)) => items.iter().collect(),
                    _ => case.get("message").into_iter().collect(),
                };
                for dict in dicts {
                    let m = message(dict);
                    let again = message(&decode(&m.encode()).unwrap());
                    assert_eq!(again, m, "{name}: round trip");
                    assert_eq!(encode(&m.to_dict()), m.encode());
                }
            }
        }
    }
    assert_eq!(pairs, 12, "every recorded encoding was checked");
}

fn uuid_bytes(id: &str) -> [u8; 16] {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    let mut out = [0u8; 16];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// The message as the caller handed it to `RedisBroker.enqueue`: the vector's message
/// without what the broker added.
fn as_sent(m: &Message) -> Message {
    let mut sent = m.clone();
    sent.options
        .retain(|(k, _)| k != "redis_message_id" && k != "eta");
    sent.queue_name = dramatiq_results::model::key::canonical_queue_name(&m.queue_name).to_owned();
    sent
}

/// Our enqueue of each vector's message sends exactly what Python's did: the same id in
/// the same option slot, the same eta, queue and body; and the vector's Redis keys are
/// the ones our key scheme names.
#[test]
fn enqueue_reproduces_dramatiqs_redis_writes() {
    let all = fixture();
    let ns = text(&all, "namespace");
    let keys = Keys::new(ns);
    let mut checked = 0;
    for case in cases(&all) {
        let name = text(case, "case");
        let (Some(dict), Some(Value::Dict(redis))) = (case.get("message"), case.get("redis"))
        else {
            continue;
        };
        let stored = message(dict);
        let id = redis_message_id(&stored).unwrap().to_owned();
        let dead = name == "dead_letter";
        let queue = stored.queue_name.clone();
        let body = String::from_utf8(stored.encode()).unwrap();

        // The keys Python wrote, exactly.
        let mut want: Vec<String> = if dead {
            vec![keys.dead_letters(&queue), keys.dead_letter_messages(&queue)]
        } else {
            vec![keys.heartbeats(), keys.queue(&queue), keys.messages(&queue)]
        };
        want.sort();
        let mut got: Vec<String> = redis.iter().map(|(k, _)| k.clone()).collect();
        got.sort();
        assert_eq!(got, want, "{name}: key names");

        let entry = |key: &str| {
            redis
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap()
        };
        if dead {
            // A nack: the id scored in the XQ zset, the body moved to the XQ hash.
            let zset = list(entry(&keys.dead_letters(&queue)), "value");
            assert!(
                matches!(zset, [Value::List(pair)] if pair.first() == Some(&Value::Str(id.clone()))),
                "{name}: dead-letter zset"
            );
            let hash = entry(&keys.dead_letter_messages(&queue))
                .get("value")
                .unwrap();
            assert_eq!(hash.get(&id).and_then(Value::as_str), Some(body.as_str()));
            checked += 1;
            continue;
        }
        assert_eq!(text(entry(&keys.queue(&queue)), "type"), "list");
        assert_eq!(
            list(entry(&keys.queue(&queue)), "value"),
            [Value::Str(id.clone())],
            "{name}: list"
        );
        let hash = entry(&keys.messages(&queue)).get("value").unwrap();
        assert_eq!(hash.get(&id).and_then(Value::as_str), Some(body.as_str()));

        // Rebuild the enqueue from the message as sent.
        let eta = match stored.option("eta") {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        };
        let now = eta.map(|e| e - 5000).unwrap_or(stored.message_timestamp);
        let delay = eta.map(|_| 5000.0);
        let prepared = prepare(&as_sent(&stored), delay, now, uuid_bytes(&id));
        // (Compared as bytes: NaN is not equal to itself.)
        assert_eq!(
            prepared.encode(),
            stored.encode(),
            "{name}: prepared message"
        );
        let call = Dispatcher::new(ns, "worker")
            .enqueue_message(&prepared, now, false)
            .unwrap();
        let args = call.args();
        assert_eq!(args[2], queue.as_bytes(), "{name}: queue");
        assert_eq!(args[7], id.as_bytes(), "{name}: id");
        assert_eq!(args[8], body.as_bytes(), "{name}: body");
        checked += 1;
    }
    assert_eq!(checked, 10);
}
