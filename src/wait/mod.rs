//! Waiting without an async runtime.
//!
//! [`timer`] is the only notion of time (injected: host timers in wasm, a virtual clock in
//! tests); [`timer_queue`] serves every pending sleep from one host alarm; [`notify`] lets a
//! store wake the waiters of one key; [`race`] runs two futures and drops the loser, which is
//! how cancellation works everywhere; [`backoff`] is Dramatiq's polling schedule; [`turns`] serves calls one at a time, in order.

pub mod backoff;
pub mod notify;
pub mod race;
pub mod timer;
pub mod timer_queue;
pub mod turns;
