//! Message keys: where a result lives in the store.
//!
//! Dramatiq derives the key from four parts joined by `:` — namespace, canonical queue,
//! actor, message id — and by default stores under the lower-case hex MD5 of that string.
//! Since Dramatiq 2.2 `use_namespace_prefix_keys` stores under the plain string instead.
//! Changing anything here changes where results are found: the compat vectors pin it.

use md5::{Digest, Md5};

/// Dramatiq's default result namespace.
pub const DEFAULT_NAMESPACE: &str = "dramatiq-results";

/// The queue name a key is derived from: Dramatiq's `q_name`.
///
/// A delayed message travels on `<queue>.DQ` and a dead one on `<queue>.XQ`; both must map
/// to the same key as the worker's copy on `<queue>`, so one such suffix is removed, once,
/// case-sensitively (`default.DQ.DQ` → `default.DQ`).
///
/// # Example
/// ```
/// use dramatiq_results::model::key::canonical_queue_name;
/// assert_eq!(canonical_queue_name("default.DQ"), "default");
/// assert_eq!(canonical_queue_name("default.dq"), "default.dq");
/// ```
pub fn canonical_queue_name(queue_name: &str) -> &str {
    queue_name
        .strip_suffix(".DQ")
        .or_else(|| queue_name.strip_suffix(".XQ"))
        .unwrap_or(queue_name)
}

/// How a backend turns a message identity into a store key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScheme {
    /// The namespace, first part of the plain key.
    pub namespace: String,
    /// Store under the readable plain string instead of its MD5 (Dramatiq 2.2+ opt-in).
    pub use_namespace_prefix_keys: bool,
}

impl Default for KeyScheme {
    fn default() -> Self {
        KeyScheme {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            use_namespace_prefix_keys: false,
        }
    }
}

impl KeyScheme {
    /// The plain key string `namespace:q_name(queue):actor:id`, before any hashing.
    ///
    /// No escaping: `:` or `%` inside a part are kept, exactly as Python's `%`-formatting
    /// substitutes them.
    pub fn plain_key(&self, queue_name: &str, actor_name: &str, message_id: &str) -> String {
        let queue = canonical_queue_name(queue_name);
        let mut s = String::with_capacity(
            self.namespace.len() + queue.len() + actor_name.len() + message_id.len() + 3,
        );
        s.push_str(&self.namespace);
        s.push(':');
        s.push_str(queue);
        s.push(':');
        s.push_str(actor_name);
        s.push(':');
        s.push_str(message_id);
        s
    }

    /// The store key: the plain key, or the lower-case hex MD5 of its UTF-8 bytes.
    ///
    /// # Example
    /// ```
    /// use dramatiq_results::model::key::KeyScheme;
    /// let k = KeyScheme::default().message_key("default", "add", "00000000-0000-4000-8000-000000000000");
    /// assert_eq!(k, "d8ac489da7ded05e815a30446be973d6");
    /// ```
    pub fn message_key(&self, queue_name: &str, actor_name: &str, message_id: &str) -> String {
        let plain = self.plain_key(queue_name, actor_name, message_id);
        if self.use_namespace_prefix_keys {
            plain
        } else {
            md5_hex(plain.as_bytes())
        }
    }
}

/// Lower-case hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    // Bytes first, one String at the end: pushing chars re-encodes each as UTF-8.
    let mut hex = [0u8; 32];
    for (pair, byte) in hex.chunks_exact_mut(2).zip(Md5::digest(bytes)) {
        pair.copy_from_slice(&hex_pair(byte));
    }
    // Always ASCII, so never the (empty) default.
    String::from_utf8(hex.to_vec()).unwrap_or_default()
}

/// The two lower-case hex digits of `byte`.
fn hex_pair(byte: u8) -> [u8; 2] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digit = |nibble: u8| HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
    [digit(byte >> 4), digit(byte & 0x0f)]
}

/// Appends the two lower-case hex digits of `byte`.
pub(crate) fn push_hex(out: &mut String, byte: u8) {
    for c in hex_pair(byte) {
        out.push(char::from(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_name_strips_one_suffix_case_sensitively() {
        assert_eq!(canonical_queue_name("default.XQ"), "default");
        assert_eq!(canonical_queue_name("default.DQ.DQ"), "default.DQ");
        assert_eq!(canonical_queue_name(".DQ"), "");
        assert_eq!(canonical_queue_name("DQ"), "DQ");
    }

    #[test]
    fn empty_parts_hash_like_python() {
        let scheme = KeyScheme {
            namespace: String::new(),
            use_namespace_prefix_keys: false,
        };
        assert_eq!(
            scheme.message_key("", "", ""),
            "e441fcf4a7686817fe868bf38a5c2c07"
        );
    }

    #[test]
    fn prefix_keys_keep_the_plain_string() {
        let scheme = KeyScheme {
            namespace: "myns".into(),
            use_namespace_prefix_keys: true,
        };
        assert_eq!(scheme.message_key("q.DQ", "a:b", "1"), "myns:q:a:b:1");
    }
}
