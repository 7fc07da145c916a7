//! An authorization server for the three-legged flow across replicas: it
//! consents at once, serves the client-credentials, code and refresh grants, and
//! rotates refresh tokens (each accepted once; a reuse is `invalid_grant`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::lock;
use super::served::Served;

/// How [`CodeUpstream`] answers.
#[derive(Debug, Clone, Copy)]
pub struct CodeUpstreamSettings {
    /// `expires_in` of client-credentials tokens (`cc-N`).
    pub app_ttl_secs: u64,
    /// `expires_in` of user tokens (`user-N`).
    pub user_ttl_secs: u64,
    /// Every token request waits this long after being counted, so bursts overlap.
    pub delay: Duration,
}

#[derive(Debug, Default)]
struct CodeState {
    next: AtomicU64,
    client_credentials: AtomicUsize,
    code_grants: AtomicUsize,
    refresh_grants: AtomicUsize,
    invalid_grants: AtomicUsize,
    codes: Mutex<HashSet<String>>,
    /// The refresh tokens that are still valid; a used one is removed on arrival.
    refresh_tokens: Mutex<HashSet<String>>,
    /// Each user token issued, and when.
    user_tokens: Mutex<Vec<(String, Instant)>>,
}

/// An authorization server for the three-legged flow: `GET /authorize` redirects
/// straight back with a code (the user "consents" at once); `POST /token`
/// serves `client_credentials`, `authorization_code` and `refresh_token`, and
/// rotates refresh tokens: each is accepted once, a reuse is `invalid_grant`.
#[derive(Debug)]
pub struct CodeUpstream {
    served: Served,
    settings: CodeUpstreamSettings,
    state: Arc<CodeState>,
}

impl CodeUpstream {
    pub async fn start(settings: CodeUpstreamSettings) -> Self {
        let state = Arc::new(CodeState::default());
        let router = axum::Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state((Arc::clone(&state), settings));
        Self { served: Served::start(router).await, settings, state }
    }

    pub fn url(&self, path: &str) -> String {
        self.served.url(path)
    }

    pub fn settings(&self) -> CodeUpstreamSettings {
        self.settings
    }

    /// Client-credentials requests received (counted on arrival).
    pub fn client_credentials(&self) -> usize {
        self.state.client_credentials.load(Ordering::SeqCst)
    }

    pub fn code_grants(&self) -> usize {
        self.state.code_grants.load(Ordering::SeqCst)
    }

    pub fn refresh_grants(&self) -> usize {
        self.state.refresh_grants.load(Ordering::SeqCst)
    }

    /// Refresh requests with an unknown or already-used refresh token.
    pub fn invalid_grants(&self) -> usize {
        self.state.invalid_grants.load(Ordering::SeqCst)
    }

    /// When `token` was issued; panics if it is not a user token from here.
    pub fn user_token_issued_at(&self, token: &str) -> Instant {
        lock(&self.state.user_tokens)
            .iter()
            .find(|(t, _)| t == token)
            .map(|(_, at)| *at)
            .unwrap_or_else(|| panic!("the upstream never issued user token `{token}`"))
    }
}

type CodeCtx = State<(Arc<CodeState>, CodeUpstreamSettings)>;

async fn authorize(State((state, _)): CodeCtx, Query(query): Query<HashMap<String, String>>) -> Response {
    let (Some(redirect), Some(st)) = (query.get("redirect_uri"), query.get("state")) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri and state are required").into_response();
    };
    let code = format!("code-{}", state.next.fetch_add(1, Ordering::SeqCst));
    lock(&state.codes).insert(code.clone());
    let mut location = url::Url::parse(redirect).expect("redirect_uri is a URL");
    location.query_pairs_mut().append_pair("code", &code).append_pair("state", st);
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

async fn token(State((state, settings)): CodeCtx, Form(form): Form<HashMap<String, String>>) -> Response {
    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    let accepted = match grant {
        "client_credentials" => {
            state.client_credentials.fetch_add(1, Ordering::SeqCst);
            true
        }
        "authorization_code" => {
            state.code_grants.fetch_add(1, Ordering::SeqCst);
            form.get("code").is_some_and(|c| lock(&state.codes).remove(c)) && form.contains_key("code_verifier")
        }
        "refresh_token" => {
            state.refresh_grants.fetch_add(1, Ordering::SeqCst);
            // Removed on arrival: a second, concurrent use of the same token is a reuse.
            let ok = form.get("refresh_token").is_some_and(|t| lock(&state.refresh_tokens).remove(t));
            if !ok {
                state.invalid_grants.fetch_add(1, Ordering::SeqCst);
            }
            ok
        }
        _ => return oauth_error("unsupported_grant_type"),
    };
    tokio::time::sleep(settings.delay).await;
    if !accepted {
        return oauth_error("invalid_grant");
    }
    let n = state.next.fetch_add(1, Ordering::SeqCst);
    let body = if grant == "client_credentials" {
        serde_json::json!({ "access_token": format!("cc-{n}"), "token_type": "Bearer", "expires_in": settings.app_ttl_secs })
    } else {
        let access = format!("user-{n}");
        let refresh = format!("rt-{n}");
        lock(&state.refresh_tokens).insert(refresh.clone());
        lock(&state.user_tokens).push((access.clone(), Instant::now()));
        serde_json::json!({
            "access_token": access, "token_type": "Bearer",
            "expires_in": settings.user_ttl_secs, "refresh_token": refresh,
        })
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn oauth_error(error: &str) -> Response {
    let body = serde_json::json!({ "error": error }).to_string();
    (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
