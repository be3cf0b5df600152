//! The protocol decisions of Dramatiq 2.2.1's `RedisBroker` and `RabbitmqBroker`, in pure
//! Rust, so a JavaScript producer or worker shares queues with Python ones.
//!
//! Nothing here does I/O. A driver (JS, written against a Redis or AMQP client) asks these
//! functions *what* to send and *what a reply means*, sends it, and hands the reply back:
//!
//! - [`redis`]: the key layout, our own Lua script ([`redis::SCRIPT`]) with the same data
//!   effects as Dramatiq's `dispatch.lua`, one argv builder per command
//!   ([`redis::Dispatcher`]), reply parsers, and the delayed-message round trip.
//! - [`rabbitmq`]: queue declarations with their exact argument types, publish properties,
//!   and the ack / reject decisions.
//! - This module: what both brokers share — prefetch sizes, the consumer's idle back-off,
//!   and what a consumer does with a message that carries an `eta` ([`Handling`]).
//!
//! A worker loop, for either broker, in order:
//! 1. fetch up to [`fetch_count`] messages (Redis `fetch` / AMQP `basic.qos` + consume);
//!    after an empty fetch, sleep [`idle_backoff_ms`] and try again;
//! 2. decode each body ([`crate::model::message::Message::from_dict`] over
//!    [`crate::codec::decode`]); for each message, [`handle`] says whether it runs now or
//!    waits for its `eta`;
//! 3. a waiting message, once [`is_due`], is re-sent on its canonical queue without `eta`
//!    ([`undelay`]) and then acked on the delay queue — enqueue first, so a crash in between
//!    duplicates rather than loses it;
//! 4. a processed message is acked, a failed one nacked (dead-lettered).

pub mod rabbitmq;
pub mod redis;

use crate::codec::value::Value;
use crate::model::message::Message;
use crate::wait::backoff::{compute_backoff_with, Jitter};

/// Why a protocol step could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The server answered something this protocol never produces.
    #[error("unexpected reply from the broker: {0}")]
    MalformedReply(String),
    /// The server answered with an error.
    #[error("the broker replied with an error: {0}")]
    Server(String),
    /// A message or an argument cannot be sent as asked.
    #[error("invalid broker input: {0}")]
    Invalid(String),
}

/// The largest delay, either way, a `send`/`enqueue` takes (ms): 2^53 − 1, past which a
/// JS number is no longer a whole millisecond. A negative delay is an eta in the past, due
/// at once, as Python's `current_millis() + delay` makes it.
pub const MAX_DELAY_MS: f64 = 9_007_199_254_740_991.0;

/// Dramatiq's default number of worker threads per process (`Worker(worker_threads=8)`);
/// a JS worker's `concurrency` plays its part.
pub const DEFAULT_WORKER_THREADS: u32 = 8;

/// Dramatiq's `WORKER_TIMEOUT`: the longest a consumer sleeps between empty fetches, in
/// milliseconds. Redis consumers heartbeat on every fetch, so this must stay well under
/// the heartbeat timeout.
pub const WORKER_TIMEOUT_MS: u32 = 1000;

/// Dramatiq's idle back-off factor: the first sleep after an empty fetch is 5–10 ms.
pub const IDLE_BACKOFF_FACTOR_MS: f64 = 5.0;

/// How many bytes of messages a consumer may hold per queue by default, besides the
/// prefetch count: Dramatiq's delay-queue prefetch (8 000 messages for 8 threads) of
/// megabyte messages would be gigabytes, and a JS worker holds them in wasm memory (at most
/// 4 GiB, never given back). A consumer at its byte budget fetches nothing but heartbeats.
pub const DEFAULT_PREFETCH_BYTES: u64 = 64 << 20;

/// How many messages a consumer of a work queue may hold (Dramatiq: `min(threads × 2, 65535)`).
pub fn queue_prefetch(worker_threads: u32) -> u32 {
    worker_threads.saturating_mul(2).min(65_535)
}

/// How many messages a consumer of a delay queue may hold: many more, since delayed
/// messages may wait far into the future (Dramatiq: `min(threads × 1000, 65535)`).
pub fn delay_queue_prefetch(worker_threads: u32) -> u32 {
    worker_threads.saturating_mul(1000).min(65_535)
}

/// The prefetch a worker uses: `configured` when it is set (above 0), else `default`.
/// Dramatiq's `QUEUE_PREFETCH or min(threads × 2, 65535)`, its `dramatiq_queue_prefetch` and
/// `dramatiq_delay_queue_prefetch` environment variables (the worker command reads them;
/// `1` is Dramatiq's advice for long tasks, so one worker does not hoard a queue).
pub fn configured_prefetch(configured: u32, default: u32) -> u32 {
    if configured > 0 {
        configured
    } else {
        default
    }
}

/// How many more messages to fetch now: the room left under `prefetch` (Dramatiq fetches
/// only while fewer than `prefetch` are outstanding, and then only the difference).
pub fn fetch_count(prefetch: u32, outstanding: u32) -> u32 {
    prefetch.saturating_sub(outstanding)
}

/// The sleep after the `misses`-th consecutive empty fetch, and the new miss count:
/// Dramatiq's `compute_backoff(misses, max_backoff=timeout)` (factor 5 ms, jittered,
/// capped near `timeout_ms`). Reset `misses` to 0 when a fetch returns messages.
pub fn idle_backoff_ms(misses: u32, timeout_ms: u32, jitter: &mut Jitter) -> (u32, f64) {
    compute_backoff_with(
        misses,
        IDLE_BACKOFF_FACTOR_MS,
        f64::from(timeout_ms),
        jitter,
    )
}

/// What a consumer does with a message it received.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Handling {
    /// Run it now (hand it to the work queue, ordered by the actor's priority).
    Work,
    /// Hold it until `eta` (milliseconds since the epoch), earliest first; then [`undelay`].
    Delay {
        /// When it is due.
        eta_ms: f64,
    },
}

/// Dramatiq's `ConsumerThread.handle_message`: a message with an `eta` option waits for
/// it, whatever queue it came from. An `eta` of `null` is dropped (the message runs now);
/// an `eta` that is not a number is replaced by `now_ms` (it is due at once) — both are
/// changes to `message`, as in Python, and travel on with it.
pub fn handle(message: &mut Message, now_ms: i64) -> Handling {
    let eta = match message.option("eta") {
        None => return Handling::Work,
        Some(Value::Null) => {
            message.options.retain(|(k, _)| k != "eta");
            return Handling::Work;
        }
        Some(Value::Int(n)) => *n as f64,
        Some(Value::Float(x)) => *x,
        // Python's `isinstance(True, int)` holds: a boolean eta stays and means 0 or 1.
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::BigInt(text)) => {
            crate::codec::decimal::parse_f64(text).unwrap_or(f64::INFINITY)
        }
        Some(_) => {
            message.set_option("eta", Value::Int(now_ms));
            now_ms as f64
        }
    };
    Handling::Delay { eta_ms: eta }
}

/// The warning Dramatiq's worker logs for an `eta` that is not a number (before replacing
/// it by now, as [`handle`] does), or `None` when there is nothing to warn of (no `eta`,
/// `null`, or a number: Python's `isinstance(eta, (int, float))`, booleans included).
/// Read it before [`handle`], which replaces the value.
pub fn invalid_eta_warning(message: &Message) -> Option<String> {
    match message.option("eta")? {
        Value::Null | Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::BigInt(_) => None,
        other => Some(format!(
            "Invalid eta value for message {}: {}. Setting eta to current_millis().",
            crate::codec::py_repr::py_repr(&Value::Str(message.message_id.clone())),
            crate::codec::py_repr::py_repr(other),
        )),
    }
}

/// Whether a held message is due: Dramatiq keeps holding only while `eta > now`. (A NaN
/// eta compares false, so it is due at once, as in Python.)
pub fn is_due(eta_ms: f64, now_ms: i64) -> bool {
    // Written as a negation on purpose: NaN must count as due.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    let due = !(eta_ms > now_ms as f64);
    due
}

/// The message a worker sends once a held message is due: the same message on its
/// canonical queue, without `eta` (Dramatiq's `handle_delayed_messages`). The broker then
/// gives it a fresh transport id (Redis) as for any enqueue.
pub fn undelay(message: &Message) -> Message {
    crate::worker::queues::undelayed(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(options: Vec<(String, Value)>) -> Message {
        Message {
            queue_name: "default.DQ".into(),
            actor_name: "add".into(),
            args: vec![],
            kwargs: vec![],
            options,
            message_id: "m".into(),
            message_timestamp: 1,
            float_timestamp: None,
            lone_surrogates: false,
        }
    }

    #[test]
    fn prefetch_follows_dramatiq() {
        assert_eq!(queue_prefetch(8), 16);
        assert_eq!(delay_queue_prefetch(8), 8000);
        assert_eq!(queue_prefetch(40_000), 65_535);
        assert_eq!(delay_queue_prefetch(100), 65_535);
        assert_eq!(configured_prefetch(0, queue_prefetch(8)), 16);
        assert_eq!(configured_prefetch(1, queue_prefetch(8)), 1);
        assert_eq!(configured_prefetch(40, delay_queue_prefetch(8)), 40);
        assert_eq!(fetch_count(16, 3), 13);
        assert_eq!(fetch_count(16, 20), 0);
    }

    #[test]
    fn idle_backoff_grows_and_stays_under_the_timeout() {
        let mut jitter = Jitter::new(7);
        let (misses, first) = idle_backoff_ms(0, 1000, &mut jitter);
        assert_eq!(misses, 1);
        assert!((5.0..10.0).contains(&first), "{first}");
        let (_, late) = idle_backoff_ms(20, 1000, &mut jitter);
        assert!((500.0..1000.0).contains(&late), "{late}");
    }

    #[test]
    fn eta_decides_handling() {
        let mut plain = message(vec![]);
        assert_eq!(handle(&mut plain, 5), Handling::Work);

        let mut null = message(vec![("eta".into(), Value::Null), ("x".into(), 1.into())]);
        assert_eq!(handle(&mut null, 5), Handling::Work);
        assert_eq!(null.options, vec![("x".to_owned(), Value::Int(1))]);

        let mut int = message(vec![("eta".into(), 70.into())]);
        assert_eq!(handle(&mut int, 5), Handling::Delay { eta_ms: 70.0 });

        let mut float = message(vec![("eta".into(), 7.5.into())]);
        assert_eq!(handle(&mut float, 5), Handling::Delay { eta_ms: 7.5 });

        let mut text = message(vec![("eta".into(), "soon".into())]);
        assert_eq!(handle(&mut text, 5), Handling::Delay { eta_ms: 5.0 });
        assert_eq!(text.option("eta"), Some(&Value::Int(5)));

        let mut flag = message(vec![("eta".into(), true.into())]);
        assert_eq!(handle(&mut flag, 5), Handling::Delay { eta_ms: 1.0 });
    }

    #[test]
    fn only_an_eta_that_is_no_number_is_warned_of() {
        for quiet in [
            vec![],
            vec![("eta".into(), Value::Null)],
            vec![("eta".into(), 7.into())],
            vec![("eta".into(), true.into())],
        ] {
            assert_eq!(invalid_eta_warning(&message(quiet)), None);
        }
        let mut text = message(vec![("eta".into(), "not-a-number".into())]);
        text.message_id = "m-1".into();
        assert_eq!(
            invalid_eta_warning(&text).as_deref(),
            Some("Invalid eta value for message 'm-1': 'not-a-number'. Setting eta to current_millis().")
        );
        let list = message(vec![("eta".into(), Value::List(vec![1.into()]))]);
        assert!(invalid_eta_warning(&list).is_some_and(|w| w.contains(": [1]. ")));
    }

    #[test]
    fn due_means_not_in_the_future() {
        assert!(is_due(5.0, 5));
        assert!(is_due(4.0, 5));
        assert!(!is_due(6.0, 5));
        assert!(is_due(f64::NAN, 5));
    }

    #[test]
    fn undelay_restores_the_queue_and_drops_eta() {
        let m = message(vec![
            ("redis_message_id".into(), "r".into()),
            ("eta".into(), 9.into()),
            ("store_results".into(), true.into()),
        ]);
        let back = undelay(&m);
        assert_eq!(back.queue_name, "default");
        assert_eq!(
            back.options,
            vec![
                ("redis_message_id".to_owned(), Value::from("r")),
                ("store_results".to_owned(), Value::Bool(true)),
            ]
        );
    }
}
