//! The host's clock and timers, as the core's [`Timer`].

use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::prelude::*;

use crate::clock::Timer;

#[wasm_bindgen]
extern "C" {
    // `performance.now()` is monotonic and present in Node, browsers and workerd (where it
    // advances with I/O, which a timer is).
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// `performance.now()` and `setTimeout` (through gloo-timers: dropping a sleep clears it).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsTimer;

impl Timer for JsTimer {
    type Sleep = TimeoutFuture;

    fn now_ms(&self) -> f64 {
        performance_now()
    }

    fn sleep_ms(&self, ms: f64) -> TimeoutFuture {
        // Round up: waking a fraction early would only cost another lap of the loop, but
        // rounding up never does. `as` saturates, and the core caps sleeps below u32::MAX.
        TimeoutFuture::new(ms.max(0.0).ceil() as u32)
    }
}

/// Wall-clock milliseconds since the Unix epoch (message timestamps).
pub fn epoch_ms() -> f64 {
    js_sys::Date::now()
}

/// A seed for back-off jitter.
pub fn random_seed() -> u64 {
    (js_sys::Math::random() * (1u64 << 53) as f64) as u64
}

#[wasm_bindgen(module = "/src/bindings/host.js")]
extern "C" {
    #[wasm_bindgen(js_name = fillRandom)]
    fn fill_random(bytes: &mut [u8]);
}

/// 16 random bytes for a message id (from `crypto.getRandomValues` where the host has it).
pub fn random_bytes() -> [u8; 16] {
    let mut out = [0u8; 16];
    fill_random(&mut out);
    out
}
