//! A Glimesh-shaped authorization server: what Glimesh documents, and what the
//! ExOauth2Provider-style servers behind it do on the wire.
//!
//! - Client credentials are read from request parameters only (`client_id`,
//!   `client_secret` in the form body or the query); an `Authorization` header is
//!   ignored, so HTTP Basic alone is `401 invalid_client`.
//! - Responses carry `token_type: "bearer"` (lower case), `created_at`,
//!   `expires_in: 21600` and, for client credentials, `refresh_token: null`.
//! - Authorization codes live 60 s, are single-use, and need PKCE S256.
//! - Refresh tokens rotate on every use.
//!
//! Written here rather than taken from npm because no package speaks this
//! dialect (credentials refused in the header, `refresh_token: null`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::lock;
use super::served::Served;
use super::sign_in::s256;

/// The client the fake knows.
pub const GLIMESH_CLIENT_ID: &str = "glimesh-client";
pub const GLIMESH_CLIENT_SECRET: &str = "glimesh-secret-do-not-leak-7f3a";
/// Glimesh's documented token lifetime.
pub const GLIMESH_TOKEN_TTL_SECS: u64 = 21_600;
/// How long an authorization code can be redeemed.
const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// Where a token request carried the client credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsIn {
    Form,
    Query,
    /// Only in an `Authorization` header, which Glimesh does not read.
    HeaderOnly,
    Nowhere,
}

/// One token request as the fake saw it.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub grant_type: String,
    pub credentials_in: CredentialsIn,
    pub had_authorization_header: bool,
    pub status: u16,
}

struct PendingCode {
    redirect_uri: String,
    challenge: String,
    scope: String,
    issued: Instant,
}

#[derive(Default)]
struct Book {
    codes: HashMap<String, PendingCode>,
    refresh_tokens: HashSet<String>,
    requests: Vec<TokenRequest>,
    next: u64,
}

struct Shared {
    /// Lifetime of tokens from the code and refresh grants (client credentials
    /// always get Glimesh's 21600 s), so tests can reach the refresh window.
    user_token_ttl_secs: u64,
    book: Mutex<Book>,
}

impl Shared {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        lock(&self.book)
    }
}

/// The fake on a loopback port; stopped on drop.
pub struct FakeGlimesh {
    served: Served,
    shared: Arc<Shared>,
}

impl FakeGlimesh {
    pub async fn start(user_token_ttl_secs: u64) -> Self {
        let shared = Arc::new(Shared { user_token_ttl_secs, book: Mutex::default() });
        let router = Router::new()
            .route("/oauth/authorize", get(authorize))
            .route("/api/oauth/token", post(token))
            .with_state(Arc::clone(&shared));
        Self { served: Served::start(router).await, shared }
    }

    pub fn token_url(&self) -> String {
        self.served.url("/api/oauth/token")
    }

    pub fn authorize_url(&self) -> String {
        self.served.url("/oauth/authorize")
    }

    /// Every token request so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.shared.book().requests.clone()
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "error": error, "error_description": description }).to_string(),
    )
        .into_response()
}

/// `GET /oauth/authorize`: Glimesh shows a consent page; the fake consents at once.
async fn authorize(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let param = |name: &str| q.get(name).map(String::as_str).unwrap_or_default();
    if param("response_type") != "code" || param("client_id") != GLIMESH_CLIENT_ID {
        return (StatusCode::BAD_REQUEST, "unknown client or response type").into_response();
    }
    if param("code_challenge_method") != "S256" || param("code_challenge").len() < 43 {
        return (StatusCode::BAD_REQUEST, "PKCE with S256 is required").into_response();
    }
    let mut book = shared.book();
    book.next += 1;
    let code = format!("code-{}", book.next);
    book.codes.insert(
        code.clone(),
        PendingCode {
            redirect_uri: param("redirect_uri").to_owned(),
            challenge: param("code_challenge").to_owned(),
            scope: param("scope").to_owned(),
            issued: Instant::now(),
        },
    );
    let mut target = url::Url::parse(param("redirect_uri")).expect("the broker sends an absolute redirect_uri");
    target.query_pairs_mut().append_pair("code", &code).append_pair("state", param("state"));
    Redirect::to(target.as_str()).into_response()
}

/// `POST /api/oauth/token`.
async fn token(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let had_authorization_header = headers.contains_key(header::AUTHORIZATION);
    let (credentials_in, id, secret) = if form.contains_key("client_id") {
        (CredentialsIn::Form, form.get("client_id"), form.get("client_secret"))
    } else if query.contains_key("client_id") {
        (CredentialsIn::Query, query.get("client_id"), query.get("client_secret"))
    } else if had_authorization_header {
        (CredentialsIn::HeaderOnly, None, None)
    } else {
        (CredentialsIn::Nowhere, None, None)
    };
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    let response = if id.map(String::as_str) != Some(GLIMESH_CLIENT_ID)
        || secret.map(String::as_str) != Some(GLIMESH_CLIENT_SECRET)
    {
        oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client_id and client_secret are required parameters")
    } else {
        grant(&shared, &grant_type, &form)
    };
    shared.book().requests.push(TokenRequest {
        grant_type,
        credentials_in,
        had_authorization_header,
        status: response.status().as_u16(),
    });
    response
}

fn grant(shared: &Shared, grant_type: &str, form: &HashMap<String, String>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let mut book = shared.book();
    book.next += 1;
    let serial = book.next;
    let body = match grant_type {
        "client_credentials" => tokens(serial, GLIMESH_TOKEN_TTL_SECS, field("scope"), None),
        "authorization_code" => {
            let Some(pending) = book.codes.remove(field("code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown or used code");
            };
            if pending.issued.elapsed() > CODE_LIFETIME {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "the code expired");
            }
            if pending.redirect_uri != field("redirect_uri") {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri does not match");
            }
            if s256(field("code_verifier")) != pending.challenge {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "code_verifier does not match");
            }
            let refresh = format!("glimesh-refresh-{serial}");
            book.refresh_tokens.insert(refresh.clone());
            tokens(serial, shared.user_token_ttl_secs, &pending.scope, Some(refresh))
        }
        "refresh_token" => {
            if !book.refresh_tokens.remove(field("refresh_token")) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown or used refresh token");
            }
            let refresh = format!("glimesh-refresh-{serial}");
            book.refresh_tokens.insert(refresh.clone());
            tokens(serial, shared.user_token_ttl_secs, "public", Some(refresh))
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "unsupported grant type"),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Glimesh's token response shape.
fn tokens(serial: u64, ttl: u64, scope: &str, refresh_token: Option<String>) -> Value {
    json!({
        "access_token": format!("glimesh-access-{serial}"),
        "token_type": "bearer",
        "expires_in": ttl,
        "refresh_token": refresh_token,
        "scope": scope,
        "created_at": "2026-11-30T12:00:00",
    })
}
