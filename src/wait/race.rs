//! Small future combinators the core needs, so it depends on no async runtime.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

/// Which of two raced futures finished first.
#[derive(Debug, PartialEq, Eq)]
pub enum Either<A, B> {
    /// The first future finished first.
    Left(A),
    /// The second future finished first.
    Right(B),
}

/// Polls both futures until one is ready; the other is dropped, which cancels it (a dropped
/// sleep clears its timer, a dropped wake subscription leaves its waiter list).
///
/// Ties go to the left future, so a value that arrives together with the deadline wins.
pub fn race<A: Future, B: Future>(a: A, b: B) -> Race<A, B> {
    Race { a, b }
}

pin_project_lite::pin_project! {
    /// The future of [`race`]. A named future rather than an `async fn`: a pending wait is
    /// made of a few nested races, and an `async fn` keeps room for its arguments as well as
    /// for their pinned copies, at every level.
    pub struct Race<A, B> {
        #[pin]
        a: A,
        #[pin]
        b: B,
    }
}

impl<A: Future, B: Future> Future for Race<A, B> {
    type Output = Either<A::Output, B::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(x) = this.a.poll(cx) {
            return Poll::Ready(Either::Left(x));
        }
        if let Poll::Ready(y) = this.b.poll(cx) {
            return Poll::Ready(Either::Right(y));
        }
        Poll::Pending
    }
}

/// Waits for the first of `futures` to finish and returns its index; the others are left
/// as they are. An empty slice never finishes.
pub async fn first<F: Future + Unpin>(futures: &mut [F]) -> usize {
    poll_fn(|cx| {
        for (i, f) in futures.iter_mut().enumerate() {
            if Pin::new(f).poll(cx).is_ready() {
                return Poll::Ready(i);
            }
        }
        Poll::Pending
    })
    .await
}

/// Polls `fut` once: its output if it completes without waiting, `None` if it would wait
/// (it is then dropped). For stores that answer synchronously, and their tests.
pub fn now_or_never<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    match fut
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}
