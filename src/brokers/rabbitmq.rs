//! Dramatiq 2.2.1's `RabbitmqBroker` protocol: which queues exist with which arguments,
//! how a message is published, and how a delivery is settled.
//!
//! # Queues
//! Each canonical queue `q` comes with two more, all durable, declared in this order
//! ([`declarations`]):
//!
//! | queue | arguments |
//! |---|---|
//! | `q` | `x-dead-letter-exchange: ""`, `x-dead-letter-routing-key: "q.XQ"`, `x-max-priority` only when a max priority is set |
//! | `q.DQ` | the same as `q` (so a rejected delayed message also lands in `q.XQ`) |
//! | `q.XQ` | `x-message-ttl: 604800000` (7 days; static, since RabbitMQ expires head-first) |
//!
//! RabbitMQ answers `406 PRECONDITION_FAILED` when a queue is redeclared with different
//! arguments, so the arguments are given as typed [`AmqpValue`]s with the exact field
//! types Python's pika sends: strings as long strings (`S`), integers as signed 32-bit
//! (`I`) when they fit, else signed 64-bit (`l`). [`encode_table`] writes the same bytes
//! pika writes (tested against pika 1.4 output).
//!
//! What RabbitMQ 3.10.8 actually compares (checked by redeclaring queues Dramatiq had
//! declared): integer widths are one class (`b`, `s`, `I`, `l` all pass), but a double
//! (`d`) for an integer, a different value, or an argument present on one side only is a
//! 406. So the hazards are a JS number that is not an integer, a different `max_priority`
//! (set on one broker, unset on the other) and a different dead-message TTL (Python reads
//! `dramatiq_dead_message_ttl` from its environment): every broker sharing a queue must be
//! configured alike.
//!
//! # Mapping to amqplib (the JS driver)
//! amqplib guesses a type for a bare JS number by size (`byte`, `short`, `int`, `long`),
//! so `x-max-priority: 5` goes out as `b` where pika sends `I`. RabbitMQ accepts that, but
//! pass each value through amqplib's typed form, `{ "!": type, value }` with `type` from
//! [`AmqpValue::amqplib_type`], so the table is byte for byte pika's:
//!
//! | [`AmqpValue`] | AMQP tag | amqplib |
//! |---|---|---|
//! | `LongString(s)` | `S` | `s` (a JS string) or `{ "!": "string", value: s }` |
//! | `SignedInt(n)` | `I` | `{ "!": "int", value: n }` |
//! | `LongLong(n)` | `l` | `{ "!": "long", value: n }` |
//! | `Bool(b)` | `t` | `b` (a JS boolean) |
//!
//! # Publishing and consuming
//! [`publish`] gives the exchange (`""`, the default exchange), the routing key (the queue
//! name, `q.DQ` for a delayed message), the body (Dramatiq's encoding) and the properties
//! pika sends: `delivery_mode = 2` (persistent) and `priority` from the message's
//! `broker_priority` option, nothing else. A consumer sets `basic.qos(prefetch_count)` to
//! [`super::queue_prefetch`] (or [`super::delay_queue_prefetch`] on `q.DQ`), acks what it
//! processed and rejects what failed with `basic.nack(requeue = false)`, which
//! dead-letters it to `q.XQ` through the queue arguments ([`settle`]). Unacked deliveries
//! return to their queue when the channel closes, so `requeue` sends nothing. A due
//! delayed message is published again on `q` ([`undelay`]) and its delivery on `q.DQ` is
//! acked.

use super::BrokerError;
use crate::codec::value::Value;
use crate::model::message::Message;
use crate::wait::backoff::{compute_backoff_with, Jitter};
use crate::worker::queues::{dead_letter_queue_name, delay_queue_name};

/// How long dead letters stay on `q.XQ`, in ms (Dramatiq's `DEAD_MESSAGE_TTL`; Python
/// reads the `dramatiq_dead_message_ttl` environment variable, default 7 days).
pub const DEAD_MESSAGE_TTL_MS: i64 = 7 * 86_400_000;

/// Publishes whose body is at least this many bytes go on a confirm channel of their own,
/// one at a time per channel: RabbitMQ closes the channel of a publish over its
/// `max_message_size` (406 PRECONDITION_FAILED), and every unconfirmed publish sharing that
/// channel would then be of unknown outcome (retried, so possibly doubled). Alone, a
/// refused publish fails alone, with the server's reason. 64 KiB: far above what most
/// messages weigh (so the shared channel keeps its pipelining), far below any sensible
/// `max_message_size`; the extra channel's two round trips are small beside the body.
pub const OWN_CHANNEL_BYTES: usize = 64 << 10;

/// How many publishes on channels of their own may be in flight at once, per broker (each
/// holds a channel, and RabbitMQ's `channel_max` defaults to 2047 per connection).
pub const OWN_CHANNEL_CONCURRENCY: usize = 8;

/// The limit a 406 refusal's text names (`… message size 2097290 is larger than configured
/// max size 1048576`), so later publishes over it fail at once with the server's reason.
pub fn refused_max_message_size(text: &str) -> Option<u64> {
    let (_, rest) = text.split_once("larger than configured max size ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The URLs a connection string names, tried in order until one connects: Dramatiq's
/// `RabbitmqBroker(url="amqp://a;amqp://b")` splits on `;` and fails over from one to the
/// next, as with a list. Empty pieces (a trailing `;`) are left out: pika would read one as
/// `amqp://guest:guest@localhost`, a server the caller never named.
pub fn connection_urls(url: &str) -> Vec<&str> {
    url.split(';').filter(|u| !u.trim().is_empty()).collect()
}

/// Dramatiq's `MAX_ENQUEUE_ATTEMPTS`: a publish is tried this many times across
/// reconnects before the error is raised.
pub const MAX_ENQUEUE_ATTEMPTS: u32 = 6;

/// Dramatiq's `MAX_DECLARE_ATTEMPTS`: declaring a queue's three queues is tried this many
/// times across reconnects.
pub const MAX_DECLARE_ATTEMPTS: u32 = 2;

/// Dramatiq's `CONSUMER_RESTART_DELAY`: a worker whose connection was lost waits about
/// this long, in ms, before consuming again (Python waits exactly this; we back off up to
/// it, so a broker that is back at once is consumed again at once).
pub const CONSUMER_RESTART_DELAY_MS: u32 = 3000;

/// The wait before the `attempts`-th consecutive reconnect, and the new attempt count:
/// 100 ms doubling (jittered), capped near [`CONSUMER_RESTART_DELAY_MS`]. Reset `attempts`
/// once consuming works again.
pub fn reconnect_backoff_ms(attempts: u32, jitter: &mut Jitter) -> (u32, f64) {
    compute_backoff_with(
        attempts,
        100.0,
        f64::from(CONSUMER_RESTART_DELAY_MS),
        jitter,
    )
}

/// The persistent delivery mode.
pub const DELIVERY_MODE_PERSISTENT: u8 = 2;

/// An AMQP field-table value, typed as pika types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmqpValue {
    /// A long string (tag `S`).
    LongString(String),
    /// A signed 32-bit integer (tag `I`): pika's choice for an `int` that fits.
    SignedInt(i32),
    /// A signed 64-bit integer (tag `l`): pika's choice for a larger `int`.
    LongLong(i64),
    /// A boolean (tag `t`).
    Bool(bool),
}

impl AmqpValue {
    /// An integer typed as pika types a Python `int`: `I` when it fits in 32 bits, else `l`.
    pub fn int(n: i64) -> Self {
        match i32::try_from(n) {
            Ok(small) => AmqpValue::SignedInt(small),
            Err(_) => AmqpValue::LongLong(n),
        }
    }

    /// The AMQP 0-9-1 field type tag.
    pub fn tag(&self) -> u8 {
        match self {
            AmqpValue::LongString(_) => b'S',
            AmqpValue::SignedInt(_) => b'I',
            AmqpValue::LongLong(_) => b'l',
            AmqpValue::Bool(_) => b't',
        }
    }

    /// The type name amqplib's typed-value form (`{ "!": name, value }`) takes to send
    /// this tag.
    pub fn amqplib_type(&self) -> &'static str {
        match self {
            AmqpValue::LongString(_) => "string",
            AmqpValue::SignedInt(_) => "int",
            AmqpValue::LongLong(_) => "long",
            AmqpValue::Bool(_) => "boolean",
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), BrokerError> {
        out.push(self.tag());
        match self {
            AmqpValue::LongString(s) => {
                out.extend_from_slice(&long_len(s.len())?.to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            AmqpValue::SignedInt(n) => out.extend_from_slice(&n.to_be_bytes()),
            AmqpValue::LongLong(n) => out.extend_from_slice(&n.to_be_bytes()),
            AmqpValue::Bool(b) => out.push(u8::from(*b)),
        }
        Ok(())
    }
}

fn long_len(n: usize) -> Result<u32, BrokerError> {
    u32::try_from(n).map_err(|_| BrokerError::Invalid("a field table is over 4 GiB".into()))
}

/// A field table in its wire form (4-byte length, then `name-length name tag value` per
/// entry, in order), as pika's `encode_table` writes it. Drivers do not need it (their
/// client encodes); it pins down the types in tests.
pub fn encode_table(entries: &[(String, AmqpValue)]) -> Result<Vec<u8>, BrokerError> {
    let mut body = Vec::new();
    for (name, value) in entries {
        let len = u8::try_from(name.len())
            .map_err(|_| BrokerError::Invalid(format!("field name too long: {name}")))?;
        body.push(len);
        body.extend_from_slice(name.as_bytes());
        value.encode_into(&mut body)?;
    }
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&long_len(body.len())?.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// A `queue.declare` to send: durable, not exclusive, not auto-delete, with `arguments`
/// in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDeclare {
    /// The queue's name.
    pub queue: String,
    /// Always true: Dramatiq's queues survive a broker restart.
    pub durable: bool,
    /// The `x-…` arguments.
    pub arguments: Vec<(String, AmqpValue)>,
}

/// Checks a max priority as Dramatiq's constructor does: `0 < max_priority <= 255`.
pub fn check_max_priority(max_priority: i64) -> Result<u8, BrokerError> {
    match u8::try_from(max_priority) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(BrokerError::Invalid(
            "max_priority must be a value between 0 and 255".into(),
        )),
    }
}

fn work_queue_arguments(queue: &str, max_priority: Option<u8>) -> Vec<(String, AmqpValue)> {
    let mut args = vec![
        (
            "x-dead-letter-exchange".to_owned(),
            AmqpValue::LongString(String::new()),
        ),
        (
            "x-dead-letter-routing-key".to_owned(),
            AmqpValue::LongString(dead_letter_queue_name(queue)),
        ),
    ];
    if let Some(p) = max_priority {
        args.push(("x-max-priority".to_owned(), AmqpValue::int(i64::from(p))));
    }
    args
}

/// The three declarations a canonical `queue` needs (for `q`, `q.DQ`, `q.XQ`, in Dramatiq's
/// order). `queue` is taken as given, as Python's `_ensure_queue` takes the `q_name` its
/// caller made: canonicalised once, `a.DQ.DQ` is `a.DQ`, which declares `a.DQ` and `a.XQ`
/// and no `a` (a second canonicalisation here declared one). Dramatiq declares them before the first publish
/// to, or consume from, any of them, and again after a publish comes back unroutable.
/// `dead_message_ttl_ms` is [`DEAD_MESSAGE_TTL_MS`] unless the Python side overrides it.
pub fn declarations(
    queue: &str,
    max_priority: Option<u8>,
    dead_message_ttl_ms: i64,
) -> [QueueDeclare; 3] {
    [
        QueueDeclare {
            queue: queue.to_owned(),
            durable: true,
            arguments: work_queue_arguments(queue, max_priority),
        },
        QueueDeclare {
            queue: delay_queue_name(queue),
            durable: true,
            arguments: work_queue_arguments(queue, max_priority),
        },
        QueueDeclare {
            queue: dead_letter_queue_name(queue),
            durable: true,
            arguments: vec![(
                "x-message-ttl".to_owned(),
                AmqpValue::int(dead_message_ttl_ms),
            )],
        },
    ]
}

/// A `basic.publish` to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// Always `""`: the default exchange routes by queue name.
    pub exchange: String,
    /// The queue (`q`, or `q.DQ` for a delayed message).
    pub routing_key: String,
    /// The encoded message.
    pub body: Vec<u8>,
    /// Always [`DELIVERY_MODE_PERSISTENT`].
    pub delivery_mode: u8,
    /// From the message's `broker_priority` option; unset when it has none.
    pub priority: Option<u8>,
    /// Dramatiq sets `mandatory` exactly when publisher confirms are on, so an unroutable
    /// message (its queue was deleted) comes back and the queue is declared again.
    pub mandatory: bool,
}

/// The `broker_priority` option as an AMQP priority octet: absent or `null` means unset;
/// an integer must be 0–255 (pika could not encode anything else).
pub fn broker_priority(message: &Message) -> Result<Option<u8>, BrokerError> {
    match message.option("broker_priority") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(u8::from(*b))),
        Some(Value::Int(n)) => u8::try_from(*n).map(Some).map_err(|_| {
            BrokerError::Invalid(format!("broker_priority must be 0 to 255, got {n}"))
        }),
        Some(_) => Err(BrokerError::Invalid(
            "broker_priority must be an integer".into(),
        )),
    }
}

/// What `RabbitmqBroker.enqueue(message, delay=…)` publishes, and the message as sent
/// (with a delay: on `q.DQ` with `eta = now_ms + delay_ms`; unlike Redis, no transport
/// id is added). Declare [`declarations`] of the message's queue first.
pub fn publish(
    message: &Message,
    delay_ms: Option<f64>,
    now_ms: i64,
    confirm_delivery: bool,
) -> Result<(Message, Publish), BrokerError> {
    let sent = match delay_ms {
        Some(delay) => crate::worker::queues::delayed(message, delay, now_ms),
        None => message.clone(),
    };
    let publish = Publish {
        exchange: String::new(),
        routing_key: sent.queue_name.clone(),
        body: sent.encode(),
        delivery_mode: DELIVERY_MODE_PERSISTENT,
        priority: broker_priority(&sent)?,
        mandatory: confirm_delivery,
    };
    Ok((sent, publish))
}

/// How a delivery is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// `basic.ack(delivery_tag)`.
    Ack,
    /// `basic.nack(delivery_tag, multiple = false, requeue = false)`: RabbitMQ
    /// dead-letters it to `q.XQ`.
    Reject,
}

/// Dramatiq's consumer: a processed message is acked, a failed one rejected (it goes to
/// the dead-letter queue; retries, if any, were already enqueued as new messages).
pub fn settle(failed: bool) -> Settle {
    if failed {
        Settle::Reject
    } else {
        Settle::Ack
    }
}

/// A body that does not decode as a message is rejected at once (it cannot be processed,
/// and rejecting keeps it in `q.XQ` for inspection).
pub const UNDECODABLE: Settle = Settle::Reject;

/// A due delayed message: the publish that puts the [`super::undelay`] copy on its
/// canonical queue; then ack the `q.DQ` delivery ([`Settle::Ack`]).
pub fn undelay(
    message: &Message,
    confirm_delivery: bool,
) -> Result<(Message, Publish), BrokerError> {
    publish(&super::undelay(message), None, 0, confirm_delivery)
}

/// A dead letter of `q.XQ` sent back to work, as the gateway's operator requeue does:
/// the publish of the message on its canonical queue (no `eta`, as [`undelay`] leaves it)
/// with `retries` back at 0 so the Retries middleware gives it its whole budget again
/// (the same revival as the Redis broker's [`super::redis::revive`], less the transport
/// id RabbitMQ does not use). Publish it (confirmed), then ack the dead letter: a crash in
/// between duplicates the message, never loses it.
pub fn revive(
    message: &Message,
    confirm_delivery: bool,
) -> Result<(Message, Publish), BrokerError> {
    let mut copy = super::undelay(message);
    if copy.option("retries").is_some() {
        copy.set_option("retries", Value::Int(0));
    }
    publish(&copy, None, 0, confirm_delivery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_urls_split_on_semicolons_as_dramatiq_does() {
        assert_eq!(connection_urls("amqp://a"), vec!["amqp://a"]);
        assert_eq!(
            connection_urls("amqp://127.0.0.1:55672;amqp://u:p@127.0.0.1"),
            vec!["amqp://127.0.0.1:55672", "amqp://u:p@127.0.0.1"]
        );
        assert_eq!(
            connection_urls("amqp://a;;amqp://b; "),
            vec!["amqp://a", "amqp://b"]
        );
        assert!(connection_urls("").is_empty());
    }

    fn message(options: Vec<(String, Value)>) -> Message {
        Message {
            queue_name: "default".into(),
            actor_name: "add".into(),
            args: vec![1.into()],
            kwargs: vec![],
            options,
            message_id: "m".into(),
            message_timestamp: 1,
            float_timestamp: None,
            lone_surrogates: false,
        }
    }

    fn s(x: &str) -> AmqpValue {
        AmqpValue::LongString(x.into())
    }

    #[test]
    fn declarations_match_dramatiq() {
        let [q, dq, xq] = declarations("default", None, DEAD_MESSAGE_TTL_MS);
        let dl = vec![
            ("x-dead-letter-exchange".to_owned(), s("")),
            ("x-dead-letter-routing-key".to_owned(), s("default.XQ")),
        ];
        assert_eq!(
            (q.queue.as_str(), q.durable, &q.arguments),
            ("default", true, &dl)
        );
        assert_eq!(
            (dq.queue.as_str(), dq.durable, &dq.arguments),
            ("default.DQ", true, &dl)
        );
        assert_eq!(xq.queue, "default.XQ");
        assert!(xq.durable);
        assert_eq!(
            xq.arguments,
            vec![(
                "x-message-ttl".to_owned(),
                AmqpValue::SignedInt(604_800_000)
            )]
        );
        // A canonical name that still ends in .DQ (a message on `a.DQ.DQ`, canonicalised
        // once) is declared as it is, as Python's `_declare_queue(canonical)`: `a.DQ` twice
        // (its delay queue is itself) and `a.XQ`, never `a` (found by diff-fuzz).
        let [q, dq, xq] = declarations("a.DQ", None, DEAD_MESSAGE_TTL_MS);
        assert_eq!(
            (q.queue.as_str(), dq.queue.as_str(), xq.queue.as_str()),
            ("a.DQ", "a.DQ", "a.XQ")
        );
        assert_eq!(q.arguments[1].1, s("a.XQ"));
        // A TTL beyond 32 bits goes out as pika sends it: a signed 64-bit integer.
        let [_, _, xq] = declarations("default", None, 1 << 40);
        assert_eq!(xq.arguments[0].1, AmqpValue::LongLong(1 << 40));
        let [q, dq, _] = declarations("default", Some(5), DEAD_MESSAGE_TTL_MS);
        for d in [q, dq] {
            assert_eq!(
                d.arguments.last(),
                Some(&("x-max-priority".to_owned(), AmqpValue::SignedInt(5)))
            );
        }
    }

    #[test]
    fn tables_are_byte_for_byte_what_pika_sends() {
        // pika 1.4.4: encode_table({"x-dead-letter-exchange": "",
        //   "x-dead-letter-routing-key": "default.XQ", "x-max-priority": 5}).
        let [q, _, xq] = declarations("default", Some(5), DEAD_MESSAGE_TTL_MS);
        assert_eq!(
            encode_table(&q.arguments).unwrap(),
            b"\x00\x00\x00Y\x16x-dead-letter-exchangeS\x00\x00\x00\x00\x19x-dead-letter-routing-keyS\x00\x00\x00\ndefault.XQ\x0ex-max-priorityI\x00\x00\x00\x05".to_vec()
        );
        // pika: encode_table({"x-message-ttl": 86400000 * 7}).
        assert_eq!(
            encode_table(&xq.arguments).unwrap(),
            b"\x00\x00\x00\x13\rx-message-ttlI$\x0c\x84\x00".to_vec()
        );
    }

    #[test]
    fn integers_take_pikas_width() {
        assert_eq!(AmqpValue::int(5), AmqpValue::SignedInt(5));
        assert_eq!(
            AmqpValue::int(-2_147_483_648),
            AmqpValue::SignedInt(i32::MIN)
        );
        assert_eq!(
            AmqpValue::int(2_147_483_648),
            AmqpValue::LongLong(2_147_483_648)
        );
        assert_eq!(AmqpValue::int(2_147_483_648).tag(), b'l');
        let table = encode_table(&[("n".into(), AmqpValue::int(1 << 40))]).unwrap();
        assert_eq!(
            table,
            b"\x00\x00\x00\x0b\x01nl\x00\x00\x01\x00\x00\x00\x00\x00".to_vec()
        );
        let flag = encode_table(&[("f".into(), AmqpValue::Bool(true))]).unwrap();
        assert_eq!(flag, b"\x00\x00\x00\x04\x01ft\x01".to_vec());
        assert_eq!(s("").amqplib_type(), "string");
        assert_eq!(AmqpValue::SignedInt(1).amqplib_type(), "int");
        assert_eq!(AmqpValue::LongLong(1).amqplib_type(), "long");
        assert_eq!(AmqpValue::Bool(true).amqplib_type(), "boolean");
        let long_name = "x".repeat(256);
        assert!(encode_table(&[(long_name, AmqpValue::Bool(true))]).is_err());
    }

    #[test]
    fn max_priority_is_checked() {
        assert_eq!(check_max_priority(1), Ok(1));
        assert_eq!(check_max_priority(255), Ok(255));
        for bad in [0, -1, 256] {
            assert!(check_max_priority(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn publish_sends_persistent_messages_on_the_default_exchange() {
        let m = message(vec![]);
        let (sent, p) = publish(&m, None, 0, false).unwrap();
        assert_eq!(sent, m);
        assert_eq!(p.exchange, "");
        assert_eq!(p.routing_key, "default");
        assert_eq!(p.body, m.encode());
        assert_eq!(p.delivery_mode, 2);
        assert_eq!(p.priority, None);
        assert!(!p.mandatory);
        assert!(publish(&m, None, 0, true).unwrap().1.mandatory);
    }

    #[test]
    fn delayed_messages_go_to_the_delay_queue_with_an_eta() {
        let m = message(vec![("broker_priority".into(), 3.into())]);
        let (sent, p) = publish(&m, Some(5000.0), 1_000, false).unwrap();
        assert_eq!(sent.queue_name, "default.DQ");
        assert_eq!(p.routing_key, "default.DQ");
        assert_eq!(sent.option("eta"), Some(&Value::Int(6000)));
        assert_eq!(sent.option("redis_message_id"), None);
        assert_eq!(p.priority, Some(3));
        assert_eq!(
            String::from_utf8(p.body).unwrap(),
            r#"{"queue_name":"default.DQ","actor_name":"add","args":[1],"kwargs":{},"options":{"broker_priority":3,"eta":6000},"message_id":"m","message_timestamp":1}"#
        );
        let (back, again) = undelay(&sent, false).unwrap();
        assert_eq!(again.routing_key, "default");
        assert_eq!(back.option("eta"), None);
        assert_eq!(again.priority, Some(3));
    }

    #[test]
    fn broker_priority_must_fit_an_octet() {
        let with = |v: Value| message(vec![("broker_priority".into(), v)]);
        assert_eq!(broker_priority(&with(Value::Null)), Ok(None));
        assert_eq!(broker_priority(&with(255.into())), Ok(Some(255)));
        assert_eq!(broker_priority(&with(true.into())), Ok(Some(1)));
        for bad in [
            Value::Int(256),
            Value::Int(-1),
            "5".into(),
            Value::Float(1.0),
        ] {
            assert!(broker_priority(&with(bad.clone())).is_err(), "{bad:?}");
            assert!(publish(&with(bad), None, 0, false).is_err());
        }
    }

    #[test]
    fn reconnects_back_off_up_to_dramatiqs_restart_delay() {
        let mut jitter = Jitter::new(3);
        let (attempts, first) = reconnect_backoff_ms(0, &mut jitter);
        assert_eq!(attempts, 1);
        assert!((100.0..200.0).contains(&first), "{first}");
        let (_, late) = reconnect_backoff_ms(30, &mut jitter);
        assert!((1500.0..3000.0).contains(&late), "{late}");
    }

    #[test]
    fn settling_follows_dramatiq() {
        assert_eq!(settle(false), Settle::Ack);
        assert_eq!(settle(true), Settle::Reject);
        assert_eq!(UNDECODABLE, Settle::Reject);
    }

    #[test]
    fn the_refused_size_is_read_from_the_servers_text() {
        let text = "Channel closed by server: 406 (PRECONDITION-FAILED) with message \"PRECONDITION_FAILED - message size 2097290 is larger than configured max size 1048576\"";
        assert_eq!(refused_max_message_size(text), Some(1_048_576));
        assert_eq!(
            refused_max_message_size("PRECONDITION_FAILED - inequivalent arg"),
            None
        );
    }

    #[test]
    fn a_revived_dead_letter_is_a_plain_publish_with_its_whole_retry_budget() {
        let mut dead = message(vec![
            ("retries".into(), Value::Int(3)),
            ("eta".into(), Value::Int(5)),
            ("traceback".into(), Value::Str("boom".into())),
        ]);
        dead.queue_name = "default.DQ".into();
        let (sent, p) = revive(&dead, true).unwrap();
        assert_eq!(sent.queue_name, "default");
        assert_eq!(p.routing_key, "default");
        assert_eq!(sent.option("retries"), Some(&Value::Int(0)));
        assert_eq!(sent.option("eta"), None);
        assert_eq!(sent.option("traceback"), Some(&Value::Str("boom".into())));
        assert_eq!(sent.message_id, "m");
        assert!(p.mandatory);
        assert_eq!(p.body, sent.encode());
        // A message that never had `retries` gets none.
        let (sent, _) = revive(&message(vec![]), false).unwrap();
        assert_eq!(sent.option("retries"), None);
    }
}
