//! Benchmark upstream: a client-credentials token endpoint that answers after a
//! fixed delay and counts the requests it served, so `bench/run.sh` can compare
//! how often each token server calls its upstream.
//!
//! ```text
//! cargo run --release -p token-backend --example slow_upstream -- [PORT] [EXPIRES_IN_SECS] [DELAY_MS]
//! ```
//!
//! - `POST /token`: needs HTTP Basic client authentication and
//!   `grant_type=client_credentials`; sleeps `DELAY_MS` (default 50), then issues a
//!   random Bearer token valid for `EXPIRES_IN_SECS` (default 3600).
//! - `GET /count`: how many token requests have been served, as plain text.
//! - `POST /reset`: sets the count back to 0.
//!
//! Port 0 (the default) picks a free port. The bound address is printed as the
//! first line of stdout (`listening on 127.0.0.1:PORT`) for the driver script.
//! Client credentials are not checked against a value: the benchmark measures the
//! callers, and any id/secret pair in a well-formed Basic header is accepted.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::json;

/// What the handlers share: the fixed answer parameters and the request counter.
#[derive(Debug)]
struct Upstream {
    expires_in: u64,
    delay: Duration,
    /// Token requests served since start or the last reset; read by the driver.
    count: AtomicU64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);
    let expires_in: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3600);
    let delay_ms: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(50);
    let state = Arc::new(Upstream { expires_in, delay: Duration::from_millis(delay_ms), count: AtomicU64::new(0) });
    let app = Router::new()
        .route("/token", post(token))
        .route("/count", get(count))
        .route("/reset", post(reset))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn token(
    State(up): State<Arc<Upstream>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let has_basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > "Basic ".len() && v[..6].eq_ignore_ascii_case("basic "));
    if !has_basic {
        let body =
            json!({ "error": "invalid_client", "error_description": "HTTP Basic client authentication required" });
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        let body = json!({ "error": "unsupported_grant_type", "error_description": "only client_credentials" });
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    // Counted on arrival, so a caller that gives up early is still counted.
    up.count.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(up.delay).await;
    let token: String = (0..32).map(|_| char::from(b'a' + rand::random_range(0..26u8))).collect();
    let body = json!({ "access_token": token, "token_type": "Bearer", "expires_in": up.expires_in });
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

async fn count(State(up): State<Arc<Upstream>>) -> String {
    up.count.load(Ordering::Relaxed).to_string()
}

async fn reset(State(up): State<Arc<Upstream>>) -> StatusCode {
    up.count.store(0, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}
