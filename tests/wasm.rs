//! The waiting contract with real host timers (`setTimeout`, `performance.now`), in Node:
//! `wasm-bindgen-test-runner` runs these through `cargo test --target wasm32-unknown-unknown`.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::rc::Rc;

use dramatiq_results::bindings::drivers::timer::JsTimer;
use dramatiq_results::codec::value::Value;
use dramatiq_results::model::error::ResultError;
use dramatiq_results::model::key::KeyScheme;
use dramatiq_results::results::backend::{ResultBackend, Wait};
use dramatiq_results::stores::stub::StubStore;
use dramatiq_results::wait::race::{race, Either};
use dramatiq_results::wait::timer::Timer;
use wasm_bindgen_test::wasm_bindgen_test;

type Stub = ResultBackend<StubStore<JsTimer>, JsTimer>;

fn stub() -> Rc<Stub> {
    Rc::new(ResultBackend::new(
        StubStore::new(JsTimer),
        JsTimer,
        KeyScheme::default(),
        7,
    ))
}

/// A blocked wait resolves when another task stores the value, well before its timeout.
#[wasm_bindgen_test]
async fn store_wakes_a_blocked_wait() {
    let b = stub();
    let b2 = b.clone();
    wasm_bindgen_futures::spawn_local(async move {
        JsTimer.sleep_ms(30.0).await;
        b2.store_result("k", &Value::Int(42), 60_000).await.unwrap();
    });
    let start = JsTimer.now_ms();
    let v = b
        .get_result_by_key("k", Wait::block(10_000.0).unwrap())
        .await
        .unwrap();
    let elapsed = JsTimer.now_ms() - start;
    assert_eq!(v, Value::Int(42));
    assert!(elapsed >= 25.0, "resolved before the store: {elapsed} ms");
    assert!(
        elapsed < 5_000.0,
        "woken by the store, not the deadline: {elapsed} ms"
    );
    assert_eq!(b.store().waiting(), 0);
}

/// A blocked wait with nothing stored rejects with ResultTimeout, never before its deadline.
#[wasm_bindgen_test]
async fn timeout_never_fires_early() {
    let b = stub();
    for timeout in [0.0, 5.0, 40.0, 120.0] {
        let start = JsTimer.now_ms();
        let err = b
            .get_result_by_key("absent", Wait::block(timeout).unwrap())
            .await
            .unwrap_err();
        let elapsed = JsTimer.now_ms() - start;
        assert!(matches!(err, ResultError::Timeout { .. }), "{err:?}");
        assert!(elapsed >= timeout, "timed out early: {elapsed} < {timeout}");
    }
}

/// Dropping a wait (what an abort does) lets the store forget the waiter.
#[wasm_bindgen_test]
async fn dropped_wait_unsubscribes() {
    let b = stub();
    let out = race(
        b.get_result_by_key("k", Wait::block(60_000.0).unwrap()),
        JsTimer.sleep_ms(10.0),
    )
    .await;
    assert!(matches!(out, Either::Right(())));
    assert_eq!(b.store().waiting(), 0);
}
