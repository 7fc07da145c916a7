//! A forward HTTP proxy that answers instead of forwarding: it records each
//! request head it receives (absolute-form, as clients send them to a proxy)
//! and answers a token request (a path ending in `/token`) with a token, any
//! other with a fixed text, so a test sees which requests went through it.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::lock;

/// The token it hands out, and the body of every other answer.
pub const TOKEN: &str = "token-via-forward-proxy";
pub const BODY: &str = "answered by the forward proxy";

/// Stops serving when dropped.
#[derive(Debug)]
pub struct ForwardProxy {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ForwardProxy {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&heads);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, Arc::clone(&recorded)));
            }
        });
        Self { url, heads, task }
    }

    /// `http://127.0.0.1:PORT`, for `HTTP_PROXY`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request head received so far (request line and headers).
    pub fn heads(&self) -> Vec<String> {
        lock(&self.heads).clone()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request per connection: its head recorded and its body read, then
/// answered and closed.
async fn answer(mut stream: TcpStream, heads: Arc<Mutex<Vec<String>>>) {
    let mut received = Vec::new();
    let mut buf = [0_u8; 4096];
    let head_end = loop {
        if let Some(i) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while received.len() < head_end + length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
    let is_token_request =
        head.lines().next().is_some_and(|line| line.split(' ').nth(1).is_some_and(|t| t.ends_with("/token")));
    lock(&heads).push(head);
    let (content_type, body) = if is_token_request {
        ("application/json", format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":3600}}"#))
    } else {
        ("text/plain", BODY.to_owned())
    };
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
}
