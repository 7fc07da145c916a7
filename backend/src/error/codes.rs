//! [`ErrorCode`]: every public error code as one row (code, status,
//! description), and each route's documented error responses generated from
//! the codes it can answer ([`route_errors!`]).
//!
//! Adding a code: one row in the `error_codes!` table below; the arm in
//! `ApiError::code` that picks it for the failure (the compiler asks for it
//! when the failure is a new variant of a flow's error enum); and its name in
//! the `route_errors!` list of each route that can answer it, which is what
//! the OpenAPI document shows (a test in `openapi.rs` checks the lists against
//! what the routes' error types can produce).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use utoipa::ToSchema;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, Response};

/// Declares [`ErrorCode`] from its rows, one per code:
/// `Variant = "code", STATUS, "description";`. The description is what the
/// browser reads and what the OpenAPI document says. A row marked `detailed`
/// sends the error's own text instead (never upstream text); its row text is
/// then only the documented meaning.
macro_rules! error_codes {
    ($($variant:ident = $code:literal, $status:ident, $($detailed:ident)? $description:literal;)*) => {
        /// The public `error` code of a failed request. Each code owns its HTTP
        /// status and description, so a new failure picks a code and gets both;
        /// nothing matches on code strings.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// Every code, in table order.
            #[cfg(test)]
            pub const ALL: &[Self] = &[$(Self::$variant),*];

            /// The code as sent in the body's `error` field; also the metrics label.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)*
                }
            }

            /// What the code means, as documented.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Self::$variant => $description,)*
                }
            }

            /// The fixed public description; `None` where `ApiError` writes one
            /// from the error itself (its own text, never upstream text).
            pub(super) fn description(self) -> Option<&'static str> {
                match self {
                    $(Self::$variant => error_codes!(@fixed $description $($detailed)?),)*
                }
            }
        }
    };
    (@fixed $description:literal) => { Some($description) };
    (@fixed $description:literal detailed) => { None };
}

error_codes! {
    UnknownProfile = "unknown_profile", NOT_FOUND, detailed "no token profile has this name";
    UpstreamUnavailable = "upstream_unavailable", SERVICE_UNAVAILABLE,
        "the authorization server is unavailable and no valid token is cached; try again shortly";
    UpstreamRejected = "upstream_rejected", BAD_GATEWAY,
        "the authorization server rejected the broker's request; see the server log";
    UpstreamInvalidResponse = "upstream_invalid_response", BAD_GATEWAY,
        "the authorization server sent a response the broker cannot use; see the server log";
    CrossSiteRequest = "cross_site_request", FORBIDDEN, detailed
        "the request has no `X-Requested-With`, or its `Origin` is not this site";
    SessionStoreUnavailable = "session_store_unavailable", SERVICE_UNAVAILABLE,
        "sessions are unavailable right now; try again shortly";
    LoginRequired = "login_required", UNAUTHORIZED, "sign in to get a user token";
    UserinfoNotConfigured = "userinfo_not_configured", NOT_FOUND,
        "no user profile: the provider has no userinfo endpoint (or it refused the user's token) and sign-in gave no ID token";
    InvalidReturnTo = "invalid_return_to", BAD_REQUEST, "return_to must be a path on this site, such as /viewer";
    InvalidState = "invalid_state", BAD_REQUEST,
        "this sign-in link has expired or was already used; please sign in again";
    SignInReplayed = "sign_in_replayed", BAD_REQUEST,
        "this sign-in was already completed; a sign-in link works only once";
    ReturnToTooLong = "return_to_too_long", BAD_REQUEST, detailed "return_to is too long to keep through sign-in";
    IssuerMismatch = "issuer_mismatch", BAD_REQUEST,
        "the sign-in response did not come from the expected authorization server; please sign in again";
    WrongHost = "wrong_host", MISDIRECTED_REQUEST, detailed
        "a proxy in front rewrote the Host; the page names PUBLIC_URL and TRUST_FORWARDED_HEADERS";
    AccessDenied = "access_denied", FORBIDDEN, "sign-in was cancelled";
    ProviderError = "provider_error", BAD_REQUEST, detailed "the authorization server reported an error at sign-in";
    InvalidRequest = "invalid_request", BAD_REQUEST, detailed
        "a sign-in response without a code, or a back-channel logout token that is not valid, new and for this client";
    InvalidIdToken = "invalid_id_token", BAD_REQUEST, "the sign-in response could not be used; please sign in again";
    InternalError = "internal_error", INTERNAL_SERVER_ERROR, "something went wrong; see the server log";
    ApiNotFound = "api_not_found", NOT_FOUND, detailed "no API is configured under this name";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, detailed
        "the API does not allow this method; `Allow` lists those it does";
    PathNotAllowed = "path_not_allowed", FORBIDDEN, detailed
        "the path has a dot segment, an empty segment or an escape, or is not under the API's allowed prefixes";
    RequestTooLarge = "request_too_large", PAYLOAD_TOO_LARGE, detailed "the request body is larger than the API's limit";
    RequestBodyFailed = "request_body_failed", BAD_REQUEST, "the request body could not be read";
    ResponseTooLarge = "response_too_large", BAD_GATEWAY, detailed "the API's response is larger than the API's limit";
    UpstreamTimeout = "upstream_timeout", GATEWAY_TIMEOUT, detailed "the API did not answer within its timeout";
    UpstreamRedirect = "upstream_redirect", BAD_GATEWAY,
        "the API answered with a redirect, which the proxy does not follow";
    ApiUnavailable = "api_unavailable", BAD_GATEWAY, "the API could not be reached; see the server log";
    ProxyBusy = "proxy_busy", SERVICE_UNAVAILABLE, "the proxy has too many requests in progress; try again shortly";
}

/// How a route answers its errors: JSON for scripts, a page for navigations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorMedia {
    /// `ErrorResponse` (`error`, `error_description`).
    Json,
    /// A small HTML page (sign-in navigations).
    Page,
}

/// The OpenAPI responses for `codes`: one per status, naming each code and
/// what it means; a 503 documents its `Retry-After`.
pub fn documented_responses(codes: &[ErrorCode], media: ErrorMedia) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status = BTreeMap::<u16, Vec<ErrorCode>>::new();
    for &code in codes {
        by_status.entry(code.status().as_u16()).or_default().push(code);
    }
    let mut responses = ResponsesBuilder::new();
    for (status, codes) in by_status {
        let description =
            codes.iter().map(|code| format!("`{}`: {}", code.as_str(), code.meaning())).collect::<Vec<_>>().join("; ");
        let mut response = match media {
            ErrorMedia::Json => ResponseBuilder::new().description(description).content(
                "application/json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name(super::ErrorBody::name()))).build(),
            ),
            ErrorMedia::Page => ResponseBuilder::new()
                .description(format!("{description} (an HTML page)"))
                .content("text/html", ContentBuilder::new().build()),
        };
        if status == StatusCode::SERVICE_UNAVAILABLE.as_u16() {
            let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1));
            let header = HeaderBuilder::new().schema(seconds).description(Some("Seconds to wait before retrying"));
            response = response.header("Retry-After", header.build());
        }
        responses = responses.response(status.to_string(), response.build());
    }
    responses.build().into()
}

/// Declares a route's error responses: a type for its `#[utoipa::path]`
/// `responses(...)`, listing the codes the route can answer.
///
/// `route_errors!(UserTokenErrors, Json: [LoginRequired, CrossSiteRequest]);`
macro_rules! route_errors {
    ($(#[$doc:meta])* $name:ident, $media:ident: [$($code:ident),* $(,)?]) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
                $crate::error::documented_responses(
                    &[$($crate::error::ErrorCode::$code),*],
                    $crate::error::ErrorMedia::$media,
                )
            }
        }
    };
}
pub(crate) use route_errors;

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes are the browser's contract and the metrics label: each is
    /// distinct, lowercase snake_case, and an error status.
    #[test]
    fn codes_are_distinct_snake_case_errors() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} is in the table twice");
            assert!(text.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{text}");
            assert!(code.status().is_client_error() || code.status().is_server_error(), "{text}");
        }
    }

    /// A status's documented response names each of its codes, with the
    /// error body's schema; a 503's says when to come back.
    #[test]
    fn responses_group_codes_by_status() {
        let codes = [ErrorCode::UpstreamUnavailable, ErrorCode::LoginRequired, ErrorCode::SessionStoreUnavailable];
        let responses = serde_json::to_value(documented_responses(&codes, ErrorMedia::Json)).expect("JSON");
        let unavailable = &responses["503"];
        let description = unavailable["description"].as_str().unwrap_or_default();
        assert!(description.contains("`upstream_unavailable`") && description.contains("`session_store_unavailable`"));
        assert!(unavailable["headers"]["Retry-After"].is_object());
        assert_eq!(
            responses["401"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorResponse"
        );
        let page = serde_json::to_value(documented_responses(&codes, ErrorMedia::Page)).expect("JSON");
        assert!(page["401"]["content"]["text/html"].is_object());
        assert_eq!(responses.as_object().map(|r| r.len()), Some(2));
    }
}
