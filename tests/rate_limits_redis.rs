//! The rate-limit core's Redis backend against a real `redis-server` (started here on a
//! free loopback port): the keys, values and TTLs each limiter leaves, Dramatiq's, read back
//! with plain commands. (The same scenarios beside Python's own limiters are in
//! `tests/js/rate-limits.test.mjs`.)
//!
//! Skipped, with a note, when `redis-server` is not installed (`scripts/setup --services`).
#![cfg(not(target_arch = "wasm32"))]

use std::cell::RefCell;

mod common;
use common::{Conn, Server};
use dramatiq_results::model::error::StoreError;
use dramatiq_results::rate_limits::redis::RedisRateLimiterBackend;
use dramatiq_results::rate_limits::{Barrier, LimiterKind, RateLimiter};
use dramatiq_results::resp::{Arg, Reply};
use dramatiq_results::stores::redis::RedisClient;
use dramatiq_results::testing::ManualClock;
use dramatiq_results::wait::timer::Timer;

/// The core's client contract over one blocking connection.
struct Client(RefCell<Conn>);

impl RedisClient for Client {
    async fn command(&self, argv: &[Arg<'_>]) -> Result<Reply, StoreError> {
        let argv: Vec<Vec<u8>> = argv
            .iter()
            .map(|a| match a {
                Arg::Text(t) => t.as_bytes().to_vec(),
                Arg::Bytes(b) => b.to_vec(),
            })
            .collect();
        self.0.borrow_mut().try_send(&argv).map_err(StoreError::new)
    }
}

fn setup() -> Option<(
    Server,
    Conn,
    ManualClock,
    RedisRateLimiterBackend<Client, ManualClock>,
)> {
    let Some(server) = Server::start("rate-limits-redis") else {
        eprintln!("note: redis-server not installed; skipping");
        return None;
    };
    let clock = ManualClock::new();
    let backend =
        RedisRateLimiterBackend::new(Client(RefCell::new(Conn::open(server.port))), clock.clone());
    let probe = Conn::open(server.port);
    Some((server, probe, clock, backend))
}

fn text(r: Reply) -> String {
    match r {
        Reply::Bytes(b) => String::from_utf8(b).unwrap(),
        other => panic!("not a string: {other:?}"),
    }
}

fn int(r: Reply) -> i64 {
    match r {
        Reply::Int(n) => n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// A PTTL a few milliseconds below the TTL just written.
fn fresh(pttl: i64, ttl: i64) {
    assert!(
        pttl <= ttl && pttl > ttl - 2000,
        "PTTL {pttl}, expected about {ttl}"
    );
}

#[test]
fn the_limiters_leave_dramatiqs_keys_values_and_ttls() {
    let Some((_server, mut probe, clock, b)) = setup() else {
        return;
    };
    let c = RateLimiter::new("mutex", 2.0, LimiterKind::Concurrent { ttl_ms: 60_000 }).unwrap();
    let w = RateLimiter::new("win", 2.0, LimiterKind::Window { window_s: 3 }).unwrap();
    let k = RateLimiter::new("bkt", 1.0, LimiterKind::Bucket { bucket_ms: 10_000 }).unwrap();
    clock
        .block_on(async {
            assert!(c.try_acquire(&b, 0.0).await.unwrap());
            assert_eq!(text(probe.cmd(&["GET", "mutex"])), "1");
            assert!(c.try_acquire(&b, 0.0).await.unwrap());
            assert!(!c.try_acquire(&b, 0.0).await.unwrap());
            assert_eq!(text(probe.cmd(&["GET", "mutex"])), "2");
            assert_eq!(text(probe.cmd(&["TYPE", "mutex"])), "string");
            fresh(int(probe.cmd(&["PTTL", "mutex"])), 60_000);
            c.release(&b).await.unwrap();
            c.release(&b).await.unwrap();
            c.release(&b).await.unwrap();
            assert_eq!(text(probe.cmd(&["GET", "mutex"])), "0");

            let t = 1_700_000_000_500.0;
            assert!(w.try_acquire(&b, t).await.unwrap());
            assert!(w.try_acquire(&b, t + 1000.0).await.unwrap());
            assert!(!w.try_acquire(&b, t + 2000.0).await.unwrap());
            assert_eq!(text(probe.cmd(&["GET", "win@1700000000"])), "1");
            assert_eq!(text(probe.cmd(&["GET", "win@1700000001"])), "1");
            // Redis's `incr_and_sum` writes nothing when it refuses (unlike the stub's).
            assert_eq!(probe.cmd(&["EXISTS", "win@1700000002"]), Reply::Int(0));
            fresh(int(probe.cmd(&["PTTL", "win@1700000001"])), 3000);

            assert!(k.try_acquire(&b, 1_234_567.0).await.unwrap());
            assert!(!k.try_acquire(&b, 1_239_999.0).await.unwrap());
            assert_eq!(text(probe.cmd(&["GET", "bkt@1230000"])), "1");
            fresh(int(probe.cmd(&["PTTL", "bkt@1230000"])), 10_000);
        })
        .expect("the scenario never finished");
}

#[test]
fn the_barrier_is_dramatiqs_and_scripts_survive_a_flush() {
    let Some((_server, mut probe, clock, b)) = setup() else {
        return;
    };
    let barrier = Barrier::new("group-1", 86_400_000.0).unwrap();
    clock
        .block_on(async {
            assert!(barrier.create(&b, 3.0).await.unwrap());
            assert!(!barrier.create(&b, 3.0).await.unwrap());
            assert_eq!(text(probe.cmd(&["GET", "group-1"])), "3");
            fresh(int(probe.cmd(&["PTTL", "group-1"])), 86_400_000);
            probe.cmd(&["SCRIPT", "FLUSH"]);
            assert!(!barrier.wait(&b, false, None).await.unwrap());
            assert_eq!(text(probe.cmd(&["GET", "group-1"])), "2");
            // Polling (no blocking connection), on the virtual clock: no event, a timeout.
            assert!(!barrier.wait(&b, true, Some(3000.0)).await.unwrap());
            assert_eq!(clock.now_ms(), 3000.0);
            assert_eq!(text(probe.cmd(&["GET", "group-1"])), "1");
            assert!(barrier.wait(&b, false, None).await.unwrap());
            assert_eq!(
                text(probe.cmd(&["GET", "group-1"])),
                "1",
                "the last decrement is refused"
            );
            assert_eq!(
                probe.cmd(&["LRANGE", "group-1@events", "0", "-1"]),
                Reply::Array(vec![Reply::Bytes(b"x".to_vec())])
            );
            fresh(int(probe.cmd(&["PTTL", "group-1@events"])), 86_400_000);
            // A later waiter sees the event at once.
            assert!(barrier.wait(&b, true, Some(60_000.0)).await.unwrap());
        })
        .expect("the scenario never finished");
}
