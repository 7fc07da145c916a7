//! The site at `/`: `PUBLIC_DIR` when set (never its dotfiles, never a 500 for an
//! overlong name), the embedded demo in `--dev`, and nothing at all otherwise;
//! both compressed, typed and revalidated by `ETag` like a production static server.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::body::Bytes;
use axum::http::{HeaderMap, Request, StatusCode, header};
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

/// Status, headers and body of `GET path` with `headers`.
async fn fetch(built: &Built, path: &str, headers: &[(header::HeaderName, &str)]) -> (StatusCode, HeaderMap, Bytes) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response =
        app(built.state.clone()).oneshot(request.body(Body::empty()).expect("request")).await.expect("infallible");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.expect("body").to_bytes())
}

fn text(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The date npm gives every file it unpacks from a tarball (1985-10-26 08:15 UTC).
fn npm_date() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(499_162_500)
}

/// Writes `contents` to `file` and dates it as npm does.
fn write_as_npm(file: &Path, contents: &[u8]) {
    std::fs::create_dir_all(file.parent().expect("parent")).expect("create dirs");
    std::fs::write(file, contents).expect("write");
    std::fs::File::options().write(true).open(file).expect("open").set_modified(npm_date()).expect("set date");
}

/// A `PUBLIC_DIR` holding an npm package as installed, and the broker serving it.
async fn npm_site(name: &str) -> (PathBuf, Built) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("static-{name}-{}", std::process::id()));
    let page = format!("<!doctype html><script type=module src=/pkg/index.js></script>{}", "<p>app</p>\n".repeat(50));
    write_as_npm(&dir.join("index.html"), page.as_bytes());
    write_as_npm(&dir.join("pkg/index.js"), "export const version = 1;\n".repeat(200).as_bytes());
    write_as_npm(&dir.join("pkg/token_wasm_bg.wasm"), &[b"\0asm\x01\0\0\0".as_slice(), &[7u8; 4000]].concat());
    let mut args = PRODUCTION.to_vec();
    args.extend(["--public-dir", dir.to_str().expect("utf-8 path")]);
    let broker = built(&args).await;
    (dir, broker)
}

/// `PUBLIC_DIR` files go out compressed when the browser accepts it (`br`
/// first, else `gzip`), the wasm as `application/wasm`, each with a strong
/// `ETag`, `Cache-Control: no-cache` and no `Last-Modified` from npm's 1985.
#[tokio::test]
async fn public_dir_files_are_compressed_typed_and_tagged() {
    let (dir, broker) = npm_site("headers").await;
    let wasm = std::fs::read(dir.join("pkg/token_wasm_bg.wasm")).expect("read");
    let (status, headers, body) = fetch(&broker, "/pkg/token_wasm_bg.wasm", &[]).await;
    assert_eq!((status, body.as_ref()), (StatusCode::OK, wasm.as_slice()));
    assert_eq!(text(&headers, header::CONTENT_TYPE), "application/wasm");
    let identity_tag = text(&headers, header::ETAG).to_owned();
    assert!(identity_tag.starts_with('"') && identity_tag.len() > 20, "strong ETag: {identity_tag:?}");
    for (path, accepted, coding, content_type) in [
        ("/pkg/token_wasm_bg.wasm", "gzip, deflate, br", "br", "application/wasm"),
        ("/pkg/token_wasm_bg.wasm", "gzip", "gzip", "application/wasm"),
        ("/pkg/index.js", "gzip, br", "br", "text/javascript"),
        ("/", "gzip, br", "br", "text/html"),
    ] {
        let (status, headers, body) = fetch(&broker, path, &[(header::ACCEPT_ENCODING, accepted)]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(text(&headers, header::CONTENT_ENCODING), coding, "{path} with {accepted}");
        assert!(text(&headers, header::CONTENT_TYPE).starts_with(content_type), "{path}: {headers:?}");
        assert_eq!(text(&headers, header::CACHE_CONTROL), "no-cache", "{path}");
        assert!(headers.get(header::LAST_MODIFIED).is_none(), "{path}: {headers:?}");
        let etag = text(&headers, header::ETAG);
        assert!(etag.starts_with('"') && etag.ends_with(&format!("-{coding}\"")), "{path}: {etag:?}");
        let file = if path == "/" { dir.join("index.html") } else { dir.join(&path[1..]) };
        let original = std::fs::metadata(file).expect("metadata").len();
        assert!((body.len() as u64) < original, "{path}: {} compressed bytes of {original}", body.len());
    }
}

/// A package updated in place, dated 1985 again and even of the same length,
/// reaches a browser that cached the old one: `If-Modified-Since` is ignored
/// and the old `ETag` no longer matches; the new one gives a 304.
#[tokio::test]
async fn changed_file_is_seen_after_revalidation() {
    let (dir, broker) = npm_site("update").await;
    let file = dir.join("pkg/index.js");
    let (_, headers, old) = fetch(&broker, "/pkg/index.js", &[(header::ACCEPT_ENCODING, "br")]).await;
    let old_tag = text(&headers, header::ETAG).to_owned();
    let (status, ..) =
        fetch(&broker, "/pkg/index.js", &[(header::IF_MODIFIED_SINCE, "Sat, 26 Oct 1985 08:15:00 GMT")]).await;
    assert_eq!(status, StatusCode::OK, "a date never validates");
    let (status, headers, body) =
        fetch(&broker, "/pkg/index.js", &[(header::ACCEPT_ENCODING, "br"), (header::IF_NONE_MATCH, &old_tag)]).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
    assert_eq!((text(&headers, header::ETAG), text(&headers, header::CACHE_CONTROL)), (old_tag.as_str(), "no-cache"));

    write_as_npm(&file, "export const version = 2;\n".repeat(200).as_bytes());
    let validators = [
        (header::ACCEPT_ENCODING, "br"),
        (header::IF_NONE_MATCH, old_tag.as_str()),
        (header::IF_MODIFIED_SINCE, "Mon, 07 Dec 2026 00:00:00 GMT"),
    ];
    let (status, headers, body) = fetch(&broker, "/pkg/index.js", &validators).await;
    assert_eq!(status, StatusCode::OK, "the old copy is stale");
    assert_ne!(body, old);
    let new_tag = text(&headers, header::ETAG).to_owned();
    assert_ne!(new_tag, old_tag);
    let (status, _, body) = fetch(&broker, "/pkg/index.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).starts_with("export const version = 2;"));
    let (status, ..) = fetch(&broker, "/pkg/index.js", &[(header::IF_NONE_MATCH, &new_tag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
}

/// The embedded demo (`--dev`) goes out the same way: compressed, `no-cache`,
/// an `ETag` per coding that revalidates.
#[tokio::test]
async fn embedded_demo_is_compressed_and_revalidated() {
    let broker = built(&["--dev"]).await;
    let (status, headers, body) = fetch(&broker, "/app.js", &[(header::ACCEPT_ENCODING, "gzip, br")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(&headers, header::CONTENT_ENCODING), "br");
    assert_eq!(text(&headers, header::CACHE_CONTROL), "no-cache");
    let plain = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/app.js")).expect("www/app.js");
    assert!(body.len() < plain.len(), "{} compressed bytes of {}", body.len(), plain.len());
    let etag = text(&headers, header::ETAG).to_owned();
    assert!(etag.ends_with("-br\""), "{etag:?}");
    let (status, headers, _) =
        fetch(&broker, "/app.js", &[(header::ACCEPT_ENCODING, "gzip, br"), (header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!((status, text(&headers, header::ETAG)), (StatusCode::NOT_MODIFIED, etag.as_str()));
}
