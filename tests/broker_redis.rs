//! The Redis broker core against a real `redis-server` (started here on a free loopback
//! port, stopped on drop): the argv our builders make, sent over a plain RESP connection,
//! and the replies read by our parsers. Then, when a Python with Dramatiq 2.2.1 is at hand
//! (`target/venv`, made by `scripts/setup --python`, or `$DRAMATIQ_PYTHON`),
//! `tests/py/redis_dispatch_check.py` runs against the same server: our script beside
//! Dramatiq's, a real Python worker, both directions of dead-worker recovery.
//!
//! Skipped, with a note, when `redis-server` is not installed (`scripts/setup --services`).
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

mod common;
use common::{Conn, Server};
use dramatiq_results::brokers::redis::{
    is_noscript, parse_done, parse_fetch, parse_qsize, prepare, redis_message_id, script_load,
    script_sha1, Call, Dispatcher, FetchLimit,
};
use dramatiq_results::brokers::{handle, is_due, Handling};
use dramatiq_results::codec::decode;
use dramatiq_results::model::message::Message;
use dramatiq_results::resp::Reply;

impl Conn {
    /// Runs a script call as a driver should: EVALSHA, and EVAL on NOSCRIPT.
    fn dispatch(&mut self, call: &Call) -> Reply {
        match self.try_send(&call.evalsha(&script_sha1())) {
            Err(text) if is_noscript(&text) => self.send(&call.eval()),
            reply => reply.unwrap(),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn bulk(s: &str) -> Reply {
    Reply::Bytes(s.as_bytes().to_vec())
}

fn add(args: &str, id: &str) -> Message {
    let dict = decode(
        format!(r#"{{"queue_name":"default","actor_name":"add","args":{args},"kwargs":{{}},"options":{{}},"message_id":"{id}","message_timestamp":1}}"#)
            .as_bytes(),
    )
    .unwrap();
    Message::from_dict(&dict, 0).unwrap()
}

fn decoded(body: &[u8]) -> Message {
    Message::from_dict(&decode(body).unwrap(), 0).unwrap()
}

#[test]
fn the_script_runs_on_a_real_server() {
    let Some(server) = Server::start("broker-redis") else {
        eprintln!("skipped: redis-server is not installed (scripts/setup --services)");
        return;
    };
    let mut redis = Conn::open(server.port);
    let d = Dispatcher::new("dramatiq", "js-1");
    let now = now_ms();

    // First call: the server lacks the script, EVALSHA says NOSCRIPT, EVAL runs it.
    let first = prepare(&add("[1,2]", "m1"), None, now, [1; 16]);
    let call = d.enqueue_message(&first, now, false).unwrap();
    assert!(matches!(redis.try_send(&call.evalsha(&script_sha1())), Err(t) if is_noscript(&t)));
    assert_eq!(parse_done(&redis.send(&call.eval())), Ok(()));
    // Now it is cached under the very digest we compute.
    assert_eq!(redis.send(&script_load()), bulk(&script_sha1()));
    let id1 = redis_message_id(&first).unwrap().to_owned();
    assert_eq!(
        redis.cmd(&["LRANGE", "dramatiq:default", "0", "-1"]),
        Reply::Array(vec![bulk(&id1)])
    );
    assert_eq!(
        redis.cmd(&["ZSCORE", "dramatiq:__heartbeats__", "js-1"]),
        bulk(&now.to_string())
    );

    // fetch → ack.
    let fetched = parse_fetch(&redis.dispatch(&d.fetch("default", 16, now, false))).unwrap();
    assert_eq!(fetched.bodies, vec![first.encode()]);
    assert_eq!(fetched.missing, 0);
    let got = decoded(&fetched.bodies[0]);
    assert_eq!(
        redis.cmd(&["SMEMBERS", "dramatiq:__acks__.js-1.default"]),
        Reply::Array(vec![bulk(&id1)])
    );
    let ack = d.ack("default", redis_message_id(&got).unwrap(), now);
    assert_eq!(parse_done(&redis.dispatch(&ack)), Ok(()));
    assert_eq!(
        redis.cmd(&["EXISTS", "dramatiq:default.msgs"]),
        Reply::Int(0)
    );
    assert_eq!(
        redis.cmd(&["EXISTS", "dramatiq:__acks__.js-1.default"]),
        Reply::Int(0)
    );

    // Two more: fetch both in order, nack one, requeue the other.
    let a = prepare(&add("[3]", "m2"), None, now, [2; 16]);
    let b = prepare(&add("[4]", "m3"), None, now, [3; 16]);
    for m in [&a, &b] {
        let reply = redis.dispatch(&d.enqueue_message(m, now, false).unwrap());
        parse_done(&reply).unwrap();
    }
    let fetched = parse_fetch(&redis.dispatch(&d.fetch("default", 16, now, false))).unwrap();
    assert_eq!(fetched.bodies, vec![a.encode(), b.encode()]);
    let (ida, idb) = (redis_message_id(&a).unwrap(), redis_message_id(&b).unwrap());
    parse_done(&redis.dispatch(&d.nack("default", ida, now + 7))).unwrap();
    assert_eq!(
        redis.cmd(&["ZSCORE", "dramatiq:default.XQ", ida]),
        bulk(&(now + 7).to_string())
    );
    assert_eq!(
        redis.cmd(&["HGET", "dramatiq:default.XQ.msgs", ida]),
        Reply::Bytes(a.encode())
    );
    let requeue = d.requeue("default", &[idb, "unknown"], now, false).unwrap();
    parse_done(&redis.dispatch(&requeue)).unwrap();
    assert_eq!(
        redis.cmd(&["LRANGE", "dramatiq:default", "0", "-1"]),
        Reply::Array(vec![bulk(idb)])
    );

    // A worker process that died holding a message: a live one releases what it held at
    // once (its supervisor saw it die), and its heartbeat goes once it holds nothing.
    let dead = Dispatcher::new("dramatiq", "js-dead");
    let fetched = parse_fetch(&redis.dispatch(&dead.fetch("default", 16, now, false))).unwrap();
    assert_eq!(fetched.bodies, vec![b.encode()]);
    assert_eq!(
        redis.cmd(&["LRANGE", "dramatiq:default", "0", "-1"]),
        Reply::Array(vec![])
    );
    parse_done(&redis.dispatch(&d.release("default", "js-dead", now, false))).unwrap();
    assert_eq!(
        redis.cmd(&["LRANGE", "dramatiq:default", "0", "-1"]),
        Reply::Array(vec![bulk(idb)])
    );
    assert_eq!(
        redis.cmd(&["EXISTS", "dramatiq:__acks__.js-dead.default"]),
        Reply::Int(0)
    );
    assert_eq!(
        redis.cmd(&["ZSCORE", "dramatiq:__heartbeats__", "js-dead"]),
        Reply::Nil
    );

    // One that stopped cleanly with a message still running at its shutdown timeout: the
    // message goes back the same, and its heartbeat stays, as a stopped Python worker's.
    let stopped = Dispatcher::new("dramatiq", "js-stopped");
    let fetched = parse_fetch(&redis.dispatch(&stopped.fetch("default", 16, now, false))).unwrap();
    assert_eq!(fetched.bodies, vec![b.encode()]);
    parse_done(&redis.dispatch(&d.release("default", "js-stopped", now, true))).unwrap();
    assert_eq!(
        redis.cmd(&["LRANGE", "dramatiq:default", "0", "-1"]),
        Reply::Array(vec![bulk(idb)])
    );
    assert_eq!(
        redis.cmd(&["EXISTS", "dramatiq:__acks__.js-stopped.default"]),
        Reply::Int(0)
    );
    assert_ne!(
        redis.cmd(&["ZSCORE", "dramatiq:__heartbeats__", "js-stopped"]),
        Reply::Nil
    );

    // A delayed message: on default.DQ with an eta; when due, moved to default.
    let delayed = prepare(&add("[5]", "m4"), Some(30.0), now, [4; 16]);
    parse_done(&redis.dispatch(&d.enqueue_message(&delayed, now, false).unwrap())).unwrap();
    let fetched = parse_fetch(&redis.dispatch(&d.fetch("default.DQ", 8000, now, false))).unwrap();
    let mut held = decoded(&fetched.bodies[0]);
    let Handling::Delay { eta_ms } = handle(&mut held, now) else {
        panic!("a delayed message must wait")
    };
    assert_eq!(eta_ms, (now + 30) as f64);
    assert!(!is_due(eta_ms, now));
    assert!(is_due(eta_ms, now + 30));
    let plan = d
        .undelay("default.DQ", &held, now + 30, [5; 16], false)
        .unwrap();
    parse_done(&redis.dispatch(&plan.enqueue)).unwrap();
    parse_done(&redis.dispatch(&plan.ack)).unwrap();
    let moved_id = redis_message_id(&plan.message).unwrap();
    assert_eq!(
        redis.cmd(&["LRANGE", "dramatiq:default", "0", "-1"]),
        Reply::Array(vec![bulk(idb), bulk(moved_id)])
    );
    assert_eq!(
        redis.cmd(&["EXISTS", "dramatiq:default.DQ.msgs"]),
        Reply::Int(0)
    );
    let body = redis.cmd(&["HGET", "dramatiq:default.msgs", moved_id]);
    let Reply::Bytes(body) = body else {
        panic!("{body:?}")
    };
    assert_eq!(decoded(&body).option("eta"), None);
    assert_eq!(
        parse_qsize(&redis.dispatch(&d.qsize("default", now, false))),
        Ok(2)
    );

    // A dead worker's messages come back with the next maintenance on that queue.
    let dead = Dispatcher::new("dramatiq", "js-dead");
    let long_ago = now - 61_000;
    let fetched = parse_fetch(&redis.dispatch(&dead.fetch("default", 1, long_ago, false))).unwrap();
    assert_eq!(fetched.bodies.len(), 1);
    parse_fetch(&redis.dispatch(&d.fetch("default", 0, now, true))).unwrap();
    assert_eq!(
        redis.cmd(&["LRANGE", "dramatiq:default", "0", "-1"]),
        Reply::Array(vec![bulk(moved_id), bulk(idb)])
    );
    assert_eq!(
        redis.cmd(&["ZSCORE", "dramatiq:__heartbeats__", "js-dead"]),
        Reply::Nil
    );

    // Dead letters past their TTL go too.
    let later = now + 7 + 7 * 86_400_000;
    parse_fetch(&redis.dispatch(&d.fetch("default", 0, later, true))).unwrap();
    assert_eq!(redis.cmd(&["EXISTS", "dramatiq:default.XQ"]), Reply::Int(0));

    // A missing body is a nil in the fetch reply; purge leaves nothing.
    redis.cmd(&["HDEL", "dramatiq:default.msgs", moved_id]);
    let fetched = parse_fetch(&redis.dispatch(&d.fetch("default", 5, now, false))).unwrap();
    assert_eq!((fetched.bodies.len(), fetched.missing), (1, 1));
    parse_done(&redis.dispatch(&d.purge("default", now, false))).unwrap();
    assert_eq!(
        parse_qsize(&redis.dispatch(&d.qsize("default", now, false))),
        Ok(0)
    );

    python_check(server.port);
}

/// A fetch bounded in bytes takes big messages in batches, always at least one that fits,
/// and names a message too big to send instead of sending it (it stays held, for a nack).
#[test]
fn a_bounded_fetch_takes_big_messages_in_batches() {
    let Some(server) = Server::start("broker-redis") else {
        eprintln!("skipped: redis-server is not installed (scripts/setup --services)");
        return;
    };
    let mut redis = Conn::open(server.port);
    let d = Dispatcher::new("dramatiq", "js-1");
    let now = now_ms();
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    for (i, n) in [3000usize, 3000, 3000, 50_000, 3000, 9000]
        .into_iter()
        .enumerate()
    {
        let arg = format!("[\"{}\"]", "x".repeat(n));
        let m = prepare(&add(&arg, &format!("m{i}")), None, now, [i as u8 + 1; 16]);
        sizes.push(m.encode().len() as u64);
        ids.push(redis_message_id(&m).unwrap().to_owned());
        parse_done(&redis.dispatch(&d.enqueue_message(&m, now, false).unwrap())).unwrap();
    }
    let limit = FetchLimit {
        max_bytes: 7000,
        max_message_bytes: 20_000,
    };
    let fetch = |redis: &mut Conn, count| {
        parse_fetch(&redis.dispatch(&d.fetch_within("default", count, limit, now, false))).unwrap()
    };
    // Two of ~3 KB fit under 7000 bytes; the third would pass it.
    let got = fetch(&mut redis, 100);
    assert_eq!(got.bodies.len(), 2, "{:?}", got.oversize);
    // The count still bounds.
    let got = fetch(&mut redis, 1);
    assert_eq!(got.bodies.len(), 1);
    // The 50 KB one is named, not sent, and the one after it still comes.
    let got = fetch(&mut redis, 100);
    assert_eq!(got.oversize, vec![(ids[3].clone(), sizes[3])]);
    assert_eq!(got.bodies.len(), 1);
    // A first message over max_bytes but under max_message_bytes comes alone.
    let got = fetch(&mut redis, 100);
    assert_eq!(got.bodies.len(), 1);
    assert_eq!(decoded(&got.bodies[0]).message_id, "m5");
    // Every one of them is held by this worker until settled: the big one can be nacked.
    assert_eq!(
        redis.cmd(&["SCARD", "dramatiq:__acks__.js-1.default"]),
        Reply::Int(6)
    );
    parse_done(&redis.dispatch(&d.nack("default", &ids[3], now))).unwrap();
    assert_eq!(
        redis.cmd(&["HEXISTS", "dramatiq:default.XQ.msgs", &ids[3]]),
        Reply::Int(1)
    );
    assert_eq!(fetch(&mut redis, 100), Default::default());
}

/// Runs tests/py/redis_dispatch_check.py against the server, when Dramatiq is at hand.
fn python_check(port: u16) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("DRAMATIQ_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/venv/bin/python"));
    if !python.exists() {
        eprintln!(
            "skipped the Python half: no {} (scripts/setup --python, or set DRAMATIQ_PYTHON)",
            python.display()
        );
        return;
    }
    let redis_cli_flush = Conn::open(port).cmd(&["FLUSHALL"]);
    assert_eq!(redis_cli_flush, Reply::Bytes(b"OK".to_vec()));
    let out = Command::new(&python)
        .arg(root.join("tests/py/redis_dispatch_check.py"))
        .args(["--port", &port.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "redis_dispatch_check failed:\n{report}"
    );
    assert!(report.contains(&script_sha1()), "{report}");
}
