//! The real third-party authorization server: `tests/servers/oidc-provider.mjs`
//! (the `oidc-provider` package) under Node.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Mutex;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::binary::LogCapture;
use super::broker::BrokerBuilder;
use super::{PATIENCE, get, http_client, lock, manual_client, repo_root};

/// A client registered at [`OidcProvider`].
#[derive(Debug, Clone)]
pub struct OidcClient {
    pub id: String,
    pub secret: String,
}

/// `tests/servers/oidc-provider.mjs` running under Node; killed on drop.
#[derive(Debug)]
pub struct OidcProvider {
    pub issuer: String,
    pub token_endpoint: String,
    /// Registered with `client_secret_basic`.
    pub basic: OidcClient,
    /// Registered with `client_secret_post`.
    pub post: OidcClient,
    /// `client_secret_basic`, with reserved characters in its id and secret.
    pub special: OidcClient,
    _child: Child,
}

impl OidcProvider {
    /// Starts the server; its tokens live `access_token_ttl` seconds.
    pub async fn start(access_token_ttl: u64) -> Self {
        Self::start_with(access_token_ttl, &[]).await
    }

    /// Starts the server with more of its environment (`SIGN_IN`, `EXTRA_CLIENTS`,
    /// `RESOURCE_SERVER`, …; see the script's header).
    pub async fn start_with(access_token_ttl: u64, env: &[(&str, &str)]) -> Self {
        let root = repo_root();
        let mut child = Command::new("node")
            .arg(root.join("tests/servers/oidc-provider.mjs"))
            .current_dir(&root)
            .env("ACCESS_TOKEN_TTL", access_token_ttl.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed (oidc-provider tests need Node 20 and `npm install`)");
        let stderr = LogCapture::start(child.stderr.take().expect("piped stderr"));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let line = tokio::time::timeout(PATIENCE, stdout.next_line()).await;
        let line = match line {
            Ok(Ok(Some(line))) => line,
            other => panic!("oidc-provider did not start ({other:?}); stderr:\n{}", stderr.lines().join("\n")),
        };
        let info: Value = serde_json::from_str(&line).expect("oidc-provider prints JSON");
        let client = |kind: &str| OidcClient {
            id: info["clients"][kind]["client_id"].as_str().expect("client_id").to_owned(),
            secret: info["clients"][kind]["client_secret"].as_str().expect("client_secret").to_owned(),
        };
        Self {
            issuer: info["issuer"].as_str().expect("issuer").to_owned(),
            token_endpoint: info["token_endpoint"].as_str().expect("token_endpoint").to_owned(),
            basic: client("basic"),
            post: client("post"),
            special: client("special"),
            _child: child,
        }
    }

    /// A broker for this server's token endpoint as `client`, asking for the
    /// scope its client-credentials clients may have.
    pub fn broker(&self, client: &OidcClient) -> BrokerBuilder {
        BrokerBuilder::generic(&self.token_endpoint)
            .client(&client.id, &client.secret)
            .args(&["--scope", "viewables:read"])
    }

    /// Requests that reached the token endpoint so far.
    pub async fn token_requests(&self) -> u64 {
        let reply = get(&http_client(), &format!("{}/test/token-requests", self.issuer)).await;
        reply.json()["count"].as_u64().expect("count")
    }
}

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
