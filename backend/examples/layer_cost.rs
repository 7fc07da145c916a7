//! Benchmark helper: the broker's middleware stack rebuilt one layer at a time
//! around a fixed token response, to show what each layer costs on the cached
//! route. Run by `bench/layers.sh`; its numbers back the suggestions in
//! BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p token-backend --example layer_cost -- LEVEL [PORT]
//! ```
//!
//! LEVEL adds, cumulatively, in the order `token_backend::app` applies them:
//! 0 static body · 1 JSON body and no-store headers, as `routes/token.rs` builds
//! them · 2 `ServeDir` fallback · 3 error-recording `from_fn_with_state` middleware
//! with a state as wide as `AppState` · 4 `nosniff` header layer · 5 `TraceLayer`
//! · 6 `TimeoutLayer` (level 6 is the broker's stack). The address is printed on stdout.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

const BODY: &str = r#"{"access_token":"abcdefghijklmnopqrstuvwxyzabcdef","token_type":"Bearer","expires_in":3599}"#;

/// Stands in for `AppState`: an `Arc` per shared part (config, caches, and the
/// metrics registry with its five families), so cloning it costs what cloning
/// the broker's state costs.
#[derive(Clone, Debug, Default)]
struct WideState {
    #[expect(dead_code, reason = "only cloned and dropped, like the broker's state on this route")]
    parts: [Arc<()>; 7],
}

#[derive(Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let level: u32 = args.next().ok_or("usage: layer_cost LEVEL [PORT]")?.parse()?;
    let port: u16 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .init();
    let app = build(level);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn build(level: u32) -> Router {
    let state = WideState::default();
    let mut router: Router<WideState> = if level == 0 {
        Router::new().route("/api/token", get(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) }))
    } else {
        Router::new().route("/api/token", get(token))
    };
    if level >= 2 {
        router = router.fallback_service(ServeDir::new("www"));
    }
    if level >= 3 {
        router = router.layer(middleware::from_fn_with_state(state.clone(), record_errors));
    }
    if level >= 4 {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    }
    if level >= 5 {
        router = router.layer(TraceLayer::new_for_http());
    }
    if level >= 6 {
        router = router.layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)));
    }
    router.with_state(state)
}

async fn token(State(_state): State<WideState>) -> Response {
    let body = TokenBody { access_token: "abcdefghijklmnopqrstuvwxyzabcdef", token_type: "Bearer", expires_in: 3599 };
    let no_store = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ];
    (no_store, Json(body)).into_response()
}

async fn record_errors(State(_state): State<WideState>, request: Request, next: Next) -> Response {
    next.run(request).await
}
