//! Credential rotation without a restart: the client secret file swapped under
//! a running broker the way Kubernetes updates a mounted Secret, and a file
//! changed behind an unchanged timestamp, found after the upstream refused the
//! client. The fake APS endpoint accepts only the new secret.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::broker::{BrokerBuilder, CLIENT_ID, CLIENT_SECRET};
use common::fake_aps::{FakeAps, KEY_ID, SERVICE_ACCOUNT};
use common::{check_error, get, http_client, key_fixture, scratch_dir};

/// A fresh directory for one test's files.
fn fresh_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = scratch_dir().join(format!("{}-{}-{name}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).expect("create dir");
    dir
}

/// An SSA broker (HTTP Basic with the secret from `secret_file`), backoff off
/// so the request after a refusal goes upstream at once.
fn broker(aps: &FakeAps, secret_file: &Path) -> BrokerBuilder {
    ssa_broker(aps, secret_file, &key_fixture("rsa.pem"))
}

/// The same, signing its assertions with the key in `key`.
fn ssa_broker(aps: &FakeAps, secret_file: &Path, key: &Path) -> BrokerBuilder {
    BrokerBuilder::new().args(&[
        "--provider",
        "aps",
        "--token-url",
        &aps.token_url(),
        "--client-id",
        CLIENT_ID,
        "--client-secret-file",
        secret_file.to_str().expect("utf-8 path"),
        "--grant",
        "jwt-bearer",
        "--assertion-subject",
        SERVICE_ACCOUNT,
        "--assertion-key-file",
        key.to_str().expect("utf-8 path"),
        "--assertion-key-id",
        KEY_ID,
        "--scope",
        "data:read",
        "--upstream-backoff-max-secs",
        "0",
    ])
}

/// Kubernetes' layout of a mounted Secret: `client-secret` → `..data/client-secret`,
/// `..data` → the current version's directory.
fn mount_version(dir: &Path, version: &str, secret: &str) {
    let versioned = dir.join(version);
    std::fs::create_dir_all(&versioned).expect("version dir");
    std::fs::write(versioned.join("client-secret"), secret).expect("write secret");
    let staged = dir.join("..data_tmp");
    std::os::unix::fs::symlink(version, &staged).expect("stage symlink");
    std::fs::rename(&staged, dir.join("..data")).expect("swap ..data atomically");
    if !dir.join("client-secret").exists() {
        std::os::unix::fs::symlink("..data/client-secret", dir.join("client-secret")).expect("link");
    }
}

/// The next exchange after the Secret is swapped uses the new secret; no restart.
#[tokio::test]
async fn a_swapped_secret_mount_is_used_without_restart() {
    let aps = FakeAps::start().await;
    let dir = fresh_dir("mounted-secret");
    mount_version(&dir, "..v1", "the-retired-secret");
    let broker = broker(&aps, &dir.join("client-secret")).start().await;
    let client = http_client();

    let refused = get(&client, &broker.url("/api/token")).await;
    check_error(&refused, 502, "upstream_rejected", format_args!("the old secret is refused"));
    mount_version(&dir, "..v2", CLIENT_SECRET);
    let reply = get(&client, &broker.url("/api/token")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(aps.exchanges(), 1);
}

/// A file rewritten behind the same timestamp and length is read again after
/// `invalid_client`, and the exchange retried once with it: the request succeeds.
#[tokio::test]
async fn invalid_client_rereads_the_secret_file_and_retries_once() {
    let aps = FakeAps::start().await;
    let file = fresh_dir("in-place").join("client-secret");
    let old: String = CLIENT_SECRET.chars().rev().collect();
    std::fs::write(&file, &old).expect("write secret");
    let broker = broker(&aps, &file).start().await;

    let modified = std::fs::metadata(&file).and_then(|m| m.modified()).expect("mtime");
    std::fs::write(&file, CLIENT_SECRET).expect("rewrite secret");
    std::fs::File::options().write(true).open(&file).and_then(|f| f.set_modified(modified)).expect("restore mtime");

    let reply = get(&http_client(), &broker.url("/api/token")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(aps.refusals().len(), 1, "the old secret was tried first: {:?}", aps.refusals());
    assert!(aps.refusals()[0].contains("Basic"), "{:?}", aps.refusals());
    assert_eq!(aps.exchanges(), 1);
}

/// The real binary logs which file it reloaded, and never the secret.
#[tokio::test]
async fn the_reload_is_logged_by_file_name_only() {
    let aps = FakeAps::start().await;
    let dir = fresh_dir("logged");
    mount_version(&dir, "..v1", "the-retired-secret-4d2c");
    let path = dir.join("client-secret");
    let broker = broker(&aps, &path).env(&[("RUST_LOG", "trace")]).spawn().await;
    let client = http_client();
    assert_eq!(get(&client, &broker.url("/api/token")).await.status, 502);
    mount_version(&dir, "..v2", CLIENT_SECRET);
    assert_eq!(get(&client, &broker.url("/api/token")).await.status, 200);
    let log = broker.stop().await;
    let reloaded = log.iter().filter(|l| l.contains("reloaded the client credential")).collect::<Vec<_>>();
    assert_eq!(reloaded.len(), 1, "{log:#?}");
    assert!(reloaded[0].contains(path.to_str().expect("utf-8")), "{}", reloaded[0]);
    for secret in ["the-retired-secret-4d2c", CLIENT_SECRET] {
        assert!(log.iter().all(|l| !l.contains(secret)), "{secret} logged: {log:#?}");
    }
}

/// The service account's key rotated under a running broker: a replaced
/// `OAUTH_ASSERTION_KEY_FILE` signs the next assertion, and one rewritten
/// behind the same timestamp is read again after `invalid_grant` and the
/// exchange retried once. The fake APS knows only the new key.
#[tokio::test]
async fn a_rotated_assertion_key_is_used_without_restart() {
    let aps = FakeAps::start().await;
    let dir = fresh_dir("assertion-key");
    let (secret, key) = (dir.join("client-secret"), dir.join("ssa-key.pem"));
    std::fs::write(&secret, CLIENT_SECRET).expect("write secret");
    let retired = std::fs::read(key_fixture("other-rsa.pem")).expect("old key");
    let current = std::fs::read(key_fixture("rsa.pem")).expect("new key");
    std::fs::write(&key, &retired).expect("write key");
    let broker = ssa_broker(&aps, &secret, &key).start().await;
    let client = http_client();

    let refused = get(&client, &broker.url("/api/token")).await;
    check_error(&refused, 502, "upstream_rejected", format_args!("the retired key is refused"));
    std::fs::write(&key, &current).expect("rotate the key");
    assert_eq!(get(&client, &broker.url("/api/token")).await.status, 200, "the replaced file signs");
    assert_eq!(aps.exchanges(), 1);

    let in_place = fresh_dir("assertion-key-in-place").join("ssa-key.pem");
    std::fs::write(&in_place, &retired).expect("write key");
    let broker = ssa_broker(&aps, &secret, &in_place).start().await;
    let modified = std::fs::metadata(&in_place).and_then(|m| m.modified()).expect("mtime");
    assert_eq!(retired.len(), current.len(), "the fixtures have the same length, so only the content changes");
    std::fs::write(&in_place, &current).expect("rewrite key");
    std::fs::File::options().write(true).open(&in_place).and_then(|f| f.set_modified(modified)).expect("mtime");
    let refusals = aps.refusals().len();
    let reply = get(&client, &broker.url("/api/token")).await;
    assert_eq!(reply.status, 200, "retried with the re-read key: {}", reply.body);
    assert_eq!(aps.refusals().len(), refusals + 1, "the retired key was tried first: {:?}", aps.refusals());
    assert_eq!(aps.exchanges(), 2);
}
