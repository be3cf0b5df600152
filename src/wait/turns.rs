//! Turns: calls served one at a time, in the order they were made.
//!
//! An async iterator's `next()` may be called again before the last call settled; async
//! generators queue such calls, and so must `iterResults`. Each call takes a [`Ticket`] when
//! it is made (synchronously, so call order is kept) and waits for its turn; the turn passes
//! on when the ticket is dropped, whether the call finished, failed or was abandoned.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct State {
    issued: u64,
    serving: u64,
    /// Tickets dropped before their turn: skipped when it comes.
    abandoned: Vec<u64>,
    waiting: Vec<(u64, Waker)>,
}

/// A queue of turns. Cloning shares it.
#[derive(Clone, Default)]
pub struct Turns {
    state: Rc<RefCell<State>>,
}

impl Turns {
    /// An empty queue.
    pub fn new() -> Turns {
        Turns::default()
    }

    /// The next ticket, served after every ticket taken before it.
    pub fn ticket(&self) -> Ticket {
        let mut s = self.state.borrow_mut();
        let number = s.issued;
        s.issued += 1;
        Ticket {
            state: self.state.clone(),
            number,
        }
    }
}

/// A place in the queue; its turn passes on when it is dropped.
pub struct Ticket {
    state: Rc<RefCell<State>>,
    number: u64,
}

impl Ticket {
    /// Completes when every earlier ticket has been dropped.
    pub fn turn(&self) -> Turn<'_> {
        Turn { ticket: self }
    }
}

/// The future of [`Ticket::turn`].
pub struct Turn<'a> {
    ticket: &'a Ticket,
}

impl Future for Turn<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.ticket.state.borrow_mut();
        if s.serving == self.ticket.number {
            return Poll::Ready(());
        }
        let number = self.ticket.number;
        s.waiting.retain(|(n, _)| *n != number);
        s.waiting.push((number, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let woken = {
            let Ok(mut s) = self.state.try_borrow_mut() else {
                return;
            };
            if s.serving != self.number {
                let number = self.number;
                s.waiting.retain(|(n, _)| *n != number);
                s.abandoned.push(number);
                return;
            }
            s.serving += 1;
            while let Some(i) = s.abandoned.iter().position(|&n| n == s.serving) {
                s.abandoned.swap_remove(i);
                s.serving += 1;
            }
            let next = s.serving;
            let position = s.waiting.iter().position(|(n, _)| *n == next);
            position.map(|i| s.waiting.swap_remove(i).1)
        };
        if let Some(waker) = woken {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ManualClock;
    use crate::wait::timer::Timer;

    #[test]
    fn turns_are_served_in_the_order_taken() {
        let turns = Turns::new();
        let log = Rc::new(RefCell::new(Vec::new()));
        let clock = ManualClock::new();
        let abandoned = turns.ticket();
        for i in 0..3 {
            let ticket = turns.ticket();
            let log = log.clone();
            let timer = clock.clone();
            clock.spawn(async move {
                ticket.turn().await;
                log.borrow_mut().push(("start", i));
                timer.sleep_ms(f64::from(3 - i)).await;
                log.borrow_mut().push(("end", i));
            });
        }
        let late = turns.ticket();
        drop(late);
        drop(abandoned);
        let last = turns.ticket();
        assert_eq!(clock.block_on(last.turn()), Some(()));
        assert_eq!(
            *log.borrow(),
            [
                ("start", 0),
                ("end", 0),
                ("start", 1),
                ("end", 1),
                ("start", 2),
                ("end", 2)
            ]
        );
    }
}
