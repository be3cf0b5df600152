//! What bench/startup.mjs's plain-JS store does (an MD5 key, a map of JSON text with an
//! expiry), in Rust behind wasm-bindgen, and nothing more: no codec, no envelope, no waiting.
use md5::{Digest, Md5};
use std::collections::HashMap;
use wasm_bindgen::prelude::*;

/// Stored JSON texts by the hex MD5 of their key, with their expiry (ms since the epoch).
#[wasm_bindgen]
#[derive(Default)]
pub struct FloorStore {
    entries: HashMap<String, (String, f64)>,
}

#[wasm_bindgen]
impl FloorStore {
    /// An empty store.
    #[wasm_bindgen(constructor)]
    pub fn new() -> FloorStore {
        FloorStore::default()
    }

    /// Stores `json` under `key` until `expires` (ms since the epoch).
    pub fn store(&mut self, key: &str, json: String, expires: f64) {
        self.entries.insert(hex_md5(key), (json, expires));
    }

    /// The JSON stored under `key`, if it has not expired by `now`.
    pub fn get(&self, key: &str, now: f64) -> Option<String> {
        self.entries
            .get(&hex_md5(key))
            .filter(|(_, expires)| *expires > now)
            .map(|(json, _)| json.clone())
    }
}

fn hex_md5(key: &str) -> String {
    Md5::digest(key.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
