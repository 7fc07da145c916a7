//! The settings table: every plain setting declared once, as one row of
//! [`settings!`](super::setting::settings), in `--help` order. A row's doc line
//! is its help line, `[default: …]` included (validation applies the defaults,
//! because a file value sits between the variable and the default). A new
//! setting is a new row here, a line in the README's tables and its validation
//! in its group's file (`server.rs`, `cache.rs`, …).

use super::setting::{Bool, Connections, List, Path, Seconds, Secret, Text, settings};

settings! {
    /// Address to listen on [default: 127.0.0.1:3000]
    bind_addr: Text = "BIND_ADDR", toml [] "bind_addr";
    /// Directory of your static site, served at / (dotfiles never) [default: none; the embedded demo in --dev]
    public_dir: Text = "PUBLIC_DIR", toml [] "public_dir";
    /// Provider preset: aps, oidc, glimesh or generic (required unless --dev)
    provider: Text = "OAUTH_PROVIDER", alias "provider", toml [oauth] "provider";
    /// Issuer URL for `oidc` discovery
    issuer: Text = "OAUTH_ISSUER", alias "issuer", toml [oauth] "issuer";
    /// Token endpoint; required for `generic`, overrides any preset [default: from the preset]
    token_url: Text = "OAUTH_TOKEN_URL", alias "token-url", toml [oauth] "token_url";
    /// Client id (required unless --dev)
    client_id: Text = "OAUTH_CLIENT_ID", alias "client-id", toml [oauth] "client_id";
    /// Client secret; or use OAUTH_CLIENT_SECRET_FILE
    client_secret: Secret = "OAUTH_CLIENT_SECRET", alias "client-secret", toml [oauth] "client_secret";
    /// File holding the client secret
    client_secret_file: Path = "OAUTH_CLIENT_SECRET_FILE", alias "client-secret-file", value_name "FILE",
        toml [oauth] "client_secret_file";
    /// Client authentication: basic, post or private_key_jwt [default: basic]
    client_auth: Text = "OAUTH_CLIENT_AUTH", alias "client-auth", toml [oauth] "client_auth";
    /// PEM private key signing the client assertions of private_key_jwt (RSA: RS256, EC P-256: ES256)
    client_key_file: Path = "OAUTH_CLIENT_KEY_FILE", alias "client-key-file", value_name "FILE",
        toml [oauth] "client_key_file";
    /// Key id (`kid`) of OAUTH_CLIENT_KEY_FILE, as registered in the client's JWKS
    client_key_id: Text = "OAUTH_CLIENT_KEY_ID", alias "client-key-id", toml [oauth] "client_key_id";
    /// Grant of the default profile's tokens: client-credentials or jwt-bearer [default: client-credentials]
    grant: Text = "OAUTH_GRANT", alias "grant", toml [oauth] "grant";
    /// jwt-bearer: the assertion's subject (for aps, the Secure Service Account id)
    assertion_subject: Text = "OAUTH_ASSERTION_SUBJECT", alias "assertion-subject", toml [oauth] "assertion_subject";
    /// jwt-bearer: PEM private key signing the assertions (RSA: RS256, required for aps; EC P-256: ES256)
    assertion_key_file: Path = "OAUTH_ASSERTION_KEY_FILE", alias "assertion-key-file", value_name "FILE",
        toml [oauth] "assertion_key_file";
    /// jwt-bearer: key id (`kid`) of OAUTH_ASSERTION_KEY_FILE (for aps, from the SSA's Create Key)
    assertion_key_id: Text = "OAUTH_ASSERTION_KEY_ID", alias "assertion-key-id", toml [oauth] "assertion_key_id";
    /// Scope of the default browser token (/api/token) [default: from the preset]
    scope: Text = "OAUTH_SCOPE", alias "scope", toml [oauth] "scope";
    /// Comma-separated CORS allowlist for the token routes, or * [default: same origin only]
    allowed_origins: List = "ALLOWED_ORIGINS", toml [] "allowed_origins";
    /// Allow credentialed cross-origin requests (not with *) [default: false]
    cors_allow_credentials: Bool = "CORS_ALLOW_CREDENTIALS", toml [] "cors_allow_credentials";
    /// A token with less life left is never served [default: 30]
    token_min_ttl_secs: Seconds = "TOKEN_MIN_TTL_SECS", toml [cache] "min_ttl_secs";
    /// Lifetime assumed when the upstream omits expires_in [default: 3600]
    token_default_ttl_secs: Seconds = "TOKEN_DEFAULT_TTL_SECS", toml [cache] "default_ttl_secs";
    /// Refresh ahead in the last N % of a token's lifetime [default: 20]
    token_refresh_window_percent: Seconds = "TOKEN_REFRESH_WINDOW_PERCENT", toml [cache] "refresh_window_percent";
    /// ... but at least this long before expiry [default: 60]
    token_refresh_window_min_secs: Seconds = "TOKEN_REFRESH_WINDOW_MIN_SECS", toml [cache] "refresh_window_min_secs";
    /// Total timeout of one upstream request [default: 10]
    upstream_timeout_secs: Seconds = "UPSTREAM_TIMEOUT_SECS", toml [upstream] "timeout_secs";
    /// Connect timeout of one upstream request [default: 5]
    upstream_connect_timeout_secs: Seconds = "UPSTREAM_CONNECT_TIMEOUT_SECS", toml [upstream] "connect_timeout_secs";
    /// After a failed token request, leave the upstream alone for its Retry-After, up to this long (0: ignore it) [default: 60]
    upstream_retry_after_max_secs: Seconds = "UPSTREAM_RETRY_AFTER_MAX_SECS", toml [upstream] "retry_after_max_secs";
    /// ... or, without Retry-After, a jittered backoff doubling up to this (0: off) [default: 30]
    upstream_backoff_max_secs: Seconds = "UPSTREAM_BACKOFF_MAX_SECS", toml [upstream] "backoff_max_secs";
    /// A request's headers must arrive within this; also closes idle keep-alive connections [default: 10]
    header_read_timeout_secs: Seconds = "HEADER_READ_TIMEOUT_SECS", toml [server] "header_read_timeout_secs";
    /// A connection that moves no byte either way for this long is closed [default: 60]
    idle_timeout_secs: Seconds = "IDLE_TIMEOUT_SECS", toml [server] "idle_timeout_secs";
    /// Open client connections at most; at the cap, idle ones are closed to make room [default: from the descriptor limit (raised to its hard limit) less reserves, halved when APIs are proxied (proxied requests beyond the proxy's half get 503 with Retry-After), at most 4096]
    max_connections: Connections = "MAX_CONNECTIONS", toml [server] "max_connections";
    /// After SIGTERM, in-flight requests get this long [default: 20]
    shutdown_timeout_secs: Seconds = "SHUTDOWN_TIMEOUT_SECS", toml [server] "shutdown_timeout_secs";
    /// Lifetime of tokens from the --dev authorization server; longer than TOKEN_MIN_TTL_SECS [default: 120]
    dev_token_ttl_secs: Seconds = "DEV_TOKEN_TTL_SECS", toml [dev] "token_ttl_secs";
    /// Log format: text or json [default: text]
    log_format: Text = "LOG_FORMAT", toml [] "log_format";
    /// Authorization endpoint [default: from the preset or discovery]
    authorize_url: Text = "OAUTH_AUTHORIZE_URL", alias "authorize-url", toml [oauth] "authorize_url";
    /// The exact redirect URI registered with the provider; turns sign-in on
    redirect_url: Text = "OAUTH_REDIRECT_URL", alias "redirect-url", toml [oauth] "redirect_url";
    /// Scope requested at sign-in [default: from the preset]
    user_scope: Text = "OAUTH_USER_SCOPE", alias "user-scope", toml [oauth] "user_scope";
    /// Narrower scope for the user token handed to the browser
    user_browser_scope: Text = "OAUTH_USER_BROWSER_SCOPE", alias "user-browser-scope", toml [oauth] "user_browser_scope";
    /// Resource indicator (RFC 8707) sent at sign-in and on user-token requests
    resource: Text = "OAUTH_RESOURCE", toml [oauth] "resource";
    /// Revocation endpoint [default: from the preset or discovery]
    revoke_url: Text = "OAUTH_REVOKE_URL", alias "revoke-url", toml [oauth] "revoke_url";
    /// Userinfo endpoint [default: from the preset or discovery]
    userinfo_url: Text = "OAUTH_USERINFO_URL", alias "userinfo-url", toml [oauth] "userinfo_url";
    /// At least 32 characters; signs the session cookie [default: random in --dev]
    session_secret: Secret = "SESSION_SECRET", toml [session] "secret";
    /// Secure session cookie [default: true; false in --dev]
    cookie_secure: Bool = "COOKIE_SECURE", toml [session] "cookie_secure";
    /// A session never outlives this [default: 1209600]
    session_max_lifetime_secs: Seconds = "SESSION_MAX_LIFETIME_SECS", toml [session] "max_lifetime_secs";
    /// Redis shared by several replicas (redis:// or rediss://) [default: standalone]
    redis_url: Secret = "REDIS_URL", toml [redis] "url";
    /// Prefix of the keys written to Redis [default: token-broker:]
    redis_key_prefix: Text = "REDIS_KEY_PREFIX", toml [redis] "key_prefix";
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::FileValues;

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
