//! The limiters' rules on the in-memory backend and a virtual clock, and the Memcached
//! backend over an in-memory Memcached that behaves as the server does.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::memcached::{
    counter_exptime, counter_value, MemcachedCounterClient, MemcachedRateLimiterBackend,
};
use super::stub::StubRateLimiterBackend;
use super::*;
use crate::model::error::StoreError;
use crate::testing::ManualClock;
use crate::wait::timer::Timer;

fn stub() -> (ManualClock, Rc<StubRateLimiterBackend<ManualClock>>) {
    let clock = ManualClock::new();
    (clock.clone(), Rc::new(StubRateLimiterBackend::new(clock)))
}

fn run<F: std::future::Future>(clock: &ManualClock, fut: F) -> F::Output {
    clock.block_on(fut).expect("the future never completes")
}

#[test]
fn concurrent_limiter_counts_holders_and_gives_slots_back() {
    let (clock, b) = stub();
    let l = RateLimiter::new("api", 2.0, LimiterKind::Concurrent { ttl_ms: 900_000 }).unwrap();
    run(&clock, async {
        assert!(l.try_acquire(&*b, 0.0).await.unwrap());
        assert_eq!(b.get("api"), Some(1));
        clock.advance(1000.0);
        assert!(l.try_acquire(&*b, 0.0).await.unwrap());
        assert_eq!(b.get("api"), Some(2));
        // Every write resets the TTL to the full `ttl`.
        assert_eq!(b.ttl_ms("api"), Some(900_000.0));
        assert!(!l.try_acquire(&*b, 0.0).await.unwrap());
        assert_eq!(b.get("api"), Some(2), "a refusal changes nothing");
        l.release(&*b).await.unwrap();
        assert_eq!(b.get("api"), Some(1));
        assert!(l.try_acquire(&*b, 0.0).await.unwrap());
        l.release(&*b).await.unwrap();
        l.release(&*b).await.unwrap();
        assert_eq!(b.get("api"), Some(0));
        // Never below 0: an extra release is refused by the backend.
        l.release(&*b).await.unwrap();
        assert_eq!(b.get("api"), Some(0));
    });
}

#[test]
fn concurrent_limiter_forgets_holders_after_its_ttl() {
    let (clock, b) = stub();
    let l = RateLimiter::new("m", 1.0, LimiterKind::Concurrent { ttl_ms: 5000 }).unwrap();
    run(&clock, async {
        assert!(l.try_acquire(&*b, 0.0).await.unwrap());
        assert!(!l.try_acquire(&*b, 0.0).await.unwrap());
        clock.advance(5000.0);
        // A holder that died without releasing frees its slot when the counter expires.
        assert!(l.try_acquire(&*b, 0.0).await.unwrap());
    });
}

#[test]
fn window_limiter_sums_the_last_seconds() {
    let (clock, b) = stub();
    let l = RateLimiter::new("w", 3.0, LimiterKind::Window { window_s: 2 }).unwrap();
    assert_eq!(l.window_keys(2, 10_500.0), ["w@10", "w@9"]);
    run(&clock, async {
        assert!(l.try_acquire(&*b, 10_500.0).await.unwrap());
        assert!(l.try_acquire(&*b, 10_999.0).await.unwrap());
        assert!(l.try_acquire(&*b, 11_200.0).await.unwrap());
        assert!(!l.try_acquire(&*b, 11_900.0).await.unwrap());
        assert_eq!(b.get("w@10"), Some(2));
        // The stub creates the current key at 0 first, as Dramatiq's does.
        assert_eq!(b.get("w@11"), Some(1));
        assert_eq!(b.ttl_ms("w@11"), Some(2000.0));
        l.release(&*b).await.unwrap();
        assert!(
            !l.try_acquire(&*b, 11_950.0).await.unwrap(),
            "window slots are spent"
        );
        // Second 12: the window is 12 and 11, which hold 1.
        assert!(l.try_acquire(&*b, 12_000.0).await.unwrap());
        assert!(l.try_acquire(&*b, 12_001.0).await.unwrap());
        assert!(!l.try_acquire(&*b, 12_002.0).await.unwrap());
        assert_eq!(b.get("w@12"), Some(2));
    });
}

#[test]
fn bucket_limiter_counts_per_aligned_bucket() {
    let (clock, b) = stub();
    let l = RateLimiter::new("b", 2.0, LimiterKind::Bucket { bucket_ms: 1000 }).unwrap();
    assert_eq!(l.bucket_key(1000, 1_700_000_000_999.9), "b@1700000000000");
    assert_eq!(l.bucket_key(60_000, 125_000.0), "b@120000");
    run(&clock, async {
        assert!(l.try_acquire(&*b, 1500.0).await.unwrap());
        assert_eq!(b.ttl_ms("b@1000"), Some(1000.0));
        assert!(l.try_acquire(&*b, 1999.0).await.unwrap());
        assert!(!l.try_acquire(&*b, 1999.0).await.unwrap());
        assert_eq!(b.get("b@1000"), Some(2));
        assert!(l.try_acquire(&*b, 2000.0).await.unwrap());
        assert_eq!(b.get("b@2000"), Some(1));
    });
}

#[test]
fn options_are_checked_as_dramatiq_asserts_them() {
    for bad in [0.0, -1.0, 1.5, f64::NAN, f64::INFINITY, 1e300] {
        assert!(RateLimiter::new("k", bad, LimiterKind::Concurrent { ttl_ms: 1 }).is_err());
    }
    let e = RateLimiter::new("k", 1.0, LimiterKind::Window { window_s: 0 }).unwrap_err();
    assert_eq!(e.0, "window must be a positive integer, got 0");
    assert!(RateLimiter::new("k", 1.0, LimiterKind::Bucket { bucket_ms: 0 }).is_err());
    assert!(RateLimiter::new("k", 1.0, LimiterKind::Concurrent { ttl_ms: 0 }).is_err());
    assert!(Barrier::new("k", 0.0).is_err());
    assert!(Barrier::new("k", 0.5).is_err());
}

#[test]
fn the_exceeded_message_is_dramatiqs() {
    let l = RateLimiter::new("api", 1.0, LimiterKind::Concurrent { ttl_ms: 1 }).unwrap();
    assert_eq!(l.exceeded_message(), "rate limit exceeded for key 'api'");
    let l = RateLimiter::new("it's", 1.0, LimiterKind::Concurrent { ttl_ms: 1 }).unwrap();
    assert_eq!(l.exceeded_message(), "rate limit exceeded for key \"it's\"");
}

#[test]
fn barrier_clears_on_the_last_party_and_wakes_the_waiters() {
    let (clock, b) = stub();
    let barrier = Barrier::new("g", 30_000.0).unwrap();
    assert_eq!(barrier.events_key(), "g@events");
    let woken = Rc::new(RefCell::new(Vec::new()));
    run(&clock, async {
        assert!(barrier.create(&*b, 3.0).await.unwrap());
        assert!(!barrier.create(&*b, 3.0).await.unwrap(), "created once");
        assert_eq!(b.get("g"), Some(3));
    });
    for _ in 0..2 {
        let (b, barrier, woken, c) = (b.clone(), barrier.clone(), woken.clone(), clock.clone());
        clock.spawn(async move {
            let out = barrier.wait(&*b, true, Some(60_000.0)).await.unwrap();
            woken.borrow_mut().push((out, c.now_ms()));
        });
    }
    run(&clock, async {
        clock.sleep_ms(10.0).await;
        assert_eq!(b.get("g"), Some(1));
        assert!(woken.borrow().is_empty());
        clock.sleep_ms(1000.0).await;
        // The last party: its decrement is refused, which is what clears the barrier.
        assert!(barrier.wait(&*b, true, Some(60_000.0)).await.unwrap());
        assert_eq!(b.get("g"), Some(1));
        clock.sleep_ms(1.0).await;
    });
    assert_eq!(*woken.borrow(), [(true, 1010.0), (true, 1010.0)]);
}

#[test]
fn barrier_wait_times_out_and_non_blocking_waits_answer_at_once() {
    let (clock, b) = stub();
    let barrier = Barrier::new("g", 30_000.0).unwrap();
    run(&clock, async {
        barrier.create(&*b, 2.0).await.unwrap();
        let start = clock.now_ms();
        assert!(!barrier.wait(&*b, true, Some(1500.0)).await.unwrap());
        assert_eq!(clock.now_ms() - start, 1500.0);
        assert!(barrier.wait(&*b, false, None).await.unwrap());
        // An absent barrier counts as cleared, as in Dramatiq.
        let gone = Barrier::new("never-made", 1000.0).unwrap();
        assert!(gone.wait(&*b, false, None).await.unwrap());
    });
    assert_eq!(clock.pending_timers(), 0);
}

#[test]
fn barrier_parties_are_checked() {
    let (clock, b) = stub();
    let barrier = Barrier::new("g", 1000.0).unwrap();
    run(&clock, async {
        assert!(matches!(
            barrier.create(&*b, 0.0).await,
            Err(CreateError::Option(_))
        ));
    });
}

/// Memcached as the server behaves: `add` only if absent, `incr`/`decr` of existing
/// counters only, `decr` stopping at 0 and space-padding a shortened number.
#[derive(Default)]
struct FakeMemcached {
    items: RefCell<HashMap<String, (Vec<u8>, u64)>>,
    calls: RefCell<Vec<String>>,
}

impl MemcachedCounterClient for FakeMemcached {
    fn epoch_s(&self) -> u64 {
        1_000_000
    }
    async fn add(&self, key: &str, value: &str, exptime: u64) -> Result<bool, StoreError> {
        self.calls
            .borrow_mut()
            .push(format!("add {key} {value} {exptime}"));
        let mut items = self.items.borrow_mut();
        if items.contains_key(key) {
            return Ok(false);
        }
        items.insert(key.into(), (value.as_bytes().to_vec(), exptime));
        Ok(true)
    }
    async fn incr(&self, key: &str, amount: u64) -> Result<Option<u64>, StoreError> {
        self.calls.borrow_mut().push(format!("incr {key} {amount}"));
        let mut items = self.items.borrow_mut();
        let Some(item) = items.get_mut(key) else {
            return Ok(None);
        };
        let v = counter_value(&item.0).unwrap() as u64 + amount;
        item.0 = v.to_string().into_bytes();
        Ok(Some(v))
    }
    async fn decr(&self, key: &str, amount: u64) -> Result<Option<u64>, StoreError> {
        self.calls.borrow_mut().push(format!("decr {key} {amount}"));
        let mut items = self.items.borrow_mut();
        let Some(item) = items.get_mut(key) else {
            return Ok(None);
        };
        let old = item.0.len();
        let v = (counter_value(&item.0).unwrap() as u64).saturating_sub(amount);
        let mut text = v.to_string().into_bytes();
        text.resize(old.max(text.len()), b' ');
        item.0 = text;
        Ok(Some(v))
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let items = self.items.borrow();
        Ok(keys
            .iter()
            .map(|k| items.get(k).map(|i| i.0.clone()))
            .collect())
    }
}

fn value(m: &MemcachedRateLimiterBackend<FakeMemcached>, key: &str) -> Option<i64> {
    m.client()
        .items
        .borrow()
        .get(key)
        .and_then(|i| counter_value(&i.0))
}

#[test]
fn memcached_concurrent_limiter_takes_back_a_refused_increment() {
    let clock = ManualClock::new();
    let m = MemcachedRateLimiterBackend::new(FakeMemcached::default());
    let l = RateLimiter::new("api", 1.0, LimiterKind::Concurrent { ttl_ms: 900_000 }).unwrap();
    run(&clock, async {
        assert!(l.try_acquire(&m, 0.0).await.unwrap());
        assert!(!l.try_acquire(&m, 0.0).await.unwrap());
        assert_eq!(
            value(&m, "api"),
            Some(1),
            "the refused increment is taken back"
        );
        l.release(&m).await.unwrap();
        assert_eq!(value(&m, "api"), Some(0));
        assert!(l.try_acquire(&m, 0.0).await.unwrap());
    });
    assert_eq!(
        m.client().calls.borrow()[..4],
        ["add api 1 900", "add api 1 900", "incr api 1", "decr api 1"]
    );
}

#[test]
fn memcached_window_limiter_counts_like_dramatiqs() {
    let clock = ManualClock::new();
    let m = MemcachedRateLimiterBackend::new(FakeMemcached::default());
    let l = RateLimiter::new("w", 2.0, LimiterKind::Window { window_s: 3 }).unwrap();
    run(&clock, async {
        assert!(l.try_acquire(&m, 5_000.0).await.unwrap());
        assert!(l.try_acquire(&m, 6_000.0).await.unwrap());
        assert!(!l.try_acquire(&m, 7_000.0).await.unwrap());
        // A refused acquisition leaves the current key at 0, as Dramatiq's `add(key, 0)`.
        assert_eq!(value(&m, "w@7"), Some(0));
        assert_eq!(value(&m, "w@5"), Some(1));
        assert!(
            l.try_acquire(&m, 8_000.0).await.unwrap(),
            "second 5 left the window"
        );
    });
    assert_eq!(
        m.client().items.borrow()["w@5"].1,
        3,
        "exptime: the window in seconds"
    );
}

#[test]
fn memcached_barrier_clears_at_zero_and_refuses_to_block() {
    let clock = ManualClock::new();
    let m = MemcachedRateLimiterBackend::new(FakeMemcached::default());
    let barrier = Barrier::new("g", 86_400_000.0).unwrap();
    run(&clock, async {
        assert!(barrier.create(&m, 2.0).await.unwrap());
        assert!(!barrier.wait(&m, false, None).await.unwrap());
        assert!(barrier.wait(&m, false, None).await.unwrap());
        // Memcached's decrement happened (Redis's is refused): the counter is 0.
        assert_eq!(value(&m, "g"), Some(0));
        barrier.create(&m, 2.0).await.unwrap();
        let again = Barrier::new("h", 1000.0).unwrap();
        again.create(&m, 2.0).await.unwrap();
        assert!(again.wait(&m, true, None).await.is_err());
    });
}

#[test]
fn memcached_expiries_are_whole_seconds() {
    assert_eq!(counter_exptime(900_000, 0), 900);
    assert_eq!(counter_exptime(1500, 0), 1);
    assert_eq!(
        counter_exptime(500, 0),
        1,
        "never 0, which Memcached reads as forever"
    );
    assert_eq!(counter_exptime(31 * 86_400_000, 1_000), 1_000 + 31 * 86_400);
    assert_eq!(counter_value(b"12  "), Some(12));
    assert_eq!(counter_value(b"x"), None);
}

/// A Memcached whose every call waits a tick, so concurrent calls interleave.
struct SlowMemcached(FakeMemcached, ManualClock);

impl MemcachedCounterClient for SlowMemcached {
    fn epoch_s(&self) -> u64 {
        self.0.epoch_s()
    }
    async fn add(&self, key: &str, value: &str, exptime: u64) -> Result<bool, StoreError> {
        self.1.sleep_ms(1.0).await;
        self.0.add(key, value, exptime).await
    }
    async fn incr(&self, key: &str, amount: u64) -> Result<Option<u64>, StoreError> {
        self.1.sleep_ms(1.0).await;
        self.0.incr(key, amount).await
    }
    async fn decr(&self, key: &str, amount: u64) -> Result<Option<u64>, StoreError> {
        self.1.sleep_ms(1.0).await;
        self.0.decr(key, amount).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.1.sleep_ms(1.0).await;
        self.0.get_many(keys).await
    }
}

#[test]
fn memcached_window_grants_exactly_the_limit_to_a_burst_of_this_process() {
    let clock = ManualClock::new();
    let m = Rc::new(MemcachedRateLimiterBackend::new(SlowMemcached(
        FakeMemcached::default(),
        clock.clone(),
    )));
    let l = Rc::new(RateLimiter::new("w", 5.0, LimiterKind::Window { window_s: 10 }).unwrap());
    let granted = Rc::new(RefCell::new(0));
    for _ in 0..20 {
        let (m, l, granted) = (m.clone(), l.clone(), granted.clone());
        clock.spawn(async move {
            if l.try_acquire(&*m, 50_000.0).await.unwrap() {
                *granted.borrow_mut() += 1;
            }
        });
    }
    run(&clock, async { clock.sleep_ms(1000.0).await });
    // Without taking turns, 20 interleaved attempts see each other's passing increments
    // and may all refuse.
    assert_eq!(*granted.borrow(), 5);
}
