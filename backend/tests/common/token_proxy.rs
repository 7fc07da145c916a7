//! A recording proxy in front of the dev server's token and revocation
//! endpoints, so sign-in tests see what the broker sends and which refresh
//! tokens exist.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path as AxumPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::lock;
use super::served::Served;

/// One request forwarded by [`TokenProxy`] and what the dev server answered.
#[derive(Debug, Clone)]
pub struct Forwarded {
    /// `token` or `revoke`.
    pub endpoint: String,
    pub request_headers: HeaderMap,
    pub request_body: String,
    pub status: u16,
    pub response_body: String,
}

impl Forwarded {
    pub fn form(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.request_body.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    pub fn response_json(&self) -> Value {
        serde_json::from_str(&self.response_body).unwrap_or(Value::Null)
    }
}

#[derive(Debug)]
struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    log: Mutex<Vec<Forwarded>>,
}

/// `POST /token` and `POST /revoke`, forwarded verbatim to the dev server and
/// recorded, so tests see what the broker sends and which refresh tokens exist.
#[derive(Debug)]
pub struct TokenProxy {
    served: Served,
    state: Arc<ProxyState>,
}

impl TokenProxy {
    pub async fn start(upstream: &str) -> Self {
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: super::http_client(),
            log: Mutex::default(),
        });
        let router =
            axum::Router::new().route("/{endpoint}", axum::routing::post(forward)).with_state(Arc::clone(&state));
        Self { served: Served::start(router).await, state }
    }

    /// `http://127.0.0.1:PORT{path}`: `/token` and `/revoke` are forwarded.
    pub fn url(&self, path: &str) -> String {
        self.served.url(path)
    }

    pub fn log(&self) -> Vec<Forwarded> {
        lock(&self.state.log).clone()
    }

    /// Forwarded token requests with this `grant_type`.
    pub fn grants(&self, grant_type: &str) -> Vec<Forwarded> {
        self.log()
            .into_iter()
            .filter(|f| f.endpoint == "token" && f.form("grant_type").as_deref() == Some(grant_type))
            .collect()
    }

    /// Every refresh token the dev server issued through this proxy, oldest first.
    pub fn refresh_tokens(&self) -> Vec<String> {
        self.log().iter().filter_map(|f| f.response_json()["refresh_token"].as_str().map(str::to_owned)).collect()
    }

    /// Every access token the dev server issued through this proxy.
    pub fn access_tokens(&self) -> Vec<String> {
        self.log().iter().filter_map(|f| f.response_json()["access_token"].as_str().map(str::to_owned)).collect()
    }
}

async fn forward(
    State(state): State<Arc<ProxyState>>,
    AxumPath(endpoint): AxumPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = state.client.post(format!("{}/{endpoint}", state.upstream)).body(body.clone());
    for name in ["authorization", "content-type", "accept"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.clone());
        }
    }
    let Ok(response) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").cloned();
    let text = response.text().await.unwrap_or_default();
    lock(&state.log).push(Forwarded {
        endpoint,
        request_headers: headers,
        request_body: String::from_utf8_lossy(&body).into_owned(),
        status,
        response_body: text.clone(),
    });
    let mut out = (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), text).into_response();
    if let Some(ct) = content_type {
        out.headers_mut().insert("content-type", ct);
    }
    out
}
