//! Shared fixtures for the integration tests, one file per server:
//!
//! - The broker: one builder for it in-process and as the real binary
//!   (`broker`), the binary as a child process (`binary`), configuration from
//!   flags (`config`), several replicas of the binary and a load loop against
//!   them (`replicas`), the sign-in rig (`sign_in`) and a stand-in browser (`browser`).
//! - Fakes written here, each a router and its state served by `served`: a
//!   scriptable fault-injecting token endpoint (`fault_upstream`), an
//!   authorization server for the code flow across replicas (`code_upstream`),
//!   the fault-injecting API behind the proxy (`fake_api`), a Glimesh-shaped
//!   server (`glimesh`), and a recording proxy in front of the dev server (`token_proxy`).
//! - HTTP/1.1 over raw sockets, for tests of connections themselves (`raw_http`).
//! - Real servers as processes: oidc-provider under Node (`oidc_provider`),
//!   `redis-server` (`redis`).
//!
//! This file holds what they all use: ports, locks, polling, the HTTP client,
//! its replies and the error shape every broker error has.
//!
//! Every server binds 127.0.0.1 on a port the OS picks and is stopped when its
//! handle drops. Nothing here reads the developer's environment: the in-process
//! CLI has its environment fallbacks removed and the binary runs with a cleared one.

// Each test file uses a different subset of these fixtures.
#![allow(dead_code)]

pub mod binary;
pub mod broker;
pub mod browser;
pub mod code_upstream;
pub mod config;
pub mod fake_api;
pub mod fake_aps;
pub mod fault_upstream;
pub mod forward_proxy;
pub mod glimesh;
pub mod oidc_provider;
pub mod raw_http;
pub mod redis;
pub mod replicas;
pub mod served;
pub mod sign_in;
pub mod token_proxy;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Generous bound for anything that should happen "soon" on a loaded 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The workspace root (where `node_modules` and `tests/servers` live).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("backend/ has a parent").to_path_buf()
}

/// A scratch directory for this test binary (public dir, TOML files).
pub fn scratch_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("token-backend-it");
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A test-only key in `backend/tests/fixtures/keys` (see its README).
pub fn key_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys").join(name)
}

/// Writes `contents` to a uniquely named file in the scratch directory.
pub fn scratch_file(name: &str, contents: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = scratch_dir().join(format!("{}-{}-{name}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, contents).expect("write scratch file");
    path
}

/// Polls `condition` every 20 ms until it holds, panicking with `what` after [`PATIENCE`].
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `attempt` every 20 ms until it yields a value, panicking with `what` after [`PATIENCE`].
pub async fn poll_for<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A bound on a polling loop that keeps state between attempts.
#[derive(Debug)]
pub struct Deadline {
    at: Instant,
    what: String,
}

impl Deadline {
    /// [`PATIENCE`] from now.
    pub fn new(what: &str) -> Self {
        Self { at: Instant::now() + PATIENCE, what: what.to_owned() }
    }

    /// Panics once the deadline has passed.
    pub fn check(&self) {
        assert!(Instant::now() < self.at, "timed out waiting for {}", self.what);
    }
}

/// A poisoned lock only means another test thread panicked; the data is still usable.
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A loopback port that was free a moment ago (for servers that bind it themselves).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}

/// A `SESSION_SECRET` (at least 32 characters) for every rig that signs cookies;
/// replicas share it, so a cookie signed by one is valid on all.
pub const SESSION_SECRET: &str = "test-session-secret-0123456789abcdefghijklmnop";

/// The test's HTTP client: no proxy, so a developer's `HTTP_PROXY` cannot interfere.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(PATIENCE).build().expect("reqwest client")
}

/// A client that does not follow redirects (each hop is checked) and has no cookie jar.
pub fn manual_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(PATIENCE)
        .build()
        .expect("reqwest client")
}

/// One response, read fully.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    /// From sending the request to having the whole body.
    pub latency: Duration,
    /// When the request was sent.
    pub sent_at: Instant,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// The `access_token` of a success body.
    pub fn token(&self) -> String {
        assert_eq!(self.status, 200, "expected a token, got {}: {}", self.status, self.body);
        self.json()["access_token"].as_str().expect("access_token is a string").to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header"))
    }

    /// The `error` code of an error body.
    pub fn error_code(&self) -> String {
        self.json()["error"].as_str().unwrap_or_else(|| panic!("no `error` in {}", self.body)).to_owned()
    }
}

/// Asserts `reply` is a broker error in its one shape: `status`, never
/// cacheable (`Cache-Control: no-store`), and an RFC 6749-style JSON body whose
/// `error` is `code` and whose `error_description` is a string. Trailing
/// format arguments say which case failed, as with `assert_eq!`:
/// `assert_error!(reply, 401, "login_required", "{what}")`.
#[allow(unused_macros)] // Each test file uses a different subset of these fixtures.
macro_rules! assert_error {
    ($reply:expr, $status:expr, $code:expr $(,)?) => {
        $crate::common::check_error(&$reply, $status, $code, format_args!(""))
    };
    ($reply:expr, $status:expr, $code:expr, $($context:tt)+) => {
        $crate::common::check_error(&$reply, $status, $code, format_args!($($context)+))
    };
}
#[allow(unused_imports)]
pub(crate) use assert_error;

/// What [`assert_error!`] checks; `context` prefixes every failure message.
#[track_caller]
pub fn check_error(reply: &Reply, status: u16, code: &str, context: std::fmt::Arguments<'_>) {
    assert_eq!((reply.status, reply.error_code().as_str()), (status, code), "{context} {}", reply.body);
    assert!(reply.json()["error_description"].is_string(), "{context} no error_description: {}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{context} {:?}", reply.headers);
}

/// `GET url` with extra headers.
pub async fn get_with(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Reply {
    request(client, reqwest::Method::GET, url, headers).await
}

pub async fn get(client: &reqwest::Client, url: &str) -> Reply {
    get_with(client, url, &[]).await
}

pub async fn request(client: &reqwest::Client, method: reqwest::Method, url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut builder = client.request(method, url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let sent_at = Instant::now();
    let response = builder.send().await.unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("response body");
    Reply { status, headers, body, latency: sent_at.elapsed(), sent_at }
}

/// The port of a base URL (`http://HOST:PORT`).
pub fn port_of(base: &str) -> u16 {
    base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port in the base URL")
}

/// The broker's end of the connection from `client_port`, as the fields of its
/// line in the kernel's socket table (`/proc/net/tcp`: local and remote
/// `ADDR:PORT` in hex, state, `tx_queue:rx_queue`, …, inode tenth).
fn broker_socket((broker_port, client_port): (u16, u16)) -> Option<Vec<String>> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    let port = |field: &str| field.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    table.lines().skip(1).map(|line| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>()).find(|fields| {
        fields.len() > 9 && port(&fields[1]) == Some(broker_port) && port(&fields[2]) == Some(client_port)
    })
}

/// Whether the broker's end of the connection from `client_port` exists and has
/// no unread bytes.
pub fn has_read_everything(ports: (u16, u16)) -> bool {
    broker_socket(ports)
        .is_some_and(|fields| fields[4].split(':').nth(1).is_some_and(|rx| u64::from_str_radix(rx, 16) == Ok(0)))
}

/// Whether the broker has accepted the connection from `client_port`: a
/// connection still in the listen queue has no socket inode yet.
pub fn is_accepted(ports: (u16, u16)) -> bool {
    broker_socket(ports).is_some_and(|fields| fields[9] != "0")
}
