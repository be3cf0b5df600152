//! `connectRedis`'s client: the sans-IO [`crate::resp::Connection`] run over a socket the
//! host hands in, so Node and Cloudflare Workers reach Redis with nothing but the package.
//!
//! The host entry (`pkg/src/node.js`, `workerd.js`) passes its `openSocket` (node:net/tls or
//! `cloudflare:sockets`, both behind the interface documented in `pkg/src/net/socket_node.js`);
//! this driver is the loop of `resp/mod.rs`: it writes what the connection says, feeds it
//! every chunk, settles commands as they complete and keeps one timer (on the shared timer
//! queue) armed at [`Connection::next_deadline`].
//!
//! - **Writes** made in one turn of the event loop go out as one socket write (a microtask
//!   flushes them), as node-redis does: 64 concurrent callers cost one syscall, not 64.
//! - **Replies** never cross into JS on their way to a store: `RedisBackend` and
//!   `RedisBroker` recognise this client ([`lookup`]) and call it directly.
//! - **Failure.** Whatever ends a connection (the server gone, a cut reply, bytes that are
//!   not RESP, a deadline) fails every command on it with the cause, and the next command
//!   opens a new connection: a long-lived Node process recovers by itself, and a Worker,
//!   which connects per request anyway, never sees the difference. After [`SocketRedis::close`]
//!   every command fails: closing is the caller's decision.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use super::adapter::error_text;
use super::timer::JsTimer;
use crate::resp::command::{Piece, DIRECT_MIN_BYTES};
use crate::resp::parser::HeldRange;
use crate::resp::{
    Arg, ConnectOptions, Connection, Limits, Phase, Progress, Reply, RequestId, RespError,
};
use crate::results::store::HostBytes;
use crate::wait::timer::Timer;

#[wasm_bindgen]
extern "C" {
    /// A connected socket, as the host's `openSocket` makes it.
    pub type HostSocket;
    #[wasm_bindgen(method, catch)]
    fn write(this: &HostSocket, bytes: &js_sys::Uint8Array) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = onData)]
    fn on_data(this: &HostSocket, callback: &js_sys::Function) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = onClose)]
    fn on_close(this: &HostSocket, callback: &js_sys::Function) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &HostSocket) -> Result<js_sys::Promise, JsValue>;
    /// Node's only: lets the process exit while the socket is open.
    #[wasm_bindgen(method, catch)]
    fn unref(this: &HostSocket) -> Result<(), JsValue>;

    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(callback: &js_sys::Function);
}

#[wasm_bindgen(module = "/src/bindings/drivers/redis.js")]
extern "C" {
    /// A new buffer, or `None` when the host cannot allocate it.
    #[wasm_bindgen(js_name = newBytes)]
    fn new_bytes(n: f64) -> Option<js_sys::Uint8Array>;
}

/// How to connect, once read from the URL and the options.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where and as whom.
    pub options: ConnectOptions,
    /// What a reply may hold (`max_bulk` is the `maxValueBytes` option).
    pub limits: Limits,
    /// How long a command may wait for its reply (a blocking one: its own timeout plus
    /// this); `None`: as long as the connection lives.
    pub command_timeout_ms: Option<f64>,
    /// Extra options for the host's TLS connect (Node's `tls.connect`: `ca`, `rejectUnauthorized`…).
    pub tls_options: JsValue,
}

/// A one-shot value and the task waiting for it.
struct Slot<T> {
    value: RefCell<Option<T>>,
    waker: RefCell<Option<Waker>>,
}

impl<T> Slot<T> {
    fn new() -> Rc<Self> {
        Rc::new(Slot {
            value: RefCell::new(None),
            waker: RefCell::new(None),
        })
    }

    fn set(&self, value: T) {
        *self.value.borrow_mut() = Some(value);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    fn is_set(&self) -> bool {
        self.value.borrow().is_some()
    }
}

/// The future of a [`Slot`]'s value.
struct Receive<T>(Rc<Slot<T>>);

impl<T> Future for Receive<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if let Some(value) = self.0.value.borrow_mut().take() {
            return Poll::Ready(value);
        }
        *self.0.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A sleep that can be called off: resolves `true` when it ran out, `false` when cancelled
/// (the sleep is dropped then, so the shared host timer is freed at once).
struct Cancellable<S> {
    sleep: Pin<Box<S>>,
    cancel: Rc<Slot<()>>,
}

impl<S: Future> Future for Cancellable<S> {
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        if self.cancel.is_set() {
            return Poll::Ready(false);
        }
        *self.cancel.waker.borrow_mut() = Some(cx.waker().clone());
        self.sleep.as_mut().poll(cx).map(|_| true)
    }
}

/// A large value's bytes as they arrive, in JS memory (see `Parser::feed_holding`): copies
/// of the socket's chunks until a quarter of the declared length arrived, then one buffer
/// of the whole length (as the parser grows its own buffers: a peer must send bytes to make
/// us hold four times as many).
struct Collecting {
    id: u64,
    len: usize,
    filled: usize,
    pieces: Vec<js_sys::Uint8Array>,
    whole: Option<js_sys::Uint8Array>,
    /// The host could not allocate the buffer: the rest is dropped, the command fails.
    failed: bool,
}

impl Collecting {
    fn append(&mut self, piece: &js_sys::Uint8Array) {
        if self.failed {
            return;
        }
        let n = piece.length() as usize;
        let room = self.len.saturating_sub(self.filled).min(n);
        let piece = if room < n {
            piece.subarray(0, room as u32)
        } else {
            piece.clone()
        };
        if self.whole.is_none() && self.filled + room >= self.len / 4 && !self.gather() {
            return;
        }
        match &self.whole {
            Some(whole) => whole.set(&piece, self.filled as u32),
            // A copy: the host may reuse its chunk's memory once the callback returns.
            None => self.pieces.push(piece.slice(0, room as u32)),
        }
        self.filled += room;
    }

    /// Moves the pieces into one buffer of the whole length; `false` (and failed) when the
    /// host cannot allocate it.
    fn gather(&mut self) -> bool {
        let whole = u32::try_from(self.len)
            .ok()
            .and_then(|n| new_bytes(f64::from(n)));
        let Some(whole) = whole else {
            self.failed = true;
            self.pieces = Vec::new();
            return false;
        };
        let mut at = 0u32;
        for p in self.pieces.drain(..) {
            whole.set(&p, at);
            at += p.length();
        }
        self.whole = Some(whole);
        true
    }

    /// The bytes, once all arrived; `Err` with why not.
    fn finish(mut self) -> Result<js_sys::Uint8Array, RespError> {
        if self.whole.is_none() && !self.failed {
            // Only a value under four bytes takes this path (see `append`).
            self.gather();
        }
        match self.whole {
            Some(whole) if !self.failed && self.filled == self.len => Ok(whole),
            _ if self.failed => Err(RespError::NoMemory { size: self.len }),
            _ => Err(RespError::Protocol(format!(
                "the {} bytes of a large value did not all reach the driver",
                self.len
            ))),
        }
    }
}

/// The core's [`Arg`]s as the bytes the connection writes.
fn raw_args<'a>(argv: &[Arg<'a>]) -> Vec<&'a [u8]> {
    argv.iter()
        .map(|a| match a {
            Arg::Text(t) => t.as_bytes(),
            Arg::Bytes(b) => *b,
        })
        .collect()
}

/// A held value's bytes, in JS memory.
pub struct JsHeld(pub js_sys::Uint8Array);

impl HostBytes for JsHeld {
    fn len(&self) -> usize {
        self.0.length() as usize
    }

    fn copy_into(&self, offset: usize, out: &mut [u8]) {
        let len = self.len();
        let start = offset.min(len);
        let end = offset.saturating_add(out.len()).min(len);
        if let Some(out) = out.get_mut(..end - start) {
            self.0.subarray(start as u32, end as u32).copy_to(out);
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The JS buffer behind host bytes this driver collected, if they are.
pub fn js_held(bytes: &dyn HostBytes) -> Option<&js_sys::Uint8Array> {
    bytes.as_any().downcast_ref::<JsHeld>().map(|h| &h.0)
}

/// The JS callback one socket holds (it holds the link weakly); the socket calls it only
/// while open, and its close callback keeps the link alive until then.
struct Callbacks {
    data: Closure<dyn FnMut(JsValue)>,
}

/// The links with bytes to write at the next microtask, and the one callback that writes
/// them: shared, so no microtask ever calls a closure a dropped link owned.
struct Flusher {
    links: RefCell<Vec<Weak<Link>>>,
    scheduled: Cell<bool>,
    callback: Closure<dyn FnMut()>,
}

thread_local! {
    static FLUSHER: Flusher = Flusher {
        links: RefCell::new(Vec::new()),
        scheduled: Cell::new(false),
        callback: Closure::new(|| {
            let links = FLUSHER.with(|f| {
                f.scheduled.set(false);
                std::mem::take(&mut *f.links.borrow_mut())
            });
            for link in links.iter().filter_map(Weak::upgrade) {
                link.flush();
            }
        }),
    };

    /// The rejection handler of every write: a failed write needs no handling of its own,
    /// since the socket then closes and `onClose` says why. Shared, and owned by no link, so
    /// a late rejection never calls a dropped closure.
    static IGNORE: Closure<dyn FnMut(JsValue)> = Closure::new(|_: JsValue| {});
}

type Answer = Result<Reply, RespError>;
/// Who waits for a handshake, and how it ended.
type ReadySlot = Rc<Slot<Result<(), RespError>>>;

/// One socket's life: its connection state machine, what waits on it, its timer.
struct Link {
    conn: RefCell<Connection>,
    socket: RefCell<Option<HostSocket>>,
    /// Bytes to write at the next flush (or once the socket opens).
    out: RefCell<Vec<u8>>,
    /// Bytes already copied to JS, written before `out` at the next flush: a command with a
    /// large argument, and whatever was in `out` before it (so the order holds).
    staged: RefCell<Vec<js_sys::Uint8Array>>,
    flush_scheduled: Cell<bool>,
    /// Who waits for which command, in submission order (replies come in that order).
    waiters: RefCell<VecDeque<(RequestId, Rc<Slot<Answer>>)>>,
    /// Who waits for the handshake.
    ready: RefCell<Vec<ReadySlot>>,
    /// The deadline the timer is armed for, and how to call it off.
    alarm: RefCell<Option<(f64, Rc<Slot<()>>)>>,
    /// The socket's close, once asked for.
    closing: RefCell<Option<js_sys::Promise>>,
    /// Large values arriving outside wasm memory (at most one at a time but for a
    /// handful of bytes of overlap, since only a top-level reply is held).
    collecting: RefCell<Vec<Collecting>>,
    callbacks: Callbacks,
}

impl Link {
    /// Starts connecting: the handshake is queued at once, the socket opens in the
    /// background, and commands submitted meanwhile are held by the connection.
    fn open(
        open_socket: &js_sys::Function,
        settings: &Settings,
        unref: Rc<Cell<bool>>,
    ) -> Rc<Link> {
        let mut conn = Connection::new(settings.options.clone(), settings.limits, JsTimer.now_ms());
        let first = conn.start();
        let link = Rc::new_cyclic(|weak: &Weak<Link>| {
            let data = {
                let weak = weak.clone();
                Closure::new(move |chunk: JsValue| {
                    if let Some(link) = weak.upgrade() {
                        link.on_chunk(&chunk);
                    }
                })
            };
            Link {
                conn: RefCell::new(conn),
                socket: RefCell::new(None),
                out: RefCell::new(first),
                staged: RefCell::new(Vec::new()),
                flush_scheduled: Cell::new(false),
                waiters: RefCell::new(VecDeque::new()),
                ready: RefCell::new(Vec::new()),
                alarm: RefCell::new(None),
                closing: RefCell::new(None),
                collecting: RefCell::new(Vec::new()),
                callbacks: Callbacks { data },
            }
        });

        let request = socket_request(settings);
        let opened = open_socket
            .call1(&JsValue::UNDEFINED, &request)
            .map(|p| js_sys::Promise::resolve(&p))
            .unwrap_or_else(|e| js_sys::Promise::reject(&e));
        let pending = link.clone();
        spawn_local(async move {
            match JsFuture::from(opened).await {
                Ok(socket) => pending.attach(socket.unchecked_into(), unref.get()),
                Err(error) => {
                    let cause = RespError::Closed(error_text(&error));
                    let progress = pending.conn.borrow_mut().fail_all(cause);
                    pending.apply(progress);
                }
            }
        });
        link.rearm();
        link
    }

    /// The socket is open: listen to it and write what waits.
    fn attach(self: &Rc<Self>, socket: HostSocket, unref: bool) {
        if matches!(self.conn.borrow().phase(), Phase::Closed(_)) {
            // The connect timed out or the caller closed meanwhile.
            if let Ok(done) = socket.close() {
                *self.closing.borrow_mut() = Some(done);
            }
            return;
        }
        let holder = self.clone();
        // Called once; holds the link (and so its callbacks) until the socket is gone.
        let on_close = Closure::once_into_js(move |error: JsValue| {
            let why = (!error.is_null() && !error.is_undefined()).then(|| error_text(&error));
            let progress = holder.conn.borrow_mut().socket_closed(why.as_deref());
            holder.apply(progress);
            holder.socket.borrow_mut().take();
        });
        let listened = socket
            .on_data(self.callbacks.data.as_ref().unchecked_ref())
            .and_then(|()| socket.on_close(on_close.unchecked_ref()));
        if unref {
            unref_socket(&socket);
        }
        *self.socket.borrow_mut() = Some(socket);
        if let Err(error) = listened {
            let text = error_text(&error);
            let progress = self.conn.borrow_mut().socket_closed(Some(&text));
            return self.apply(progress);
        }
        self.schedule_flush();
    }

    fn on_chunk(self: &Rc<Self>, chunk: &JsValue) {
        let Some(bytes) = chunk.dyn_ref::<js_sys::Uint8Array>() else {
            let progress = self
                .conn
                .borrow_mut()
                .socket_closed(Some("the socket delivered something that is not bytes"));
            return self.apply(progress);
        };
        let progress = self.conn.borrow_mut().feed(&bytes.to_vec());
        if !progress.held.is_empty() {
            self.collect(bytes, &progress.held);
        }
        self.apply(progress);
    }

    /// Appends the held values' bytes of `chunk` to their buffers.
    fn collect(&self, chunk: &js_sys::Uint8Array, ranges: &[HeldRange]) {
        let mut collecting = self.collecting.borrow_mut();
        for r in ranges {
            let piece = chunk.subarray(r.start as u32, r.end as u32);
            if let Some(c) = collecting.iter_mut().find(|c| c.id == r.id) {
                c.append(&piece);
                continue;
            }
            let mut c = Collecting {
                id: r.id,
                len: r.len,
                filled: 0,
                pieces: Vec::new(),
                whole: None,
                failed: false,
            };
            c.append(&piece);
            collecting.push(c);
        }
    }

    /// A held reply with its bytes attached (an error if they did not all arrive, which
    /// the parser's framing makes impossible).
    fn attach_held(&self, result: Answer) -> Answer {
        let Ok(Reply::Held(mut held)) = result else {
            return result;
        };
        let collected = {
            let mut collecting = self.collecting.borrow_mut();
            let at = collecting.iter().position(|c| c.id == held.id);
            at.map(|i| collecting.remove(i))
        };
        // A held value of 0 bytes never has a range (the parser holds none that small).
        let bytes = collected.map_or_else(
            || {
                Err(RespError::Protocol(format!(
                    "the {} bytes of a large value never arrived",
                    held.len
                )))
            },
            Collecting::finish,
        );
        match bytes {
            Ok(bytes) => {
                held.bytes = Some(Rc::new(JsHeld(bytes)));
                Ok(Reply::Held(held))
            }
            // Only this command fails: the stream's framing is intact.
            Err(why) => Err(why),
        }
    }

    /// Queues `argv`; its answer lands in the returned slot.
    fn submit(
        self: &Rc<Self>,
        argv: &[&[u8]],
        timeout_ms: Option<f64>,
        hold: bool,
    ) -> Result<Rc<Slot<Answer>>, RespError> {
        if argv.iter().any(|a| a.len() >= DIRECT_MIN_BYTES) {
            return self.submit_large(argv, timeout_ms, hold);
        }
        let (id, bytes) = if hold {
            self.conn
                .borrow_mut()
                .submit_value(argv, JsTimer.now_ms(), timeout_ms)?
        } else {
            self.conn
                .borrow_mut()
                .submit(argv, JsTimer.now_ms(), timeout_ms)?
        };
        let slot = Slot::new();
        self.waiters.borrow_mut().push_back((id, slot.clone()));
        if !bytes.is_empty() {
            self.out.borrow_mut().extend_from_slice(&bytes);
            self.schedule_flush();
        }
        if timeout_ms.is_some() {
            self.rearm();
        }
        Ok(slot)
    }

    /// [`Link::submit`] for a command with a large argument (a stored value): the argument
    /// is copied to JS once, straight from where it is, instead of into the command's bytes
    /// and then `out` (two more buffers of its size in wasm memory, which never shrinks).
    fn submit_large(
        self: &Rc<Self>,
        argv: &[&[u8]],
        timeout_ms: Option<f64>,
        hold: bool,
    ) -> Result<Rc<Slot<Answer>>, RespError> {
        self.submit_pieces(argv, timeout_ms, hold, None)
    }

    /// [`Link::submit`] with argument `at` the bytes of `host` (its entry in `argv` is not
    /// read), written from JS memory as they are. Before the handshake is done they are
    /// copied in and the command is held as any other.
    fn submit_host(
        self: &Rc<Self>,
        argv: &[&[u8]],
        timeout_ms: Option<f64>,
        at: usize,
        host: &js_sys::Uint8Array,
    ) -> Result<Rc<Slot<Answer>>, RespError> {
        if !self.conn.borrow().is_ready() {
            let bytes = host.to_vec();
            let argv: Vec<&[u8]> = argv
                .iter()
                .enumerate()
                .map(|(i, a)| if i == at { bytes.as_slice() } else { *a })
                .collect();
            return self.submit(&argv, timeout_ms, false);
        }
        self.submit_pieces(argv, timeout_ms, false, Some((at, host)))
    }

    fn submit_pieces(
        self: &Rc<Self>,
        argv: &[&[u8]],
        timeout_ms: Option<f64>,
        hold: bool,
        host: Option<(usize, &js_sys::Uint8Array)>,
    ) -> Result<Rc<Slot<Answer>>, RespError> {
        let external = host.map(|(at, bytes)| (at, bytes.length() as usize));
        let (id, pieces) = self.conn.borrow_mut().submit_pieces(
            argv,
            JsTimer.now_ms(),
            timeout_ms,
            hold,
            DIRECT_MIN_BYTES,
            external,
        )?;
        let slot = Slot::new();
        self.waiters.borrow_mut().push_back((id, slot.clone()));
        {
            let mut staged = self.staged.borrow_mut();
            let out = std::mem::take(&mut *self.out.borrow_mut());
            if !out.is_empty() {
                staged.push(js_sys::Uint8Array::from(out.as_slice()));
            }
            for piece in pieces {
                let bytes = match &piece {
                    Piece::Arg(n) => match host {
                        Some((at, bytes)) if at == *n => {
                            staged.push(bytes.clone());
                            continue;
                        }
                        _ => argv.get(*n).copied().unwrap_or_default(),
                    },
                    Piece::Bytes(b) => b.as_slice(),
                };
                if !bytes.is_empty() {
                    staged.push(js_sys::Uint8Array::from(bytes));
                }
            }
        }
        self.schedule_flush();
        if timeout_ms.is_some() {
            self.rearm();
        }
        Ok(slot)
    }

    fn schedule_flush(self: &Rc<Self>) {
        if self.flush_scheduled.get() || self.socket.borrow().is_none() {
            return;
        }
        self.flush_scheduled.set(true);
        FLUSHER.with(|f| {
            f.links.borrow_mut().push(Rc::downgrade(self));
            if !f.scheduled.replace(true) {
                queue_microtask(f.callback.as_ref().unchecked_ref());
            }
        });
    }

    fn flush(self: &Rc<Self>) {
        self.flush_scheduled.set(false);
        let bytes = std::mem::take(&mut *self.out.borrow_mut());
        let mut pieces = std::mem::take(&mut *self.staged.borrow_mut());
        if !bytes.is_empty() {
            pieces.push(js_sys::Uint8Array::from(bytes.as_slice()));
        }
        if pieces.is_empty() {
            return;
        }
        // In order: the host writes a socket's writes in the order made.
        for piece in &pieces {
            let written = match self.socket.borrow().as_ref() {
                Some(socket) => socket.write(piece),
                None => return,
            };
            match written {
                Ok(promise) => IGNORE.with(|ignore| {
                    let _ = promise.catch(ignore);
                }),
                Err(error) => {
                    // The shims never throw; a socket that does cannot be written to.
                    let text = error_text(&error);
                    let progress = self.conn.borrow_mut().socket_closed(Some(&text));
                    return self.apply(progress);
                }
            }
        }
    }

    /// Does what a call on the connection asked: write, settle, close.
    fn apply(self: &Rc<Self>, progress: Progress) {
        if !progress.write.is_empty() {
            self.out.borrow_mut().extend_from_slice(&progress.write);
            self.schedule_flush();
        }
        if !progress.completed.is_empty() {
            let mut waiters = self.waiters.borrow_mut();
            for done in progress.completed {
                // In order, so almost always the first; a linear search otherwise.
                let at = match waiters.front() {
                    Some((id, _)) if *id == done.id => Some(0),
                    _ => waiters.iter().position(|(id, _)| *id == done.id),
                };
                if let Some((_, slot)) = at.and_then(|i| waiters.remove(i)) {
                    slot.set(self.attach_held(done.result));
                }
            }
        }
        if progress.ready {
            for slot in self.ready.borrow_mut().drain(..) {
                slot.set(Ok(()));
            }
        }
        if let Some(cause) = progress.closed {
            self.collecting.borrow_mut().clear();
            self.staged.borrow_mut().clear();
            for slot in self.ready.borrow_mut().drain(..) {
                slot.set(Err(cause.clone()));
            }
            self.out.borrow_mut().clear();
            let socket = self.socket.borrow_mut().take();
            if let Some(socket) = socket {
                if let Ok(done) = socket.close() {
                    *self.closing.borrow_mut() = Some(done);
                }
            }
        }
        self.rearm();
    }

    /// Keeps the one timer armed at the connection's next deadline.
    fn rearm(self: &Rc<Self>) {
        let next = self.conn.borrow().next_deadline();
        let mut alarm = self.alarm.borrow_mut();
        if alarm.as_ref().map(|(at, _)| *at) == next {
            return;
        }
        if let Some((_, cancel)) = alarm.take() {
            cancel.set(());
        }
        let Some(at) = next else {
            return;
        };
        let cancel = Slot::new();
        *alarm = Some((at, cancel.clone()));
        let sleep = Cancellable {
            sleep: Box::pin(JsTimer.sleep_ms(at - JsTimer.now_ms())),
            cancel: cancel.clone(),
        };
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            if !sleep.await {
                return;
            }
            let Some(link) = weak.upgrade() else {
                return;
            };
            {
                let mut alarm = link.alarm.borrow_mut();
                if alarm.as_ref().is_some_and(|(_, c)| Rc::ptr_eq(c, &cancel)) {
                    *alarm = None;
                }
            }
            let progress = link.conn.borrow_mut().expire(JsTimer.now_ms());
            link.apply(progress);
        });
    }

    fn is_closed(&self) -> bool {
        matches!(self.conn.borrow().phase(), Phase::Closed(_))
    }
}

/// `socket.unref()` where the host has it (Node); a no-op elsewhere.
fn unref_socket(socket: &HostSocket) {
    let has =
        js_sys::Reflect::get(socket, &JsValue::from_str("unref")).is_ok_and(|f| f.is_function());
    if has {
        let _ = socket.unref();
    }
}

/// What `openSocket` is given.
fn socket_request(settings: &Settings) -> JsValue {
    let o = &settings.options;
    let request = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&request, &JsValue::from_str(k), &v);
    };
    set("host", JsValue::from_str(&o.host));
    set("port", JsValue::from(o.port));
    set("tls", JsValue::from(o.tls));
    if let Some(name) = o.servername() {
        set("servername", JsValue::from_str(name));
    }
    if let Some(ms) = o.connect_timeout_ms {
        set("connectTimeoutMs", JsValue::from(ms as f64));
    }
    if !settings.tls_options.is_undefined() && !settings.tls_options.is_null() {
        set("tlsOptions", settings.tls_options.clone());
    }
    request.into()
}

struct Client {
    open_socket: js_sys::Function,
    settings: Settings,
    link: RefCell<Option<Rc<Link>>>,
    /// Set by [`SocketRedis::close`]: no reconnecting after that.
    closed: Cell<bool>,
    /// Set by [`SocketRedis::unref`]: every socket, present and future, is unref'd.
    unref: Rc<Cell<bool>>,
}

/// A Redis client over the host's sockets. Cheap to clone (one client, shared).
#[derive(Clone)]
pub struct SocketRedis(Rc<Client>);

impl SocketRedis {
    /// Connects and completes the handshake (`AUTH`, `SELECT`, `PING`…), or fails with why.
    pub async fn connect(
        open_socket: js_sys::Function,
        settings: Settings,
    ) -> Result<SocketRedis, RespError> {
        let client = SocketRedis(Rc::new(Client {
            open_socket,
            settings,
            link: RefCell::new(None),
            closed: Cell::new(false),
            unref: Rc::new(Cell::new(false)),
        }));
        let link = client.link()?;
        let ready = Slot::new();
        link.ready.borrow_mut().push(ready.clone());
        if let Err(cause) = Receive(ready).await {
            client.0.closed.set(true);
            client.0.link.borrow_mut().take();
            return Err(cause);
        }
        Ok(client)
    }

    /// A new client with the same settings (a dedicated blocking connection, say).
    pub async fn duplicate(&self) -> Result<SocketRedis, RespError> {
        SocketRedis::connect(self.0.open_socket.clone(), self.0.settings.clone()).await
    }

    /// The settings it connects with.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The live connection, or a new one when the last one failed.
    fn link(&self) -> Result<Rc<Link>, RespError> {
        if self.0.closed.get() {
            return Err(RespError::Closed(
                "closed by the client (client.close()); connect again with connectRedis".into(),
            ));
        }
        let mut current = self.0.link.borrow_mut();
        if let Some(link) = current.as_ref().filter(|l| !l.is_closed()) {
            return Ok(link.clone());
        }
        let link = Link::open(&self.0.open_socket, &self.0.settings, self.0.unref.clone());
        *current = Some(link.clone());
        Ok(link)
    }

    /// Sends `argv` (command name first) and waits for its reply. `extra_ms` is added to
    /// the command timeout (a blocking command's own wait).
    pub async fn send(&self, argv: &[&[u8]], extra_ms: Option<f64>) -> Answer {
        self.send_with(argv, extra_ms, false).await
    }

    /// [`SocketRedis::send`], where a reply that is one large bulk string stays in JS
    /// memory ([`Reply::Held`] with its bytes attached) when `hold` says so.
    pub async fn send_with(&self, argv: &[&[u8]], extra_ms: Option<f64>, hold: bool) -> Answer {
        let timeout = match (self.0.settings.command_timeout_ms, extra_ms) {
            (Some(t), extra) => Some(t + extra.unwrap_or(0.0)),
            (None, _) => None,
        };
        let slot = self.link()?.submit(argv, timeout, hold)?;
        Receive(slot).await
    }

    /// [`SocketRedis::command`] with argument `at` the bytes of `host`, written from JS
    /// memory (a large stored value).
    pub async fn command_host(
        &self,
        argv: &[Arg<'_>],
        extra_ms: Option<f64>,
        at: usize,
        host: &js_sys::Uint8Array,
    ) -> Answer {
        let timeout = match (self.0.settings.command_timeout_ms, extra_ms) {
            (Some(t), extra) => Some(t + extra.unwrap_or(0.0)),
            (None, _) => None,
        };
        let argv = raw_args(argv);
        let slot = self.link()?.submit_host(&argv, timeout, at, host)?;
        Receive(slot).await
    }

    /// [`SocketRedis::send`] for the core's [`Arg`]s.
    pub async fn command(&self, argv: &[Arg<'_>], extra_ms: Option<f64>) -> Answer {
        self.command_with(argv, extra_ms, false).await
    }

    /// [`SocketRedis::send_with`] for the core's [`Arg`]s.
    pub async fn command_with(
        &self,
        argv: &[Arg<'_>],
        extra_ms: Option<f64>,
        hold: bool,
    ) -> Answer {
        let argv = raw_args(argv);
        self.send_with(&argv, extra_ms, hold).await
    }

    /// Whether no command waits on it (so a blocking command would not queue).
    pub fn idle(&self) -> bool {
        self.0
            .link
            .borrow()
            .as_ref()
            .is_none_or(|l| l.is_closed() || l.conn.borrow().in_flight() == 0)
    }

    /// Lets a Node process exit while this client's connections are open, as node-redis's
    /// `unref()` does (hosts without the notion ignore it).
    pub fn unref(&self) {
        self.0.unref.set(true);
        if let Some(link) = self.0.link.borrow().as_ref() {
            if let Some(socket) = link.socket.borrow().as_ref() {
                unref_socket(socket);
            }
        }
    }

    /// Whether it has not been closed by the caller.
    pub fn is_open(&self) -> bool {
        !self.0.closed.get()
    }

    /// Whether a connection is up and past its handshake.
    pub fn is_ready(&self) -> bool {
        self.0
            .link
            .borrow()
            .as_ref()
            .is_some_and(|l| matches!(l.conn.borrow().phase(), Phase::Ready))
    }

    /// Closes it: commands still waiting fail, later ones too. Resolves once the socket is
    /// closed.
    pub async fn close(&self) {
        self.0.closed.set(true);
        let link = self.0.link.borrow_mut().take();
        let Some(link) = link else {
            return;
        };
        let progress = link.conn.borrow_mut().close();
        link.apply(progress);
        let closing = link.closing.borrow_mut().take();
        if let Some(done) = closing {
            let _ = JsFuture::from(done).await;
        }
    }

    fn same(&self, other: &SocketRedis) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// The JS objects that stand for a [`SocketRedis`] (the exported client class), so a store
/// or broker handed one talks to it directly instead of through `sendCommand`.
struct Registry {
    objects: js_sys::WeakMap,
    /// Few at a time, so a list (a `HashMap` costs kilobytes of wasm).
    clients: RefCell<Vec<(u32, Weak<Client>)>>,
    next: Cell<u32>,
}

thread_local! {
    static REGISTRY: Registry = Registry {
        objects: js_sys::WeakMap::new(),
        clients: RefCell::new(Vec::new()),
        next: Cell::new(0),
    };
}

/// Records that `object` is `client`'s face in JS.
pub fn register(object: &JsValue, client: &SocketRedis) {
    let Some(object) = object.dyn_ref::<js_sys::Object>() else {
        return;
    };
    REGISTRY.with(|r| {
        let id = r.next.get().wrapping_add(1);
        r.next.set(id);
        let mut clients = r.clients.borrow_mut();
        clients.retain(|(_, c)| c.strong_count() > 0);
        clients.push((id, Rc::downgrade(&client.0)));
        r.objects.set(object, &JsValue::from(id));
    });
}

/// The client `object` stands for, if it is one of ours.
pub fn lookup(object: &JsValue) -> Option<SocketRedis> {
    let object = object.dyn_ref::<js_sys::Object>()?;
    REGISTRY.with(|r| {
        let id = r.objects.get(object).as_f64()? as u32;
        let clients = r.clients.borrow();
        let (_, client) = clients.iter().find(|(i, _)| *i == id)?;
        client.upgrade().map(SocketRedis)
    })
}

/// Whether two JS objects stand for the same client.
pub fn same_client(a: &SocketRedis, b: &SocketRedis) -> bool {
    a.same(b)
}
