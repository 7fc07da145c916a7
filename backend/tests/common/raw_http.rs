//! HTTP/1.1 over raw sockets, for the tests that must tell a reset or an empty
//! answer from a status (an HTTP client library would retry or hide them):
//! connecting many clients, and reading one answer each as what it was.

use std::io::ErrorKind;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::PATIENCE;

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A complete response head (and, with `Content-Length`, its body).
    Status { status: u16, retry_after: Option<String> },
    /// The connection was reset.
    Reset,
    /// The connection closed before a complete response head.
    Empty,
    /// No answer within [`PATIENCE`].
    Silent,
}

impl Answer {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A connection to `base` (`http://HOST:PORT`).
pub async fn connect(base: &str) -> TcpStream {
    TcpStream::connect(base.trim_start_matches("http://")).await.expect("connect to the broker")
}

/// `GET target` as a browser sends it (keep-alive unless `close`).
pub fn get_request(target: &str, close: bool) -> String {
    let connection = if close { "close" } else { "keep-alive" };
    format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: {connection}\r\n\r\n")
}

/// Sends `target` with these raw header lines (which must close the
/// connection); returns the status, the head and the body.
pub async fn get_raw(addr: std::net::SocketAddr, target: &str, headers: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// Sends `request` and reads one answer: the head, then a `Content-Length` body,
/// or everything until the server closes when there is none.
pub async fn exchange(stream: &mut TcpStream, request: &str) -> Answer {
    if let Err(e) = stream.write_all(request.as_bytes()).await {
        return if is_reset(e.kind()) { Answer::Reset } else { Answer::Empty };
    }
    match tokio::time::timeout(PATIENCE, read_answer(stream)).await {
        Ok(answer) => answer,
        Err(_) => Answer::Silent,
    }
}

async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut buf).await {
            Ok(0) => return Answer::Empty,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if is_reset(e.kind()) => return Answer::Reset,
            Err(_) => return Answer::Empty,
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    };
    let retry_after = header("retry-after");
    let mut body = received.len() - head_end;
    match header("content-length").and_then(|n| n.parse::<usize>().ok()) {
        Some(length) => {
            while body < length {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return Answer::Empty,
                    Ok(n) => body += n,
                }
            }
        }
        None => loop {
            match stream.read(&mut buf).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_reset(e.kind()) => return Answer::Reset,
                Err(_) => return Answer::Empty,
            }
        },
    }
    Answer::Status { status, retry_after }
}

fn is_reset(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe)
}

/// Whether the server has closed `stream` (reading gives end of file or a
/// reset), waiting at most `within`.
pub async fn is_closed(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    matches!(tokio::time::timeout(within, stream.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

/// Raises this test process's soft descriptor limit to its hard limit (as the
/// broker does), and checks it allows `needed`: many clients need many sockets.
pub fn allow_descriptors(needed: u64) {
    let raised = token_backend::descriptors::raise_soft_limit().expect("raise the descriptor limit");
    assert!(raised.to >= needed, "this test needs {needed} descriptors; `ulimit -Hn` allows {}", raised.to);
}
