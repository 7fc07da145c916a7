//! Authorization server metadata discovery: OpenID Connect Discovery 1.0 first,
//! then RFC 8414, as `OAUTH_PROVIDER=oidc` promises.
//!
//! Written by hand because `oauth2` does not do discovery and `openidconnect`
//! would bring a second OAuth client and JOSE stack for one GET request.

use oauth2::{AuthUrl, RevocationUrl, TokenUrl};
use serde::Deserialize;
use url::Url;

use super::{Issuer, Provider, parse_endpoint_url};
use crate::transport::Transport;

/// Why the provider's endpoints could not be discovered; stops start-up.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("discovery at {url} failed: {reason}")]
    Fetch { url: String, reason: String },
    #[error("discovery document from {url} is invalid: {reason}")]
    Invalid { url: String, reason: String },
}

/// The fields of the metadata document we use (RFC 8414 §2).
#[derive(Debug, Deserialize)]
struct Metadata {
    issuer: String,
    token_endpoint: String,
    authorization_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    /// OpenID Connect RP-Initiated Logout 1.0 §2.1.
    end_session_endpoint: Option<String>,
    /// OpenID Connect Discovery 1.0 §3 (required there, optional in RFC 8414).
    jwks_uri: Option<String>,
    /// RFC 9207 §3.
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

/// Fetches the issuer's metadata and checks it names the same issuer.
pub(super) async fn discover(issuer: &Url, http: &Transport) -> Result<Provider, DiscoveryError> {
    let mut failures = Vec::new();
    for url in metadata_urls(issuer) {
        match fetch(&url, http).await {
            Ok(Some(metadata)) => return provider_from(issuer, &url, metadata),
            Ok(None) => failures.push(format!("{url}: not found")),
            Err(reason) => failures.push(format!("{url}: {reason}")),
        }
    }
    Err(DiscoveryError::Fetch { url: issuer.to_string(), reason: failures.join("; ") })
}

/// OIDC appends the well-known path to the issuer; RFC 8414 inserts it before the issuer's path.
fn metadata_urls(issuer: &Url) -> [Url; 2] {
    let path = issuer.path().trim_end_matches('/');
    let mut oidc = issuer.clone();
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    let mut rfc8414 = issuer.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    [oidc, rfc8414]
}

async fn fetch(url: &Url, http: &Transport) -> Result<Option<Metadata>, String> {
    let response = http.send(http.request(reqwest::Method::GET, url.clone())).await.map_err(|e| e.to_string())?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let body = http.read_body(response).await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map(Some).map_err(|e| format!("not a metadata document: {e}"))
}

fn provider_from(issuer: &Url, url: &Url, metadata: Metadata) -> Result<Provider, DiscoveryError> {
    let invalid = |reason: String| DiscoveryError::Invalid { url: url.to_string(), reason };
    // RFC 8414 §3.3: the document must name the issuer we asked for, or it could be
    // someone else's metadata served from a compromised path.
    if metadata.issuer.trim_end_matches('/') != issuer.as_str().trim_end_matches('/') {
        return Err(invalid(format!("issuer `{}` does not match OAUTH_ISSUER `{issuer}`", metadata.issuer)));
    }
    let endpoint = |name: &str, raw: &str| parse_endpoint_url(raw).map_err(|e| invalid(format!("{name}: {e}")));
    let optional = |name: &str, raw: Option<String>| raw.map(|r| endpoint(name, &r)).transpose();
    Ok(Provider {
        token_url: TokenUrl::from_url(endpoint("token_endpoint", &metadata.token_endpoint)?),
        authorize_url: optional("authorization_endpoint", metadata.authorization_endpoint)?.map(AuthUrl::from_url),
        revocation_url: optional("revocation_endpoint", metadata.revocation_endpoint)?.map(RevocationUrl::from_url),
        userinfo_url: optional("userinfo_endpoint", metadata.userinfo_endpoint)?,
        end_session_url: optional("end_session_endpoint", metadata.end_session_endpoint)?,
        issuer: Some(Issuer {
            identifier: metadata.issuer,
            sends_iss: metadata.authorization_response_iss_parameter_supported,
            jwks_url: optional("jwks_uri", metadata.jwks_uri)?,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both well-known locations, for issuers with and without a path.
    #[test]
    fn metadata_locations() {
        let issuer = Url::parse("https://auth.example.com/tenant/").expect("url");
        let [oidc, rfc] = metadata_urls(&issuer);
        assert_eq!(oidc.as_str(), "https://auth.example.com/tenant/.well-known/openid-configuration");
        assert_eq!(rfc.as_str(), "https://auth.example.com/.well-known/oauth-authorization-server/tenant");
        let [oidc, _] = metadata_urls(&Url::parse("https://auth.example.com").expect("url"));
        assert_eq!(oidc.as_str(), "https://auth.example.com/.well-known/openid-configuration");
    }

    /// Metadata naming another issuer is refused.
    #[test]
    fn issuer_mismatch_is_rejected() {
        let issuer = Url::parse("https://auth.example.com").expect("url");
        let metadata = Metadata {
            issuer: "https://evil.example.com".into(),
            token_endpoint: "https://evil.example.com/token".into(),
            authorization_endpoint: None,
            revocation_endpoint: None,
            userinfo_endpoint: None,
            end_session_endpoint: None,
            jwks_uri: None,
            authorization_response_iss_parameter_supported: false,
        };
        assert!(matches!(provider_from(&issuer, &issuer, metadata), Err(DiscoveryError::Invalid { .. })));
    }
}
