//! `SESSION_SECRET_PREVIOUS`: a session cookie signed with the secret being
//! rotated out is still accepted, and re-issued signed with `SESSION_SECRET`.
//!
//! `tower-sessions` verifies its signed cookie with exactly one key, so this
//! middleware sits in front of it: a cookie that only the previous key verifies
//! is re-signed with the current key before the session layer reads it, and the
//! response carries the re-signed cookie so the browser stops sending the old
//! one. Signing goes through the `cookie` crate's signed jar, as the session
//! layer's own does, so the two always agree on the format.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_sessions::cookie::{Cookie, CookieJar, Key, SameSite};

use super::{SessionKey, cookie_name};

/// The keys and the attributes of the re-issued cookie (those of [`super::layer`]).
#[derive(Clone)]
pub struct Rekey(Arc<Keys>);

struct Keys {
    name: &'static str,
    secure: bool,
    current: Key,
    previous: Key,
}

impl std::fmt::Debug for Rekey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rekey").field("name", &self.0.name).finish_non_exhaustive()
    }
}

impl Rekey {
    pub fn new(current: &SessionKey, previous: &SessionKey, cookie_secure: bool) -> Self {
        Self(Arc::new(Keys {
            name: cookie_name(cookie_secure),
            secure: cookie_secure,
            current: Key::from(&current.0),
            previous: Key::from(&previous.0),
        }))
    }

    /// The cookie's value signed with the current key, when the request's
    /// session cookie verifies only with the previous one.
    fn resign(&self, request: &Request) -> Option<String> {
        let keys = &self.0;
        let sent = request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|cookie| cookie.name() == keys.name)?;
        let mut jar = CookieJar::new();
        jar.add_original(sent.into_owned());
        if jar.signed(&keys.current).get(keys.name).is_some() {
            return None;
        }
        let plain = jar.signed(&keys.previous).get(keys.name)?;
        let mut resigned = CookieJar::new();
        resigned.signed_mut(&keys.current).add(Cookie::new(keys.name, plain.value().to_owned()));
        resigned.get(keys.name).map(|cookie| cookie.value().to_owned())
    }

    /// `Set-Cookie` for the re-signed value, with the session layer's attributes.
    fn set_cookie(&self, value: String) -> Option<HeaderValue> {
        let cookie = Cookie::build((self.0.name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.0.secure)
            .path("/")
            .build();
        HeaderValue::from_str(&cookie.to_string()).ok()
    }
}

/// The middleware: re-signs an old cookie on the way in, and re-issues it on
/// the way out unless the session layer set (or removed) the cookie itself.
pub async fn rekey(State(rekey): State<Rekey>, mut request: Request, next: Next) -> Response {
    let Some(resigned) = rekey.resign(&request) else { return next.run(request).await };
    replace_cookie(&mut request, rekey.0.name, &resigned);
    let mut response = next.run(request).await;
    let prefix = format!("{}=", rekey.0.name);
    let session_layer_set_it = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|value| value.to_str().is_ok_and(|v| v.starts_with(&prefix)));
    if !session_layer_set_it && let Some(value) = rekey.set_cookie(resigned) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Rewrites the request's `Cookie` headers into one, with `name`'s value replaced.
fn replace_cookie(request: &mut Request, name: &str, value: &str) {
    let headers = request.headers_mut();
    let pairs: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if n.trim() == name => format!("{name}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    if let Ok(joined) = HeaderValue::from_str(&pairs.join("; ")) {
        headers.insert(header::COOKIE, joined);
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn signed(key: &SessionKey, value: &str) -> String {
        let mut jar = CookieJar::new();
        jar.signed_mut(&Key::from(&key.0)).add(Cookie::new("session", value.to_owned()));
        jar.get("session").map(|c| c.value().to_owned()).expect("signed")
    }

    fn request(cookie: &str) -> Request {
        Request::builder().header(header::COOKIE, cookie).body(Body::empty()).expect("request")
    }

    /// Only a cookie the previous key signed is re-signed, and the result is
    /// what the current key signs; other cookies in the header are kept.
    #[test]
    fn only_cookies_of_the_previous_key_are_resigned() {
        let (old, new) = (SessionKey::derive("old"), SessionKey::derive("new"));
        let rekey = Rekey::new(&new, &old, false);
        let mut old_cookie = request(&format!("theme=dark; session={}", signed(&old, "abc")));
        let resigned = rekey.resign(&old_cookie).expect("an old cookie is re-signed");
        assert_eq!(resigned, signed(&new, "abc"));
        replace_cookie(&mut old_cookie, "session", &resigned);
        assert_eq!(old_cookie.headers()[header::COOKIE], format!("theme=dark; session={resigned}").as_str());
        assert_eq!(rekey.resign(&request(&format!("session={}", signed(&new, "abc")))), None, "current: untouched");
        let foreign = SessionKey::derive("someone else");
        assert_eq!(rekey.resign(&request(&format!("session={}", signed(&foreign, "abc")))), None, "forged");
        assert_eq!(rekey.resign(&request("session=abc")), None, "unsigned");
    }
}
