//! Token revocation (RFC 7009), used at sign-out.

use std::time::Duration;

use base64::Engine;
use oauth2::RefreshToken;
use oauth2::basic::BasicRevocationErrorResponse;

use super::{Exchange, ExchangeError};
use crate::provider::ClientProof;
use crate::transport::retry_after_secs;

impl Exchange {
    /// Revokes a refresh token (RFC 7009). Without a revocation endpoint this is a no-op.
    ///
    /// Written by hand rather than with `oauth2`'s `revoke_token`, which refuses
    /// plain-http endpoints even on loopback (the dev server, local providers);
    /// configuration already keeps plain http to loopback. The request is the
    /// RFC 7009 form with the same client authentication as the token endpoint.
    pub async fn revoke(&self, refresh_token: RefreshToken) -> Result<(), ExchangeError> {
        let Some(url) = self.client.revocation_url() else { return Ok(()) };
        let mut form = vec![("token", refresh_token.secret().as_str()), ("token_type_hint", "refresh_token")];
        let mut request = self
            .http
            .request(reqwest::Method::POST, url.url().clone())
            .header(http::header::ACCEPT, "application/json");
        let auth = self.client_auth_params()?;
        match &self.proof {
            ClientProof::Basic(secret) => {
                let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let credentials = format!("{}:{}", encode(self.client.client_id()), encode(secret.secret()));
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                request = request.header(http::header::AUTHORIZATION, format!("Basic {encoded}"));
            }
            ClientProof::Post(secret) => {
                form.push(("client_id", self.client.client_id().as_str()));
                form.push(("client_secret", secret.secret()));
            }
            ClientProof::PrivateKeyJwt(_) => {
                form.push(("client_id", self.client.client_id().as_str()));
                form.extend(auth.iter().map(|(name, value)| (*name, value.as_str())));
            }
        }
        let response = self.http.send(request.form(&form)).await?;
        let status = response.status().as_u16();
        let retry_after = retry_after_secs(response.headers()).map(|s| Duration::from_secs(u64::from(s)));
        match status {
            200..=299 => Ok(()),
            429 | 500..=599 => Err(ExchangeError::Unavailable { status, retry_after }),
            _ => {
                let body = self.http.read_body(response).await.unwrap_or_default();
                let error = serde_json::from_slice::<BasicRevocationErrorResponse>(&body)
                    .map(|e| e.error().to_string())
                    .unwrap_or_else(|_| "revocation_rejected".into());
                Err(ExchangeError::Rejected { status, error, description: None })
            }
        }
    }
}
