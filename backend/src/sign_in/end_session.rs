//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the request
//! that sends the browser to the provider's end-session endpoint after our own
//! session has ended, so the provider's session ends too.

use oauth2::CsrfToken;
use url::Url;

use crate::exchange::IdToken;

/// The provider's end-session endpoint and where it sends the browser back.
#[derive(Debug, Clone)]
pub(super) struct EndSession {
    pub endpoint: Url,
    pub post_logout_redirect_uri: Url,
}

impl EndSession {
    /// The logout request of §2: the ID token as `id_token_hint` when the session
    /// had one (so the provider knows whose session to end without asking), our
    /// `client_id` (which lets it check `post_logout_redirect_uri` without the
    /// hint) and a fresh `state`. Nothing comes back to us to check the `state`
    /// against: the return lands on a page of the site, not on the broker; it is
    /// sent because providers (and the brief) expect one per request.
    ///
    /// The URL carries the ID token: it goes to the browser in this one response
    /// and is never logged.
    pub fn request_url(&self, client_id: &str, id_token: Option<&IdToken>) -> Url {
        let mut url = self.endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(id_token) = id_token {
                query.append_pair("id_token_hint", id_token.as_str());
            }
            query
                .append_pair("post_logout_redirect_uri", self.post_logout_redirect_uri.as_str())
                .append_pair("client_id", client_id)
                .append_pair("state", CsrfToken::new_random().secret());
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The endpoint's own query survives, and every parameter of §2 is added.
    #[test]
    fn request_carries_the_logout_parameters() {
        let end = EndSession {
            endpoint: Url::parse("https://op.example/logout?tenant=a").expect("url"),
            post_logout_redirect_uri: Url::parse("https://app.example/").expect("url"),
        };
        let id_token: IdToken = serde_json::from_str("\"h.p.s\"").expect("id token");
        let url = end.request_url("client-1", Some(&id_token));
        let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(get("tenant"), Some("a"));
        assert_eq!(get("id_token_hint"), Some("h.p.s"));
        assert_eq!(get("post_logout_redirect_uri"), Some("https://app.example/"));
        assert_eq!(get("client_id"), Some("client-1"));
        assert!(get("state").is_some_and(|s| s.len() >= 16));
        let without_hint = end.request_url("client-1", None);
        assert!(without_hint.query_pairs().any(|(k, _)| k == "state"));
        assert!(!without_hint.query_pairs().any(|(k, _)| k == "id_token_hint"));
    }
}
