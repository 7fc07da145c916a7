//! Why a sign-in navigation, or a user token or profile, could not be served:
//! each flow's own failures apart from the upstream and session-store errors it
//! passes on, so a failure reaches `ApiError` by one path only.

use crate::cluster::ClusterError;
use crate::exchange::ExchangeError;
use crate::session::SessionError;
use crate::single_flight::TaskStopped;

/// Why a sign-in (login or callback) failed.
pub type SignInError = FlowError<SignInFailure>;

/// Why a user token or profile could not be served.
pub type UserTokenError = FlowError<UserTokenFailure>;

/// A flow's own failure `F`, or the upstream or session-store error it passes on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FlowError<F> {
    #[error(transparent)]
    Failed(F),
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl<F> From<tower_sessions::session::Error> for FlowError<F> {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Session(e.into())
    }
}

// One impl per flow: a blanket `From<F>` would overlap the ones above.
impl From<LogoutFailure> for LogoutError {
    fn from(e: LogoutFailure) -> Self {
        Self::Failed(e)
    }
}

impl From<SignInFailure> for SignInError {
    fn from(e: SignInFailure) -> Self {
        Self::Failed(e)
    }
}

impl From<UserTokenFailure> for UserTokenError {
    fn from(e: UserTokenFailure) -> Self {
        Self::Failed(e)
    }
}

impl From<TaskStopped> for UserTokenError {
    fn from(e: TaskStopped) -> Self {
        Self::Failed(e.into())
    }
}

/// A sign-in's own failure; shown to the user as a page.
#[derive(Debug, thiserror::Error)]
pub enum SignInFailure {
    #[error("return_to must be a path on this site")]
    InvalidReturnTo,
    #[error("the sign-in response has no state")]
    MissingState,
    #[error("the sign-in state is unknown, expired or already used")]
    InvalidState,
    /// The state was genuine but its sign-in already reached the callback: a
    /// copied login-state cookie replayed with its code.
    #[error("this sign-in was already completed; a sign-in link works only once, so please sign in again")]
    Replayed,
    /// Even alone, the pending sign-in would not fit in a browser cookie.
    #[error(
        "return_to is too long to keep through sign-in ({len} characters; with escaping it would not fit in a cookie); use a shorter path"
    )]
    ReturnToTooLong { len: usize },
    /// Redis failed while recording the state as used.
    #[error("the record of used sign-ins is unavailable: {0}")]
    UsedStates(#[source] ClusterError),
    #[error("the user declined to sign in")]
    Denied,
    /// RFC 9207: the response's `iss` names another issuer (a mix-up attack, or
    /// a second provider answering on our redirect URI).
    #[error("the authorization response's `iss` is not the configured issuer (OAUTH_ISSUER)")]
    IssuerMismatch,
    /// RFC 9207: the provider's metadata promises `iss`, and it is missing.
    #[error(
        "the authorization response has no `iss`, which the provider's metadata promises (authorization_response_iss_parameter_supported)"
    )]
    MissingIssuer,
    #[error("the authorization server reported `{error}`")]
    Provider { error: String, description: Option<String> },
    #[error("the sign-in response has no authorization code")]
    MissingCode,
    #[error("the ID token does not belong to this sign-in ({0})")]
    InvalidIdToken(&'static str),
    /// Redis failed while indexing the new session for back-channel logout.
    #[error("the session index is unavailable: {0}")]
    SessionIndex(#[source] ClusterError),
}

/// Why a back-channel logout failed.
pub type LogoutError = FlowError<LogoutFailure>;

/// The back-channel logout's own failure (OpenID Connect Back-Channel Logout 1.0 §2.8).
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogoutFailure {
    /// The logout token is not one we accept (§2.6); the reason never quotes the token.
    #[error("logout token refused: {0}")]
    Invalid(&'static str),
    /// Its `jti` was seen before, on this replica or (with Redis) another one.
    #[error("logout token refused: its jti was already used")]
    Replayed,
    /// No issuer or no JWKS to check tokens against.
    #[error("back-channel logout is not available: the provider has no issuer and jwks_uri (OAUTH_PROVIDER=oidc)")]
    Unavailable,
    /// Redis failed while recording the token as used or looking up its sessions.
    #[error("the session index is unavailable: {0}")]
    Index(#[source] ClusterError),
}

/// The user-token flow's own failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UserTokenFailure {
    #[error("no signed-in session, or it has ended")]
    LoginRequired,
    /// Redis failed while ordering this session's refresh across replicas.
    #[error("the session refresh lock is unavailable: {0}")]
    RefreshLock(#[source] ClusterError),
    #[error("the session refresh lock was not acquired in time")]
    RefreshLockTimeout,
    /// The refresh task ended without an answer (a panic, or the runtime stopping).
    #[error(transparent)]
    RefreshStopped(#[from] TaskStopped),
    /// Still signed in, but no token that can be served yet: a retryable 503, not a sign-out.
    #[error("no usable user token after refreshing")]
    NoUsableToken,
    /// No ID-token claims, and userinfo is absent or refused the user's token.
    #[error("no user profile: the provider has no userinfo endpoint, or it refused the user's token")]
    NoUserinfo,
}
