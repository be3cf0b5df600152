//! The sans-IO Redis connection (`resp::Connection`) against a real `redis-server`, driven
//! by a plain blocking socket: the handshake plans, pipelining, server errors, RESP3 mapped
//! onto the RESP2 shapes, limits, and every way a connection can fail (wrong password, a
//! non-Redis peer, a reply cut mid-frame, the server killed, a deadline).
//!
//! Needs `redis-server` on PATH (`scripts/setup --services`); without it the tests say so
//! and pass, as the other server tests do when run outside `scripts/test`.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dramatiq_results::resp::Reply;
use dramatiq_results::resp::{ConnectOptions, Connection, Limits, Phase, Progress, RespError};

/// A redis-server on a free loopback port, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts one, or `None` without redis-server. The tests run in parallel and a port
    /// from `free_port` is free only until someone binds it, so a start counts only once
    /// this child is alive and a Redis answers on the port; else it is tried again.
    fn start(extra: &[&str]) -> Option<Server> {
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let Ok(child) = child else {
                eprintln!("redis-server not found: skipped (scripts/setup --services installs it)");
                return None;
            };
            let mut server = Server { child, port };
            if server.answers() {
                return Some(server);
            }
        }
        panic!("redis-server did not start on a free port in 5 tries");
    }

    /// Whether this child is running and a Redis answers PING on its port (`+PONG`, or
    /// `-NOAUTH` with a password), within 10 s.
    fn answers(&mut self) -> bool {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false; // exited: the port was taken
            }
            if let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let mut reply = [0u8; 7];
                if conn.write_all(b"PING\r\n").is_ok()
                    && conn.read_exact(&mut reply).is_ok()
                    && (reply.starts_with(b"+PONG") || reply.starts_with(b"-NOAUTH"))
                {
                    return matches!(self.child.try_wait(), Ok(None));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// `redis://{auth}127.0.0.1:{port}{tail}`.
    fn url(&self, auth: &str, tail: &str) -> String {
        format!("redis://{auth}127.0.0.1:{}{tail}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now, never the same twice in this process (the OS may hand a
/// released port out again while a parallel test is starting a server on it).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A blocking driver: what the JS driver does with events, done with a socket and a clock.
struct Driver {
    conn: Connection,
    sock: TcpStream,
    epoch: Instant,
}

impl Driver {
    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64() * 1000.0
    }

    fn connect(url: &str, limits: Limits) -> Result<Driver, RespError> {
        let options = ConnectOptions::from_url(url)?;
        let sock = TcpStream::connect((options.host.as_str(), options.port))
            .map_err(|e| RespError::Closed(e.to_string()))?;
        let mut d = Driver {
            conn: Connection::new(options, limits, 0.0),
            sock,
            epoch: Instant::now(),
        };
        let hello = d.conn.start();
        d.sock.write_all(&hello).unwrap();
        while *d.conn.phase() == Phase::Handshake {
            d.step();
        }
        match d.conn.phase() {
            Phase::Closed(e) => Err(e.clone()),
            _ => Ok(d),
        }
    }

    /// Waits for bytes (or the next deadline), and hands them to the connection.
    fn step(&mut self) -> Progress {
        let wait = match self.conn.next_deadline() {
            Some(at) => (at - self.now()).max(1.0),
            None => 10_000.0,
        };
        self.sock
            .set_read_timeout(Some(Duration::from_millis(wait as u64)))
            .unwrap();
        let mut buf = [0u8; 1024];
        let progress = match self.sock.read(&mut buf) {
            Ok(0) => self.conn.socket_closed(None),
            Ok(n) => self.conn.feed(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                let now = self.now();
                self.conn.expire(now)
            }
            Err(e) => self.conn.socket_closed(Some(&e.to_string())),
        };
        if !progress.write.is_empty() {
            self.sock.write_all(&progress.write).unwrap();
        }
        progress
    }

    /// Sends every command in one write; their results, in order.
    fn pipeline(
        &mut self,
        commands: &[&[&[u8]]],
        timeout_ms: Option<f64>,
    ) -> Vec<Result<Reply, RespError>> {
        let mut ids = Vec::new();
        let mut bytes = Vec::new();
        for argv in commands {
            let now = self.now();
            match self.conn.submit(argv, now, timeout_ms) {
                Ok((id, b)) => {
                    ids.push(id);
                    bytes.extend(b);
                }
                Err(e) => return vec![Err(e)],
            }
        }
        self.sock.write_all(&bytes).unwrap();
        let mut results: Vec<Option<Result<Reply, RespError>>> = vec![None; ids.len()];
        while results.iter().any(Option::is_none) {
            for c in self.step().completed {
                let at = ids.iter().position(|&id| id == c.id).unwrap();
                results[at] = Some(c.result);
            }
        }
        results.into_iter().map(Option::unwrap).collect()
    }

    fn call(&mut self, argv: &[&str]) -> Result<Reply, RespError> {
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        self.pipeline(&[&argv], None).remove(0)
    }
}

fn bytes(s: &str) -> Reply {
    Reply::Bytes(s.as_bytes().to_vec())
}

#[test]
fn commands_pipelined_with_password_and_database() {
    let Some(server) = Server::start(&["--requirepass", "s3cret"]) else {
        return;
    };
    let mut d = Driver::connect(
        &server.url(":s3cret@", "/3?name=resp-test"),
        Limits::default(),
    )
    .unwrap();
    let value: &[u8] = b"a\r\nb\0\xff";
    let script = "return {redis.call('GET', KEYS[1]), 7, {1, 'x'}}";
    let results = d.pipeline(
        &[
            &[b"SET", b"k", value],
            &[b"GET", b"k"],
            &[b"GET", b"absent"],
            &[b"LPUSH", b"k", b"x"],
            &[b"EVALSHA", &[b'0'; 40], b"0"],
            &[b"EVAL", script.as_bytes(), b"1", b"k"],
            &[b"CLIENT", b"GETNAME"],
            &[b"INCRBY", b"n", b"-5"],
        ],
        Some(5000.0),
    );
    assert_eq!(results[0], Ok(bytes("OK")));
    assert_eq!(results[1], Ok(Reply::Bytes(value.to_vec())));
    assert_eq!(results[2], Ok(Reply::Nil));
    let wrongtype = results[3].clone().unwrap_err();
    assert_eq!(wrongtype.code(), Some("WRONGTYPE"));
    assert_eq!(
        wrongtype.to_string(),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(results[4].clone().unwrap_err().code(), Some("NOSCRIPT"));
    assert_eq!(
        results[5],
        Ok(Reply::Array(vec![
            Reply::Bytes(value.to_vec()),
            Reply::Int(7),
            Reply::Array(vec![Reply::Int(1), bytes("x")])
        ]))
    );
    assert_eq!(results[6], Ok(bytes("resp-test")));
    assert_eq!(results[7], Ok(Reply::Int(-5)));
    // The database was selected: db 0 does not have the key.
    let mut d0 = Driver::connect(&server.url(":s3cret@", ""), Limits::default()).unwrap();
    assert_eq!(d0.call(&["EXISTS", "k"]), Ok(Reply::Int(0)));
    assert_eq!(d.call(&["EXISTS", "k"]), Ok(Reply::Int(1)));
    // An error inside a script's table fails the reply with the server's text.
    let e = d
        .call(&["EVAL", "return {1, redis.error_reply('MYERR inner')}", "0"])
        .unwrap_err();
    assert_eq!(e, RespError::Server("MYERR inner".into()));
    // A thousand commands in one write come back matched.
    let argv: Vec<Vec<u8>> = (0..1000).map(|i| format!("{i}").into_bytes()).collect();
    let commands: Vec<[&[u8]; 2]> = argv
        .iter()
        .map(|a| [b"ECHO".as_slice(), a.as_slice()])
        .collect();
    let refs: Vec<&[&[u8]]> = commands.iter().map(|c| c.as_slice()).collect();
    let results = d.pipeline(&refs, None);
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r, Ok(bytes(&i.to_string())));
    }
}

#[test]
fn resp3_replies_read_as_resp2_replies() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut v2 = Driver::connect(&server.url("", ""), Limits::default()).unwrap();
    let mut v3 = Driver::connect(&server.url("", "?protocol=3"), Limits::default()).unwrap();
    assert_eq!(v2.conn.protocol(), 2);
    assert_eq!(v3.conn.protocol(), 3);
    for setup in [
        &["HSET", "h", "f1", "v1", "f2", "v2"][..],
        &["ZADD", "z", "1.5", "m"],
        &["SADD", "s", "only"],
    ] {
        v2.call(setup).unwrap();
    }
    for argv in [
        &["HGETALL", "h"][..],
        &["HGETALL", "absent"],
        &["ZSCORE", "z", "m"],
        &["SMEMBERS", "s"],
        &["EVAL", "return true", "0"],
        &["EVAL", "return false", "0"],
        &["EVAL", "return {1, 'a', false, true}", "0"],
        &["EVAL", "return redis.call('HGETALL', 'h')", "0"],
        &["GET", "absent"],
        &["LINDEX", "absent", "0"],
        &["CONFIG", "GET", "maxmemory"],
    ] {
        let (a, b) = (v2.call(argv), v3.call(argv));
        assert_eq!(a, b, "{argv:?}");
        assert!(a.is_ok(), "{argv:?}: {a:?}");
    }
    // Not types but shapes: under RESP3 a few commands nest their pairs (ZRANGE WITHSCORES,
    // ZPOPMIN, HRANDFIELD WITHVALUES…). No parser can undo that, which is why RESP2 is the
    // default; the store's and the broker's commands have the same shape in both.
    let argv = &["ZRANGE", "z", "0", "-1", "WITHSCORES"];
    assert_eq!(
        v2.call(argv),
        Ok(Reply::Array(vec![bytes("m"), bytes("1.5")]))
    );
    assert_eq!(
        v3.call(argv),
        Ok(Reply::Array(vec![Reply::Array(vec![
            bytes("m"),
            bytes("1.5")
        ])]))
    );
    // Verbatim strings (RESP3's INFO) read as plain strings.
    let Ok(Reply::Bytes(info)) = v3.call(&["INFO", "server"]) else {
        panic!()
    };
    assert!(
        info.starts_with(b"# Server"),
        "{:?}",
        String::from_utf8_lossy(&info[..20])
    );
}

#[test]
fn refused_handshakes_say_why() {
    let Some(server) = Server::start(&["--requirepass", "s3cret"]) else {
        return;
    };
    for (url, step, code) in [
        (server.url(":wrong@", ""), "AUTH", "WRONGPASS"),
        (server.url("default:wrong@", ""), "AUTH", "WRONGPASS"),
        (server.url(":wrong@", "?protocol=3"), "HELLO", "WRONGPASS"),
        (server.url("", ""), "PING", "NOAUTH"),
        (server.url("", "?protocol=3"), "HELLO", "NOAUTH"),
        (server.url(":s3cret@", "/100000"), "SELECT", "ERR"),
    ] {
        let e = Driver::connect(&url, Limits::default()).err().unwrap();
        assert!(
            matches!(&e, RespError::Handshake { step: s, .. } if *s == step),
            "{url}: {e}"
        );
        assert_eq!(e.code(), Some(code), "{url}: {e}");
    }
}

#[test]
fn values_over_the_limit_fail_only_their_command() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let limits = Limits {
        max_bulk: 1000,
        ..Limits::default()
    };
    let mut d = Driver::connect(&server.url("", ""), limits).unwrap();
    let big = "x".repeat(100_000);
    d.call(&["SET", "big", &big]).unwrap();
    let results = d.pipeline(&[&[b"GET", b"big"], &[b"ECHO", b"after"]], None);
    assert_eq!(
        results[0],
        Err(RespError::TooLarge {
            size: 100_000,
            limit: 1000
        })
    );
    assert_eq!(results[1], Ok(bytes("after")));
    assert_eq!(d.call(&["PING"]), Ok(bytes("PONG")));
}

#[test]
fn a_killed_server_fails_what_is_waiting() {
    let Some(mut server) = Server::start(&[]) else {
        return;
    };
    let mut d = Driver::connect(&server.url("", ""), Limits::default()).unwrap();
    let now = d.now();
    let (id, b) = d
        .conn
        .submit(&["BLPOP", "q", "30"], now, Some(60_000.0))
        .unwrap();
    d.sock.write_all(&b).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let progress = d.step();
    assert_eq!(progress.completed.len(), 1);
    assert_eq!(progress.completed[0].id, id);
    let e = progress.completed[0].result.clone().unwrap_err();
    assert!(matches!(e, RespError::Closed(_)), "{e}");
    assert_eq!(d.conn.submit(&["PING"], 0.0, None).unwrap_err(), e);
}

#[test]
fn a_late_command_fails_at_its_deadline() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut d = Driver::connect(&server.url("", ""), Limits::default()).unwrap();
    let started = Instant::now();
    let results = d.pipeline(&[&[b"BLPOP", b"q", b"10"], &[b"PING"]], Some(300.0));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(
        results[0],
        Err(RespError::Timeout {
            what: "BLPOP".into(),
            after_ms: 300.0
        })
    );
    assert!(matches!(&results[1], Err(RespError::Closed(why)) if why.contains("BLPOP timed out")));
}

/// A fake server on a free port: answers every connection with `script` (bytes, then
/// close), or, with `None`, accepts and says nothing.
fn fake_server(script: Option<&'static [&'static [u8]]>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut buf = [0u8; 256];
            let _ = conn.read(&mut buf);
            match script {
                Some(parts) => {
                    for part in parts {
                        let _ = conn.write_all(part);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                None => std::thread::sleep(Duration::from_secs(5)),
            }
        }
    });
    port
}

#[test]
fn peers_that_are_not_redis_fail_the_connect() {
    let http = fake_server(Some(&[
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    ]));
    let e = Driver::connect(&format!("redis://127.0.0.1:{http}"), Limits::default())
        .err()
        .unwrap();
    let text = e.to_string();
    assert!(
        text.contains("does not speak RESP") && text.contains("HTTP/1.1 400"),
        "{text}"
    );

    let cut = fake_server(Some(&[b"+PO"]));
    let e = Driver::connect(&format!("redis://127.0.0.1:{cut}"), Limits::default())
        .err()
        .unwrap();
    assert_eq!(
        e,
        RespError::Closed(
            "the server closed the connection in the middle of a reply while connecting".into()
        )
    );

    let silent_close = fake_server(Some(&[]));
    let e = Driver::connect(
        &format!("redis://127.0.0.1:{silent_close}"),
        Limits::default(),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("use rediss://"), "{e}");

    let mute = fake_server(None);
    let started = Instant::now();
    let e = Driver::connect(
        &format!("redis://127.0.0.1:{mute}?connectTimeout=200"),
        Limits::default(),
    )
    .err()
    .unwrap();
    assert_eq!(
        e,
        RespError::Timeout {
            what: "connect".into(),
            after_ms: 200.0
        }
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_reply_cut_mid_frame_fails_its_command() {
    let port = fake_server(Some(&[b"+PONG\r\n", b"$10\r\nabc"]));
    let mut d = Driver::connect(&format!("redis://127.0.0.1:{port}"), Limits::default()).unwrap();
    // The fake server closes without reading the command: an EOF or a reset, mid-reply.
    let e = d.call(&["GET", "k"]).unwrap_err();
    assert!(
        matches!(&e, RespError::Closed(why) if why.ends_with("in the middle of a reply")),
        "{e}"
    );
}
