//! Benchmark API behind the proxy: a protected resource with a small and a
//! 1 MiB response, so `bench/proxy.sh` can compare calling it directly with
//! calling it through `/api/proxy/…`.
//!
//! ```text
//! cargo run --release -p token-backend --example resource_api -- [PORT]
//! ```
//!
//! - `GET /small`: 1 KiB; `GET /large`: 1 MiB (both `application/octet-stream`).
//! - `GET /slow`: 1 KiB after 1.5 s, so `bench/proxied-burst.sh` holds 1,000
//!   upstream requests open at once.
//! - Either needs an `Authorization: Bearer …` header (any token: the benchmark
//!   measures the proxy, not token checking) and answers `401` without one.
//!
//! Port 0 (the default) picks a free port; the address is printed on stdout
//! (`listening on 127.0.0.1:PORT`) for the driver script.

use std::io::Write;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// How long `/slow` takes, as the capacity test's slow API does.
const SLOW: std::time::Duration = std::time::Duration::from_millis(1_500);

/// Answers `body` to a request with a Bearer token, `401` otherwise.
fn protected(headers: &HeaderMap, body: Bytes) -> Response {
    let has_bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Bearer "));
    if !has_bearer {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let small = Bytes::from(vec![b's'; 1024]);
    let large = Bytes::from(vec![b'l'; 1024 * 1024]);
    let slow = small.clone();
    let app = Router::new()
        .route("/small", get(move |headers: HeaderMap| std::future::ready(protected(&headers, small.clone()))))
        .route("/large", get(move |headers: HeaderMap| std::future::ready(protected(&headers, large.clone()))))
        .route(
            "/slow",
            get(move |headers: HeaderMap| {
                let body = slow.clone();
                async move {
                    tokio::time::sleep(SLOW).await;
                    protected(&headers, body)
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}
