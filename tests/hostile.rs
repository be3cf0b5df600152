//! No input reaches a panic: random and mutated bytes through every decoding path.
//! (A panic inside wasm would poison the module instance for every later call.)
//!
//! `HOSTILE_INPUTS` sets how many inputs the random test runs (200 000 by default, part of
//! the test command); `scripts/fuzz` runs a million and more in release mode.
#![cfg(not(target_arch = "wasm32"))]

use dramatiq_results::codec::interchange::transcode::python_bytes;
use dramatiq_results::codec::interchange::{from_js_json, to_js_json};
use dramatiq_results::codec::{decode, encode};
use dramatiq_results::model::envelope;
use dramatiq_results::model::key::KeyScheme;
use dramatiq_results::model::message::Message;
use dramatiq_results::results::backend::decode_result;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: &[&str] = &[
    r#"{"__t":"dramatiq.results.Result","exn":{"type":"E","msg":"m"}}"#,
    r#"{"__t":"dramatiq.results.Result","exn":[1]}"#,
    r#"[1,2.5e-7,-0.0,NaN,Infinity,-Infinity,1180591620717411303424,"\ud83d\ude00\u00e9",null,true]"#,
    r#"{"a":{"b":[{"c":"\"\\\/\b\f\n\r\t"}]},"a":1}"#,
    "\"\\u0000\\u0001n123\"",
    r#"{"queue_name":"q","actor_name":"a","args":[1],"kwargs":{},"options":{},"message_id":"i","message_timestamp":1}"#,
];

const ALPHABET: &[u8] = b"{}[]\",:0123456789-+.eEaNIfinitytrulsn\\u \t\n\x00\x01\xff\xc3\xa9";

/// Every path that reads untrusted text, exercised once per input.
fn exercise(bytes: &[u8]) {
    if let Ok(v) = decode(bytes) {
        // What decodes re-encodes to bytes that decode to the same thing.
        let again = decode(&encode(&v)).expect("re-encoded bytes decode");
        assert_eq!(encode(&again), encode(&v));
        let mut text = String::new();
        to_js_json(&v, &mut text);
        let _ = Message::from_dict(&v, 0);
        let _ = envelope::unwrap(v);
    }
    let _ = decode_result("k", bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = python_bytes(text);
        if let Ok(v) = from_js_json(text) {
            let _ = encode(&v);
        }
        // Any text may name a message: keys are derived for it either way.
        let mid = (0..=text.len() / 2)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        let (q, rest) = text.split_at(mid);
        for use_namespace_prefix_keys in [false, true] {
            let keys = KeyScheme {
                namespace: rest.to_owned(),
                use_namespace_prefix_keys,
            };
            let _ = keys.message_key(q, rest, text);
        }
    }
}

fn inputs() -> usize {
    std::env::var("HOSTILE_INPUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000)
}

/// Random and mutated inputs (200 000 unless `HOSTILE_INPUTS` says), none of which may
/// panic. `HOSTILE_SEED` varies the sequence.
#[test]
fn random_and_mutated_inputs_never_panic() {
    let seed = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15u64);
    let mut rng = Rng(seed | 1);
    let mut decoded = 0;
    for round in 0..inputs() {
        let input: Vec<u8> = if round % 2 == 0 {
            let len = rng.below(40);
            (0..len)
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect()
        } else {
            let mut bytes = SEEDS[rng.below(SEEDS.len())].as_bytes().to_vec();
            for _ in 0..=rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                match rng.below(3) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 if at < bytes.len() => bytes[at] = ALPHABET[rng.below(ALPHABET.len())],
                    _ => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
                }
            }
            bytes
        };
        if decode(&input).is_ok() {
            decoded += 1;
        }
        exercise(&input);
    }
    // The mutations must reach both outcomes, or the test proves little.
    assert!(decoded > 1_000, "only {decoded} inputs decoded");
}

/// Deep nesting is refused, not a stack overflow, on every path.
#[test]
fn deep_nesting_is_an_error() {
    for open in ["[", "{\"a\":"] {
        let text = open.repeat(100_000);
        assert!(decode(text.as_bytes()).is_err());
        assert!(from_js_json(&text).is_err());
        assert!(decode_result("k", text.as_bytes()).is_err());
    }
}
