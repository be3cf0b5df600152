use super::*;
use crate::brokers::BrokerError;
use crate::resp::Reply;

fn text(argv: &[Vec<u8>]) -> Vec<String> {
    argv.iter()
        .map(|a| String::from_utf8(a.clone()).unwrap())
        .collect()
}

fn dispatcher() -> Dispatcher {
    Dispatcher::new("dramatiq", "w-1")
}

fn message() -> Message {
    Message {
        queue_name: "default".into(),
        actor_name: "add".into(),
        args: vec![1.into(), 2.into()],
        kwargs: vec![],
        options: vec![],
        message_id: "m-1".into(),
        message_timestamp: 1_700_000_000_000,
        float_timestamp: None,
        lone_surrogates: false,
    }
}

const HEAD: [&str; 3] = ["w-1", "60000", "604800000"];

#[test]
fn keys_follow_dispatch_lua() {
    let k = Keys::new("dramatiq");
    assert_eq!(k.queue("default"), "dramatiq:default");
    assert_eq!(k.messages("default"), "dramatiq:default.msgs");
    assert_eq!(k.queue("default.DQ"), "dramatiq:default.DQ");
    assert_eq!(k.messages("default.DQ"), "dramatiq:default.DQ.msgs");
    assert_eq!(k.dead_letters("default"), "dramatiq:default.XQ");
    assert_eq!(k.dead_letters("default.DQ"), "dramatiq:default.XQ");
    assert_eq!(
        k.dead_letter_messages("default.DQ"),
        "dramatiq:default.XQ.msgs"
    );
    assert_eq!(k.acks("w-1", "default"), "dramatiq:__acks__.w-1.default");
    assert_eq!(
        k.acks("w-1", "default.DQ"),
        "dramatiq:__acks__.w-1.default.DQ"
    );
    assert_eq!(k.heartbeats(), "dramatiq:__heartbeats__");
    assert_eq!(k.acks_prefix(), "dramatiq:__acks__.");
}

#[test]
fn every_key_of_a_queue_names_it_back() {
    let k = Keys::new("ns");
    for queue in ["default", "emails.v2", "a-b_c"] {
        let delay = format!("{queue}.DQ");
        for key in [
            k.queue(queue),
            k.messages(queue),
            k.queue(&delay),
            k.messages(&delay),
            k.dead_letters(queue),
            k.dead_letter_messages(&delay),
            k.acks("6c0f6a3e-1b1b-4f7e-9a55-0a1c2b3d4e5f", queue),
            k.acks("w", &delay),
        ] {
            assert_eq!(k.queue_of(&key), Some(queue), "{key}");
        }
    }
    for key in [
        "ns:__heartbeats__",
        "ns:__acks__.worker",
        "other:default",
        "nsx:default",
        "ns:",
        "ns:.msgs",
        "default",
    ] {
        assert_eq!(k.queue_of(key), None, "{key}");
    }
}

#[test]
fn every_call_has_dramatiqs_argv_layout() {
    let d = dispatcher();
    let call = d.enqueue("default", "r-1", b"{}", 1_796_186_356_874, false);
    assert_eq!(call.command, Command::Enqueue);
    assert_eq!(
        text(&call.evalsha("abc")),
        [
            "EVALSHA",
            "abc",
            "1",
            "dramatiq",
            "enqueue",
            "1796186356874",
            "default",
            HEAD[0],
            HEAD[1],
            HEAD[2],
            "0",
            "r-1",
            "{}"
        ]
    );
    let eval = call.eval();
    assert_eq!(eval[0], b"EVAL");
    assert_eq!(eval[1], SCRIPT.as_bytes());
    assert_eq!(eval[2..], call.evalsha("abc")[2..]);
    assert_eq!(call.args().len(), 9);
}

#[test]
fn each_command_has_its_arguments() {
    let d = dispatcher();
    let tail = |c: &Call| text(&c.args()[7..]);
    let fetch = d.fetch("default.DQ", 16, 5, true);
    assert_eq!(text(&fetch.args()[..7])[6], "1");
    assert_eq!(text(&fetch.args()[..7])[2], "default.DQ");
    assert_eq!(tail(&fetch), ["16"]);
    assert_eq!(tail(&d.fetch("q", 8000, 5, false)), ["1000"]);
    assert_eq!(tail(&d.ack("q", "r", 5)), ["r"]);
    assert_eq!(text(d.ack("q", "r", 5).args())[0], "ack");
    assert_eq!(tail(&d.nack("q", "r", 5)), ["r"]);
    assert_eq!(text(d.nack("q", "r", 5).args())[0], "nack");
    let requeue = d.requeue("q", &["a", "b"], 5, false).unwrap();
    assert_eq!(tail(&requeue), ["a", "b"]);
    assert_eq!(d.requeue("q", &[], 5, false), None);
    let release = d.release("q.DQ", "dead-1", 5, false);
    assert_eq!(text(release.args())[0], "release");
    assert_eq!(text(&release.args()[..7])[6], "0");
    assert_eq!(text(&release.args()[..7])[3], "dead-1");
    assert!(tail(&release).is_empty());
    assert_eq!(tail(&d.release("q", "stopped-1", 5, true)), ["stopped"]);
    assert!(tail(&d.purge("q", 5, false)).is_empty());
    assert_eq!(text(d.qsize("q", 5, false).args())[0], "qsize");
}

#[test]
fn settings_reach_the_argv() {
    let mut d = Dispatcher::new("ns", "worker");
    d.heartbeat_timeout_ms = 1500;
    d.dead_message_ttl_ms = 42;
    let argv = text(&d.fetch("q", 1, -3, false).evalsha("s"));
    assert_eq!(
        argv,
        ["EVALSHA", "s", "1", "ns", "fetch", "-3", "q", "worker", "1500", "42", "0", "1"]
    );
    assert_eq!(d.namespace(), "ns");
    assert_eq!(d.worker_id(), "worker");
}

#[test]
fn maintenance_chance_is_per_million_and_never_on_settling() {
    let d = dispatcher();
    assert!(d.maintenance_due(Command::Fetch, 0));
    assert!(d.maintenance_due(Command::Enqueue, 999));
    assert!(!d.maintenance_due(Command::Enqueue, 1000));
    assert!(d.maintenance_due(Command::Enqueue, 1_000_999));
    assert!(!d.maintenance_due(Command::Ack, 0));
    assert!(!d.maintenance_due(Command::Nack, 0));
    let hits = (0..1_000_000u32)
        .step_by(7)
        .filter(|r| d.maintenance_due(Command::Fetch, *r))
        .count();
    assert_eq!(hits, 143);
}

#[test]
fn prepare_assigns_a_fresh_id_and_delays() {
    let m = message();
    let sent = prepare(&m, None, 10, [0x11; 16]);
    assert_eq!(
        redis_message_id(&sent).unwrap(),
        "11111111-1111-4111-9111-111111111111"
    );
    assert_eq!(sent.queue_name, "default");
    // A retried message keeps the option in place, with a new value.
    let mut retried = sent.clone();
    retried.set_option("retries", 1.into());
    let again = prepare(&retried, None, 10, [0; 16]);
    assert_eq!(again.options[0].0, "redis_message_id");
    assert_eq!(again.options[1].0, "retries");
    assert_ne!(
        redis_message_id(&again).unwrap(),
        redis_message_id(&sent).unwrap()
    );

    let delayed = prepare(&m, Some(5000.0), 1_796_186_356_885, [0; 16]);
    assert_eq!(delayed.queue_name, "default.DQ");
    assert_eq!(
        String::from_utf8(delayed.encode()).unwrap(),
        r#"{"queue_name":"default.DQ","actor_name":"add","args":[1,2],"kwargs":{},"options":{"redis_message_id":"00000000-0000-4000-8000-000000000000","eta":1796186361885},"message_id":"m-1","message_timestamp":1700000000000}"#
    );
    let call = dispatcher().enqueue_message(&delayed, 7, false).unwrap();
    let args = text(call.args());
    assert_eq!(args[2], "default.DQ");
    assert_eq!(args[7], "00000000-0000-4000-8000-000000000000");
    assert_eq!(call.args()[8], delayed.encode());
}

#[test]
fn messages_without_a_redis_id_are_errors() {
    let m = message();
    assert!(matches!(redis_message_id(&m), Err(BrokerError::Invalid(_))));
    let mut bad = m.clone();
    bad.set_option("redis_message_id", 3.into());
    assert!(redis_message_id(&bad).is_err());
    assert!(dispatcher().enqueue_message(&m, 1, false).is_err());
    assert!(dispatcher()
        .undelay("default.DQ", &m, 1, [0; 16], false)
        .is_err());
}

#[test]
fn undelay_enqueues_a_fresh_copy_then_acks_on_the_delay_queue() {
    let d = dispatcher();
    let delayed = prepare(&message(), Some(100.0), 1_000, [0x22; 16]);
    let plan = d
        .undelay("default.DQ", &delayed, 2_000, [0x33; 16], false)
        .unwrap();
    assert_eq!(plan.message.queue_name, "default");
    assert_eq!(plan.message.option("eta"), None);
    let new_id = "33333333-3333-4333-b333-333333333333";
    assert_eq!(redis_message_id(&plan.message).unwrap(), new_id);
    let enqueue = text(plan.enqueue.args());
    assert_eq!(enqueue[0], "enqueue");
    assert_eq!(enqueue[2], "default");
    assert_eq!(enqueue[7], new_id);
    assert_eq!(
        enqueue[8],
        format!(
            r#"{{"queue_name":"default","actor_name":"add","args":[1,2],"kwargs":{{}},"options":{{"redis_message_id":"{new_id}"}},"message_id":"m-1","message_timestamp":1700000000000}}"#
        )
    );
    let ack = text(plan.ack.args());
    assert_eq!(
        ack,
        [
            "ack",
            "2000",
            "default.DQ",
            "w-1",
            "60000",
            "604800000",
            "0",
            "22222222-2222-4222-a222-222222222222"
        ]
    );
}

#[test]
fn script_sha1_is_the_sha1_of_the_script() {
    let sha = script_sha1();
    assert_eq!(sha.len(), 40);
    assert!(sha
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    // The digest function itself, on a known vector.
    assert_eq!(
        sha1_smol::Sha1::from("abc").digest().to_string(),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(text(&script_load())[..2], ["SCRIPT", "LOAD"]);
    assert!(SCRIPT.contains("__heartbeats__"));
}

#[test]
fn fetch_replies_are_bodies_in_order() {
    let pair = |id: &[u8], body: &[u8]| {
        Reply::Array(vec![Reply::Bytes(id.to_vec()), Reply::Bytes(body.to_vec())])
    };
    let reply = Reply::Array(vec![pair(b"1", b"a"), Reply::Nil, pair(b"2", b"b")]);
    let fetched = parse_fetch(&reply).unwrap();
    assert_eq!(fetched.bodies, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(fetched.ids, vec![b"1".to_vec(), b"2".to_vec()]);
    assert_eq!(fetched.missing, 1);
    assert_eq!(
        parse_fetch(&Reply::Array(vec![])).unwrap(),
        Fetched::default()
    );
}

#[test]
fn malformed_replies_are_errors() {
    for bad in [
        Reply::Nil,
        Reply::Int(1),
        Reply::Bytes(b"x".to_vec()),
        Reply::Array(vec![Reply::Int(1)]),
        Reply::Array(vec![Reply::Array(vec![])]),
        // A bare body (the reply names each body's id) and pairs of the wrong shape.
        Reply::Array(vec![Reply::Bytes(b"body".to_vec())]),
        Reply::Array(vec![Reply::Array(vec![Reply::Bytes(b"id".to_vec())])]),
        Reply::Array(vec![Reply::Array(vec![
            Reply::Int(1),
            Reply::Bytes(b"b".to_vec()),
        ])]),
        Reply::Array(vec![Reply::Array(vec![
            Reply::Bytes(b"id".to_vec()),
            Reply::Int(-1),
        ])]),
    ] {
        assert!(
            matches!(parse_fetch(&bad), Err(BrokerError::MalformedReply(_))),
            "{bad:?}"
        );
    }
    assert_eq!(parse_done(&Reply::Nil), Ok(()));
    assert!(parse_done(&Reply::Int(0)).is_err());
    assert_eq!(parse_qsize(&Reply::Int(3)), Ok(3));
    assert!(parse_qsize(&Reply::Int(-1)).is_err());
    assert!(parse_qsize(&Reply::Nil).is_err());
}

#[test]
fn noscript_is_recognised() {
    assert!(is_noscript("NOSCRIPT No matching script. Please use EVAL."));
    assert!(!is_noscript("ERR x"));
    assert!(is_noscript("ReplyError: NOSCRIPT No matching script."));
    assert!(!is_noscript("ERR unknown command 'NOSCRIPTS'"));
}

#[test]
fn a_revived_dead_letter_is_a_fresh_enqueue_with_its_whole_retry_budget() {
    let mut dead = message();
    dead.queue_name = "default.DQ".into();
    dead.set_option("redis_message_id", Value::Str("old".into()));
    dead.set_option("retries", Value::Int(20));
    dead.set_option("eta", Value::Int(1_700_000_000_000));
    dead.set_option("traceback", Value::Str("Traceback …".into()));
    let revived = revive(&dead, 1_800_000_000_000, [7; 16]);
    assert_eq!(revived.queue_name, "default");
    assert_eq!(
        revived.message_id, "m-1",
        "the same message, as Dramatiq knows it"
    );
    assert_eq!(revived.option("retries"), Some(&Value::Int(0)));
    assert_eq!(revived.option("eta"), None);
    assert_eq!(
        revived.option("traceback"),
        Some(&Value::Str("Traceback …".into()))
    );
    let Some(Value::Str(id)) = revived.option("redis_message_id") else {
        panic!("no redis_message_id")
    };
    assert_ne!(id, "old");
    assert_eq!(id, &uuid4([7; 16]));
    // Options keep their order (retries stays where Retries put it).
    let names: Vec<_> = revived.options.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["redis_message_id", "retries", "traceback"]);
    // A message that never failed gets no retries option it did not have.
    let fresh = revive(&message(), 0, [1; 16]);
    assert_eq!(fresh.option("retries"), None);
}

#[test]
fn a_fetched_message_settles_by_the_id_it_is_stored_under() {
    let with_id = |id: Value| {
        let mut m = Message::from_dict(
            &crate::codec::parser::decode(
                br#"{"queue_name":"q","actor_name":"a","message_id":"m","options":{}}"#,
            )
            .unwrap(),
            0,
        )
        .unwrap();
        m.set_option("redis_message_id", id);
        m
    };
    // The same id: nothing changes.
    let mut same = with_id(Value::Str("r1".into()));
    settle_by_stored_id(&mut same, Some("r1")).unwrap();
    assert_eq!(redis_message_id(&same).unwrap(), "r1");
    // Another id in the body: the stored one wins.
    let mut other = with_id(Value::Str("claimed".into()));
    settle_by_stored_id(&mut other, Some("stored")).unwrap();
    assert_eq!(redis_message_id(&other).unwrap(), "stored");
    // A stored id that is not UTF-8 (None): the body's id is all there is.
    let mut unknown = with_id(Value::Str("claimed".into()));
    settle_by_stored_id(&mut unknown, None).unwrap();
    assert_eq!(redis_message_id(&unknown).unwrap(), "claimed");
    // No string redis_message_id: not a Dramatiq message, whatever the stored id.
    let mut bad = with_id(Value::Int(5));
    assert!(settle_by_stored_id(&mut bad, Some("stored")).is_err());
}
