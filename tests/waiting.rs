//! Waiting for results, on a virtual clock: resolves the moment a value lands, times out
//! exactly at the deadline (never early, never late), polls a store that cannot wake with
//! Dramatiq's back-off, and leaves nothing behind when cancelled.
#![cfg(not(target_arch = "wasm32"))]

use std::cell::Cell;
use std::rc::Rc;

use dramatiq_results::codec::value::Value;
use dramatiq_results::model::error::{ResultError, StoreError};
use dramatiq_results::model::key::KeyScheme;
use dramatiq_results::results::backend::{ResultBackend, Wait, SETTLE_GRACE_MS};
use dramatiq_results::results::store::Store;
use dramatiq_results::stores::stub::StubStore;
use dramatiq_results::wait::race::{race, Either};
use dramatiq_results::{testing::ManualClock, wait::timer::Timer};

/// A store that cannot announce writes (like Memcached or KV): waiters must poll.
struct Polled {
    inner: StubStore<ManualClock>,
    gets: Cell<u32>,
    get_times: std::cell::RefCell<Vec<f64>>,
    clock: ManualClock,
}

impl Store for Polled {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.gets.set(self.gets.get() + 1);
        self.get_times.borrow_mut().push(self.clock.now_ms());
        self.inner.get(key).await
    }
    dramatiq_results::forward_to_inner!(put, delete);
}

/// A store whose reads never settle, or fail.
struct Broken {
    hang: bool,
}

impl Store for Broken {
    async fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if self.hang {
            std::future::pending().await
        } else {
            Err(StoreError::new("connection refused"))
        }
    }
    async fn put(&self, _: &str, _: Vec<u8>, _: u64) -> Result<(), StoreError> {
        std::future::pending().await
    }
    async fn delete(&self, _key: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A store that answers every read with an error of its own (a server's `WRONGTYPE`).
struct Refusing;

impl Store for Refusing {
    async fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(
            StoreError::new("WRONGTYPE Operation against a key holding the wrong kind of value")
                .answered(),
        )
    }
    async fn put(&self, _: &str, _: Vec<u8>, _: u64) -> Result<(), StoreError> {
        std::future::pending().await
    }
    async fn delete(&self, _key: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

fn stub(clock: &ManualClock) -> Rc<ResultBackend<StubStore<ManualClock>, ManualClock>> {
    Rc::new(ResultBackend::new(
        StubStore::new(clock.clone()),
        clock.clone(),
        KeyScheme::default(),
        42,
    ))
}

fn polled(clock: &ManualClock, seed: u64) -> Rc<ResultBackend<Polled, ManualClock>> {
    Rc::new(ResultBackend::new(
        Polled {
            inner: StubStore::new(clock.clone()),
            gets: Cell::new(0),
            get_times: Default::default(),
            clock: clock.clone(),
        },
        clock.clone(),
        KeyScheme::default(),
        seed,
    ))
}

/// Given a waiter blocked on the stub, when a value is stored at t=150 ms, then the waiter
/// resolves at t=150 ms exactly, having read the store only twice (no polling).
#[test]
fn stub_wakes_waiter_on_store() {
    let clock = ManualClock::new();
    let b = stub(&clock);
    let (b2, c2) = (b.clone(), clock.clone());
    clock.spawn(async move {
        c2.sleep_ms(150.0).await;
        b2.store_result("k", &Value::Int(42), 60_000).await.unwrap();
    });
    let got = clock.block_on(b.get_result_by_key("k", Wait::block(30_000.0).unwrap()));
    assert_eq!(got.unwrap().unwrap(), Value::Int(42));
    assert_eq!(clock.now_ms(), 150.0);
    assert_eq!(b.store().waiting(), 0, "no subscription left behind");
    assert_eq!(clock.pending_timers(), 0, "no timer left behind");
}

/// Given nothing is ever stored, a blocking wait of 1000 ms rejects at exactly 1000 ms
/// with ResultTimeout (Dramatiq gives up as early as 466 ms).
#[test]
fn timeout_is_exactly_at_the_deadline() {
    for timeout in [0.0, 1.0, 99.5, 1000.0, 1999.0, 30_000.0] {
        let clock = ManualClock::new();
        let b = stub(&clock);
        let got = clock.block_on(b.get_result_by_key("k", Wait::block(timeout).unwrap()));
        assert!(
            matches!(got, Some(Err(ResultError::Timeout { .. }))),
            "{got:?}"
        );
        assert_eq!(clock.now_ms(), timeout);
        assert_eq!(clock.pending_timers(), 0);
    }
}

/// Given a store that cannot wake waiters, a blocking wait polls with back-off and still
/// times out exactly at the deadline, never sleeping past it.
#[test]
fn polling_never_gives_up_early_or_late() {
    for seed in 0..50 {
        let clock = ManualClock::new();
        let b = polled(&clock, seed);
        let got = clock.block_on(b.get_result_by_key("k", Wait::block(1000.0).unwrap()));
        assert!(matches!(got, Some(Err(ResultError::Timeout { .. }))));
        assert_eq!(clock.now_ms(), 1000.0, "seed {seed}");
        let times = b.store().get_times.borrow();
        assert_eq!(
            *times.last().unwrap(),
            1000.0,
            "a last read at the deadline"
        );
        assert!(times.len() <= 6, "seed {seed}: {} reads", times.len());
    }
}

/// Given a polling store and a 30 s wait, reads follow Dramatiq's back-off (gaps of
/// 100 ms doubling to at most 2 s, the last one cut at the deadline), and a value stored at
/// t=5 s is seen within one back-off interval (≤ 2 s).
#[test]
fn polling_follows_backoff() {
    for seed in 0..50 {
        let clock = ManualClock::new();
        let b = polled(&clock, seed);
        let got = clock.block_on(b.get_result_by_key("k", Wait::block(30_000.0).unwrap()));
        assert!(matches!(got, Some(Err(ResultError::Timeout { .. }))));
        let times = b.store().get_times.borrow().clone();
        let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        let (last, regular) = gaps.split_last().unwrap();
        assert!(
            (100.0..200.0).contains(&regular[0]),
            "seed {seed}: first gap {}",
            regular[0]
        );
        assert!(
            regular.iter().all(|g| (100.0..=2000.0).contains(g)),
            "seed {seed}: {gaps:?}"
        );
        assert!(*last <= 2000.0 && *times.last().unwrap() == 30_000.0);
        assert!(
            times.len() <= 30,
            "seed {seed}: {} reads in 30 s",
            times.len()
        );

        let clock = ManualClock::new();
        let b = polled(&clock, seed);
        let (b2, c2) = (b.clone(), clock.clone());
        clock.spawn(async move {
            c2.sleep_ms(5000.0).await;
            b2.store_result("k", &Value::Null, 60_000).await.unwrap();
        });
        let got = clock.block_on(b.get_result_by_key("k", Wait::block(30_000.0).unwrap()));
        assert_eq!(got.unwrap().unwrap(), Value::Null);
        let late = clock.now_ms() - 5000.0;
        assert!(
            (0.0..=2000.0).contains(&late),
            "seed {seed}: seen {late} ms late"
        );
    }
}

/// A non-blocking read of an absent key is ResultMissing at once, with no sleep.
#[test]
fn non_blocking_missing_is_immediate() {
    let clock = ManualClock::new();
    let b = polled(&clock, 1);
    let got = clock.block_on(b.get_result_by_key("k", Wait::NOW));
    assert!(matches!(got, Some(Err(ResultError::Missing { ref key })) if key == "k"));
    assert_eq!(clock.now_ms(), 0.0);
    assert_eq!(b.store().gets.get(), 1);
}

/// Dropping a wait (what an AbortSignal does) cancels its timer and its subscription.
#[test]
fn cancelled_wait_leaves_nothing_behind() {
    let clock = ManualClock::new();
    let b = stub(&clock);
    let c = clock.clone();
    let out = clock.block_on(async {
        race(
            b.get_result_by_key("k", Wait::block(60_000.0).unwrap()),
            c.sleep_ms(50.0),
        )
        .await
    });
    assert!(matches!(out, Some(Either::Right(()))));
    assert_eq!(clock.now_ms(), 50.0);
    assert_eq!(clock.pending_timers(), 0);
    assert_eq!(b.store().waiting(), 0);
}

/// A result stored with a TTL is gone once it expires; TTL 0 stores nothing.
#[test]
fn ttl_expires_results() {
    let clock = ManualClock::new();
    let b = stub(&clock);
    let c = clock.clone();
    let (at_99, at_100, ttl0) = clock
        .block_on(async {
            b.store_result("k", &Value::Int(1), 100).await.unwrap();
            c.sleep_ms(99.0).await;
            let at_99 = b.get_result_by_key("k", Wait::NOW).await;
            c.sleep_ms(1.0).await;
            let at_100 = b.get_result_by_key("k", Wait::NOW).await;
            b.store_result("z", &Value::Int(1), 0).await.unwrap();
            let ttl0 = b.get_result_by_key("z", Wait::NOW).await;
            (at_99, at_100, ttl0)
        })
        .unwrap();
    assert_eq!(at_99.unwrap(), Value::Int(1));
    assert!(matches!(at_100, Err(ResultError::Missing { .. })));
    assert!(matches!(ttl0, Err(ResultError::Missing { .. })));
    assert_eq!(b.store().len(), 0, "expired entries are freed");
}

/// A store that hangs cannot hang the caller: a read is abandoned shortly after the
/// deadline (a timeout when blocking, a store error otherwise); a failing store is a
/// store error at once.
#[test]
fn a_stores_own_error_answer_ends_a_blocking_wait_at_once() {
    let clock = ManualClock::new();
    let backend = ResultBackend::new(Refusing, clock.clone(), KeyScheme::default(), 1);
    let got = clock.block_on(backend.get_result_by_key("k", Wait::block(5_000.0).unwrap()));
    match got {
        Some(Err(ResultError::Store { source, .. })) => {
            assert!(source.message.starts_with("WRONGTYPE"), "{source}")
        }
        other => panic!("{other:?}"),
    }
    // Asking again cannot change an answer: no waiting for the deadline.
    assert_eq!(clock.now_ms(), 0.0);
}

#[test]
fn broken_stores_give_errors_not_hangs() {
    let clock = ManualClock::new();
    let hung = ResultBackend::new(
        Broken { hang: true },
        clock.clone(),
        KeyScheme::default(),
        1,
    );
    let got = clock.block_on(hung.get_result_by_key("k", Wait::block(500.0).unwrap()));
    match got {
        Some(Err(ResultError::Timeout {
            cause: Some(cause), ..
        })) => {
            assert!(cause.message.contains("get"), "{cause}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(clock.now_ms(), 500.0 + SETTLE_GRACE_MS);

    let clock = ManualClock::new();
    let hung = ResultBackend::new(
        Broken { hang: true },
        clock.clone(),
        KeyScheme::default(),
        1,
    );
    let got = clock.block_on(hung.get_result_by_key("k", Wait::new(false, Some(200.0)).unwrap()));
    assert!(
        matches!(got, Some(Err(ResultError::Store { .. }))),
        "{got:?}"
    );
    let put = clock.block_on(hung.store_result("k", &Value::Null, 1000));
    assert!(
        matches!(put, Some(Err(ResultError::Store { .. }))),
        "{put:?}"
    );

    let clock = ManualClock::new();
    let failing = ResultBackend::new(
        Broken { hang: false },
        clock.clone(),
        KeyScheme::default(),
        1,
    );
    // A blocked wait retries a failing store until its deadline (the one rule for store
    // errors during a blocking wait), then times out with the last error as its cause.
    let got = clock.block_on(failing.get_result_by_key("k", Wait::block(500.0).unwrap()));
    match got {
        Some(Err(ResultError::Timeout {
            key,
            cause: Some(source),
            ..
        })) => {
            assert_eq!(key, "k");
            assert_eq!(source.message, "connection refused");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(clock.now_ms(), 500.0, "never before the deadline");
    // A non-blocking read fails at once with the store's error.
    let clock = ManualClock::new();
    let failing = ResultBackend::new(
        Broken { hang: false },
        clock.clone(),
        KeyScheme::default(),
        1,
    );
    let got = clock.block_on(failing.get_result_by_key("k", Wait::NOW));
    assert!(
        matches!(got, Some(Err(ResultError::Store { .. }))),
        "{got:?}"
    );
    assert_eq!(clock.now_ms(), 0.0);
}

/// A store down for a while (a server restart): a blocked wait outlasts it and gets the
/// value when it is back before the deadline — on the polling path and on the path of a
/// store that waits server side.
#[test]
fn a_store_back_before_the_deadline_yields_the_value() {
    for server_wait in [false, true] {
        let clock = ManualClock::new();
        let store = Outage {
            inner: StubStore::new(clock.clone()),
            clock: clock.clone(),
            up_at: 700.0,
            server_wait,
        };
        let b = ResultBackend::new(store, clock.clone(), KeyScheme::default(), 1);
        clock.block_on(b.store().inner.put("k", b"42".to_vec(), 60_000));
        let got = clock.block_on(b.get_result_by_key("k", Wait::block(2_000.0).unwrap()));
        assert!(
            matches!(got, Some(Ok(Value::Int(42)))),
            "server_wait {server_wait}: {got:?}"
        );
        let t = clock.now_ms();
        assert!((700.0..2_000.0).contains(&t), "at {t}");
    }
}

/// Fails every call until `up_at` (virtual ms); optionally waits server side.
struct Outage {
    inner: StubStore<ManualClock>,
    clock: ManualClock,
    up_at: f64,
    server_wait: bool,
}

impl Outage {
    fn check(&self) -> Result<(), StoreError> {
        if self.clock.now_ms() < self.up_at {
            Err(StoreError::new("connection refused"))
        } else {
            Ok(())
        }
    }
}

impl Store for Outage {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        self.inner.get(key).await
    }
    dramatiq_results::forward_to_inner!(put, delete);
    fn can_wait(&self) -> bool {
        self.server_wait
    }
    async fn wait(&self, key: &str, _timeout_ms: f64) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        self.inner.get(key).await
    }
}

/// Negative and NaN timeouts are refused, not cast; Infinity waits without end.
#[test]
fn timeouts_are_validated() {
    assert!(matches!(
        Wait::block(-1.0),
        Err(ResultError::InvalidArgument(_))
    ));
    assert!(matches!(
        Wait::block(f64::NAN),
        Err(ResultError::InvalidArgument(_))
    ));
    assert_eq!(Wait::new(true, None).unwrap().timeout_ms, 10_000.0);
    let clock = ManualClock::new();
    let b = stub(&clock);
    let (b2, c2) = (b.clone(), clock.clone());
    clock.spawn(async move {
        c2.sleep_ms(5e12).await;
        b2.store_result("k", &Value::Bool(true), 1000)
            .await
            .unwrap();
    });
    let got = clock.block_on(b.get_result_by_key("k", Wait::block(f64::INFINITY).unwrap()));
    assert_eq!(got.unwrap().unwrap(), Value::Bool(true));
}

/// Stored failures come back as ResultFailure with Dramatiq's text, keyed.
#[test]
fn failures_round_trip() {
    let clock = ManualClock::new();
    let b = stub(&clock);
    let exc = dramatiq_results::model::envelope::ExceptionInfo::new("ValueError", "bad value: 42");
    let got = clock
        .block_on(async {
            b.store_exception("k", &exc, 1000).await.unwrap();
            b.get_result_by_key("k", Wait::NOW).await
        })
        .unwrap();
    match got {
        Err(e @ ResultError::Failure { .. }) => {
            assert_eq!(e.to_string(), "actor raised ValueError: bad value: 42");
            assert_eq!(e.key(), Some("k"));
        }
        other => panic!("{other:?}"),
    }
}

/// Many waiters on many keys: each wakes with its own value, none with another's.
#[test]
fn many_waiters_get_their_own_values() {
    let clock = ManualClock::new();
    let b = stub(&clock);
    let results = Rc::new(std::cell::RefCell::new(Vec::new()));
    for i in 0..1000i64 {
        let (b, r) = (b.clone(), results.clone());
        clock.spawn(async move {
            let v = b
                .get_result_by_key(&format!("k{i}"), Wait::block(10_000.0).unwrap())
                .await;
            r.borrow_mut().push((i, v));
        });
    }
    let (b2, c2) = (b.clone(), clock.clone());
    clock.block_on(async move {
        c2.sleep_ms(10.0).await;
        for i in (0..1000i64).rev() {
            b2.store_result(&format!("k{i}"), &Value::Int(i * 7), 60_000)
                .await
                .unwrap();
        }
        c2.sleep_ms(1.0).await;
    });
    let results = results.borrow();
    assert_eq!(results.len(), 1000);
    for (i, v) in results.iter() {
        assert_eq!(v.as_ref().unwrap(), &Value::Int(i * 7));
    }
    assert_eq!(b.store().waiting(), 0);
}

/// A store that waits server side (as Redis's BLMOVE does): it sleeps on the clock until
/// its inner stub holds the key or the timeout passes, and counts its calls.
struct ServerWait {
    inner: StubStore<ManualClock>,
    clock: ManualClock,
    waits: Cell<u32>,
    gets: Cell<u32>,
}

impl Store for ServerWait {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.gets.set(self.gets.get() + 1);
        self.inner.get(key).await
    }
    dramatiq_results::forward_to_inner!(put, delete);
    fn can_wait(&self) -> bool {
        true
    }
    async fn wait(&self, key: &str, timeout_ms: f64) -> Result<Option<Vec<u8>>, StoreError> {
        self.waits.set(self.waits.get() + 1);
        let end = self.clock.now_ms() + timeout_ms;
        // A 1 ms server tick, like a blocking command's own polling of its key.
        while self.clock.now_ms() < end {
            if let Some(v) = self.inner.get(key).await? {
                return Ok(Some(v));
            }
            self.clock
                .sleep_ms(1.0_f64.min(end - self.clock.now_ms()))
                .await;
        }
        self.inner.get(key).await
    }
}

/// A server-side wait whose timeout answers a tick late (as Redis's does).
struct LateTimeout {
    inner: StubStore<ManualClock>,
    clock: ManualClock,
}

impl Store for LateTimeout {
    dramatiq_results::forward_to_inner!(get, put, delete);
    fn can_wait(&self) -> bool {
        true
    }
    async fn wait(&self, key: &str, timeout_ms: f64) -> Result<Option<Vec<u8>>, StoreError> {
        self.clock.sleep_ms(timeout_ms + 100.0).await;
        self.inner.get(key).await
    }
}

/// Redis answers a blocking command's timeout on its next event-loop tick, after our
/// deadline: that is how a wait with no result normally ends, so the `ResultTimeout` says
/// no result came, not that "the store last failed" (it carried the overdue wait as its
/// cause, and every timeout through a blocking connection said so).
#[test]
fn a_server_wait_answering_its_timeout_late_is_a_plain_timeout() {
    let clock = ManualClock::new();
    let b = ResultBackend::new(
        LateTimeout {
            inner: StubStore::new(clock.clone()),
            clock: clock.clone(),
        },
        clock.clone(),
        KeyScheme::default(),
        1,
    );
    let got = clock.block_on(b.get_result_by_key("absent", Wait::block(400.0).unwrap()));
    match got {
        Some(Err(ResultError::Timeout { cause, .. })) => assert!(cause.is_none(), "{cause:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        clock.now_ms(),
        400.0 + SETTLE_GRACE_MS,
        "never hung past the grace"
    );
    let error = clock
        .block_on(b.get_result_by_key("absent", Wait::block(400.0).unwrap()))
        .unwrap()
        .unwrap_err();
    assert!(!error.to_string().contains("failed"), "{error}");
}

/// Given a store that waits server side, a blocking read hands it the whole remaining
/// deadline once, before any read (Dramatiq's `BRPOPLPUSH` at once: no client polling, no
/// round trip first), resolves when the value lands, and times out exactly at the deadline
/// with one last read.
#[test]
fn server_side_wait_replaces_polling() {
    let clock = ManualClock::new();
    let b = Rc::new(ResultBackend::new(
        ServerWait {
            inner: StubStore::new(clock.clone()),
            clock: clock.clone(),
            waits: Cell::new(0),
            gets: Cell::new(0),
        },
        clock.clone(),
        KeyScheme::default(),
        7,
    ));
    let (b2, c2) = (b.clone(), clock.clone());
    clock.spawn(async move {
        c2.sleep_ms(250.0).await;
        b2.store_result("k", &Value::Int(7), 60_000).await.unwrap();
    });
    let got = clock.block_on(b.get_result_by_key("k", Wait::block(5_000.0).unwrap()));
    assert_eq!(got.unwrap().unwrap(), Value::Int(7));
    let woke = clock.now_ms();
    assert!(
        (250.0..=251.0).contains(&woke),
        "woke at {woke}, within the server's tick"
    );
    assert_eq!((b.store().gets.get(), b.store().waits.get()), (0, 1));

    let got = clock.block_on(b.get_result_by_key("absent", Wait::block(1_500.0).unwrap()));
    assert!(
        matches!(got, Some(Err(ResultError::Timeout { .. }))),
        "{got:?}"
    );
    assert_eq!(clock.now_ms(), woke + 1_500.0, "exactly at the deadline");
    assert_eq!((b.store().gets.get(), b.store().waits.get()), (1, 2));
    assert_eq!(clock.pending_timers(), 0);

    // A value already there is answered by the wait itself, at once.
    let got = clock.block_on(b.get_result_by_key("k", Wait::block(5_000.0).unwrap()));
    assert_eq!(got.unwrap().unwrap(), Value::Int(7));
    assert_eq!(clock.now_ms(), woke + 1_500.0, "no time passed");
    assert_eq!((b.store().gets.get(), b.store().waits.get()), (1, 3));

    // A read that does not block never waits server side; one with no time left only reads.
    let got = clock.block_on(b.get_result_by_key("k", Wait::NOW));
    assert_eq!(got.unwrap().unwrap(), Value::Int(7));
    let got = clock.block_on(b.get_result_by_key("absent", Wait::block(0.0).unwrap()));
    assert!(
        matches!(got, Some(Err(ResultError::Timeout { .. }))),
        "{got:?}"
    );
    assert_eq!((b.store().gets.get(), b.store().waits.get()), (3, 3));
    assert_eq!(clock.pending_timers(), 0);
}

/// A store whose one blocking connection is free when a read starts and taken by the time the
/// read would post its wait (another read got it first): it reads at once, never sleeps a
/// back-off with a value already there.
struct TakenMeanwhile {
    inner: StubStore<ManualClock>,
    asked: Cell<u32>,
}

impl Store for TakenMeanwhile {
    dramatiq_results::forward_to_inner!(get, put, delete);
    fn can_wait(&self) -> bool {
        self.asked.set(self.asked.get() + 1);
        self.asked.get() == 1
    }
    async fn wait(&self, _key: &str, _timeout_ms: f64) -> Result<Option<Vec<u8>>, StoreError> {
        panic!("the connection was taken: no wait may be posted");
    }
}

#[test]
fn a_read_whose_blocking_connection_was_taken_reads_before_sleeping() {
    let clock = ManualClock::new();
    let b = ResultBackend::new(
        TakenMeanwhile {
            inner: StubStore::new(clock.clone()),
            asked: Cell::new(0),
        },
        clock.clone(),
        KeyScheme::default(),
        7,
    );
    clock
        .block_on(b.store_result("k", &Value::Int(3), 60_000))
        .unwrap()
        .unwrap();
    let got = clock.block_on(b.get_result_by_key("k", Wait::block(5_000.0).unwrap()));
    assert_eq!(got.unwrap().unwrap(), Value::Int(3));
    assert_eq!(clock.now_ms(), 0.0, "read at once, no back-off slept");
    assert_eq!(clock.pending_timers(), 0);
}

/// `read_bytes_now` (the bindings' path for a read that does not wait, kept apart so a first
/// read compiles none of the waiting loop) answers as `wait_for_bytes` without blocking does:
/// the bytes, `Missing`, the store's error at once, and a hung store's error at the deadline.
#[test]
fn reading_now_answers_as_a_non_blocking_wait() {
    let clock = ManualClock::new();
    let b = stub(&clock);
    clock.block_on(b.store_result("here", &Value::Int(7), 1000));
    let now = clock.block_on(b.read_bytes_now("here", 10_000.0));
    let waited = clock.block_on(b.wait_for_bytes("here", Wait::NOW));
    assert_eq!(format!("{now:?}"), format!("{waited:?}"));
    assert_eq!(now.unwrap().unwrap(), b"7".to_vec());
    let now = clock.block_on(b.read_bytes_now("absent", 10_000.0));
    assert!(matches!(now, Some(Err(ResultError::Missing { ref key })) if key == "absent"));
    assert_eq!(clock.now_ms(), 0.0);

    let failing = ResultBackend::new(
        Broken { hang: false },
        clock.clone(),
        KeyScheme::default(),
        1,
    );
    let now = clock.block_on(failing.read_bytes_now("k", 10_000.0));
    let waited = clock.block_on(failing.wait_for_bytes("k", Wait::NOW));
    assert!(
        matches!(now, Some(Err(ResultError::Store { .. }))),
        "{now:?}"
    );
    assert_eq!(format!("{now:?}"), format!("{waited:?}"));
    assert_eq!(clock.now_ms(), 0.0);

    let clock = ManualClock::new();
    let hung = ResultBackend::new(
        Broken { hang: true },
        clock.clone(),
        KeyScheme::default(),
        1,
    );
    let now = clock.block_on(hung.read_bytes_now("k", 200.0));
    match now {
        Some(Err(ResultError::Store { source, .. })) => {
            assert!(source.message.contains("get"), "{source}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(clock.now_ms(), 200.0 + SETTLE_GRACE_MS);
}
