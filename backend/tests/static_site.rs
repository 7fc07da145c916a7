//! The site at `/`: `PUBLIC_DIR` when set (never its dotfiles, never a 500 for an
//! overlong name), the embedded demo in `--dev`, and nothing at all otherwise.

mod common;

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::config::config_from_flags;
use http_body_util::BodyExt;
use token_backend::app::Built;
use token_backend::{AppState, app};
use tower::ServiceExt;

/// Built from flags alone (no environment fallbacks, no `--public-dir` added).
async fn built(args: &[&str]) -> Built {
    let mut full = vec!["--bind-addr", "127.0.0.1:0"];
    full.extend_from_slice(args);
    let config = config_from_flags(&full).unwrap_or_else(|e| panic!("invalid test configuration:\n{e}"));
    AppState::build(config).await.expect("broker starts")
}

/// A production configuration: a real-looking provider, nothing contacted at start.
const PRODUCTION: &[&str] = &[
    "--provider",
    "generic",
    "--token-url",
    "http://127.0.0.1:9/token",
    "--client-id",
    "broker",
    "--client-secret",
    "broker-secret",
];

/// Status, content type, `ETag` and body of `GET path` with optional `If-None-Match`.
async fn get(built: &Built, path: &str, if_none_match: Option<&str>) -> (StatusCode, String, String, String) {
    let mut request = Request::get(path);
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    let response =
        app(built.state.clone()).oneshot(request.body(Body::empty()).expect("request")).await.expect("infallible");
    let text = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (content_type, etag) = (text(header::CONTENT_TYPE), text(header::ETAG));
    let status = response.status();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (status, content_type, etag, String::from_utf8_lossy(&body).into_owned())
}

/// A public directory with a page, dotfiles and a hidden directory.
fn public_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("static-site-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".git")).expect("create dirs");
    std::fs::create_dir_all(dir.join("docs")).expect("create dirs");
    std::fs::write(dir.join("index.html"), "<h1>customer site</h1>").expect("write");
    std::fs::write(dir.join(".env"), "OAUTH_CLIENT_SECRET=leaked").expect("write");
    std::fs::write(dir.join(".git").join("config"), "[core]").expect("write");
    std::fs::write(dir.join("docs").join(".htpasswd"), "user:hash").expect("write");
    dir
}

/// `PUBLIC_DIR` serves the customer's files and none of its dotfiles, however encoded.
#[tokio::test]
async fn public_dir_serves_files_but_never_dotfiles() {
    let dir = public_dir();
    let mut args = PRODUCTION.to_vec();
    args.extend(["--public-dir", dir.to_str().expect("utf-8 path")]);
    let broker = built(&args).await;
    let (status, _, _, body) = get(&broker, "/", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "<h1>customer site</h1>"));
    for path in ["/.env", "/%2Eenv", "/%2eenv", "/.git/config", "/docs/.htpasswd", "/docs/%2Ehtpasswd"] {
        let (status, _, _, body) = get(&broker, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("leaked") && !body.contains("[core]"), "{path}: {body}");
    }
}

/// A file name longer than the file system allows is a 404, not the 500 that
/// "name too long" would give; so is an overlong path.
#[tokio::test]
async fn overlong_names_are_not_found() {
    let dir = public_dir();
    let mut args = PRODUCTION.to_vec();
    args.extend(["--public-dir", dir.to_str().expect("utf-8 path")]);
    let broker = built(&args).await;
    for path in [format!("/{}", "a".repeat(256)), format!("/docs/{}.html", "b".repeat(4000)), "/x/".repeat(600)] {
        let (status, ..) = get(&broker, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{} bytes", path.len());
    }
}

/// Without `PUBLIC_DIR`, production serves no page at all: no demo by default.
#[tokio::test]
async fn production_without_public_dir_serves_no_site() {
    let broker = built(PRODUCTION).await;
    for path in ["/", "/index.html", "/app.js"] {
        let (status, ..) = get(&broker, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, ..) = get(&broker, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK, "the other routes are unaffected");
}

/// `--dev` without `PUBLIC_DIR` serves the embedded demo, typed and revalidated by `ETag`.
#[tokio::test]
async fn dev_mode_serves_the_embedded_demo() {
    let broker = built(&["--dev"]).await;
    let (status, content_type, _, body) = get(&broker, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("<title>Token broker"), "{body}");
    let (status, content_type, etag, _) = get(&broker, "/app.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.contains("javascript"), "{content_type}");
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let (status, ..) = get(&broker, "/app.js", Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, ..) = get(&broker, "/app.js", Some("\"other\"")).await;
    assert_eq!(status, StatusCode::OK);
    for path in ["/missing.js", "/.gitignore", "/../Cargo.toml", "/%2E%2E/Cargo.toml"] {
        let (status, ..) = get(&broker, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}
