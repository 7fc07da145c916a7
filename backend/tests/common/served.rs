//! One in-process server on a loopback port: bound on a port the OS picks,
//! served on a task, stopped when the handle drops. Every fake server and the
//! in-process broker are a router and a state on top of this.

use std::future::IntoFuture;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A server task on `127.0.0.1`; aborted on drop, which closes its listener
/// and the connections it owns.
#[derive(Debug)]
pub struct Served {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Served {
    /// Serves `router` with `axum::serve` on a fresh loopback port.
    pub async fn start(router: Router) -> Self {
        Self::spawn(bind_loopback().await, |listener| axum::serve(listener, router))
    }

    /// Runs `serve` (a server loop taking the listener) on `listener`, for a
    /// server whose port had to be known before it was built (the broker's
    /// redirect URI names it) or that is not served by `axum::serve`.
    pub fn spawn<F>(listener: TcpListener, serve: impl FnOnce(TcpListener) -> F) -> Self
    where
        F: IntoFuture<IntoFuture: Send + 'static>,
    {
        let addr = listener.local_addr().expect("local addr");
        let running = serve(listener).into_future();
        let task = tokio::spawn(async move {
            // The outcome is an I/O error at worst, and the test sees that as refused requests.
            let _ = running.await;
        });
        Self { addr, task }
    }

    /// The socket address, for raw TCP clients.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`; `path` is empty or starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A listener on `127.0.0.1` and a port the OS picks, with a listen backlog as
/// deep as the kernel allows (`somaxconn`, 4096 here) rather than tokio's 1024:
/// a burst of a thousand upstream connections (the proxy's descriptor-budget
/// test) must not overflow a fake server's accept queue, where a dropped SYN is
/// retried after 1 s and fails the broker's connect timeout.
pub async fn bind_loopback() -> TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(([127, 0, 0, 1], 0).into()).expect("bind 127.0.0.1:0");
    socket.listen(4096).expect("listen")
}
