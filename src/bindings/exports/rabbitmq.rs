//! `RabbitmqBroker`'s protocol decisions for `pkg/src/brokers/rabbitmq.js`: the queue
//! declarations, what a publish sends and how a delivery is settled, as plain objects the
//! JS driver hands to amqplib unchanged.
//!
//! Internal to the package (its entry files do not re-export these): the JS broker owns
//! the amqplib connection and channels; every protocol choice is made here, by
//! [`crate::brokers::rabbitmq`].

use wasm_bindgen::prelude::*;

use super::message::Message;
use crate::bindings::drivers::random::random_seed;
use crate::bindings::js::{range_error, type_error};
use crate::brokers::rabbitmq::{self as core, AmqpValue, Publish, QueueDeclare, Settle};
use crate::brokers::MAX_DELAY_MS;
use crate::brokers::{configured_prefetch, delay_queue_prefetch, queue_prefetch};
use crate::wait::backoff::Jitter;

fn set(obj: &js_sys::Object, name: &str, value: &JsValue) -> Result<(), JsValue> {
    js_sys::Reflect::set(obj, &JsValue::from_str(name), value).map(|_| ())
}

/// amqplib's typed field value, `{ "!": type, value }`, so the table carries pika's tags.
fn amqplib_value(value: &AmqpValue) -> Result<JsValue, JsValue> {
    let out = js_sys::Object::new();
    set(&out, "!", &JsValue::from_str(value.amqplib_type()))?;
    let inner = match value {
        AmqpValue::LongString(s) => JsValue::from_str(s),
        AmqpValue::SignedInt(n) => JsValue::from_f64(f64::from(*n)),
        // A TTL past 2^53 ms is not a configuration anyone sends; reject rather than round.
        AmqpValue::LongLong(n) => {
            if n.unsigned_abs() > (1u64 << 53) {
                return Err(range_error("an AMQP integer argument is beyond 2^53"));
            }
            JsValue::from_f64(*n as f64)
        }
        AmqpValue::Bool(b) => JsValue::from_bool(*b),
    };
    set(&out, "value", &inner)?;
    Ok(out.into())
}

fn declaration(d: &QueueDeclare) -> Result<JsValue, JsValue> {
    let arguments = js_sys::Object::new();
    for (name, value) in &d.arguments {
        set(&arguments, name, &amqplib_value(value)?)?;
    }
    let out = js_sys::Object::new();
    set(&out, "queue", &JsValue::from_str(&d.queue))?;
    set(&out, "durable", &JsValue::from_bool(d.durable))?;
    set(&out, "arguments", &arguments.into())?;
    Ok(out.into())
}

/// An optional max priority from JS: `undefined`/`null` → none; else an integer 1–255.
fn max_priority(value: &JsValue) -> Result<Option<u8>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let n = value
        .as_f64()
        .filter(|n| n.fract() == 0.0)
        .ok_or_else(|| type_error("maxPriority must be an integer between 1 and 255"))?;
    core::check_max_priority(n as i64)
        .map(Some)
        .map_err(|e| range_error(&e.to_string()))
}

/// Checks `RabbitmqBroker`'s `maxPriority` option as Dramatiq's constructor does
/// (`0 < maxPriority <= 255`); returns it, or `undefined` when unset.
#[wasm_bindgen(js_name = rabbitmqMaxPriority)]
pub fn rabbitmq_max_priority(value: JsValue) -> Result<Option<u8>, JsValue> {
    max_priority(&value)
}

/// The three `queue.declare`s a canonical `queue` needs (`q`, `q.DQ`, `q.XQ`, in Dramatiq's order),
/// each `{ queue, durable, arguments }` with the arguments in amqplib's typed form, so
/// RabbitMQ sees exactly what Python's broker declares. `deadMessageTtl` (ms) defaults
/// to Dramatiq's 7 days.
#[wasm_bindgen(js_name = rabbitmqDeclarations)]
pub fn rabbitmq_declarations(
    queue: &str,
    max_priority_value: JsValue,
    dead_message_ttl: Option<f64>,
) -> Result<js_sys::Array, JsValue> {
    let max = max_priority(&max_priority_value)?;
    let ttl = match dead_message_ttl {
        None => core::DEAD_MESSAGE_TTL_MS,
        // 0 included: Python reads `dramatiq_dead_message_ttl=0` as is (dead letters expire
        // at once), and a queue it declared so must be declared alike here.
        Some(t) if t >= 0.0 && t.fract() == 0.0 && t <= 9_007_199_254_740_991.0 => t as i64,
        Some(_) => {
            return Err(range_error(
                "deadMessageTtl must be a whole number of ms (0 or more)",
            ))
        }
    };
    let out = js_sys::Array::new();
    for d in core::declarations(queue, max, ttl).iter() {
        out.push(&declaration(d)?);
    }
    Ok(out)
}

#[wasm_bindgen(module = "/src/bindings/exports/rabbitmq.js")]
extern "C" {
    // Only fresh values go in (`body` a copy the JS side owns), and it reads no caller
    // object: it cannot throw.
    fn publication(
        message: Message,
        exchange: &str,
        routing_key: &str,
        body: Vec<u8>,
        delivery_mode: u8,
        priority: Option<u8>,
        mandatory: bool,
    ) -> JsValue;
}

fn publish_object(sent: crate::model::message::Message, p: Publish) -> JsValue {
    publication(
        Message::from_core(sent),
        &p.exchange,
        &p.routing_key,
        p.body,
        p.delivery_mode,
        p.priority,
        p.mandatory,
    )
}

/// What `enqueue(message, { delay })` publishes: `{ message, exchange, routingKey, body,
/// options }`, `message` being the message as sent (on `q.DQ` with an `eta` when `delay`
/// is given, even 0, as Dramatiq does) and `options` amqplib's publish options
/// (`deliveryMode`, `priority`, `mandatory`).
#[wasm_bindgen(js_name = rabbitmqPublish)]
pub fn rabbitmq_publish(
    message: &Message,
    delay: Option<f64>,
    now: f64,
    confirm_delivery: bool,
) -> Result<JsValue, JsValue> {
    let delay = match delay {
        None => None,
        // Kept whole or fractional: the eta is Python's `now + delay`, a float for 1.5, and
        // in the past (due at once) for a negative one.
        Some(d) if d.abs() <= MAX_DELAY_MS => Some(d),
        Some(_) => return Err(range_error("delay must be a finite number of ms")),
    };
    let (sent, p) = core::publish(message.core(), delay, now as i64, confirm_delivery)
        .map_err(|e| type_error(&e.to_string()))?;
    Ok(publish_object(sent, p))
}

/// What a due delayed message publishes (the same shape as `rabbitmqPublish`): the copy
/// on its work queue without `eta`. Ack the `q.DQ` delivery after it is published.
#[wasm_bindgen(js_name = rabbitmqUndelay)]
pub fn rabbitmq_undelay(message: &Message, confirm_delivery: bool) -> Result<JsValue, JsValue> {
    let (sent, p) =
        core::undelay(message.core(), confirm_delivery).map_err(|e| type_error(&e.to_string()))?;
    Ok(publish_object(sent, p))
}

/// What the gateway's requeue of a `q.XQ` dead letter publishes (the shape of
/// `rabbitmqPublish`): the message on its canonical queue, no `eta`, `retries` at 0.
/// Ack the dead letter once RabbitMQ confirmed the publish.
#[wasm_bindgen(js_name = rabbitmqRevive)]
pub fn rabbitmq_revive(message: &Message, confirm_delivery: bool) -> Result<JsValue, JsValue> {
    let (sent, p) =
        core::revive(message.core(), confirm_delivery).map_err(|e| type_error(&e.to_string()))?;
    Ok(publish_object(sent, p))
}

/// How to settle a delivery: `"ack"` when processed, `"reject"` (nack without requeue,
/// so it dead-letters to `q.XQ`) when it failed or could not be decoded.
#[wasm_bindgen(js_name = rabbitmqSettle)]
pub fn rabbitmq_settle(failed: bool) -> String {
    match core::settle(failed) {
        Settle::Ack => "ack".into(),
        Settle::Reject => "reject".into(),
    }
}

/// The prefetch counts for a worker of `concurrency`: `{ queue, delayQueue }`
/// (Dramatiq's `min(threads × 2, 65535)` and `min(threads × 1000, 65535)`, or the
/// configured counts when above 0: its `dramatiq_queue_prefetch` and
/// `dramatiq_delay_queue_prefetch`).
#[wasm_bindgen(js_name = rabbitmqPrefetch)]
pub fn rabbitmq_prefetch(
    concurrency: u32,
    queue_configured: u32,
    delay_configured: u32,
) -> Result<JsValue, JsValue> {
    let out = js_sys::Object::new();
    let queue = configured_prefetch(queue_configured, queue_prefetch(concurrency));
    let delay = configured_prefetch(delay_configured, delay_queue_prefetch(concurrency));
    set(&out, "queue", &JsValue::from_f64(f64::from(queue)))?;
    set(&out, "delayQueue", &JsValue::from_f64(f64::from(delay)))?;
    Ok(out.into())
}

/// `[bytes, concurrency]`: publishes of at least `bytes` go on a confirm channel of their
/// own, at most `concurrency` at once (see `brokers::rabbitmq::OWN_CHANNEL_BYTES`).
#[wasm_bindgen(js_name = rabbitmqOwnChannel)]
pub fn rabbitmq_own_channel() -> Vec<u32> {
    vec![
        core::OWN_CHANNEL_BYTES as u32,
        core::OWN_CHANNEL_CONCURRENCY as u32,
    ]
}

/// The `max_message_size` a RabbitMQ refusal's text names, or `undefined`.
#[wasm_bindgen(js_name = rabbitmqRefusedSize)]
pub fn rabbitmq_refused_size(text: &str) -> Option<f64> {
    core::refused_max_message_size(text).map(|n| n as f64)
}

/// The URLs of a `RabbitmqBroker.connect` string, in the order to try them (split on `;`,
/// as Dramatiq's `url`).
#[wasm_bindgen(js_name = rabbitmqUrls)]
pub fn rabbitmq_urls(url: &str) -> Vec<String> {
    core::connection_urls(url)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Dramatiq's `MAX_ENQUEUE_ATTEMPTS`: a publish is tried this many times across reconnects.
#[wasm_bindgen(js_name = rabbitmqMaxEnqueueAttempts)]
pub fn rabbitmq_max_enqueue_attempts() -> u32 {
    core::MAX_ENQUEUE_ATTEMPTS
}

/// Dramatiq's `MAX_DECLARE_ATTEMPTS`: declaring a queue this broker has not declared yet
/// (before its first publish, or `ensureQueue`) is tried this many times across reconnects.
#[wasm_bindgen(js_name = rabbitmqMaxDeclareAttempts)]
pub fn rabbitmq_max_declare_attempts() -> u32 {
    core::MAX_DECLARE_ATTEMPTS
}

/// The wait before the `attempts`-th consecutive reconnect of a worker's consumer:
/// `[attempts + 1, ms]` (100 ms doubling, jittered, up to Dramatiq's 3 s restart delay).
#[wasm_bindgen(js_name = rabbitmqReconnectBackoff)]
pub fn rabbitmq_reconnect_backoff(attempts: u32) -> Vec<f64> {
    let (next, ms) = core::reconnect_backoff_ms(attempts, &mut Jitter::new(random_seed()));
    vec![f64::from(next), ms]
}
