//! Benchmark helper: the cached `/api/token` route rebuilt one layer at a time,
//! as `token_backend::app` assembles it today, to show what each layer costs on
//! a cache hit. Run by `bench/layers.sh`; its numbers are in BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p token-backend --example layer_cost -- LEVEL [PORT]
//! ```
//!
//! LEVEL, cumulative up to 4:
//! 0 static body (the calibration server's handler) · 1 the token handler as
//! `routes/token.rs` writes it (JSON body; no-store, no-cache and nosniff headers
//! set by the handler; a state of one `Arc`) · 2 merged with the other routes the
//! way `app()` merges them (a `ServeDir` fallback and the other routes' stack:
//! request timeout, error-recording middleware, nosniff layer, `TraceLayer`,
//! which wrap only those routes) · 3 `CorsLayer` around the token routes, as when
//! `ALLOWED_ORIGINS` is set · 4 the same server, for requests that carry an allowed
//! `Origin` (`bench/layers.sh` adds the header).
//! Two more levels check the ablation against the real thing: 5 the broker's own
//! `app()` with a filled token cache and the default (same-origin) settings, and
//! 6 the token handler wrapped in the other routes' stack, the shape the token
//! routes had before issue #12. The address is printed on stdout.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use serde::Serialize;
use token_backend::config::Cli;
use token_backend::{AppState, Config};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Level 5's upstream.
#[path = "support/fixed_token.rs"]
mod fixed_token;
use fixed_token::{ACCESS_TOKEN, FixedToken};

const BODY: &str = r#"{"access_token":"abcdefghijklmnopqrstuvwxyzabcdef","token_type":"Bearer","expires_in":3599}"#;
/// The origin `bench/layers.sh` sends at level 4.
const ORIGIN: &str = "https://app.example.com";

/// Stands in for `TokenRoutes` (the caches and the metrics behind one `Arc`).
#[derive(Debug, Default)]
struct TokenState {
    #[expect(dead_code, reason = "only shared, like the broker's token state on this route")]
    parts: [Arc<()>; 2],
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
    let app = build(level)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn build(level: u32) -> Result<Router, Box<dyn std::error::Error>> {
    Ok(match level {
        0 => Router::new().route("/api/token", get(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) })),
        1 => token_routes(),
        2 => token_routes().merge(others_stack(Router::new().fallback_service(ServeDir::new("www")))),
        3 | 4 => token_routes().layer(cors()).merge(others_stack(Router::new().fallback_service(ServeDir::new("www")))),
        5 => {
            let config = Config::from_cli(Cli::parse_from(["layer_cost", "--dev"]))?;
            token_backend::app(AppState::with_source(config, Arc::new(FixedToken))?)
        }
        6 => others_stack(token_routes().fallback_service(ServeDir::new("www"))),
        _ => return Err("LEVEL is 0 to 6".into()),
    })
}

/// The token routes with their state, as `routes::token::router` builds them.
fn token_routes() -> Router {
    Router::new().route("/api/token", get(token)).with_state(Arc::new(TokenState::default()))
}

/// The layers `app()` puts around every route but the token routes, in its order.
fn others_stack(router: Router) -> Router {
    router
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(middleware::from_fn_with_state(Arc::new(TokenState::default()), record_errors))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(TraceLayer::new_for_http())
}

/// `cors_layer` of `app.rs` for `ALLOWED_ORIGINS=https://app.example.com`.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_methods([Method::GET])
        .allow_headers([header::AUTHORIZATION, HeaderName::from_static("x-requested-with")])
        .max_age(Duration::from_secs(600))
        .allow_origin(AllowOrigin::list([HeaderValue::from_static(ORIGIN)]))
}

async fn token(State(_state): State<Arc<TokenState>>) -> Response {
    let body = TokenBody { access_token: ACCESS_TOKEN, token_type: "Bearer", expires_in: 3599 };
    let headers = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    (headers, Json(body)).into_response()
}

async fn record_errors(State(_state): State<Arc<TokenState>>, request: Request, next: Next) -> Response {
    next.run(request).await
}
