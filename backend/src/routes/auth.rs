//! `GET /auth/login`, `GET /auth/callback`, `POST /auth/logout`: the browser's
//! side of sign-in. Handlers only translate HTTP; the flow is in [`crate::sign_in`].

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_sessions::Session;

use super::user::{SignInState, is_trusted_origin};
use crate::error::{ApiError, no_store_headers};
use crate::sign_in::CallbackParams;

pub fn router() -> Router<SignInState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    return_to: Option<String>,
}

/// Redirects to the provider (302) with state, PKCE challenge and nonce.
#[utoipa::path(get, path = "/auth/login", tag = "auth",
    params(("return_to" = Option<String>, Query, description = "A path on this site to return to")),
    responses(
        (status = 302, description = "To the provider's authorization endpoint"),
        (status = 400, description = "`invalid_return_to` (an HTML page)", content_type = "text/html"),
    ))]
pub(crate) async fn login(
    State(state): State<SignInState>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    // The session cookie must be set on the origin the provider will redirect
    // back to, or the callback would find no sign-in in progress.
    let redirect = &state.service.config().redirect_url;
    let expected_host = redirect.host_str().map(|h| match redirect.port() {
        Some(port) => format!("{h}:{port}"),
        None => h.to_owned(),
    });
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let (Some(host), Some(expected)) = (host, expected_host)
        && !host.eq_ignore_ascii_case(&expected)
    {
        let mut canonical = redirect.clone();
        canonical.set_path("/auth/login");
        canonical.set_query(uri.query());
        return Ok(found(canonical.as_str()));
    }
    let url = state.service.begin(&session, query.return_to.as_deref()).await?;
    Ok(found(url.as_str()))
}

/// Completes sign-in and redirects to `return_to`; failures are a page.
#[utoipa::path(get, path = "/auth/callback", tag = "auth",
    params(
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("state" = Option<String>, Query, description = "The state sent at login"),
        ("error" = Option<String>, Query, description = "The provider's error code"),
    ),
    responses(
        (status = 302, description = "Signed in: to `return_to`, with the session cookie"),
        (status = 400, description = "Missing, wrong or replayed `state`, or a failed exchange (an HTML page)", content_type = "text/html"),
        (status = 403, description = "`access_denied` (an HTML page)", content_type = "text/html"),
    ))]
pub(crate) async fn callback(
    State(state): State<SignInState>,
    session: Session,
    Query(params): Query<CallbackParams>,
) -> Result<Response, ApiError> {
    let return_to = state.service.complete(&session, params).await?;
    let mut response = found(&return_to);
    // The callback URL carries the code: keep it out of the next page's Referer.
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(response)
}

/// Revokes and forgets the session. A `fetch` (with `X-Requested-With`) gets
/// 204; a plain form post is sent back to `/`.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses(
    (status = 204, description = "Signed out (a `fetch` with `X-Requested-With`)"),
    (status = 303, description = "Signed out (a form post): to `/`"),
    (status = 403, description = "`cross_site_request`", body = crate::error::ErrorBody),
))]
pub(crate) async fn logout(
    State(state): State<SignInState>,
    session: Session,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN)
        && !is_trusted_origin(&state, origin)
    {
        return Err(ApiError::CrossSite("the Origin is not this site"));
    }
    state.service.sign_out(&session).await?;
    if headers.get("x-requested-with").is_some_and(|v| !v.is_empty()) {
        Ok((StatusCode::NO_CONTENT, no_store_headers()).into_response())
    } else {
        Ok((StatusCode::SEE_OTHER, no_store_headers(), [(header::LOCATION, "/")]).into_response())
    }
}

fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (StatusCode::FOUND, no_store_headers(), [(header::LOCATION, location)]).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, no_store_headers()).into_response(),
    }
}
