//! Benchmark client: N concurrent GETs, one raw TCP connection each, released
//! together, counting how each ended, so `bench/proxied-burst.sh` can show that
//! a burst through the proxy gets statuses (`200`, or `503` with `Retry-After`),
//! never a reset or an empty answer. Raw sockets, because an HTTP client library
//! would retry or hide exactly those.
//!
//! ```text
//! cargo run --release -p token-backend --example proxied_burst -- URL [N]
//! ```
//!
//! N defaults to 1,000. Prints one JSON line: requests, the count per outcome
//! (`200`, `503`, ..., `reset`, `empty`, `timeout`) and the median and maximum
//! time to an answer in milliseconds. Raise this process's descriptor limit
//! (`ulimit -n`) above N first.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

/// How long one request may take before it counts as `timeout`.
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = url::Url::parse(&args.next().ok_or("usage: proxied_burst URL [N]")?)?;
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000);
    let addr = format!("{}:{}", url.host_str().ok_or("URL without host")?, url.port_or_known_default().unwrap_or(80));
    let request = format!("GET {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n", url.path());
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (addr, request, barrier) = (addr.clone(), request.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let started = Instant::now();
                let outcome =
                    tokio::time::timeout(PATIENCE, one(&addr, &request)).await.unwrap_or_else(|_| "timeout".to_owned());
                (outcome, started.elapsed())
            })
        })
        .collect();
    let mut outcomes = BTreeMap::<String, usize>::new();
    let mut millis = Vec::with_capacity(n);
    for task in tasks {
        let (outcome, elapsed) = task.await?;
        *outcomes.entry(outcome).or_default() += 1;
        millis.push(elapsed.as_secs_f64() * 1000.0);
    }
    millis.sort_by(f64::total_cmp);
    let counts: Vec<String> = outcomes.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    println!(
        "{{\"requests\":{n},\"outcomes\":{{{}}},\"p50_ms\":{:.0},\"max_ms\":{:.0}}}",
        counts.join(","),
        millis[millis.len() / 2],
        millis.last().copied().unwrap_or_default()
    );
    Ok(())
}

/// One request on its own connection: the status (`503` only with
/// `Retry-After`, else `503-without-retry-after`), `reset` or `empty`.
async fn one(addr: &str, request: &str) -> String {
    let mut stream = match TcpStream::connect(addr).await {
        Ok(stream) => stream,
        Err(e) => return format!("connect-{:?}", e.kind()),
    };
    if let Err(e) = stream.write_all(request.as_bytes()).await {
        return if e.kind() == ErrorKind::ConnectionReset { "reset".into() } else { "empty".into() };
    }
    let mut answer = Vec::new();
    if let Err(e) = stream.read_to_end(&mut answer).await {
        if e.kind() == ErrorKind::ConnectionReset && answer.is_empty() {
            return "reset".into();
        }
    }
    let head = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    match head.split(' ').nth(1).filter(|_| head.contains("\r\n\r\n")) {
        Some("503") if !head.contains("\r\nretry-after:") => "503-without-retry-after".into(),
        Some(status) => status.to_owned(),
        None => "empty".into(),
    }
}
