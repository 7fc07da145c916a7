//! `GET /auth/login`, `GET /auth/callback`, `POST /auth/logout`: the browser's
//! side of sign-in; `POST /auth/backchannel-logout`: the provider's side of
//! sign-out. Handlers only translate HTTP; the flows are in [`crate::sign_in`].

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::cookie::{Cookie, SameSite};

use super::extract::{SignInState, TrustedOrigin};
use super::forwarded;
use crate::error::{ApiError, SignInPage, no_store_headers, route_errors};
use crate::login_state::COOKIE_NAME;
use crate::session::PENDING_TTL_MS;
use crate::sign_in::{CallbackParams, LogoutFailure};

pub fn router() -> Router<SignInState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route("/auth/backchannel-logout", post(backchannel_logout))
}

/// Marks a login we redirected to our own origin, so a second mismatch is
/// reported instead of redirected again.
const CANONICAL_HOST: &str = "canonical_host";

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    return_to: Option<String>,
    canonical_host: Option<String>,
}

route_errors!(
    /// A bad `return_to`, a rewritten Host, a provider with no authorization endpoint; as pages.
    LoginErrors, Page: [InvalidReturnTo, ReturnToTooLong, WrongHost, InternalError, UpstreamInvalidResponse]
);

route_errors!(
    /// The sign-in's own failures, the code exchange's and the session store's; as pages.
    CallbackErrors, Page: [
        InvalidState, SignInReplayed, IssuerMismatch, ProviderError, InvalidRequest, InvalidIdToken, AccessDenied,
        InternalError, UpstreamRejected, UpstreamInvalidResponse, UpstreamUnavailable, SessionStoreUnavailable,
    ]
);

route_errors!(
    /// The caller check, and the session store.
    LogoutErrors, Json: [CrossSiteRequest, SessionStoreUnavailable]
);

route_errors!(
    /// A logout token that is not valid, new and for this client (400, as
    /// Back-Channel Logout 1.0 §2.8 asks); the provider's JWKS or the session store unavailable.
    BackchannelLogoutErrors, Json: [InvalidRequest, UpstreamUnavailable, UpstreamInvalidResponse, SessionStoreUnavailable]
);

/// Redirects to the provider (302) with state, PKCE challenge and nonce, which
/// go into the login-state cookie (no server session is created).
#[utoipa::path(get, path = "/auth/login", tag = "auth",
    params(("return_to" = Option<String>, Query, description = "A path on this site to return to")),
    responses(
        (status = 302, description = "To the provider's authorization endpoint"),
        LoginErrors,
    ))]
pub(crate) async fn login(
    State(state): State<SignInState>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<LoginQuery>,
) -> Result<Response, SignInPage> {
    // The login-state cookie must be set on the origin the provider will
    // redirect back to, or the callback would find no sign-in in progress.
    let settings = state.service.settings();
    let redirect = &settings.redirect_url;
    let expected = redirect.host_str().map(|h| match redirect.port() {
        Some(port) => format!("{h}:{port}"),
        None => h.to_owned(),
    });
    let seen = forwarded::authority(&headers, settings.trust_forwarded_headers);
    if let (Some(seen), Some(expected)) = (seen, expected)
        && !seen.is(&expected, redirect.scheme())
    {
        // Sending the browser to our origin helps one that came by another name
        // (localhost for 127.0.0.1), but loops when a proxy in front rewrites
        // the Host: the browser is there already (its Referer says so, or we
        // sent it there once), or the proxy announced itself untrusted.
        let is_there = query.canonical_host.is_some()
            || headers
                .get(header::REFERER)
                .and_then(|r| r.to_str().ok())
                .and_then(|r| url::Url::parse(r).ok())
                .is_some_and(|r| r.origin() == redirect.origin())
            || (!settings.trust_forwarded_headers && forwarded::has_forwarded_headers(&headers));
        if is_there {
            return Err(ApiError::WrongHost { expected: settings.origin(), seen: seen.host }.into());
        }
        let mut canonical = redirect.clone();
        canonical.set_path("/auth/login");
        canonical.set_query(uri.query());
        canonical.query_pairs_mut().append_pair(CANONICAL_HOST, "1");
        return Ok(found(canonical.as_str())?);
    }
    let cookies = login_states(&headers);
    let (url, login_state) = state.service.begin(cookies.first().map(String::as_str), query.return_to.as_deref())?;
    let mut response = found(url.as_str())?;
    set_login_state(&mut response, &state, Some(&login_state));
    Ok(response)
}

/// Completes sign-in and redirects to `return_to`; failures are a page. Either
/// way the login-state cookie loses this sign-in.
#[utoipa::path(get, path = "/auth/callback", tag = "auth",
    params(
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("state" = Option<String>, Query, description = "The state sent at login"),
        ("error" = Option<String>, Query, description = "The provider's error code"),
        ("iss" = Option<String>, Query, description = "The issuer that answered (RFC 9207)"),
    ),
    responses(
        (status = 302, description = "Signed in: to `return_to`, with the session cookie"),
        CallbackErrors,
    ))]
pub(crate) async fn callback(
    State(state): State<SignInState>,
    session: Session,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    // A browser may also send an older cookie of the same name set with
    // another `Path` (`/auth/callback` in 0.1.0): use the one holding this state.
    let cookies = login_states(&headers);
    let take = |cookie: Option<&String>| state.service.take_login(cookie.map(String::as_str), params.state.as_deref());
    let (remaining, login) =
        cookies.iter().map(|c| take(Some(c))).find(|(_, login)| login.is_ok()).unwrap_or_else(|| take(cookies.first()));
    let result = match login {
        Ok(login) => state.service.complete(&session, login, params).await.map_err(ApiError::from),
        Err(e) => Err(ApiError::from(e)),
    };
    let mut response = match result.and_then(|return_to| found(&return_to)) {
        Ok(response) => response,
        Err(e) => SignInPage(e).into_response(),
    };
    // The callback URL carries the code: keep it out of the next page's Referer.
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    set_login_state(&mut response, &state, remaining.as_deref());
    response
}

/// The login-state cookies of the request, in the order sent.
fn login_states(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == COOKIE_NAME)
        .map(|c| c.value().to_owned())
        .collect()
}

/// Sets the login-state cookie to `value`, or removes it. It is sent to the
/// login and callback routes (so a second tab's login adds to the first tab's
/// pending sign-in instead of replacing it) and lives as long as a pending sign-in.
fn set_login_state(response: &mut Response, state: &SignInState, value: Option<&str>) {
    let config = state.service.settings();
    let max_age = if value.is_some() { CookieDuration::milliseconds(PENDING_TTL_MS) } else { CookieDuration::ZERO };
    let cookie = Cookie::build((COOKIE_NAME, value.unwrap_or_default()))
        .path(config.login_state_path())
        .http_only(true)
        .secure(config.cookie_secure)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .build();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The answer to a `fetch` sign-out when the provider's session is to end too:
/// the page navigates there (the package's `logout()` does).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EndSessionBody {
    /// The provider's end-session endpoint with `id_token_hint`,
    /// `post_logout_redirect_uri`, `client_id` and `state`.
    end_session_url: String,
}

/// Revokes and forgets the session. When the provider has an end-session
/// endpoint (and `OAUTH_END_SESSION` is on), the browser goes there next so the
/// provider's session ends too: a form post is redirected, a `fetch` (with
/// `X-Requested-With`) is told where. Otherwise a `fetch` gets 204 and a form
/// post is sent back to `/`.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses(
    (status = 200, description = "Signed out here (a `fetch`); navigate to `end_session_url` to end the provider's session", body = EndSessionBody),
    (status = 204, description = "Signed out (a `fetch`, no end-session endpoint or `OAUTH_END_SESSION=false`)"),
    (status = 303, description = "Signed out (a form post): to the provider's end-session endpoint, else to `/`"),
    LogoutErrors,
))]
pub(crate) async fn logout(
    State(state): State<SignInState>,
    _: TrustedOrigin,
    session: Session,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let end_session = state.service.sign_out(&session).await?;
    let is_fetch = headers.get("x-requested-with").is_some_and(|v| !v.is_empty());
    match (end_session, is_fetch) {
        (Some(url), true) => {
            Ok((StatusCode::OK, no_store_headers(), Json(EndSessionBody { end_session_url: url.into() }))
                .into_response())
        }
        (None, true) => Ok((StatusCode::NO_CONTENT, no_store_headers()).into_response()),
        (Some(url), false) => see_other(url.as_str()),
        (None, false) => see_other("/"),
    }
}

/// A 303 to `location`, which we built.
fn see_other(location: &str) -> Result<Response, ApiError> {
    let location =
        HeaderValue::from_str(location).map_err(|_| ApiError::Internal("a redirect location is not a header value"))?;
    Ok((StatusCode::SEE_OTHER, no_store_headers(), [(header::LOCATION, location)]).into_response())
}

/// A 302 to `location`, which we built or validated; one that is not a valid
/// header value (a `return_to` with non-ASCII text) is our bug, reported as such.
fn found(location: &str) -> Result<Response, ApiError> {
    let location =
        HeaderValue::from_str(location).map_err(|_| ApiError::Internal("a redirect location is not a header value"))?;
    Ok((StatusCode::FOUND, no_store_headers(), [(header::LOCATION, location)]).into_response())
}

/// The body of a back-channel logout request (§2.5). No `Debug`: it holds the token.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LogoutTokenForm {
    /// The logout token: a JWT signed by the provider.
    logout_token: String,
}

/// OpenID Connect Back-Channel Logout 1.0: the provider posts a logout token
/// when a user's session there ends. A valid, new token ends every session of
/// its `sid` (or, without one, of its `sub`) on every replica, revoking their
/// refresh tokens; anything else is refused and touches nothing. Not
/// cookie-authenticated: the token's signature is the proof.
#[utoipa::path(post, path = "/auth/backchannel-logout", tag = "auth",
    request_body(content = LogoutTokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The sessions the token names have ended (there may have been none)"),
        BackchannelLogoutErrors,
    ))]
pub(crate) async fn backchannel_logout(
    State(state): State<SignInState>,
    form: Result<Form<LogoutTokenForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Ok(Form(form)) = form else {
        return Err(LogoutFailure::Invalid("the body is not a form with logout_token").into());
    };
    let ended = state.service.back_channel_logout(&form.logout_token).await?;
    tracing::info!(sessions = ended, "back-channel logout: sessions ended");
    Ok((StatusCode::OK, no_store_headers()).into_response())
}
