//! `ANY /api/proxy/{name}/{*path}`: a request to a configured API, made by the
//! server with its own token (`crate::proxy`). For an API that sends the user's
//! token, the caller must be signed in and prove it is our own page, exactly as
//! for `/api/user/token`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use oauth2::AccessToken;
use tower_sessions::Session;

use super::extract::{SignInState, check_same_site};
use crate::error::{ApiError, route_errors};
use crate::proxy::{ApiToken, BearerToken, Proxy, ProxyError, ProxyRequest};
use crate::sign_in::UserTokenFailure;
use crate::token_cache::{TokenCache, TokenCaches};

/// Where the route's parts live: the proxy, and whatever gives it tokens.
#[derive(Debug, Clone)]
pub struct ProxyRoutes {
    pub proxy: Proxy,
    pub caches: TokenCaches,
    /// `None` without sign-in: user-token APIs then answer `login_required`.
    pub sign_in: Option<SignInState>,
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
pub(crate) async fn forward(State(state): State<Arc<ProxyRoutes>>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    // The raw path, still percent-encoded: `proxy::target` checks it as received.
    let rest = parts.uri.path().strip_prefix(PREFIX).unwrap_or_default();
    let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
    let api = state.proxy.api(name)?;
    let token: Box<dyn BearerToken> = match &api.settings.token {
        ApiToken::Profile(profile) => {
            let cache = state.caches.get(profile).ok_or_else(|| ApiError::UnknownProfile(profile.clone()))?;
            Box::new(ProfileToken { cache: cache.clone(), profile: profile.clone() })
        }
        ApiToken::User => {
            let sign_in = state.sign_in.as_ref().ok_or(ApiError::from(UserTokenFailure::LoginRequired))?;
            check_same_site(&parts.headers, sign_in)?;
            let session =
                parts.extensions.get::<Session>().cloned().ok_or(ApiError::from(UserTokenFailure::LoginRequired))?;
            Box::new(UserToken { sign_in: sign_in.clone(), session })
        }
    };
    let request = ProxyRequest {
        method: parts.method,
        path: path.to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    Ok(state.proxy.forward(api, request, token.as_ref()).await?)
}

/// A two-legged profile's token, from its cache.
struct ProfileToken {
    cache: TokenCache,
    profile: String,
}

impl BearerToken for ProfileToken {
    fn current(&self) -> BoxFuture<'_, Result<AccessToken, ProxyError>> {
        async move { Ok(AccessToken::new(self.cache.token().await?.secret().to_owned())) }.boxed()
    }

    fn renew<'a>(&'a self, rejected: &'a AccessToken) -> BoxFuture<'a, Result<AccessToken, ProxyError>> {
        async move { Ok(AccessToken::new(self.cache.renew(rejected.secret()).await?.secret().to_owned())) }.boxed()
    }

    fn holder(&self) -> String {
        format!("profile:{}", self.profile)
    }
}

/// The signed-in user's browser token, from the session.
struct UserToken {
    sign_in: SignInState,
    session: Session,
}

impl BearerToken for UserToken {
    fn current(&self) -> BoxFuture<'_, Result<AccessToken, ProxyError>> {
        async move { Ok(self.sign_in.service.browser_token(&self.session).await?.access_token) }.boxed()
    }

    fn renew<'a>(&'a self, rejected: &'a AccessToken) -> BoxFuture<'a, Result<AccessToken, ProxyError>> {
        async move { Ok(self.sign_in.service.renew_browser_token(&self.session, rejected).await?.access_token) }.boxed()
    }

    /// The session (its id is only hashed by the cool-down, never kept).
    fn holder(&self) -> String {
        self.session.id().map_or_else(|| "session:".to_owned(), |id| format!("session:{id}"))
    }
}
