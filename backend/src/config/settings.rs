//! The settings table: every plain setting declared once, as one row of
//! [`settings!`](super::setting::settings), in `--help` order. A row holds its
//! help line, its default and its range; `--help`'s `[default: …]` and the value
//! validation applies both come from the row (a default that depends on the
//! provider or `--dev` is computed in the group's validation, and the row's
//! `default_note` says so). A new setting is a new row here, a line in the
//! README's tables and its validation in its group's file (`server.rs`,
//! `cache.rs`, …).

use super::kinds::{Bool, Connections, List, Path, Percent, Seconds, Secret, Text};
use super::setting::{by_preset, settings};

settings! {
    /// Address to listen on
    bind_addr: Text = "BIND_ADDR", default "127.0.0.1:3000", toml [] "bind_addr";
    /// Directory of your static site, served at / (dotfiles never)
    public_dir: Text = "PUBLIC_DIR", default_note "none; the embedded demo in --dev", toml [] "public_dir";
    /// Provider preset: aps, oidc, glimesh or generic (required unless --dev)
    provider: Text = "OAUTH_PROVIDER", alias "provider", toml [oauth] "provider";
    /// Issuer URL for `oidc` discovery
    issuer: Text = "OAUTH_ISSUER", alias "issuer", toml [oauth] "issuer";
    /// Token endpoint; required for `generic`, overrides any preset
    token_url: Text = "OAUTH_TOKEN_URL", alias "token-url", default_note "from the preset", toml [oauth] "token_url";
    /// Client id (required unless --dev)
    client_id: Text = "OAUTH_CLIENT_ID", alias "client-id", toml [oauth] "client_id";
    /// Client secret; or use OAUTH_CLIENT_SECRET_FILE
    client_secret: Secret = "OAUTH_CLIENT_SECRET", alias "client-secret", toml [oauth] "client_secret";
    /// File holding the client secret
    client_secret_file: Path = "OAUTH_CLIENT_SECRET_FILE", alias "client-secret-file", value_name "FILE",
        toml [oauth] "client_secret_file";
    /// Client authentication: basic, post or private_key_jwt
    client_auth: Text = "OAUTH_CLIENT_AUTH", alias "client-auth",
        default_note by_preset(|preset| preset.default_client_auth().as_str()), toml [oauth] "client_auth";
    /// PEM private key signing the client assertions of private_key_jwt (RSA: RS256, EC P-256: ES256)
    client_key_file: Path = "OAUTH_CLIENT_KEY_FILE", alias "client-key-file", value_name "FILE",
        toml [oauth] "client_key_file";
    /// Key id (`kid`) of OAUTH_CLIENT_KEY_FILE, as registered in the client's JWKS
    client_key_id: Text = "OAUTH_CLIENT_KEY_ID", alias "client-key-id", toml [oauth] "client_key_id";
    /// Grant of the default profile's tokens: client-credentials or jwt-bearer
    grant: Text = "OAUTH_GRANT", alias "grant", default "client-credentials", toml [oauth] "grant";
    /// jwt-bearer: the assertion's subject (for aps, the Secure Service Account id)
    assertion_subject: Text = "OAUTH_ASSERTION_SUBJECT", alias "assertion-subject", toml [oauth] "assertion_subject";
    /// jwt-bearer: PEM private key signing the assertions (RSA: RS256, required for aps; EC P-256: ES256)
    assertion_key_file: Path = "OAUTH_ASSERTION_KEY_FILE", alias "assertion-key-file", value_name "FILE",
        toml [oauth] "assertion_key_file";
    /// jwt-bearer: key id (`kid`) of OAUTH_ASSERTION_KEY_FILE (for aps, from the SSA's Create Key)
    assertion_key_id: Text = "OAUTH_ASSERTION_KEY_ID", alias "assertion-key-id", toml [oauth] "assertion_key_id";
    /// Scope of the default browser token (/api/token)
    scope: Text = "OAUTH_SCOPE", alias "scope", default_note "from the preset", toml [oauth] "scope";
    /// Comma-separated CORS allowlist for the token routes, or *
    allowed_origins: List = "ALLOWED_ORIGINS", default_note "same origin only", toml [] "allowed_origins";
    /// Allow credentialed cross-origin requests (not with *)
    cors_allow_credentials: Bool = "CORS_ALLOW_CREDENTIALS", default false, toml [] "cors_allow_credentials";
    /// A token with less life left is never served
    token_min_ttl_secs: Seconds = "TOKEN_MIN_TTL_SECS", default 30, range 0..=3600, toml [cache] "min_ttl_secs";
    /// Lifetime assumed when the upstream omits expires_in
    token_default_ttl_secs: Seconds = "TOKEN_DEFAULT_TTL_SECS", default 3600, range 1..=86_400,
        toml [cache] "default_ttl_secs";
    /// Refresh ahead in the last N % of a token's lifetime
    token_refresh_window_percent: Percent = "TOKEN_REFRESH_WINDOW_PERCENT", default 20, range 1..=50,
        toml [cache] "refresh_window_percent";
    /// ... but at least this long before expiry
    token_refresh_window_min_secs: Seconds = "TOKEN_REFRESH_WINDOW_MIN_SECS", default 60, range 0..=86_400,
        toml [cache] "refresh_window_min_secs";
    /// Total timeout of one upstream request
    upstream_timeout_secs: Seconds = "UPSTREAM_TIMEOUT_SECS", default 10, range 1..=300, toml [upstream] "timeout_secs";
    /// Connect timeout of one upstream request
    upstream_connect_timeout_secs: Seconds = "UPSTREAM_CONNECT_TIMEOUT_SECS", default 5, range 1..=60,
        toml [upstream] "connect_timeout_secs";
    /// After a failed token request, leave the upstream alone for its Retry-After, up to this long (0: ignore it)
    upstream_retry_after_max_secs: Seconds = "UPSTREAM_RETRY_AFTER_MAX_SECS", default 60, range 0..=3600,
        toml [upstream] "retry_after_max_secs";
    /// ... or, without Retry-After, a jittered backoff doubling up to this (0: off)
    upstream_backoff_max_secs: Seconds = "UPSTREAM_BACKOFF_MAX_SECS", default 30, range 0..=3600,
        toml [upstream] "backoff_max_secs";
    /// A request's headers must arrive within this; also closes idle keep-alive connections
    header_read_timeout_secs: Seconds = "HEADER_READ_TIMEOUT_SECS", default 10, range 1..=3600,
        toml [server] "header_read_timeout_secs";
    /// A connection that moves no byte either way for this long is closed
    idle_timeout_secs: Seconds = "IDLE_TIMEOUT_SECS", default 60, range 1..=3600, toml [server] "idle_timeout_secs";
    /// Open client connections at most; at the cap, idle ones are closed to make room
    max_connections: Connections = "MAX_CONNECTIONS",
        default_note "from the descriptor limit (raised to its hard limit) less reserves, halved when APIs are \
            proxied (proxied requests beyond the proxy's half get 503 with Retry-After), at most 4096",
        range 1..=1_000_000, toml [server] "max_connections";
    /// After SIGTERM, in-flight requests get this long
    shutdown_timeout_secs: Seconds = "SHUTDOWN_TIMEOUT_SECS", default 20, range 0..=3600,
        toml [server] "shutdown_timeout_secs";
    /// Lifetime of tokens from the --dev authorization server; longer than TOKEN_MIN_TTL_SECS
    dev_token_ttl_secs: Seconds = "DEV_TOKEN_TTL_SECS", default 120, range 2..=86_400, toml [dev] "token_ttl_secs";
    /// Log format: text or json
    log_format: Text = "LOG_FORMAT", default "text", toml [] "log_format";
    /// Authorization endpoint
    authorize_url: Text = "OAUTH_AUTHORIZE_URL", alias "authorize-url", default_note "from the preset or discovery",
        toml [oauth] "authorize_url";
    /// The exact redirect URI registered with the provider; turns sign-in on
    redirect_url: Text = "OAUTH_REDIRECT_URL", alias "redirect-url", default_note "PUBLIC_URL + /auth/callback",
        toml [oauth] "redirect_url";
    /// The origin users see, e.g. a dev server's http://localhost:5173 proxying /auth and /api here; turns sign-in on
    public_url: Text = "PUBLIC_URL", toml [server] "public_url";
    /// At /auth/login, take the host from X-Forwarded-Host/-Proto or Forwarded (only behind a proxy that sets them)
    trust_forwarded_headers: Bool = "TRUST_FORWARDED_HEADERS", default false, toml [server] "trust_forwarded_headers";
    /// Scope requested at sign-in
    user_scope: Text = "OAUTH_USER_SCOPE", alias "user-scope", default_note "from the preset", toml [oauth] "user_scope";
    /// Narrower scope for the user token handed to the browser
    user_browser_scope: Text = "OAUTH_USER_BROWSER_SCOPE", alias "user-browser-scope", toml [oauth] "user_browser_scope";
    /// Resource indicator (RFC 8707) sent at sign-in and on user-token requests
    resource: Text = "OAUTH_RESOURCE", toml [oauth] "resource";
    /// Revocation endpoint
    revoke_url: Text = "OAUTH_REVOKE_URL", alias "revoke-url", default_note "from the preset or discovery",
        toml [oauth] "revoke_url";
    /// Userinfo endpoint
    userinfo_url: Text = "OAUTH_USERINFO_URL", alias "userinfo-url", default_note "from the preset or discovery",
        toml [oauth] "userinfo_url";
    /// End-session endpoint (OpenID Connect RP-Initiated Logout)
    end_session_url: Text = "OAUTH_END_SESSION_URL", alias "end-session-url",
        default_note "from the preset or discovery", toml [oauth] "end_session_url";
    /// At sign-out, also end the provider's session through its end-session endpoint
    end_session: Bool = "OAUTH_END_SESSION", default true, toml [oauth] "end_session";
    /// Where the provider sends the browser after its sign-out; register it with the provider
    post_logout_redirect_url: Text = "OAUTH_POST_LOGOUT_REDIRECT_URL", alias "post-logout-redirect-url",
        default_note "the origin of OAUTH_REDIRECT_URL + /", toml [oauth] "post_logout_redirect_url";
    /// At least 32 characters; signs the session cookie
    session_secret: Secret = "SESSION_SECRET", default_note "random in --dev", toml [session] "secret";
    /// The secret before the last rotation: cookies made with it are still accepted, and re-issued with SESSION_SECRET
    session_secret_previous: Secret = "SESSION_SECRET_PREVIOUS", default_note "none", toml [session] "secret_previous";
    /// Secure session cookie
    cookie_secure: Bool = "COOKIE_SECURE", default_note "true; false in --dev", toml [session] "cookie_secure";
    /// A session never outlives this
    session_max_lifetime_secs: Seconds = "SESSION_MAX_LIFETIME_SECS", default 1209600, range 60..=34_560_000,
        toml [session] "max_lifetime_secs";
    /// Redis shared by several replicas (redis:// or rediss://)
    redis_url: Secret = "REDIS_URL", default_note "standalone", toml [redis] "url";
    /// Prefix of the keys written to Redis
    redis_key_prefix: Text = "REDIS_KEY_PREFIX", default "token-broker:", toml [redis] "key_prefix";
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use clap::CommandFactory;

    use super::FileValues;
    use crate::config::Cli;

    /// `--help` writes each default once, from its row: a fixed one as the
    /// value validation applies, one the preset decides as each preset does.
    #[test]
    fn help_shows_each_default_once_from_its_row() {
        let command = Cli::command();
        let help = |long: &str| {
            let arg = command.get_arguments().find(|arg| arg.get_long() == Some(long)).expect(long);
            arg.get_help().map(ToString::to_string).unwrap_or_default()
        };
        assert_eq!(
            help("oauth-client-auth"),
            "Client authentication: basic, post or private_key_jwt [default: basic; post for the glimesh preset]"
        );
        assert_eq!(help("token-min-ttl-secs"), "A token with less life left is never served [default: 30]");
        assert_eq!(help("oauth-client-id"), "Client id (required unless --dev)");
        for arg in command.get_arguments() {
            let text = arg.get_help().map(ToString::to_string).unwrap_or_default();
            assert!(text.matches("[default:").count() <= 1, "{text}");
        }
    }

    /// Every key of the table appears in the README's example file under its
    /// table, so the documented file and the parsed one cannot drift apart.
    #[test]
    fn readme_toml_example_names_every_key() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README.md");
        let example = readme.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a toml block");
        let mut words: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut table = "";
        for line in example.lines() {
            if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.split(']').next()) {
                table = name;
            }
            words.entry(table).or_default().extend(line.split(|c: char| !c.is_ascii_alphanumeric() && c != '_'));
        }
        for (table, key) in FileValues::LOCATIONS {
            let documented = words.get(table).is_some_and(|w| w.contains(key));
            assert!(documented, "`{key}` of [{table}] is missing from the README's TOML example:\n{example}");
        }
    }
}
