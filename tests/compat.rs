//! Every key, unwrap, exception and actor-result vector captured from real Dramatiq 2.2.1
//! (`tests/fixtures/vectors.json`), replayed through the public core API: same keys, same
//! stored bytes, same outcome on read.
#![cfg(not(target_arch = "wasm32"))]

use dramatiq_results::codec::{decode, encode};
use dramatiq_results::model::envelope::{wrap_exception, ExceptionInfo};
use dramatiq_results::model::error::ResultError;
use dramatiq_results::model::key::KeyScheme;
use dramatiq_results::model::message::MessageRef;
use dramatiq_results::results::backend::{decode_result, ResultBackend, Wait};
use dramatiq_results::stores::stub::StubStore;
use dramatiq_results::{testing::ManualClock, wait::timer::Timer};
use serde_json::Value as J;

fn vectors() -> Vec<J> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors.json"
    ))
    .expect("fixture");
    serde_json::from_str::<Vec<J>>(&text).expect("fixture is JSON")
}

fn of_kind<'a>(all: &'a [J], kind: &str) -> Vec<&'a J> {
    all.iter().filter(|v| v["kind"] == kind).collect()
}

fn s<'a>(v: &'a J, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {v}"))
}

/// The stored text of a record (`utf8`), if the vector kept it in full.
fn full_text(raw: &J) -> Option<&str> {
    raw.get("utf8").and_then(J::as_str)
}

/// Checks a read outcome against the vector's `{outcome, value_json | exception, ...}`.
fn check_outcome(
    ctx: &str,
    got: &Result<dramatiq_results::codec::value::Value, ResultError>,
    want: &J,
) {
    match (s(want, "outcome"), got) {
        ("value", Ok(v)) if want.get("value_json_sha256").is_some() => {
            // Large values keep only a prefix of their rendering, plus its digest.
            use sha2::Digest;
            let got = encode(v);
            let digest = format!("{:x}", sha2::Sha256::digest(&got));
            assert_eq!(
                digest,
                s(want, "value_json_sha256"),
                "{ctx}: large value differs"
            );
            let prefix = s(want, "value_json").trim_end_matches("...<elided>");
            assert!(got.starts_with(prefix.as_bytes()), "{ctx}: prefix");
        }
        ("value", Ok(v)) => {
            let want_bytes = s(want, "value_json").as_bytes();
            // value_json is a Python rendering of the value; encode both sides to compare.
            let want_value = decode(want_bytes).expect("value_json decodes");
            assert_eq!(encode(v), encode(&want_value), "{ctx}: value differs");
        }
        ("raise", Err(err)) => match (s(want, "exception"), err) {
            ("ResultFailure", ResultError::Failure { failure, .. }) => {
                assert_eq!(err.to_string(), s(want, "str"), "{ctx}: failure text");
                let ty = serde_json::to_string(&want["orig_exc_type"]).unwrap();
                let msg = serde_json::to_string(&want["orig_exc_msg"]).unwrap();
                assert_eq!(
                    failure.exc_type,
                    decode(ty.as_bytes()).unwrap(),
                    "{ctx}: exc type"
                );
                assert_eq!(
                    failure.exc_msg,
                    decode(msg.as_bytes()).unwrap(),
                    "{ctx}: exc msg"
                );
            }
            ("ResultMissing", ResultError::Missing { .. }) => {}
            ("ResultTimeout", ResultError::Timeout { .. }) => {}
            // Python raises a bare KeyError for a malformed canary; we raise a ResultError.
            ("KeyError", ResultError::MalformedFailure { reason, .. }) => {
                let missing = s(want, "str").trim_matches('\'');
                assert!(
                    reason.contains(missing),
                    "{ctx}: {reason} should name {missing}"
                );
            }
            ("DecodeError", ResultError::Decode { .. }) => {}
            (exc, err) => panic!("{ctx}: expected {exc}, got {err:?}"),
        },
        (outcome, got) => panic!("{ctx}: expected {outcome}, got {got:?}"),
    }
}

#[test]
fn key_derivation_vectors() {
    let all = vectors();
    let cases = of_kind(&all, "key_derivation");
    for v in &cases {
        let scheme = KeyScheme {
            namespace: s(v, "namespace").into(),
            use_namespace_prefix_keys: v["use_namespace_prefix_keys"].as_bool().unwrap(),
        };
        let (q, a, id) = (s(v, "queue_name"), s(v, "actor_name"), s(v, "message_id"));
        assert_eq!(scheme.plain_key(q, a, id), s(v, "key_plain"), "{v}");
        assert_eq!(scheme.message_key(q, a, id), s(v, "key"), "{v}");
    }
    assert_eq!(cases.len(), 15);
    eprintln!("key_derivation: {} passed", cases.len());
}

fn base64_decode(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = alphabet.iter().position(|a| *a == c).expect("base64") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn unwrap_vectors() {
    let all = vectors();
    let cases = of_kind(&all, "unwrap");
    for v in &cases {
        let raw = match full_text(&v["raw"]) {
            Some(t) => t.as_bytes().to_vec(),
            None => base64_decode(s(&v["raw"], "base64")),
        };
        let got = decode_result("k", &raw);
        check_outcome(
            &format!("unwrap {:?}", String::from_utf8_lossy(&raw)),
            &got,
            &v["result"],
        );
    }
    assert_eq!(cases.len(), 19);
    eprintln!("unwrap: {} passed", cases.len());
}

#[test]
fn encode_exception_vectors() {
    let all = vectors();
    let cases = of_kind(&all, "encode_exception");
    for v in &cases {
        let stored = s(&v["raw"], "utf8");
        let repr = s(v, "exception_repr");
        let exc_type = &repr[..repr.find('(').unwrap()];
        // str(e) is Python's business; take it from the stored bytes, and check that our
        // envelope around it (key order, escapes) is byte-identical.
        let msg = match decode_result("k", stored.as_bytes()) {
            Err(ResultError::Failure { failure, .. }) => {
                failure.exc_msg.as_str().unwrap().to_owned()
            }
            other => panic!("{repr}: {other:?}"),
        };
        let bytes = encode(&wrap_exception(&ExceptionInfo::new(exc_type, msg)));
        assert_eq!(String::from_utf8(bytes).unwrap(), stored, "{repr}");
    }
    assert_eq!(cases.len(), 10);
    eprintln!("encode_exception: {} passed", cases.len());
}

/// The stored bytes of a backend snapshot, when present and kept in full.
fn stored_text(stored: &J) -> Option<&str> {
    if let Some(list) = stored.get("list") {
        return list.get(0).and_then(full_text);
    }
    stored.get("value").and_then(full_text)
}

#[test]
fn actor_result_vectors() {
    let all = vectors();
    let cases = of_kind(&all, "actor_result");
    let mut bytes_checked = 0;
    for v in &cases {
        let ctx = format!("{} on {}", s(v, "case"), s(v, "backend"));
        let scheme = KeyScheme {
            namespace: s(v, "namespace").into(),
            use_namespace_prefix_keys: v["use_namespace_prefix_keys"].as_bool().unwrap(),
        };
        let msg = MessageRef {
            queue_name: s(v, "queue_name"),
            actor_name: s(v, "actor_name"),
            message_id: s(v, "message_id"),
        };
        let clock = ManualClock::new();
        let backend = ResultBackend::new(StubStore::new(clock.clone()), clock.clone(), scheme, 1);
        let key = backend.message_key(&msg);
        assert_eq!(key, s(v, "key"), "{ctx}: key");
        // The sender's queue (maybe `default.DQ`) and the worker's give the same key.
        for snap in v["hook_snapshots"].as_array().unwrap() {
            let worker = MessageRef {
                queue_name: s(snap, "worker_queue_name"),
                ..msg
            };
            assert_eq!(backend.message_key(&worker), key, "{ctx}: worker key");
        }
        // Replay the last stored value through our backend: same bytes, same outcome.
        let last = v["hook_snapshots"].as_array().unwrap().last().unwrap();
        let Some(text) = stored_text(&last["stored"]) else {
            continue;
        };
        let value = decode(text.as_bytes()).expect("stored bytes decode");
        let read = clock.block_on(async {
            backend.store_result(&key, &value, 600_000).await.unwrap();
            let bytes = backend.wait_for_bytes(&key, Wait::NOW).await.unwrap();
            assert_eq!(
                String::from_utf8(bytes).unwrap(),
                text,
                "{ctx}: stored bytes"
            );
            backend.get_result(&msg, Wait::NOW).await
        });
        if last["stored"]["expired"] == true {
            // Dramatiq's stub truncates TTLs to whole seconds, so its 500 ms result was
            // expired on arrival; ours keeps TTLs exact (a documented difference).
            assert!(read.unwrap().is_ok(), "{ctx}");
        } else {
            check_outcome(&ctx, &read.unwrap(), &last["get_result_nonblocking"]);
        }
        bytes_checked += 1;
    }
    assert_eq!(cases.len(), 186);
    // Every case stores something except the unencodable value (3 backends) and the
    // no-store cases; ttl 0 on redis stores nothing.
    assert!(
        bytes_checked >= 160,
        "only {bytes_checked} stored values replayed"
    );
    eprintln!(
        "actor_result: {} keys, {bytes_checked} stored values passed",
        cases.len()
    );
}

#[test]
fn get_result_missing_vectors() {
    let all = vectors();
    let cases = of_kind(&all, "get_result_missing");
    for v in &cases {
        let clock = ManualClock::new();
        let backend = ResultBackend::new(
            StubStore::new(clock.clone()),
            clock.clone(),
            KeyScheme::default(),
            1,
        );
        let msg = MessageRef {
            queue_name: "default",
            actor_name: "nobody",
            message_id: s(v, "message_id"),
        };
        assert_eq!(backend.message_key(&msg), s(v, "key"));
        let block = v["block"].as_bool().unwrap();
        let wait = Wait::new(block, v["timeout_ms"].as_f64()).unwrap();
        let got = clock.block_on(backend.get_result(&msg, wait)).unwrap();
        check_outcome(&format!("{v}"), &got, &v["result"]);
        if block {
            // Dramatiq may give up a back-off early; we never do.
            assert_eq!(
                clock.now_ms(),
                wait.timeout_ms,
                "timeout exactly at the deadline"
            );
        }
    }
    assert_eq!(cases.len(), 18);
    eprintln!("get_result_missing: {} passed", cases.len());
}

/// Converts fixture JSON (serde) to our value type via its text.
fn value_of(j: &J) -> dramatiq_results::codec::value::Value {
    decode(serde_json::to_string(j).unwrap().as_bytes()).unwrap()
}

fn entries(j: &J) -> Vec<(String, dramatiq_results::codec::value::Value)> {
    match value_of(j) {
        dramatiq_results::codec::value::Value::Dict(e) => e,
        other => panic!("not an object: {other:?}"),
    }
}

#[test]
fn middleware_vectors() {
    use dramatiq_results::worker::results::{Results, ACTOR_OPTIONS};
    let all = vectors();
    let defaults = of_kind(&all, "middleware_defaults")[0];
    let d = Results::default();
    assert_eq!(defaults["Results()"]["store_results"], d.store_results);
    assert_eq!(defaults["Results()"]["result_ttl"], d.result_ttl_ms);
    assert_eq!(
        defaults["Results(result_ttl=0).result_ttl"],
        Results::new(false, Some(0)).result_ttl_ms
    );
    assert_eq!(
        defaults["Results(result_ttl=None).result_ttl"],
        Results::new(false, None).result_ttl_ms
    );
    let mut names: Vec<&str> = ACTOR_OPTIONS.to_vec();
    names.sort_unstable();
    assert_eq!(defaults["actor_options"], serde_json::json!(names));
    assert_eq!(
        defaults["DEFAULT_TIMEOUT_ms"],
        dramatiq_results::results::backend::DEFAULT_TIMEOUT_MS
    );
    assert_eq!(
        defaults["BACKOFF_FACTOR_ms"],
        dramatiq_results::wait::backoff::BACKOFF_FACTOR_MS
    );

    // The effective options of every actor_result case: message > actor > middleware.
    let cases = of_kind(&all, "actor_result");
    for v in &cases {
        let kwargs = &v["results_middleware_kwargs"];
        let mw = Results::new(
            kwargs["store_results"].as_bool().unwrap_or(false),
            kwargs["result_ttl"].as_u64(),
        );
        let e = mw
            .effective(
                &entries(&v["message_options_sent"]),
                Some(&entries(&v["actor_options"])),
            )
            .unwrap();
        assert_eq!(
            e.store_results,
            v["effective_store_results"],
            "{}",
            s(v, "case")
        );
        assert_eq!(
            e.result_ttl_ms,
            v["effective_result_ttl_ms"],
            "{}",
            s(v, "case")
        );
    }
    eprintln!(
        "middleware: defaults and {} effective-option cases passed",
        cases.len()
    );
}
