//! A user agent at the real `oidc-provider` (see [`super::oidc_provider`]):
//! it signs in through the provider's own login and consent pages.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{lock, manual_client};

/// The user agent at the provider: its cookies (one origin, so name → value is
/// enough), redirects not followed.
pub struct ProviderAgent {
    client: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl ProviderAgent {
    pub fn new() -> Self {
        let client = manual_client();
        Self { client, cookies: Mutex::default() }
    }

    /// Sends a request with the provider's cookies; returns (status, Location, body).
    pub async fn send(&self, url: &str, form: Option<&[(&str, &str)]>) -> (u16, Option<String>, String) {
        let mut request = match form {
            Some(form) => self.client.post(url).form(form),
            None => self.client.get(url),
        };
        let cookie: Vec<String> = lock(&self.cookies).iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !cookie.is_empty() {
            request = request.header("cookie", cookie.join("; "));
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = response.status().as_u16();
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().expect("ASCII").split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                lock(&self.cookies).insert(name.to_owned(), value.to_owned());
            }
        }
        let location = response.headers().get("location").map(|v| v.to_str().expect("ASCII").to_owned());
        let body = response.text().await.expect("body");
        (status, location, body)
    }

    /// From the authorization URL through oidc-provider's login and consent
    /// pages (devInteractions) to the broker's callback URL (not followed).
    pub async fn authorize(&self, issuer: &str, authorize_url: &str, user: &str) -> String {
        let mut url = authorize_url.to_owned();
        for _ in 0..12 {
            if !url.starts_with(issuer) {
                return url;
            }
            let (status, location, body) = self.send(&url, None).await;
            if let Some(location) = location {
                url = if location.starts_with('/') { format!("{issuer}{location}") } else { location };
                continue;
            }
            assert_eq!(status, 200, "{url}: {body}");
            let action = body.split("action=\"").nth(1).and_then(|r| r.split('"').next()).expect("a form");
            let action = if action.starts_with('/') { format!("{issuer}{action}") } else { action.to_owned() };
            let form: &[(&str, &str)] = if body.contains("name=\"prompt\" value=\"login\"") {
                &[("prompt", "login"), ("login", user), ("password", "any password")]
            } else {
                &[("prompt", "consent")]
            };
            let (status, location, body) = self.send(&action, Some(form)).await;
            let location = location.unwrap_or_else(|| panic!("{action} answered {status}: {body}"));
            url = if location.starts_with('/') { format!("{issuer}{location}") } else { location };
        }
        panic!("the provider never redirected back (at {url})");
    }
}
