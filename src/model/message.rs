//! Messages: what an actor call is, in Dramatiq's wire form.
//!
//! A result is keyed by three of a message's fields (queue, actor, id); the rest (args,
//! kwargs, options, timestamp) travel with it so a message built here can be enqueued for a
//! Python worker and a Python message dict can be read here.

use crate::codec::value::Value;
use crate::codec::{self, py_repr};

/// The identity of a message: the fields its result key is derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRef<'a> {
    /// The queue as the message carries it (`default.DQ` is fine: the key uses `q_name`).
    pub queue_name: &'a str,
    /// The actor's name.
    pub actor_name: &'a str,
    /// The message id (a UUID string by default, but any string is accepted).
    pub message_id: &'a str,
}

/// A Dramatiq message (`dramatiq.Message`), with its fields in wire order.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The queue the message is on.
    pub queue_name: String,
    /// The actor that processes it.
    pub actor_name: String,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments, in order.
    pub kwargs: Vec<(String, Value)>,
    /// Message options (`store_results`, `result_ttl`, `pipe_target`, …), in order.
    pub options: Vec<(String, Value)>,
    /// The message id.
    pub message_id: String,
    /// Milliseconds since the Unix epoch when the message was created.
    pub message_timestamp: i64,
    /// The timestamp as its producer wrote it, when that was a float (`1700000000000.5`,
    /// `1.7e12`): Python's worker keeps the float and writes it back in a retry or a
    /// callback's message dict, so [`Message::to_dict`] does too. `None` for an integer.
    pub float_timestamp: Option<f64>,
    /// Whether its strings hold stand-ins for lone surrogates (`codec::surrogates`): read
    /// from bytes that escape one (Python's `str` holds them, as `surrogateescape` makes
    /// of an undecodable file name), written back as those escapes by [`Message::encode`]
    /// and as lone surrogates to JS, so a retry or a callback does not alter them.
    pub lone_surrogates: bool,
}

/// The most characters of a refused message's `message_id` its error quotes: a hostile
/// producer's id may be megabytes long.
pub const NAMED_ID_CHARS: usize = 100;

/// The fields of a message, in wire order: `dramatiq.Message`'s and no others.
pub const FIELDS: [&str; 7] = [
    "queue_name",
    "actor_name",
    "args",
    "kwargs",
    "options",
    "message_id",
    "message_timestamp",
];

/// Why a message dict could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid message: {0}")]
pub struct MessageError(pub String);

/// Why [`Message::decode_python`] read no message from a broker's bytes.
#[derive(Debug)]
pub enum DecodeFailure {
    /// The bytes are no JSON Python reads.
    NotJson(codec::DecodeError),
    /// The dict is one Python's `Message(**dict)` refuses.
    Refused(MessageError),
}

impl Message {
    /// The fields the result key is derived from.
    pub fn identity(&self) -> MessageRef<'_> {
        MessageRef {
            queue_name: &self.queue_name,
            actor_name: &self.actor_name,
            message_id: &self.message_id,
        }
    }

    /// A message option by name.
    pub fn option(&self, name: &str) -> Option<&Value> {
        self.options.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Sets (or replaces in place) a message option.
    pub fn set_option(&mut self, name: &str, value: Value) {
        match self.options.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.options.push((name.to_owned(), value)),
        }
    }

    /// `message.copy(options=new)`'s options: Dramatiq 2.2.1's `{**options, **new}`, so a
    /// copy adds to the options rather than replacing them; a key already there keeps its
    /// place with the new value, a new key goes last.
    pub fn merge_options(&mut self, new: Vec<(String, Value)>) {
        for (name, value) in new {
            self.set_option(&name, value);
        }
    }

    /// `message.asdict()`: the snake_case dict Dramatiq encodes and enqueues.
    pub fn to_dict(&self) -> Value {
        Value::Dict(vec![
            ("queue_name".into(), Value::Str(self.queue_name.clone())),
            ("actor_name".into(), Value::Str(self.actor_name.clone())),
            ("args".into(), Value::List(self.args.clone())),
            ("kwargs".into(), Value::Dict(self.kwargs.clone())),
            ("options".into(), Value::Dict(self.options.clone())),
            ("message_id".into(), Value::Str(self.message_id.clone())),
            (
                "message_timestamp".into(),
                match self.float_timestamp {
                    Some(x) => Value::Float(x),
                    None => Value::Int(self.message_timestamp),
                },
            ),
        ])
    }

    /// Reads a Dramatiq message dict. `queue_name`, `actor_name` and `message_id` are
    /// required strings; `args`, `kwargs`, `options` default to empty and
    /// `message_timestamp` to `default_timestamp`.
    ///
    /// When a dict that is not a valid message still has a string `message_id`, the error
    /// names it (cut to [`NAMED_ID_CHARS`]), so a log line says which message was refused.
    pub fn from_dict(dict: &Value, default_timestamp: i64) -> Result<Message, MessageError> {
        Self::read_dict(dict, default_timestamp).map_err(|MessageError(why)| named(dict, why))
    }

    fn read_dict(dict: &Value, default_timestamp: i64) -> Result<Message, MessageError> {
        let Value::Dict(_) = dict else {
            return Err(MessageError("a message must be an object".into()));
        };
        let text = |name: &str| -> Result<String, MessageError> {
            match dict.get(name) {
                Some(Value::Str(s)) => Ok(s.clone()),
                Some(_) => Err(MessageError(format!("{name} must be a string"))),
                None => Err(MessageError(format!("{name} is missing"))),
            }
        };
        let dict_field = |name: &str| -> Result<Vec<(String, Value)>, MessageError> {
            match dict.get(name) {
                Some(Value::Dict(entries)) => Ok(entries.clone()),
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(_) => Err(MessageError(format!("{name} must be an object"))),
            }
        };
        let args = match dict.get("args") {
            Some(Value::List(items)) => items.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(MessageError("args must be an array".into())),
        };
        let (message_timestamp, float_timestamp) = match dict.get("message_timestamp") {
            Some(Value::Int(n)) => (*n, None),
            // Python's producer writes an int, but its worker runs a message whose timestamp
            // is any number (a hand-made `Message(message_timestamp=time.time() * 1000)`):
            // so does ours, deciding on the millisecond and keeping the float as written.
            Some(Value::Float(x)) if x.is_finite() && x.abs() < 9.2e18 => {
                (x.trunc() as i64, Some(*x))
            }
            None | Some(Value::Null) => (default_timestamp, None),
            Some(_) => {
                return Err(MessageError(
                    "message_timestamp must be a number (milliseconds)".into(),
                ))
            }
        };
        Ok(Message {
            queue_name: text("queue_name")?,
            actor_name: text("actor_name")?,
            args,
            kwargs: dict_field("kwargs")?,
            options: dict_field("options")?,
            message_id: text("message_id")?,
            message_timestamp,
            float_timestamp,
            lone_surrogates: false,
        })
    }

    /// Reads a message dict as Python's `Message(**fields)` (and so `Message.decode`)
    /// accepts it: [`Message::from_dict`], after refusing what Python's constructor
    /// refuses — a key that is no field of a message (`Message.__init__() got an
    /// unexpected keyword argument`), and a missing `args`, `kwargs` or `options`, which
    /// have no default there. A missing `message_id` is Python's default, a fresh uuid4
    /// (`fresh_id`, asked only then), and null `kwargs` or `options`, which Python's worker
    /// fails on. What a worker takes off a queue is read this way, so a message Python's
    /// worker cannot run is not run here either, and one it runs is.
    pub fn from_python_dict(
        dict: &Value,
        default_timestamp: i64,
        fresh_id: impl FnOnce() -> String,
    ) -> Result<Message, MessageError> {
        if let Value::Dict(entries) = dict {
            if let Some(why) = python_refusal(dict) {
                return Err(named(dict, why));
            }
            // Python builds these, but its worker cannot run them: `**None` fails the actor,
            // and `"eta" in None` kills the consumer thread, which restarts on it for ever.
            for field in ["kwargs", "options"] {
                if dict.get(field) == Some(&Value::Null) {
                    return Err(named(dict, format!("{field} must be an object")));
                }
            }
            if dict.get("message_id").is_none() {
                let mut with_id = entries.clone();
                with_id.push(("message_id".into(), Value::Str(fresh_id())));
                return Message::from_dict(&Value::Dict(with_id), default_timestamp);
            }
        }
        Message::from_dict(dict, default_timestamp)
    }

    /// Appends `value` to the arguments, a value read from JS with each lone surrogate as
    /// its stand-in when `marked` (as the message's own strings are when
    /// [`Message::lone_surrogates`]), so that the message is written with both kept: a
    /// callback's payload, the result piped to a pipeline's next step. When only one side is
    /// marked and the other holds a stand-in character of its own (which the marking would
    /// write back as a lone surrogate), the marked side's lone surrogates are U+FFFD and the
    /// message is plain, as for a message built from JS fields (docs/python-users.md).
    pub fn push_arg_marked(&mut self, value: Value, marked: bool) {
        use codec::surrogates::{has_stand_in, value_without_stand_ins};
        if marked == self.lone_surrogates {
            self.args.push(value);
        } else if marked {
            if has_stand_in(&self.to_dict()) {
                self.args.push(value_without_stand_ins(value));
            } else {
                self.lone_surrogates = true;
                self.args.push(value);
            }
        } else {
            if has_stand_in(&value) {
                self.drop_stand_ins();
            }
            self.args.push(value);
        }
    }

    /// Reads every stand-in of this marked message as U+FFFD, and unmarks it.
    fn drop_stand_ins(&mut self) {
        use codec::surrogates::{
            entries_without_stand_ins, value_without_stand_ins, without_stand_ins,
        };
        self.args = std::mem::take(&mut self.args)
            .into_iter()
            .map(value_without_stand_ins)
            .collect();
        self.kwargs = entries_without_stand_ins(std::mem::take(&mut self.kwargs));
        self.options = entries_without_stand_ins(std::mem::take(&mut self.options));
        for name in [
            &mut self.queue_name,
            &mut self.actor_name,
            &mut self.message_id,
        ] {
            *name = without_stand_ins(name);
        }
        self.lone_surrogates = false;
    }

    /// The bytes Dramatiq's `JSONEncoder` writes for this message.
    pub fn encode(&self) -> Vec<u8> {
        let bytes = codec::encode(&self.to_dict());
        if self.lone_surrogates {
            codec::surrogates::write_stand_ins_back(bytes)
        } else {
            bytes
        }
    }

    /// Decodes a message dict from a broker's bytes, as Python's `Message.decode` reads
    /// them: [`Message::from_python_dict`] of the decoded dict, its lone surrogates kept.
    /// `Err` holds the bytes' decode error or the dict's refusal.
    pub fn decode_python(
        bytes: &[u8],
        default_timestamp: i64,
        fresh_id: impl FnOnce() -> String,
    ) -> Result<Message, DecodeFailure> {
        let (dict, lone_surrogates) =
            codec::surrogates::decode_marking_surrogates(bytes).map_err(DecodeFailure::NotJson)?;
        let mut message = Message::from_python_dict(&dict, default_timestamp, fresh_id)
            .map_err(DecodeFailure::Refused)?;
        message.lone_surrogates = lone_surrogates;
        Ok(message)
    }

    /// `str(message)` in Python: `actor(repr(arg), …, key=repr(value))`, the text Dramatiq
    /// gives `ResultMissing` and `ResultTimeout`.
    pub fn display(&self) -> String {
        let mut params: Vec<String> = self.args.iter().map(py_repr).collect();
        params.extend(
            self.kwargs
                .iter()
                .map(|(k, v)| format!("{k}={}", py_repr(v))),
        );
        let text = format!("{}({})", self.actor_name, params.join(", "));
        if self.lone_surrogates {
            codec::surrogates::repr_stand_ins_back(&text)
        } else {
            text
        }
    }
}

/// `why` a dict is refused, naming its `message_id` when it has a string one (cut to
/// [`NAMED_ID_CHARS`]), so a log line says which message was refused.
/// Why Python's `Message(**dict)` (and so `Message.decode`, and a Python worker taking it
/// off a queue) refuses this message dict, or `None` when it builds a message of it: a key
/// that is no field of a message (`unexpected keyword argument`), a missing `queue_name`,
/// `actor_name`, `args`, `kwargs` or `options` (no default there), or `args` of `None`
/// (`tuple(None)`). Python checks no types beyond these, so neither does this.
pub fn python_refusal(dict: &Value) -> Option<String> {
    let Value::Dict(entries) = dict else {
        return Some("not a dict".into());
    };
    if let Some((key, _)) = entries.iter().find(|(k, _)| !FIELDS.contains(&k.as_str())) {
        // Cut as the id is: a hostile producer's key may be megabytes long.
        let cut: String = key.chars().take(NAMED_ID_CHARS).collect();
        let more = if cut.len() < key.len() { "…" } else { "" };
        return Some(format!(
            "{}{more} is no field of a message",
            py_repr(&Value::Str(cut))
        ));
    }
    for required in ["args", "kwargs", "options", "queue_name", "actor_name"] {
        if dict.get(required).is_none() {
            return Some(format!("{required} is missing"));
        }
    }
    if dict.get("args") == Some(&Value::Null) {
        return Some("args must be an array".into());
    }
    None
}

fn named(dict: &Value, why: String) -> MessageError {
    match dict.get("message_id") {
        Some(Value::Str(id)) => {
            let cut: String = id.chars().take(NAMED_ID_CHARS).collect();
            let more = if cut.len() < id.len() { "…" } else { "" };
            MessageError(format!("{why} (message_id {cut:?}{more})"))
        }
        _ => MessageError(why),
    }
}

/// A version-4 UUID string from 16 random bytes (the bindings supply them from
/// `crypto.getRandomValues`), as Python's `str(uuid.uuid4())` formats it.
pub fn uuid4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        crate::model::key::push_hex(&mut s, *b);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_argument_pushed_with_its_stand_ins_is_written_with_its_lone_surrogates() {
        // U+10F800 is the stand-in of U+D800 (`codec::surrogates`).
        let lone = Value::Str("x\u{10F800}".into());
        let plain = br#"{"queue_name":"q","actor_name":"a","args":["p"],"kwargs":{},"options":{},"message_id":"m","message_timestamp":1}"#;
        // A plain message takes the marking of a marked value.
        let mut m = Message::decode_python(plain, 0, || "fresh".into()).unwrap();
        m.push_arg_marked(lone.clone(), true);
        assert!(m.encode().ends_with(br#""args":["p","x\ud800"],"kwargs":{},"options":{},"message_id":"m","message_timestamp":1}"#));
        // A marked message keeps its own lone surrogates beside the value's.
        let marked = br#"{"queue_name":"q","actor_name":"a","args":["\udfff"],"kwargs":{},"options":{},"message_id":"m","message_timestamp":1}"#;
        let mut m = Message::decode_python(marked, 0, || "fresh".into()).unwrap();
        m.push_arg_marked(lone.clone(), true);
        assert!(m.encode().ends_with(br#""args":["\udfff","x\ud800"],"kwargs":{},"options":{},"message_id":"m","message_timestamp":1}"#));
        // A plain value holding a stand-in character of its own (U+10F800 itself) is
        // written as that character: the marked message's lone surrogates are U+FFFD.
        let mut m = Message::decode_python(marked, 0, || "fresh".into()).unwrap();
        m.push_arg_marked(lone.clone(), false);
        assert!(!m.lone_surrogates);
        assert!(m.encode().ends_with(br#""args":["\ufffd","x\udbfe\udc00"],"kwargs":{},"options":{},"message_id":"m","message_timestamp":1}"#));
        // And a marked value joining a plain message that holds one: the value's are U+FFFD.
        let mut m = Message::decode_python(plain, 0, || "fresh".into()).unwrap();
        m.args = vec![Value::Str("\u{10F800}".into())];
        m.push_arg_marked(lone, true);
        assert!(!m.lone_surrogates);
        assert!(m.encode().ends_with(br#""args":["\udbfe\udc00","x\ufffd"],"kwargs":{},"options":{},"message_id":"m","message_timestamp":1}"#));
    }

    #[test]
    fn a_lone_surrogate_read_from_bytes_is_written_back_as_read() {
        let body = br#"{"queue_name":"default","actor_name":"a","args":["caf\udce9",{"k":"\ud800"}],"kwargs":{},"options":{"o":"\udfff"},"message_id":"m","message_timestamp":1}"#;
        let mut m = Message::decode_python(body, 0, || "fresh".into()).unwrap();
        assert!(m.lone_surrogates);
        assert_eq!(m.encode(), body.to_vec());
        // A retry's copy, with options merged, keeps them; its callback's message too.
        m.merge_options(vec![("retries".into(), Value::Int(1))]);
        assert!(String::from_utf8(m.encode())
            .unwrap()
            .contains(r#""args":["caf\udce9",{"k":"\ud800"}]"#));
        // A pair stays a pair, and a text that already holds a stand-in is read as before.
        let pair = br#"{"queue_name":"q","actor_name":"a","args":["\ud83d\ude00"],"kwargs":{},"options":{},"message_id":"m","message_timestamp":1}"#;
        let m = Message::decode_python(pair, 0, || "fresh".into()).unwrap();
        assert!(!m.lone_surrogates);
        assert_eq!(m.encode(), pair.to_vec());
        let held = "{\"queue_name\":\"q\",\"actor_name\":\"a\",\"args\":[\"\\udce9\",\"\u{10f800}\"],\"kwargs\":{},\"options\":{},\"message_id\":\"m\",\"message_timestamp\":1}";
        let m = Message::decode_python(held.as_bytes(), 0, || "fresh".into()).unwrap();
        assert!(!m.lone_surrogates);
        assert_eq!(m.args.first(), Some(&Value::Str("\u{fffd}".into())));
        assert!(matches!(
            Message::decode_python(b"{", 0, || "fresh".into()),
            Err(DecodeFailure::NotJson(_))
        ));
        assert!(matches!(
            Message::decode_python(b"{}", 0, || "fresh".into()),
            Err(DecodeFailure::Refused(_))
        ));
    }

    fn sample() -> Message {
        Message {
            queue_name: "default".into(),
            actor_name: "nobody".into(),
            args: vec![Value::Int(1), Value::Str("x".into())],
            kwargs: vec![("k".into(), Value::Int(2))],
            options: vec![],
            message_id: "id".into(),
            message_timestamp: 1700000000000,
            float_timestamp: None,
            lone_surrogates: false,
        }
    }

    #[test]
    fn merged_options_are_pythons_dict_merge() {
        let mut m = sample();
        m.options = vec![("a".into(), Value::Int(1)), ("z".into(), Value::Null)];
        m.merge_options(vec![
            ("b".into(), Value::Int(2)),
            ("a".into(), Value::Int(3)),
        ]);
        // {**{'a': 1, 'z': None}, **{'b': 2, 'a': 3}} == {'a': 3, 'z': None, 'b': 2}
        assert_eq!(
            m.options,
            vec![
                ("a".into(), Value::Int(3)),
                ("z".into(), Value::Null),
                ("b".into(), Value::Int(2))
            ]
        );
    }

    #[test]
    fn display_matches_python_str() {
        assert_eq!(sample().display(), "nobody(1, 'x', k=2)");
    }

    #[test]
    fn dict_round_trip_and_wire_order() {
        let m = sample();
        let d = m.to_dict();
        assert_eq!(Message::from_dict(&d, 0).unwrap(), m);
        let bytes = String::from_utf8(m.encode()).unwrap();
        assert_eq!(
            bytes,
            r#"{"queue_name":"default","actor_name":"nobody","args":[1,"x"],"kwargs":{"k":2},"options":{},"message_id":"id","message_timestamp":1700000000000}"#
        );
    }

    #[test]
    fn bad_dicts_are_errors() {
        assert!(Message::from_dict(&Value::List(vec![]), 0).is_err());
        let d = Value::Dict(vec![("queue_name".into(), Value::Int(1))]);
        let err = Message::from_dict(&d, 0).unwrap_err();
        assert!(err.0.contains("queue_name"), "{err}");
    }

    #[test]
    fn a_refused_dict_names_its_message_id_when_it_has_one() {
        let decode = |text: &str| {
            let dict = crate::codec::parser::decode(text.as_bytes()).unwrap();
            Message::from_dict(&dict, 0).unwrap_err().to_string()
        };
        assert_eq!(
            decode(r#"{"queue_name":"q","actor_name":{},"message_id":"m-1"}"#),
            r#"invalid message: actor_name must be a string (message_id "m-1")"#
        );
        // No id to name: the error is as before.
        assert_eq!(
            decode(r#"{"queue_name":"q","actor_name":"a","message_id":5}"#),
            "invalid message: message_id must be a string"
        );
        // A hostile id is quoted (escaped) and cut.
        let long = format!(
            r#"{{"queue_name":"q","actor_name":"a","args":"x","message_id":"\n{}"}}"#,
            "é".repeat(500)
        );
        let said = decode(&long);
        assert!(
            said.starts_with(r#"invalid message: args must be an array (message_id "\né"#),
            "{said}"
        );
        assert!(said.ends_with("\"…)"), "{said}");
        assert!(said.chars().count() < 200, "{said}");
    }

    #[test]
    fn python_refuses_unknown_and_missing_fields() {
        let base = r#""queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{},"message_id":"m""#;
        let read = |text: String| {
            let dict = crate::codec::parser::decode(text.as_bytes()).unwrap();
            Message::from_python_dict(&dict, 0, || "fresh".into())
        };
        assert!(read(format!("{{{base}}}")).is_ok());
        assert!(read(format!("{{{base},\"message_timestamp\":5}}")).is_ok());
        let err = read(format!("{{{base},\"zzz\":1}}")).unwrap_err();
        assert_eq!(err.0, r#"'zzz' is no field of a message (message_id "m")"#);
        let huge = "k".repeat(10_000);
        let err = read(format!("{{{base},\"{huge}\":1}}")).unwrap_err();
        assert!(err.0.len() < 200, "{err}");
        for field in ["args", "kwargs", "options"] {
            let text = format!("{{{base}}}").replace(&format!("\"{field}\""), "\"other\"");
            assert!(read(text).is_err(), "{field}");
        }
        assert!(read(format!("{{{base}}}").replace("[]", "null")).is_err());
        // Null kwargs or options: Python builds the message but its worker cannot run it
        // (`**None` fails the actor; `"eta" in None` kills the consumer thread, for ever).
        for field in ["kwargs", "options"] {
            let text = format!("{{{base}}}")
                .replace(&format!("\"{field}\":{{}}"), &format!("\"{field}\":null"));
            let err = read(text).unwrap_err();
            assert_eq!(
                err.0,
                format!("{field} must be an object (message_id \"m\")")
            );
        }
        // No message_id: Python's default, a fresh one.
        let m = read(format!("{{{base}}}").replace(r#","message_id":"m""#, "")).unwrap();
        assert_eq!(m.message_id, "fresh");
        assert_eq!(read(format!("{{{base}}}")).unwrap().message_id, "m");
        // The lenient reader (a JS caller's dict) still takes them.
        let lenient = crate::codec::parser::decode(
            br#"{"queue_name":"q","actor_name":"a","message_id":"m","x":1}"#,
        )
        .unwrap();
        assert!(Message::from_dict(&lenient, 0).is_ok());
    }

    #[test]
    fn a_fractional_timestamp_is_read_to_the_millisecond() {
        let text = br#"{"queue_name":"q","actor_name":"a","message_id":"m","message_timestamp":1700000000000.5}"#;
        let m = Message::from_dict(&crate::codec::parser::decode(text).unwrap(), 0).unwrap();
        assert_eq!(m.message_timestamp, 1_700_000_000_000);
        // Written back as read, as Python's `asdict()` keeps the float: a retry or a
        // callback's message dict carries the same bytes.
        let again = crate::codec::writer::encode(&m.to_dict());
        assert!(String::from_utf8(again)
            .unwrap()
            .ends_with(r#""message_timestamp":1700000000000.5}"#),);
        let whole =
            br#"{"queue_name":"q","actor_name":"a","message_id":"m","message_timestamp":1.7e12}"#;
        let m = Message::from_dict(&crate::codec::parser::decode(whole).unwrap(), 0).unwrap();
        let again = String::from_utf8(crate::codec::writer::encode(&m.to_dict())).unwrap();
        assert!(
            again.ends_with(r#""message_timestamp":1700000000000.0}"#),
            "{again}"
        );
        for bad in [r#""soon""#, "NaN", "1e300", "true"] {
            let text = format!(
                r#"{{"queue_name":"q","actor_name":"a","message_id":"m","message_timestamp":{bad}}}"#
            );
            let dict = crate::codec::parser::decode(text.as_bytes()).unwrap();
            assert!(Message::from_dict(&dict, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn uuid4_sets_version_and_variant() {
        let id = uuid4([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid4([0; 16]), "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn python_refuses_only_what_its_constructor_refuses() {
        let refusal = |text: &str| python_refusal(&codec::decode(text.as_bytes()).unwrap());
        let base = r#""queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{}"#;
        // Python checks no types: odd values are still a message to it.
        assert_eq!(
            refusal(&format!(
                "{{{base},\"message_timestamp\":-1e300,\"message_id\":5}}"
            )),
            None
        );
        assert_eq!(
            refusal(&format!("{{{base}}}")),
            None,
            "message_id and message_timestamp have defaults"
        );
        assert_eq!(
            refusal(&format!("{{{base},\"stray\":1}}")).as_deref(),
            Some("'stray' is no field of a message")
        );
        for field in ["queue_name", "actor_name", "args", "kwargs", "options"] {
            let text = base
                .split(',')
                .filter(|kv| !kv.starts_with(&format!("\"{field}\"")))
                .collect::<Vec<_>>()
                .join(",");
            assert_eq!(
                refusal(&format!("{{{text}}}")),
                Some(format!("{field} is missing")),
                "{text}"
            );
        }
        assert_eq!(
            refusal(r#"{"queue_name":"q","actor_name":"a","args":null,"kwargs":{},"options":{}}"#)
                .as_deref(),
            Some("args must be an array")
        );
        assert_eq!(refusal("[1]").as_deref(), Some("not a dict"));
    }
}
