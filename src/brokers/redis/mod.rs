//! Dramatiq 2.2.1's `RedisBroker` protocol: the keys, one Lua script, the argv of each
//! command and what its reply means.
//!
//! # Keys (shared with Python workers, so exactly Dramatiq's)
//! With namespace `ns` (default `dramatiq`), queue `q` and `base` = `q` without a `.DQ`
//! suffix ([`Keys`]):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `ns:q` | list | `redis_message_id`s; pushed on the right, popped on the left (FIFO) |
//! | `ns:q.msgs` | hash | `redis_message_id` → the encoded message |
//! | `ns:base.XQ` | zset | dead-lettered ids, scored by when (ms since the epoch) |
//! | `ns:base.XQ.msgs` | hash | their bodies; dropped after `dead_message_ttl` |
//! | `ns:__acks__.<worker>.q` | set | ids a worker fetched and has not yet settled |
//! | `ns:__heartbeats__` | zset | worker ids, scored by their last call (ms) |
//!
//! A delayed message is an ordinary message on the queue `q.DQ` (so `ns:q.DQ`,
//! `ns:q.DQ.msgs`, `ns:__acks__.<worker>.q.DQ`) whose options carry `eta`; its dead letters
//! share `ns:q.XQ`.
//!
//! # Calling the script
//! [`SCRIPT`] is our own script; it has the same effect on those keys as Dramatiq's
//! `dispatch.lua`. Every command is one call with `KEYS = [namespace]` and
//! `ARGV = [command, now_ms, queue, worker_id, heartbeat_timeout_ms, dead_message_ttl_ms,
//! maintenance ("1"/"0"), …command arguments]`. Drivers send [`Call::evalsha`] with
//! [`script_sha1`] and, when the reply is a `NOSCRIPT` error ([`is_noscript`]),
//! resend the same call as [`Call::eval`] (which also caches the script on the server).
//! EVALSHA keeps the ~6 KB script off the wire on every call; the fallback covers a server
//! that restarted or ran `SCRIPT FLUSH`.
//!
//! # Driver API, per operation
//! - send: [`prepare`] (fresh `redis_message_id`, optional delay) →
//!   [`Dispatcher::enqueue_message`] → [`parse_done`].
//! - consume: [`Dispatcher::fetch`] with [`super::fetch_count`] → [`parse_fetch`] (bodies
//!   and the ids they are stored under, in queue order) → decode each →
//!   [`settle_by_stored_id`] → [`super::handle`]; settle with [`Dispatcher::ack`] or
//!   [`Dispatcher::nack`] on the queue the message was *fetched from* (for a delayed one,
//!   `q.DQ`), using [`redis_message_id`]; a body that cannot be decoded is best nacked
//!   (Python's consumer crashes and restarts on it instead). Dramatiq's script replies the
//!   bodies only and its consumer acks by the body's `redis_message_id`; ours names each
//!   body's id, so a body claiming another id is still settled by its own.
//! - a held delayed message that is due: [`Dispatcher::undelay`] gives the enqueue and the
//!   ack, to send in that order.
//! - shutdown or lost connection: [`Dispatcher::requeue`] with the ids still unprocessed.
//! - a worker process known dead (its supervisor saw it exit): [`Dispatcher::release`] with
//!   its worker id, per queue and delay queue, so its messages return at once.
//! - maintenance: set `maintenance` on a call when [`Dispatcher::maintenance_due`] says so
//!   (one call in a thousand by default; never on ack or nack, as in Dramatiq).
//!
//! Every call is also the worker's heartbeat, so an idle consumer must keep fetching at
//! least every [`super::WORKER_TIMEOUT_MS`]; a worker silent for longer than the heartbeat
//! timeout is dead, and the next maintenance on a queue gives what it held back.
//!
//! Units: every time and duration here is integer milliseconds (Unix epoch for instants),
//! as Dramatiq's `current_millis()`.

mod reply;

pub use reply::{into_fetched, is_noscript, parse_done, parse_fetch, parse_qsize, Fetched};

use super::BrokerError;
use crate::codec::value::Value;
use crate::model::message::{uuid4, Message};

/// The broker's Lua script, run with EVAL / EVALSHA (see the module docs for its argv).
pub const SCRIPT: &str = include_str!("dispatch.lua");

/// Dramatiq's default key namespace.
pub const DEFAULT_NAMESPACE: &str = "dramatiq";

/// Dramatiq's `DEFAULT_HEARTBEAT_TIMEOUT`: a worker silent this long (ms) is dead.
pub const DEFAULT_HEARTBEAT_TIMEOUT_MS: u64 = 60_000;

/// Dramatiq's `DEFAULT_DEAD_MESSAGE_TTL`: dead letters are kept 7 days (ms).
pub const DEFAULT_DEAD_MESSAGE_TTL_MS: u64 = 7 * 86_400_000;

/// Dramatiq's `DEFAULT_MAINTENANCE_CHANCE`: calls per [`MAINTENANCE_SCALE`] that also run
/// maintenance.
pub const DEFAULT_MAINTENANCE_CHANCE: u32 = 1000;

/// Dramatiq's `MAINTENANCE_SCALE`: maintenance chances are out of a million.
pub const MAINTENANCE_SCALE: u32 = 1_000_000;

/// The bounds of one fetch, in bytes of stored bodies ([`Dispatcher::fetch_within`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimit {
    /// Stop taking ids once the bodies taken reach this many bytes.
    pub max_bytes: u64,
    /// A body larger than this is never sent: it is reported for dead-lettering.
    pub max_message_bytes: u64,
}

/// [`FetchLimit::max_bytes`]'s default: 16 MiB per fetch, so a fetch of big messages comes
/// in bounded batches (wasm memory, which never shrinks, holds a fetch's reply whole).
pub const DEFAULT_FETCH_BYTES: u64 = 16 << 20;

/// [`FetchLimit::max_message_bytes`]'s default: 64 MiB, the largest value a result
/// backend reads by default.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 64 << 20;

impl Default for FetchLimit {
    fn default() -> Self {
        FetchLimit {
            max_bytes: DEFAULT_FETCH_BYTES,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// The most ids one `fetch` takes (the script's slice size). Dramatiq caps a fetch at half
/// the Lua stack it probes (about 4000); a smaller cap only means more fetches.
pub const MAX_FETCH: u32 = 1000;

/// The script's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Stores a message and pushes its id on the queue's tail.
    Enqueue,
    /// Moves up to N ids from the queue's head into the worker's ack set; replies bodies.
    Fetch,
    /// Forgets a processed message.
    Ack,
    /// Dead-letters a failed message.
    Nack,
    /// Gives unprocessed ids back to the queue.
    Requeue,
    /// Gives what another, dead, worker holds from the queue back to it.
    Release,
    /// Drops a queue's messages, this worker's ack set and the dead letters.
    Purge,
    /// Counts a queue's and its delay queue's messages (for `join`).
    Qsize,
}

impl Command {
    /// The name the script dispatches on.
    pub fn name(self) -> &'static str {
        match self {
            Command::Enqueue => "enqueue",
            Command::Fetch => "fetch",
            Command::Ack => "ack",
            Command::Nack => "nack",
            Command::Requeue => "requeue",
            Command::Release => "release",
            Command::Purge => "purge",
            Command::Qsize => "qsize",
        }
    }
}

/// The SHA-1 (lowercase hex) of [`SCRIPT`], what EVALSHA names it by.
pub fn script_sha1() -> String {
    sha1_smol::Sha1::from(SCRIPT).digest().to_string()
}

/// `SCRIPT LOAD <script>`: caches the script ahead of the first EVALSHA (optional).
pub fn script_load() -> Vec<Vec<u8>> {
    vec![
        b"SCRIPT".to_vec(),
        b"LOAD".to_vec(),
        SCRIPT.as_bytes().to_vec(),
    ]
}

/// Dramatiq's Redis key names under one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keys<'a> {
    namespace: &'a str,
}

impl<'a> Keys<'a> {
    /// Keys under `namespace`.
    pub fn new(namespace: &'a str) -> Self {
        Keys { namespace }
    }

    /// The list of ids waiting on `queue`.
    pub fn queue(&self, queue: &str) -> String {
        format!("{}:{queue}", self.namespace)
    }

    /// The hash of `queue`'s message bodies.
    pub fn messages(&self, queue: &str) -> String {
        format!("{}:{queue}.msgs", self.namespace)
    }

    /// The dead-letter zset of `queue` (a delay queue shares its base queue's).
    pub fn dead_letters(&self, queue: &str) -> String {
        let base = queue.strip_suffix(".DQ").unwrap_or(queue);
        format!("{}:{base}.XQ", self.namespace)
    }

    /// The hash of `queue`'s dead-letter bodies.
    pub fn dead_letter_messages(&self, queue: &str) -> String {
        format!("{}.msgs", self.dead_letters(queue))
    }

    /// The set of ids `worker_id` holds from `queue`: [`Keys::acks_prefix`], the worker id,
    /// a dot, the queue.
    pub fn acks(&self, worker_id: &str, queue: &str) -> String {
        format!("{}{worker_id}.{queue}", self.acks_prefix())
    }

    /// What every acks set's name starts with (`ns:__acks__.`), for a reader that names the
    /// sets of workers it learns from the heartbeats (a script cannot call back here).
    pub fn acks_prefix(&self) -> String {
        format!("{}:__acks__.", self.namespace)
    }

    /// The zset of worker heartbeats.
    pub fn heartbeats(&self) -> String {
        format!("{}:__heartbeats__", self.namespace)
    }

    /// The queue a broker key belongs to, for a reader that finds queues by scanning the
    /// namespace: `q` for `ns:q`, `ns:q.msgs`, `ns:q.DQ`, `ns:q.DQ.msgs`, `ns:q.XQ`,
    /// `ns:q.XQ.msgs` and `ns:__acks__.<worker>.q[.DQ]`. `None` for a key outside the
    /// namespace, the heartbeats, or an acks set without a queue. Worker ids (uuid4s) hold
    /// no dot, so an acks set's queue is what follows the first dot after the prefix.
    pub fn queue_of<'k>(&self, key: &'k str) -> Option<&'k str> {
        let rest = key
            .strip_prefix(self.namespace)
            .and_then(|r| r.strip_prefix(':'))?;
        let name = match rest.strip_prefix("__acks__.") {
            Some(acks) => acks.split_once('.')?.1,
            None if rest.starts_with("__") => return None,
            None => rest,
        };
        let name = name.strip_suffix(".msgs").unwrap_or(name);
        let name = name
            .strip_suffix(".DQ")
            .or_else(|| name.strip_suffix(".XQ"))
            .unwrap_or(name);
        (!name.is_empty()).then_some(name)
    }
}

/// One script call: the command and its `ARGV`; [`Call::evalsha`] / [`Call::eval`] give
/// the full command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Which command this is (for logging and for [`Dispatcher::maintenance_due`]).
    pub command: Command,
    namespace: Vec<u8>,
    args: Vec<Vec<u8>>,
}

impl Call {
    /// The script's `ARGV`.
    pub fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    /// The size of the message body an `enqueue` writes (`None` for other commands).
    pub fn body_len(&self) -> Option<usize> {
        match self.command {
            Command::Enqueue => self.args.get(8).map(Vec::len),
            _ => None,
        }
    }

    /// `EVALSHA <sha1> 1 <namespace> <ARGV…>`.
    pub fn evalsha(&self, sha1: &str) -> Vec<Vec<u8>> {
        self.command_line(b"EVALSHA", sha1.as_bytes())
    }

    /// `EVAL <script> 1 <namespace> <ARGV…>` (the `NOSCRIPT` fallback).
    pub fn eval(&self) -> Vec<Vec<u8>> {
        self.command_line(b"EVAL", SCRIPT.as_bytes())
    }

    fn command_line(&self, verb: &[u8], script: &[u8]) -> Vec<Vec<u8>> {
        let mut argv = Vec::with_capacity(4 + self.args.len());
        argv.push(verb.to_vec());
        argv.push(script.to_vec());
        argv.push(b"1".to_vec());
        argv.push(self.namespace.clone());
        argv.extend(self.args.iter().cloned());
        argv
    }
}

/// One broker's side of the protocol: its namespace, its worker id (Dramatiq's
/// `broker_id`, a uuid4 per broker instance, also what it heartbeats as) and its timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatcher {
    namespace: String,
    worker_id: String,
    /// A worker silent this long (ms) is dead ([`DEFAULT_HEARTBEAT_TIMEOUT_MS`]).
    pub heartbeat_timeout_ms: u64,
    /// Dead letters older than this (ms) are dropped ([`DEFAULT_DEAD_MESSAGE_TTL_MS`]).
    pub dead_message_ttl_ms: u64,
    /// Calls per million that also run maintenance ([`DEFAULT_MAINTENANCE_CHANCE`]).
    pub maintenance_chance: u32,
}

impl Dispatcher {
    /// A dispatcher with Dramatiq's defaults. `worker_id` is best [`uuid4`] of 16 random
    /// bytes, fresh per broker instance (Python does the same), since a reused id would
    /// adopt another process's unacked messages.
    pub fn new(namespace: &str, worker_id: &str) -> Self {
        Dispatcher {
            namespace: namespace.to_owned(),
            worker_id: worker_id.to_owned(),
            heartbeat_timeout_ms: DEFAULT_HEARTBEAT_TIMEOUT_MS,
            dead_message_ttl_ms: DEFAULT_DEAD_MESSAGE_TTL_MS,
            maintenance_chance: DEFAULT_MAINTENANCE_CHANCE,
        }
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The worker id this broker heartbeats as.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The key names under this namespace.
    pub fn keys(&self) -> Keys<'_> {
        Keys::new(&self.namespace)
    }

    /// Dramatiq's `_should_do_maintenance`: never for ack or nack; otherwise when a roll
    /// in `1..=1_000_000` is at most the chance. `random` is any uniformly random `u32`
    /// (reduced modulo the scale; the bias is below 0.03%).
    pub fn maintenance_due(&self, command: Command, random: u32) -> bool {
        if matches!(command, Command::Ack | Command::Nack) {
            return false;
        }
        random % MAINTENANCE_SCALE < self.maintenance_chance
    }

    fn call(
        &self,
        command: Command,
        queue: &str,
        now_ms: i64,
        maintenance: bool,
        extra: Vec<Vec<u8>>,
    ) -> Call {
        let mut args = Vec::with_capacity(7 + extra.len());
        args.push(command.name().as_bytes().to_vec());
        args.push(now_ms.to_string().into_bytes());
        args.push(queue.as_bytes().to_vec());
        args.push(self.worker_id.as_bytes().to_vec());
        args.push(self.heartbeat_timeout_ms.to_string().into_bytes());
        args.push(self.dead_message_ttl_ms.to_string().into_bytes());
        args.push(if maintenance { b"1" } else { b"0" }.to_vec());
        args.extend(extra);
        Call {
            command,
            namespace: self.namespace.as_bytes().to_vec(),
            args,
        }
    }

    /// Stores `body` under `redis_message_id` and pushes the id on `queue`'s tail.
    pub fn enqueue(
        &self,
        queue: &str,
        redis_message_id: &str,
        body: &[u8],
        now_ms: i64,
        maintenance: bool,
    ) -> Call {
        let extra = vec![redis_message_id.as_bytes().to_vec(), body.to_vec()];
        self.call(Command::Enqueue, queue, now_ms, maintenance, extra)
    }

    /// Enqueues a message made by [`prepare`]: on its `queue_name`, under its
    /// `redis_message_id`, as Dramatiq's encoder writes it.
    pub fn enqueue_message(
        &self,
        message: &Message,
        now_ms: i64,
        maintenance: bool,
    ) -> Result<Call, BrokerError> {
        let id = redis_message_id(message)?;
        Ok(self.enqueue(
            &message.queue_name,
            id,
            &message.encode(),
            now_ms,
            maintenance,
        ))
    }

    /// Takes up to `count` ids (capped at [`MAX_FETCH`]) from `queue`'s head into this
    /// worker's ack set; the reply ([`parse_fetch`]) holds their bodies.
    pub fn fetch(&self, queue: &str, count: u32, now_ms: i64, maintenance: bool) -> Call {
        let count = count.min(MAX_FETCH).to_string().into_bytes();
        self.call(Command::Fetch, queue, now_ms, maintenance, vec![count])
    }

    /// [`Dispatcher::fetch`] within byte bounds: the script stops taking ids once the bodies
    /// taken reach `limit.max_bytes` (it always takes a first one that fits
    /// `max_message_bytes`, so a fetch makes progress), and a body over
    /// `limit.max_message_bytes` is taken into the ack set but not sent: the reply carries
    /// its id and size instead ([`Fetched::oversize`]), for the worker to dead-letter. So a
    /// fetch never brings more than about `max(max_bytes, max_message_bytes)` into memory,
    /// whatever producers wrote.
    pub fn fetch_within(
        &self,
        queue: &str,
        count: u32,
        limit: FetchLimit,
        now_ms: i64,
        maintenance: bool,
    ) -> Call {
        let extra = vec![
            count.min(MAX_FETCH).to_string().into_bytes(),
            limit.max_bytes.to_string().into_bytes(),
            limit.max_message_bytes.to_string().into_bytes(),
        ];
        self.call(Command::Fetch, queue, now_ms, maintenance, extra)
    }

    /// Settles a processed message. `queue` is the queue it was fetched from. An id this
    /// worker does not hold changes nothing (its body stays).
    pub fn ack(&self, queue: &str, redis_message_id: &str, now_ms: i64) -> Call {
        let extra = vec![redis_message_id.as_bytes().to_vec()];
        self.call(Command::Ack, queue, now_ms, false, extra)
    }

    /// Dead-letters a failed message (scored by `now_ms`). `queue` is the queue it was
    /// fetched from. An id this worker does not hold changes nothing.
    pub fn nack(&self, queue: &str, redis_message_id: &str, now_ms: i64) -> Call {
        let extra = vec![redis_message_id.as_bytes().to_vec()];
        self.call(Command::Nack, queue, now_ms, false, extra)
    }

    /// Gives ids this worker holds from `queue` back to its tail (ids it does not hold, or
    /// whose body is gone, are skipped). `None` when there is nothing to requeue: Dramatiq
    /// sends no call then.
    pub fn requeue(
        &self,
        queue: &str,
        redis_message_ids: &[&str],
        now_ms: i64,
        maintenance: bool,
    ) -> Option<Call> {
        if redis_message_ids.is_empty() {
            return None;
        }
        let extra = redis_message_ids
            .iter()
            .map(|id| id.as_bytes().to_vec())
            .collect();
        Some(self.call(Command::Requeue, queue, now_ms, maintenance, extra))
    }

    /// Gives every id the worker `dead_worker_id` holds from `queue` back to its tail (those
    /// whose body is still stored), and forgets that worker's heartbeat once it holds
    /// nothing on any queue: what Dramatiq's maintenance does for a worker silent past the
    /// heartbeat timeout, done at once by a supervisor that saw the worker process die
    /// (`dramatiq-results worker`). Only for a worker known dead: a live one would see its
    /// messages run twice.
    /// The call is made *as* the dead worker, so it leaves no heartbeat of its caller.
    /// `stopped`: the worker stopped cleanly (what it holds is what was still running at
    /// its shutdown timeout), and keeps its heartbeat, as a stopped Python worker's stays
    /// in the heartbeats until maintenance drops it.
    pub fn release(&self, queue: &str, dead_worker_id: &str, now_ms: i64, stopped: bool) -> Call {
        let as_dead = Dispatcher {
            worker_id: dead_worker_id.to_owned(),
            ..self.clone()
        };
        let extra = if stopped {
            vec![b"stopped".to_vec()]
        } else {
            Vec::new()
        };
        as_dead.call(Command::Release, queue, now_ms, false, extra)
    }

    /// Drops `queue`'s list, bodies, this worker's ack set and the dead letters. Dramatiq's
    /// `flush(q)` purges `q` and then `q.DQ`.
    pub fn purge(&self, queue: &str, now_ms: i64, maintenance: bool) -> Call {
        self.call(Command::Purge, queue, now_ms, maintenance, Vec::new())
    }

    /// Counts the messages stored for `queue` and its delay queue plus those this worker
    /// holds ([`parse_qsize`]); Dramatiq's `join` waits for 0.
    pub fn qsize(&self, queue: &str, now_ms: i64, maintenance: bool) -> Call {
        self.call(Command::Qsize, queue, now_ms, maintenance, Vec::new())
    }

    /// The two calls that move a due delayed `message`, fetched from `fetched_from`, to its
    /// canonical queue: enqueue the copy [`super::undelay`] makes (with a fresh
    /// `redis_message_id` from `random_id`), then ack the original. Send them in that order.
    pub fn undelay(
        &self,
        fetched_from: &str,
        message: &Message,
        now_ms: i64,
        random_id: [u8; 16],
        maintenance: bool,
    ) -> Result<Undelay, BrokerError> {
        let old_id = redis_message_id(message)?;
        let moved = prepare(&super::undelay(message), None, now_ms, random_id);
        Ok(Undelay {
            enqueue: self.enqueue_message(&moved, now_ms, maintenance)?,
            ack: self.ack(fetched_from, old_id, now_ms),
            message: moved,
        })
    }
}

/// The calls that move a due delayed message (see [`Dispatcher::undelay`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Undelay {
    /// The message now on the canonical queue.
    pub message: Message,
    /// First: put it there.
    pub enqueue: Call,
    /// Then: ack the delayed original.
    pub ack: Call,
}

/// What `RedisBroker.enqueue(message, delay=…)` sends: a copy with a fresh
/// `redis_message_id` (uuid4 of `random_id`; replaced in place if present, so a retried
/// message keeps its option order) and, with a delay, moved to `<q>.DQ` with
/// `eta = now_ms + delay_ms` (a float when the delay has a fraction, as Python's).
/// Each enqueue needs a fresh id: a retry is a new Redis entry.
pub fn prepare(
    message: &Message,
    delay_ms: Option<f64>,
    now_ms: i64,
    random_id: [u8; 16],
) -> Message {
    let mut copy = message.clone();
    copy.set_option("redis_message_id", Value::Str(uuid4(random_id)));
    match delay_ms {
        Some(delay) => crate::worker::queues::delayed(&copy, delay, now_ms),
        None => copy,
    }
}

/// What an operator's requeue of a dead letter enqueues (the results gateway's
/// `POST /api/messages/<id>/requeue`): the message as Dramatiq would enqueue it again on
/// its canonical queue (no `eta`, as [`super::undelay`] leaves it), under a fresh
/// `redis_message_id`, with `retries` back at 0 so the Retries middleware gives it its
/// whole budget again (Retries counts from `options.retries`). Other options (the last
/// `traceback` among them) stay: they are the message's history, and Retries overwrites the
/// traceback on the next failure.
pub fn revive(message: &Message, now_ms: i64, random_id: [u8; 16]) -> Message {
    let mut copy = super::undelay(message);
    if copy.option("retries").is_some() {
        copy.set_option("retries", Value::Int(0));
    }
    prepare(&copy, None, now_ms, random_id)
}

/// The id a fetched message is stored under (its `redis_message_id` option), which ack,
/// nack and requeue take.
pub fn redis_message_id(message: &Message) -> Result<&str, BrokerError> {
    match message.option("redis_message_id") {
        Some(Value::Str(id)) => Ok(id),
        Some(_) => Err(BrokerError::Invalid(
            "redis_message_id must be a string".into(),
        )),
        None => Err(BrokerError::Invalid(format!(
            "message {} has no redis_message_id (it was not enqueued through Redis)",
            message.message_id
        ))),
    }
}

/// Makes a fetched `message` settle by `stored`, the id its body is stored under (from the
/// fetch reply; None when it is not UTF-8): a body whose `redis_message_id` names another
/// id (a hostile or buggy producer) would be acked under that other id, missing its own,
/// which would stay held and run again after every worker's restart. Errs as
/// [`redis_message_id`] does when the body has no string `redis_message_id` (not a
/// Dramatiq message: dead-lettered).
pub fn settle_by_stored_id(message: &mut Message, stored: Option<&str>) -> Result<(), BrokerError> {
    let own = redis_message_id(message)?;
    if let Some(stored) = stored.filter(|stored| *stored != own) {
        message.set_option("redis_message_id", Value::Str(stored.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
