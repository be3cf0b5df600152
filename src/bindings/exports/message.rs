//! `Message`: Dramatiq's message as a JS class, and reading message identities.

use wasm_bindgen::prelude::*;

use super::errors::to_js;
use super::interchange::{value_from_js_keeping, value_to_js_keeping};
use crate::bindings::drivers::random::random_bytes;
use crate::bindings::drivers::timer::epoch_ms;
use crate::bindings::js::{
    adopt, bytes_from_js, is_absent, opt_number, opt_string, options_object, prop, type_error,
    type_error_caused,
};
use crate::codec::surrogates::{entries_without_stand_ins, has_stand_in, value_without_stand_ins};
use crate::codec::value::Value;
use crate::model::error::ResultError;
use crate::model::message::{python_refusal, uuid4, DecodeFailure, Message as CoreMessage};

/// The three fields a result key is derived from, read off any object that has them:
/// a `Message`, `{ queueName, actorName, messageId }`, or a Python message dict
/// (`queue_name`, `actor_name`, `message_id`).
pub struct Identity {
    /// Queue name as carried.
    pub queue_name: String,
    /// Actor name.
    pub actor_name: String,
    /// Message id.
    pub message_id: String,
}

fn field(obj: &JsValue, camel: &str, snake: &str) -> Result<String, JsValue> {
    let mut v = prop(obj, camel)?;
    if is_absent(&v) {
        v = prop(obj, snake)?;
    }
    v.as_string().ok_or_else(|| {
        type_error(&format!(
            "message.{camel} must be a string (pass a Message or {{ queueName, actorName, messageId }})"
        ))
    })
}

#[wasm_bindgen(module = "/src/bindings/exports/identity.js")]
extern "C" {
    // `catch`: the message's getters are the caller's code and may throw.
    #[wasm_bindgen(js_name = identityOf, catch)]
    fn identity_of(message: &JsValue) -> Result<JsValue, JsValue>;
}

impl Identity {
    /// The identity of `message` as the JS side joins it (`identityOf` in `identity.js`): a
    /// string for a `Message` (the same string on every call) or a valid plain object;
    /// anything else otherwise. For [`Identity::from_joined`], and as a cache key.
    pub fn joined(message: &JsValue) -> Result<JsValue, JsValue> {
        identity_of(message)
            .map_err(|cause| type_error_caused("reading the message's identity threw", &cause))
    }

    /// The three parts of a joined identity string (`identityOf`'s `queue\0actor\0id`).
    pub fn split(text: &str) -> Option<(&str, &str, &str)> {
        let mut parts = text.splitn(3, '\0');
        Some((parts.next()?, parts.next()?, parts.next()?))
    }

    /// The identity of `message` from what [`Identity::joined`] answered for it; `TypeError`
    /// if a field is missing or not a string.
    pub fn from_joined(message: &JsValue, joined: &JsValue) -> Result<Identity, JsValue> {
        if let Some((q, a, i)) = joined.as_string().as_deref().and_then(Self::split) {
            return Ok(Identity {
                queue_name: q.to_owned(),
                actor_name: a.to_owned(),
                message_id: i.to_owned(),
            });
        }
        // `identityOf` answers a string, a new array of three strings, or undefined.
        if let Some(parts) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Array>(joined) {
            let part = |i| parts.get(i).as_string().unwrap_or_default();
            return Ok(Identity {
                queue_name: part(0),
                actor_name: part(1),
                message_id: part(2),
            });
        }
        // Not a valid identity: read field by field to say which one is wrong.
        Self::read_fields(message)
    }

    fn read_fields(message: &JsValue) -> Result<Identity, JsValue> {
        if !message.is_object() {
            return Err(type_error(
                "message must be a Message or an object with queueName, actorName and messageId",
            ));
        }
        Ok(Identity {
            queue_name: field(message, "queueName", "queue_name")?,
            actor_name: field(message, "actorName", "actor_name")?,
            message_id: field(message, "messageId", "message_id")?,
        })
    }
}

/// A Dramatiq message: an actor call with its arguments and options.
#[wasm_bindgen]
#[derive(Debug, Clone)]
pub struct Message {
    inner: CoreMessage,
}

/// `value` (from JS) as a list, and whether its strings hold stand-ins for lone surrogates
/// (`value_from_js_keeping`).
fn list_of(value: &JsValue, what: &str) -> Result<(Vec<Value>, bool), JsValue> {
    if is_absent(value) {
        return Ok((Vec::new(), false));
    }
    match value_from_js_keeping(value)? {
        (Value::List(items), lone) => Ok((items, lone)),
        _ => Err(type_error(&format!("{what} must be an array"))),
    }
}

/// `value` (from JS) as a dict's entries, and whether its strings hold stand-ins.
fn dict_of(value: &JsValue, what: &str) -> Result<(Vec<(String, Value)>, bool), JsValue> {
    if is_absent(value) {
        return Ok((Vec::new(), false));
    }
    match value_from_js_keeping(value)? {
        (Value::Dict(entries), lone) => Ok((entries, lone)),
        _ => Err(type_error(&format!("{what} must be a plain object"))),
    }
}

/// A message's `args`, `kwargs` and `options`.
type Payload = (Vec<Value>, Vec<(String, Value)>, Vec<(String, Value)>);

/// A message's `args`, `kwargs` and `options` from JS, and whether their strings hold
/// stand-ins for lone surrogates (see `Message::lone_surrogates`). A field that already
/// holds a stand-in character would be written back as a lone surrogate: then the other
/// fields' lone surrogates are U+FFFD, as the plain reading has them (each field is read
/// from JS once).
fn payload_of(
    args: &JsValue,
    kwargs: &JsValue,
    options: &JsValue,
) -> Result<(Payload, bool), JsValue> {
    let (args, a) = list_of(args, "args")?;
    let (kwargs, k) = dict_of(kwargs, "kwargs")?;
    let (options, o) = dict_of(options, "options")?;
    if !(a || k || o) {
        return Ok(((args, kwargs, options), false));
    }
    let held = |v: Value, marked: bool| !marked && has_stand_in(&v);
    if !(held(Value::List(args.clone()), a)
        || held(Value::Dict(kwargs.clone()), k)
        || held(Value::Dict(options.clone()), o))
    {
        return Ok(((args, kwargs, options), true));
    }
    let entries = |entries: Vec<(String, Value)>, marked: bool| {
        if marked {
            entries_without_stand_ins(entries)
        } else {
            entries
        }
    };
    let args = if a {
        args.into_iter().map(value_without_stand_ins).collect()
    } else {
        args
    };
    let (kwargs, options) = (entries(kwargs, k), entries(options, o));
    Ok(((args, kwargs, options), false))
}

/// A `messageTimestamp` from JS: the whole milliseconds decisions use and, for a fractional
/// number, the float written as given (Python keeps `time.time() * 1000` as a float too).
fn timestamp(value: Option<f64>) -> Result<(i64, Option<f64>), JsValue> {
    match value {
        None => Ok((epoch_ms() as i64, None)),
        Some(ms) if ms.is_finite() && ms.abs() < 9.2e18 => {
            Ok((ms.trunc() as i64, (ms.fract() != 0.0).then_some(ms)))
        }
        Some(ms) => Err(type_error(&format!(
            "messageTimestamp must be a finite number of milliseconds within 64 bits, got {}",
            crate::codec::Plain(ms)
        ))),
    }
}

impl Message {
    /// The core message.
    pub fn core(&self) -> &CoreMessage {
        &self.inner
    }

    /// Wraps a core message.
    pub fn from_core(inner: CoreMessage) -> Message {
        Message { inner }
    }
}

#[wasm_bindgen]
impl Message {
    /// `new Message({ queueName = "default", actorName, messageId = uuid4(), args = [],
    /// kwargs = {}, options = {}, messageTimestamp = Date.now() })`.
    #[wasm_bindgen(constructor)]
    pub fn new(fields: JsValue) -> Result<Message, JsValue> {
        let fields = options_object(&fields, "Message fields")?;
        let actor_name = opt_string(&fields, "actorName")?
            .ok_or_else(|| type_error("Message needs an actorName"))?;
        let (message_timestamp, float_timestamp) =
            timestamp(opt_number(&fields, "messageTimestamp")?)?;
        let ((args, kwargs, options), lone_surrogates) = payload_of(
            &prop(&fields, "args")?,
            &prop(&fields, "kwargs")?,
            &prop(&fields, "options")?,
        )?;
        Ok(Message {
            inner: CoreMessage {
                queue_name: opt_string(&fields, "queueName")?.unwrap_or_else(|| "default".into()),
                actor_name,
                args,
                kwargs,
                options,
                message_id: opt_string(&fields, "messageId")?
                    .unwrap_or_else(|| uuid4(random_bytes())),
                message_timestamp,
                float_timestamp,
                lone_surrogates,
            },
        })
    }

    /// Reads a Dramatiq message dict (snake_case, as Python's `message.asdict()`).
    #[wasm_bindgen(js_name = fromDict)]
    pub fn from_dict(dict: JsValue) -> Result<Message, JsValue> {
        let (v, lone_surrogates) = value_from_js_keeping(&dict)?;
        let mut core = CoreMessage::from_dict(&v, epoch_ms() as i64)
            .map_err(|e| type_error(&e.to_string()))?;
        core.lone_surrogates = lone_surrogates;
        Ok(Message::from_core(core))
    }

    /// Decodes an encoded message (the bytes a broker carries), refusing what Python's
    /// `Message.decode` refuses: a key that is no message field, a missing `args`, `kwargs`
    /// or `options`; a missing `message_id` is a fresh one, as Python's default.
    pub fn decode(bytes: JsValue) -> Result<Message, JsValue> {
        let raw = bytes_from_js(&bytes)?;
        CoreMessage::decode_python(&raw, epoch_ms() as i64, || uuid4(random_bytes()))
            .map(Message::from_core)
            .map_err(|e| match e {
                DecodeFailure::NotJson(e) => type_error(&format!("invalid message bytes: {e}")),
                DecodeFailure::Refused(e) => type_error(&e.to_string()),
            })
    }

    /// The message dict in these bytes, as Python's `Message.decode` reads it, decoded once:
    /// `DecodeError` when they are no JSON Python reads, a `TypeError` saying why when
    /// Python's checks refuse the dict (a key that is no field, a missing field with no
    /// default). Builds no message and checks no types (Python checks none), so a body the
    /// gateway lists as a message is one a Python worker runs.
    #[wasm_bindgen(js_name = decodeDict)]
    pub fn decode_dict(bytes: JsValue) -> Result<JsValue, JsValue> {
        let raw = bytes_from_js(&bytes)?;
        let (v, lone_surrogates) = crate::codec::surrogates::decode_marking_surrogates(&raw)
            .map_err(|source| {
                to_js(&ResultError::Decode {
                    key: String::new(),
                    source,
                })
            })?;
        if let Some(why) = python_refusal(&v) {
            return Err(type_error(&format!("not a message Python decodes: {why}")));
        }
        value_to_js_keeping(&v, lone_surrogates)
    }

    /// The snake_case dict Dramatiq enqueues (`message.asdict()`).
    #[wasm_bindgen(js_name = asDict)]
    pub fn as_dict(&self) -> Result<JsValue, JsValue> {
        value_to_js_keeping(&self.inner.to_dict(), self.inner.lone_surrogates)
    }

    /// The bytes Dramatiq's `JSONEncoder` writes for this message.
    pub fn encode(&self) -> js_sys::Uint8Array {
        js_sys::Uint8Array::from(self.inner.encode().as_slice())
    }

    /// A copy with some fields replaced (`{ messageId, queueName, options, … }`), as
    /// Python's `message.copy(**fields)`: `options` are added to the message's own, as
    /// Python merges them. How to rebuild a message from a known id.
    pub fn copy(&self, changes: JsValue) -> Result<Message, JsValue> {
        let changes = options_object(&changes, "changes")?;
        let mut m = self.inner.clone();
        if let Some(q) = opt_string(&changes, "queueName")? {
            m.queue_name = q;
        }
        if let Some(a) = opt_string(&changes, "actorName")? {
            m.actor_name = a;
        }
        if let Some(id) = opt_string(&changes, "messageId")? {
            m.message_id = id;
        }
        // New fields keep their lone surrogates, unless the message's own strings hold a
        // character of the stand-ins' range (asked only when a new field has one).
        let args = prop(&changes, "args")?;
        let args = (!is_absent(&args))
            .then(|| list_of(&args, "args"))
            .transpose()?;
        let kwargs = prop(&changes, "kwargs")?;
        let kwargs = (!is_absent(&kwargs))
            .then(|| dict_of(&kwargs, "kwargs"))
            .transpose()?;
        let options = prop(&changes, "options")?;
        let options = (!is_absent(&options))
            .then(|| dict_of(&options, "options"))
            .transpose()?;
        let marked = [
            args.as_ref().map(|a| a.1),
            kwargs.as_ref().map(|k| k.1),
            options.as_ref().map(|o| o.1),
        ];
        let lone = marked.contains(&Some(true));
        let plain = lone && !m.lone_surrogates && has_stand_in(&m.to_dict());
        let entries = |(entries, marked): (Vec<(String, Value)>, bool)| {
            if plain && marked {
                entries_without_stand_ins(entries)
            } else {
                entries
            }
        };
        if let Some((items, marked)) = args {
            m.args = if plain && marked {
                items.into_iter().map(value_without_stand_ins).collect()
            } else {
                items
            };
        }
        if let Some(kwargs) = kwargs {
            m.kwargs = entries(kwargs);
        }
        if let Some(options) = options {
            m.merge_options(entries(options));
        }
        m.lone_surrogates |= lone && !plain;
        if let Some(ts) = opt_number(&changes, "messageTimestamp")? {
            (m.message_timestamp, m.float_timestamp) = timestamp(Some(ts))?;
        }
        Ok(Message { inner: m })
    }

    /// The queue name.
    #[wasm_bindgen(getter, js_name = queueName)]
    pub fn queue_name(&self) -> String {
        self.inner.queue_name.clone()
    }

    /// The actor name.
    #[wasm_bindgen(getter, js_name = actorName)]
    pub fn actor_name(&self) -> String {
        self.inner.actor_name.clone()
    }

    /// The message id.
    #[wasm_bindgen(getter, js_name = messageId)]
    pub fn message_id(&self) -> String {
        self.inner.message_id.clone()
    }

    /// Milliseconds since the epoch when the message was built.
    #[wasm_bindgen(getter, js_name = messageTimestamp)]
    pub fn message_timestamp(&self) -> f64 {
        self.inner
            .float_timestamp
            .unwrap_or(self.inner.message_timestamp as f64)
    }

    /// Positional arguments (a fresh array each time).
    #[wasm_bindgen(getter)]
    pub fn args(&self) -> Result<JsValue, JsValue> {
        value_to_js_keeping(
            &Value::List(self.inner.args.clone()),
            self.inner.lone_surrogates,
        )
    }

    /// Keyword arguments (a fresh object each time).
    #[wasm_bindgen(getter)]
    pub fn kwargs(&self) -> Result<JsValue, JsValue> {
        value_to_js_keeping(
            &Value::Dict(self.inner.kwargs.clone()),
            self.inner.lone_surrogates,
        )
    }

    /// Message options (a fresh object each time).
    #[wasm_bindgen(getter)]
    pub fn options(&self) -> Result<JsValue, JsValue> {
        value_to_js_keeping(
            &Value::Dict(self.inner.options.clone()),
            self.inner.lone_surrogates,
        )
    }

    /// Python's `str(message)`: `actor(1, 'x', k=2)`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_string_js(&self) -> String {
        self.inner.display()
    }

    /// This message's result: `backend.getResult(this, options)` with `options.backend`,
    /// else the global broker's results backend. Always returns a Promise; bad arguments
    /// and a missing backend reject it.
    #[wasm_bindgen(js_name = getResult)]
    pub fn get_result(&self, options: JsValue) -> js_sys::Promise {
        self.call_backend(options)
            .unwrap_or_else(|err| js_sys::Promise::reject(&err))
    }
}

#[wasm_bindgen(module = "/src/bindings/exports/global.js")]
extern "C" {
    /// The global broker's results backend; throws when there is none or it has no
    /// `Results` middleware.
    #[wasm_bindgen(js_name = globalResultsBackend, catch)]
    fn global_results_backend() -> Result<JsValue, JsValue>;
}

impl Message {
    fn call_backend(&self, options: JsValue) -> Result<js_sys::Promise, JsValue> {
        let options = options_object(&options, "options")?;
        let mut backend = prop(&options, "backend")?;
        if is_absent(&backend) {
            backend = global_results_backend()?;
        }
        let identity = js_sys::Object::new();
        for (k, v) in [
            ("queueName", &self.inner.queue_name),
            ("actorName", &self.inner.actor_name),
            ("messageId", &self.inner.message_id),
        ] {
            js_sys::Reflect::set(&identity, &k.into(), &JsValue::from_str(v))?;
        }
        let method = prop(&backend, "getResult")?;
        let Some(method) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Function>(&method) else {
            return Err(type_error("options.backend must be a result backend"));
        };
        let out = method.call2(&backend, &identity, &options)?;
        Ok(adopt(&out))
    }
}
