//! `token-backend check-config`: validates without serving or contacting anything,
//! prints the effective settings with every secret redacted, exits 0 or 2.

mod common;

use common::binary::run_to_exit;
use common::scratch_file;

const CLIENT_SECRET: &str = "S3CRET-check-config-client-7c1a";
const SESSION_SECRET: &str = "S3CRET-check-config-session-0123456789abcdef";
const PREVIOUS_SESSION_SECRET: &str = "S3CRET-check-config-previous-0123456789abcd";
const REDIS_PASSWORD: &str = "S3CRET-redis-pw";

/// A complete deployment: the file, the environment overriding it, every kind of secret.
#[tokio::test]
async fn valid_configuration_prints_effective_settings_and_exits_0() {
    let secret_file = scratch_file("client-secret", CLIENT_SECRET);
    let file = scratch_file(
        "deploy.toml",
        &format!(
            "bind_addr = \"127.0.0.1:4000\"\n\
             [oauth]\nprovider = \"generic\"\n\
             token_url = \"https://auth.example.com/oauth/token\"\n\
             authorize_url = \"https://auth.example.com/oauth/authorize\"\n\
             client_id = \"broker\"\nclient_secret_file = \"{}\"\nscope = \"viewables:read\"\n\
             redirect_url = \"https://app.example.com/auth/callback\"\nuser_scope = \"openid data:read\"\n\
             [session]\nsecret = \"{SESSION_SECRET}\"\nsecret_previous = \"{PREVIOUS_SESSION_SECRET}\"\n\
             [profiles.data]\nscope = \"data:read\"\n\
             [apis.files]\nbase_url = \"https://api.example.com/files/v1\"\ntoken = \"user\"\n\
             methods = [\"GET\", \"PUT\"]\npaths = [\"/buckets/\"]\n",
            secret_file.display()
        ),
    );
    let redis_url = format!("redis://:{REDIS_PASSWORD}@redis.internal:6379/2");
    let exited = run_to_exit(
        &["check-config", "--config", file.to_str().expect("utf-8 path")],
        &[
            ("BIND_ADDR", "0.0.0.0:3000"),
            ("REDIS_URL", &redis_url),
            ("RUST_LOG", "trace"),
            ("PROXY_API", "models=https://models.example.com/v2"),
        ],
    )
    .await;
    assert_eq!(exited.status.code(), Some(0), "{:?}", exited.stderr);
    let out = exited.stdout.join("\n");
    for line in [
        "BIND_ADDR=0.0.0.0:3000",
        "OAUTH_PROVIDER=generic",
        "OAUTH_TOKEN_URL=https://auth.example.com/oauth/token",
        "OAUTH_CLIENT_ID=broker",
        "OAUTH_CLIENT_SECRET=[redacted]",
        "OAUTH_SCOPE=viewables:read",
        "profiles.data.scope=data:read",
        "OAUTH_REDIRECT_URL=https://app.example.com/auth/callback",
        "SESSION_SECRET=[redacted]",
        "SESSION_SECRET_PREVIOUS=[redacted]",
        "REDIS_URL=redis://:redacted@redis.internal:6379/2",
        "TOKEN_MIN_TTL_SECS=30",
        "PUBLIC_DIR=",
        "apis.files.base_url=https://api.example.com/files/v1/",
        "apis.files.token=user",
        "apis.files.methods=GET,PUT",
        "apis.files.paths=/buckets/",
        "apis.models.base_url=https://models.example.com/v2/",
        "apis.models.token=default",
        "apis.models.methods=GET,HEAD",
        "apis.models.timeout_secs=30",
        "apis.models.inline_active_content=false",
        "apis.models.renew_cooldown_secs=30",
    ] {
        assert!(exited.stdout.iter().any(|l| l.starts_with(line)), "missing `{line}` in:\n{out}");
    }
    let everything = format!("{out}\n{}", exited.stderr.join("\n"));
    for secret in [CLIENT_SECRET, SESSION_SECRET, PREVIOUS_SESSION_SECRET, REDIS_PASSWORD] {
        assert!(!everything.contains(secret), "{secret} printed:\n{everything}");
    }
    assert!(!everything.contains("listening"), "check-config must not serve:\n{everything}");
}

/// Bad settings are all reported, on stderr, with exit code 2 and nothing on stdout.
#[tokio::test]
async fn invalid_configuration_exits_2_naming_each_problem() {
    let file = scratch_file(
        "bad.toml",
        &format!(
            "[oauth]\nprovider = \"generic\"\ntoken_url = \"http://auth.example.com/token\"\n\
             client_id = \"broker\"\nclient_secret = \"{CLIENT_SECRET}\"\n[cache]\nmin_ttl_secs = 99999\n"
        ),
    );
    let exited = run_to_exit(&["--config", file.to_str().expect("utf-8 path"), "check-config"], &[]).await;
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    assert!(exited.stdout.is_empty(), "{:?}", exited.stdout);
    let err = exited.stderr.join("\n");
    assert!(err.contains("OAUTH_TOKEN_URL") && err.contains("TOKEN_MIN_TTL_SECS"), "{err}");
    assert!(!err.contains(CLIENT_SECRET), "{err}");
}

/// A file that is not valid TOML (or has an unknown key) is one clear line, exit 2.
#[tokio::test]
async fn unreadable_or_unknown_file_content_exits_2() {
    let file = scratch_file("typo.toml", "bind_adr = \"127.0.0.1:3000\"\n");
    let exited = run_to_exit(&["check-config", "--dev", "--config", file.to_str().expect("utf-8 path")], &[]).await;
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    let err = exited.stderr.join("\n");
    assert!(err.contains("TOKEN_BACKEND_CONFIG") && err.contains("bind_adr"), "{err}");
}

/// `--dev` alone is valid and says where tokens and the site come from; an empty
/// `PUBLIC_DIR` counts as unset.
#[tokio::test]
async fn dev_configuration_is_valid() {
    let exited = run_to_exit(&["check-config", "--dev"], &[("PUBLIC_DIR", "")]).await;
    assert_eq!(exited.status.code(), Some(0), "{:?}", exited.stderr);
    let out = exited.stdout.join("\n");
    assert!(out.contains("OAUTH_PROVIDER=(--dev"), "{out}");
    assert!(out.contains("DEV_TOKEN_TTL_SECS=120"), "{out}");
    assert!(out.contains("PUBLIC_DIR=(unset: the embedded demo site)"), "{out}");
}

/// The README's "Deploy" example: APS from the environment, the secret from a file.
#[tokio::test]
async fn aps_from_the_environment_as_the_readme_shows() {
    let secret_file = scratch_file("aps-secret", CLIENT_SECRET);
    let exited = run_to_exit(
        &["check-config"],
        &[
            ("OAUTH_PROVIDER", "aps"),
            ("OAUTH_CLIENT_ID", "your-client-id"),
            ("OAUTH_CLIENT_SECRET_FILE", secret_file.to_str().expect("utf-8 path")),
        ],
    )
    .await;
    assert_eq!(exited.status.code(), Some(0), "{:?}", exited.stderr);
    let out = exited.stdout.join("\n");
    assert!(out.contains("OAUTH_TOKEN_URL=https://developer.api.autodesk.com/authentication/v2/token"), "{out}");
    assert!(out.contains("OAUTH_SCOPE=viewables:read") && !out.contains(CLIENT_SECRET), "{out}");
}
