//! Benchmark ceiling: the cheapest possible axum server, answering every request
//! with the same ~90-byte JSON body. `bench/run.sh` runs it beside the broker to
//! show the most this machine and load generator can measure.
//!
//! ```text
//! cargo run --release -p token-backend --example calibration -- [PORT]
//! ```
//!
//! Same runtime as the broker (`#[tokio::main]`, default worker count) and same
//! axum version, but no middleware and no cache: what is left is the cost of HTTP.
//! Port 0 (the default) picks a free port; the address is printed on stdout.

use std::io::Write;

use axum::Router;
use axum::http::header;
use axum::routing::get;

/// Shaped like the broker's token response, so both send about the same bytes.
const BODY: &str = r#"{"access_token":"abcdefghijklmnopqrstuvwxyzabcdef","token_type":"Bearer","expires_in":3599}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let app = Router::new().route("/api/token", get(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}
