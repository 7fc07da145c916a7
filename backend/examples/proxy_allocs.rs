//! Benchmark helper: heap allocations per proxied request, counted by a
//! counting global allocator while N requests go through the broker's real
//! router (`token_backend::app`, a filled token cache, `PROXY_API=api=…`) to a
//! local API, in process. Its figures are in BENCHMARKS.md (issue 20).
//!
//! ```text
//! cargo run --release -p token-backend --example proxy_allocs -- [N]
//! ```
//!
//! Counted: everything in this process — the router, the proxy, the HTTP
//! client and its connection task, on one thread — for `GET
//! /api/proxy/api/small` (1 KiB) and `/large` (1 MiB). Not counted: the API,
//! a child process (this example run with `--api`), and the HTTP server's
//! connection handling, which the requests (sent with `oneshot`) skip. N
//! defaults to 10,000, after 200 unmeasured ones.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use http_body_util::BodyExt;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use token_backend::config::Cli;
use token_backend::{AppState, Config};
use tower::ServiceExt;

#[path = "support/fixed_token.rs"]
mod fixed_token;
use fixed_token::FixedToken;

/// Counts every allocation of this process; the API is another process.
#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--api") {
        return serve_api();
    }
    let n: usize = arg.map(|s| s.parse()).transpose()?.unwrap_or(10_000);
    let mut api = Command::new(std::env::current_exe()?).arg("--api").stdout(Stdio::piped()).spawn()?;
    let mut line = String::new();
    BufReader::new(api.stdout.take().ok_or("the API's stdout")?).read_line(&mut line)?;
    let addr = line.trim().strip_prefix("listening on ").ok_or("no listening line from the API")?.to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let counted = runtime.block_on(count(&addr, n));
    api.kill()?;
    api.wait()?;
    counted
}

async fn count(api: &str, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse_from(["proxy_allocs", "--dev", "--proxy-api", &format!("api=http://{api}/")]);
    let app = token_backend::app(AppState::with_source(Config::from_cli(cli)?, Arc::new(FixedToken))?);
    for (path, size) in [("small", 1024), ("large", 1024 * 1024)] {
        let uri = format!("/api/proxy/api/{path}");
        for _ in 0..200 {
            proxied(&app, &uri, size).await?;
        }
        let region = Region::new(GLOBAL);
        for _ in 0..n {
            proxied(&app, &uri, size).await?;
        }
        let stats = region.change();
        let per = |count: usize| count as f64 / n as f64;
        println!(
            "{path} ({size} B): {:.1} allocations + {:.1} reallocations per request, {:.0} bytes allocated ({n} requests)",
            per(stats.allocations),
            per(stats.reallocations),
            per(stats.bytes_allocated + stats.bytes_reallocated.max(0) as usize),
        );
    }
    Ok(())
}

/// One request through the router, its body read to the end and dropped.
async fn proxied(app: &Router, uri: &str, size: usize) -> Result<(), Box<dyn std::error::Error>> {
    let request = Request::get(uri).header(header::ACCEPT, "*/*").body(Body::empty())?;
    let response = app.clone().oneshot(request).await?;
    if response.status() != StatusCode::OK {
        return Err(format!("{uri}: {}", response.status()).into());
    }
    let mut body = response.into_body();
    let mut seen = 0;
    while let Some(frame) = body.frame().await {
        seen += frame?.data_ref().map_or(0, Bytes::len);
    }
    if seen != size {
        return Err(format!("{uri}: {seen} bytes, not {size}").into());
    }
    Ok(())
}

/// The API, in a process of its own (so not counted): 1 KiB and 1 MiB answers
/// to a Bearer token, as `resource_api` gives.
fn serve_api() -> Result<(), Box<dyn std::error::Error>> {
    let small = Bytes::from(vec![b's'; 1024]);
    let large = Bytes::from(vec![b'l'; 1024 * 1024]);
    let app = Router::new()
        .route("/small", get(move |headers: HeaderMap| std::future::ready(protected(&headers, small.clone()))))
        .route("/large", get(move |headers: HeaderMap| std::future::ready(protected(&headers, large.clone()))));
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on {}", listener.local_addr()?);
        std::io::stdout().flush()?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}

fn protected(headers: &HeaderMap, body: Bytes) -> Response {
    if headers.get(header::AUTHORIZATION).is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}
