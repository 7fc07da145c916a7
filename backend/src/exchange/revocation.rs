//! Token revocation (RFC 7009), used at sign-out.

use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use oauth2::RefreshToken;
use oauth2::basic::BasicRevocationErrorResponse;

use super::{Exchange, ExchangeError, Reply};
use crate::provider::ClientProof;

impl Exchange {
    /// Revokes a refresh token (RFC 7009). Without a revocation endpoint this is a no-op.
    ///
    /// Written by hand rather than with `oauth2`'s `revoke_token`, which refuses
    /// plain-http endpoints even on loopback (the dev server, local providers);
    /// configuration already keeps plain http to loopback. The request is the
    /// RFC 7009 form with the same client authentication as the token endpoint.
    pub async fn revoke(&self, refresh_token: RefreshToken) -> Result<(), ExchangeError> {
        self.with_current_proof(|proof| self.revoke_as(proof, &refresh_token)).await
    }

    async fn revoke_as(&self, proof: Arc<ClientProof>, refresh_token: &RefreshToken) -> Result<(), ExchangeError> {
        let Some(url) = self.client.revocation_url() else { return Ok(()) };
        let form = vec![("token", refresh_token.secret().clone()), ("token_type_hint", "refresh_token".to_owned())];
        let auth = self.client_auth_params(&proof)?;
        let request = self.form_request(&proof, url.as_str(), form, auth)?;
        let reply = Reply::default();
        let response = self.send(request, &reply).await?;
        let status = reply.status.load(Ordering::Relaxed);
        let retry_after = match reply.retry_after_secs.load(Ordering::Relaxed) {
            0 => None,
            secs => Some(Duration::from_secs(u64::from(secs))),
        };
        match status {
            200..=299 => Ok(()),
            429 | 500..=599 => Err(ExchangeError::Unavailable { status, retry_after }),
            _ => {
                let error = serde_json::from_slice::<BasicRevocationErrorResponse>(response.body())
                    .map(|e| e.error().to_string())
                    .unwrap_or_else(|_| "revocation_rejected".into());
                Err(ExchangeError::Rejected { status, error, description: None })
            }
        }
    }
}
