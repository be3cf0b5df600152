//! One Redis connection as a pure state machine: the host's driver moves bytes and time in,
//! the machine says what to write and which commands completed. No sockets, no clock: it
//! is tested natively byte by byte, and the same machine serves Node and workerd.
//!
//! ```text
//!   new ──► Handshake ──(every step answered)──► Ready ──(socket closed, protocol error,
//!             │  HELLO 3 → SELECT                           deadline, close())──► Closed
//!             │  or AUTH · SELECT · CLIENT SETNAME · PING (pipelined)             │
//!             └──(a step refused, deadline)──────────────────────────────────────►┘
//! ```
//!
//! - **Handshake.** With `protocol: 3`, `HELLO 3 [AUTH user pass] [SETNAME name]` first; a
//!   server that does not know `HELLO` (Redis < 6) or RESP3 (`NOPROTO`) gets the RESP2 plan
//!   instead. The RESP2 plan is `AUTH`, `SELECT`, `CLIENT SETNAME` as needed, then `PING`,
//!   all in one write: the `PING` makes a peer that is not Redis (an HTTP server, a TLS
//!   port spoken to in plain text) fail the connect with what it sent, instead of failing
//!   the first command later. A refused step fails the connect with the server's text
//!   ([`RespError::Handshake`]).
//! - **Pipelining.** Commands submitted during the handshake are held and written once it
//!   succeeds; after that each is written at once. Replies come back in order, so a FIFO
//!   matches each to its command.
//! - **Failure.** Whatever ends the connection fails every command still waiting, with the
//!   cause; afterwards every submit fails at once with the same cause.
//! - **Deadlines.** Each command may carry a timeout, the handshake has the connect
//!   timeout. [`Connection::next_deadline`] tells the driver when to call
//!   [`Connection::expire`]; a command past its deadline fails with
//!   [`RespError::Timeout`] and closes the connection (its reply, if it ever came, could
//!   not be told from the next one's), so nothing waits past its deadline.

use std::collections::VecDeque;

use super::reply::Reply;

use super::command::{encode, encode_pieces_with, Piece};
use super::error::RespError;
use super::parser::{Frame, HeldRange, Limits, Parser};
use super::url::ConnectOptions;

/// A command's number on its connection, in submission order.
pub type RequestId = u64;

/// A command that completed.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The id [`Connection::submit`] gave it.
    pub id: RequestId,
    /// Its reply, or why it failed.
    pub result: Result<Reply, RespError>,
}

/// What the driver must do after a call.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Progress {
    /// Commands that completed, in order.
    pub completed: Vec<Completion>,
    /// Bytes to write to the socket now (the handshake's next step, held commands).
    pub write: Vec<u8>,
    /// The handshake finished with this call: the connection is ready.
    pub ready: bool,
    /// The connection failed with this call: close the socket.
    pub closed: Option<RespError>,
    /// RESP3 pushes that arrived (they answer no command).
    pub pushes: Vec<Vec<Reply>>,
    /// Where the bytes of held values are in the chunk just fed (see
    /// [`Connection::submit_value`]): the driver appends each range to its value, in order,
    /// before it settles `completed`.
    pub held: Vec<HeldRange>,
}

/// Where the connection is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Connecting: handshake commands in flight.
    Handshake,
    /// Ready for commands.
    Ready,
    /// Failed or closed, for this reason.
    Closed(RespError),
}

/// A handshake command in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Hello,
    Auth,
    Select,
    SetName,
    Ping,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Hello => "HELLO",
            Step::Auth => "AUTH",
            Step::Select => "SELECT",
            Step::SetName => "CLIENT SETNAME",
            Step::Ping => "PING",
        }
    }
}

/// A user command in flight (or held until the handshake is done).
#[derive(Debug)]
struct Pending {
    id: RequestId,
    /// The command's name, for a timeout's message.
    name: String,
    /// When it must have completed (host milliseconds), and the timeout that gave it.
    deadline: Option<(f64, f64)>,
    /// Whether a large bulk string answering it may stay in the host ([`Reply::Held`]).
    hold: bool,
}

/// A connection's state machine. See the module documentation.
#[derive(Debug)]
pub struct Connection {
    options: ConnectOptions,
    parser: Parser,
    phase: Phase,
    /// The RESP version the server agreed to.
    protocol: u8,
    steps: VecDeque<Step>,
    /// Commands written, awaiting replies in order.
    pending: VecDeque<Pending>,
    /// Commands submitted during the handshake, and their bytes.
    held: VecDeque<Pending>,
    held_bytes: Vec<u8>,
    /// The connect deadline (host milliseconds) and the timeout that gave it.
    connect_deadline: Option<(f64, f64)>,
    next_id: RequestId,
    /// Whether any byte came from the server.
    received: bool,
}

impl Connection {
    /// A connection about to start its handshake; `now_ms` is the host's clock, against
    /// which the connect timeout runs. Call [`Connection::start`] once the socket is open.
    pub fn new(options: ConnectOptions, limits: Limits, now_ms: f64) -> Self {
        let connect_deadline = options
            .connect_timeout_ms
            .map(|t| (now_ms + t as f64, t as f64));
        Connection {
            protocol: 2,
            options,
            parser: Parser::new(limits),
            phase: Phase::Handshake,
            steps: VecDeque::new(),
            pending: VecDeque::new(),
            held: VecDeque::new(),
            held_bytes: Vec::new(),
            connect_deadline,
            next_id: 0,
            received: false,
        }
    }

    /// The first bytes to write: the handshake (or the first step of it).
    pub fn start(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.phase != Phase::Handshake || !self.steps.is_empty() {
            return out;
        }
        if self.options.protocol == 3 {
            let mut argv: Vec<&[u8]> = vec![b"HELLO", b"3"];
            if let Some(password) = &self.options.password {
                let user = self.options.username.as_deref().unwrap_or("default");
                argv.extend([b"AUTH".as_slice(), user.as_bytes(), password.as_bytes()]);
            }
            if let Some(name) = &self.options.client_name {
                argv.extend([b"SETNAME".as_slice(), name.as_bytes()]);
            }
            encode(&argv, &mut out);
            self.steps.push_back(Step::Hello);
        } else {
            self.resp2_plan(&mut out);
        }
        out
    }

    /// The RESP2 handshake, pipelined, ending with a `PING`.
    fn resp2_plan(&mut self, out: &mut Vec<u8>) {
        if let Some(password) = &self.options.password {
            match &self.options.username {
                Some(user) => encode(
                    &[b"AUTH".as_slice(), user.as_bytes(), password.as_bytes()],
                    out,
                ),
                None => encode(&[b"AUTH".as_slice(), password.as_bytes()], out),
            }
            self.steps.push_back(Step::Auth);
        }
        self.select(out);
        if let Some(name) = &self.options.client_name {
            encode(&[b"CLIENT".as_slice(), b"SETNAME", name.as_bytes()], out);
            self.steps.push_back(Step::SetName);
        }
        encode(&[b"PING"], out);
        self.steps.push_back(Step::Ping);
    }

    fn select(&mut self, out: &mut Vec<u8>) {
        if self.options.db != 0 {
            encode(
                &[b"SELECT".as_slice(), self.options.db.to_string().as_bytes()],
                out,
            );
            self.steps.push_back(Step::Select);
        }
    }

    /// Where the connection is.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Whether the handshake is done and the connection open.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// The RESP version in use (2 until `HELLO 3` succeeded).
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// The options it was made with.
    pub fn options(&self) -> &ConnectOptions {
        &self.options
    }

    /// How many commands await a reply (written or held).
    pub fn in_flight(&self) -> usize {
        self.pending.len() + self.held.len()
    }

    /// Queues `argv` (command name first). Returns its id and the bytes to write now:
    /// none while the handshake runs (they come out of a later [`Progress::write`]). With
    /// `timeout_ms`, the command fails with [`RespError::Timeout`] if no reply came by then
    /// (see [`Connection::expire`]). After the connection closed, fails at once with the
    /// cause.
    pub fn submit<A: AsRef<[u8]>>(
        &mut self,
        argv: &[A],
        now_ms: f64,
        timeout_ms: Option<f64>,
    ) -> Result<(RequestId, Vec<u8>), RespError> {
        self.submit_with(argv, now_ms, timeout_ms, false)
    }

    /// [`Connection::submit`] for a command whose caller can take a large bulk-string
    /// reply that stays in the host's memory: a reply that is one bulk string of
    /// [`super::parser::HOLD_MIN_BYTES`] or more completes as [`Reply::Held`], its bytes
    /// reported as [`Progress::held`] ranges of the chunks fed.
    pub fn submit_value<A: AsRef<[u8]>>(
        &mut self,
        argv: &[A],
        now_ms: f64,
        timeout_ms: Option<f64>,
    ) -> Result<(RequestId, Vec<u8>), RespError> {
        self.submit_with(argv, now_ms, timeout_ms, true)
    }

    /// [`Connection::submit_with`], the command's bytes in pieces: each argument of `min`
    /// bytes or more is left for the driver to write from where it is ([`Piece::Arg`]), so a
    /// large stored value is not copied into one more buffer of its size. During the
    /// handshake the command is held as [`Connection::submit`] holds it, and no piece is
    /// returned.
    ///
    /// With `external = Some((n, len))`, argument `n` is `len` bytes the driver holds
    /// elsewhere (see `command::encode_pieces_with`); the connection must be ready then
    /// (see [`Connection::is_ready`]), or the command fails with [`RespError::Config`].
    pub fn submit_pieces<A: AsRef<[u8]>>(
        &mut self,
        argv: &[A],
        now_ms: f64,
        timeout_ms: Option<f64>,
        hold: bool,
        min: usize,
        external: Option<(usize, usize)>,
    ) -> Result<(RequestId, Vec<Piece>), RespError> {
        if self.phase != Phase::Ready && external.is_some() {
            return Err(RespError::Config(
                "a command with bytes held outside needs a ready connection".into(),
            ));
        }
        if self.phase != Phase::Ready {
            let (id, bytes) = self.submit_with(argv, now_ms, timeout_ms, hold)?;
            return Ok((id, vec![Piece::Bytes(bytes)]));
        }
        let pending = self.pending_for(argv, now_ms, timeout_ms, hold)?;
        let id = pending.id;
        self.pending.push_back(pending);
        Ok((id, encode_pieces_with(argv, min, external)))
    }

    fn submit_with<A: AsRef<[u8]>>(
        &mut self,
        argv: &[A],
        now_ms: f64,
        timeout_ms: Option<f64>,
        hold: bool,
    ) -> Result<(RequestId, Vec<u8>), RespError> {
        let pending = self.pending_for(argv, now_ms, timeout_ms, hold)?;
        let id = pending.id;
        let mut bytes = Vec::new();
        encode(argv, &mut bytes);
        if self.phase == Phase::Handshake {
            self.held_bytes.extend_from_slice(&bytes);
            self.held.push_back(pending);
            return Ok((id, Vec::new()));
        }
        self.pending.push_back(pending);
        Ok((id, bytes))
    }

    /// A new command's bookkeeping, or why it cannot be sent.
    fn pending_for<A: AsRef<[u8]>>(
        &mut self,
        argv: &[A],
        now_ms: f64,
        timeout_ms: Option<f64>,
        hold: bool,
    ) -> Result<Pending, RespError> {
        if let Phase::Closed(cause) = &self.phase {
            return Err(cause.clone());
        }
        let Some(first) = argv.first() else {
            // Redis answers nothing to an empty command, which would desync the FIFO.
            return Err(RespError::Config("an empty command".into()));
        };
        let id = self.next_id;
        self.next_id += 1;
        let name: String = String::from_utf8_lossy(first.as_ref())
            .chars()
            .take(32)
            .collect::<String>()
            .to_ascii_uppercase();
        Ok(Pending {
            id,
            name,
            deadline: timeout_ms.map(|t| (now_ms + t, t)),
            hold,
        })
    }

    /// Reads bytes from the socket.
    pub fn feed(&mut self, chunk: &[u8]) -> Progress {
        let mut progress = Progress::default();
        if matches!(self.phase, Phase::Closed(_)) {
            return progress;
        }
        self.received |= !chunk.is_empty();
        let mut frames = Vec::new();
        // The nth reply from now answers the nth handshake step still waiting, then the
        // commands in order.
        let (steps, pending) = (&self.steps, &self.pending);
        let hold = |n: usize| {
            n.checked_sub(steps.len())
                .and_then(|i| pending.get(i))
                .is_some_and(|p| p.hold)
        };
        let parsed = self
            .parser
            .feed_holding(chunk, &mut frames, &hold, &mut progress.held);
        for frame in frames {
            match frame {
                Frame::Push(items) => progress.pushes.push(items),
                Frame::Reply(result) => self.on_reply(result, &mut progress),
            }
            if matches!(self.phase, Phase::Closed(_)) {
                return progress;
            }
        }
        if let Err(e) = parsed {
            let e = if self.phase == Phase::Handshake {
                RespError::Protocol(format!("while connecting: {}", strip_prefix(&e)))
            } else {
                e
            };
            self.fail(e, &mut progress);
        }
        progress
    }

    fn on_reply(&mut self, result: Result<Reply, RespError>, progress: &mut Progress) {
        if let Some(step) = self.steps.pop_front() {
            return self.on_step(step, result, progress);
        }
        match self.pending.pop_front() {
            Some(p) => progress.completed.push(Completion { id: p.id, result }),
            None => self.fail(
                RespError::Protocol("a reply arrived that no command was waiting for".into()),
                progress,
            ),
        }
    }

    fn on_step(&mut self, step: Step, result: Result<Reply, RespError>, progress: &mut Progress) {
        match (step, result) {
            (Step::Hello, Ok(_)) => {
                self.protocol = 3;
                self.select(&mut progress.write);
            }
            (Step::Hello, Err(RespError::Server(text)))
                if text.starts_with("NOPROTO")
                    || text.to_ascii_lowercase().contains("unknown command") =>
            {
                // Redis < 6 (no HELLO) or no RESP3: speak RESP2.
                self.resp2_plan(&mut progress.write);
            }
            (_, Err(RespError::Server(text))) => {
                return self.fail(
                    RespError::Handshake {
                        step: step.name(),
                        text,
                    },
                    progress,
                );
            }
            (_, Err(e)) => return self.fail(e, progress),
            (_, Ok(_)) => {}
        }
        if self.steps.is_empty() && self.phase == Phase::Handshake {
            self.phase = Phase::Ready;
            self.connect_deadline = None;
            progress.ready = true;
            progress.write.append(&mut self.held_bytes);
            self.held_bytes = Vec::new();
            self.pending.append(&mut self.held);
        }
    }

    /// The socket closed (`error`: the host's words for why, if it said). Fails every
    /// command still waiting, saying whether a reply was cut off and whether the connect
    /// had finished.
    pub fn socket_closed(&mut self, error: Option<&str>) -> Progress {
        let mut progress = Progress::default();
        if matches!(self.phase, Phase::Closed(_)) {
            return progress;
        }
        let mut why = match error {
            Some(e) => format!("the socket failed: {e}"),
            None => "the server closed the connection".to_owned(),
        };
        if !self.parser.is_between_frames() {
            why.push_str(" in the middle of a reply");
        }
        if self.phase == Phase::Handshake {
            why.push_str(" while connecting");
            if !self.received && !self.options.tls {
                // What a TLS-only port does with a plain-text command.
                why.push_str(" before answering (if the port expects TLS, use rediss://)");
            }
        }
        self.fail(RespError::Closed(why), &mut progress);
        progress
    }

    /// Closes the connection from this side: every command still waiting fails.
    pub fn close(&mut self) -> Progress {
        self.fail_all(RespError::Closed("closed by the client".into()))
    }

    /// Fails every command still waiting with `cause`, and every later submit.
    pub fn fail_all(&mut self, cause: RespError) -> Progress {
        let mut progress = Progress::default();
        if !matches!(self.phase, Phase::Closed(_)) {
            self.fail(cause, &mut progress);
        }
        progress
    }

    fn fail(&mut self, cause: RespError, progress: &mut Progress) {
        self.steps.clear();
        self.held_bytes = Vec::new();
        for p in self.pending.drain(..).chain(self.held.drain(..)) {
            progress.completed.push(Completion {
                id: p.id,
                result: Err(cause.clone()),
            });
        }
        progress.closed = Some(cause.clone());
        self.phase = Phase::Closed(cause);
    }

    /// The earliest deadline (host milliseconds) of the connect or of a command waiting:
    /// when the driver should call [`Connection::expire`].
    pub fn next_deadline(&self) -> Option<f64> {
        if matches!(self.phase, Phase::Closed(_)) {
            return None;
        }
        let connect = match self.phase {
            Phase::Handshake => self.connect_deadline.map(|(at, _)| at),
            _ => None,
        };
        self.pending
            .iter()
            .chain(self.held.iter())
            .filter_map(|p| p.deadline.map(|(at, _)| at))
            .chain(connect)
            .reduce(f64::min)
    }

    /// Fails what is past its deadline at `now_ms`. A late connect or a late command closes
    /// the connection: the command fails with [`RespError::Timeout`], the others with
    /// [`RespError::Closed`] naming it.
    pub fn expire(&mut self, now_ms: f64) -> Progress {
        let mut progress = Progress::default();
        if self.phase == Phase::Handshake {
            if let Some((at, after_ms)) = self.connect_deadline {
                if at <= now_ms {
                    self.fail(
                        RespError::Timeout {
                            what: "connect".into(),
                            after_ms,
                        },
                        &mut progress,
                    );
                    return progress;
                }
            }
        }
        let late = self
            .pending
            .iter()
            .chain(self.held.iter())
            .find(|p| p.deadline.is_some_and(|(at, _)| at <= now_ms))
            .map(|p| (p.id, p.name.clone(), p.deadline.map_or(0.0, |(_, t)| t)));
        if let Some((id, what, after_ms)) = late {
            let timeout = RespError::Timeout { what, after_ms };
            let others = RespError::Closed(format!("abandoned because {timeout}"));
            self.fail(others, &mut progress);
            for c in &mut progress.completed {
                if c.id == id {
                    c.result = Err(timeout.clone());
                }
            }
        }
        progress
    }
}

/// A protocol error's reason without its "Redis protocol error: " prefix.
fn strip_prefix(e: &RespError) -> String {
    match e {
        RespError::Protocol(why) => why.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(argv: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(argv, &mut out);
        out
    }

    fn conn(url: &str) -> Connection {
        Connection::new(
            ConnectOptions::from_url(url).unwrap(),
            Limits::default(),
            0.0,
        )
    }

    fn ready(url: &str) -> Connection {
        let mut c = conn(url);
        c.start();
        let mut replies = Vec::new();
        for _ in 0..c.steps.len() {
            replies.extend_from_slice(b"+OK\r\n");
        }
        assert!(c.feed(&replies).ready);
        c
    }

    fn done(id: RequestId, reply: Reply) -> Completion {
        Completion {
            id,
            result: Ok(reply),
        }
    }

    #[test]
    fn resp2_handshake_is_one_pipelined_write() {
        let mut c = conn("redis://u:p@h/2?name=api");
        let mut want = cmd(&["AUTH", "u", "p"]);
        want.extend(cmd(&["SELECT", "2"]));
        want.extend(cmd(&["CLIENT", "SETNAME", "api"]));
        want.extend(cmd(&["PING"]));
        assert_eq!(c.start(), want);
        assert_eq!(c.start(), b"");
        // A command submitted now is held: nothing to write yet.
        let (id, bytes) = c.submit(&["GET", "k"], 0.0, None).unwrap();
        assert!(bytes.is_empty());
        assert_eq!(c.in_flight(), 1);
        let p = c.feed(b"+OK\r\n+OK\r\n+OK\r\n");
        assert!(!p.ready && p.write.is_empty());
        let p = c.feed(b"+PONG\r\n$1\r\nv");
        assert!(p.ready);
        assert_eq!(p.write, cmd(&["GET", "k"]));
        assert_eq!(c.phase(), &Phase::Ready);
        assert_eq!(c.protocol(), 2);
        let p = c.feed(b"\r\n");
        assert_eq!(p.completed, vec![done(id, Reply::Bytes(b"v".to_vec()))]);
    }

    #[test]
    fn the_least_handshake_is_a_ping() {
        let mut c = conn("redis://h");
        assert_eq!(c.start(), cmd(&["PING"]));
        assert!(c.feed(b"+PONG\r\n").ready);
        let mut c = conn("redis://:secret@h");
        let mut want = cmd(&["AUTH", "secret"]);
        want.extend(cmd(&["PING"]));
        assert_eq!(c.start(), want);
    }

    #[test]
    fn hello_3_then_select() {
        let mut c = conn("redis://u:p@h/1?protocol=3&name=n");
        assert_eq!(
            c.start(),
            cmd(&["HELLO", "3", "AUTH", "u", "p", "SETNAME", "n"])
        );
        let p = c.feed(b"%1\r\n+server\r\n+redis\r\n");
        assert!(!p.ready);
        assert_eq!(p.write, cmd(&["SELECT", "1"]));
        assert_eq!(c.protocol(), 3);
        assert!(c.feed(b"+OK\r\n").ready);
        // Without a user, AUTH names the default one.
        let mut c = conn("redis://:p@h?protocol=3");
        assert_eq!(c.start(), cmd(&["HELLO", "3", "AUTH", "default", "p"]));
        assert!(c.feed(b"%0\r\n").ready);
    }

    #[test]
    fn hello_falls_back_to_resp2_on_old_servers() {
        for refusal in [
            &b"-ERR unknown command 'HELLO', with args beginning with: '3' \r\n"[..],
            b"-ERR unknown command `HELLO`\r\n",
            b"-NOPROTO unsupported protocol version\r\n",
        ] {
            let mut c = conn("redis://:p@h/4?protocol=3");
            c.start();
            let (id, _) = c.submit(&["PING"], 0.0, None).unwrap();
            let p = c.feed(refusal);
            let mut want = cmd(&["AUTH", "p"]);
            want.extend(cmd(&["SELECT", "4"]));
            want.extend(cmd(&["PING"]));
            assert_eq!(p.write, want);
            let p = c.feed(b"+OK\r\n+OK\r\n+PONG\r\n");
            assert!(p.ready);
            assert_eq!(p.write, cmd(&["PING"]));
            assert_eq!(c.protocol(), 2);
            let p = c.feed(b"+PONG\r\n");
            assert_eq!(p.completed, vec![done(id, Reply::Bytes(b"PONG".to_vec()))]);
        }
    }

    #[test]
    fn a_refused_step_fails_the_connect_with_the_server_text() {
        for (url, replies, step, code) in [
            (
                "redis://:bad@h",
                &b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"[..],
                "AUTH",
                "WRONGPASS",
            ),
            (
                "redis://h",
                b"-NOAUTH Authentication required.\r\n",
                "PING",
                "NOAUTH",
            ),
            (
                "redis://:p@h/99",
                b"+OK\r\n-ERR DB index is out of range\r\n",
                "SELECT",
                "ERR",
            ),
            (
                "redis://:bad@h?protocol=3",
                b"-WRONGPASS invalid username-password pair\r\n",
                "HELLO",
                "WRONGPASS",
            ),
        ] {
            let mut c = conn(url);
            c.start();
            let (id, _) = c.submit(&["GET", "k"], 0.0, None).unwrap();
            let p = c.feed(replies);
            let e = p.closed.clone().unwrap();
            assert!(
                matches!(&e, RespError::Handshake { step: s, .. } if *s == step),
                "{e:?}"
            );
            assert_eq!(e.code(), Some(code));
            assert_eq!(
                p.completed,
                vec![Completion {
                    id,
                    result: Err(e.clone())
                }]
            );
            assert!(p.write.is_empty() && !p.ready);
            // Closed: later replies are ignored, later submits fail at once.
            assert_eq!(c.feed(b"+OK\r\n"), Progress::default());
            assert_eq!(c.submit(&["GET", "k"], 0.0, None).unwrap_err(), e);
            assert_eq!(c.next_deadline(), None);
        }
    }

    #[test]
    fn a_non_redis_peer_fails_the_connect() {
        let mut c = conn("redis://h");
        c.start();
        let p = c.feed(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        let e = p.closed.unwrap();
        let text = e.to_string();
        assert!(text.contains("while connecting"), "{text}");
        assert!(text.contains("does not speak RESP"), "{text}");
        assert!(text.contains("HTTP/1.1 400"), "{text}");
    }

    #[test]
    fn replies_match_commands_in_order() {
        let mut c = ready("redis://h");
        let mut written = Vec::new();
        let mut ids = Vec::new();
        for i in 0..5 {
            let (id, bytes) = c
                .submit(&["ECHO".to_string(), i.to_string()], 0.0, None)
                .unwrap();
            written.extend(bytes);
            ids.push(id);
        }
        assert_eq!(ids, vec![0, 1, 2, 3, 4]);
        assert_eq!(
            &written[..],
            &(0..5)
                .flat_map(|i| cmd(&["ECHO", &i.to_string()]))
                .collect::<Vec<_>>()[..]
        );
        let p = c.feed(b"$1\r\n0\r\n-WRONGTYPE bad\r\n:2\r\n>1\r\n+push\r\n*1\r\n");
        assert_eq!(
            p.completed,
            vec![
                done(0, Reply::Bytes(b"0".to_vec())),
                Completion {
                    id: 1,
                    result: Err(RespError::Server("WRONGTYPE bad".into()))
                },
                done(2, Reply::Int(2)),
            ]
        );
        assert_eq!(p.pushes, vec![vec![Reply::Bytes(b"push".to_vec())]]);
        assert_eq!(c.in_flight(), 2);
        // The server goes away in the middle of a reply: every waiting command fails.
        let p = c.socket_closed(None);
        let e = p.closed.clone().unwrap();
        assert_eq!(
            e,
            RespError::Closed("the server closed the connection in the middle of a reply".into())
        );
        assert_eq!(
            p.completed.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert!(p.completed.iter().all(|c| c.result == Err(e.clone())));
        assert_eq!(c.submit(&["PING"], 0.0, None).unwrap_err(), e);
        assert_eq!(c.socket_closed(None), Progress::default());
    }

    #[test]
    fn an_unexpected_reply_closes_the_connection() {
        let mut c = ready("redis://h");
        let p = c.feed(b"+OK\r\n");
        assert!(p
            .closed
            .unwrap()
            .to_string()
            .contains("no command was waiting"));
    }

    #[test]
    fn a_protocol_error_fails_everything_waiting() {
        let mut c = ready("redis://h");
        c.submit(&["GET", "a"], 0.0, None).unwrap();
        c.submit(&["GET", "b"], 0.0, None).unwrap();
        let p = c.feed(b"$1\r\na\r\n$1\r\nbXY");
        assert_eq!(p.completed[0], done(0, Reply::Bytes(b"a".to_vec())));
        assert!(matches!(
            &p.completed[1].result,
            Err(RespError::Protocol(_))
        ));
        assert!(matches!(c.phase(), Phase::Closed(RespError::Protocol(_))));
    }

    #[test]
    fn closing_mid_handshake_says_so() {
        let mut c = conn("redis://h");
        c.start();
        let p = c.socket_closed(Some("ECONNRESET"));
        let text = p.closed.unwrap().to_string();
        assert!(text.contains("ECONNRESET while connecting"), "{text}");
        assert!(text.contains("rediss://"), "{text}");
        let mut c = conn("redis://h");
        c.start();
        c.feed(b"+PO");
        let text = c.socket_closed(None).closed.unwrap().to_string();
        assert!(
            text.contains("in the middle of a reply while connecting"),
            "{text}"
        );
        assert!(!text.contains("rediss"), "{text}");
    }

    #[test]
    fn close_and_fail_all() {
        let mut c = ready("redis://h");
        c.submit(&["BLPOP", "q", "0"], 0.0, None).unwrap();
        let p = c.close();
        assert_eq!(
            p.completed[0].result,
            Err(RespError::Closed("closed by the client".into()))
        );
        assert_eq!(c.close(), Progress::default());
        let mut c = ready("redis://h");
        assert_eq!(
            c.submit::<&str>(&[], 0.0, None).unwrap_err(),
            RespError::Config("an empty command".into())
        );
        let p = c.fail_all(RespError::Closed("x".into()));
        assert!(p.completed.is_empty() && p.closed.is_some());
    }

    #[test]
    fn the_connect_deadline() {
        let mut c = Connection::new(
            ConnectOptions::from_url("redis://h?connectTimeout=500").unwrap(),
            Limits::default(),
            1000.0,
        );
        c.start();
        let (id, _) = c.submit(&["GET", "k"], 1100.0, Some(10_000.0)).unwrap();
        assert_eq!(c.next_deadline(), Some(1500.0));
        assert_eq!(c.expire(1499.0), Progress::default());
        let p = c.expire(1500.0);
        let e = RespError::Timeout {
            what: "connect".into(),
            after_ms: 500.0,
        };
        assert_eq!(p.closed, Some(e.clone()));
        assert_eq!(p.completed, vec![Completion { id, result: Err(e) }]);
        // Once ready, the connect deadline no longer applies.
        let mut c = Connection::new(
            ConnectOptions::from_url("redis://h?connectTimeout=500").unwrap(),
            Limits::default(),
            0.0,
        );
        c.start();
        assert!(c.feed(b"+PONG\r\n").ready);
        assert_eq!(c.next_deadline(), None);
        assert_eq!(c.expire(1e9), Progress::default());
    }

    #[test]
    fn a_late_command_fails_and_closes_the_connection() {
        let mut c = ready("redis://h");
        let (a, _) = c.submit(&["blmove", "k"], 0.0, Some(5000.0)).unwrap();
        let (b, _) = c.submit(&["GET", "k"], 10.0, Some(1000.0)).unwrap();
        let (d, _) = c.submit(&["GET", "k"], 20.0, None).unwrap();
        assert_eq!(c.next_deadline(), Some(1010.0));
        assert_eq!(c.expire(1009.0), Progress::default());
        let p = c.expire(1010.0);
        let timeout = RespError::Timeout {
            what: "GET".into(),
            after_ms: 1000.0,
        };
        let others =
            RespError::Closed("abandoned because Redis GET timed out after 1000 ms".into());
        assert_eq!(
            p.completed,
            vec![
                Completion {
                    id: a,
                    result: Err(others.clone())
                },
                Completion {
                    id: b,
                    result: Err(timeout)
                },
                Completion {
                    id: d,
                    result: Err(others.clone())
                },
            ]
        );
        assert_eq!(p.closed, Some(others));
    }

    #[test]
    fn too_large_values_fail_only_their_command() {
        let mut c = Connection::new(
            ConnectOptions::default(),
            Limits {
                max_bulk: 3,
                ..Limits::default()
            },
            0.0,
        );
        c.start();
        c.feed(b"+PONG\r\n");
        let (a, _) = c.submit(&["GET", "big"], 0.0, None).unwrap();
        let (b, _) = c.submit(&["GET", "small"], 0.0, None).unwrap();
        let p = c.feed(b"$4\r\n");
        assert_eq!(
            p.completed,
            vec![Completion {
                id: a,
                result: Err(RespError::TooLarge { size: 4, limit: 3 })
            }]
        );
        let p = c.feed(b"abcd\r\n$3\r\nabc\r\n");
        assert_eq!(p.completed, vec![done(b, Reply::Bytes(b"abc".to_vec()))]);
        assert_eq!(c.phase(), &Phase::Ready);
    }

    #[test]
    fn a_value_announced_beyond_reason_fails_and_abandons_the_connection() {
        // `$9999999999` and nothing after: its command fails at once, and so does every
        // command behind it, instead of waiting for ten gigabytes that never come; the
        // driver opens a new connection for the next command.
        let mut c = ready("redis://h");
        let (a, _) = c.submit(&["GET", "big"], 0.0, None).unwrap();
        let (b, _) = c.submit(&["GET", "small"], 0.0, None).unwrap();
        let p = c.feed(b"$9999999999\r\n");
        assert_eq!(p.completed.len(), 2);
        assert_eq!(p.completed[0].id, a);
        assert!(matches!(
            p.completed[0].result,
            Err(RespError::TooLarge {
                size: 9_999_999_999,
                ..
            })
        ));
        assert_eq!(p.completed[1].id, b);
        let Err(RespError::Closed(why)) = &p.completed[1].result else {
            panic!("{:?}", p.completed[1])
        };
        assert!(
            why.contains("abandoned after a reply over the limit"),
            "{why}"
        );
        assert!(p.closed.is_some());
        assert!(matches!(c.phase(), Phase::Closed(_)));
    }

    #[test]
    fn a_large_value_is_held_only_for_a_command_that_asks() {
        use crate::resp::parser::HOLD_MIN_BYTES;
        let mut c = ready("redis://localhost");
        let (a, _) = c.submit_value(&["LINDEX", "k", "0"], 0.0, None).unwrap();
        let (b, _) = c.submit(&["LINDEX", "k", "0"], 0.0, None).unwrap();
        let value = vec![b'x'; HOLD_MIN_BYTES];
        let mut reply = format!("${}\r\n", value.len()).into_bytes();
        reply.extend_from_slice(&value);
        reply.extend_from_slice(b"\r\n");
        let twice = [reply.clone(), reply].concat();
        let (first, second) = twice.split_at(100);
        let p = c.feed(first);
        assert!(p.completed.is_empty());
        let mut got = p
            .held
            .iter()
            .map(|r| &first[r.start..r.end])
            .collect::<Vec<_>>()
            .concat();
        let p = c.feed(second);
        got.extend(p.held.iter().flat_map(|r| &second[r.start..r.end]));
        assert_eq!(got, value, "the held bytes are the value's");
        assert!(p.held.iter().all(|r| r.id == 0 && r.len == value.len()));
        assert_eq!(p.completed.len(), 2);
        assert!(
            matches!(&p.completed[0], Completion { id, result: Ok(Reply::Held(h)) }
                if *id == a && h.len == value.len() && h.bytes.is_none()),
            "{:?}",
            p.completed[0]
        );
        assert_eq!(p.completed[1], done(b, Reply::Bytes(value)));

        // A connection cut in the middle of a held value says so.
        let (_, _) = c.submit_value(&["LINDEX", "k", "0"], 0.0, None).unwrap();
        let p = c.feed(format!("${}\r\nxx", HOLD_MIN_BYTES).as_bytes());
        assert_eq!(p.held.len(), 1);
        let p = c.socket_closed(None);
        assert!(
            matches!(&p.completed[0].result, Err(RespError::Closed(m)) if m.contains("middle of a reply")),
            "{:?}",
            p.completed
        );
    }
}
