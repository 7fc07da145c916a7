//! Serving the application: a cap on open connections, timeouts for slow and
//! idle clients, and graceful shutdown with a deadline.
//!
//! Written by hand on hyper instead of `axum::serve`, which has none of these
//! bounds: 1,100 idle connections exhausted `ulimit -n 1024` and made `/api/token`
//! unanswerable, and one half-sent request held the process open for minutes
//! after SIGTERM. hyper still does all of the HTTP; this file only accepts,
//! counts, watches and stops connections.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

/// After a failed `accept` (out of descriptors, say), wait this long before the
/// next one instead of spinning.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// At the connection cap, a connection with no request in progress that has
/// moved no byte for this long gives up its place to a waiting client.
const EVICTABLE_AFTER: Duration = Duration::from_millis(250);

/// Bounds on what clients can hold open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// A request's headers must be in within this long of the connection starting
    /// to wait for them (`HEADER_READ_TIMEOUT_SECS`). hyper starts this clock as
    /// soon as it waits for a request, so it also closes keep-alive connections
    /// that sit idle between requests.
    pub header_read_timeout: Duration,
    /// A connection that moves no byte either way for this long is closed
    /// (`IDLE_TIMEOUT_SECS`): a client that stopped reading a response, say.
    pub idle_timeout: Duration,
    /// Connections open at once (`MAX_CONNECTIONS`); more wait in the listen
    /// backlog, so descriptors cannot run out. At the cap, quiet connections
    /// without a request in progress are closed to make room, so idle clients
    /// cannot keep `/api/token` from answering.
    pub max_connections: usize,
    /// After the shutdown signal, in-flight requests get this long to finish
    /// (`SHUTDOWN_TIMEOUT_SECS`); then the remaining connections are closed.
    pub shutdown_timeout: Duration,
}

impl Default for ServerLimits {
    /// Production defaults: a browser sends its headers at once and reuses a
    /// connection within seconds; 512 connections leave half of a common
    /// `ulimit -n 1024` for the upstream, Redis and static files; 20 s of
    /// shutdown fits Kubernetes' default 30 s grace period.
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            shutdown_timeout: Duration::from_secs(20),
        }
    }
}

/// Serves `app` on `listener` with the default limits until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve(listener, app, shutdown, ServerLimits::default()).await
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then
/// lets in-flight requests finish for at most `limits.shutdown_timeout`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ServerLimits,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopping) = watch::channel(false);
    let pressure = Arc::new(Notify::new());
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // At the cap, ask quiet connections to make room, again each time a
        // connection may have become quiet, until a place frees up.
        let permit = loop {
            match Arc::clone(&permits).try_acquire_owned() {
                Ok(permit) => break Some(permit),
                Err(_) => {
                    pressure.notify_waiters();
                    tokio::select! {
                        () = &mut shutdown => break None,
                        permit = Arc::clone(&permits).acquire_owned() => break permit.ok(),
                        () = tokio::time::sleep(EVICTABLE_AFTER) => {}
                    }
                }
            }
        };
        let Some(permit) = permit else { break };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let signals = Signals { stopping: stopping.clone(), pressure: Arc::clone(&pressure) };
        connections.spawn(serve_connection(stream, app.clone(), limits.clone(), signals, permit));
    }
    drop(listener);
    // Receivers gone means no connection is left to tell.
    let _ = stop.send(true);
    let drained =
        tokio::time::timeout(limits.shutdown_timeout, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "shutdown deadline reached; closing the connections that are still open"
        );
        connections.abort_all();
    }
    Ok(())
}

/// What the accept loop tells every connection.
struct Signals {
    /// Becomes true at shutdown.
    stopping: watch::Receiver<bool>,
    /// Notified when the cap is reached and a client is waiting for a place.
    pressure: Arc<Notify>,
}

/// One connection, until the client closes it, a timeout closes it, shutdown
/// drains it, or it is quiet when its place is needed. Holding `_permit` is what
/// counts it against the cap.
async fn serve_connection(
    stream: TcpStream,
    app: Router,
    limits: ServerLimits,
    mut signals: Signals,
    _permit: OwnedSemaphorePermit,
) {
    // Small JSON responses: send them now rather than wait for more to write.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked { inner: stream, activity: Arc::clone(&activity) });
    let in_flight = Arc::new(AtomicUsize::new(0));
    let service = {
        let in_flight = Arc::clone(&in_flight);
        tower::service_fn(move |request| {
            let (app, guard) = (app.clone(), InFlight::enter(&in_flight));
            async move {
                let response = app.oneshot(request).await;
                drop(guard);
                response
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
        let idle_deadline = activity.last() + limits.idle_timeout;
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection closed");
                }
                return;
            }
            _ = signals.stopping.changed(), if !is_draining => {
                is_draining = true;
                connection.as_mut().graceful_shutdown();
            }
            () = signals.pressure.notified() => {
                let is_quiet = activity.last() + EVICTABLE_AFTER <= Instant::now();
                if is_quiet && in_flight.load(Ordering::Acquire) == 0 {
                    tracing::debug!("closing a quiet connection to make room under the connection cap");
                    return;
                }
            }
            () = tokio::time::sleep_until(idle_deadline) => {
                if activity.last() + limits.idle_timeout <= Instant::now() {
                    tracing::debug!("closing a connection that moved no data for the idle timeout");
                    return;
                }
            }
        }
    }
}

/// Counts a request in progress on its connection until dropped.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// When a connection last moved a byte.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened`.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self { opened: Instant::now(), last_ms: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A stream that records [`Activity`] on every read or write that moves bytes.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
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
            self.activity.touch();
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

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
