//! Dramatiq's Redis layout over any Redis client that can send a raw command.
//!
//! A result is a **one-element LIST** under its key (SPEC §4.1), because that is what lets
//! Dramatiq block on it: `BRPOPLPUSH k k` (here `BLMOVE k k RIGHT LEFT`) waits for the list
//! to exist and rotates a one-element list onto itself, so the value, and its TTL, stay.
//!
//! - store: one `EVAL` of [`STORE_SCRIPT`] (`DEL`, `LPUSH`, `PEXPIRE` in milliseconds), so the
//!   replace-and-expire is atomic and cannot interleave with other commands sent on a shared
//!   connection — what Dramatiq's `MULTI … EXEC` pipeline guarantees, in one command any
//!   client can send. A TTL of 0 expires the key at once, as Dramatiq's `PEXPIRE k 0` does.
//! - read: `LINDEX k 0`, which neither consumes the value nor touches its TTL.
//! - batch read: one `EVAL` of [`GET_MANY_SCRIPT`] per [`GET_MANY_CHUNK`] keys: one round
//!   trip for a whole dashboard's worth of messages.
//! - server-side wait (only with a dedicated blocking connection): `BLMOVE k k RIGHT LEFT t`
//!   with `t` in fractional seconds, so sub-second timeouts are honoured (Dramatiq truncates
//!   them to whole seconds); `BRPOPLPUSH` on servers older than 6.2.
//!
//! The client answers with a [`Reply`]; every answer of an unexpected shape is a
//! [`StoreError`], never a guess.

use std::cell::Cell;

use crate::model::error::StoreError;
use crate::resp::{Arg, Reply};
use std::rc::Rc;

use crate::results::store::{HostBytes, Store, Stored};

/// Replaces the value under `KEYS[1]` with `ARGV[1]` and expires it after `ARGV[2]` ms.
pub const STORE_SCRIPT: &str = "redis.call('DEL',KEYS[1]) \
redis.call('LPUSH',KEYS[1],ARGV[1]) \
redis.call('PEXPIRE',KEYS[1],ARGV[2]) \
return 1";

/// `LINDEX k 0` for every key in `KEYS`, in order (`false`, i.e. nil, for an absent one).
pub const GET_MANY_SCRIPT: &str = "local r={} \
for i,k in ipairs(KEYS) do r[i]=redis.call('LINDEX',k,0) end \
return r";

/// Keys per batch-read script: large enough that 1 000 results are one round trip, small
/// enough that one script never holds the server for long.
pub const GET_MANY_CHUNK: usize = 1000;

/// What a Redis client must do: send one command and hand back its reply. The bindings
/// implement it over node-redis, ioredis or any object with a raw-command method.
// Single-threaded by design (wasm), so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait RedisClient {
    /// Sends `argv` (command name first) on the shared connection.
    async fn command(&self, argv: &[Arg<'_>]) -> Result<Reply, StoreError>;

    /// Whether a dedicated connection for blocking commands was given.
    fn has_blocking(&self) -> bool {
        false
    }

    /// Whether that connection is free now. A blocking command holds its connection until
    /// it returns, so concurrent waits would queue behind each other: only one wait at a time
    /// blocks on the server, the others poll.
    fn blocking_idle(&self) -> bool {
        false
    }

    /// Sends `argv` on the dedicated blocking connection.
    async fn blocking_command(&self, argv: &[Arg<'_>]) -> Result<Reply, StoreError> {
        self.command(argv).await
    }

    /// [`RedisClient::command`] for a command that answers one stored value: a client may
    /// leave a large one in the host's memory ([`Reply::Held`]).
    async fn command_value(&self, argv: &[Arg<'_>]) -> Result<Reply, StoreError> {
        self.command(argv).await
    }

    /// [`RedisClient::command`] with argument `at` replaced by bytes the host holds (a
    /// large stored value): a client may send them from there. The default copies them in.
    async fn command_host(
        &self,
        argv: &[Arg<'_>],
        at: usize,
        host: &Rc<dyn HostBytes>,
    ) -> Result<Reply, StoreError> {
        let bytes = Stored::Host(host.clone()).into_bytes();
        self.command(&with_arg(argv, at, &bytes)).await
    }

    /// [`RedisClient::blocking_command`], as [`RedisClient::command_value`] is to
    /// [`RedisClient::command`].
    async fn blocking_command_value(&self, argv: &[Arg<'_>]) -> Result<Reply, StoreError> {
        self.blocking_command(argv).await
    }
}

/// A [`Store`] in Dramatiq's Redis layout over a [`RedisClient`].
pub struct RedisStore<C> {
    client: C,
    /// Set once the server has said it has no `BLMOVE` (Redis < 6.2).
    no_blmove: Cell<bool>,
}

impl<C: RedisClient> RedisStore<C> {
    /// A store over `client`.
    pub fn new(client: C) -> Self {
        RedisStore {
            client,
            no_blmove: Cell::new(false),
        }
    }

    /// The client.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// Reads a reply that must be one stored value or nil.
    fn value(reply: Reply, command: &str) -> Result<Option<Stored>, StoreError> {
        match reply {
            Reply::Nil => Ok(None),
            Reply::Bytes(bytes) => Ok(Some(Stored::Bytes(bytes))),
            Reply::Held(held) => match held.bytes {
                Some(bytes) => Ok(Some(Stored::Host(bytes))),
                None => Err(unexpected(command, &Reply::Held(held), "a string or nil")),
            },
            other => Err(unexpected(command, &other, "a string or nil")),
        }
    }
}

/// The error for a reply of the wrong shape.
fn unexpected(command: &str, reply: &Reply, expected: &str) -> StoreError {
    StoreError::new(format!(
        "Redis answered {command} with {}; expected {expected}",
        reply.describe()
    ))
    .answered()
}

/// `argv` with its argument at `at` replaced by `bytes` (a held value copied in, for a
/// client that takes it only as bytes).
pub fn with_arg<'a>(argv: &[Arg<'a>], at: usize, bytes: &'a [u8]) -> Vec<Arg<'a>> {
    argv.iter()
        .enumerate()
        .map(|(i, a)| {
            if i == at {
                Arg::Bytes(bytes)
            } else {
                a.clone()
            }
        })
        .collect()
}

/// The longest one blocking command holds the dedicated connection; a longer wait loops.
/// A wait abandoned by its caller (its signal aborted) cannot take its command back, so
/// the connection stays busy until the command ends, and meanwhile every other wait polls:
/// short rounds free it within seconds instead of at the abandoned wait's deadline (or a
/// day later, for a wait without end). A round costs one read and one command.
pub const BLOCKING_ROUND_MS: f64 = 5_000.0;

/// A timeout in milliseconds as the fractional seconds Redis's blocking commands take,
/// rounded up to the millisecond, never 0 (which would mean "forever") and at most
/// [`BLOCKING_ROUND_MS`].
pub fn blocking_timeout(timeout_ms: f64) -> String {
    let ms = if timeout_ms.is_nan() {
        1
    } else {
        timeout_ms.ceil().clamp(1.0, BLOCKING_ROUND_MS) as u64
    };
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Whether an error is Redis saying it does not know a command.
fn is_unknown_command(error: &StoreError) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    text.contains("unknown command")
}

impl<C: RedisClient> Store for RedisStore<C> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get_stored(key).await?.map(Stored::into_bytes))
    }

    async fn get_stored(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        let reply = self
            .client
            .command_value(&[Arg::Text("LINDEX"), Arg::Text(key), Arg::Text("0")])
            .await?;
        Self::value(reply, "LINDEX")
    }

    async fn put_stored(&self, key: &str, value: Stored, ttl_ms: u64) -> Result<(), StoreError> {
        let host = match value {
            Stored::Bytes(bytes) => return self.put(key, bytes, ttl_ms).await,
            Stored::Host(host) => host,
        };
        let ttl = ttl_ms.to_string();
        let argv = [
            Arg::Text("EVAL"),
            Arg::Text(STORE_SCRIPT),
            Arg::Text("1"),
            Arg::Text(key),
            Arg::Bytes(&[]),
            Arg::Text(&ttl),
        ];
        self.client.command_host(&argv, 4, &host).await?;
        Ok(())
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_ms: u64) -> Result<(), StoreError> {
        let ttl = ttl_ms.to_string();
        self.client
            .command(&[
                Arg::Text("EVAL"),
                Arg::Text(STORE_SCRIPT),
                Arg::Text("1"),
                Arg::Text(key),
                Arg::Bytes(&value),
                Arg::Text(&ttl),
            ])
            .await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .command(&[Arg::Text("DEL"), Arg::Text(key)])
            .await?;
        Ok(())
    }

    fn can_wait(&self) -> bool {
        self.client.has_blocking() && self.client.blocking_idle()
    }

    async fn wait(&self, key: &str, timeout_ms: f64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .wait_stored(key, timeout_ms)
            .await?
            .map(Stored::into_bytes))
    }

    async fn wait_stored(&self, key: &str, timeout_ms: f64) -> Result<Option<Stored>, StoreError> {
        let timeout = blocking_timeout(timeout_ms);
        if !self.no_blmove.get() {
            let argv = [
                Arg::Text("BLMOVE"),
                Arg::Text(key),
                Arg::Text(key),
                Arg::Text("RIGHT"),
                Arg::Text("LEFT"),
                Arg::Text(&timeout),
            ];
            match self.client.blocking_command_value(&argv).await {
                Ok(reply) => return Self::value(reply, "BLMOVE"),
                Err(e) if is_unknown_command(&e) => self.no_blmove.set(true),
                Err(e) => return Err(e),
            }
        }
        let argv = [
            Arg::Text("BRPOPLPUSH"),
            Arg::Text(key),
            Arg::Text(key),
            Arg::Text(&timeout),
        ];
        let reply = self.client.blocking_command_value(&argv).await?;
        Self::value(reply, "BRPOPLPUSH")
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(GET_MANY_CHUNK) {
            let count = chunk.len().to_string();
            let mut argv = Vec::with_capacity(chunk.len() + 3);
            argv.extend([
                Arg::Text("EVAL"),
                Arg::Text(GET_MANY_SCRIPT),
                Arg::Text(&count),
            ]);
            argv.extend(chunk.iter().map(|k| Arg::Text(k)));
            let reply = self.client.command(&argv).await?;
            let Reply::Array(items) = reply else {
                return Err(unexpected("EVAL", &reply, "an array"));
            };
            // Lua stops a table at its first nil, so trailing absent keys are missing
            // from the reply: pad them back in, but never accept more than asked for.
            if items.len() > chunk.len() {
                return Err(StoreError::new(format!(
                    "Redis answered a read of {} keys with {} values",
                    chunk.len(),
                    items.len()
                )));
            }
            let got = items.len();
            for item in items {
                out.push(Self::value(item, "EVAL")?.map(Stored::into_bytes));
            }
            out.extend(std::iter::repeat_with(|| None).take(chunk.len() - got));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A tiny Redis: lists of one element, TTLs ignored, every command logged.
    #[derive(Default)]
    struct FakeRedis {
        lists: RefCell<HashMap<String, Vec<u8>>>,
        log: RefCell<Vec<String>>,
        old_server: bool,
        blocking: bool,
    }

    fn text(arg: &Arg<'_>) -> String {
        match arg {
            Arg::Text(t) => (*t).to_owned(),
            Arg::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }

    impl RedisClient for FakeRedis {
        async fn command(&self, argv: &[Arg<'_>]) -> Result<Reply, StoreError> {
            let argv: Vec<String> = argv.iter().map(text).collect();
            let first = argv[0].clone();
            self.log.borrow_mut().push(if first == "EVAL" {
                let script = if argv[1] == STORE_SCRIPT {
                    "store"
                } else {
                    "get_many"
                };
                format!("EVAL {script} {}", argv[2..].join(" "))
            } else {
                argv.join(" ")
            });
            let mut lists = self.lists.borrow_mut();
            let get = |k: &str| match lists.get(k) {
                Some(v) => Reply::Bytes(v.clone()),
                None => Reply::Nil,
            };
            match first.as_str() {
                "LINDEX" => Ok(get(&argv[1])),
                "DEL" => Ok(Reply::Int(i64::from(lists.remove(&argv[1]).is_some()))),
                "EVAL" if argv[1] == STORE_SCRIPT => {
                    if argv[5] == "0" {
                        lists.remove(&argv[3]);
                    } else {
                        lists.insert(argv[3].clone(), argv[4].clone().into_bytes());
                    }
                    Ok(Reply::Int(1))
                }
                "EVAL" => {
                    let mut items: Vec<Reply> = argv[3..].iter().map(|k| get(k)).collect();
                    while items.last() == Some(&Reply::Nil) {
                        items.pop();
                    }
                    Ok(Reply::Array(items))
                }
                "BLMOVE" if self.old_server => Err(StoreError::new(
                    "ERR unknown command 'BLMOVE', with args beginning with: ",
                )),
                "BLMOVE" | "BRPOPLPUSH" => Ok(get(&argv[1])),
                _ => Ok(Reply::Bytes(b"OK".to_vec())),
            }
        }

        fn has_blocking(&self) -> bool {
            self.blocking
        }

        fn blocking_idle(&self) -> bool {
            true
        }
    }

    fn now<F: std::future::Future>(f: F) -> F::Output {
        crate::wait::race::now_or_never(f).expect("the fake never waits")
    }

    #[test]
    fn store_is_one_script_with_the_ttl_in_milliseconds_and_reads_use_lindex() {
        let store = RedisStore::new(FakeRedis::default());
        now(store.put("k", b"42".to_vec(), 1500)).unwrap();
        assert_eq!(now(store.get("k")).unwrap(), Some(b"42".to_vec()));
        assert_eq!(now(store.get("absent")).unwrap(), None);
        now(store.delete("k")).unwrap();
        assert_eq!(
            *store.client().log.borrow(),
            [
                "EVAL store 1 k 42 1500",
                "LINDEX k 0",
                "LINDEX absent 0",
                "DEL k"
            ]
        );
    }

    #[test]
    fn the_store_script_replaces_then_pushes_then_expires() {
        let del = STORE_SCRIPT.find("'DEL'").unwrap();
        let push = STORE_SCRIPT.find("'LPUSH'").unwrap();
        let expire = STORE_SCRIPT.find("'PEXPIRE'").unwrap();
        assert!(del < push && push < expire);
    }

    #[test]
    fn batch_reads_pad_the_trailing_nils_lua_drops() {
        let store = RedisStore::new(FakeRedis::default());
        now(store.put("a", b"1".to_vec(), 1000)).unwrap();
        now(store.put("c", b"3".to_vec(), 1000)).unwrap();
        let keys: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
        let got = now(store.get_many(&keys)).unwrap();
        assert_eq!(
            got,
            [Some(b"1".to_vec()), None, Some(b"3".to_vec()), None, None]
        );
    }

    #[test]
    fn batch_reads_are_one_command_per_chunk() {
        let store = RedisStore::new(FakeRedis::default());
        let keys: Vec<String> = (0..GET_MANY_CHUNK * 2 + 1)
            .map(|i| format!("k{i}"))
            .collect();
        let got = now(store.get_many(&keys)).unwrap();
        assert_eq!(got.len(), keys.len());
        assert_eq!(store.client().log.borrow().len(), 3);
    }

    #[test]
    fn a_reply_of_the_wrong_shape_is_an_error() {
        struct Odd;
        impl RedisClient for Odd {
            async fn command(&self, _: &[Arg<'_>]) -> Result<Reply, StoreError> {
                Ok(Reply::Int(7))
            }
        }
        let store = RedisStore::new(Odd);
        let e = now(store.get("k")).unwrap_err();
        assert!(e.to_string().contains("LINDEX with an integer"), "{e}");
        let e = now(store.get_many(&["k".into()])).unwrap_err();
        assert!(e.to_string().contains("expected an array"), "{e}");
    }

    #[test]
    fn too_many_values_in_a_batch_reply_is_an_error() {
        struct Greedy;
        impl RedisClient for Greedy {
            async fn command(&self, _: &[Arg<'_>]) -> Result<Reply, StoreError> {
                Ok(Reply::Array(vec![Reply::Nil, Reply::Nil]))
            }
        }
        let e = now(RedisStore::new(Greedy).get_many(&["k".into()])).unwrap_err();
        assert!(e.to_string().contains("1 keys with 2 values"), "{e}");
    }

    #[test]
    fn blocking_timeouts_are_fractional_seconds_never_zero() {
        assert_eq!(blocking_timeout(250.0), "0.250");
        assert_eq!(blocking_timeout(1999.0), "1.999");
        assert_eq!(blocking_timeout(0.2), "0.001");
        assert_eq!(blocking_timeout(0.0), "0.001");
        assert_eq!(blocking_timeout(-5.0), "0.001");
        assert_eq!(blocking_timeout(f64::NAN), "0.001");
        assert_eq!(blocking_timeout(4_321.4), "4.322");
        // Longer waits go in rounds: an abandoned one frees the connection within one.
        assert_eq!(blocking_timeout(12_345.4), "5.000");
        assert_eq!(blocking_timeout(f64::INFINITY), "5.000");
        assert_eq!(blocking_timeout(1e12), "5.000");
    }

    #[test]
    fn waits_only_with_a_blocking_connection_and_fall_back_to_brpoplpush() {
        let store = RedisStore::new(FakeRedis::default());
        assert!(!store.can_wait());

        let store = RedisStore::new(FakeRedis {
            blocking: true,
            old_server: true,
            ..FakeRedis::default()
        });
        assert!(store.can_wait());
        now(store.put("k", b"7".to_vec(), 1000)).unwrap();
        assert_eq!(now(store.wait("k", 300.0)).unwrap(), Some(b"7".to_vec()));
        assert_eq!(now(store.wait("k", 300.0)).unwrap(), Some(b"7".to_vec()));
        let log = store.client().log.borrow();
        assert_eq!(
            log[1..],
            [
                "BLMOVE k k RIGHT LEFT 0.300",
                "BRPOPLPUSH k k 0.300",
                "BRPOPLPUSH k k 0.300"
            ]
        );
    }
}
