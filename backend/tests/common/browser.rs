//! One browser without a browser: a cookie-keeping HTTP client for the
//! broker's origin (its `session` and `login_state` cookies), which drives the
//! dev authorization server's sign-in form and keeps every response it saw.

use std::sync::Mutex;

use url::Url;

use super::{Reply, lock, manual_client};

/// One browser: its own `session` and `login_state` cookies for the broker's
/// origin, redirects not followed, and every response it saw kept as text for
/// secret searches.
pub struct Browser {
    base: String,
    client: reqwest::Client,
    cookie: Mutex<Option<String>>,
    login_state: Mutex<Option<String>>,
    /// The login-state cookie's `Path`, as its `Set-Cookie` said.
    login_state_path: Mutex<String>,
    seen: Mutex<Vec<String>>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let client = manual_client();
        Self {
            base: base.to_owned(),
            client,
            cookie: Mutex::default(),
            login_state: Mutex::default(),
            login_state_path: Mutex::new("/".into()),
            seen: Mutex::default(),
        }
    }

    /// The current `session` cookie value.
    pub fn cookie(&self) -> Option<String> {
        lock(&self.cookie).clone()
    }

    pub fn set_cookie(&self, value: Option<&str>) {
        *lock(&self.cookie) = value.map(str::to_owned);
    }

    /// The current `login_state` cookie value (the pending sign-ins).
    pub fn login_state(&self) -> Option<String> {
        lock(&self.login_state).clone()
    }

    pub fn set_login_state(&self, value: Option<&str>) {
        *lock(&self.login_state) = value.map(str::to_owned);
    }

    /// Every response seen so far (status, headers, body) as text.
    pub fn seen(&self) -> Vec<String> {
        lock(&self.seen).clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; the cookies go only to the broker's origin (`login_state`
    /// only under its `Path`, as a browser does), and its `Set-Cookie`s are applied.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        form: Option<&[(String, String)]>,
    ) -> Reply {
        let mut builder = self.client.request(method.clone(), url);
        let ours = url.starts_with(&self.base);
        let mut cookies = Vec::new();
        if ours && let Some(cookie) = self.cookie() {
            cookies.push(format!("session={cookie}"));
        }
        if ours
            && url[self.base.len()..].starts_with(lock(&self.login_state_path).as_str())
            && let Some(state) = self.login_state()
        {
            cookies.push(format!("login_state={state}"));
        }
        if !cookies.is_empty() {
            builder = builder.header("cookie", cookies.join("; "));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Some(form) = form {
            builder = builder.form(form);
        }
        let sent_at = std::time::Instant::now();
        let response = builder.send().await.unwrap_or_else(|e| panic!("{method} {url} failed: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.expect("response body");
        if ours {
            for set in headers.get_all("set-cookie") {
                let set = set.to_str().expect("ASCII Set-Cookie");
                if let Some(value) = set.strip_prefix("session=").map(|v| v.split(';').next().unwrap_or_default()) {
                    let removed = value.is_empty() || is_removal(set);
                    self.set_cookie((!removed).then_some(value));
                }
                if let Some(value) = set.strip_prefix("login_state=").map(|v| v.split(';').next().unwrap_or_default()) {
                    let removed = value.is_empty() || is_removal(set);
                    self.set_login_state((!removed).then_some(value));
                    let path = set.split(';').find_map(|a| a.trim().strip_prefix("Path=").map(str::to_owned));
                    *lock(&self.login_state_path) = path.unwrap_or_else(|| "/".into());
                }
            }
        }
        let header_text: String =
            headers.iter().map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes()))).collect();
        lock(&self.seen).push(format!("{status} {method} {url}\n{header_text}\n{body}"));
        Reply { status, headers, body, latency: sent_at.elapsed(), sent_at }
    }

    pub async fn get(&self, path_or_url: &str, headers: &[(&str, &str)]) -> Reply {
        let url = if path_or_url.starts_with("http") { path_or_url.to_owned() } else { self.url(path_or_url) };
        self.send(reqwest::Method::GET, &url, headers, None).await
    }

    /// `GET /api/user/token` as the demo page does it.
    pub async fn user_token(&self) -> Reply {
        self.get("/api/user/token", &[("x-requested-with", "fetch")]).await
    }

    /// `POST /auth/logout` as the demo page's `fetch` does it.
    pub async fn logout(&self, origin: Option<&str>) -> Reply {
        let mut headers = vec![("x-requested-with", "fetch")];
        if let Some(origin) = origin {
            headers.push(("origin", origin));
        }
        self.send(reqwest::Method::POST, &self.url("/auth/logout"), &headers, None).await
    }

    /// `GET /auth/login?return_to=…` (the raw query text after `return_to=`).
    pub async fn login_raw(&self, raw_return_to: &str) -> Reply {
        self.get(&format!("/auth/login?return_to={raw_return_to}"), &[]).await
    }

    /// Starts a sign-in and answers the dev server's page with `decision` as
    /// `user`; returns the callback URL the dev server redirected to (not followed).
    pub async fn authorize(&self, return_to: &str, decision: &str, user: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
        let login = self.login_raw(&encoded).await;
        assert_eq!(login.status, 302, "login: {}", login.body);
        let authorize = login.header("location").expect("login Location").to_owned();
        self.decide(&authorize, decision, user).await
    }

    /// GETs the dev sign-in page at `authorize_url`, then posts its form.
    pub async fn decide(&self, authorize_url: &str, decision: &str, user: &str) -> String {
        let page = self.get(authorize_url, &[]).await;
        assert_eq!(page.status, 200, "dev sign-in page: {}", page.body);
        assert!(page.body.contains("<form method=\"post\" action=\"/authorize\">"), "{}", page.body);
        let url = Url::parse(authorize_url).expect("authorize URL");
        let mut form: Vec<(String, String)> =
            url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        form.push(("decision".into(), decision.into()));
        form.push(("user".into(), user.into()));
        let mut action = url.clone();
        action.set_query(None);
        let answer = self.send(reqwest::Method::POST, action.as_str(), &[], Some(&form)).await;
        assert_eq!(answer.status, 302, "dev /authorize: {}", answer.body);
        answer.header("location").expect("dev /authorize Location").to_owned()
    }

    /// A whole sign-in as `user`, landing on `return_to`; panics unless it works.
    pub async fn sign_in(&self, return_to: &str, user: &str) -> Reply {
        let callback = self.authorize(return_to, "allow", user).await;
        let landed = self.get(&callback, &[]).await;
        assert_eq!(landed.status, 302, "callback: {}", landed.body);
        assert_eq!(landed.header("location"), Some(return_to));
        landed
    }
}

/// A removal cookie: tower-sessions sends `Max-Age=0` (with an `Expires` a year ago).
pub fn is_removal(set_cookie: &str) -> bool {
    set_cookie.to_ascii_lowercase().split(';').any(|a| a.trim() == "max-age=0")
}
