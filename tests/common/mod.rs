//! A real redis-server for the native tests that need one (`broker_redis.rs`,
//! `rate_limits_redis.rs`): started on a free loopback port, removed on drop, and a plain
//! blocking RESP connection to it. Each test file includes it with `mod common;`.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dramatiq_results::resp::command::encode_args;
use dramatiq_results::resp::{Arg, Frame, Limits, Parser, Reply};

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Server {
    pub fn start(name: &str) -> Option<Server> {
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("{name}-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A blocking RESP connection over the crate's own command encoder and parser.
pub struct Conn {
    pub stream: TcpStream,
    pub parser: Parser,
    pub frames: VecDeque<Frame>,
}

impl Conn {
    pub fn open(port: u16) -> Conn {
        Conn {
            stream: TcpStream::connect(("127.0.0.1", port)).unwrap(),
            parser: Parser::new(Limits::default()),
            frames: VecDeque::new(),
        }
    }

    /// Sends `argv`; the reply, or the server's error text.
    pub fn try_send(&mut self, argv: &[Vec<u8>]) -> Result<Reply, String> {
        let args: Vec<Arg> = argv.iter().map(|a| Arg::Bytes(a)).collect();
        let mut out = Vec::new();
        encode_args(&args, &mut out);
        self.stream.write_all(&out).unwrap();
        loop {
            if let Some(Frame::Reply(reply)) = self.frames.pop_front() {
                return reply.map_err(|e| e.to_string());
            }
            let mut buf = [0u8; 16 * 1024];
            let n = self.stream.read(&mut buf).unwrap();
            assert!(n > 0, "the server closed the connection");
            let mut out = Vec::new();
            self.parser.feed(&buf[..n], &mut out).unwrap();
            self.frames.extend(out);
        }
    }

    pub fn send(&mut self, argv: &[Vec<u8>]) -> Reply {
        self.try_send(argv).unwrap()
    }

    pub fn cmd(&mut self, words: &[&str]) -> Reply {
        let argv: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        self.send(&argv)
    }
}
