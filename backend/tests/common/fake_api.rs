//! The fault-injecting API behind the proxy: records every request it gets
//! (method, path, headers, body size) and answers by path, so each test can
//! reach the fault it needs: echo, redirect, delay, huge or gated bodies, a
//! token it refuses.
//!
//! - `/echo/*`: `200` with headers a browser must never see (`Set-Cookie`,
//!   `WWW-Authenticate`, `X-Internal`) next to allowlisted ones (`ETag`).
//! - `/redirect`: `302` to another host.
//! - `/slow`: headers after 5 s (the tests' APIs time out after 1 s).
//! - `/delay/{ms}`: `200` after `ms` milliseconds: a slow API that does answer.
//! - `/bytes/{n}`: `n` bytes with `Content-Length`; `/chunked/{n}` without it.
//! - `/gated/{n}`: `n` bytes, the last 64 KiB held back until [`FakeApi::open_gate`].
//! - `/upload`: reads the body and answers its length.
//! - `/guarded/*`: `401` for any token in [`FakeApi::refuse`] (or every token
//!   after [`FakeApi::refuse_all`]), else `200`.
//! - `/hop`: `ETag` and `Cache-Control` that its `Connection` header names hop-by-hop.
//! - `/page.html`, `/drawing.svg`: an uploaded HTML page and SVG, each with a
//!   script, as an API that stores users' files serves them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures_util::StreamExt;
use tokio::sync::Semaphore;

use super::lock;
use super::served::Served;

const CHUNK: usize = 64 * 1024;

/// One request as the API received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: HeaderMap,
}

impl Received {
    pub fn bearer(&self) -> Option<String> {
        let value = self.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        value.strip_prefix("Bearer ").map(str::to_owned)
    }
}

struct FakeState {
    received: Mutex<Vec<Received>>,
    refused: Mutex<HashSet<String>>,
    is_refusing_all: std::sync::atomic::AtomicBool,
    /// Permits to send a gated response's last chunk (a permit given before
    /// the response waits for it is not lost, unlike a notification).
    gate: Semaphore,
}

/// A running fake API; stops when dropped.
pub struct FakeApi {
    served: Served,
    state: Arc<FakeState>,
}

impl FakeApi {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState {
            received: Mutex::default(),
            refused: Mutex::default(),
            is_refusing_all: std::sync::atomic::AtomicBool::new(false),
            gate: Semaphore::new(0),
        });
        let router = axum::Router::new()
            .route("/bytes/{n}", any(bytes))
            .route("/chunked/{n}", any(chunked))
            .route("/gated/{n}", any(gated))
            .route("/delay/{ms}", any(delayed))
            .route("/{*rest}", any(by_path))
            .with_state(Arc::clone(&state));
        Self { served: Served::start(router).await, state }
    }

    /// `http://127.0.0.1:PORT{path}`; an API's `base_url` is `url("/")`.
    pub fn url(&self, path: &str) -> String {
        self.served.url(path)
    }

    pub fn received(&self) -> Vec<Received> {
        lock(&self.state.received).clone()
    }

    /// `/guarded/*` answers `401` to this token from now on.
    pub fn refuse(&self, token: &str) {
        lock(&self.state.refused).insert(token.to_owned());
    }

    /// `/guarded/*` answers `401` to every token from now on.
    pub fn refuse_all(&self) {
        self.state.is_refusing_all.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Lets every `/gated/*` response send its last chunk.
    pub fn open_gate(&self) {
        self.state.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }
}

fn record(state: &FakeState, request: &Request) {
    let target = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    lock(&state.received).push(Received {
        method: request.method().to_string(),
        target,
        headers: request.headers().clone(),
    });
}

async fn by_path(State(state): State<Arc<FakeState>>, request: Request) -> Response {
    record(&state, &request);
    let path = request.uri().path().to_owned();
    if path.starts_with("/echo/") {
        return (
            [
                (header::SET_COOKIE, "tracking=1; Path=/"),
                (header::WWW_AUTHENTICATE, "Basic realm=\"api\""),
                (header::ETAG, "\"v1\""),
                (header::HeaderName::from_static("x-internal"), "backend-host-7"),
                (header::CONTENT_TYPE, "text/plain"),
            ],
            "echo",
        )
            .into_response();
    }
    match path.as_str() {
        "/hop" => (
            [
                (header::CONNECTION, "ETag, Cache-Control"),
                (header::ETAG, "\"hop\""),
                (header::CACHE_CONTROL, "public, max-age=3600"),
                (header::CONTENT_TYPE, "text/plain"),
            ],
            "hop",
        )
            .into_response(),
        "/page.html" => ([(header::CONTENT_TYPE, "text/html")], "<script>steal()</script>").into_response(),
        "/drawing.svg" => {
            let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>steal()</script></svg>";
            ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CONTENT_DISPOSITION, "inline")], svg).into_response()
        }
        "/redirect" => {
            (StatusCode::FOUND, [(header::LOCATION, "http://169.254.169.254/latest/meta-data/")], "").into_response()
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late".into_response()
        }
        "/upload" => {
            let mut body = request.into_body().into_data_stream();
            let mut length = 0usize;
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(chunk) => length += chunk.len(),
                    Err(_) => return StatusCode::BAD_REQUEST.into_response(),
                }
            }
            length.to_string().into_response()
        }
        _ if path.starts_with("/guarded/") => {
            let token = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if state.is_refusing_all.load(std::sync::atomic::Ordering::SeqCst) || lock(&state.refused).contains(token) {
                (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")])
                    .into_response()
            } else {
                "guarded".into_response()
            }
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `n` bytes of `x`, in 64 KiB chunks.
fn stream_of(n: usize) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let chunk = Bytes::from(vec![b'x'; CHUNK]);
    futures_util::stream::iter((0..n).step_by(CHUNK).map(move |at| Ok(chunk.slice(..CHUNK.min(n - at)))))
}

async fn bytes(State(state): State<Arc<FakeState>>, Path(n): Path<usize>, request: Request) -> Response {
    record(&state, &request);
    ([(header::CONTENT_LENGTH, n.to_string())], Body::from_stream(stream_of(n))).into_response()
}

async fn chunked(State(state): State<Arc<FakeState>>, Path(n): Path<usize>, request: Request) -> Response {
    record(&state, &request);
    Body::from_stream(stream_of(n)).into_response()
}

async fn delayed(State(state): State<Arc<FakeState>>, Path(ms): Path<u64>, request: Request) -> Response {
    record(&state, &request);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "late".into_response()
}

async fn gated(State(state): State<Arc<FakeState>>, Path(n): Path<usize>, request: Request) -> Response {
    record(&state, &request);
    let held = n.min(CHUNK);
    let gate_state = Arc::clone(&state);
    let last = futures_util::stream::once(async move {
        // Closed only when the server stops, and then nobody reads the body.
        let _ = gate_state.gate.acquire().await;
        Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; held]))
    });
    let body = stream_of(n - held).chain(last);
    ([(header::CONTENT_LENGTH, n.to_string())], Body::from_stream(body)).into_response()
}
