//! Test helpers, compiled only for tests (`cfg(test)` or the `testing` feature, which the
//! crate's own integration tests turn on): not part of the library's API.

mod manual_clock;
mod rng;

pub use manual_clock::{ManualClock, ManualSleep};
pub use rng::Rng;

/// Inside `impl Store for T`, where `T` has a store (or a pointer to one) in a field named
/// `inner`: the named
/// methods (`get`, `put`, `delete`) passed to it unchanged, so a test store spells out only
/// the behaviour its test is about.
#[macro_export]
macro_rules! forward_to_inner {
    (@one get) => {
        async fn get(
            &self,
            key: &str,
        ) -> Result<Option<Vec<u8>>, $crate::model::error::StoreError> {
            use $crate::results::store::Store as _;
            self.inner.get(key).await
        }
    };
    (@one put) => {
        async fn put(
            &self,
            key: &str,
            value: Vec<u8>,
            ttl_ms: u64,
        ) -> Result<(), $crate::model::error::StoreError> {
            use $crate::results::store::Store as _;
            self.inner.put(key, value, ttl_ms).await
        }
    };
    (@one delete) => {
        async fn delete(&self, key: &str) -> Result<(), $crate::model::error::StoreError> {
            use $crate::results::store::Store as _;
            self.inner.delete(key).await
        }
    };
    ($($method:ident),+ $(,)?) => {
        $($crate::forward_to_inner!(@one $method);)+
    };
}
