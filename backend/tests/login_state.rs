//! Pending sign-ins live in an encrypted cookie, not a server session (issue 10,
//! section 3): anonymous `GET /auth/login` floods cannot grow the broker's
//! memory, and sign-in still works afterwards.

mod common;

use std::time::Duration;

use common::broker::BrokerBuilder;
use common::code_upstream::{CodeUpstream, CodeUpstreamSettings};
use common::manual_client;
use common::replicas::{set_cookie, set_cookie_named, sign_in, user_token, with_sign_in};
use common::{free_port, get};

/// Resident memory of the process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// `count` cookieless logins from 20 clients at once; each gets a redirect and a
/// login-state cookie, and no session cookie.
async fn cookieless_logins(client: &reqwest::Client, base: &str, count: usize) {
    let url = format!("{base}/auth/login");
    let workers = (0..20).map(|_| async {
        for _ in 0..count / 20 {
            let reply = get(client, &url).await;
            assert_eq!(reply.status, 302, "{}", reply.body);
            assert!(set_cookie_named(&reply, "login_state").is_some());
            assert_eq!(set_cookie(&reply), None, "a cookieless login created a session");
        }
    });
    futures_util::future::join_all(workers).await;
}

/// 20,000 cookieless logins leave the broker's memory within 2 MB of where it
/// started (each used to store a 15-minute session), and sign-in still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookieless_logins_do_not_grow_memory() {
    let upstream =
        CodeUpstream::start(CodeUpstreamSettings { app_ttl_secs: 3600, user_ttl_secs: 3600, delay: Duration::ZERO })
            .await;
    let port = free_port();
    let broker = BrokerBuilder::generic(&upstream.url("/token")).env(&[("BIND_ADDR", &format!("127.0.0.1:{port}"))]);
    let broker = with_sign_in(broker, &upstream, port).spawn().await;
    let client = manual_client();
    // Warm-up: thread stacks, allocator arenas and connection buffers reach their working size.
    cookieless_logins(&client, &broker.base, 2_000).await;
    let before = rss_kib(broker.pid());
    cookieless_logins(&client, &broker.base, 20_000).await;
    let after = rss_kib(broker.pid());
    println!("RSS before 20,000 cookieless logins: {before} KiB; after: {after} KiB");
    assert!(after <= before + 2048, "memory grew from {before} KiB to {after} KiB");

    let cookie = sign_in(&client, &broker.base).await;
    assert_eq!(user_token(&client, &broker.base, &cookie).await.status, 200);
}
