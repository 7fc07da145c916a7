//! `private_key_jwt` settings at start-up and in `check-config`: each bad key
//! input stops the binary with exit 2 and one line naming its variable, and no
//! part of a key file is ever printed.

mod common;

use common::binary::{Exited, run_to_exit};
use common::{key_fixture, scratch_dir, scratch_file};

/// A generic upstream with `private_key_jwt` and the given key settings.
fn key_settings<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("OAUTH_PROVIDER", "generic"),
        ("OAUTH_TOKEN_URL", "https://auth.example.com/oauth/token"),
        ("OAUTH_CLIENT_ID", "broker"),
        ("OAUTH_CLIENT_AUTH", "private_key_jwt"),
    ];
    env.extend_from_slice(extra);
    env
}

/// No line of `file` (its PEM body) appears in anything the process printed.
fn assert_key_not_printed(exited: &Exited, file: &str) {
    let printed = format!("{}\n{}", exited.stdout.join("\n"), exited.stderr.join("\n"));
    let text = std::fs::read_to_string(file).unwrap_or_default();
    for line in text.lines().filter(|l| l.len() >= 16 && !l.starts_with("-----")) {
        assert!(!printed.contains(line), "key material printed: {printed}");
    }
}

/// Not a PEM key, a key that does not fit its algorithm, a damaged key, a
/// missing `kid`, an unreadable file: start-up and `check-config` each refuse
/// with exit 2 and exactly one line, naming the variable and the reason.
#[tokio::test]
async fn bad_key_inputs_exit_2_with_one_line_naming_the_variable() {
    let not_pem = scratch_file("not-a-key.pem", "client-secret-looking-text-7f3a9c2e41d8\n");
    let rsa = std::fs::read_to_string(key_fixture("rsa.pem")).expect("fixture");
    let mut body: Vec<String> = rsa.lines().map(str::to_owned).collect();
    body[5] = body[5].chars().rev().collect(); // DER that no longer parses
    let damaged = scratch_file("damaged.pem", &(body.join("\n") + "\n"));
    let p384 = key_fixture("ec-p384.pem");
    let rsa_file = key_fixture("rsa.pem");
    let absent = scratch_dir().join("absent-key.pem");
    let directory = scratch_dir();
    let path = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_owned();
    let cases: Vec<(String, Option<&str>, &str, &str)> = vec![
        (path(&not_pem), Some("k1"), "OAUTH_CLIENT_KEY_FILE", "not a PEM private key"),
        (path(&damaged), Some("k1"), "OAUTH_CLIENT_KEY_FILE", "cannot sign"),
        (path(&p384), Some("k1"), "OAUTH_CLIENT_KEY_FILE", "P-256"),
        (path(&rsa_file), None, "OAUTH_CLIENT_KEY_ID", "missing"),
        (path(&absent), Some("k1"), "OAUTH_CLIENT_KEY_FILE", "cannot read"),
        (path(&directory), Some("k1"), "OAUTH_CLIENT_KEY_FILE", "cannot read"),
    ];
    for (file, kid, var, reason) in &cases {
        let mut extra = vec![("OAUTH_CLIENT_KEY_FILE", file.as_str())];
        extra.extend(kid.map(|kid| ("OAUTH_CLIENT_KEY_ID", kid)));
        for args in [&[][..], &["check-config"][..]] {
            let exited = run_to_exit(args, &key_settings(&extra)).await;
            assert_eq!(exited.status.code(), Some(2), "{file} {args:?}: {:?}", exited.stderr);
            assert_eq!(exited.stderr.len(), 1, "one line for {file} {args:?}: {:?}", exited.stderr);
            let line = &exited.stderr[0];
            assert!(line.starts_with(&format!("configuration error: {var}: ")), "{line}");
            assert!(line.contains(reason), "{file}: {line}");
            assert_key_not_printed(&exited, file);
        }
    }
}

/// A shared secret next to `private_key_jwt` would never be sent; it is
/// refused rather than silently ignored, as is a key without `private_key_jwt`.
#[tokio::test]
async fn secret_and_key_settings_do_not_mix() {
    let key = key_fixture("rsa.pem");
    let key = key.to_str().expect("utf-8 path");
    let exited = run_to_exit(
        &["check-config"],
        &key_settings(&[("OAUTH_CLIENT_KEY_FILE", key), ("OAUTH_CLIENT_KEY_ID", "k1"), ("OAUTH_CLIENT_SECRET", "s")]),
    )
    .await;
    assert_eq!(exited.status.code(), Some(2));
    assert!(exited.stderr[0].starts_with("configuration error: OAUTH_CLIENT_SECRET: "), "{:?}", exited.stderr);

    let exited = run_to_exit(
        &["check-config"],
        &[
            ("OAUTH_PROVIDER", "generic"),
            ("OAUTH_TOKEN_URL", "https://auth.example.com/oauth/token"),
            ("OAUTH_CLIENT_ID", "broker"),
            ("OAUTH_CLIENT_SECRET", "s"),
            ("OAUTH_CLIENT_KEY_FILE", key),
        ],
    )
    .await;
    assert_eq!(exited.status.code(), Some(2));
    assert!(exited.stderr[0].contains("OAUTH_CLIENT_KEY_FILE: is only used with"), "{:?}", exited.stderr);
}

/// `check-config` shows the key's file, algorithm and `kid`, no secret line,
/// and none of the key.
#[tokio::test]
async fn check_config_lists_the_key_settings() {
    let key = key_fixture("ec-p256.pem");
    let key = key.to_str().expect("utf-8 path");
    let exited = run_to_exit(
        &["check-config"],
        &key_settings(&[("OAUTH_CLIENT_KEY_FILE", key), ("OAUTH_CLIENT_KEY_ID", "ec-1")]),
    )
    .await;
    assert_eq!(exited.status.code(), Some(0), "{:?}", exited.stderr);
    let out = exited.stdout.join("\n");
    for line in [
        "OAUTH_CLIENT_AUTH=private_key_jwt",
        &format!("OAUTH_CLIENT_KEY_FILE={key} (ES256)"),
        "OAUTH_CLIENT_KEY_ID=ec-1",
    ] {
        assert!(exited.stdout.iter().any(|l| l == line), "{line} missing:\n{out}");
    }
    assert!(!out.contains("OAUTH_CLIENT_SECRET"), "{out}");
    assert_key_not_printed(&exited, key);
}
