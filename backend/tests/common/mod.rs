//! Shared fixtures for the integration tests: the real oidc-provider (Node), a
//! scriptable fault-injecting upstream, the broker in-process, and the real binary.
//!
//! Every server binds 127.0.0.1 on a port the OS picks and is stopped when its
//! handle drops. Nothing here reads the developer's environment: the in-process
//! CLI has its environment fallbacks removed and the binary runs with a cleared one.

// Each test file uses a different subset of these fixtures.
#![allow(dead_code)]

pub mod glimesh;
pub mod redis;
pub mod sign_in;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use clap::{CommandFactory, FromArgMatches};
use serde_json::Value;
use token_backend::config::Cli;
use token_backend::{AppState, Config, app, server};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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

/// The test's HTTP client: no proxy, so a developer's `HTTP_PROXY` cannot interfere.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(PATIENCE).build().expect("reqwest client")
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

// ---------------------------------------------------------------------------
// The real third-party authorization server
// ---------------------------------------------------------------------------

/// A client registered at [`OidcProvider`].
#[derive(Debug, Clone)]
pub struct OidcClient {
    pub id: String,
    pub secret: String,
}

/// `tests/servers/oidc-provider.mjs` running under Node; killed on drop.
#[derive(Debug)]
pub struct OidcProvider {
    pub issuer: String,
    pub token_endpoint: String,
    /// Registered with `client_secret_basic`.
    pub basic: OidcClient,
    /// Registered with `client_secret_post`.
    pub post: OidcClient,
    /// `client_secret_basic`, with reserved characters in its id and secret.
    pub special: OidcClient,
    _child: Child,
}

impl OidcProvider {
    /// Starts the server; its tokens live `access_token_ttl` seconds.
    pub async fn start(access_token_ttl: u64) -> Self {
        let root = repo_root();
        let mut child = Command::new("node")
            .arg(root.join("tests/servers/oidc-provider.mjs"))
            .current_dir(&root)
            .env("ACCESS_TOKEN_TTL", access_token_ttl.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed (oidc-provider tests need Node 20 and `npm install`)");
        let stderr = LogCapture::start(child.stderr.take().expect("piped stderr"));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let line = tokio::time::timeout(PATIENCE, stdout.next_line()).await;
        let line = match line {
            Ok(Ok(Some(line))) => line,
            other => panic!("oidc-provider did not start ({other:?}); stderr:\n{}", stderr.lines().join("\n")),
        };
        let info: Value = serde_json::from_str(&line).expect("oidc-provider prints JSON");
        let client = |kind: &str| OidcClient {
            id: info["clients"][kind]["client_id"].as_str().expect("client_id").to_owned(),
            secret: info["clients"][kind]["client_secret"].as_str().expect("client_secret").to_owned(),
        };
        Self {
            issuer: info["issuer"].as_str().expect("issuer").to_owned(),
            token_endpoint: info["token_endpoint"].as_str().expect("token_endpoint").to_owned(),
            basic: client("basic"),
            post: client("post"),
            special: client("special"),
            _child: child,
        }
    }

    /// Requests that reached the token endpoint so far.
    pub async fn token_requests(&self) -> u64 {
        let reply = get(&http_client(), &format!("{}/test/token-requests", self.issuer)).await;
        reply.json()["count"].as_u64().expect("count")
    }
}

// ---------------------------------------------------------------------------
// The fault-injecting upstream
// ---------------------------------------------------------------------------

/// What the fault upstream's token endpoint answers; replace it at any time.
#[derive(Debug, Clone)]
pub struct Script {
    /// Wait this long before answering (after counting the request).
    pub delay: Duration,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: ScriptBody,
    /// Send the body as a stream without `Content-Length`.
    pub chunked: bool,
    pub extra_headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum ScriptBody {
    /// A fresh token `tok-N` each time, with these `expires_in` and `token_type`
    /// JSON values (`None` leaves the field out).
    Token { expires_in: Option<Value>, token_type: Option<Value> },
    /// These bytes, verbatim.
    Raw(Vec<u8>),
}

impl Script {
    /// 200 with a fresh Bearer token living `expires_in` seconds.
    pub fn token(expires_in: u64) -> Self {
        Self::token_fields(Some(Value::from(expires_in)), Some(Value::from("Bearer")))
    }

    pub fn token_fields(expires_in: Option<Value>, token_type: Option<Value>) -> Self {
        Self {
            delay: Duration::ZERO,
            status: 200,
            content_type: Some("application/json".into()),
            body: ScriptBody::Token { expires_in, token_type },
            chunked: false,
            extra_headers: Vec::new(),
        }
    }

    /// Any status, content type and body.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            delay: Duration::ZERO,
            status,
            content_type: Some(content_type.into()),
            body: ScriptBody::Raw(body.into()),
            chunked: false,
            extra_headers: Vec::new(),
        }
    }

    /// An RFC 6749 §5.2 error response.
    pub fn oauth_error(status: u16, error: &str, description: &str) -> Self {
        let body = serde_json::json!({ "error": error, "error_description": description }).to_string();
        Self::raw(status, "application/json", body)
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }
}

/// A token the fault upstream issued, and when it expires by the upstream's clock.
#[derive(Debug, Clone)]
pub struct IssuedRecord {
    pub token: String,
    pub expires_at: Option<Instant>,
}

/// One request the fault upstream received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub headers: HeaderMap,
    pub body: String,
}

impl RecordedRequest {
    /// `(client_id, client_secret)` from HTTP Basic, if present.
    pub fn basic_credentials(&self) -> Option<(String, String)> {
        let value = self.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
        let (id, secret) =
            String::from_utf8(decoded).ok()?.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned()))?;
        Some((id, secret))
    }

    /// A form field of the body.
    pub fn form(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.body.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

#[derive(Debug)]
struct FaultState {
    script: Mutex<Script>,
    requests: AtomicUsize,
    issued: Mutex<Vec<IssuedRecord>>,
    received: Mutex<Vec<RecordedRequest>>,
}

/// An upstream token endpoint (`POST /token`) whose answers the test scripts.
#[derive(Debug)]
pub struct FaultUpstream {
    pub addr: SocketAddr,
    state: Arc<FaultState>,
    task: JoinHandle<()>,
}

impl FaultUpstream {
    pub async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fault upstream");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(FaultState {
            script: Mutex::new(script),
            requests: AtomicUsize::new(0),
            issued: Mutex::new(Vec::new()),
            received: Mutex::new(Vec::new()),
        });
        let router = axum::Router::new().route("/token", axum::routing::post(answer)).with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { addr, state, task }
    }

    pub fn token_url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// Replaces the behaviour for the following requests.
    pub fn set(&self, script: Script) {
        *lock(&self.state.script) = script;
    }

    /// Requests received so far (counted on arrival, before any delay).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    pub fn issued(&self) -> Vec<IssuedRecord> {
        lock(&self.state.issued).clone()
    }

    /// The issue record of `token`; panics if this upstream never issued it.
    pub fn record_of(&self, token: &str) -> IssuedRecord {
        self.issued()
            .into_iter()
            .find(|r| r.token == token)
            .unwrap_or_else(|| panic!("the upstream never issued `{token}`"))
    }

    pub fn received(&self) -> Vec<RecordedRequest> {
        lock(&self.state.received).clone()
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for_requests(&self, n: usize) {
        wait_until(&format!("{n} upstream requests"), || async { self.requests() >= n }).await;
    }
}

impl Drop for FaultUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn answer(State(state): State<Arc<FaultState>>, headers: HeaderMap, body: Bytes) -> Response {
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    lock(&state.received).push(RecordedRequest { headers, body: String::from_utf8_lossy(&body).into_owned() });
    let script = lock(&state.script).clone();
    tokio::time::sleep(script.delay).await;
    let bytes = match &script.body {
        ScriptBody::Raw(bytes) => bytes.clone(),
        ScriptBody::Token { expires_in, token_type } => {
            let token = format!("tok-{n}");
            let lifetime = expires_in.as_ref().and_then(|v| match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            });
            let expires_at = lifetime.map(|s| Instant::now() + Duration::from_secs(s));
            lock(&state.issued).push(IssuedRecord { token: token.clone(), expires_at });
            let mut body = serde_json::json!({ "access_token": token });
            if let Some(v) = expires_in {
                body["expires_in"] = v.clone();
            }
            if let Some(v) = token_type {
                body["token_type"] = v.clone();
            }
            body.to_string().into_bytes()
        }
    };
    let mut builder = Response::builder().status(StatusCode::from_u16(script.status).expect("valid status"));
    if let Some(ct) = &script.content_type {
        builder = builder.header(header::CONTENT_TYPE, ct);
    }
    for (name, value) in &script.extra_headers {
        builder = builder.header(name, value);
    }
    let body = if script.chunked {
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            bytes.chunks(8 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    } else {
        Body::from(bytes)
    };
    builder.body(body).expect("valid response")
}

// ---------------------------------------------------------------------------
// The broker, in-process
// ---------------------------------------------------------------------------

/// The real router served on a loopback port inside the test process.
#[derive(Debug)]
pub struct Broker {
    pub base: String,
    shutdown: Option<oneshot::Sender<()>>,
    _built: Option<token_backend::app::Built>,
}

impl Broker {
    /// Configures the broker from command-line flags only (environment fallbacks
    /// are stripped) and serves it. `--public-dir` and `--bind-addr` are supplied.
    pub async fn start(args: &[&str]) -> Self {
        let config = config_from_args(args).unwrap_or_else(|e| panic!("invalid test configuration:\n{e}"));
        let built = AppState::build(config).await.expect("broker starts");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind broker");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let router = app(built.state.clone());
        tokio::spawn(server::run(listener, router, async move {
            let _ = rx.await;
        }));
        Self { base: format!("http://{addr}"), shutdown: Some(tx), _built: Some(built) }
    }

    /// A broker for the generic preset against `token_url`, plus extra flags.
    pub async fn generic(token_url: &str, extra: &[&str]) -> Self {
        let mut args = vec![
            "--provider",
            "generic",
            "--token-url",
            token_url,
            "--client-id",
            "broker",
            "--client-secret",
            "broker-secret",
        ];
        args.extend_from_slice(extra);
        Self::start(&args).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// `Config` from flags alone: the CLI's `env = …` fallbacks are removed so the
/// developer's environment cannot change what a test configures.
pub fn config_from_args(args: &[&str]) -> Result<Config, token_backend::ConfigError> {
    let public_dir = scratch_dir();
    let mut full =
        vec!["token-backend", "--bind-addr", "127.0.0.1:0", "--public-dir", public_dir.to_str().expect("utf-8 path")];
    full.extend_from_slice(args);
    let matches = Cli::command()
        .mut_args(|arg| arg.env(None::<&str>))
        .try_get_matches_from(full)
        .unwrap_or_else(|e| panic!("bad test flags: {e}"));
    let cli = Cli::from_arg_matches(&matches).expect("flags match the Cli struct");
    Config::from_cli(cli)
}

// ---------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------

/// Lines a child process writes to one stream, collected as they arrive.
#[derive(Debug, Clone)]
pub struct LogCapture {
    lines: Arc<Mutex<Vec<String>>>,
    finished: Arc<std::sync::atomic::AtomicBool>,
}

impl LogCapture {
    fn start(stream: impl AsyncRead + Unpin + Send + 'static) -> Self {
        let capture = Self { lines: Arc::default(), finished: Arc::default() };
        let c = capture.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lock(&c.lines).push(line);
            }
            c.finished.store(true, Ordering::SeqCst);
        });
        capture
    }

    pub fn lines(&self) -> Vec<String> {
        lock(&self.lines).clone()
    }

    /// Waits for the stream to close, then returns every line.
    pub async fn all_lines(&self) -> Vec<String> {
        wait_until("the log stream to close", || async { self.finished.load(Ordering::SeqCst) }).await;
        self.lines()
    }
}

/// `token-backend` run as a process with exactly the given environment; killed on drop.
#[derive(Debug)]
pub struct BrokerProcess {
    pub base: String,
    pub stderr: LogCapture,
    child: Child,
}

/// How a run of the binary that was expected to fail ended.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

fn binary(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_token-backend"));
    command
        .args(args)
        .env_clear()
        .env("NO_COLOR", "1")
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("PUBLIC_DIR", scratch_dir())
        .current_dir(scratch_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

impl BrokerProcess {
    /// Starts the binary and waits for its "listening on" log line (so `RUST_LOG`,
    /// if given, must include `info` for `token_backend`).
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = binary(args, env).spawn().expect("spawn token-backend");
        let stderr = LogCapture::start(child.stderr.take().expect("piped stderr"));
        // Stdout is unused; drain it so the child can never block on a full pipe.
        let _stdout = LogCapture::start(child.stdout.take().expect("piped stdout"));
        let mut base = None;
        let deadline = Instant::now() + PATIENCE;
        while base.is_none() {
            base = stderr.lines().iter().find_map(|line| listening_url(line));
            if base.is_none() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("token-backend exited with {status}; stderr:\n{}", stderr.all_lines().await.join("\n"));
                }
                assert!(
                    Instant::now() < deadline,
                    "token-backend did not start; stderr:\n{}",
                    stderr.lines().join("\n")
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Self { base: base.expect("loop exits with an address"), stderr, child }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id, to signal the process or count its descriptors.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("token-backend is running")
    }

    /// Waits up to `within` for the process to exit by itself; `None` if it did not.
    pub async fn wait_for_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let waited = tokio::time::timeout(within, self.child.wait()).await.ok()?;
        Some(waited.expect("wait for token-backend"))
    }

    /// Kills the process and returns everything it wrote to stderr.
    pub async fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill().await;
        self.stderr.all_lines().await
    }
}

/// `http://127.0.0.1:PORT` from the "token-backend listening on http://…" line.
fn listening_url(line: &str) -> Option<String> {
    let rest = line.split("listening on http://").nth(1)?;
    let addr: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
    Some(format!("http://{addr}"))
}

/// Runs the binary to completion (it is expected to exit on its own).
pub async fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> Exited {
    let mut child = binary(args, env).spawn().expect("spawn token-backend");
    let stderr = LogCapture::start(child.stderr.take().expect("piped stderr"));
    let stdout = LogCapture::start(child.stdout.take().expect("piped stdout"));
    let status = match tokio::time::timeout(PATIENCE, child.wait()).await {
        Ok(status) => status.expect("wait for token-backend"),
        Err(_) => panic!("token-backend kept running; stderr:\n{}", stderr.lines().join("\n")),
    };
    Exited { status, stdout: stdout.all_lines().await, stderr: stderr.all_lines().await }
}

/// A loopback address nothing listens on (bound, then released).
pub async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}/token")
}
