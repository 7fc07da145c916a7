//! One client connection: served by hyper, watched for idleness, drained at
//! shutdown, and closed when the roster needs its place and it is not busy.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
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
            _ = stopping.changed(), if !is_draining => {
                is_draining = true;
                let _ = end_open_ended.send(true);
                connection.as_mut().graceful_shutdown();
            }
            () = seat.asked_to_leave(), if !is_draining => {
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
            () = tokio::time::sleep_until(idle_deadline) => {
                if seat.last_active() + limits.idle_timeout <= Instant::now() {
                    tracing::debug!("closing a connection that moved no data for the idle timeout");
                    return;
                }
            }
        }
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
