//! Start-up configuration errors of the real binary: exit code 2, one line per
//! problem naming its variable, every problem at once, and the secret never printed.

mod common;

use common::binary::run_to_exit;
use common::scratch_file;

const SECRET: &str = "S3CRET-config-0d9e-value";

/// The variables named by `configuration error: VAR: …` lines; panics on any other line.
fn named_vars(stderr: &[String]) -> Vec<String> {
    stderr
        .iter()
        .map(|line| {
            let rest = line.strip_prefix("configuration error: ").unwrap_or_else(|| panic!("unexpected line: {line}"));
            rest.split(':').next().expect("a variable").to_owned()
        })
        .collect()
}

/// Several bad values are all reported in one run, each on its own line naming
/// its variable, so a deployment is fixed in one round trip.
#[tokio::test]
async fn bad_values_exit_2_with_one_line_per_problem() {
    let exited = run_to_exit(
        &[],
        &[
            ("BIND_ADDR", "nope"),
            ("TOKEN_MIN_TTL_SECS", "abc"),
            ("UPSTREAM_TIMEOUT_SECS", "0"),
            ("LOG_FORMAT", "xml"),
            ("OAUTH_PROVIDER", "generic"),
            ("OAUTH_TOKEN_URL", "http://auth.example.com/token"),
            ("OAUTH_CLIENT_ID", "broker"),
            ("OAUTH_CLIENT_SECRET", SECRET),
            ("OAUTH_CLIENT_AUTH", "digest"),
        ],
    )
    .await;
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    let vars = named_vars(&exited.stderr);
    for var in [
        "BIND_ADDR",
        "TOKEN_MIN_TTL_SECS",
        "UPSTREAM_TIMEOUT_SECS",
        "LOG_FORMAT",
        "OAUTH_TOKEN_URL",
        "OAUTH_CLIENT_AUTH",
    ] {
        assert!(vars.iter().any(|v| v == var), "{var} not reported: {:?}", exited.stderr);
    }
    let all = exited.stderr.join("\n");
    assert!(all.contains("nope") && all.contains("abc"), "messages say what was wrong: {all}");
    assert!(!all.contains(SECRET) && !exited.stdout.join("\n").contains(SECRET), "{all}");
}

/// With nothing configured, the binary lists what is missing and how to get going.
#[tokio::test]
async fn missing_settings_are_all_reported() {
    let exited = run_to_exit(&[], &[]).await;
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    assert_eq!(named_vars(&exited.stderr), ["OAUTH_PROVIDER", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET"]);
    assert!(exited.stderr[0].contains("--dev"), "points at dev mode: {:?}", exited.stderr);
}

/// Problems that involve the secret name the variable without printing its value.
#[tokio::test]
async fn secret_problems_do_not_print_the_secret() {
    let secret_file = scratch_file("secret.txt", SECRET);
    let exited = run_to_exit(
        &[],
        &[
            ("OAUTH_PROVIDER", "aps"),
            ("OAUTH_CLIENT_ID", "broker"),
            ("OAUTH_CLIENT_SECRET", SECRET),
            ("OAUTH_CLIENT_SECRET_FILE", secret_file.to_str().expect("utf-8 path")),
        ],
    )
    .await;
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    assert_eq!(named_vars(&exited.stderr), ["OAUTH_CLIENT_SECRET"]);
    assert!(!exited.stderr.join("\n").contains(SECRET), "{:?}", exited.stderr);
}

/// `SESSION_SECRET_PREVIOUS` too short, equal to `SESSION_SECRET`, or next to
/// `--dev`'s random secret: one line naming it, and neither secret printed.
#[tokio::test]
async fn bad_previous_session_secrets_are_refused_without_printing_them() {
    const CURRENT: &str = "S3CRET-current-session-0123456789abcdefghij";
    let deployment = [
        ("OAUTH_PROVIDER", "generic"),
        ("OAUTH_TOKEN_URL", "https://auth.example.com/token"),
        ("OAUTH_AUTHORIZE_URL", "https://auth.example.com/authorize"),
        ("OAUTH_REDIRECT_URL", "https://app.example.com/auth/callback"),
        ("OAUTH_CLIENT_ID", "broker"),
        ("OAUTH_CLIENT_SECRET", SECRET),
        ("SESSION_SECRET", CURRENT),
    ];
    for (args, env, previous, says) in [
        (&["check-config"][..], &deployment[..], "S3CRET-short", "at least 32 characters"),
        (&["check-config"][..], &deployment[..], CURRENT, "equals SESSION_SECRET"),
        (
            &["--dev", "check-config"][..],
            &[][..],
            "S3CRET-previous-session-0123456789abcdefgh",
            "without SESSION_SECRET",
        ),
    ] {
        let mut env = env.to_vec();
        env.push(("SESSION_SECRET_PREVIOUS", previous));
        let exited = run_to_exit(args, &env).await;
        assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
        assert_eq!(named_vars(&exited.stderr), ["SESSION_SECRET_PREVIOUS"]);
        let all = format!("{}\n{}", exited.stderr.join("\n"), exited.stdout.join("\n"));
        assert!(all.contains(says), "says {says}: {all}");
        assert!(!all.contains(previous) && !all.contains(CURRENT), "a secret printed: {all}");
    }
}

/// A TOML file holding the secret and a typo is refused without echoing the file.
#[tokio::test]
async fn bad_toml_file_does_not_print_the_secret() {
    let toml = scratch_file(
        "bad.toml",
        &format!(
            "[oauth]\nprovider = \"aps\"\nclient_id = \"broker\"\nclient_secret = \"{SECRET}\"\nscopes = \"typo\"\n"
        ),
    );
    let exited = run_to_exit(&["--config", toml.to_str().expect("utf-8 path")], &[]).await;
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    let vars = named_vars(&exited.stderr);
    assert!(vars.iter().any(|v| v == "TOKEN_BACKEND_CONFIG"), "{:?}", exited.stderr);
    assert!(exited.stderr.join("\n").contains("scopes"), "names the bad key: {:?}", exited.stderr);
    assert!(!exited.stderr.join("\n").contains(SECRET), "{:?}", exited.stderr);
}

/// Regression: an unquoted numeric secret in the TOML file used to be quoted back
/// by the type error ("invalid type: integer `…`").
#[tokio::test]
async fn wrongly_typed_secret_in_toml_is_not_printed() {
    let toml = scratch_file(
        "numeric.toml",
        "[oauth]\nprovider = \"aps\"\nclient_id = \"broker\"\nclient_secret = 98765432123\n",
    );
    let exited = run_to_exit(&["--config", toml.to_str().expect("utf-8 path")], &[]).await;
    assert_eq!(exited.status.code(), Some(2), "{:?}", exited.stderr);
    assert!(named_vars(&exited.stderr).iter().any(|v| v == "TOKEN_BACKEND_CONFIG"), "{:?}", exited.stderr);
    assert!(!exited.stderr.join("\n").contains("98765432123"), "{:?}", exited.stderr);
}
