//! Benchmark client: fires N concurrent GETs at a token server whose cache is
//! cold and reports what came back, so `bench/run.sh` can show how many upstream
//! calls a burst of first viewers causes.
//!
//! ```text
//! cargo run --release -p token-backend --example cold_burst -- URL [N]
//! ```
//!
//! Every request gets its own connection (N defaults to 500) and all are released
//! together from a barrier. Prints one JSON line: requests, successes, distinct
//! tokens received, and latency percentiles in milliseconds.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Barrier;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: cold_burst URL [N]")?;
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(500);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let barrier = Arc::new(Barrier::new(n));
    let tasks = (0..n)
        .map(|_| {
            let (client, url, barrier) = (client.clone(), url.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let started = Instant::now();
                let token = match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => r
                        .text()
                        .await
                        .ok()
                        .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
                        .and_then(|v| v.get("access_token").and_then(|t| t.as_str()).map(str::to_owned)),
                    _ => None,
                };
                (token, started.elapsed())
            })
        })
        .collect::<Vec<_>>();
    let mut tokens = HashSet::new();
    let mut ok = 0;
    let mut latencies = Vec::with_capacity(n);
    for task in tasks {
        let (token, elapsed) = task.await?;
        latencies.push(elapsed.as_secs_f64() * 1000.0);
        if let Some(token) = token {
            ok += 1;
            tokens.insert(token);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        r#"{{"requests":{n},"ok":{ok},"distinct_tokens":{},"p50_ms":{:.1},"p99_ms":{:.1},"max_ms":{:.1}}}"#,
        tokens.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}
