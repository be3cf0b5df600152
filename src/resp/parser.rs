//! An incremental RESP2 / RESP3 reply parser: bytes in, [`Frame`]s out.
//!
//! Bytes arrive as the socket delivers them — a reply split across any number of chunks,
//! several replies in one chunk — and each byte is looked at once: the parser keeps its
//! place (a partial header line, a partial bulk payload, the stack of open aggregates)
//! between calls instead of re-reading the buffer from the start.
//!
//! **Bounded.** Nothing is allocated in proportion to a length the peer *declares*: a bulk
//! payload's buffer grows with the bytes that actually arrive, an aggregate's with the
//! elements that actually arrive. [`Limits`] caps a bulk string and the memory one whole
//! reply may take (above either: the command fails with [`RespError::TooLarge`] or
//! [`RespError::ReplyTooLarge`] at once, and the rest of the reply is read and dropped
//! without being stored, so the connection stays usable), how much of a failed reply is
//! read and dropped (above it: the stream is abandoned, since waiting for gigabytes that
//! may never come would hang every command behind them), a header line, the nesting depth
//! and an aggregate's length (above them: a protocol error, the stream is not trusted any
//! further). Nesting is an explicit stack, never recursion.
//!
//! **Every RESP3 type maps onto [`Reply`] as a RESP2 client would see the same command's
//! answer**, so the store and broker code need not know which protocol the connection
//! speaks:
//!
//! | RESP3 | [`Reply`] | why |
//! |---|---|---|
//! | simple / blob / verbatim string | `Bytes` (verbatim without its `txt:` prefix) | RESP2 sends a bulk string |
//! | null `_`, RESP2 `$-1` / `*-1` | `Nil` | |
//! | integer | `Int` | |
//! | double `,` | `Bytes` of its text | RESP2 sends scores as bulk strings (`ZSCORE`) |
//! | big number `(` | `Bytes` of its digits | RESP2 has no big numbers; the text loses nothing |
//! | boolean `#t` / `#f` | `Int(1)` / `Nil` | what a Lua script's `true` / `false` become in RESP2 |
//! | array, set | `Array` | |
//! | map | `Array` of key, value, key, value… | RESP2's `HGETALL` shape, order kept |
//! | error `-`, blob error `!` | the command fails with [`RespError::Server`] | an error inside an array (a script's table) fails the whole reply with the first one |
//! | push `>` | [`Frame::Push`], not a reply | out-of-band: must not be matched to a command |
//! | attribute `\|` | skipped | metadata before a value; the value that follows is the reply |
//!
//! RESP3 streamed strings and aggregates (`$?`, `*?`) are refused: no Redis server sends
//! them.

use super::reply::{Held, Reply};

use super::error::RespError;

/// What one reply costs in memory per value besides its payload (the [`Reply`] that holds
/// it), so a reply of millions of tiny values is bounded like one of a few large ones.
pub const VALUE_COST: usize = std::mem::size_of::<Reply>();

/// [`Limits::max_reply`]'s default: 128 MiB, twice the largest value a backend reads by
/// default. Wasm memory never shrinks, so what one reply may take is what a peer can pin
/// for the life of the process; a broker fetch or a batch read stays far below it.
pub const DEFAULT_MAX_REPLY_BYTES: usize = 128 << 20;

/// [`Limits::max_skip`]'s default: 512 MiB, Redis's own `proto-max-bulk-len` default, the
/// longest string a stock server can hold. A failed reply that announces more is not worth
/// waiting for.
pub const DEFAULT_MAX_SKIP_BYTES: u64 = 512 << 20;

/// [`Parser::feed_holding`] leaves a reply's bulk string of this many bytes or more in the
/// host's memory when its command asked for it: 1 MiB. Wasm memory never shrinks, so a
/// 60 MB value read into it pinned 80 MB for the life of the process (bench/notes.md); below
/// this size the copy costs more than the memory it pins.
pub const HOLD_MIN_BYTES: usize = 1 << 20;

/// Bytes of the chunk just fed that belong to held bulk string `id` (see
/// [`Parser::feed_holding`]): `chunk[start..end]`, to append to it, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldRange {
    /// Which held bulk string ([`Held::id`]).
    pub id: u64,
    /// Its whole length, so the host can size its buffer.
    pub len: usize,
    /// Where in the chunk.
    pub start: usize,
    /// Where it ends in the chunk (exclusive).
    pub end: usize,
}

/// What one [`Parser::feed_holding`] call needs besides the bytes.
struct Feed<'a> {
    /// Whether the `n`th reply completed from this call on may be held.
    hold: &'a dyn Fn(usize) -> bool,
    /// Where the held bytes of this chunk are.
    ranges: &'a mut Vec<HeldRange>,
    /// Where the chunk starts in the caller's buffer.
    len: usize,
}

/// The parser's bounds. The defaults suit a result store; lower `max_bulk` to the backend's
/// `maxValueBytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest bulk string accepted, in bytes; a longer one fails its command with
    /// [`RespError::TooLarge`] and is skipped unread.
    pub max_bulk: usize,
    /// The most memory one reply (a top-level value with everything nested in it) may take:
    /// its payload bytes plus [`VALUE_COST`] per value. Above it the command fails with
    /// [`RespError::ReplyTooLarge`] and the rest of the reply is skipped unread: a reply of
    /// many values each under `max_bulk` cannot exhaust memory.
    pub max_reply: usize,
    /// The most bytes of a failed reply (over `max_bulk` or `max_reply`) that are read and
    /// dropped to keep the connection; a failed reply announcing more ends the stream with
    /// a [`RespError::Closed`] for every command behind it (a driver then reconnects), so a
    /// length declared and never sent cannot hang the connection.
    pub max_skip: u64,
    /// The longest header line (simple string, error text, number), in bytes, its type
    /// byte and CRLF excluded. Bounds what a peer that never sends CRLF can make us buffer.
    pub max_line: usize,
    /// The deepest nesting of aggregates. Redis replies are a few levels deep; a deeper one
    /// is a hostile or broken peer (and a deep tree would overflow the stack when dropped).
    pub max_depth: usize,
    /// The most elements one aggregate may declare (a map counts its keys and values).
    pub max_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: crate::results::backend::DEFAULT_MAX_VALUE_BYTES,
            max_reply: DEFAULT_MAX_REPLY_BYTES,
            max_skip: DEFAULT_MAX_SKIP_BYTES,
            max_line: 64 * 1024,
            max_depth: 32,
            max_len: 1 << 24,
        }
    }
}

/// One complete frame from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The answer to the oldest command still waiting: its reply, or why it failed (a
    /// server error, a value over the limit).
    Reply(Result<Reply, RespError>),
    /// A RESP3 push (pub/sub message, client-side-caching invalidation): answers no command.
    Push(Vec<Reply>),
}

/// What an aggregate collects into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agg {
    /// Array or set.
    Array,
    /// Map: keys and values, flattened.
    Map,
    /// Push: out of band.
    Push,
    /// Attribute: read and dropped; does not count as an element of its parent.
    Attribute,
}

/// An aggregate whose elements are still arriving.
#[derive(Debug)]
struct Open {
    agg: Agg,
    /// Elements still to come.
    left: usize,
    items: Vec<Reply>,
}

/// How a bulk payload is read once complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bulk {
    /// `$`: a string.
    Blob,
    /// `=`: a string after a three-letter format and a colon.
    Verbatim,
    /// `!`: an error's text.
    Error,
}

#[derive(Debug)]
enum State {
    /// Reading a header line (its bytes so far are in `Parser::line`).
    Line,
    /// Reading a bulk payload and its CRLF: `want` bytes in all.
    Bulk {
        kind: Bulk,
        want: usize,
        data: Vec<u8>,
    },
    /// Skipping an over-limit payload and its CRLF.
    Skip { left: u64 },
    /// Passing a large payload to the host ([`HeldRange`]s), then its CRLF.
    Held {
        id: u64,
        len: usize,
        /// Payload bytes still to come.
        left: usize,
        /// How many bytes of the CRLF after it arrived.
        crlf: usize,
    },
}

/// What the value being read at the top level will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Top {
    Reply,
    Push,
}

/// Whether the top-level value being read has already been decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Nothing reported yet: report it when complete.
    Pending,
    /// Its failure was reported early: report nothing when complete.
    Reported,
    /// A push that failed: drop it when complete.
    Dropped,
}

/// The incremental parser. One per connection; after a protocol error it stays broken.
#[derive(Debug)]
pub struct Parser {
    limits: Limits,
    state: State,
    line: Vec<u8>,
    stack: Vec<Open>,
    top: Top,
    fate: Fate,
    /// Memory charged to the top-level value being read (payloads plus [`VALUE_COST`] each).
    charged: u64,
    /// Payload bytes of the top-level value being read that were, or are being, skipped.
    skipped: u64,
    broken: Option<RespError>,
    /// The smallest bulk string held in the host's memory when a command asks for it.
    hold_min: usize,
    /// The id of the next held bulk string.
    next_held: u64,
}

/// What one complete RESP value amounts to, before it is placed.
enum Value {
    Reply(Reply),
    /// An error reply: its aggregate (or the top-level reply) fails.
    Error(RespError),
}

impl Parser {
    /// A parser with these limits.
    pub fn new(limits: Limits) -> Self {
        Parser {
            limits,
            state: State::Line,
            line: Vec::new(),
            stack: Vec::new(),
            top: Top::Reply,
            fate: Fate::Pending,
            charged: 0,
            skipped: 0,
            broken: None,
            hold_min: HOLD_MIN_BYTES,
            next_held: 0,
        }
    }

    /// The same parser, holding bulk strings from `bytes` on (tests use small ones).
    pub fn with_hold_min(mut self, bytes: usize) -> Self {
        self.hold_min = bytes.max(1);
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether the parser is between frames (no partial frame buffered): a connection that
    /// closes now lost no reply halfway.
    pub fn is_between_frames(&self) -> bool {
        matches!(self.state, State::Line) && self.line.is_empty() && self.stack.is_empty()
    }

    /// The protocol error that broke the stream, if one did.
    pub fn broken(&self) -> Option<&RespError> {
        self.broken.as_ref()
    }

    /// Reads `chunk`, appending every frame it completes to `out` (in order). On a protocol
    /// error the frames completed before it are still in `out`, and this and every later
    /// call return the error.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), RespError> {
        self.feed_holding(chunk, out, &|_| false, &mut Vec::new())
    }

    /// [`Parser::feed`], where a reply's top-level bulk string of [`HOLD_MIN_BYTES`] or more
    /// is not stored: its payload bytes are reported as [`HeldRange`]s of `chunk` in
    /// `ranges` (for the host to collect), and the reply is a [`Reply::Held`] with the same
    /// id. Framing, CRLF and every limit are checked as for any other value. `hold(n)` says
    /// whether the `n`th reply completed from this call on (0: the first; pushes do not
    /// count) may be held: whether its command can take a value that is not in wasm memory.
    pub fn feed_holding(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<Frame>,
        hold: &dyn Fn(usize) -> bool,
        ranges: &mut Vec<HeldRange>,
    ) -> Result<(), RespError> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        let mut feed = Feed {
            hold,
            ranges,
            len: chunk.len(),
        };
        let result = self.feed_inner(chunk, out, &mut feed);
        if let Err(e) = &result {
            self.broken = Some(e.clone());
            self.stack.clear();
            self.line = Vec::new();
            self.state = State::Line;
        }
        result
    }

    fn feed_inner(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<Frame>,
        feed: &mut Feed<'_>,
    ) -> Result<(), RespError> {
        let mut rest = chunk;
        while !rest.is_empty() {
            match &mut self.state {
                State::Line => {
                    if self.line.is_empty() {
                        // Refuse a non-RESP peer on its first byte, not after a line of it.
                        if let Some(&first) = rest.first() {
                            if !is_type_byte(first) {
                                return Err(not_resp(rest));
                            }
                        }
                    }
                    match rest.iter().position(|&b| b == b'\n') {
                        None => {
                            if self.line.len() + rest.len() > self.limits.max_line + 2 {
                                return Err(self.line_too_long());
                            }
                            self.line.extend_from_slice(rest);
                            rest = &[];
                        }
                        Some(at) => {
                            let (head, tail) = rest.split_at_checked(at).unwrap_or((rest, &[]));
                            rest = tail.get(1..).unwrap_or(&[]);
                            // The limit counts neither the type byte nor CRLF.
                            if self.line.len() + head.len() > self.limits.max_line + 2 {
                                return Err(self.line_too_long());
                            }
                            if self.line.is_empty() {
                                self.on_line(head, out, feed)?;
                            } else {
                                let mut line = std::mem::take(&mut self.line);
                                line.extend_from_slice(head);
                                let result = self.on_line(&line, out, feed);
                                line.clear();
                                self.line = line;
                                result?;
                            }
                        }
                    }
                }
                State::Bulk { want, data, .. } => {
                    let missing = want.saturating_sub(data.len());
                    let take = missing.min(rest.len());
                    let (now, later) = rest.split_at_checked(take).unwrap_or((rest, &[]));
                    // Grows with what arrived, never to the declared length up front, and
                    // never past it. Not by doubling: each doubled buffer is larger than all
                    // the freed smaller ones together, so the allocator can never reuse them
                    // and a 60 MB value left 120 MB of wasm memory (which never shrinks).
                    // By half instead (freed buffers soon fit the next one), and to the
                    // whole declared length once a quarter of it arrived (so a peer must
                    // send bytes to make us hold four times as many).
                    if data.capacity() - data.len() < now.len() {
                        let needed = data.len() + now.len();
                        let grown = if needed >= *want / 4 {
                            *want
                        } else {
                            (data.capacity() + data.capacity() / 2).max(needed)
                        };
                        data.reserve_exact(grown.min(*want) - data.len());
                    }
                    data.extend_from_slice(now);
                    rest = later;
                    if data.len() >= *want {
                        let State::Bulk { kind, mut data, .. } =
                            std::mem::replace(&mut self.state, State::Line)
                        else {
                            continue;
                        };
                        if data.len() < 2 || !data.ends_with(b"\r\n") {
                            return Err(RespError::Protocol(
                                "a bulk string is not followed by CRLF".into(),
                            ));
                        }
                        data.truncate(data.len() - 2);
                        let value = bulk_value(kind, data)?;
                        self.place(value, out)?;
                    }
                }
                State::Held {
                    id,
                    len,
                    left,
                    crlf,
                } => {
                    let take = (*left).min(rest.len());
                    if take > 0 {
                        let start = feed.len - rest.len();
                        feed.ranges.push(HeldRange {
                            id: *id,
                            len: *len,
                            start,
                            end: start + take,
                        });
                        *left -= take;
                        rest = rest.get(take..).unwrap_or(&[]);
                    }
                    while *left == 0 && *crlf < 2 {
                        let Some((&b, later)) = rest.split_first() else {
                            break;
                        };
                        if Some(&b) != b"\r\n".get(*crlf) {
                            return Err(RespError::Protocol(
                                "a bulk string is not followed by CRLF".into(),
                            ));
                        }
                        *crlf += 1;
                        rest = later;
                    }
                    if *crlf == 2 {
                        let held = Box::new(Held {
                            id: *id,
                            len: *len,
                            bytes: None,
                        });
                        self.state = State::Line;
                        self.place(Value::Reply(Reply::Held(held)), out)?;
                    }
                }
                State::Skip { left } => {
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(rest.len());
                    rest = rest.get(take..).unwrap_or(&[]);
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = State::Line;
                        // The skipped string stands in as nil; its reply already failed.
                        self.place(Value::Reply(Reply::Nil), out)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn line_too_long(&self) -> RespError {
        RespError::Protocol(format!(
            "a reply line is longer than {} bytes without CRLF",
            self.limits.max_line
        ))
    }

    /// One header line, CR included, LF excluded.
    fn on_line(
        &mut self,
        line: &[u8],
        out: &mut Vec<Frame>,
        feed: &mut Feed<'_>,
    ) -> Result<(), RespError> {
        let Some(line) = line.strip_suffix(b"\r") else {
            return Err(RespError::Protocol(format!(
                "a reply line ends in LF without CR: {}",
                snippet(line)
            )));
        };
        let Some((&kind, body)) = line.split_first() else {
            return Err(RespError::Protocol("an empty reply line".into()));
        };
        if self.stack.is_empty() && kind != b'|' {
            self.top = if kind == b'>' { Top::Push } else { Top::Reply };
        }
        // Every value costs its `Reply`; a simple string its text too (bulk payloads are
        // charged in `start_bulk`, before they arrive).
        let text = if matches!(kind, b'+' | b',' | b'(') {
            body.len()
        } else {
            0
        };
        self.charge(VALUE_COST + text, out);
        let value = match kind {
            b'+' => Reply::Bytes(body.to_vec()),
            b'-' => return self.place(Value::Error(server_error(body)), out),
            b':' => Reply::Int(parse_int(body)?),
            b'_' if body.is_empty() => Reply::Nil,
            b'#' => match body {
                b"t" => Reply::Int(1),
                b"f" => Reply::Nil,
                _ => return Err(bad_line("boolean", body)),
            },
            b',' if is_double(body) => Reply::Bytes(body.to_vec()),
            b'(' if is_big_number(body) => Reply::Bytes(body.to_vec()),
            b'$' | b'=' | b'!' => {
                let kind = match kind {
                    b'$' => Bulk::Blob,
                    b'=' => Bulk::Verbatim,
                    _ => Bulk::Error,
                };
                return match parse_len(body)? {
                    None if kind == Bulk::Blob => self.place(Value::Reply(Reply::Nil), out),
                    None => Err(bad_line("length", body)),
                    Some(len) => self.start_bulk(kind, len, out, feed),
                };
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let agg = match kind {
                    b'%' => Agg::Map,
                    b'>' => Agg::Push,
                    b'|' => Agg::Attribute,
                    _ => Agg::Array,
                };
                return match parse_len(body)? {
                    None if kind == b'*' => self.place(Value::Reply(Reply::Nil), out),
                    None => Err(bad_line("length", body)),
                    Some(len) => self.open(agg, len, out),
                };
            }
            _ => return Err(bad_line("value", line)),
        };
        self.place(Value::Reply(value), out)
    }

    fn start_bulk(
        &mut self,
        kind: Bulk,
        len: u64,
        out: &mut Vec<Frame>,
        feed: &mut Feed<'_>,
    ) -> Result<(), RespError> {
        let limit = self.limits.max_bulk;
        // What nobody will read is skipped, not stored: the rest of a reply that already
        // failed, a dropped push, an attribute.
        let mut keep = self.fate == Fate::Pending && !self.in_attribute();
        match usize::try_from(len) {
            Ok(n) if n <= limit => {
                if keep {
                    keep = self.charge(n, out);
                }
            }
            _ => {
                self.fail_current(RespError::TooLarge { size: len, limit }, out);
                keep = false;
            }
        }
        let want = len.saturating_add(2);
        if keep && kind == Bulk::Blob && self.stack.is_empty() && self.top == Top::Reply {
            let n = usize::try_from(len).unwrap_or(usize::MAX);
            let nth = out.iter().filter(|f| matches!(f, Frame::Reply(_))).count();
            if n >= self.hold_min && (feed.hold)(nth) {
                let id = self.next_held;
                self.next_held += 1;
                self.state = State::Held {
                    id,
                    len: n,
                    left: n,
                    crlf: 0,
                };
                return Ok(());
            }
        }
        if keep {
            let want = usize::try_from(want).unwrap_or(usize::MAX);
            // A small first allocation; the rest grows with the bytes that arrive.
            let data = Vec::with_capacity(want.min(4096));
            self.state = State::Bulk { kind, want, data };
            return Ok(());
        }
        self.skipped = self.skipped.saturating_add(want);
        if self.skipped > self.limits.max_skip {
            return Err(RespError::Closed(format!(
                "abandoned after a reply over the limit: it announced {} bytes more to skip, \
                 over the {} bytes a connection reads and drops to stay usable",
                self.skipped, self.limits.max_skip
            )));
        }
        self.state = State::Skip { left: want };
        Ok(())
    }

    /// Whether the value being read is inside an attribute (metadata, dropped).
    fn in_attribute(&self) -> bool {
        self.stack.iter().any(|o| o.agg == Agg::Attribute)
    }

    /// Charges `bytes` of memory to the reply being read; past `max_reply` the reply fails
    /// (and its rest is dropped). Returns whether the value may still be stored.
    fn charge(&mut self, bytes: usize, out: &mut Vec<Frame>) -> bool {
        if self.fate != Fate::Pending || self.in_attribute() {
            return false;
        }
        self.charged = self.charged.saturating_add(bytes as u64);
        if self.charged > self.limits.max_reply as u64 {
            let error = RespError::ReplyTooLarge {
                size: self.charged,
                limit: self.limits.max_reply,
            };
            self.fail_current(error, out);
            return false;
        }
        true
    }

    fn open(&mut self, agg: Agg, declared: u64, out: &mut Vec<Frame>) -> Result<(), RespError> {
        let per = if agg == Agg::Map || agg == Agg::Attribute {
            2
        } else {
            1
        };
        let len = usize::try_from(declared)
            .ok()
            .and_then(|n| n.checked_mul(per))
            .filter(|&n| n <= self.limits.max_len)
            .ok_or_else(|| {
                RespError::Protocol(format!(
                    "an aggregate of {declared} elements, over the limit of {}",
                    self.limits.max_len
                ))
            })?;
        if len == 0 {
            return match agg {
                Agg::Attribute => Ok(()),
                Agg::Push => self.place_push(Vec::new(), out),
                Agg::Array | Agg::Map => self.place(Value::Reply(Reply::Array(Vec::new())), out),
            };
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(RespError::Protocol(format!(
                "replies nested deeper than {} levels",
                self.limits.max_depth
            )));
        }
        self.stack.push(Open {
            agg,
            left: len,
            // Never in proportion to the declared length: it grows as elements arrive.
            items: Vec::with_capacity(len.min(16)),
        });
        Ok(())
    }

    /// Reports the top-level value being read as failed, now (so its command need not wait
    /// for the rest of it); the rest of the value is still read, and then dropped.
    fn fail_current(&mut self, error: RespError, out: &mut Vec<Frame>) {
        if self.in_attribute() || self.fate != Fate::Pending {
            return;
        }
        if self.top == Top::Push {
            self.fate = Fate::Dropped;
        } else {
            out.push(Frame::Reply(Err(error)));
            self.fate = Fate::Reported;
        }
    }

    /// Places a complete value into its aggregate, closing every aggregate it completes; a
    /// value at the top level is a frame.
    fn place(&mut self, value: Value, out: &mut Vec<Frame>) -> Result<(), RespError> {
        let mut reply = match value {
            Value::Reply(reply) => reply,
            Value::Error(e) => {
                self.fail_current(e, out);
                Reply::Nil
            }
        };
        loop {
            let Some(open) = self.stack.last_mut() else {
                self.finish(Ok(reply), out);
                return Ok(());
            };
            if open.agg != Agg::Attribute && self.fate == Fate::Pending {
                open.items.push(reply);
            }
            open.left -= 1;
            if open.left > 0 {
                return Ok(());
            }
            let Some(done) = self.stack.pop() else {
                return Ok(());
            };
            match done.agg {
                // Metadata about the value that follows: dropped, and not an element.
                Agg::Attribute => return Ok(()),
                Agg::Push if self.stack.is_empty() => return self.place_push(done.items, out),
                Agg::Array | Agg::Map | Agg::Push => reply = Reply::Array(done.items),
            }
        }
    }

    fn place_push(&mut self, items: Vec<Reply>, out: &mut Vec<Frame>) -> Result<(), RespError> {
        if self.stack.is_empty() {
            self.finish(Err(items), out);
            Ok(())
        } else {
            self.place(Value::Reply(Reply::Array(items)), out)
        }
    }

    /// A top-level value is complete: a reply (`Ok`) or a push (`Err`).
    fn finish(&mut self, value: Result<Reply, Vec<Reply>>, out: &mut Vec<Frame>) {
        if self.fate == Fate::Pending {
            out.push(match value {
                Ok(reply) => Frame::Reply(Ok(reply)),
                Err(items) => Frame::Push(items),
            });
        }
        self.fate = Fate::Pending;
        self.top = Top::Reply;
        self.charged = 0;
        self.skipped = 0;
    }
}

/// The first bytes of every RESP2 and RESP3 value.
fn is_type_byte(b: u8) -> bool {
    b"+-:$*_#,(=!%~>|".contains(&b)
}

/// The error for a peer that does not speak RESP, showing what it sent instead.
fn not_resp(bytes: &[u8]) -> RespError {
    RespError::Protocol(format!(
        "the server does not speak RESP (is it a Redis server?); it sent {}",
        snippet(bytes)
    ))
}

fn bad_line(what: &str, bytes: &[u8]) -> RespError {
    if bytes.first().is_some_and(|&b| !is_type_byte(b)) {
        return not_resp(bytes);
    }
    RespError::Protocol(format!("malformed {what} in reply line {}", snippet(bytes)))
}

/// Up to 40 bytes, quoted, non-printable bytes escaped: enough to recognise an HTTP status
/// line or a TLS alert in an error message.
fn snippet(bytes: &[u8]) -> String {
    let mut text = String::from("\"");
    for &b in bytes.iter().take(40) {
        text.extend(std::ascii::escape_default(b).map(char::from));
    }
    text.push('"');
    if bytes.len() > 40 {
        text.push('…');
    }
    text
}

fn server_error(body: &[u8]) -> RespError {
    RespError::Server(String::from_utf8_lossy(body).into_owned())
}

fn bulk_value(kind: Bulk, data: Vec<u8>) -> Result<Value, RespError> {
    Ok(match kind {
        Bulk::Blob => Value::Reply(Reply::Bytes(data)),
        Bulk::Error => Value::Error(server_error(&data)),
        Bulk::Verbatim => {
            if data.get(3) != Some(&b':') {
                return Err(RespError::Protocol(
                    "a verbatim string without its format prefix".into(),
                ));
            }
            Value::Reply(Reply::Bytes(data.get(4..).unwrap_or_default().to_vec()))
        }
    })
}

/// A RESP integer: an optional minus and 1 to 19 digits, within `i64`.
fn parse_int(body: &[u8]) -> Result<i64, RespError> {
    let (negative, digits) = match body.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, body),
    };
    if digits.is_empty() {
        return Err(bad_line("integer", body));
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(bad_line("integer", body));
        }
        let digit = i64::from(d - b'0');
        n = n
            .checked_mul(10)
            .and_then(|n| {
                if negative {
                    n.checked_sub(digit)
                } else {
                    n.checked_add(digit)
                }
            })
            .ok_or_else(|| bad_line("integer", body))?;
    }
    Ok(n)
}

/// A length: `None` for RESP2's null (-1), an error for other negatives and for RESP3's
/// streamed `?`, which Redis never sends.
fn parse_len(body: &[u8]) -> Result<Option<u64>, RespError> {
    if body == b"?" {
        return Err(RespError::Protocol(
            "RESP3 streamed replies are not supported".into(),
        ));
    }
    match parse_int(body)? {
        -1 => Ok(None),
        n => u64::try_from(n)
            .map(Some)
            .map_err(|_| bad_line("length", body)),
    }
}

/// A RESP3 double's text: digits, sign, point, exponent, or `inf` / `-inf` / `nan`.
fn is_double(body: &[u8]) -> bool {
    !body.is_empty()
        && body
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
}

/// A RESP3 big number: an optional sign and digits.
fn is_big_number(body: &[u8]) -> bool {
    let digits = body
        .strip_prefix(b"-")
        .or_else(|| body.strip_prefix(b"+"))
        .unwrap_or(body);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Reply {
        Reply::Bytes(s.as_bytes().to_vec())
    }

    fn arr(items: Vec<Reply>) -> Reply {
        Reply::Array(items)
    }

    fn ok(r: Reply) -> Frame {
        Frame::Reply(Ok(r))
    }

    fn server(text: &str) -> Frame {
        Frame::Reply(Err(RespError::Server(text.into())))
    }

    /// Every type, RESP2 and RESP3, with the frame it must give.
    fn cases() -> Vec<(&'static [u8], Vec<Frame>)> {
        vec![
            (b"+OK\r\n", vec![ok(b("OK"))]),
            (b"+\r\n", vec![ok(b(""))]),
            (b"-ERR unknown command 'X'\r\n", vec![server("ERR unknown command 'X'")]),
            (b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
             vec![server("WRONGTYPE Operation against a key holding the wrong kind of value")]),
            (b"-NOSCRIPT No matching script.\r\n", vec![server("NOSCRIPT No matching script.")]),
            (b":0\r\n", vec![ok(Reply::Int(0))]),
            (b":-42\r\n", vec![ok(Reply::Int(-42))]),
            (b":+7\r\n", vec![ok(Reply::Int(7))]),
            (b":9223372036854775807\r\n", vec![ok(Reply::Int(i64::MAX))]),
            (b":-9223372036854775808\r\n", vec![ok(Reply::Int(i64::MIN))]),
            (b"$5\r\nhello\r\n", vec![ok(b("hello"))]),
            (b"$0\r\n\r\n", vec![ok(b(""))]),
            (b"$4\r\n\r\n\0\xff\r\n", vec![ok(Reply::Bytes(b"\r\n\0\xff".to_vec()))]),
            (b"$-1\r\n", vec![ok(Reply::Nil)]),
            (b"*-1\r\n", vec![ok(Reply::Nil)]),
            (b"*0\r\n", vec![ok(arr(vec![]))]),
            (b"*3\r\n:1\r\n$-1\r\n$1\r\nx\r\n", vec![ok(arr(vec![Reply::Int(1), Reply::Nil, b("x")]))]),
            (b"*2\r\n*1\r\n+a\r\n*0\r\n", vec![ok(arr(vec![arr(vec![b("a")]), arr(vec![])]))]),
            (b"_\r\n", vec![ok(Reply::Nil)]),
            (b",3.14\r\n", vec![ok(b("3.14"))]),
            (b",-inf\r\n", vec![ok(b("-inf"))]),
            (b",1.5e-7\r\n", vec![ok(b("1.5e-7"))]),
            (b"#t\r\n", vec![ok(Reply::Int(1))]),
            (b"#f\r\n", vec![ok(Reply::Nil)]),
            (b"(3492890328409238509324850943850943825024385\r\n", vec![ok(b("3492890328409238509324850943850943825024385"))]),
            (b"(-1\r\n", vec![ok(b("-1"))]),
            (b"=15\r\ntxt:Some string\r\n", vec![ok(b("Some string"))]),
            (b"=4\r\nmkd:\r\n", vec![ok(b(""))]),
            (b"!21\r\nSYNTAX invalid syntax\r\n", vec![server("SYNTAX invalid syntax")]),
            (b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
             vec![ok(arr(vec![b("first"), Reply::Int(1), b("second"), Reply::Int(2)]))]),
            (b"%0\r\n", vec![ok(arr(vec![]))]),
            (b"~2\r\n+a\r\n#t\r\n", vec![ok(arr(vec![b("a"), Reply::Int(1)]))]),
            (b">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n", vec![Frame::Push(vec![b("message"), b("ch"), b("hi")])]),
            (b">0\r\n", vec![Frame::Push(vec![])]),
            // An attribute before a reply is dropped; the reply follows.
            (b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.19\r\n$1\r\nb\r\n,0.54\r\n*2\r\n:2039123\r\n:9543892\r\n",
             vec![ok(arr(vec![Reply::Int(2039123), Reply::Int(9543892)]))]),
            // … and inside an aggregate it is not an element.
            (b"*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n", vec![ok(arr(vec![Reply::Int(1), Reply::Int(2)]))]),
            (b"|0\r\n:5\r\n", vec![ok(Reply::Int(5))]),
            // An error inside an array fails the whole reply, with the first error's text.
            (b"*3\r\n:1\r\n-ERR one\r\n-ERR two\r\n", vec![server("ERR one")]),
            (b"*1\r\n*1\r\n!3\r\nERR\r\n", vec![server("ERR")]),
            // A push whose element fails is dropped; the stream goes on.
            (b">2\r\n+a\r\n-ERR x\r\n:1\r\n", vec![ok(Reply::Int(1))]),
            // A push between replies answers nothing.
            (b":1\r\n>1\r\n+p\r\n:2\r\n", vec![ok(Reply::Int(1)), Frame::Push(vec![b("p")]), ok(Reply::Int(2))]),
            // A push nested in an array is just an array.
            (b"*1\r\n>1\r\n:1\r\n", vec![ok(arr(vec![arr(vec![Reply::Int(1)])]))]),
        ]
    }

    fn parse_in(
        parser: &mut Parser,
        chunks: &[&[u8]],
    ) -> Result<Vec<Frame>, (Vec<Frame>, RespError)> {
        let mut out = Vec::new();
        for chunk in chunks {
            if let Err(e) = parser.feed(chunk, &mut out) {
                return Err((out, e));
            }
        }
        Ok(out)
    }

    fn parse(chunks: &[&[u8]]) -> Result<Vec<Frame>, (Vec<Frame>, RespError)> {
        parse_in(&mut Parser::new(Limits::default()), chunks)
    }

    #[test]
    fn every_type() {
        for (bytes, want) in cases() {
            let mut parser = Parser::new(Limits::default());
            assert_eq!(
                parse_in(&mut parser, &[bytes]).unwrap(),
                want,
                "{}",
                snippet(bytes)
            );
            assert!(parser.is_between_frames());
        }
    }

    #[test]
    fn every_split_point() {
        for (bytes, want) in cases() {
            for at in 0..=bytes.len() {
                let (a, c) = bytes.split_at(at);
                assert_eq!(
                    parse(&[a, c]).unwrap(),
                    want,
                    "{} split at {at}",
                    snippet(bytes)
                );
                for at2 in at..=bytes.len() {
                    let (b2, c2) = c.split_at(at2 - at);
                    assert_eq!(parse(&[a, b2, c2]).unwrap(), want);
                }
            }
            let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(parse(&bytewise).unwrap(), want);
        }
    }

    #[test]
    fn many_replies_in_one_chunk_and_across_chunks() {
        let mut all = Vec::new();
        let mut want = Vec::new();
        for (bytes, frames) in cases() {
            all.extend_from_slice(bytes);
            want.extend(frames);
        }
        assert_eq!(parse(&[&all]).unwrap(), want);
        for size in [1, 2, 3, 7, 64, 1000] {
            let chunks: Vec<&[u8]> = all.chunks(size).collect();
            assert_eq!(parse(&chunks).unwrap(), want, "chunks of {size}");
        }
    }

    #[test]
    fn incomplete_replies_wait() {
        let mut parser = Parser::new(Limits::default());
        for part in [&b"*2\r"[..], b"\n$3\r\nab", b"c\r", b"\n:"] {
            assert_eq!(parse_in(&mut parser, &[part]).unwrap(), vec![]);
            assert!(!parser.is_between_frames());
        }
        assert_eq!(
            parse_in(&mut parser, &[b"1\r\n"]).unwrap(),
            vec![ok(arr(vec![b("abc"), Reply::Int(1)]))]
        );
        assert!(parser.is_between_frames());
    }

    #[test]
    fn a_bulk_over_the_limit_fails_its_reply_at_once_and_is_skipped() {
        let limits = Limits {
            max_bulk: 4,
            ..Limits::default()
        };
        let too_large = Frame::Reply(Err(RespError::TooLarge { size: 5, limit: 4 }));
        let mut parser = Parser::new(limits);
        // Reported as soon as the length is read, before the payload arrives.
        assert_eq!(
            parse_in(&mut parser, &[b"$5\r\n"]).unwrap(),
            vec![too_large.clone()]
        );
        assert_eq!(
            parse_in(&mut parser, &[b"hel", b"lo\r\n+OK\r\n"]).unwrap(),
            vec![ok(b("OK"))]
        );
        // Inside an array: the array fails once, its rest is read and dropped.
        let bytes = b"*3\r\n$5\r\nhello\r\n$9\r\n123456789\r\n:1\r\n$4\r\nfour\r\n";
        for at in 0..=bytes.len() {
            let (a, c) = bytes.split_at(at);
            let frames = parse_in(&mut Parser::new(limits), &[a, c]).unwrap();
            assert_eq!(frames, vec![too_large.clone(), ok(b("four"))]);
        }
        // The message names the limit.
        assert!(RespError::TooLarge { size: 5, limit: 4 }
            .to_string()
            .contains("limit of 4 bytes"));
        // Inside an attribute it fails nothing; inside a push it drops the push.
        assert_eq!(
            parse_in(
                &mut Parser::new(limits),
                &[b"|1\r\n$5\r\nhello\r\n$1\r\nx\r\n:1\r\n"]
            )
            .unwrap(),
            vec![ok(Reply::Int(1))]
        );
        assert_eq!(
            parse_in(&mut Parser::new(limits), &[b">1\r\n$5\r\nhello\r\n:1\r\n"]).unwrap(),
            vec![ok(Reply::Int(1))]
        );
        // Huge declared lengths allocate nothing, and are not waited for: the reply fails
        // at once, and the stream is abandoned rather than skipped for ever.
        let mut parser = Parser::new(Limits::default());
        let (frames, e) = parse_in(&mut parser, &[b"$9223372036854775807\r\nabc"]).unwrap_err();
        assert!(matches!(
            frames.as_slice(),
            [Frame::Reply(Err(RespError::TooLarge {
                size: 9223372036854775807,
                ..
            }))]
        ));
        assert!(
            matches!(&e, RespError::Closed(why) if why.contains("abandoned")),
            "{e}"
        );
        let (frames, _) =
            parse_in(&mut Parser::new(Limits::default()), &[b"$9999999999\r\n"]).unwrap_err();
        assert_eq!(frames.len(), 1);
    }

    #[test]
    fn a_reply_over_the_total_limit_fails_and_its_rest_is_skipped() {
        let limits = Limits {
            max_bulk: 10,
            max_reply: 40 + 3 * VALUE_COST,
            max_skip: 10_000,
            ..Limits::default()
        };
        let value = b"$10\r\n0123456789\r\n";
        let mut bytes = b"*130\r\n".to_vec();
        for _ in 0..130 {
            bytes.extend_from_slice(value);
        }
        bytes.extend_from_slice(b"+after\r\n");
        let want_err = |frames: &[Frame]| {
            matches!(
                frames,
                [Frame::Reply(Err(RespError::ReplyTooLarge { limit, .. })), after]
                    if *limit == 40 + 3 * VALUE_COST && *after == ok(b("after"))
            )
        };
        for size in [1, 7, 64, bytes.len()] {
            let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
            let mut parser = Parser::new(limits);
            let frames = parse_in(&mut parser, &chunks).unwrap();
            assert!(want_err(&frames), "{frames:?}");
            // Reported as soon as the limit is passed, before the rest arrives.
            let mut parser = Parser::new(limits);
            let cut = b"*130\r\n".len() + 4 * value.len();
            let frames = parse_in(&mut parser, &[&bytes[..cut]]).unwrap();
            assert_eq!(frames.len(), 1, "{frames:?}");
            // What was stored stays within the limit: nothing after the failure is kept.
            assert!(parser.stack.iter().all(|o| o.items.len() <= 3));
        }
        // Many tiny values count too (each costs its `Reply`).
        let limits = Limits {
            max_reply: 100 * VALUE_COST,
            ..Limits::default()
        };
        let mut bytes = b"*1000\r\n".to_vec();
        for _ in 0..1000 {
            bytes.extend_from_slice(b":1\r\n");
        }
        let frames = parse_in(&mut Parser::new(limits), &[&bytes]).unwrap();
        assert!(matches!(
            frames.as_slice(),
            [Frame::Reply(Err(RespError::ReplyTooLarge { .. }))]
        ));
        // A failed reply announcing more than `max_skip` is abandoned, not waited for.
        let limits = Limits {
            max_bulk: 10,
            max_reply: 1000,
            max_skip: 100,
            ..Limits::default()
        };
        let mut bytes = b"*130\r\n".to_vec();
        for _ in 0..130 {
            bytes.extend_from_slice(value);
        }
        let (frames, e) = parse_in(&mut Parser::new(limits), &[&bytes]).unwrap_err();
        assert!(matches!(
            frames.as_slice(),
            [Frame::Reply(Err(RespError::ReplyTooLarge { .. }))]
        ));
        assert!(matches!(e, RespError::Closed(_)), "{e}");
    }

    #[test]
    fn a_large_bulk_grows_to_its_length_not_past_it() {
        let mut parser = Parser::new(Limits::default());
        let mut out = Vec::new();
        let n = 3_000_000;
        parser
            .feed(format!("${n}\r\n").as_bytes(), &mut out)
            .unwrap();
        let chunk = vec![b'x'; 65_536];
        let mut sent = 0;
        while sent + chunk.len() < n {
            parser.feed(&chunk, &mut out).unwrap();
            sent += chunk.len();
        }
        let State::Bulk { data, .. } = &parser.state else {
            panic!("{:?}", parser.state)
        };
        assert!(data.capacity() <= n + 2, "{}", data.capacity());
        parser.feed(&vec![b'x'; n - sent], &mut out).unwrap();
        parser.feed(b"\r\n", &mut out).unwrap();
        assert!(matches!(out.as_slice(), [Frame::Reply(Ok(Reply::Bytes(v)))] if v.len() == n));
    }

    #[test]
    fn declared_lengths_allocate_nothing_up_front() {
        let mut parser = Parser::new(Limits::default());
        let mut out = Vec::new();
        parser.feed(b"$60000000\r\nab", &mut out).unwrap();
        let State::Bulk { data, .. } = &parser.state else {
            panic!("{:?}", parser.state)
        };
        assert!(data.capacity() <= 4096, "{}", data.capacity());
        let mut parser = Parser::new(Limits::default());
        parser.feed(b"*16000000\r\n:1\r\n", &mut out).unwrap();
        assert!(parser.stack[0].items.capacity() <= 16);
    }

    #[test]
    fn limits_on_depth_length_and_lines() {
        let limits = Limits {
            max_depth: 3,
            max_len: 4,
            max_line: 10,
            ..Limits::default()
        };
        let p = |bytes: &[u8]| parse_in(&mut Parser::new(limits), &[bytes]);
        assert!(p(b"*1\r\n*1\r\n*1\r\n:1\r\n").is_ok());
        let (_, e) = p(b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n").unwrap_err();
        assert!(e.to_string().contains("deeper than 3"), "{e}");
        assert!(p(b"*4\r\n").is_ok());
        let (_, e) = p(b"*5\r\n").unwrap_err();
        assert!(e.to_string().contains("over the limit of 4"), "{e}");
        let (_, e) = p(b"%3\r\n").unwrap_err();
        assert!(e.to_string().contains("3 elements"), "{e}");
        assert!(p(b"+0123456789\r\n").is_ok());
        let (_, e) = p(b"+0123456789ab").unwrap_err();
        assert!(e.to_string().contains("longer than 10"), "{e}");
        let (_, e) = parse_in(&mut Parser::new(limits), &[b"+012345", b"6789ab\r\n"]).unwrap_err();
        assert!(e.to_string().contains("longer than 10"), "{e}");
        // Default depth: a deep tree is refused, not a stack overflow.
        let deep = b"*1\r\n".repeat(100_000);
        assert!(parse(&[&deep]).is_err());
    }

    #[test]
    fn malformed_replies_are_protocol_errors_and_stay_broken() {
        for bad in [
            &b"HTTP/1.1 400 Bad Request\r\n"[..],
            b"\x15\x03\x03\x00\x02\x02\x46",
            b"+OK\n",
            b":12a\r\n",
            b":\r\n",
            b":99999999999999999999\r\n",
            b"$-2\r\n",
            b"$x\r\n",
            b"$?\r\n",
            b"*?\r\n",
            b"%-1\r\n",
            b"$3\r\nabcd\r\n",
            b"$3\r\nabc\rx",
            b"=3\r\ntxt\r\n",
            b"#x\r\n",
            b"_x\r\n",
            b",\r\n",
            b",1 2\r\n",
            b"(12a\r\n",
            b"\r\n",
        ] {
            let mut parser = Parser::new(Limits::default());
            let (frames, e) = parse_in(&mut parser, &[bad]).unwrap_err();
            assert!(frames.is_empty());
            assert!(
                matches!(e, RespError::Protocol(_)),
                "{}: {e:?}",
                snippet(bad)
            );
            assert_eq!(parser.broken(), Some(&e));
            assert_eq!(parse_in(&mut parser, &[b"+OK\r\n"]).unwrap_err().1, e);
        }
    }

    #[test]
    fn a_non_redis_peer_is_named_on_its_first_byte() {
        let (_, e) =
            parse(&[b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("does not speak RESP"), "{text}");
        assert!(
            text.contains("HTTP/1.1 400 Bad Request\\r\\nContent-Length\""),
            "{text}"
        );
        // Known at the first byte: no waiting for a line end that may never come.
        let (_, e) = parse(&[b"S"]).unwrap_err();
        assert!(e.to_string().contains("\"S\""), "{e}");
        let (_, e) = parse(&[b"+OK\r\n", b"\x16\x03"]).unwrap_err();
        assert!(e.to_string().contains("\\x16\\x03"), "{e}");
    }

    #[test]
    fn frames_before_an_error_are_kept() {
        let (frames, _) = parse(&[b":1\r\n+OK\r\n?"]).unwrap_err();
        assert_eq!(frames, vec![ok(Reply::Int(1)), ok(b("OK"))]);
    }

    /// Frames, held values put back together (by id), and the last feed's outcome.
    type HeldFeed = (Vec<Frame>, Vec<(u64, Vec<u8>)>, Result<(), RespError>);

    /// Feeds `bytes` cut at `cut` with `hold`, and puts the held ranges back together.
    fn feed_held(
        mut p: Parser,
        bytes: &[u8],
        cut: usize,
        hold: &dyn Fn(usize) -> bool,
    ) -> HeldFeed {
        let mut frames = Vec::new();
        let mut held: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut result = Ok(());
        for chunk in [&bytes[..cut], &bytes[cut..]] {
            let mut ranges = Vec::new();
            let before = frames
                .iter()
                .filter(|f| matches!(f, Frame::Reply(_)))
                .count();
            let shifted = |n: usize| hold(n + before);
            let mut out = Vec::new();
            result = p.feed_holding(chunk, &mut out, &shifted, &mut ranges);
            frames.extend(out);
            for r in ranges {
                assert!(r.start < r.end && r.end <= chunk.len(), "{r:?}");
                match held.iter_mut().find(|(id, _)| *id == r.id) {
                    Some((_, b)) => b.extend_from_slice(&chunk[r.start..r.end]),
                    None => held.push((r.id, chunk[r.start..r.end].to_vec())),
                }
            }
            if result.is_err() {
                break;
            }
        }
        (frames, held, result)
    }

    fn held(id: u64, len: usize) -> Frame {
        ok(Reply::Held(Box::new(Held {
            id,
            len,
            bytes: None,
        })))
    }

    #[test]
    fn a_large_top_level_bulk_string_is_held_when_its_command_asks() {
        let bytes = b"$5\r\nhe\r\nl\r\n$2\r\nhi\r\n$6\r\nworld!\r\n*1\r\n$5\r\nnest!\r\n";
        for cut in 0..=bytes.len() {
            let p = Parser::new(Limits::default()).with_hold_min(4);
            let (frames, kept, result) = feed_held(p, bytes, cut, &|_| true);
            assert_eq!(result, Ok(()), "cut at {cut}");
            assert_eq!(
                frames,
                vec![
                    held(0, 5),
                    ok(b("hi")),
                    held(1, 6),
                    ok(arr(vec![b("nest!")]))
                ],
                "cut at {cut}"
            );
            assert_eq!(
                kept,
                vec![(0, b"he\r\nl".to_vec()), (1, b"world!".to_vec())],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn only_the_replies_whose_command_asks_are_held() {
        let bytes = b"+OK\r\n>2\r\n+message\r\n+x\r\n$5\r\nhello\r\n$5\r\nworld\r\n";
        for cut in 0..=bytes.len() {
            let p = Parser::new(Limits::default()).with_hold_min(4);
            // The second reply (the push counts for nothing) is held, the third is not.
            let (frames, kept, result) = feed_held(p, bytes, cut, &|n| n == 1);
            assert_eq!(result, Ok(()));
            assert_eq!(
                frames,
                vec![
                    ok(b("OK")),
                    Frame::Push(vec![b("message"), b("x")]),
                    held(0, 5),
                    ok(b("world"))
                ],
                "cut at {cut}"
            );
            assert_eq!(kept, vec![(0, b"hello".to_vec())]);
        }
        // `feed` holds nothing, and verbatim strings and errors are never held.
        let mut p = Parser::new(Limits::default()).with_hold_min(1);
        let mut out = Vec::new();
        p.feed(b"$5\r\nhello\r\n", &mut out).unwrap();
        let mut ranges = Vec::new();
        p.feed_holding(
            b"=9\r\ntxt:hello\r\n!3\r\nERR\r\n",
            &mut out,
            &|_| true,
            &mut ranges,
        )
        .unwrap();
        assert_eq!(out, vec![ok(b("hello")), ok(b("hello")), server("ERR")]);
        assert!(ranges.is_empty());
    }

    #[test]
    fn a_held_string_keeps_every_check() {
        let hold = |_: usize| true;
        // Not followed by CRLF: a protocol error, whatever the chunking.
        let bytes = b"$5\r\nhelloXY";
        for cut in 0..=bytes.len() {
            let p = Parser::new(Limits::default()).with_hold_min(4);
            let (_, _, result) = feed_held(p, bytes, cut, &hold);
            assert!(
                matches!(&result, Err(RespError::Protocol(m)) if m.contains("CRLF")),
                "{result:?}"
            );
        }
        // Over `max_bulk`: fails its command at once and is skipped, never held.
        let limits = Limits {
            max_bulk: 5,
            ..Limits::default()
        };
        let p = Parser::new(limits).with_hold_min(4);
        let (frames, kept, result) = feed_held(p, b"$6\r\nworld!\r\n$5\r\nhello\r\n", 3, &hold);
        assert_eq!(result, Ok(()));
        assert_eq!(
            frames,
            vec![
                Frame::Reply(Err(RespError::TooLarge { size: 6, limit: 5 })),
                held(0, 5)
            ]
        );
        assert_eq!(kept, vec![(0, b"hello".to_vec())]);
        // Over `max_reply` with its `Reply`: the same.
        let limits = Limits {
            max_reply: 5 + VALUE_COST - 1,
            ..Limits::default()
        };
        let p = Parser::new(limits).with_hold_min(4);
        let (frames, kept, _) = feed_held(p, b"$5\r\nhello\r\n", 0, &hold);
        assert!(
            matches!(
                frames.as_slice(),
                [Frame::Reply(Err(RespError::ReplyTooLarge { .. }))]
            ),
            "{frames:?}"
        );
        assert!(kept.is_empty());
        // Cut off in the middle: not between frames.
        let mut p = Parser::new(Limits::default()).with_hold_min(4);
        let mut ranges = Vec::new();
        p.feed_holding(b"$5\r\nhel", &mut Vec::new(), &hold, &mut ranges)
            .unwrap();
        assert!(!p.is_between_frames());
    }
}
