//! The effective settings of a validated [`Config`] as `VARIABLE=value` lines, for
//! `token-backend check-config`; secrets are printed as `[redacted]`.
//!
//! It reads the validated values, not the raw input, so what it prints is what
//! the server would run with: defaults filled in, presets resolved, scopes split.

use std::fmt::Write;
use std::time::Duration;

use secrecy::ExposeSecret;
use url::Url;

use crate::app::{Config, Cors, Upstream};
use crate::exchange::Grant;
use crate::provider::{ClientProof, ProviderSpec};
use crate::proxy::{ApiSettings, ApiToken};
use crate::telemetry::LogFormat;
use crate::token_cache::DEFAULT_PROFILE;

/// What a secret prints as.
const REDACTED: &str = "[redacted]";

/// One line per setting, named by its environment variable; named profiles
/// (TOML only) as `profiles.NAME.scope`, proxied APIs as `apis.NAME.key`. Unset
/// optional settings are left out.
pub fn render(config: &Config) -> String {
    let mut out = Lines::default();
    out.set("BIND_ADDR", config.bind_addr);
    match (&config.public_dir, &config.upstream) {
        (Some(dir), _) => out.set("PUBLIC_DIR", dir.display()),
        (None, Upstream::Dev { .. }) => out.set("PUBLIC_DIR", "(unset: the embedded demo site)"),
        (None, Upstream::Remote { .. }) => out.set("PUBLIC_DIR", "(unset: no static site)"),
    }
    match &config.upstream {
        Upstream::Dev { token_ttl } => {
            out.set("OAUTH_PROVIDER", "(--dev: the embedded development authorization server)");
            out.set("DEV_TOKEN_TTL_SECS", secs(*token_ttl));
        }
        Upstream::Remote { provider, client } => {
            render_provider(&mut out, provider);
            out.set("OAUTH_CLIENT_ID", client.id.as_str());
            out.set("OAUTH_CLIENT_AUTH", client.proof.auth().as_str());
            match &client.proof {
                ClientProof::Basic(_) | ClientProof::Post(_) => {}
                ClientProof::PrivateKeyJwt(key) => {
                    out.set("OAUTH_CLIENT_KEY_FILE", format_args!("{} ({:?})", key.file().display(), key.algorithm()));
                    out.set("OAUTH_CLIENT_KEY_ID", key.kid());
                }
            }
            if client.proof.secret().is_some() {
                out.set("OAUTH_CLIENT_SECRET", REDACTED);
            }
        }
    }
    for profile in config.profiles.values() {
        let scope = profile.scopes.join(" ");
        let names: [String; 5] = if profile.name == DEFAULT_PROFILE {
            [
                "OAUTH_SCOPE",
                "OAUTH_GRANT",
                "OAUTH_ASSERTION_SUBJECT",
                "OAUTH_ASSERTION_KEY_FILE",
                "OAUTH_ASSERTION_KEY_ID",
            ]
            .map(str::to_owned)
        } else {
            ["scope", "grant", "assertion_subject", "assertion_key_file", "assertion_key_id"]
                .map(|key| format!("profiles.{}.{key}", profile.name))
        };
        out.set(&names[0], scope);
        match &profile.grant {
            Grant::ClientCredentials => out.set(&names[1], "client-credentials"),
            Grant::JwtBearer(grant) => {
                out.set(&names[1], "jwt-bearer");
                out.set(&names[2], &grant.subject);
                let key = grant.key.current();
                out.set(&names[3], format_args!("{} ({:?})", key.file().display(), key.algorithm()));
                out.set(&names[4], key.kid());
            }
        }
    }
    match &config.cors {
        Cors::SameOrigin => out.set("ALLOWED_ORIGINS", "(unset: same origin only)"),
        Cors::AnyOrigin => out.set("ALLOWED_ORIGINS", "*"),
        Cors::Origins { origins, allow_credentials } => {
            out.set("ALLOWED_ORIGINS", origins.join(","));
            out.set("CORS_ALLOW_CREDENTIALS", allow_credentials);
        }
    }
    out.set("TOKEN_MIN_TTL_SECS", secs(config.cache.min_ttl));
    out.set("TOKEN_REFRESH_WINDOW_PERCENT", config.cache.refresh_window_percent);
    out.set("TOKEN_REFRESH_WINDOW_MIN_SECS", secs(config.cache.refresh_window_min));
    out.set("TOKEN_DEFAULT_TTL_SECS", secs(config.cache.default_ttl));
    out.set("UPSTREAM_TIMEOUT_SECS", secs(config.http.timeout));
    out.set("UPSTREAM_CONNECT_TIMEOUT_SECS", secs(config.http.connect_timeout));
    out.set("UPSTREAM_RETRY_AFTER_MAX_SECS", secs(config.cache.backoff.retry_after_max));
    out.set("UPSTREAM_BACKOFF_MAX_SECS", secs(config.cache.backoff.max));
    out.set("HEADER_READ_TIMEOUT_SECS", secs(config.server.header_read_timeout));
    out.set("IDLE_TIMEOUT_SECS", secs(config.server.idle_timeout));
    let budget = &config.descriptors;
    if budget.is_derived {
        out.set(
            "MAX_CONNECTIONS",
            format_args!(
                "{} (derived from the descriptor limit {}; the proxy may hold {} upstream connections)",
                config.server.max_connections, budget.limit, budget.proxy_connections
            ),
        );
    } else {
        out.set("MAX_CONNECTIONS", config.server.max_connections);
    }
    out.set("SHUTDOWN_TIMEOUT_SECS", secs(config.server.shutdown_timeout));
    out.set(
        "LOG_FORMAT",
        match config.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        },
    );
    match &config.sign_in {
        Some(sign_in) => {
            out.set("OAUTH_REDIRECT_URL", &sign_in.redirect_url);
            out.set("PUBLIC_URL", sign_in.origin());
            out.set("TRUST_FORWARDED_HEADERS", sign_in.trust_forwarded_headers);
            out.set("OAUTH_USER_SCOPE", sign_in.user_scopes.join(" "));
            if let Some(scopes) = &sign_in.browser_scopes {
                out.set("OAUTH_USER_BROWSER_SCOPE", scopes.join(" "));
            }
            out.set_some("OAUTH_RESOURCE", sign_in.resource.as_ref());
            out.set("SESSION_SECRET", REDACTED);
            if sign_in.previous_session_key.is_some() {
                out.set("SESSION_SECRET_PREVIOUS", REDACTED);
            }
            out.set("COOKIE_SECURE", sign_in.cookie_secure);
            out.set("SESSION_MAX_LIFETIME_SECS", secs(sign_in.session_max_lifetime));
            out.set("OAUTH_END_SESSION", sign_in.end_session);
            out.set("OAUTH_POST_LOGOUT_REDIRECT_URL", &sign_in.post_logout_redirect_url);
        }
        None => out.set("OAUTH_REDIRECT_URL", "(unset: user sign-in is off)"),
    }
    match &config.redis {
        Some(redis) => {
            out.set("REDIS_URL", redact_password(redis.url.expose_secret()));
            out.set("REDIS_KEY_PREFIX", &redis.key_prefix);
        }
        None => out.set("REDIS_URL", "(unset: standalone)"),
    }
    for api in &config.apis {
        render_api(&mut out, api);
    }
    out.text
}

/// One proxied API as `apis.NAME.key=value` lines (TOML keys; `PROXY_API`'s
/// entries are shown the same way, with their defaults filled in).
fn render_api(out: &mut Lines, api: &ApiSettings) {
    let key = |k: &str| format!("apis.{}.{k}", api.name);
    out.set(&key("base_url"), &api.base_url);
    match &api.token {
        ApiToken::Profile(profile) => out.set(&key("token"), profile),
        ApiToken::User => out.set(&key("token"), "user"),
    }
    out.set(&key("methods"), api.methods.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(","));
    out.set(&key("paths"), api.paths.join(","));
    out.set(&key("max_request_bytes"), api.max_request_bytes);
    out.set(&key("max_response_bytes"), api.max_response_bytes);
    out.set(&key("timeout_secs"), secs(api.timeout));
    out.set(&key("inline_active_content"), api.is_active_content_inline);
    out.set(&key("renew_cooldown_secs"), secs(api.renew_cooldown));
}

fn render_provider(out: &mut Lines, provider: &ProviderSpec) {
    match provider {
        ProviderSpec::Static { preset, token_url, authorize_url, revocation_url, userinfo_url, end_session_url } => {
            out.set("OAUTH_PROVIDER", preset.as_str());
            out.set("OAUTH_TOKEN_URL", token_url);
            out.set_some("OAUTH_AUTHORIZE_URL", authorize_url.as_ref());
            out.set_some("OAUTH_REVOKE_URL", revocation_url.as_ref());
            out.set_some("OAUTH_USERINFO_URL", userinfo_url.as_ref());
            out.set_some("OAUTH_END_SESSION_URL", end_session_url.as_ref());
        }
        ProviderSpec::Discover { issuer, overrides } => {
            out.set("OAUTH_PROVIDER", "oidc");
            out.set("OAUTH_ISSUER", issuer);
            out.set_some("OAUTH_TOKEN_URL", overrides.token_url.as_ref());
            out.set_some("OAUTH_AUTHORIZE_URL", overrides.authorize_url.as_ref());
            out.set_some("OAUTH_REVOKE_URL", overrides.revocation_url.as_ref());
            out.set_some("OAUTH_USERINFO_URL", overrides.userinfo_url.as_ref());
            out.set_some("OAUTH_END_SESSION_URL", overrides.end_session_url.as_ref());
        }
    }
}

fn secs(duration: Duration) -> u64 {
    duration.as_secs()
}

/// The Redis URL without its password (the host and database help an operator;
/// the password must not reach a CI log).
fn redact_password(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // `set_password` fails only for URLs that cannot have one; this one has one.
            // A plain word: the brackets of REDACTED would be percent-encoded here.
            let _ = url.set_password(Some("redacted"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => REDACTED.to_owned(),
    }
}

/// The output being built.
#[derive(Default)]
struct Lines {
    text: String,
}

impl Lines {
    fn set(&mut self, name: &str, value: impl std::fmt::Display) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "{name}={value}");
    }

    fn set_some(&mut self, name: &str, value: Option<&Url>) {
        if let Some(value) = value {
            self.set(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A password in the Redis URL is replaced, the rest kept for the operator.
    #[test]
    fn redis_password_is_redacted() {
        let shown = redact_password("redis://:pa55word@redis.internal:6379/2");
        assert!(!shown.contains("pa55word"), "{shown}");
        assert!(shown.contains("redis.internal:6379/2"), "{shown}");
        assert_eq!(redact_password("redis://redis:6379/0"), "redis://redis:6379/0");
    }
}
