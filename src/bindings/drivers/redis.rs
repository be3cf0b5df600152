//! `RedisBackend`: Dramatiq's Redis layout (`stores::redis`) over a node-redis client, an
//! ioredis client, any object with a raw-command method, or the package's own
//! `connectRedis` client, which is recognised and called directly (`redis_socket`): its
//! replies go from the socket to the store without becoming JS values.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::adapter::{describe_value, error_text};
use super::redis_socket::{js_held, lookup, same_client, JsHeld, SocketRedis};
use crate::bindings::js::type_error;
use crate::bindings::js::{byte_view, bytes_of, is_absent, prop};
use crate::model::error::StoreError;
use crate::resp::parser::HOLD_MIN_BYTES;
use crate::resp::reply::Held;
use crate::resp::{Arg, Reply};
use crate::results::store::HostBytes;
use crate::stores::redis::{with_arg, RedisClient};

#[wasm_bindgen(module = "/src/bindings/drivers/redis.js")]
extern "C" {
    #[wasm_bindgen(js_name = redisDialect)]
    fn redis_dialect(client: &JsValue) -> Option<String>;
    #[wasm_bindgen(js_name = redisCommand)]
    fn redis_command(client: &JsValue, dialect: &str, argv: &js_sys::Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = redisBlocking)]
    fn redis_blocking(
        client: &JsValue,
        dialect: &str,
        argv: &js_sys::Array,
        state: &js_sys::Object,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_name = redisIdle)]
    fn redis_idle(state: &js_sys::Object) -> bool;
    #[wasm_bindgen(js_name = isServerError)]
    fn is_server_error(error: &JsValue) -> bool;
}

/// Deepest reply this layout produces is an array of strings; anything much deeper is not
/// a Redis reply to these commands, and is refused before it can exhaust the stack.
const MAX_REPLY_DEPTH: usize = 8;

/// How to send a connection's client a command.
enum Dialect {
    /// Through a method of a JS client (`sendCommand`, `call`, `callBuffer`).
    Js(String),
    /// Our own client, in Rust.
    Native(SocketRedis),
}

/// One connection's client and how to send it a command.
struct Connection {
    client: JsValue,
    dialect: Dialect,
}

impl Connection {
    fn new(client: &JsValue, what: &str) -> Result<Connection, JsValue> {
        if let Some(native) = lookup(client) {
            return Ok(Connection {
                client: client.clone(),
                dialect: Dialect::Native(native),
            });
        }
        let dialect = redis_dialect(client).ok_or_else(|| {
            type_error(&format!(
                "{what} must be a Redis client with sendCommand(argv) (node-redis), \
                 call(...argv) (ioredis) or callBuffer(...argv); got {}",
                describe_value(client)
            ))
        })?;
        Ok(Connection {
            client: client.clone(),
            dialect: Dialect::Js(dialect),
        })
    }

    fn native(&self) -> Option<&SocketRedis> {
        match &self.dialect {
            Dialect::Native(n) => Some(n),
            Dialect::Js(_) => None,
        }
    }
}

/// A Redis client (and optionally a dedicated blocking connection) as a [`RedisClient`].
pub struct JsRedis {
    shared: Connection,
    blocking: Option<(Connection, js_sys::Object)>,
}

impl JsRedis {
    /// Wraps `client`; reads the `blockingClient` option.
    pub fn new(client: &JsValue, options: &JsValue) -> Result<JsRedis, JsValue> {
        let shared = Connection::new(client, "the Redis client")?;
        // `blockingConnection` is accepted too: the name people reach for first.
        let mut blocking = prop(options, "blockingClient")?;
        if is_absent(&blocking) {
            blocking = prop(options, "blockingConnection")?;
        }
        let blocking = if is_absent(&blocking) {
            None
        } else {
            let same_native = lookup(&blocking)
                .zip(shared.native())
                .is_some_and(|(a, b)| same_client(&a, b));
            if blocking == *client || same_native {
                return Err(type_error(
                    "option blockingClient must be a separate connection: a blocking command \
                     holds its connection, and every other command would queue behind it",
                ));
            }
            Some((
                Connection::new(&blocking, "option blockingClient")?,
                js_sys::Object::new(),
            ))
        };
        Ok(JsRedis { shared, blocking })
    }

    /// The client.
    pub fn target(&self) -> &JsValue {
        &self.shared.client
    }

    /// The blocking connection, if any.
    pub fn blocking_target(&self) -> JsValue {
        self.blocking
            .as_ref()
            .map_or(JsValue::UNDEFINED, |(c, _)| c.client.clone())
    }
}

fn argv_array(argv: &[Arg<'_>]) -> js_sys::Array {
    argv.iter()
        .map(|arg| match arg {
            Arg::Text(t) => JsValue::from_str(t),
            Arg::Bytes(b) => match std::str::from_utf8(b) {
                // Text when it is text (Dramatiq's JSON is ASCII): every client takes strings.
                Ok(t) => JsValue::from_str(t),
                Err(_) => js_sys::Uint8Array::from(*b).into(),
            },
        })
        .collect()
}

fn command_name<'a>(argv: &[Arg<'a>]) -> &'a str {
    match argv.first() {
        Some(Arg::Text(name)) => name,
        _ => "a command",
    }
}

/// [`send`] for a command whose answer is one stored value: a value of
/// [`HOLD_MIN_BYTES`] or more that the client answered as bytes stays in JS memory
/// ([`Reply::Held`], as `connectRedis` holds it), copied there once, so that reading it
/// through node-redis or ioredis does not grow wasm memory, which never shrinks, by the value.
async fn send_value(promise: js_sys::Promise, name: &str) -> Result<Reply, StoreError> {
    let answer = JsFuture::from(promise)
        .await
        .map_err(|cause| client_error(name, cause))?;
    // Only a real byte view (`instanceof` would also admit a Proxy or an object that merely
    // inherits from Uint8Array, whose intrinsic getters throw through wasm).
    if let Some(view) = byte_view(&answer) {
        let len = view.length() as usize;
        if len >= HOLD_MIN_BYTES {
            // A copy of our own: the client's buffer is the client's to reuse or detach.
            let bytes: Rc<dyn HostBytes> = Rc::new(JsHeld(view.slice(0, view.length())));
            return Ok(Reply::Held(Box::new(Held {
                id: 0,
                len,
                bytes: Some(bytes),
            })));
        }
    }
    reply_as(&answer, name)
}

/// A client's rejection as the store's error; a server's error reply is its answer.
fn client_error(name: &str, cause: JsValue) -> StoreError {
    let error = StoreError::with_cause(
        format!("Redis {name} failed: {}", error_text(&cause)),
        Rc::new(cause.clone()),
    );
    if is_server_error(&cause) {
        error.answered()
    } else {
        error
    }
}

/// A client's answer as a [`Reply`], or the store's error saying what it was instead.
fn reply_as(answer: &JsValue, name: &str) -> Result<Reply, StoreError> {
    reply_of(answer, 0).map_err(|what| {
        let message = format!("the Redis client answered {name} with {what}");
        StoreError::with_cause(message.clone(), Rc::new(type_error(&message))).answered()
    })
}

async fn send(promise: js_sys::Promise, name: &str) -> Result<Reply, StoreError> {
    let answer = JsFuture::from(promise)
        .await
        .map_err(|cause| client_error(name, cause))?;
    reply_as(&answer, name)
}

/// A client's answer as a [`Reply`]; `Err` says what it was instead.
fn reply_of(answer: &JsValue, depth: usize) -> Result<Reply, String> {
    if is_absent(answer) {
        return Ok(Reply::Nil);
    }
    if let Some(n) = answer.as_f64() {
        if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 {
            return Ok(Reply::Int(n as i64));
        }
        return Err(format!("the number {}", crate::codec::Plain(n)));
    }
    if answer.is_bigint() {
        return i64::try_from(answer.clone().unchecked_into::<js_sys::BigInt>())
            .map(Reply::Int)
            .map_err(|_| "a BigInt beyond 64 bits".into());
    }
    if let Some(array) = answer.dyn_ref::<js_sys::Array>() {
        if depth >= MAX_REPLY_DEPTH {
            return Err("arrays nested too deeply".into());
        }
        return array
            .iter()
            .map(|item| reply_of(&item, depth + 1))
            .collect::<Result<_, _>>()
            .map(Reply::Array);
    }
    match bytes_of(answer) {
        Ok(Some(bytes)) => Ok(Reply::Bytes(bytes)),
        Ok(None) => Err(describe_value(answer)),
        Err(_) => Err("bytes that cannot be read (a detached buffer?)".into()),
    }
}

/// A native client's failure, in the words the JS path uses, with the client's error as
/// the cause (an `Error` with the same text and `code` `REDIS_SERVER` or
/// `REDIS_CONNECTION`, as `connectRedis`'s own commands reject with), so a caller sees the
/// same `cause` whichever client it handed in. A server's error reply is its answer.
fn native_error(name: &str, error: &crate::resp::RespError) -> StoreError {
    let cause = js_sys::Error::new(&error.to_string());
    let code = match error {
        crate::resp::RespError::Server(_) => "REDIS_SERVER",
        _ => "REDIS_CONNECTION",
    };
    let _ = js_sys::Reflect::set(&cause, &"code".into(), &code.into());
    let cause: JsValue = cause.into();
    let store = StoreError::with_cause(format!("Redis {name} failed: {error}"), Rc::new(cause));
    if matches!(error, crate::resp::RespError::Server(_)) {
        store.answered()
    } else {
        store
    }
}

/// A blocking command's own wait (its last argument, in seconds) in milliseconds.
fn blocking_wait_ms(argv: &[Arg<'_>]) -> Option<f64> {
    match argv.last() {
        Some(Arg::Text(t)) => crate::codec::decimal::parse_f64(t).map(|s| s * 1000.0),
        _ => None,
    }
}

impl JsRedis {
    async fn shared_command(&self, argv: &[Arg<'_>], hold: bool) -> Result<Reply, StoreError> {
        let c = &self.shared;
        match &c.dialect {
            Dialect::Native(n) => n
                .command_with(argv, None, hold)
                .await
                .map_err(|e| native_error(command_name(argv), &e)),
            Dialect::Js(dialect) => {
                let promise = redis_command(&c.client, dialect, &argv_array(argv));
                if hold {
                    send_value(promise, command_name(argv)).await
                } else {
                    send(promise, command_name(argv)).await
                }
            }
        }
    }

    async fn blocking(&self, argv: &[Arg<'_>], hold: bool) -> Result<Reply, StoreError> {
        let Some((c, state)) = &self.blocking else {
            return self.shared_command(argv, hold).await;
        };
        match &c.dialect {
            Dialect::Native(n) => n
                .command_with(argv, blocking_wait_ms(argv), hold)
                .await
                .map_err(|e| native_error(command_name(argv), &e)),
            Dialect::Js(dialect) => {
                let promise = redis_blocking(&c.client, dialect, &argv_array(argv), state);
                if hold {
                    send_value(promise, command_name(argv)).await
                } else {
                    send(promise, command_name(argv)).await
                }
            }
        }
    }
}

impl RedisClient for JsRedis {
    async fn command(&self, argv: &[Arg<'_>]) -> Result<Reply, StoreError> {
        self.shared_command(argv, false).await
    }

    async fn command_value(&self, argv: &[Arg<'_>]) -> Result<Reply, StoreError> {
        self.shared_command(argv, true).await
    }

    async fn command_host(
        &self,
        argv: &[Arg<'_>],
        at: usize,
        host: &Rc<dyn HostBytes>,
    ) -> Result<Reply, StoreError> {
        if let (Dialect::Native(n), Some(bytes)) = (&self.shared.dialect, js_held(host.as_ref())) {
            return n
                .command_host(argv, None, at, bytes)
                .await
                .map_err(|e| native_error(command_name(argv), &e));
        }
        // A JS client takes the buffer itself, which never enters wasm.
        if let (Dialect::Js(dialect), Some(bytes)) = (&self.shared.dialect, js_held(host.as_ref()))
        {
            let args = argv_array(argv);
            args.set(at as u32, bytes.clone().into());
            let promise = redis_command(&self.shared.client, dialect, &args);
            return send(promise, command_name(argv)).await;
        }
        let bytes = crate::results::store::Stored::Host(host.clone()).into_bytes();
        self.shared_command(&with_arg(argv, at, &bytes), false)
            .await
    }

    fn has_blocking(&self) -> bool {
        self.blocking.is_some()
    }

    fn blocking_idle(&self) -> bool {
        self.blocking
            .as_ref()
            .is_some_and(|(c, state)| match &c.dialect {
                Dialect::Native(n) => n.idle(),
                Dialect::Js(_) => redis_idle(state),
            })
    }

    async fn blocking_command(&self, argv: &[Arg<'_>]) -> Result<Reply, StoreError> {
        self.blocking(argv, false).await
    }

    async fn blocking_command_value(&self, argv: &[Arg<'_>]) -> Result<Reply, StoreError> {
        self.blocking(argv, true).await
    }
}
