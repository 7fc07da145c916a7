//! The fault-injecting upstream: a token endpoint whose answers each test
//! scripts (errors, delays, malformed and oversized bodies), recording what it got.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::Value;

use super::served::Served;
use super::{lock, wait_until};

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
    served: Served,
    state: Arc<FaultState>,
}

impl FaultUpstream {
    pub async fn start(script: Script) -> Self {
        let state = Arc::new(FaultState {
            script: Mutex::new(script),
            requests: AtomicUsize::new(0),
            issued: Mutex::new(Vec::new()),
            received: Mutex::new(Vec::new()),
        });
        let router = axum::Router::new().route("/token", axum::routing::post(answer)).with_state(Arc::clone(&state));
        Self { served: Served::start(router).await, state }
    }

    pub fn token_url(&self) -> String {
        self.served.url("/token")
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
