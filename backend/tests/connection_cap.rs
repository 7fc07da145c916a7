//! The connection cap against the real binary, over raw sockets (issue 18,
//! item 6): browsers that preconnect and send a moment later are all answered,
//! with the default cap and beyond a small one; at the cap, answered idle
//! connections make room first, fresh ones only once silent well beyond a
//! preconnect, and one that has started sending a request never; out of
//! descriptors, idle connections make room instead of the accept loop stalling.

mod common;

use std::time::Duration;

use common::binary::BrokerProcess;
use common::raw_http::{Answer, allow_descriptors, connect, exchange, get_request, is_closed};
use common::{PATIENCE, has_read_everything, is_accepted, port_of, wait_until};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// One test at a time: a burst of 1,000 clients would otherwise slow the tests
/// whose fresh connection must send within a second of its accept.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// A request head cut before its end, and the rest of it.
const HALF_SENT: &str = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
const REST: &str = "1\r\n\r\n";

/// `clients` browsers that each open a connection, send `GET /api/token` 250 to
/// 300 ms later (as a preconnect does), read the answer and keep the connection
/// open until all are done, as keep-alive clients do. The answers, in order.
async fn preconnect_burst(broker: &BrokerProcess, clients: usize) -> Vec<Answer> {
    let mut tasks = JoinSet::new();
    for i in 0..clients {
        let base = broker.base.clone();
        tasks.spawn(async move {
            let mut stream = connect(&base).await;
            // The moment between a preconnect and its request is the scenario, not a wait for a condition.
            tokio::time::sleep(Duration::from_millis(250 + (i % 51) as u64)).await;
            (i, exchange(&mut stream, &get_request("/api/token", false)).await, stream)
        });
    }
    let mut answers = vec![Answer::Silent; clients];
    let mut open = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, answer, stream) = done.expect("client task");
        answers[i] = answer;
        open.push(stream);
    }
    answers
}

fn tally(answers: &[Answer]) -> String {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for answer in answers {
        *counts.entry(format!("{answer:?}")).or_default() += 1;
    }
    format!("{counts:?}")
}

/// 1,000 browsers preconnecting at once all get their token with the default
/// settings (before: the cap was 512, and a connection quiet for 250 ms since
/// its accept was closed, so about half got an empty answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preconnect_burst_of_1000_is_answered_with_default_settings() {
    let _serial = ONE_AT_A_TIME.lock().await;
    allow_descriptors(1_200);
    let broker = BrokerProcess::start(&["--dev"], &[]).await;
    let answers = preconnect_burst(&broker, 1_000).await;
    assert!(answers.iter().all(|a| a.status() == Some(200)), "{}", tally(&answers));
}

/// The same burst against a cap of 50: the connections answered first make
/// room, and no client that preconnected is closed before it sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preconnect_burst_far_beyond_the_cap_is_answered() {
    let _serial = ONE_AT_A_TIME.lock().await;
    allow_descriptors(1_200);
    let broker = BrokerProcess::start(&["--dev"], &[("MAX_CONNECTIONS", "50")]).await;
    let answers = preconnect_burst(&broker, 1_000).await;
    assert!(answers.iter().all(|a| a.status() == Some(200)), "{}", tally(&answers));
}

/// A broker with room for two connections, whose header-read timeout is long,
/// so only making room closes idle connections.
async fn broker_with_two_places() -> BrokerProcess {
    BrokerProcess::start(&["--dev"], &[("MAX_CONNECTIONS", "2"), ("HEADER_READ_TIMEOUT_SECS", "600")]).await
}

/// Connects, and waits until the broker has accepted the connection.
async fn accepted(broker: &BrokerProcess) -> TcpStream {
    let stream = connect(&broker.base).await;
    let ports = (port_of(&broker.base), stream.local_addr().expect("local addr").port());
    wait_until("the broker to accept the connection", || async move { is_accepted(ports) }).await;
    stream
}

/// At the cap, an idle keep-alive connection that has been answered makes room
/// for a waiting client, while a fresh one, which has sent nothing yet, stays
/// open and is answered when it sends.
#[tokio::test]
async fn answered_idle_connections_make_room_before_fresh_ones() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let broker = broker_with_two_places().await;
    let mut answered = accepted(&broker).await;
    let keep_alive = get_request("/healthz", false);
    assert_eq!(exchange(&mut answered, &keep_alive).await.status(), Some(200));
    let mut fresh = accepted(&broker).await;
    let mut waiting = connect(&broker.base).await;
    assert_eq!(exchange(&mut waiting, &keep_alive).await.status(), Some(200), "the waiting client got a place");
    assert!(is_closed(&mut answered, PATIENCE).await, "the answered idle connection made room");
    let answer = exchange(&mut fresh, &keep_alive).await;
    assert_eq!(answer.status(), Some(200), "the fresh connection was kept: {answer:?}");
}

/// At the cap, a connection in the middle of sending its request head is never
/// closed to make room, however long it pauses; a fresh one silent past the
/// threshold is.
#[tokio::test]
async fn a_connection_that_has_started_a_request_is_never_closed_to_make_room() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let broker = broker_with_two_places().await;
    let mut started = accepted(&broker).await;
    started.write_all(HALF_SENT.as_bytes()).await.expect("send half a request");
    let ports = (port_of(&broker.base), started.local_addr().expect("local addr").port());
    wait_until("the broker to read the half-sent request", || async move { has_read_everything(ports) }).await;
    let mut fresh = accepted(&broker).await;
    let mut waiting = connect(&broker.base).await;
    let answer = exchange(&mut waiting, &get_request("/healthz", true)).await;
    assert_eq!(answer.status(), Some(200), "the silent fresh connection made room: {answer:?}");
    assert!(is_closed(&mut fresh, PATIENCE).await, "the silent fresh connection was closed");
    // Silent for at least the fresh threshold by now, and still open.
    let answer = exchange(&mut started, REST).await;
    assert_eq!(answer.status(), Some(200), "the half-sent request was kept and answered: {answer:?}");
}

/// When accepting fails because the process is out of descriptors (here a
/// `MAX_CONNECTIONS` above `ulimit -n 256`, which the broker warns about), idle
/// connections are closed to free descriptors and a new client is answered;
/// before, the accept loop retried every 100 ms until the header-read timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_idle_connections_make_room() {
    let _serial = ONE_AT_A_TIME.lock().await;
    allow_descriptors(600);
    let env = [("MAX_CONNECTIONS", "1000"), ("HEADER_READ_TIMEOUT_SECS", "600")];
    let broker = BrokerProcess::start_with_descriptor_limit(256, &["--dev"], &env).await;
    assert!(broker.stderr.lines().iter().any(|l| l.contains("descriptor limit is too low")), "warned at start-up");
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(connect(&broker.base).await);
    }
    wait_until("the broker to run out of descriptors", || async {
        broker.stderr.lines().iter().any(|l| l.contains("out of descriptors"))
    })
    .await;
    let mut client = connect(&broker.base).await;
    let answer = exchange(&mut client, &get_request("/healthz", true)).await;
    assert_eq!(answer.status(), Some(200), "{answer:?}");
}
