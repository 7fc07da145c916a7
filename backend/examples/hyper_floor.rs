//! The floor under the broker's API proxy: the least a proxy built on the
//! broker's own HTTP stack (tokio, hyper's server, hyper-util's pooled client,
//! mimalloc) does per request, nothing else (no routing, limits, timers,
//! allowlists, metrics or token cache; one fixed `Authorization` header, as
//! `bench/proxy.sh` gives nginx). `bench/proxy.sh` with `FLOOR=1` measures it
//! beside the broker and nginx (issue 20): what the stack costs, and so what
//! the broker's own request path adds.
//!
//!   hyper_floor pool   API_HOST:PORT   # hyper-util's pooled client, as the broker uses
//!   hyper_floor affine API_HOST:PORT   # one upstream connection per client connection, in its task
//!   hyper_floor axum   API_HOST:PORT   # `pool`'s forward as an axum handler on the proxy's route
//!   hyper_floor app    API_HOST:PORT   # the broker's own router, on plain hyper
//!
//! `affine` is the design the pool was suspected of costing against: the
//! upstream connection driven inside the client connection's task (no pool,
//! no hand-off between tasks). `app` serves the broker's real router
//! (`token_backend::app` with `PROXY_API=api=…` and a fixed cached token, so
//! `/api/proxy/api/…`) through plain hyper, without the broker's connection
//! handling (`server/`: roster, idle and header timers): from `pool` to `axum`
//! is axum's routing and body types, from `axum` to `app` the broker's app and
//! proxy steps, from `app` to the broker its connection handling. Prints
//! `listening on ADDR`.

use std::sync::{Arc, Mutex};

use axum::response::IntoResponse;
use http::{HeaderValue, Request, Uri, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use token_backend::config::Cli;
use token_backend::{AppState, Config};
use tokio::net::{TcpListener, TcpStream};

#[path = "support/fixed_token.rs"]
mod fixed_token;
use fixed_token::FixedToken;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BEARER: HeaderValue = HeaderValue::from_static("Bearer bench");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(mode), Some(api)) = (args.next(), args.next()) else {
        return Err("usage: hyper_floor pool|affine|axum|app API_HOST:PORT".into());
    };
    let mode = match mode.as_str() {
        "pool" => Mode::Pool,
        "affine" => Mode::Affine,
        "axum" => Mode::Router(axum_route(api.clone())),
        "app" => {
            let cli = <Cli as clap::Parser>::parse_from([
                "hyper_floor",
                "--dev",
                "--proxy-api",
                &format!("api=http://{api}/"),
            ]);
            Mode::Router(token_backend::app(AppState::with_source(Config::from_cli(cli)?, Arc::new(FixedToken))?))
        }
        _ => return Err(format!("unknown mode {mode:?}: pool, affine, axum or app").into()),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new()).build(connector);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (api, client, mode) = (api.clone(), client.clone(), mode.clone());
        tokio::spawn(async move {
            let served = match mode {
                Mode::Pool => serve_pooled(stream, api, client).await.map_err(Into::into),
                Mode::Affine => serve_affine(stream, &api).await,
                Mode::Router(app) => {
                    let service = TowerToHyperService::new(app);
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service).await.map_err(Into::into)
                }
            };
            if let Err(e) = served {
                eprintln!("connection: {e}");
            }
        });
    }
}

#[derive(Clone)]
enum Mode {
    Pool,
    Affine,
    /// `axum` and `app`: a router served as it is.
    Router(axum::Router),
}

/// The `pool` forward as an axum handler on the broker's route pattern: what
/// axum's routing and body types add to the floor, before any of the broker's steps.
fn axum_route(api: String) -> axum::Router {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, axum::body::Body> = Client::builder(TokioExecutor::new()).build(connector);
    let forward = move |mut request: axum::extract::Request| {
        let client = client.clone();
        // `/api/proxy/NAME/REST` → `http://API/REST`, the query kept.
        let rest = request.uri().path_and_query().map_or("", |p| p.as_str()).splitn(5, '/').nth(4).unwrap_or("");
        let target = format!("http://{api}/{rest}").parse::<Uri>();
        async move {
            let Ok(target) = target else { return http::StatusCode::BAD_REQUEST.into_response() };
            *request.uri_mut() = target;
            request.headers_mut().insert(header::AUTHORIZATION, BEARER);
            match client.request(request).await {
                Ok(response) => response.map(axum::body::Body::new).into_response(),
                Err(_) => http::StatusCode::BAD_GATEWAY.into_response(),
            }
        }
    };
    axum::Router::new().route("/api/proxy/{name}/{*path}", axum::routing::any(forward))
}

async fn serve_pooled(stream: TcpStream, api: String, client: Client<HttpConnector, Incoming>) -> hyper::Result<()> {
    let forward = service_fn(move |mut request: Request<Incoming>| {
        let client = client.clone();
        let target = format!("http://{api}{}", request.uri().path_and_query().map_or("/", |p| p.as_str()));
        async move {
            *request.uri_mut() = target.parse::<Uri>().map_err(std::io::Error::other)?;
            request.headers_mut().insert(header::AUTHORIZATION, BEARER);
            client.request(request).await.map_err(std::io::Error::other)
        }
    });
    http1::Builder::new().serve_connection(TokioIo::new(stream), forward).await
}

async fn serve_affine(stream: TcpStream, api: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let upstream = TcpStream::connect(api).await?;
    upstream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await?;
    // HTTP/1.1 serves one request at a time, so the sender is taken, used, put back.
    let sender = Arc::new(Mutex::new(Some(sender)));
    let forward = service_fn(move |mut request: Request<Incoming>| {
        let slot = Arc::clone(&sender);
        request.headers_mut().insert(header::AUTHORIZATION, BEARER);
        async move {
            let mut sender = slot
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .take()
                .ok_or_else(|| std::io::Error::other("busy"))?;
            sender.ready().await.map_err(std::io::Error::other)?;
            let response = sender.send_request(request);
            *slot.lock().map_err(|_| std::io::Error::other("poisoned"))? = Some(sender);
            response.await.map_err(std::io::Error::other)
        }
    });
    let server = http1::Builder::new().serve_connection(TokioIo::new(stream), forward);
    // Both connections in this task: the upstream one is polled whenever the client's is.
    tokio::select! {
        served = server => served?,
        ended = connection => ended?,
    }
    Ok(())
}
