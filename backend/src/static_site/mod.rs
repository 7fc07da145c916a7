//! The static site at `/`: the operator's own directory (`PUBLIC_DIR`), or in
//! `--dev` the demo page and the built `token-wasm` package embedded in the binary.
//!
//! A production deployment serves no site unless `PUBLIC_DIR` is set; the
//! embedded demo is only ever served alongside the development authorization server.
//! Both go out as a production static server sends them: compressed (`br` or
//! `gzip`, or the file's own `.br`/`.gz` sibling in `PUBLIC_DIR`), typed by
//! extension (`application/wasm`), and validated by `ETag` ([`revalidation`]).

mod revalidation;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use percent_encoding::percent_decode_str;
use rust_embed::Embed;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

use revalidation::Files;

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
    let (site, files) = match (public_dir, serve_demo) {
        (Some(dir), _) => (
            Router::new().fallback_service(ServeDir::new(dir).precompressed_br().precompressed_gzip()),
            Files::dir(dir),
        ),
        (None, true) => (Router::new().fallback_service(get(serve_embedded)), Files::Embedded),
        (None, false) => return Router::new(),
    };
    // Outermost last: dotfiles are refused before anything is hashed, and the
    // revalidation sees the coding the compression chose.
    site.layer(CompressionLayer::new())
        .layer(middleware::from_fn_with_state(Arc::new(files), revalidation::revalidate))
        .layer(middleware::from_fn(refuse_hidden_and_overlong))
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

/// One embedded file, with a content type from its extension (caching
/// headers come from [`revalidation`]).
async fn serve_embedded(uri: Uri) -> Response {
    let Some(file) = embedded_name(uri.path()).and_then(|name| DemoSite::get(&name)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type =
        HeaderValue::from_str(file.metadata.mimetype()).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    ([(header::CONTENT_TYPE, content_type)], file.data).into_response()
}

/// The embedded file a request path names: decoded, `index.html` for a directory.
fn embedded_name(path: &str) -> Option<String> {
    let mut name = percent_decode_str(path).decode_utf8().ok()?.trim_start_matches('/').to_owned();
    if name.is_empty() || name.ends_with('/') {
        name.push_str("index.html");
    }
    Some(name)
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
