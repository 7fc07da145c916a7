//! User sign-in: on in `--dev`, and elsewhere when `OAUTH_REDIRECT_URL` or
//! `PUBLIC_URL` is set; the origin users see, the scopes, the resource
//! indicator, and the session cookie and its secret.

use std::net::SocketAddr;

use secrecy::ExposeSecret;
use url::Url;

use super::profiles::parse_scope;
use super::settings::Settings;
use super::validate::Validator;
use crate::app::Upstream;
use crate::provider::{Preset, is_loopback};
use crate::session::SessionKey;
use crate::sign_in::SignIn;

/// Sign-in's settings, or `None` when it is off or a setting is bad.
pub(super) fn parse(
    s: &Settings,
    upstream: &Upstream,
    bind_addr: SocketAddr,
    preset: Option<Preset>,
    v: &mut Validator,
) -> Option<SignIn> {
    let dev = matches!(upstream, Upstream::Dev { .. });
    let public_url = match v.value(&s.public_url) {
        Some(raw) => Some(v.check_setting(&s.public_url, parse_public_url(&raw))?),
        None => None,
    };
    let redirect_url = redirect_url(s, dev, bind_addr, public_url.as_ref(), v)?;
    let trust_forwarded_headers = v.value_or_default(&s.trust_forwarded_headers)?;
    let default_scope = if dev { "openid profile data:read" } else { preset.map_or("", |p| p.default_user_scope()) };
    let user_scopes = v.parse_or(&s.user_scope, default_scope, parse_scope)?;
    let browser_scopes = browser_scopes(s, &user_scopes, v)?;
    let resource = resource(s, v)?;
    let cookie_secure = cookie_secure(s, dev, &redirect_url, v)?;
    if redirect_url.scheme() == "http" && !is_loopback(&redirect_url) {
        v.problem_with(&s.redirect_url, "must use https (plain http is allowed only on loopback)");
        return None;
    }
    let session_key = session_key(s, dev, v)?;
    let previous_session_key = previous_session_key(s, v)?;
    let session_max_lifetime = v.seconds(&s.session_max_lifetime_secs)?;
    let end_session = v.value_or_default(&s.end_session)?;
    let post_logout_redirect_url = post_logout_redirect_url(s, &redirect_url, v)?;
    Some(SignIn {
        redirect_url,
        user_scopes,
        browser_scopes,
        resource,
        session_key,
        previous_session_key,
        cookie_secure,
        session_max_lifetime,
        trust_forwarded_headers,
        end_session,
        post_logout_redirect_url,
    })
}

/// `OAUTH_POST_LOGOUT_REDIRECT_URL`: an absolute http(s) URL without a fragment,
/// https unless on loopback; by default our own origin's `/`.
fn post_logout_redirect_url(s: &Settings, redirect_url: &Url, v: &mut Validator) -> Option<Url> {
    let Some(raw) = v.value(&s.post_logout_redirect_url) else { return redirect_url.join("/").ok() };
    let url = v.check_setting(&s.post_logout_redirect_url, parse_redirect_url(&raw))?;
    if url.scheme() == "http" && !is_loopback(&url) {
        v.problem_with(&s.post_logout_redirect_url, "must use https (plain http is allowed only on loopback)");
        return None;
    }
    Some(url)
}

/// `OAUTH_REDIRECT_URL`: absolute, without a fragment (RFC 6749 §3.1.2), on
/// `PUBLIC_URL`'s origin when that is set. It defaults to `PUBLIC_URL` +
/// `/auth/callback`, and in `--dev` to our own callback; unset, sign-in is off.
fn redirect_url(
    s: &Settings,
    dev: bool,
    bind_addr: SocketAddr,
    public_url: Option<&Url>,
    v: &mut Validator,
) -> Option<Url> {
    match (v.value(&s.redirect_url), public_url) {
        (Some(raw), public_url) => {
            let url = v.check_setting(&s.redirect_url, parse_redirect_url(&raw))?;
            if let Some(public_url) = public_url.filter(|p| p.origin() != url.origin()) {
                let origin = public_url.origin().ascii_serialization();
                v.problem_with(
                    &s.redirect_url,
                    format!("must be on PUBLIC_URL's origin {origin}: the browser's sign-in cookie is set there"),
                );
                return None;
            }
            Some(url)
        }
        (None, Some(public_url)) => public_url.join("/auth/callback").ok(),
        (None, None) if dev => {
            // Browsers reach a wildcard listener through loopback.
            let ip = bind_addr.ip();
            let host = match (ip.is_unspecified(), bind_addr.is_ipv6()) {
                (true, _) => "127.0.0.1".to_owned(),
                (false, true) => format!("[{ip}]"),
                (false, false) => ip.to_string(),
            };
            Url::parse(&format!("http://{host}:{}/auth/callback", bind_addr.port())).ok()
        }
        (None, None) => None,
    }
}

/// `PUBLIC_URL`: an http(s) origin, nothing after it.
fn parse_public_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    let is_origin = matches!(url.scheme(), "http" | "https")
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !is_origin {
        return Err(format!("`{raw}` must be an origin such as http://localhost:5173 (scheme, host and port only)"));
    }
    Ok(url)
}

fn parse_redirect_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.fragment().is_some() {
        return Err(format!("`{raw}` must be an http(s) URL without a fragment"));
    }
    Ok(url)
}

/// `OAUTH_USER_BROWSER_SCOPE`: a subset of the sign-in scopes; `Some(None)`
/// when unset or empty (the browser gets the sign-in token).
fn browser_scopes(s: &Settings, user_scopes: &[String], v: &mut Validator) -> Option<Option<Vec<String>>> {
    let Some(raw) = v.value(&s.user_browser_scope) else { return Some(None) };
    let scopes = v.check_setting(&s.user_browser_scope, parse_scope(&raw))?;
    if let Some(extra) = scopes.iter().find(|scope| !user_scopes.contains(scope)) {
        v.problem_with(
            &s.user_browser_scope,
            format!("`{extra}` is not in OAUTH_USER_SCOPE; the browser scope must be narrower"),
        );
        return None;
    }
    Some(Some(scopes).filter(|scopes| !scopes.is_empty()))
}

/// `OAUTH_RESOURCE`: an absolute URI without a fragment (RFC 8707 §2).
fn resource(s: &Settings, v: &mut Validator) -> Option<Option<Url>> {
    let Some(raw) = v.value(&s.resource) else { return Some(None) };
    match Url::parse(raw.trim()) {
        Ok(url) if url.fragment().is_none() => Some(Some(url)),
        _ => {
            v.problem_with(&s.resource, "must be an absolute URI without a fragment (RFC 8707)");
            None
        }
    }
}

/// `COOKIE_SECURE`: true unless `--dev`; false only where the browser talks
/// plain http, on loopback.
fn cookie_secure(s: &Settings, dev: bool, redirect_url: &Url, v: &mut Validator) -> Option<bool> {
    let secure = if s.cookie_secure.is_set() { v.value(&s.cookie_secure)? } else { !dev };
    if !secure && !is_loopback(redirect_url) {
        v.problem_with(&s.cookie_secure, "may be false only when OAUTH_REDIRECT_URL is on localhost/loopback");
        return None;
    }
    Some(secure)
}

/// `SESSION_SECRET_PREVIOUS`: like `SESSION_SECRET`, only next to it (a random
/// `--dev` secret has no predecessor), and not the same secret.
fn previous_session_key(s: &Settings, v: &mut Validator) -> Option<Option<SessionKey>> {
    let Some(previous) = v.value(&s.session_secret_previous) else { return Some(None) };
    let current = v.value(&s.session_secret);
    if previous.expose_secret().len() < 32 {
        v.problem_with(&s.session_secret_previous, "must be at least 32 characters, like SESSION_SECRET");
        return None;
    }
    match current {
        None => {
            v.problem_with(&s.session_secret_previous, "is set without SESSION_SECRET; set the new secret there");
            None
        }
        Some(current) if current.expose_secret() == previous.expose_secret() => {
            v.problem_with(&s.session_secret_previous, "equals SESSION_SECRET; set it to the secret being replaced");
            None
        }
        Some(_) => Some(Some(SessionKey::derive(previous.expose_secret()))),
    }
}

/// `SESSION_SECRET`: at least 32 characters; in `--dev`, a random one if unset.
fn session_key(s: &Settings, dev: bool, v: &mut Validator) -> Option<SessionKey> {
    match v.value(&s.session_secret) {
        Some(secret) if secret.expose_secret().len() >= 32 => Some(SessionKey::derive(secret.expose_secret())),
        Some(_) => {
            v.problem_with(&s.session_secret, "must be at least 32 characters (e.g. `openssl rand -base64 48`)");
            None
        }
        None if dev => {
            v.warnings.push("SESSION_SECRET is not set; using a random one, so sessions end when the process restarts");
            Some(SessionKey::random())
        }
        None => {
            v.problem(
                s.session_secret.var,
                "missing: sign-in (OAUTH_REDIRECT_URL) needs a secret of at least 32 characters",
            );
            None
        }
    }
}
