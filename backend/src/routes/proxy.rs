//! `ANY /api/proxy/{name}/{*path}`: a request to a configured API, made by the
//! server with its own token (`crate::proxy`). For an API that sends the user's
//! token, the caller must be signed in and prove it is our own page, exactly as
//! for `/api/user/token`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tower_sessions::Session;

use super::extract::{SignInState, check_same_site};
use crate::error::{ApiError, route_errors};
use crate::proxy::{ApiToken, Bearer, BearerToken, Proxy, ProxyError, ProxyRequest};
use crate::sign_in::UserTokenFailure;
use crate::telemetry::Metrics;
use crate::token_cache::{CachedToken, TokenCache, TokenCaches};

/// Where the route's parts live: the proxy, and whatever gives it tokens.
#[derive(Debug, Clone)]
pub struct ProxyRoutes {
    pub proxy: Proxy,
    pub caches: TokenCaches,
    /// `None` without sign-in: user-token APIs then answer `login_required`.
    pub sign_in: Option<SignInState>,
    /// Errors are counted and logged here, not by the app's error middleware,
    /// which the proxy's routes do without (see `app()`).
    pub metrics: Metrics,
}

const PREFIX: &str = "/api/proxy/";

pub fn router(state: ProxyRoutes) -> Router {
    Router::new()
        .route("/api/proxy/{name}/", any(forward))
        .route("/api/proxy/{name}/{*path}", any(forward))
        .with_state(Arc::new(state))
}

route_errors!(
    /// The proxy's own failures, and the token's (a profile's, or the user's).
    ForwardErrors, Json: [
        RequestBodyFailed, LoginRequired, CrossSiteRequest, PathNotAllowed, ApiNotFound, UnknownProfile,
        MethodNotAllowed, RequestTooLarge, InternalError, UpstreamRejected, UpstreamInvalidResponse, ApiUnavailable,
        UpstreamRedirect, ResponseTooLarge, UpstreamUnavailable, SessionStoreUnavailable, ProxyBusy, UpstreamTimeout,
    ]
);

/// Any method; the API's settings decide which are allowed.
#[utoipa::path(get, path = "/api/proxy/{name}/{path}", tag = "proxy",
    description = "Forwards the request (any method the API allows; GET shown) to the API configured as `name`, \
        with the server-held token. For APIs with `token = \"user\"` it needs the session cookie and `X-Requested-With`.",
    params(
        ("name" = String, Path, description = "An API name (`[apis.NAME]` or `PROXY_API`)"),
        ("path" = String, Path, description = "The path under the API's base URL, with the query string"),
    ),
    responses(
        (status = 200, description = "The API's answer, streamed: its status, allowlisted headers and body"),
        ForwardErrors,
    ))]
pub(crate) async fn forward(State(state): State<Arc<ProxyRoutes>>, request: Request) -> Response {
    match forward_to_api(&state, request).await {
        // With the sandbox's headers, `nosniff` among them.
        Ok(response) => response,
        Err(error) => {
            error.record(&state.metrics);
            let mut response = error.into_response();
            response.headers_mut().entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
            response
        }
    }
}

async fn forward_to_api(state: &ProxyRoutes, request: Request) -> Result<Response, ApiError> {
    let (http::request::Parts { method, uri, headers, extensions, .. }, body) = request.into_parts();
    // The raw path, still percent-encoded: `proxy::target` checks it as received.
    let rest = uri.path().strip_prefix(PREFIX).unwrap_or_default();
    let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
    let api = state.proxy.api(name)?;
    let request = |headers| ProxyRequest { method, path, query: uri.query(), headers, body };
    // One `forward` per kind of token holder, so neither is boxed.
    match &api.settings.token {
        ApiToken::Profile(profile) => {
            let cache = state.caches.get(profile).ok_or_else(|| ApiError::UnknownProfile(profile.clone()))?;
            let token = ProfileToken { cache, profile };
            Ok(state.proxy.forward(api, request(headers), &token).await?)
        }
        ApiToken::User => {
            let sign_in = state.sign_in.as_ref().ok_or(ApiError::from(UserTokenFailure::LoginRequired))?;
            check_same_site(&headers, sign_in)?;
            let session =
                extensions.get::<Session>().cloned().ok_or(ApiError::from(UserTokenFailure::LoginRequired))?;
            let token = UserToken { sign_in, session };
            Ok(state.proxy.forward(api, request(headers), &token).await?)
        }
    }
}

/// A two-legged profile's token, from its cache.
struct ProfileToken<'a> {
    cache: &'a TokenCache,
    profile: &'a str,
}

impl BearerToken for ProfileToken<'_> {
    async fn current(&self) -> Result<Bearer, ProxyError> {
        let token = self.cache.token().await?;
        cached_bearer(&token)
    }

    async fn renew(&self, rejected: &Bearer) -> Result<Bearer, ProxyError> {
        let token = self.cache.renew(rejected.secret()).await?;
        cached_bearer(&token)
    }

    fn holder(&self) -> String {
        format!("profile:{}", self.profile)
    }
}

/// The cache's prebuilt header value, shared.
fn cached_bearer(token: &CachedToken) -> Result<Bearer, ProxyError> {
    match token.bearer() {
        Some(value) => Ok(Bearer::from_header(value.clone())),
        None => Ok(Bearer::new(token.secret())?),
    }
}

/// The signed-in user's browser token, from the session.
struct UserToken<'a> {
    sign_in: &'a SignInState,
    session: Session,
}

impl BearerToken for UserToken<'_> {
    async fn current(&self) -> Result<Bearer, ProxyError> {
        Ok(Bearer::new(self.sign_in.service.browser_token(&self.session).await?.access_token.secret())?)
    }

    async fn renew(&self, rejected: &Bearer) -> Result<Bearer, ProxyError> {
        let rejected = oauth2::AccessToken::new(rejected.secret().to_owned());
        let renewed = self.sign_in.service.renew_browser_token(&self.session, &rejected).await?;
        Ok(Bearer::new(renewed.access_token.secret())?)
    }

    /// The session (its id is only hashed by the cool-down, never kept).
    fn holder(&self) -> String {
        self.session.id().map_or_else(|| "session:".to_owned(), |id| format!("session:{id}"))
    }
}
