//! The static site at `/`: the operator's own directory (`PUBLIC_DIR`), or in
//! `--dev` the demo page and the built `token-wasm` package embedded in the binary.
//!
//! A production deployment serves no site unless `PUBLIC_DIR` is set; the
//! embedded demo is only ever served alongside the development authorization server.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use percent_encoding::percent_decode_str;
use rust_embed::Embed;
use tower_http::services::ServeDir;

/// The demo site: `www/`, with `www/vendor/token-wasm/` and `www/vendor/three/`
/// once `npm run build` has written them. Release builds carry the files inside the binary, so `--dev` works
/// from any directory; debug builds read them from the source tree at request time,
/// so `cargo test` and `cargo run` work before `npm run build`.
#[derive(Embed)]
#[folder = "../www/"]
struct DemoSite;

/// Longest file name Linux accepts (`NAME_MAX`); a longer segment names no file,
/// and the file system would answer "name too long", which `ServeDir` turns into a 500.
const MAX_SEGMENT_BYTES: usize = 255;

/// Longest decoded path served. No site needs more, and with the directory's own
/// path it stays far below Linux's `PATH_MAX` (4096), the other "name too long".
const MAX_PATH_BYTES: usize = 1024;

/// The site for this configuration: `public_dir` if set, else the embedded demo
/// when `serve_demo`, else none (every path is a 404).
pub fn router(public_dir: Option<&Path>, serve_demo: bool) -> Router {
    let site = match (public_dir, serve_demo) {
        (Some(dir), _) => Router::new().fallback_service(ServeDir::new(dir)),
        (None, true) => Router::new().fallback_service(get(serve_embedded)),
        (None, false) => return Router::new(),
    };
    site.layer(middleware::from_fn(refuse_hidden_and_overlong))
}

/// Dotfiles (`.env`, `.git/`) are never served: they are where secrets and
/// repository metadata live when a directory is deployed as it is. Overlong names
/// are a 404 rather than the file system's error.
async fn refuse_hidden_and_overlong(request: Request, next: Next) -> Response {
    if is_servable(request.uri().path()) { next.run(request).await } else { StatusCode::NOT_FOUND.into_response() }
}

/// Checks the path as the file system will see it, after percent-decoding (so
/// `/%2Eenv` is refused as well as `/.env`).
fn is_servable(path: &str) -> bool {
    let Ok(decoded) = percent_decode_str(path).decode_utf8() else { return false };
    decoded.len() <= MAX_PATH_BYTES
        && decoded.split('/').all(|segment| !segment.starts_with('.') && segment.len() <= MAX_SEGMENT_BYTES)
}

/// One embedded file, with a content type from its extension and an `ETag` from
/// its hash, so browsers revalidate (`no-cache`) and get a 304 when unchanged.
async fn serve_embedded(uri: Uri, headers: HeaderMap) -> Response {
    let Ok(path) = percent_decode_str(uri.path()).decode_utf8() else { return StatusCode::NOT_FOUND.into_response() };
    let mut name = path.trim_start_matches('/').to_owned();
    if name.is_empty() || name.ends_with('/') {
        name.push_str("index.html");
    }
    let Some(file) = DemoSite::get(&name) else { return StatusCode::NOT_FOUND.into_response() };
    let etag = format!("\"{}\"", file.metadata.sha256_hash().iter().map(|b| format!("{b:02x}")).collect::<String>());
    let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if matches_etag(&headers, &etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), cache]).into_response();
    }
    let content_type =
        HeaderValue::from_str(file.metadata.mimetype()).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    ([(header::CONTENT_TYPE, content_type), (header::ETAG, etag), cache], file.data).into_response()
}

/// `If-None-Match` holding this entity tag, or `*`.
fn matches_etag(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(Ok(wanted)) = headers.get(header::IF_NONE_MATCH).map(HeaderValue::to_str) else { return false };
    wanted.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == etag.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dotted segments anywhere in the path, encoded or not, are refused.
    #[test]
    fn hidden_paths_are_not_servable() {
        for path in ["/.env", "/%2Eenv", "/%2eenv", "/.git/config", "/sub/.htpasswd", "/../etc/passwd"] {
            assert!(!is_servable(path), "{path}");
        }
        for path in ["/", "/index.html", "/vendor/token-wasm/index.js", "/a.b/c.d"] {
            assert!(is_servable(path), "{path}");
        }
    }

    /// A segment longer than a file name can be, or an overlong path, is refused.
    #[test]
    fn overlong_paths_are_not_servable() {
        assert!(is_servable(&format!("/{}", "a".repeat(MAX_SEGMENT_BYTES))));
        assert!(!is_servable(&format!("/{}", "a".repeat(MAX_SEGMENT_BYTES + 1))));
        assert!(!is_servable(&"/abc".repeat(MAX_PATH_BYTES / 4 + 1)));
        assert!(!is_servable("/%ff"));
    }
}
