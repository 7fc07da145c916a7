//! Bodies streamed through the proxy within its limits: a stream adapter that
//! counts bytes and bounds the wait for each chunk, so a body is never held
//! whole in memory and a limit hit mid-stream ends the stream with an error (the
//! request to the API fails, or the browser's connection is cut short, never a
//! truncated body that looks complete).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

/// Why a streamed body stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than {0} bytes")]
    TooLarge(u64),
    #[error("no data for {0:?}")]
    Stalled(Duration),
    #[error("the body stream failed: {0}")]
    Broken(String),
}

/// Where a [`Limited`] stream leaves its error, for the code that only sees the
/// outcome through another library (reqwest reports a failed request body as
/// an opaque send error).
#[derive(Debug, Clone, Default)]
pub struct Outcome(Arc<Mutex<Option<BodyError>>>);

impl Outcome {
    pub fn error(&self) -> Option<BodyError> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set(&self, error: BodyError) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
    }
}

/// `inner` with at most `max` bytes and at most `idle` between chunks.
pub struct Limited<S> {
    inner: S,
    max: u64,
    seen: u64,
    idle: Duration,
    /// When the last chunk came (or the stream started): the next is due `idle` after.
    progress: Instant,
    /// Moved to `progress + idle` only when the stream has to wait, not on
    /// every chunk: a body that arrives whole (most small answers) never
    /// touches the timer wheel.
    deadline: Pin<Box<Sleep>>,
    /// Where the error goes too, for a reader that sees it only through another library.
    outcome: Option<Outcome>,
    is_done: bool,
}

impl<S> Limited<S> {
    /// Leaves its error in `outcome` too.
    pub fn new(inner: S, max: u64, idle: Duration, outcome: Outcome) -> Self {
        let progress = Instant::now();
        let deadline = Box::pin(tokio::time::sleep_until(progress + idle));
        Self { inner, max, seen: 0, idle, progress, deadline, outcome: Some(outcome), is_done: false }
    }

    /// Reuses `deadline` (the wait for the response headers' timer) for the
    /// chunks, so a response costs one timer, not two.
    pub fn with_deadline(inner: S, max: u64, idle: Duration, deadline: Pin<Box<Sleep>>) -> Self {
        Self { inner, max, seen: 0, idle, progress: Instant::now(), deadline, outcome: None, is_done: false }
    }

    fn fail(&mut self, error: BodyError) -> Poll<Option<Result<Bytes, BodyError>>> {
        self.is_done = true;
        if let Some(outcome) = &self.outcome {
            outcome.set(error.clone());
        }
        Poll::Ready(Some(Err(error)))
    }
}

impl<S, E> Stream for Limited<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.is_done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen += chunk.len() as u64;
                if self.seen > self.max {
                    let max = self.max;
                    return self.fail(BodyError::TooLarge(max));
                }
                self.progress = Instant::now();
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => self.fail(BodyError::Broken(e.to_string())),
            Poll::Ready(None) => {
                self.is_done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let due = self.progress + self.idle;
                if self.deadline.deadline() != due {
                    self.deadline.as_mut().reset(due);
                }
                match self.deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        let idle = self.idle;
                        self.fail(BodyError::Stalled(idle))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use futures_util::stream;

    use super::*;

    fn chunks(sizes: &[usize]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        stream::iter(sizes.iter().map(|n| Ok(Bytes::from(vec![b'x'; *n]))).collect::<Vec<_>>())
    }

    /// Exactly the limit passes; one byte more ends the stream with `TooLarge`.
    #[tokio::test]
    async fn the_limit_is_exact() {
        let outcome = Outcome::default();
        let all: Vec<_> = Limited::new(chunks(&[4, 6]), 10, Duration::from_secs(1), outcome.clone()).collect().await;
        assert!(all.iter().all(Result::is_ok) && outcome.error().is_none());
        let all: Vec<_> = Limited::new(chunks(&[4, 7, 1]), 10, Duration::from_secs(1), outcome.clone()).collect().await;
        assert_eq!(all.len(), 2, "the stream ends at the error");
        assert_eq!(all[1], Err(BodyError::TooLarge(10)));
        assert_eq!(outcome.error(), Some(BodyError::TooLarge(10)));
    }

    /// A body that stops sending is cut after `idle`, not waited on forever.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails() {
        let outcome = Outcome::default();
        let stalled = chunks(&[3]).chain(stream::pending());
        let all: Vec<_> = Limited::new(stalled, 10, Duration::from_secs(5), outcome).collect().await;
        assert_eq!(all.last(), Some(&Err(BodyError::Stalled(Duration::from_secs(5)))));
    }
}
