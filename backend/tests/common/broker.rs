//! The broker in-process: the real router on a loopback port inside the test.

use token_backend::{AppState, app, server};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::config::config_from_args;

/// The real router served on a loopback port inside the test process.
#[derive(Debug)]
pub struct Broker {
    pub base: String,
    shutdown: Option<oneshot::Sender<()>>,
    _built: Option<token_backend::app::Built>,
}

impl Broker {
    /// Configures the broker from command-line flags only (environment fallbacks
    /// are stripped) and serves it. `--public-dir` and `--bind-addr` are supplied.
    pub async fn start(args: &[&str]) -> Self {
        let config = config_from_args(args).unwrap_or_else(|e| panic!("invalid test configuration:\n{e}"));
        let built = AppState::build(config).await.expect("broker starts");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind broker");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let router = app(built.state.clone());
        tokio::spawn(server::run(listener, router, async move {
            let _ = rx.await;
        }));
        Self { base: format!("http://{addr}"), shutdown: Some(tx), _built: Some(built) }
    }

    /// A broker for the generic preset against `token_url`, plus extra flags.
    pub async fn generic(token_url: &str, extra: &[&str]) -> Self {
        let mut args = vec![
            "--provider",
            "generic",
            "--token-url",
            token_url,
            "--client-id",
            "broker",
            "--client-secret",
            "broker-secret",
        ];
        args.extend_from_slice(extra);
        Self::start(&args).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
