//! Randomness from the host: message ids and back-off jitter.

use wasm_bindgen::prelude::*;

/// A seed for back-off jitter.
pub fn random_seed() -> u64 {
    (js_sys::Math::random() * (1u64 << 53) as f64) as u64
}

#[wasm_bindgen(module = "/src/bindings/drivers/random.js")]
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
