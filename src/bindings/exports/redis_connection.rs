//! `connectRedis(url, options)`: the package's own Redis client, over the host's TCP (Node's
//! `net`/`tls`, Workers' `cloudflare:sockets`), shaped like node-redis (`sendCommand(argv)`,
//! `close()`, `duplicate()`) so `RedisBackend`, `RedisBroker` and code written for
//! node-redis accept it. The host entry picks the socket and hands it in
//! (`pkg/src/net/redis_connect.js`); the connection itself is `drivers::redis_socket`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::errors::redis_error;
use super::interchange::text_of_bytes;
use super::promise::{promise_of, reject};
use crate::bindings::drivers::redis_socket::{js_held, register, Settings, SocketRedis};
use crate::bindings::js::{
    byte_view, is_absent, known_options, opt_number, opt_string, prop, type_error,
};
use crate::codec::value::MAX_SAFE_INT;
use crate::resp::parser::DEFAULT_MAX_REPLY_BYTES;
use crate::resp::{ConnectOptions, Limits, Reply, RespError};
use crate::results::backend::DEFAULT_MAX_VALUE_BYTES;

/// How long a connect may take when neither the URL nor the options say.
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;

/// A Redis connection made by `connectRedis`.
#[wasm_bindgen(js_name = RedisConnection)]
pub struct RedisConnection {
    client: SocketRedis,
}

/// The JS error for a client failure: a `ResultError` with code `REDIS_SERVER` (the
/// server's error reply, its text as the message) or `REDIS_CONNECTION` (anything else).
fn to_js(error: &RespError) -> JsValue {
    let code = match error {
        RespError::Server(_) => "REDIS_SERVER",
        _ => "REDIS_CONNECTION",
    };
    redis_error(code, &error.to_string())
}

/// The `RedisConnection` object for `client`, registered so stores recognise it.
fn wrap(client: SocketRedis) -> JsValue {
    let object = JsValue::from(RedisConnection {
        client: client.clone(),
    });
    register(&object, &client);
    object
}

/// Reads the URL and the options into [`Settings`].
fn settings(url: &JsValue, options: &JsValue) -> Result<Settings, JsValue> {
    let Some(url) = url.as_string() else {
        return Err(type_error(
            "connectRedis needs a Redis URL string (redis://[user:password@]host[:port][/db] or rediss://…)",
        ));
    };
    let options = known_options(
        options,
        "connectRedis()",
        &[
            "connectTimeout",
            "commandTimeout",
            "maxValueBytes",
            "maxReplyBytes",
            "tls",
            "name",
        ],
    )?;
    let mut connect = ConnectOptions::from_url(&url).map_err(|e| type_error(&e.to_string()))?;
    let ms = |name: &str| -> Result<Option<f64>, JsValue> {
        match opt_number(&options, name)? {
            Some(n) if n.is_nan() || n < 0.0 => Err(type_error(&format!(
                "option {name} must be a non-negative number of milliseconds"
            ))),
            other => Ok(other),
        }
    };
    if let Some(t) = ms("connectTimeout")? {
        connect.connect_timeout_ms = Some(t.min(u32::MAX as f64).ceil() as u64);
    }
    if connect.connect_timeout_ms.is_none() {
        connect.connect_timeout_ms = Some(DEFAULT_CONNECT_TIMEOUT_MS);
    }
    let command_timeout_ms = ms("commandTimeout")?.filter(|t| t.is_finite());
    let max_bulk = match opt_number(&options, "maxValueBytes")? {
        None => DEFAULT_MAX_VALUE_BYTES,
        Some(n) if n == f64::INFINITY => usize::MAX,
        Some(n) if n >= 0.0 && n.fract() == 0.0 => n.min(usize::MAX as f64) as usize,
        Some(_) => {
            return Err(type_error(
                "option maxValueBytes must be a non-negative integer or Infinity",
            ))
        }
    };
    // A reply may always hold one value of the largest size allowed, plus room around it.
    let max_reply = match opt_number(&options, "maxReplyBytes")? {
        None => DEFAULT_MAX_REPLY_BYTES.max(max_bulk.saturating_add(1 << 20)),
        Some(n) if n == f64::INFINITY => usize::MAX,
        Some(n) if n >= 0.0 && n.fract() == 0.0 => n.min(usize::MAX as f64) as usize,
        Some(_) => {
            return Err(type_error(
                "option maxReplyBytes must be a non-negative integer or Infinity",
            ))
        }
    };
    if let Some(name) = opt_string(&options, "name")? {
        connect.client_name = Some(name).filter(|n| !n.is_empty());
    }
    let tls = prop(&options, "tls")?;
    let tls_options = if tls.is_object() {
        connect.tls = true;
        tls
    } else if tls.as_bool() == Some(true) {
        connect.tls = true;
        JsValue::UNDEFINED
    } else if is_absent(&tls) || tls.as_bool() == Some(false) {
        JsValue::UNDEFINED
    } else {
        return Err(type_error(
            "option tls must be true or an object of TLS options (ca, servername, …)",
        ));
    };
    Ok(Settings {
        options: connect,
        limits: Limits {
            max_bulk,
            max_reply,
            ..Limits::default()
        },
        command_timeout_ms,
        tls_options,
    })
}

/// `connectRedis(url, options)` with the host's `openSocket` (the entry passes it; a
/// browser has none). Resolves with a connected `RedisConnection` once the handshake
/// (`AUTH`, `SELECT`, `PING`) succeeded; rejects with a `ResultError` saying why not.
#[wasm_bindgen(js_name = connectRedisWith)]
pub fn connect_redis_with(open_socket: JsValue, url: JsValue, options: JsValue) -> js_sys::Promise {
    let Some(open_socket) = open_socket.dyn_ref::<js_sys::Function>().cloned() else {
        return reject(redis_error(
            "REDIS_UNSUPPORTED",
            "connectRedis needs TCP sockets, which this host does not have (browsers have \
             none): read results in a browser through an HTTP endpoint (KvBackend over \
             fetch) or IndexedDbBackend; a Node bundle made without the `node` export \
             condition gets the browser entry: bundle for Node (esbuild --platform=node, \
             Rollup's nodeResolve({ exportConditions: [\"node\"] }), webpack target \"node\")",
        ));
    };
    let settings = match settings(&url, &options) {
        Ok(s) => s,
        Err(e) => return reject(e),
    };
    promise_of(async move {
        let client = SocketRedis::connect(open_socket, settings)
            .await
            .map_err(|e| to_js(&e))?;
        Ok(wrap(client))
    })
}

/// Reads a command's arguments: strings, numbers, or bytes.
fn argv_of(argv: &JsValue) -> Result<Vec<Vec<u8>>, JsValue> {
    let Some(array) = argv.dyn_ref::<js_sys::Array>() else {
        return Err(type_error(
            "sendCommand needs an array of arguments, the command name first",
        ));
    };
    if array.length() == 0 {
        return Err(type_error("sendCommand needs at least the command name"));
    }
    array
        .iter()
        .map(|a| {
            if let Some(s) = a.as_string() {
                Ok(s.into_bytes())
            } else if let Some(n) = a.as_f64().filter(|n| n.is_finite()) {
                Ok(crate::codec::Plain(n).to_string().into_bytes())
            } else if let Some(bytes) = byte_view(&a) {
                // Not `dyn_ref`: `instanceof` admits an object that only inherits from
                // Uint8Array, whose intrinsic getters would throw through wasm.
                Ok(bytes.to_vec())
            } else {
                Err(type_error(
                    "a command argument must be a string, a finite number or a Uint8Array",
                ))
            }
        })
        .collect()
}

/// How bulk strings come back: text (node-redis's default), or bytes when the options ask
/// for them as node-redis does (`returnBuffers`, or `typeMapping` for blob strings, type 36:
/// then through that class's `from`, e.g. `Buffer`).
enum Bulk {
    Text,
    Bytes(Option<js_sys::Function>, JsValue),
}

fn bulk_of(options: &JsValue) -> Result<Bulk, JsValue> {
    if !options.is_object() {
        return Ok(Bulk::Text);
    }
    let mapped = prop(&prop(options, "typeMapping")?, "36")?;
    if let Some(class) = mapped.dyn_ref::<js_sys::Function>() {
        // A class is a function, which `prop` does not look into.
        let from =
            js_sys::Reflect::get(&mapped, &JsValue::from_str("from")).unwrap_or(JsValue::UNDEFINED);
        return Ok(Bulk::Bytes(
            from.dyn_ref::<js_sys::Function>().cloned(),
            class.into(),
        ));
    }
    if prop(options, "returnBuffers")?.as_bool() == Some(true) {
        return Ok(Bulk::Bytes(None, JsValue::UNDEFINED));
    }
    Ok(Bulk::Text)
}

fn reply_to_js(reply: Reply, bulk: &Bulk) -> JsValue {
    match reply {
        Reply::Nil => JsValue::NULL,
        // A number where it is exact, as node-redis gives; beyond 2^53 a BigInt, never a
        // silently rounded number (`:-9223372036854775807` would read as -2^63).
        Reply::Int(n) if (-MAX_SAFE_INT..=MAX_SAFE_INT).contains(&n) => JsValue::from(n as f64),
        Reply::Int(n) => JsValue::from(n),
        Reply::Bytes(b) => match bulk {
            Bulk::Text => JsValue::from_str(&String::from_utf8_lossy(&b)),
            Bulk::Bytes(from, class) => {
                let bytes: JsValue = js_sys::Uint8Array::from(b.as_slice()).into();
                match from {
                    Some(from) => from.call1(class, &bytes).unwrap_or(bytes),
                    None => bytes,
                }
            }
        },
        Reply::Held(held) => {
            // A large value that stayed in JS memory: no copy through wasm.
            let Some(bytes) = held.bytes.as_deref().and_then(js_held).cloned() else {
                return JsValue::NULL;
            };
            match bulk {
                Bulk::Text => text_of_bytes(&bytes),
                Bulk::Bytes(from, class) => {
                    let bytes: JsValue = bytes.into();
                    match from {
                        Some(from) => from.call1(class, &bytes).unwrap_or(bytes),
                        None => bytes,
                    }
                }
            }
        }
        Reply::Array(items) => items
            .into_iter()
            .map(|r| reply_to_js(r, bulk))
            .collect::<js_sys::Array>()
            .into(),
    }
}

#[wasm_bindgen(js_class = RedisConnection)]
impl RedisConnection {
    /// `sendCommand(argv, options?)`: sends a raw command, as node-redis's does. Bulk
    /// strings come back as text unless `options` asks for bytes (`returnBuffers: true`).
    #[wasm_bindgen(js_name = sendCommand)]
    pub fn send_command(&self, argv: JsValue, options: JsValue) -> js_sys::Promise {
        let (argv, bulk) = match argv_of(&argv).and_then(|a| Ok((a, bulk_of(&options)?))) {
            Ok(p) => p,
            Err(e) => return reject(e),
        };
        let client = self.client.clone();
        promise_of(async move {
            let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            match client.send_with(&refs, None, true).await {
                Ok(reply) => Ok(reply_to_js(reply, &bulk)),
                Err(e) => Err(to_js(&e)),
            }
        })
    }

    /// Closes the connection; commands still waiting, and later ones, fail. Resolves once
    /// the socket is closed. In a Worker: `ctx.waitUntil(client.close())`.
    pub fn close(&self) -> js_sys::Promise {
        let client = self.client.clone();
        promise_of(async move {
            client.close().await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// A new connection with the same URL and options (for `blockingClient`).
    pub fn duplicate(&self) -> js_sys::Promise {
        let client = self.client.clone();
        promise_of(async move {
            let twin = client.duplicate().await.map_err(|e| to_js(&e))?;
            Ok(wrap(twin))
        })
    }

    /// Lets a Node process exit while the connection is open (node-redis's `unref()`).
    pub fn unref(&self) {
        self.client.unref();
    }

    /// Whether `close()` has not been called (node-redis's `isOpen`).
    #[wasm_bindgen(getter, js_name = isOpen)]
    pub fn is_open(&self) -> bool {
        self.client.is_open()
    }

    /// Whether a connection is up and ready for commands (node-redis's `isReady`); a
    /// failed one is replaced by the next command.
    #[wasm_bindgen(getter, js_name = isReady)]
    pub fn is_ready(&self) -> bool {
        self.client.is_ready()
    }
}
