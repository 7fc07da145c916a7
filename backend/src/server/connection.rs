//! One client connection: served by hyper, watched for idleness, drained at
//! shutdown, and closed when the roster needs its place and it is not busy.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use axum::Router;
use axum::body::Body;
use futures_util::task::AtomicWaker;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use super::ServerLimits;
use super::roster::{InFlight, Membership, Phase, Seat};
use crate::http_headers::OpenEnded;

/// One connection, until the client closes it, a timeout closes it, shutdown
/// drains it, or the roster asks for its place while it is not busy. Holding
/// `_permit` is what counts it against the cap; `member` keeps its seat.
pub(super) async fn serve(
    stream: TcpStream,
    app: Router,
    limits: ServerLimits,
    mut stopping: watch::Receiver<bool>,
    member: Membership,
    _permit: OwnedSemaphorePermit,
) {
    // Small JSON responses: send them now rather than wait for more to write.
    let _ = stream.set_nodelay(true);
    let seat = Arc::clone(&member.seat);
    let io = TokioIo::new(Tracked { inner: stream, seat: Arc::clone(&seat) });
    // Set when the connection drains: open-ended bodies (event streams) end then.
    let (end_open_ended, open_ended_end) = watch::channel(false);
    let service = {
        let seat = Arc::clone(&seat);
        tower::service_fn(move |request| {
            let (app, request_in_flight) = (app.clone(), seat.enter());
            let ends = open_ended_end.clone();
            async move {
                let response: axum::response::Response = app.oneshot(request).await?;
                // An open-ended one is not busy: the roster may close it for room, and drains end it.
                let (in_flight, until): (_, Option<Drained>) = if response.extensions().get::<OpenEnded>().is_some() {
                    (None, Some(Box::pin(drained(ends))))
                } else {
                    (Some(request_in_flight), None)
                };
                Ok::<_, std::convert::Infallible>(response.map(|body| Answer { body, _in_flight: in_flight, until }))
            }
        })
    };
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(io, TowerToHyperService::new(service));
    tokio::pin!(connection);
    let mut is_draining = false;
    loop {
        let idle_deadline = seat.last_active() + limits.idle_timeout;
        tokio::select! {
            // Polled first, so bytes already readable are seen before a request to leave.
            biased;
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection closed");
                }
                return;
            }
            _ = when_woken(Box::pin(stopping.changed())), if !is_draining => {
                is_draining = true;
                let _ = end_open_ended.send(true);
                connection.as_mut().graceful_shutdown();
            }
            () = when_woken(Box::pin(seat.asked_to_leave())), if !is_draining => {
                if seat.phase() == Phase::Busy {
                    seat.refuse_to_leave();
                } else {
                    // hyper closes an idle or fresh connection at once, after
                    // flushing what it has written (and an event stream, ended here).
                    is_draining = true;
                    let _ = end_open_ended.send(true);
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = when_woken(Box::pin(tokio::time::sleep_until(idle_deadline))) => {
                if seat.last_active() + limits.idle_timeout <= Instant::now() {
                    tracing::debug!("closing a connection that moved no data for the idle timeout");
                    return;
                }
            }
        }
    }
}

/// `inner`, polled only when its own waker fired (and on the first poll).
/// The serve loop's `select!` polls every branch at each wake-up of the
/// connection's task, which is several times per request, while the drain
/// signal, the roster's call and the idle timer fire about never: polling them
/// cost about 800 instructions per proxied request (a `Notify` locks its waiter
/// list on each poll; BENCHMARKS.md). Written by hand: futures and tokio filter
/// wake-ups per future only inside their own collections (`FuturesUnordered`).
fn when_woken<F: Future + Unpin>(inner: F) -> WhenWoken<F> {
    let wake = Arc::new(WakeFlag { is_woken: AtomicBool::new(true), task: AtomicWaker::new() });
    WhenWoken { inner, wake }
}

struct WhenWoken<F> {
    inner: F,
    wake: Arc<WakeFlag>,
}

/// Set by `inner`'s waker, which then wakes the task.
struct WakeFlag {
    is_woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.is_woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl<F: Future + Unpin> Future for WhenWoken<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // Registered before the flag is read: a wake in between is not lost.
        self.wake.task.register(cx.waker());
        if !self.wake.is_woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let waker = Waker::from(Arc::clone(&self.wake));
        Pin::new(&mut self.inner).poll(&mut Context::from_waker(&waker))
    }
}

/// A response body that keeps its request counted as in progress until hyper
/// has sent it all (or dropped it): a proxied download that pauses is still busy.
/// An [`OpenEnded`] one (an event stream) is not counted, and ends when `until`
/// completes (the connection drains).
struct Answer {
    body: Body,
    _in_flight: Option<InFlight>,
    until: Option<Drained>,
}

/// Completes once the connection drains.
type Drained = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Completes once the connection drains.
async fn drained(mut ends: watch::Receiver<bool>) {
    let _ = ends.wait_for(|is_draining| *is_draining).await;
}

impl http_body::Body for Answer {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if let Some(until) = self.until.as_mut()
            && until.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(None);
        }
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A stream that records on its [`Seat`] every read or write that moves bytes.
struct Tracked {
    inner: TcpStream,
    seat: Arc<Seat>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.seat.record_read();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.seat.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.seat.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::Notify;

    use super::*;

    /// The inner future is polled on the first poll and after its own wake-up
    /// only; a wake-up it gets still completes it.
    #[tokio::test]
    async fn the_inner_future_is_polled_only_when_woken() {
        let polls = Arc::new(AtomicUsize::new(0));
        let notify = Arc::new(Notify::new());
        let inner = {
            let (polls, notify) = (Arc::clone(&polls), Arc::clone(&notify));
            Box::pin(async move {
                let mut notified = std::pin::pin!(notify.notified());
                std::future::poll_fn(|cx| {
                    polls.fetch_add(1, Ordering::Relaxed);
                    notified.as_mut().poll(cx)
                })
                .await;
            })
        };
        let mut watched = when_woken(inner);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        for _ in 0..3 {
            assert!(Pin::new(&mut watched).poll(&mut cx).is_pending());
        }
        assert_eq!(polls.load(Ordering::Relaxed), 1, "polled once, then not again until woken");
        notify.notify_one();
        assert!(Pin::new(&mut watched).poll(&mut cx).is_ready());
        assert_eq!(polls.load(Ordering::Relaxed), 2);
    }

    /// The task is woken when the inner future's waker fires.
    #[tokio::test]
    async fn the_task_is_woken_through_it() {
        let notify = Arc::new(Notify::new());
        let waiting = tokio::spawn({
            let notify = Arc::clone(&notify);
            async move { when_woken(Box::pin(async move { notify.notified().await })).await }
        });
        tokio::task::yield_now().await;
        notify.notify_one();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await.expect("woken").expect("task");
    }
}
