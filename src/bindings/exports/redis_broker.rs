//! `RedisTransport`: Dramatiq's Redis broker protocol (`crate::brokers::redis`) carried out
//! over a caller's Redis client (`drivers::redis::JsRedis`).
//!
//! Internal to the package: `pkg/src/brokers/redis/` builds the public `RedisBroker` and
//! the worker's consumer on it. This class only sends what the core says to send and reads
//! the replies as the core says; every decision (keys, script, argv, `redis_message_id`,
//! `eta`, prefetch, idle back-off, maintenance odds) is the core's. Each operation is one
//! Promise; every failure rejects with a `ResultError` (code `RESULT_BROKER`) whose `cause`
//! is the client's own error, and bad arguments throw a `TypeError` before anything is
//! written.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::errors::broker_error;
use super::message::Message;
use super::promise::{promise_of, reject};
use crate::bindings::drivers::random::{random_bytes, random_seed};
use crate::bindings::drivers::redis::JsRedis;
use crate::bindings::drivers::timer::epoch_ms;
use crate::bindings::js::{opt_number, opt_string, options_object, range_error, type_error};
use crate::brokers::redis::{self as protocol, Call, Command, Dispatcher};
use crate::brokers::MAX_DELAY_MS;
use crate::brokers::{self, BrokerError, Handling};
use crate::model::error::StoreError;
use crate::model::message::{uuid4, DecodeFailure, Message as CoreMessage};
use crate::resp::{Arg, Reply};
use crate::stores::redis::RedisClient;
use crate::wait::backoff::Jitter;

/// What a failed send says when Redis did not answer it.
const UNKNOWN_OUTCOME: &str = "; the message may have been enqueued (the write may have reached \
     Redis before the failure), so sending it again may enqueue it twice";

/// What every pending operation shares: the client and the protocol's side of it.
struct Shared {
    redis: JsRedis,
    dispatcher: Dispatcher,
    sha1: String,
    /// The largest body a send writes (`maxMessageBytes`).
    max_message_bytes: u64,
}

/// Dramatiq's Redis broker protocol over a node-redis, ioredis or raw-command client.
#[wasm_bindgen]
pub struct RedisTransport {
    shared: Rc<Shared>,
    jitter: RefCell<Jitter>,
}

/// A `ResultError` (code `RESULT_BROKER`) with the client's error as its cause.
fn failure(source: StoreError) -> JsValue {
    let cause = source
        .cause
        .as_ref()
        .and_then(|c| c.downcast_ref::<JsValue>())
        .cloned();
    broker_error(&source.message, cause)
}

fn broker_failure(what: &str, err: &BrokerError) -> JsValue {
    failure(StoreError::new(format!("RedisBroker {what}: {err}")))
}

/// A whole number of milliseconds from JS, 0 or more. 0 is Python's too: its own tests set
/// `heartbeat_timeout = 0` (every other worker counts as dead at the next maintenance) and
/// `dead_message_ttl = 0` (every dead letter is dropped by it).
fn whole_ms(value: Option<f64>, what: &str, default: u64) -> Result<u64, JsValue> {
    match value {
        None => Ok(default),
        Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 => Ok(v as u64),
        Some(v) => Err(range_error(&format!(
            "{what} must be a whole number of milliseconds (0 or more), got {}",
            crate::codec::Plain(v)
        ))),
    }
}

fn now_ms() -> i64 {
    epoch_ms() as i64
}

fn roll() -> u32 {
    (js_sys::Math::random() * f64::from(u32::MAX)) as u32
}

fn as_args(argv: &[Vec<u8>]) -> Vec<Arg<'_>> {
    argv.iter()
        .map(|a| match std::str::from_utf8(a) {
            Ok(text) => Arg::Text(text),
            Err(_) => Arg::Bytes(a),
        })
        .collect()
}

impl Shared {
    /// Sends `call` with EVALSHA; on `NOSCRIPT` (a restarted or flushed server) once more
    /// with EVAL, which also caches the script again.
    async fn run(&self, call: &Call, queue: &str) -> Result<Reply, JsValue> {
        self.run_noting(call, queue, "").await
    }

    /// [`Shared::run`] with `note` appended to the message of a failure the server did not
    /// answer (a timeout, a lost connection: the command may have run).
    async fn run_noting(&self, call: &Call, queue: &str, note: &str) -> Result<Reply, JsValue> {
        let first = self
            .redis
            .command(&as_args(&call.evalsha(&self.sha1)))
            .await;
        let answer = match first {
            Err(e) if protocol::is_noscript(&e.message) => {
                self.redis.command(&as_args(&call.eval())).await
            }
            other => other,
        };
        answer.map_err(|e| {
            let note = if e.answered { "" } else { note };
            let message = format!(
                "RedisBroker {} on queue {queue:?} failed: {}{note}",
                call.command.name(),
                e.message
            );
            failure(StoreError {
                message,
                cause: e.cause,
                answered: e.answered,
            })
        })
    }

    async fn run_done(&self, call: &Call, queue: &str) -> Result<(), JsValue> {
        let reply = self.run(call, queue).await?;
        protocol::parse_done(&reply).map_err(|e| broker_failure(call.command.name(), &e))
    }

    /// A plain command (not the script), for finding the ids of undecodable bodies.
    async fn plain(&self, argv: &[&str]) -> Result<Reply, JsValue> {
        let args: Vec<Arg<'_>> = argv.iter().map(|a| Arg::Text(a)).collect();
        self.redis.command(&args).await.map_err(failure)
    }

    /// The ids in this worker's ack set of `queue` (`SMEMBERS`).
    async fn held_ids(&self, queue: &str) -> Result<Vec<String>, JsValue> {
        let held_key = self
            .dispatcher
            .keys()
            .acks(self.dispatcher.worker_id(), queue);
        let Reply::Array(ids) = self.plain(&["SMEMBERS", &held_key]).await? else {
            return Ok(Vec::new());
        };
        Ok(ids
            .into_iter()
            .filter_map(|id| match id {
                Reply::Bytes(b) => String::from_utf8(b).ok(),
                _ => None,
            })
            .collect())
    }

    /// The ids this worker holds from `queue` whose stored body is exactly `body`: how a
    /// body that is not a message (so carries no `redis_message_id`) can still be nacked.
    async fn ids_of_body(&self, queue: &str, bodies: &[Vec<u8>]) -> Result<Vec<String>, JsValue> {
        let keys = self.dispatcher.keys();
        let ids = self.held_ids(queue).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let hash = keys.messages(queue);
        let mut argv: Vec<&str> = vec!["HMGET", &hash];
        argv.extend(ids.iter().map(String::as_str));
        let Reply::Array(stored) = self.plain(&argv).await? else {
            return Ok(Vec::new());
        };
        let mut taken = vec![false; ids.len()];
        let mut out = Vec::with_capacity(bodies.len());
        for body in bodies {
            let found = ids
                .iter()
                .zip(stored.iter())
                .enumerate()
                .find(|(i, (_, s))| {
                    !taken.get(*i).copied().unwrap_or(true)
                        && matches!(s, Reply::Bytes(b) if b == body)
                });
            match found {
                Some((i, (id, _))) => {
                    if let Some(t) = taken.get_mut(i) {
                        *t = true;
                    }
                    out.push(id.clone());
                }
                None => out.push(String::new()),
            }
        }
        Ok(out)
    }
}

fn set(obj: &js_sys::Object, key: &str, value: &JsValue) -> Result<(), JsValue> {
    js_sys::Reflect::set(obj, &key.into(), value).map(|_| ())
}

/// A fetched body that is not a valid Dramatiq message: why, and the id under which it
/// is stored when that can be read from the body itself.
fn bad_body(reason: String, id: Option<String>, body: &[u8]) -> (String, Option<String>, Vec<u8>) {
    (reason, id, body.to_vec())
}

#[wasm_bindgen]
impl RedisTransport {
    /// `new RedisTransport(client, { namespace = "dramatiq", heartbeatTimeout = 60000,
    /// deadMessageTtl = 7 days, maintenanceChance = 1000 (per million), workerId })`.
    /// `workerId` defaults to a fresh uuid4, as Dramatiq's `broker_id`.
    #[wasm_bindgen(constructor)]
    pub fn new(client: JsValue, options: JsValue) -> Result<RedisTransport, JsValue> {
        let options = options_object(&options, "RedisBroker options")?;
        let redis = JsRedis::new(&client, &JsValue::UNDEFINED)?;
        let namespace = opt_string(&options, "namespace")?
            .unwrap_or_else(|| protocol::DEFAULT_NAMESPACE.into());
        if namespace.is_empty() {
            return Err(type_error("namespace must be a non-empty string"));
        }
        let worker_id = opt_string(&options, "workerId")?.unwrap_or_else(|| uuid4(random_bytes()));
        let mut dispatcher = Dispatcher::new(&namespace, &worker_id);
        dispatcher.heartbeat_timeout_ms = whole_ms(
            opt_number(&options, "heartbeatTimeout")?,
            "heartbeatTimeout",
            protocol::DEFAULT_HEARTBEAT_TIMEOUT_MS,
        )?;
        dispatcher.dead_message_ttl_ms = whole_ms(
            opt_number(&options, "deadMessageTtl")?,
            "deadMessageTtl",
            protocol::DEFAULT_DEAD_MESSAGE_TTL_MS,
        )?;
        if let Some(chance) = opt_number(&options, "maintenanceChance")? {
            if !(0.0..=f64::from(protocol::MAINTENANCE_SCALE)).contains(&chance)
                || chance.fract() != 0.0
            {
                return Err(range_error(
                    "maintenanceChance must be an integer from 0 to 1000000 (calls per million)",
                ));
            }
            dispatcher.maintenance_chance = chance as u32;
        }
        let max_message_bytes = match opt_number(&options, "maxMessageBytes")? {
            None => protocol::DEFAULT_MAX_MESSAGE_BYTES,
            Some(n) if n >= 1.0 && n.fract() == 0.0 => n.min(9_007_199_254_740_991.0) as u64,
            Some(_) => {
                return Err(range_error(
                    "maxMessageBytes must be a positive whole number of bytes",
                ))
            }
        };
        Ok(RedisTransport {
            shared: Rc::new(Shared {
                redis,
                dispatcher,
                sha1: protocol::script_sha1(),
                max_message_bytes,
            }),
            jitter: RefCell::new(Jitter::new(random_seed())),
        })
    }

    /// The id this broker heartbeats as (its ack sets are `<ns>:__acks__.<id>.<queue>`).
    #[wasm_bindgen(getter, js_name = workerId)]
    pub fn worker_id(&self) -> String {
        self.shared.dispatcher.worker_id().to_owned()
    }

    /// The key namespace.
    #[wasm_bindgen(getter)]
    pub fn namespace(&self) -> String {
        self.shared.dispatcher.namespace().to_owned()
    }

    /// The heartbeat timeout, ms.
    #[wasm_bindgen(getter, js_name = heartbeatTimeout)]
    pub fn heartbeat_timeout(&self) -> f64 {
        self.shared.dispatcher.heartbeat_timeout_ms as f64
    }

    /// The dead-letter TTL, ms.
    #[wasm_bindgen(getter, js_name = deadMessageTtl)]
    pub fn dead_message_ttl(&self) -> f64 {
        self.shared.dispatcher.dead_message_ttl_ms as f64
    }

    /// The message as it will be enqueued: a copy with a fresh `redis_message_id`, and with
    /// any `delay` (ms; 0 too, as Dramatiq's `delay is not None`) on `<queue>.DQ` with `eta`.
    /// Synchronous, so a caller has the message before the write; a bad delay is a
    /// `RangeError`.
    pub fn prepare(&self, message: &Message, delay: Option<f64>) -> Result<Message, JsValue> {
        let delay_ms = match delay {
            None => None,
            // Kept whole or fractional: the eta is Python's `now + delay`, a float for 1.5,
            // and in the past (due at once) for a negative one.
            Some(d) if d.abs() <= MAX_DELAY_MS => Some(d),
            Some(d) => {
                return Err(range_error(&format!(
                    "delay must be a finite number of ms, got {}",
                    crate::codec::Plain(d)
                )))
            }
        };
        Ok(Message::from_core(protocol::prepare(
            message.core(),
            delay_ms,
            now_ms(),
            random_bytes(),
        )))
    }

    /// Writes a prepared message (hash write and push in one script call). Resolves with
    /// nothing once the server has it.
    pub fn send(&self, prepared: &Message) -> js_sys::Promise {
        let maintenance = self.maintenance(Command::Enqueue);
        let call =
            match self
                .shared
                .dispatcher
                .enqueue_message(prepared.core(), now_ms(), maintenance)
            {
                Ok(call) => call,
                Err(e) => return reject(type_error(&e.to_string())),
            };
        if let Some(n) = call
            .body_len()
            .filter(|&n| n as u64 > self.shared.max_message_bytes)
        {
            // Refused here, before anything is written: a worker would refuse it too, and a
            // Redis whose proto-max-bulk-len it passes closes the connection, failing every
            // command pipelined behind it.
            return reject(broker_failure(
                "enqueue",
                &BrokerError::Invalid(format!(
                    "message {} is {n} bytes, over maxMessageBytes ({} bytes); nothing was written",
                    prepared.core().message_id,
                    self.shared.max_message_bytes
                )),
            ));
        }
        let shared = self.shared.clone();
        let queue = prepared.core().queue_name.clone();
        promise_of(async move {
            // A write that failed without the server's answer (a command timeout, a lost
            // connection) may still have reached Redis: retrying it could enqueue it twice,
            // so the caller must know the outcome is unknown.
            let reply = shared.run_noting(&call, &queue, UNKNOWN_OUTCOME).await?;
            protocol::parse_done(&reply).map_err(|e| broker_failure("enqueue", &e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Takes up to `count` messages from `queue` (0: only a heartbeat), and, with
    /// `maxBytes`, no more bodies than that many bytes (at least one), none over
    /// `maxMessageBytes` (default 64 MiB). Resolves with `{ messages: [{ message, eta?,
    /// bytes }], bad: [{ reason, redisMessageId?, body? }], missing }`: `eta` (ms since the
    /// epoch) when the message must wait for it (the core's `handle`), `bytes` its stored
    /// size, `bad` for bodies that are not valid Dramatiq messages or too big to take
    /// (nack them: Dramatiq's own consumer would crash on them), `missing` for ids whose
    /// body was gone.
    pub fn fetch(
        &self,
        queue: String,
        count: u32,
        max_bytes: Option<f64>,
        max_message_bytes: Option<f64>,
    ) -> js_sys::Promise {
        let maintenance = self.maintenance(Command::Fetch);
        let shared = self.shared.clone();
        let limit = max_bytes.map(|max_bytes| {
            let whole = |n: f64| n.clamp(1.0, 9_007_199_254_740_991.0) as u64;
            protocol::FetchLimit {
                // What the consumer may still hold, and never more than one fetch's worth.
                max_bytes: whole(max_bytes).min(protocol::DEFAULT_FETCH_BYTES),
                max_message_bytes: max_message_bytes
                    .map_or(protocol::DEFAULT_MAX_MESSAGE_BYTES, whole),
            }
        });
        promise_of(async move {
            let now = now_ms();
            let call = match limit {
                Some(limit) => {
                    shared
                        .dispatcher
                        .fetch_within(&queue, count, limit, now, maintenance)
                }
                None => shared.dispatcher.fetch(&queue, count, now, maintenance),
            };
            let reply = shared.run(&call, &queue).await?;
            let fetched = protocol::into_fetched(reply).map_err(|e| broker_failure("fetch", &e))?;
            let messages = js_sys::Array::new();
            let mut bad = Vec::new();
            let mut fetched = fetched;
            let bodies = std::mem::take(&mut fetched.bodies);
            let ids = std::mem::take(&mut fetched.ids);
            for (body, stored) in bodies.into_iter().zip(ids) {
                let body = &body;
                // The id the body is stored under, which settles it (an id that is not
                // UTF-8 cannot be named in a command here: found by its body instead).
                let stored = String::from_utf8(stored).ok();
                let fresh = || uuid4(random_bytes());
                let mut message = match CoreMessage::decode_python(body, now, fresh) {
                    Ok(m) => m,
                    Err(DecodeFailure::NotJson(e)) => {
                        bad.push(bad_body(format!("not JSON: {e}"), stored, body));
                        continue;
                    }
                    Err(DecodeFailure::Refused(e)) => {
                        bad.push(bad_body(
                            format!("not a Dramatiq message: {e}"),
                            stored,
                            body,
                        ));
                        continue;
                    }
                };
                if protocol::settle_by_stored_id(&mut message, stored.as_deref()).is_err() {
                    bad.push(bad_body(
                        "not a Dramatiq message: options.redis_message_id is missing or not a string"
                            .into(),
                        stored,
                        body,
                    ));
                    continue;
                }
                let entry = js_sys::Object::new();
                if let Some(warning) = brokers::invalid_eta_warning(&message) {
                    set(&entry, "warning", &warning.into())?;
                }
                if let Handling::Delay { eta_ms } = brokers::handle(&mut message, now) {
                    set(&entry, "eta", &eta_ms.into())?;
                }
                set(&entry, "bytes", &(body.len() as f64).into())?;
                set(&entry, "message", &Message::from_core(message).into())?;
                messages.push(&entry);
            }
            let unknown: Vec<Vec<u8>> = bad
                .iter()
                .filter(|(_, id, _)| id.is_none())
                .map(|(_, _, body)| body.clone())
                .collect();
            let mut found = if unknown.is_empty() {
                Vec::new()
            } else {
                shared.ids_of_body(&queue, &unknown).await?
            }
            .into_iter();
            let bad_out = js_sys::Array::new();
            let max_message = limit.map_or(0, |l| l.max_message_bytes);
            for (id, size) in &fetched.oversize {
                let entry = js_sys::Object::new();
                let reason = format!(
                    "{size} bytes, over the worker's limit of {max_message} bytes \
                     (maxMessageBytes)"
                );
                set(&entry, "reason", &reason.into())?;
                set(&entry, "redisMessageId", &id.into())?;
                bad_out.push(&entry);
            }
            for (reason, id, body) in bad {
                let id = id.or_else(|| found.next().filter(|id| !id.is_empty()));
                let entry = js_sys::Object::new();
                set(&entry, "reason", &reason.into())?;
                if let Some(id) = id {
                    set(&entry, "redisMessageId", &id.into())?;
                }
                set(
                    &entry,
                    "body",
                    &js_sys::Uint8Array::from(body.as_slice()).into(),
                )?;
                bad_out.push(&entry);
            }
            let out = js_sys::Object::new();
            set(&out, "messages", &messages)?;
            set(&out, "bad", &bad_out)?;
            set(&out, "missing", &(fetched.missing as f64).into())?;
            Ok(out.into())
        })
    }

    /// Forgets a processed message fetched from `queue`.
    pub fn ack(&self, queue: String, redis_message_id: String) -> js_sys::Promise {
        let call = self
            .shared
            .dispatcher
            .ack(&queue, &redis_message_id, now_ms());
        self.done(call, queue)
    }

    /// Dead-letters a failed message fetched from `queue` (`<queue>.XQ`, kept
    /// `deadMessageTtl`).
    pub fn nack(&self, queue: String, redis_message_id: String) -> js_sys::Promise {
        let call = self
            .shared
            .dispatcher
            .nack(&queue, &redis_message_id, now_ms());
        self.done(call, queue)
    }

    /// Gives ids this worker holds from `queue` back to its tail.
    pub fn requeue(&self, queue: String, redis_message_ids: Vec<String>) -> js_sys::Promise {
        let ids: Vec<&str> = redis_message_ids.iter().map(String::as_str).collect();
        let maintenance = self.maintenance(Command::Requeue);
        match self
            .shared
            .dispatcher
            .requeue(&queue, &ids, now_ms(), maintenance)
        {
            Some(call) => self.done(call, queue),
            None => js_sys::Promise::resolve(&JsValue::UNDEFINED),
        }
    }

    /// Gives what the gone worker `deadWorkerId` holds from `queue` back to its tail (see
    /// `Dispatcher::release`): its supervisor saw it exit, so waiting for its heartbeat to
    /// time out would only delay its messages. `stopped`: it stopped cleanly, and keeps its
    /// heartbeat.
    pub fn release(&self, queue: String, dead_worker_id: String, stopped: bool) -> js_sys::Promise {
        let call = self
            .shared
            .dispatcher
            .release(&queue, &dead_worker_id, now_ms(), stopped);
        self.done(call, queue)
    }

    /// The first half of moving a due delayed message fetched from `fetchedFrom` to its
    /// queue: enqueues the copy without `eta` (fresh id) and resolves with it. The caller
    /// then acks the original (`ack(fetchedFrom, id)`) and retries that ack alone if it
    /// fails: retrying the whole move would enqueue a second copy.
    pub fn undelay(&self, fetched_from: String, message: &Message) -> js_sys::Promise {
        let maintenance = self.maintenance(Command::Enqueue);
        let step = self.shared.dispatcher.undelay(
            &fetched_from,
            message.core(),
            now_ms(),
            random_bytes(),
            maintenance,
        );
        let step = match step {
            Ok(step) => step,
            Err(e) => return reject(type_error(&e.to_string())),
        };
        let shared = self.shared.clone();
        promise_of(async move {
            // `step.ack` is the caller's to send (and retry on its own).
            shared
                .run_done(&step.enqueue, &step.message.queue_name)
                .await?;
            Ok(Message::from_core(step.message).into())
        })
    }

    /// The ids in this worker's ack set of `queue`, as the server has it: after a fetch
    /// whose reply was lost (the script may have run), those the worker does not know it
    /// holds are to be requeued, or they would stay there while it lives.
    #[wasm_bindgen(js_name = heldIds)]
    pub fn held_ids(&self, queue: String) -> js_sys::Promise {
        let shared = self.shared.clone();
        promise_of(async move {
            let ids = shared.held_ids(&queue).await?;
            let out = js_sys::Array::new();
            for id in ids {
                out.push(&JsValue::from_str(&id));
            }
            Ok(out.into())
        })
    }

    /// `PING`: one round trip to the server that, unlike every script call, is no
    /// heartbeat, so a process that only checks the server (the worker command's
    /// supervisor) never shows up as a worker.
    pub fn ping(&self) -> js_sys::Promise {
        let shared = self.shared.clone();
        promise_of(async move {
            shared.plain(&["PING"]).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// How many messages are stored for `queue` and its delay queue, plus those this
    /// broker's worker holds (Dramatiq's `join` waits for 0).
    pub fn qsize(&self, queue: String) -> js_sys::Promise {
        let call = self
            .shared
            .dispatcher
            .qsize(&queue, now_ms(), self.maintenance(Command::Qsize));
        let shared = self.shared.clone();
        promise_of(async move {
            let reply = shared.run(&call, &queue).await?;
            let n = protocol::parse_qsize(&reply).map_err(|e| broker_failure("qsize", &e))?;
            Ok((n as f64).into())
        })
    }

    /// Drops `queue`'s messages, this worker's hold on them and its dead letters.
    pub fn purge(&self, queue: String) -> js_sys::Promise {
        let call = self
            .shared
            .dispatcher
            .purge(&queue, now_ms(), self.maintenance(Command::Purge));
        self.done(call, queue)
    }

    /// The sleep after the `misses`-th empty fetch in a row: `[misses, ms]` (Dramatiq's
    /// idle back-off, capped near `WORKER_TIMEOUT_MS`).
    #[wasm_bindgen(js_name = idleBackoff)]
    pub fn idle_backoff(&self, misses: u32) -> Vec<f64> {
        let (next, ms) = brokers::idle_backoff_ms(
            misses,
            brokers::WORKER_TIMEOUT_MS,
            &mut self.jitter.borrow_mut(),
        );
        vec![f64::from(next), ms]
    }

    /// How many messages a consumer of a work queue holds at most, for `concurrency`
    /// (`configured`, when above 0, instead: Dramatiq's `dramatiq_queue_prefetch`).
    #[wasm_bindgen(js_name = queuePrefetch)]
    pub fn queue_prefetch(concurrency: u32, configured: u32) -> u32 {
        brokers::configured_prefetch(configured, brokers::queue_prefetch(concurrency))
    }

    /// How many bytes of messages a consumer holds at most per queue, by default (the
    /// `prefetchBytes` option): with big messages, the prefetch count alone could pull
    /// gigabytes into wasm memory, which never shrinks.
    #[wasm_bindgen(js_name = prefetchBytes)]
    pub fn prefetch_bytes() -> f64 {
        brokers::DEFAULT_PREFETCH_BYTES as f64
    }

    /// The largest message a consumer takes, by default (the `maxMessageBytes` option);
    /// a larger one is dead-lettered with the reason.
    #[wasm_bindgen(js_name = maxMessageBytes)]
    pub fn max_message_bytes() -> f64 {
        protocol::DEFAULT_MAX_MESSAGE_BYTES as f64
    }

    /// How many messages a consumer of a delay queue holds at most, for `concurrency`
    /// (`configured`, when above 0, instead: Dramatiq's `dramatiq_delay_queue_prefetch`).
    #[wasm_bindgen(js_name = delayQueuePrefetch)]
    pub fn delay_queue_prefetch(concurrency: u32, configured: u32) -> u32 {
        brokers::configured_prefetch(configured, brokers::delay_queue_prefetch(concurrency))
    }

    /// Dramatiq's `WORKER_TIMEOUT`: an idle consumer fetches (heartbeats) at least this
    /// often, in ms.
    #[wasm_bindgen(js_name = workerTimeout)]
    pub fn worker_timeout() -> u32 {
        brokers::WORKER_TIMEOUT_MS
    }

    /// The `redis_message_id` a fetched message is stored under; `TypeError` if it has none.
    #[wasm_bindgen(js_name = redisMessageId)]
    pub fn redis_message_id(message: &Message) -> Result<String, JsValue> {
        protocol::redis_message_id(message.core())
            .map(str::to_owned)
            .map_err(|e| type_error(&e.to_string()))
    }
}

impl RedisTransport {
    fn maintenance(&self, command: Command) -> bool {
        self.shared.dispatcher.maintenance_due(command, roll())
    }

    fn done(&self, call: Call, queue: String) -> js_sys::Promise {
        let shared = self.shared.clone();
        promise_of(async move {
            shared.run_done(&call, &queue).await?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// The Redis broker's key names under one namespace (`crate::brokers::redis::Keys`), for
/// JavaScript that reads the broker's keys itself (the results gateway), so the layout has
/// one home: the core's.
#[wasm_bindgen]
pub struct RedisBrokerKeys {
    namespace: String,
}

#[wasm_bindgen]
impl RedisBrokerKeys {
    /// Keys under `namespace` (Dramatiq's default, "dramatiq", when omitted).
    #[wasm_bindgen(constructor)]
    pub fn new(namespace: Option<String>) -> Result<RedisBrokerKeys, JsValue> {
        let namespace = namespace.unwrap_or_else(|| protocol::DEFAULT_NAMESPACE.to_owned());
        if namespace.is_empty() {
            return Err(type_error("RedisBrokerKeys: the namespace is empty"));
        }
        Ok(RedisBrokerKeys { namespace })
    }

    /// The namespace.
    #[wasm_bindgen(getter)]
    pub fn namespace(&self) -> String {
        self.namespace.clone()
    }

    fn keys(&self) -> protocol::Keys<'_> {
        protocol::Keys::new(&self.namespace)
    }

    /// The list of ids waiting on `queue` (`ns:q`; a delay queue is `q.DQ`).
    pub fn queue(&self, queue: &str) -> String {
        self.keys().queue(queue)
    }

    /// The hash of `queue`'s message bodies (`ns:q.msgs`).
    pub fn messages(&self, queue: &str) -> String {
        self.keys().messages(queue)
    }

    /// The name of `queue`'s delay queue (`q.DQ`, a queue name, not a key).
    #[wasm_bindgen(js_name = delayQueue)]
    pub fn delay_queue(&self, queue: &str) -> String {
        crate::worker::queues::delay_queue_name(queue)
    }

    /// The dead-letter zset of `queue` (`ns:q.XQ`, shared by its delay queue).
    #[wasm_bindgen(js_name = deadLetters)]
    pub fn dead_letters(&self, queue: &str) -> String {
        self.keys().dead_letters(queue)
    }

    /// The hash of `queue`'s dead-letter bodies (`ns:q.XQ.msgs`).
    #[wasm_bindgen(js_name = deadLetterMessages)]
    pub fn dead_letter_messages(&self, queue: &str) -> String {
        self.keys().dead_letter_messages(queue)
    }

    /// The set of ids `workerId` holds from `queue`.
    pub fn acks(&self, worker_id: &str, queue: &str) -> String {
        self.keys().acks(worker_id, queue)
    }

    /// What every acks set's name starts with; the worker id, a dot and the queue follow.
    #[wasm_bindgen(js_name = acksPrefix)]
    pub fn acks_prefix(&self) -> String {
        self.keys().acks_prefix()
    }

    /// The zset of worker heartbeats.
    pub fn heartbeats(&self) -> String {
        self.keys().heartbeats()
    }

    /// What an operator's requeue of the dead letter `body` (its stored bytes) enqueues, as
    /// the bytes to store (`crate::brokers::redis::revive`: canonical queue, fresh
    /// `redis_message_id`, `retries` back at 0); its `queue_name` and `redis_message_id`
    /// name where. A `TypeError` when `body` is not a message.
    #[wasm_bindgen(js_name = reviveDeadLetter)]
    pub fn revive_dead_letter(&self, body: &[u8]) -> Result<Vec<u8>, JsValue> {
        let (v, lone_surrogates) = crate::codec::surrogates::decode_marking_surrogates(body)
            .map_err(|e| type_error(&format!("invalid message bytes: {e}")))?;
        let mut message =
            CoreMessage::from_dict(&v, now_ms()).map_err(|e| type_error(&e.to_string()))?;
        message.lone_surrogates = lone_surrogates;
        Ok(protocol::revive(&message, now_ms(), random_bytes()).encode())
    }

    /// The queue a broker key belongs to, or `undefined` (see `Keys::queue_of`).
    #[wasm_bindgen(js_name = queueOf)]
    pub fn queue_of(&self, key: &str) -> Option<String> {
        self.keys().queue_of(key).map(str::to_owned)
    }
}
