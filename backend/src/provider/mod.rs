//! The upstream authorization server: its endpoints and how we authenticate to it.
//!
//! Configuration yields a [`ProviderSpec`] (a preset's URLs, or an issuer to
//! discover); start-up resolves it to a [`Provider`] with concrete endpoints.

mod assertion_key;
mod discovery;
mod presets;
mod proof_file;
mod signing_key;
mod watched_file;

pub use assertion_key::AssertionKey;
pub use discovery::DiscoveryError;
pub use presets::Preset;
pub use proof_file::{ProofFile, ProofFileKind};
pub use signing_key::SigningKey;
pub use watched_file::WatchedFile;

use oauth2::{AuthUrl, ClientId, ClientSecret, RevocationUrl, TokenUrl};
use url::Url;

use crate::transport::Transport;

/// How the client proves its identity at the token endpoint, as configured
/// (`OAUTH_CLIENT_AUTH`): RFC 6749 §2.3.1, or RFC 7523 §2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic (`client_secret_basic`); what APS authentication v2 requires.
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
    /// A JWT signed with our private key (`private_key_jwt`): no shared secret.
    PrivateKeyJwt,
}

impl ClientAuth {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "basic" => Ok(Self::Basic),
            "post" => Ok(Self::Post),
            "private_key_jwt" => Ok(Self::PrivateKeyJwt),
            other => Err(format!("`{other}` is not one of: basic, post, private_key_jwt")),
        }
    }

    /// The name `OAUTH_CLIENT_AUTH` gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Post => "post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// What the client authenticates with, one variant per [`ClientAuth`]. `Debug`
/// shows a secret as `ClientSecret([redacted])` and a key as its `kid`.
#[derive(Debug, Clone)]
pub enum ClientProof {
    /// `client_secret_basic`.
    Basic(ClientSecret),
    /// `client_secret_post`.
    Post(ClientSecret),
    /// `private_key_jwt`: a fresh signed assertion per request.
    PrivateKeyJwt(SigningKey),
}

impl ClientProof {
    /// The method this proof is sent with.
    pub fn auth(&self) -> ClientAuth {
        match self {
            Self::Basic(_) => ClientAuth::Basic,
            Self::Post(_) => ClientAuth::Post,
            Self::PrivateKeyJwt(_) => ClientAuth::PrivateKeyJwt,
        }
    }

    /// The shared secret, when there is one.
    pub fn secret(&self) -> Option<&ClientSecret> {
        match self {
            Self::Basic(secret) | Self::Post(secret) => Some(secret),
            Self::PrivateKeyJwt(_) => None,
        }
    }
}

/// Our identity at the authorization server.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub id: ClientId,
    pub proof: ClientProof,
    /// The file the proof was read from, read again when it changes.
    pub file: Option<std::sync::Arc<ProofFile>>,
}

/// The provider as configured, before any network access.
#[derive(Debug, Clone)]
pub enum ProviderSpec {
    /// Endpoints known from a preset or set explicitly.
    Static {
        preset: Preset,
        token_url: Url,
        authorize_url: Option<Url>,
        revocation_url: Option<Url>,
        userinfo_url: Option<Url>,
        end_session_url: Option<Url>,
    },
    /// Endpoints read from the issuer's metadata at start-up; explicit URLs win.
    Discover { issuer: Url, overrides: EndpointOverrides },
}

/// Endpoints set explicitly in configuration; each replaces the preset's or the discovered one.
#[derive(Debug, Clone, Default)]
pub struct EndpointOverrides {
    pub token_url: Option<Url>,
    pub authorize_url: Option<Url>,
    pub revocation_url: Option<Url>,
    pub userinfo_url: Option<Url>,
    pub end_session_url: Option<Url>,
}

impl ProviderSpec {
    /// Combines a preset with the explicit overrides from configuration.
    pub fn new(preset: Preset, issuer: Option<Url>, overrides: EndpointOverrides) -> Result<Self, String> {
        if preset == Preset::Oidc {
            let issuer = issuer.ok_or("`oidc` needs OAUTH_ISSUER (the issuer URL to discover)")?;
            return Ok(Self::Discover { issuer, overrides });
        }
        let defaults = preset.endpoints();
        let token_url = overrides.token_url.or(defaults.token_url).ok_or("`generic` needs OAUTH_TOKEN_URL")?;
        Ok(Self::Static {
            preset,
            token_url,
            authorize_url: overrides.authorize_url.or(defaults.authorize_url),
            revocation_url: overrides.revocation_url.or(defaults.revocation_url),
            userinfo_url: overrides.userinfo_url.or(defaults.userinfo_url),
            end_session_url: overrides.end_session_url.or(defaults.end_session_url),
        })
    }
}

/// Concrete endpoints of the upstream authorization server.
#[derive(Debug, Clone)]
pub struct Provider {
    pub token_url: TokenUrl,
    pub authorize_url: Option<AuthUrl>,
    pub revocation_url: Option<RevocationUrl>,
    pub userinfo_url: Option<Url>,
    /// Where the browser goes to end the provider's session too (OpenID Connect
    /// RP-Initiated Logout 1.0 `end_session_endpoint`).
    pub end_session_url: Option<Url>,
    /// Known for OpenID Connect providers (discovery, the dev server): sign-in
    /// then checks the `iss` it is sent against it.
    pub issuer: Option<Issuer>,
}

/// An OpenID Connect issuer, as its metadata names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// Compared as an exact string with the `iss` of authorization responses
    /// (RFC 9207 §2.4) and ID tokens (Core §3.1.3.7).
    pub identifier: String,
    /// Metadata's `authorization_response_iss_parameter_supported`: every
    /// authorization response then carries `iss`, and one without it is refused.
    pub sends_iss: bool,
    /// Metadata's `jwks_uri`: the keys that sign its back-channel logout tokens
    /// (OpenID Connect Back-Channel Logout 1.0 §2.6).
    pub jwks_url: Option<Url>,
}

impl Provider {
    /// Resolves the configured provider, running discovery when asked to.
    pub async fn resolve(spec: &ProviderSpec, http: &Transport) -> Result<Self, DiscoveryError> {
        match spec {
            ProviderSpec::Static {
                token_url, authorize_url, revocation_url, userinfo_url, end_session_url, ..
            } => Ok(Self {
                token_url: TokenUrl::from_url(token_url.clone()),
                authorize_url: authorize_url.clone().map(AuthUrl::from_url),
                revocation_url: revocation_url.clone().map(RevocationUrl::from_url),
                userinfo_url: userinfo_url.clone(),
                end_session_url: end_session_url.clone(),
                issuer: None,
            }),
            ProviderSpec::Discover { issuer, overrides } => {
                let mut provider = discovery::discover(issuer, http).await?;
                if let Some(url) = &overrides.token_url {
                    provider.token_url = TokenUrl::from_url(url.clone());
                }
                if let Some(url) = &overrides.authorize_url {
                    provider.authorize_url = Some(AuthUrl::from_url(url.clone()));
                }
                if let Some(url) = &overrides.revocation_url {
                    provider.revocation_url = Some(RevocationUrl::from_url(url.clone()));
                }
                if let Some(url) = &overrides.userinfo_url {
                    provider.userinfo_url = Some(url.clone());
                }
                if let Some(url) = &overrides.end_session_url {
                    provider.end_session_url = Some(url.clone());
                }
                Ok(provider)
            }
        }
    }

    /// A provider whose only endpoint is a token URL (the dev server, tests).
    pub fn with_token_url(token_url: Url) -> Self {
        Self {
            token_url: TokenUrl::from_url(token_url),
            authorize_url: None,
            revocation_url: None,
            userinfo_url: None,
            end_session_url: None,
            issuer: None,
        }
    }
}

/// Upstream endpoints must be https, except on loopback where tests and local
/// servers run: the client secret travels to them.
pub fn parse_endpoint_url(raw: &str) -> Result<Url, String> {
    let shown = without_password(raw);
    let url = Url::parse(raw.trim()).map_err(|e| format!("`{shown}` is not a URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!("`{shown}` must use https (plain http is allowed only on loopback)")),
        other => Err(format!("`{shown}` has unsupported scheme `{other}`")),
    }
}

/// A URL setting as an error message may show it: a `user:password@` part
/// loses its password, parsable or not, since configuration errors are printed.
fn without_password(raw: &str) -> String {
    if let Ok(mut url) = Url::parse(raw.trim()) {
        if url.password().is_some() && url.set_password(Some("redacted")).is_ok() {
            return url.to_string();
        }
        return raw.to_owned();
    }
    let (scheme, rest) = raw.split_once("://").unwrap_or(("", raw));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:redacted@{}", &rest[at + 1..])
        }
        None => raw.to_owned(),
    }
}

/// Plain http is allowed to these hosts only: tests and local servers.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
