//! Slow, idle and numerous clients against the real binary, over raw sockets
//! (issue 10, section 2): a half-sent request, an idle keep-alive connection and
//! a client that stopped reading are closed, open connections are capped so
//! descriptors cannot run out, and a half-sent request cannot hold shutdown open.

mod common;

use std::time::{Duration, Instant};

use common::binary::BrokerProcess;
use common::broker::BrokerBuilder;
use common::{PATIENCE, get, http_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request whose headers never end.
const HALF_SENT: &[u8] = b"GET /api/token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

async fn connect(broker: &BrokerProcess) -> TcpStream {
    let addr = broker.base.trim_start_matches("http://");
    TcpStream::connect(addr).await.expect("connect to the broker")
}

/// Reads until the server closes the connection; the time that took.
async fn time_until_closed(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the connection was still open after {PATIENCE:?}"),
        }
    }
}

/// Open descriptors of the process.
fn descriptors(broker: &BrokerProcess) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", broker.pid())).expect("read /proc/PID/fd").count()
}

/// A client that sends half a request head and stops is disconnected after the
/// header-read timeout, not kept forever.
#[tokio::test]
async fn half_sent_request_is_closed_after_the_header_read_timeout() {
    let broker = BrokerBuilder::dev().env(&[("HEADER_READ_TIMEOUT_SECS", "1")]).spawn().await;
    let mut stream = connect(&broker).await;
    stream.write_all(HALF_SENT).await.expect("send half a request");
    let closed_after = time_until_closed(&mut stream).await;
    assert!(closed_after >= Duration::from_millis(900), "closed too early: {closed_after:?}");
}

/// A keep-alive connection that sends nothing after its response is closed too.
#[tokio::test]
async fn idle_keep_alive_connection_is_closed() {
    let broker = BrokerBuilder::dev().env(&[("HEADER_READ_TIMEOUT_SECS", "1")]).spawn().await;
    let mut stream = connect(&broker).await;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.expect("send a request");
    let mut response = vec![0u8; 1024];
    let n = stream.read(&mut response).await.expect("read the response");
    assert!(response[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&response[..n]));
    time_until_closed(&mut stream).await;
}

/// Hundreds of idle connections cannot exhaust the broker's descriptors, and
/// `/api/token` still answers at once: at the cap, quiet connections make room
/// (the header-read timeout is long here, so it is not what frees them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_capped_and_the_token_route_still_answers() {
    const CAP: usize = 20;
    let broker =
        BrokerBuilder::dev().env(&[("MAX_CONNECTIONS", "20"), ("HEADER_READ_TIMEOUT_SECS", "600")]).spawn().await;
    let baseline = descriptors(&broker);
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(connect(&broker).await);
    }
    // Let the broker accept all it will (up to the cap) before counting.
    common::wait_until("the broker to accept up to its cap", || async { descriptors(&broker) >= baseline + CAP }).await;
    let open = descriptors(&broker);
    assert!(open <= baseline + CAP + 4, "{open} descriptors open, {baseline} before 200 idle connections");
    let reply = get(&http_client(), &broker.url("/api/token")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.latency < Duration::from_secs(10), "/api/token took {:?} behind idle connections", reply.latency);
    assert!(descriptors(&broker) <= baseline + CAP + 4);
}

/// A client that stops reading a large response is disconnected after the idle
/// timeout, instead of holding a connection and a blocked write forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_stops_reading_is_closed_after_the_idle_timeout() {
    const SIZE: usize = 48 * 1024 * 1024;
    let public = common::scratch_dir().join(format!("idle-{}", std::process::id()));
    std::fs::create_dir_all(&public).expect("create public dir");
    std::fs::write(public.join("big.bin"), vec![b'x'; SIZE]).expect("write a large file");
    let public = public.to_str().expect("utf-8 path").to_owned();
    let broker = BrokerBuilder::dev().env(&[("PUBLIC_DIR", &public), ("IDLE_TIMEOUT_SECS", "1")]).spawn().await;
    let baseline = descriptors(&broker);
    let mut stream = connect(&broker).await;
    stream.write_all(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.expect("send a request");
    common::wait_until("the broker to accept the connection", || async { descriptors(&broker) > baseline }).await;
    // Not reading: the socket buffers fill, the broker's write stalls, and the idle timeout closes it.
    common::wait_until("the broker to close the stalled connection", || async { descriptors(&broker) <= baseline })
        .await;
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received).await;
    assert!(received.len() < SIZE, "the whole {SIZE}-byte response arrived: the connection was never closed");
    drop(broker);
    let _ = std::fs::remove_dir_all(&public);
}

/// After SIGTERM a half-sent request holds the process at most the shutdown deadline.
#[tokio::test]
async fn half_sent_request_cannot_hold_shutdown_open() {
    let mut broker =
        BrokerBuilder::dev().env(&[("HEADER_READ_TIMEOUT_SECS", "600"), ("SHUTDOWN_TIMEOUT_SECS", "1")]).spawn().await;
    let mut stream = connect(&broker).await;
    stream.write_all(HALF_SENT).await.expect("send half a request");
    // The broker must have accepted the connection and read the half request
    // before the signal, or there is nothing in flight to hold shutdown open.
    let ports = (port_of(&broker.base), stream.local_addr().expect("local addr").port());
    common::wait_until("the broker to read the half-sent request", || async move { has_read_everything(ports) }).await;
    let status =
        std::process::Command::new("kill").args(["-TERM", &broker.pid().to_string()]).status().expect("run kill");
    assert!(status.success());
    let signalled = Instant::now();
    let exited = broker.wait_for_exit(Duration::from_secs(10)).await;
    let exited = exited.unwrap_or_else(|| panic!("still running {:?} after SIGTERM", signalled.elapsed()));
    assert!(exited.success(), "{exited}");
}

fn port_of(base: &str) -> u16 {
    base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port in the base URL")
}

/// Whether the broker's end of the connection from `client_port` exists and has
/// no unread bytes, from the kernel's socket table (`/proc/net/tcp`: local and
/// remote `ADDR:PORT` in hex, then state, then `tx_queue:rx_queue`).
fn has_read_everything((broker_port, client_port): (u16, u16)) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    let port = |field: &str| field.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 4
            && port(fields[1]) == Some(broker_port)
            && port(fields[2]) == Some(client_port)
            && fields[4].split(':').nth(1).is_some_and(|rx| u64::from_str_radix(rx, 16) == Ok(0))
    })
}
