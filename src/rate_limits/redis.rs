//! Dramatiq's Redis rate-limiter backend over any [`RedisClient`].
//!
//! The data are Dramatiq's exactly: counters are strings of decimal digits written with
//! `SET k v PX ttl` (so every write resets the TTL to the full `ttl`, as redis-py's
//! `set(k, v, px=ttl)` does), and an event is an `x` pushed on the right of a list whose TTL
//! is then set (`RPUSH`, `PEXPIRE`).
//!
//! How it is made atomic differs, on purpose. Dramatiq runs `incr`, `decr` and
//! `incr_and_sum` as an optimistic `WATCH … MULTI … EXEC` loop, which needs a connection of
//! its own per caller; here each is one Lua script ([`INCR_SCRIPT`], [`DECR_SCRIPT`],
//! [`INCR_AND_SUM_SCRIPT`]) doing the same reads, the same comparisons and the same single
//! `SET`, which Redis runs without interleaving — atomic on a connection shared with every
//! other command, and one round trip instead of four. `add` is the very command Dramatiq
//! sends (`SET k v PX ttl NX`); a limiter's "add, else increment" is one script doing both
//! ([`ADD_OR_INCR_SCRIPT`]). Scripts go by `EVALSHA`, falling back to `EVAL` once when
//! the server answers `NOSCRIPT`.
//!
//! Waiting on a barrier's events: Dramatiq blocks its connection in `BRPOPLPUSH k k t`,
//! which rotates the list onto itself (the `x`s and the TTL stay). Here that is done only
//! on a dedicated blocking connection (the `blockingClient` option) when it is free; a
//! blocking command on a shared connection would hold up every other command. Otherwise the
//! wait reads the list's tail (`LINDEX k -1`) with a short back-off, which sees the same
//! event without changing anything. A timeout may be any number of milliseconds (Dramatiq
//! requires whole seconds of at least one).

use crate::brokers::redis::is_noscript;
use crate::model::error::StoreError;
use crate::resp::{Arg, Reply};
use crate::stores::redis::{blocking_timeout, RedisClient};
use crate::wait::timer::Timer;

/// `incr`: `KEYS[1]` += `ARGV[1]` unless past `ARGV[2]`; TTL `ARGV[3]` ms. 1 if done.
pub const INCR_SCRIPT: &str =
    "local v=tonumber(redis.call('GET',KEYS[1]) or '0')+tonumber(ARGV[1]) \
if v>tonumber(ARGV[2]) then return 0 end \
redis.call('SET',KEYS[1],string.format('%d',v),'PX',ARGV[3]) \
return 1";

/// `add_or_incr`: `SET KEYS[1] ARGV[1] PX ARGV[3] NX`, else [`INCR_SCRIPT`]'s step; 1 if
/// either wrote. What Dramatiq's `add` then `incr` do, in one round trip.
pub const ADD_OR_INCR_SCRIPT: &str =
    "if redis.call('SET',KEYS[1],ARGV[1],'PX',ARGV[3],'NX') then return 1 end \
local v=tonumber(redis.call('GET',KEYS[1]) or '0')+tonumber(ARGV[1]) \
if v>tonumber(ARGV[2]) then return 0 end \
redis.call('SET',KEYS[1],string.format('%d',v),'PX',ARGV[3]) \
return 1";

/// `decr`: `KEYS[1]` -= `ARGV[1]` unless below `ARGV[2]`; TTL `ARGV[3]` ms. 1 if done.
pub const DECR_SCRIPT: &str =
    "local v=tonumber(redis.call('GET',KEYS[1]) or '0')-tonumber(ARGV[1]) \
if v<tonumber(ARGV[2]) then return 0 end \
redis.call('SET',KEYS[1],string.format('%d',v),'PX',ARGV[3]) \
return 1";

/// `incr_and_sum`: `KEYS[1]` += `ARGV[1]` unless that or `ARGV[1]` plus the sum of
/// `KEYS[2..]` passes `ARGV[2]`; TTL `ARGV[3]` ms. 1 if done.
pub const INCR_AND_SUM_SCRIPT: &str = "local a=tonumber(ARGV[1]) local m=tonumber(ARGV[2]) \
local v=tonumber(redis.call('GET',KEYS[1]) or '0')+a \
if v>m then return 0 end \
local t=a \
for i=2,#KEYS do local n=redis.call('GET',KEYS[i]) if n and n~='' then t=t+tonumber(n) end end \
if t>m then return 0 end \
redis.call('SET',KEYS[1],string.format('%d',v),'PX',ARGV[3]) \
return 1";

/// `wait_notify`: an `x` on the right of `KEYS[1]`, whose TTL becomes `ARGV[1]` ms.
pub const NOTIFY_SCRIPT: &str = "redis.call('RPUSH',KEYS[1],'x') \
redis.call('PEXPIRE',KEYS[1],ARGV[1]) \
return 1";

/// The event Dramatiq pushes (and the only one its `wait` accepts).
pub const EVENT: &[u8] = b"x";

/// The longest pause between two reads of an event list when polling.
pub const MAX_POLL_MS: f64 = 100.0;

/// The first pause; each next one doubles, up to [`MAX_POLL_MS`].
pub const FIRST_POLL_MS: f64 = 5.0;

/// One of the scripts, with its SHA-1 computed once.
struct Script {
    text: &'static str,
    sha: String,
}

impl Script {
    fn new(text: &'static str) -> Script {
        Script {
            text,
            sha: sha1_smol::Sha1::from(text).digest().to_string(),
        }
    }
}

/// Dramatiq's Redis rate-limiter backend over a [`RedisClient`]; `timer` paces polling.
pub struct RedisRateLimiterBackend<C, T> {
    client: C,
    timer: T,
    incr: Script,
    add_or_incr: Script,
    decr: Script,
    incr_and_sum: Script,
    notify: Script,
}

/// `EVAL`/`EVALSHA` argv: the script or its SHA-1, the key count, the keys, the arguments.
fn script_argv<'a>(
    verb: &'a str,
    body: &'a str,
    count: &'a str,
    keys: &[&'a str],
    args: &[&'a str],
) -> Vec<Arg<'a>> {
    let mut argv = Vec::with_capacity(3 + keys.len() + args.len());
    argv.extend([Arg::Text(verb), Arg::Text(body), Arg::Text(count)]);
    argv.extend(keys.iter().chain(args).map(|a| Arg::Text(a)));
    argv
}

/// The error for a reply of the wrong shape.
fn unexpected(command: &str, reply: &Reply, expected: &str) -> StoreError {
    StoreError::new(format!(
        "Redis answered {command} with {}; expected {expected}",
        reply.describe()
    ))
    .answered()
}

impl<C: RedisClient, T: Timer> RedisRateLimiterBackend<C, T> {
    /// A backend over `client`.
    pub fn new(client: C, timer: T) -> Self {
        RedisRateLimiterBackend {
            client,
            timer,
            incr: Script::new(INCR_SCRIPT),
            add_or_incr: Script::new(ADD_OR_INCR_SCRIPT),
            decr: Script::new(DECR_SCRIPT),
            incr_and_sum: Script::new(INCR_AND_SUM_SCRIPT),
            notify: Script::new(NOTIFY_SCRIPT),
        }
    }

    /// The client.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// Runs `script` over `keys` and `args`; its integer answer. `EVALSHA` first; on
    /// `NOSCRIPT` (a new server, a `SCRIPT FLUSH`) one `EVAL`, which caches it again.
    async fn run(&self, script: &Script, keys: &[&str], args: &[&str]) -> Result<i64, StoreError> {
        let count = keys.len().to_string();
        let reply = match self
            .client
            .command(&script_argv("EVALSHA", &script.sha, &count, keys, args))
            .await
        {
            Ok(reply) => reply,
            Err(e) if is_noscript(&e.message) => {
                self.client
                    .command(&script_argv("EVAL", script.text, &count, keys, args))
                    .await?
            }
            Err(e) => return Err(e),
        };
        match reply {
            Reply::Int(n) => Ok(n),
            other => Err(unexpected("a rate-limit script", &other, "an integer")),
        }
    }

    /// Runs one of the counting scripts (`ARGV` = amount, limit, TTL in ms): whether it
    /// changed the count.
    async fn count(
        &self,
        script: &Script,
        keys: &[&str],
        amount: i64,
        limit: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let args = [amount.to_string(), limit.to_string(), ttl_ms.to_string()];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self.run(script, keys, &args).await? == 1)
    }

    /// One read of an event list's tail: `Some(is it Dramatiq's event)` once there is one.
    async fn peek_event(&self, key: &str) -> Result<Option<bool>, StoreError> {
        let reply = self
            .client
            .command(&[Arg::Text("LINDEX"), Arg::Text(key), Arg::Text("-1")])
            .await?;
        match reply {
            Reply::Nil => Ok(None),
            Reply::Bytes(b) => Ok(Some(b == EVENT)),
            other => Err(unexpected("LINDEX", &other, "a string or nil")),
        }
    }
}

impl<C: RedisClient, T: Timer> super::RateLimiterBackend for RedisRateLimiterBackend<C, T> {
    async fn add(&self, key: &str, value: i64, ttl_ms: u64) -> Result<bool, StoreError> {
        let (value, ttl) = (value.to_string(), ttl_ms.to_string());
        let argv = [
            Arg::Text("SET"),
            Arg::Text(key),
            Arg::Text(&value),
            Arg::Text("PX"),
            Arg::Text(&ttl),
            Arg::Text("NX"),
        ];
        match self.client.command(&argv).await? {
            Reply::Nil => Ok(false),
            Reply::Bytes(b) if b == b"OK" => Ok(true),
            other => Err(unexpected("SET NX", &other, "OK or nil")),
        }
    }

    async fn incr(
        &self,
        key: &str,
        amount: i64,
        maximum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        self.count(&self.incr, &[key], amount, maximum, ttl_ms)
            .await
    }

    async fn add_or_incr(
        &self,
        key: &str,
        amount: i64,
        maximum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        self.count(&self.add_or_incr, &[key], amount, maximum, ttl_ms)
            .await
    }

    async fn decr(
        &self,
        key: &str,
        amount: i64,
        minimum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        self.count(&self.decr, &[key], amount, minimum, ttl_ms)
            .await
    }

    async fn incr_and_sum(
        &self,
        key: &str,
        keys: &[String],
        amount: i64,
        maximum: i64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut all: Vec<&str> = Vec::with_capacity(keys.len() + 1);
        all.push(key);
        all.extend(keys.iter().map(String::as_str));
        self.count(&self.incr_and_sum, &all, amount, maximum, ttl_ms)
            .await
    }

    async fn wait(&self, key: &str, timeout_ms: Option<f64>) -> Result<bool, StoreError> {
        let deadline = timeout_ms.map(|t| self.timer.now_ms() + t.max(0.0));
        let mut pause = FIRST_POLL_MS;
        loop {
            let left = deadline.map(|d| d - self.timer.now_ms());
            if self.client.has_blocking() && self.client.blocking_idle() {
                // A zero timeout means "forever" to Redis: an elapsed deadline reads once.
                if left.is_some_and(|l| l <= 0.0) {
                    return Ok(self.peek_event(key).await? == Some(true));
                }
                let timeout = blocking_timeout(left.unwrap_or(f64::INFINITY));
                let argv = [
                    Arg::Text("BRPOPLPUSH"),
                    Arg::Text(key),
                    Arg::Text(key),
                    Arg::Text(&timeout),
                ];
                match self.client.blocking_command(&argv).await? {
                    Reply::Bytes(b) => return Ok(b == EVENT),
                    Reply::Nil => {
                        if deadline.is_some_and(|d| self.timer.now_ms() >= d) {
                            return Ok(false);
                        }
                        // A round (at most `BLOCKING_ROUND_MS`) ended; the next one takes the rest.
                        continue;
                    }
                    other => return Err(unexpected("BRPOPLPUSH", &other, "a string or nil")),
                }
            }
            if let Some(event) = self.peek_event(key).await? {
                return Ok(event);
            }
            let left = deadline.map(|d| d - self.timer.now_ms());
            if left.is_some_and(|l| l <= 0.0) {
                return Ok(false);
            }
            self.timer
                .sleep_ms(left.map_or(pause, |l| l.min(pause)))
                .await;
            pause = (pause * 2.0).min(MAX_POLL_MS);
        }
    }

    async fn wait_notify(&self, key: &str, ttl_ms: u64) -> Result<(), StoreError> {
        let ttl = ttl_ms.to_string();
        self.run(&self.notify, &[key], &[&ttl]).await?;
        Ok(())
    }
}
