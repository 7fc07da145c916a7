//! `GET /api/token` and `GET /api/token/{profile}`: short-lived access tokens for
//! browsers, from the profile's cache.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::time::Instant;

use crate::error::{ApiError, no_store_headers, route_errors};
use crate::telemetry::Metrics;
use crate::token_cache::{DEFAULT_PROFILE, TokenCaches};

/// What the token routes use, behind one `Arc`: the router clones its state
/// for every request, and one reference count is the least that can cost.
#[derive(Debug)]
pub struct TokenRoutes {
    pub caches: TokenCaches,
    /// Errors are counted and logged here, not by the app's error middleware,
    /// which the token routes do without (see `app()`).
    pub metrics: Metrics,
}

/// `/api/token` and `/api/token/{profile}`, with their state. The routes set
/// their own headers (no-store, nosniff) and record their own errors, so they
/// need no middleware but CORS; `app()` gives them nothing else.
pub fn router(state: Arc<TokenRoutes>) -> Router {
    Router::new()
        .route("/api/token", get(default_token))
        .route("/api/token/{profile}", get(profile_token))
        .with_state(state)
}

/// RFC 6749 §5.1 success body. `expires_in` is computed at response time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TokenResponse, title = "TokenResponse")]
pub(crate) struct TokenBody<'a> {
    pub(super) access_token: &'a str,
    /// Always `Bearer`.
    #[schema(pattern = "^Bearer$")]
    pub(super) token_type: &'static str,
    /// Whole seconds of life left now (never less than `TOKEN_MIN_TTL_SECS`).
    pub(super) expires_in: u64,
}

route_errors!(
    /// The token cache's failures.
    DefaultTokenErrors, Json: [InternalError, UpstreamRejected, UpstreamInvalidResponse, UpstreamUnavailable]
);

route_errors!(
    /// An unknown name, and the token cache's failures.
    ProfileTokenErrors, Json: [UnknownProfile, InternalError, UpstreamRejected, UpstreamInvalidResponse, UpstreamUnavailable]
);

/// The browser token of the default profile.
#[utoipa::path(get, path = "/api/token", tag = "token", responses(
    (status = 200, description = "A token with at least `TOKEN_MIN_TTL_SECS` to live", body = TokenBody),
    DefaultTokenErrors,
))]
pub(crate) async fn default_token(State(state): State<Arc<TokenRoutes>>) -> Response {
    serve(&state, DEFAULT_PROFILE).await
}

/// The browser token of a named profile (`[profiles.NAME]` in the TOML file).
#[utoipa::path(get, path = "/api/token/{profile}", tag = "token",
    params(("profile" = String, Path, description = "A profile name")),
    responses(
        (status = 200, description = "A token with at least `TOKEN_MIN_TTL_SECS` to live", body = TokenBody),
        ProfileTokenErrors,
    ))]
pub(crate) async fn profile_token(State(state): State<Arc<TokenRoutes>>, Path(profile): Path<String>) -> Response {
    serve(&state, &profile).await
}

async fn serve(state: &TokenRoutes, profile: &str) -> Response {
    let mut response = match token(&state.caches, profile).await {
        Ok(response) => response,
        Err(error) => {
            error.record(&state.metrics);
            error.into_response()
        }
    };
    response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

async fn token(caches: &TokenCaches, profile: &str) -> Result<Response, ApiError> {
    let cache = caches.get(profile).ok_or_else(|| ApiError::UnknownProfile(profile.to_owned()))?;
    let token = cache.token().await?;
    let body =
        TokenBody { access_token: token.secret(), token_type: "Bearer", expires_in: token.expires_in(Instant::now()) };
    Ok((no_store_headers(), Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use clap::Parser;
    use futures_util::future::BoxFuture;
    use http_body_util::BodyExt;
    use oauth2::AccessToken;
    use tower::ServiceExt;

    use crate::Config;
    use crate::config::Cli;
    use crate::exchange::{ExchangeError, IssuedToken};
    use crate::token_cache::TokenSource;
    use crate::{AppState, app};

    /// Answers every fetch with the same result.
    #[derive(Debug)]
    struct Fixed(Result<u64, ExchangeError>);

    impl TokenSource for Fixed {
        fn fetch<'a>(&'a self, scopes: &'a [String]) -> BoxFuture<'a, Result<IssuedToken, ExchangeError>> {
            let result = self.0.clone().map(|secs| IssuedToken {
                access_token: AccessToken::new(format!("tok-{}", scopes.join("+"))),
                expires_in: Duration::from_secs(secs),
                refresh_token: None,
                id_token: None,
            });
            Box::pin(async move { result })
        }
    }

    fn state(result: Result<u64, ExchangeError>) -> AppState {
        let config =
            Config::from_cli(Cli::parse_from(["token-backend", "--dev", "--public-dir", "."])).expect("config");
        AppState::with_source(config, Arc::new(Fixed(result))).expect("state")
    }

    async fn get(state: AppState, uri: &str) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let response =
            app(state).oneshot(Request::get(uri).body(Body::empty()).expect("request")).await.expect("response");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    /// The token route answers RFC 6749 §5.1 JSON that no cache may store.
    #[tokio::test]
    async fn token_response_shape_and_headers() {
        let (status, headers, body) = get(state(Ok(3600)), "/api/token").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::PRAGMA], "no-cache");
        assert_eq!(body["access_token"], "tok-viewables:read");
        assert_eq!(body["token_type"], "Bearer");
        assert!(matches!(body["expires_in"].as_u64(), Some(3599 | 3600)), "{body}");
    }

    /// The token routes set `nosniff` themselves (they skip the app's header
    /// layer), on tokens and on errors alike; the other routes keep the layer.
    #[tokio::test]
    async fn token_routes_send_nosniff_without_the_layer() {
        for uri in ["/api/token", "/api/token/nope", "/healthz"] {
            let (_, headers, _) = get(state(Ok(3600)), uri).await;
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        }
    }

    /// Unknown profiles are a JSON 404, not the static-file fallback.
    #[tokio::test]
    async fn unknown_profile_is_a_json_404() {
        let (status, headers, body) = get(state(Ok(3600)), "/api/token/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(body["error"], "unknown_profile");
    }

    /// Upstream down with nothing cached → 503 with Retry-After; readiness follows.
    #[tokio::test]
    async fn upstream_down_is_503_with_retry_after() {
        let down = Err(ExchangeError::Unreachable("connection refused".into()));
        let (status, headers, body) = get(state(down.clone()), "/api/token").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(headers.contains_key(header::RETRY_AFTER));
        assert_eq!(body["error"], "upstream_unavailable");
        assert!(
            !body["error_description"].as_str().unwrap_or_default().contains("refused"),
            "upstream detail stays in the log"
        );
        let (status, _, body) = get(state(down), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "not_ready");
    }

    /// Rejected credentials are a 502 `upstream_rejected`, counted in the metrics.
    #[tokio::test]
    async fn rejected_credentials_are_502_and_counted() {
        let rejected = Err(ExchangeError::Rejected { status: 401, error: "invalid_client".into(), description: None });
        let state = state(rejected);
        let (status, _, body) = get(state.clone(), "/api/token").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(body["error"], "upstream_rejected");
        assert!(state.metrics.render().contains(r#"token_broker_errors_total{kind="upstream_rejected"} 1"#));
    }
}
