//! Collecting many results under one deadline, on a virtual clock: outcomes arrive in
//! completion order, each the moment its value lands on a store that can wake waiters,
//! the rest time out together at the single deadline, and nothing is left behind.
#![cfg(not(target_arch = "wasm32"))]

use std::cell::Cell;
use std::rc::Rc;

use dramatiq_results::codec::value::Value;
use dramatiq_results::model::envelope::ExceptionInfo;
use dramatiq_results::model::error::{ResultError, StoreError};
use dramatiq_results::model::key::KeyScheme;
use dramatiq_results::results::backend::{decode_result, ResultBackend, Wait};
use dramatiq_results::results::collect::{Collect, Outcome};
use dramatiq_results::results::store::Store;
use dramatiq_results::stores::stub::StubStore;
use dramatiq_results::{testing::ManualClock, wait::timer::Timer};

/// A store that cannot announce writes and counts batch reads.
struct Polled {
    inner: StubStore<ManualClock>,
    batches: Cell<u32>,
}

impl Store for Polled {
    dramatiq_results::forward_to_inner!(get, put, delete);
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.batches.set(self.batches.get() + 1);
        let mut out = Vec::new();
        for k in keys {
            out.push(self.inner.get(k).await?);
        }
        Ok(out)
    }
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{i}")).collect()
}

/// Drains a collection, recording when each outcome arrived.
async fn drain<S: Store, T: Timer>(
    backend: &ResultBackend<S, T>,
    mut c: Collect,
) -> Vec<(f64, Outcome)> {
    let mut out = Vec::new();
    while let Some(o) = c.next(backend).await {
        out.push((backend.timer().now_ms(), o));
    }
    out
}

fn value(o: &Outcome) -> Value {
    decode_result("k", o.1.as_ref().expect("a value")).expect("decodes")
}

#[test]
fn stub_outcomes_arrive_in_completion_order_when_stored() {
    let clock = ManualClock::new();
    let b = Rc::new(ResultBackend::new(
        StubStore::new(clock.clone()),
        clock.clone(),
        KeyScheme::default(),
        1,
    ));
    let (b2, c2) = (b.clone(), clock.clone());
    clock.spawn(async move {
        for (at, key, v) in [(100.0, "k2", 2), (250.0, "k0", 0)] {
            c2.sleep_ms(at - c2.now_ms()).await;
            b2.store_result(key, &Value::Int(v), 60_000).await.unwrap();
        }
        c2.sleep_ms(50.0).await;
        let exc = ExceptionInfo::new("ValueError", "bad");
        b2.store_exception("k1", &exc, 60_000).await.unwrap();
    });
    let got = clock
        .block_on(drain(
            &b,
            Collect::new(keys(4), Wait::block(1_000.0).unwrap()),
        ))
        .unwrap();
    let order: Vec<(f64, usize)> = got.iter().map(|(t, o)| (*t, o.0)).collect();
    assert_eq!(
        order,
        vec![(100.0, 2), (250.0, 0), (300.0, 1), (1_000.0, 3)]
    );
    assert_eq!(value(&got[0].1), Value::Int(2));
    assert!(matches!(
        decode_result("k1", got[2].1 .1.as_ref().unwrap()),
        Err(ResultError::Failure { .. })
    ));
    assert!(matches!(got[3].1 .1, Err(ResultError::Timeout { ref key, .. }) if key == "k3"));
    assert_eq!(b.store().waiting(), 0, "no subscription left behind");
    assert_eq!(clock.pending_timers(), 0, "no timer left behind");
}

#[test]
fn one_deadline_for_all_and_one_batch_read_per_round() {
    for seed in 0..20 {
        let clock = ManualClock::new();
        let b = ResultBackend::new(
            Polled {
                inner: StubStore::new(clock.clone()),
                batches: Cell::new(0),
            },
            clock.clone(),
            KeyScheme::default(),
            seed,
        );
        clock
            .block_on(b.store_result("k1", &Value::Int(1), 60_000))
            .unwrap()
            .unwrap();
        let got = clock
            .block_on(drain(
                &b,
                Collect::new(keys(50), Wait::block(3_000.0).unwrap()),
            ))
            .unwrap();
        assert_eq!(got.len(), 50);
        assert_eq!((got[0].0, got[0].1 .0), (0.0, 1), "the stored one at once");
        assert!(got[1..]
            .iter()
            .all(|(t, o)| *t == 3_000.0 && matches!(o.1, Err(ResultError::Timeout { .. }))));
        // Back-off between rounds (100 ms doubling, 2 s cap): a handful of batch reads,
        // not 49 waits of 3 s each.
        let batches = b.store().batches.get();
        assert!((3..=8).contains(&batches), "seed {seed}: {batches} batches");
    }
}

#[test]
fn non_blocking_reports_missing_at_once_and_empty_ends_at_once() {
    let clock = ManualClock::new();
    let b = ResultBackend::new(
        StubStore::new(clock.clone()),
        clock.clone(),
        KeyScheme::default(),
        1,
    );
    clock
        .block_on(b.store_result("k0", &Value::from("x"), 60_000))
        .unwrap()
        .unwrap();
    let got = clock
        .block_on(drain(&b, Collect::new(keys(3), Wait::NOW)))
        .unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(value(&got[0].1), Value::from("x"));
    assert!(got[1..]
        .iter()
        .all(|(_, o)| matches!(o.1, Err(ResultError::Missing { .. }))));
    assert_eq!(clock.now_ms(), 0.0);
    let none = clock
        .block_on(drain(
            &b,
            Collect::new(vec![], Wait::block(5_000.0).unwrap()),
        ))
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(clock.now_ms(), 0.0);
}

/// Dramatiq's `group.get_results()` reads its children in order, so a missing result ahead
/// of a stored failure is what it raises: without blocking, outcomes come in list order
/// (missing ones included), from a single batch read.
#[test]
fn non_blocking_outcomes_come_in_list_order_from_one_read() {
    let clock = ManualClock::new();
    let b = ResultBackend::new(
        Polled {
            inner: StubStore::new(clock.clone()),
            batches: Cell::new(0),
        },
        clock.clone(),
        KeyScheme::default(),
        1,
    );
    let exc = ExceptionInfo::new("TypeError", "boom");
    clock
        .block_on(b.store_exception("k1", &exc, 60_000))
        .unwrap()
        .unwrap();
    clock
        .block_on(b.store_result("k3", &Value::Int(3), 60_000))
        .unwrap()
        .unwrap();
    let got = clock
        .block_on(drain(&b, Collect::new(keys(4), Wait::NOW)))
        .unwrap();
    let order: Vec<usize> = got.iter().map(|(_, o)| o.0).collect();
    assert_eq!(order, [0, 1, 2, 3]);
    assert!(matches!(got[0].1 .1, Err(ResultError::Missing { .. })));
    assert!(got[1].1 .1.is_ok(), "the stored failure's bytes");
    assert!(matches!(got[2].1 .1, Err(ResultError::Missing { .. })));
    assert_eq!(value(&got[3].1), Value::Int(3));
    assert_eq!(b.store().batches.get(), 1);
}

/// A store whose reads fail, counting them.
#[derive(Default)]
struct Failing {
    reads: Cell<u32>,
}

impl Store for Failing {
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.reads.set(self.reads.get() + 1);
        Err(StoreError::new("connection refused"))
    }
    async fn put(&self, _: &str, _: Vec<u8>, _: u64) -> Result<(), StoreError> {
        Ok(())
    }
    async fn delete(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

#[test]
fn a_failing_store_is_retried_until_the_deadline_then_every_key_times_out_with_its_error() {
    let clock = ManualClock::new();
    let b = ResultBackend::new(Failing::default(), clock.clone(), KeyScheme::default(), 1);
    let got = clock
        .block_on(drain(
            &b,
            Collect::new(keys(3), Wait::block(1_000.0).unwrap()),
        ))
        .unwrap();
    assert_eq!(got.len(), 3);
    for (t, (_, o)) in &got {
        assert_eq!(*t, 1_000.0, "never before the deadline");
        assert!(
            matches!(o, Err(ResultError::Timeout { cause: Some(source), .. }) if source.message.contains("refused")),
            "{o:?}"
        );
    }
    assert!(
        b.store().reads.get() > 3,
        "retried: {} reads",
        b.store().reads.get()
    );
}

#[test]
fn a_failing_store_ends_a_non_blocking_collection_at_once() {
    let clock = ManualClock::new();
    let b = ResultBackend::new(Failing::default(), clock.clone(), KeyScheme::default(), 1);
    let got = clock
        .block_on(drain(&b, Collect::new(keys(3), Wait::NOW)))
        .unwrap();
    for (t, (_, o)) in &got {
        assert_eq!(*t, 0.0);
        assert!(
            matches!(o, Err(ResultError::Store { source, .. }) if source.message.contains("refused")),
            "{o:?}"
        );
    }
}

/// A store that answers every read with its own error (Redis's WRONGTYPE).
struct Refusing;

impl Store for Refusing {
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(
            StoreError::new("WRONGTYPE Operation against a key holding the wrong kind of value")
                .answered(),
        )
    }
    async fn put(&self, _: &str, _: Vec<u8>, _: u64) -> Result<(), StoreError> {
        Ok(())
    }
    async fn delete(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

/// An error the store answers with cannot change by asking again: a blocked collection
/// ends with it at once, as a single blocked wait does (it was retried to the deadline and
/// became a `ResultTimeout`).
#[test]
fn an_answered_store_error_ends_a_blocked_collection_at_once() {
    let clock = ManualClock::new();
    let b = ResultBackend::new(Refusing, clock.clone(), KeyScheme::default(), 1);
    let got = clock
        .block_on(drain(
            &b,
            Collect::new(keys(2), Wait::block(1_000.0).unwrap()),
        ))
        .unwrap();
    assert_eq!(got.len(), 2);
    for (t, (_, o)) in &got {
        assert_eq!(*t, 0.0, "at once");
        assert!(
            matches!(o, Err(ResultError::Store { source, .. }) if source.message.contains("WRONGTYPE")),
            "{o:?}"
        );
    }
    let single = clock.block_on(b.get_result_by_key("k0", Wait::block(1_000.0).unwrap()));
    assert!(
        matches!(single, Some(Err(ResultError::Store { .. }))),
        "{single:?}"
    );
}

/// A stub whose reads fail between `down_from` and `up_at` (virtual ms): a server restart.
struct Restarting {
    inner: Rc<StubStore<ManualClock>>,
    clock: ManualClock,
    down_from: f64,
    up_at: f64,
}

impl Store for Restarting {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = self.clock.now_ms();
        if now >= self.down_from && now < self.up_at {
            return Err(StoreError::new("connection refused"));
        }
        self.inner.get(key).await
    }
    dramatiq_results::forward_to_inner!(put, delete);
}

#[test]
fn a_store_back_before_the_deadline_yields_the_values() {
    let clock = ManualClock::new();
    let store = Restarting {
        inner: Rc::new(StubStore::new(clock.clone())),
        clock: clock.clone(),
        down_from: 0.0,
        up_at: 400.0,
    };
    let b = ResultBackend::new(store, clock.clone(), KeyScheme::default(), 1);
    let writer = clock.clone();
    let inner = b.store().inner.clone();
    clock.spawn(async move {
        writer.sleep_ms(200.0).await;
        for k in keys(2) {
            let _ = inner.put(&k, b"1".to_vec(), 60_000).await;
        }
    });
    let got = clock
        .block_on(drain(
            &b,
            Collect::new(keys(2), Wait::block(5_000.0).unwrap()),
        ))
        .unwrap();
    assert_eq!(got.len(), 2);
    for (t, (_, o)) in &got {
        assert!(*t >= 400.0 && *t < 5_000.0, "at {t}");
        assert!(o.is_ok(), "{o:?}");
    }
}

/// A stub that counts how many keys its batch reads asked for.
struct Counted {
    inner: Rc<StubStore<ManualClock>>,
    keys_read: Cell<usize>,
}

impl Store for Counted {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.keys_read.set(self.keys_read.get() + 1);
        self.inner.get(key).await
    }
    dramatiq_results::forward_to_inner!(put, delete);
    fn watch(&self, key: &str) -> dramatiq_results::results::store::Watch {
        self.inner.watch(key)
    }
    fn watch_many(
        &self,
        keys: &[(usize, &str)],
    ) -> Option<dramatiq_results::wait::notify::NotifiedSet> {
        self.inner.watch_many(keys)
    }
}

#[test]
fn results_arriving_one_by_one_cost_linear_reads_on_a_store_that_wakes() {
    let n = 2_000;
    let clock = ManualClock::new();
    let inner = Rc::new(StubStore::new(clock.clone()));
    let store = Counted {
        inner: inner.clone(),
        keys_read: Cell::new(0),
    };
    let b = ResultBackend::new(store, clock.clone(), KeyScheme::default(), 1);
    let writer = clock.clone();
    clock.spawn(async move {
        for k in keys(n) {
            writer.sleep_ms(1.0).await;
            let _ = inner.put(&k, b"1".to_vec(), 60_000).await;
        }
    });
    let got = clock
        .block_on(drain(
            &b,
            Collect::new(keys(n), Wait::block(60_000.0).unwrap()),
        ))
        .unwrap();
    assert_eq!(got.len(), n);
    assert!(got.iter().all(|(_, (_, o))| o.is_ok()));
    let read = b.store().keys_read.get();
    assert!(read <= 3 * n, "{read} keys read for {n} results");
}
