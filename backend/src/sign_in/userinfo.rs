//! The provider's userinfo endpoint (OpenID Connect Core §5.3): the signed-in
//! user's profile, fetched with their access token.

use oauth2::AccessToken;
use url::Url;

use crate::exchange::{ExchangeError, parse_reason};
use crate::transport::Transport;

/// Where the user's profile comes from, when the provider has an endpoint for it.
#[derive(Debug, Clone)]
pub struct Userinfo {
    url: Option<Url>,
    http: Transport,
}

impl Userinfo {
    pub fn new(url: Option<Url>, http: Transport) -> Self {
        Self { url, http }
    }

    /// The HTTP client, shared with the other requests of sign-in.
    pub(super) fn http(&self) -> &Transport {
        &self.http
    }

    pub fn is_configured(&self) -> bool {
        self.url.is_some()
    }

    /// The user's profile, as JSON.
    pub async fn fetch(&self, access_token: &AccessToken) -> Result<serde_json::Value, ExchangeError> {
        let Some(url) = &self.url else {
            return Err(ExchangeError::InvalidResponse("the provider has no userinfo endpoint".into()));
        };
        let request = self
            .http
            .request(reqwest::Method::GET, url.clone())
            .bearer_auth(access_token.secret())
            .header(http::header::ACCEPT, "application/json");
        let response = self.http.send(request).await?;
        let status = response.status().as_u16();
        let body = self.http.read_body(response).await?;
        match status {
            200..=299 => serde_json::from_slice(&body)
                .map_err(|e| ExchangeError::InvalidResponse(format!("userinfo: {}", parse_reason(&e)))),
            429 | 500..=599 => Err(ExchangeError::Unavailable { status, retry_after: None }),
            _ => Err(ExchangeError::Rejected { status, error: "userinfo_rejected".into(), description: None }),
        }
    }
}
