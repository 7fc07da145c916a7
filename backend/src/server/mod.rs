//! Serving the application: a cap on open connections, timeouts for slow and
//! idle clients, and graceful shutdown with a deadline.
//!
//! Written by hand on hyper instead of `axum::serve`, which has none of these
//! bounds: 1,100 idle connections exhausted `ulimit -n 1024` and made `/api/token`
//! unanswerable, and one half-sent request held the process open for minutes
//! after SIGTERM. hyper still does all of the HTTP; this module only accepts,
//! counts, watches and stops connections.
//!
//! - `connection`: one connection, served and watched.
//! - `roster`: the open connections, and which to close when the cap is reached.

mod connection;
mod roster;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::roster::Roster;
use crate::descriptors::{self, Demand, DescriptorBudget};

/// After a failed `accept`, wait at most this long before the next one instead
/// of spinning (less when a connection closes and frees a descriptor).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// Clients beyond the cap wait in the kernel's listen queue; Linux clamps this
/// to `net.core.somaxconn` (4096 by default since 5.4), so a burst of thousands
/// waits there instead of retrying its SYN a second later.
const LISTEN_BACKLOG: u32 = 4096;
/// The "connection cap reached" warning is repeated at most this often.
const FULL_WARNING_INTERVAL: Duration = Duration::from_secs(60);

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
    /// Connections open at once (`MAX_CONNECTIONS`, by default derived from the
    /// descriptor limit); more wait in the listen backlog, so descriptors cannot
    /// run out. At the cap, answered idle connections, then connections silent
    /// since they were accepted, are closed to make room (see `roster`), so idle
    /// clients cannot keep `/api/token` from answering.
    pub max_connections: usize,
    /// After the shutdown signal, in-flight requests get this long to finish
    /// (`SHUTDOWN_TIMEOUT_SECS`); then the remaining connections are closed.
    pub shutdown_timeout: Duration,
}

impl Default for ServerLimits {
    /// Production defaults: a browser sends its headers at once and reuses a
    /// connection within seconds; the connection cap is what the process's
    /// descriptor limit allows when no API is proxied (`config` plans it with
    /// the proxy's share); 20 s of shutdown fits Kubernetes' default 30 s grace period.
    fn default() -> Self {
        let descriptors = DescriptorBudget::current(Demand {
            max_connections: None,
            has_proxy: false,
            is_in_process_upstream: false,
        });
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: descriptors.connections,
            shutdown_timeout: Duration::from_secs(20),
        }
    }
}

/// Listens on `addr` with a listen backlog deep enough for bursts beyond the cap.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // As `TcpListener::bind` does: a restart can listen while old connections linger in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
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
    let roster = Arc::new(Roster::default());
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut warnings = Warnings::default();
    tokio::pin!(shutdown);
    loop {
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                warnings.full(limits.max_connections);
                let room = tokio::select! {
                    () = &mut shutdown => None,
                    permit = wait_for_room(&permits, &roster) => permit,
                };
                let Some(permit) = room else { break };
                permit
            }
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    warnings.accepted();
                    stream
                }
                Err(e) => {
                    drop(permit);
                    recover_from_accept_error(&e, &roster, &mut warnings).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let member = roster.join();
        connections.spawn(connection::serve(stream, app.clone(), limits.clone(), stopping.clone(), member, permit));
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

/// At the cap: asks connections that are not busy to make room, again whenever
/// one may have become closable, until a place frees up.
async fn wait_for_room(permits: &Arc<Semaphore>, roster: &Roster) -> Option<OwnedSemaphorePermit> {
    roster.set_full(true);
    let permit = loop {
        let next = roster.make_room(Instant::now());
        tokio::select! {
            permit = Arc::clone(permits).acquire_owned() => break permit.ok(),
            () = roster.changed() => {}
            () = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {}
        }
    };
    roster.set_full(false);
    permit
}

/// A failed `accept` leaves the connection in the kernel's queue, where it waits
/// for the next try rather than being reset. Out of descriptors, the quiet
/// connections make room as they would at the cap; other errors (the peer gave
/// up before the accept, say) only pause.
async fn recover_from_accept_error(e: &std::io::Error, roster: &Roster, warnings: &mut Warnings) {
    if descriptors::is_exhausted(e) {
        warnings.exhausted(e);
        roster.make_room(Instant::now());
        tokio::select! {
            () = roster.changed() => {}
            () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
        }
    } else {
        tracing::warn!(error = %e, "could not accept a connection");
        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
    }
}

/// Warnings an operator should see once per episode, not once per connection.
#[derive(Debug, Default)]
struct Warnings {
    last_full: Option<Instant>,
    is_exhausted: bool,
}

impl Warnings {
    fn full(&mut self, cap: usize) {
        if self.last_full.is_none_or(|at| at.elapsed() >= FULL_WARNING_INTERVAL) {
            self.last_full = Some(Instant::now());
            tracing::warn!(
                max_connections = cap,
                "connection cap reached; closing idle connections to make room (see MAX_CONNECTIONS)"
            );
        }
    }

    fn exhausted(&mut self, e: &std::io::Error) {
        if !self.is_exhausted {
            self.is_exhausted = true;
            tracing::warn!(error = %e, "out of descriptors: new connections wait while idle ones are closed");
        }
    }

    fn accepted(&mut self) {
        if self.is_exhausted {
            self.is_exhausted = false;
            tracing::info!("accepting connections again");
        }
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
