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

use crate::backends::redis::Reply;

use super::command::encode;
use super::error::RespError;
use super::parser::{Frame, Limits, Parser};
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
        let pending = Pending {
            id,
            name,
            deadline: timeout_ms.map(|t| (now_ms + t, t)),
        };
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

    /// Reads bytes from the socket.
    pub fn feed(&mut self, chunk: &[u8]) -> Progress {
        let mut progress = Progress::default();
        if matches!(self.phase, Phase::Closed(_)) {
            return progress;
        }
        self.received |= !chunk.is_empty();
        let mut frames = Vec::new();
        let parsed = self.parser.feed(chunk, &mut frames);
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
