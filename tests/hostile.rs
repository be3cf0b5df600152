//! No input reaches a panic: random and mutated bytes through every decoding path.
//! (A panic inside wasm would poison the module instance for every later call.)
//!
//! `HOSTILE_INPUTS` sets how many inputs the random tests run (200 000 by default, part of
//! the test command); `scripts/fuzz` runs a million and more in release mode.
//!
//! The Redis protocol (`resp`) gets the same treatment: random and mutated RESP streams,
//! cut into random chunks, through the parser and the connection state machine, with the
//! memory each input makes the parser hold measured by a counting allocator.
#![cfg(not(target_arch = "wasm32"))]

use dramatiq_results::codec::interchange::transcode::python_bytes;
use dramatiq_results::codec::interchange::{from_js_json, to_js_json};
use dramatiq_results::codec::{decode, encode};
use dramatiq_results::model::envelope;
use dramatiq_results::model::key::KeyScheme;
use dramatiq_results::model::message::Message;
use dramatiq_results::resp::Reply;
use dramatiq_results::resp::{ConnectOptions, Connection, Frame, Limits, Parser, Phase};
use dramatiq_results::results::backend::decode_result;
use dramatiq_results::testing::Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

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

fn seed() -> u64 {
    std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15u64)
}

/// RESP inputs: `HOSTILE_INPUTS` when set (`scripts/fuzz`), else 20 000 (each input is a
/// stream of several replies, parsed twice and replayed through a connection).
fn resp_inputs() -> usize {
    std::env::var("HOSTILE_INPUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
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
    let mut rng = Rng(seed() | 1);
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

/// Counts the bytes each thread holds, so a test can bound what one input makes the parser
/// allocate (tests run in parallel threads; each counts its own).
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add_signed(delta);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes allocated (net, peak) while `f` runs on this thread.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(Cell::get).saturating_sub(base))
}

/// Appends one random RESP value (RESP2 and RESP3 types, nested up to `depth`); returns
/// how many frames it is at the top level (attributes are none, pushes are pushes).
fn resp_value(rng: &mut Rng, depth: usize, out: &mut Vec<u8>) {
    let kinds: &[u8] = if depth == 0 {
        b"+-:$_,#(=!"
    } else {
        b"+-:$_,#(=!*%~>|"
    };
    let kind = kinds[rng.below(kinds.len())];
    let text = |rng: &mut Rng| -> Vec<u8> {
        (0..rng.below(12))
            .map(|_| b"abcXYZ019 .:-\xff\x00"[rng.below(15)])
            .collect()
    };
    match kind {
        b'+' | b'-' => {
            out.push(kind);
            out.extend(text(rng).into_iter().filter(|&b| b != 0));
            out.extend_from_slice(b"\r\n");
        }
        b':' => out.extend_from_slice(
            format!(":{}\r\n", rng.next_u64() as i64 >> rng.below(64)).as_bytes(),
        ),
        b'_' => out.extend_from_slice(b"_\r\n"),
        b',' => out.extend_from_slice(
            [&b",1.5e-3\r\n"[..], b",-inf\r\n", b",nan\r\n", b",10\r\n"][rng.below(4)],
        ),
        b'#' => out.extend_from_slice([&b"#t\r\n"[..], b"#f\r\n"][rng.below(2)]),
        b'(' => out.extend_from_slice(b"(-12345678901234567890123\r\n"),
        b'$' | b'!' | b'=' => {
            let mut body = text(rng);
            if kind == b'=' {
                body.splice(0..0, b"txt:".iter().copied());
            }
            if kind == b'$' && rng.below(8) == 0 {
                out.extend_from_slice(b"$-1\r\n");
                return;
            }
            out.extend_from_slice(format!("{}{}\r\n", kind as char, body.len()).as_bytes());
            out.extend_from_slice(&body);
            out.extend_from_slice(b"\r\n");
        }
        _ => {
            let n = rng.below(4);
            out.extend_from_slice(format!("{}{}\r\n", kind as char, n).as_bytes());
            let elements = if kind == b'%' || kind == b'|' {
                2 * n
            } else {
                n
            };
            for _ in 0..elements {
                resp_value(rng, depth - 1, out);
            }
            if kind == b'|' {
                // An attribute precedes a value.
                resp_value(rng, depth - 1, out);
            }
        }
    }
}

const RESP_ALPHABET: &[u8] = b"+-:$*_,#(=!%~>|?0123456789\r\n\r\nabc.\x00\xff";

/// Feeds `bytes` in random chunks of at most `max_chunk` bytes: what came out, and
/// whether the stream broke.
fn parse_chunked(
    rng: &mut Rng,
    limits: Limits,
    bytes: &[u8],
    max_chunk: usize,
) -> (Vec<Frame>, bool) {
    let mut parser = Parser::new(limits);
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (chunk, later) = rest.split_at(1 + rng.below(rest.len().min(max_chunk)));
        rest = later;
        if parser.feed(chunk, &mut out).is_err() {
            return (out, true);
        }
    }
    (out, false)
}

/// Random and mutated RESP streams never panic; a stream reads the same whatever its
/// chunking; valid streams always parse; memory stays in proportion to the bytes received
/// (never to a length the peer declares); a connection completes every command exactly
/// once.
#[test]
fn resp_streams_never_panic() {
    let mut rng = Rng(seed().rotate_left(17) | 1);
    let small = Limits {
        max_bulk: 8,
        max_reply: 200,
        max_skip: 1 << 20,
        max_line: 24,
        max_depth: 3,
        max_len: 6,
    };
    let mut broken = 0;
    let mut replies = 0;
    for round in 0..resp_inputs() {
        let mut bytes = Vec::new();
        for _ in 0..1 + rng.below(4) {
            resp_value(&mut rng, 4, &mut bytes);
        }
        let valid = round % 4 == 0;
        if !valid {
            for _ in 0..=rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                let byte = RESP_ALPHABET[rng.below(RESP_ALPHABET.len())];
                match rng.below(4) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 if at < bytes.len() => bytes[at] = byte,
                    2 => {
                        // A huge declared length: must not be allocated.
                        let n = [u64::MAX / 2, 1 << 40, 60_000_000, 1_000_000][rng.below(4)];
                        let kind = [b'$', b'*', b'%', b'='][rng.below(4)];
                        let header = format!("{}{n}\r\n", kind as char);
                        bytes.splice(at..at, header.bytes());
                    }
                    _ => bytes.insert(at, byte),
                }
            }
        }
        let limits = if round % 2 == 0 {
            Limits::default()
        } else {
            small
        };
        let ((whole, chunked), peak) = peak_during(|| {
            let whole = parse_chunked(&mut Rng(1), limits, &bytes, usize::MAX);
            let chunked = parse_chunked(&mut rng, limits, &bytes, 64);
            (whole, chunked)
        });
        // Two parses at once, each within its bytes: a constant for the first buffers, and
        // room for `Reply`s (32 bytes each) and the parser's stack per byte received.
        let bound = 2 * (64 * 1024 + 256 * bytes.len());
        assert!(
            peak <= bound,
            "{peak} bytes held for {} input bytes: {:?}",
            bytes.len(),
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(
            whole,
            chunked,
            "chunking changed the result of {:?}",
            String::from_utf8_lossy(&bytes)
        );
        if valid && limits == Limits::default() {
            assert!(!whole.1, "{:?}", String::from_utf8_lossy(&bytes));
        }
        if whole.1 {
            broken += 1;
        }
        replies += whole.0.len();

        // The same stream as the replies of a connection: every command completes once.
        let mut conn = Connection::new(ConnectOptions::default(), limits, 0.0);
        conn.start();
        conn.feed(b"+PONG\r\n");
        let commands = rng.below(6);
        let mut done = vec![0u8; commands];
        for _ in 0..commands {
            conn.submit(&["GET", "k"], 0.0, Some(5.0)).unwrap();
        }
        let mut rest = &bytes[..];
        let mut note = |completed: &[dramatiq_results::resp::Completion]| {
            for c in completed {
                done[c.id as usize] += 1;
            }
        };
        while !rest.is_empty() {
            let (chunk, later) = rest.split_at(1 + rng.below(rest.len()));
            rest = later;
            note(&conn.feed(chunk).completed);
        }
        match rng.below(3) {
            0 => note(&conn.socket_closed(None).completed),
            1 => note(&conn.expire(10.0).completed),
            _ => {}
        }
        note(&conn.close().completed);
        assert!(done.iter().all(|&n| n == 1), "{done:?}");
        assert!(matches!(conn.phase(), Phase::Closed(_)));
        assert!(conn.submit(&["PING"], 0.0, None).is_err());
    }
    // Both outcomes are reached, or the test proves little.
    let n = resp_inputs();
    assert!(
        broken > n / 10 && broken < n * 9 / 10,
        "{broken} of {n} broke the stream"
    );
    assert!(replies > n, "{replies} frames from {n} inputs");
}

/// Every RESP3 reply type survives a round through the parser as the `Reply` the store
/// expects, and a deep or huge one is refused without a stack overflow or an allocation.
#[test]
fn resp_hostile_shapes() {
    let mut out = Vec::new();
    let deep = b"*1\r\n".repeat(1_000_000);
    assert!(Parser::new(Limits::default())
        .feed(&deep, &mut out)
        .is_err());
    let deep_attr = b"|1\r\n".repeat(1_000_000);
    assert!(Parser::new(Limits::default())
        .feed(&deep_attr, &mut out)
        .is_err());
    let (result, peak) = peak_during(|| {
        let mut parser = Parser::new(Limits {
            max_bulk: usize::MAX,
            max_reply: usize::MAX,
            max_skip: u64::MAX,
            ..Limits::default()
        });
        let mut out = Vec::new();
        parser
            .feed(b"*16777216\r\n$9223372036854775807\r\nabc", &mut out)
            .map(|()| out)
    });
    assert_eq!(result.unwrap(), vec![]);
    assert!(peak < 16 * 1024, "{peak}");
    let mut out = Vec::new();
    Parser::new(Limits::default())
        .feed(b"%1\r\n+a\r\n#t\r\n", &mut out)
        .unwrap();
    assert_eq!(
        out,
        vec![Frame::Reply(Ok(Reply::Array(vec![
            Reply::Bytes(b"a".to_vec()),
            Reply::Int(1)
        ])))]
    );
}
