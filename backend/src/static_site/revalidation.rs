//! Caching headers of the static site, the same for `PUBLIC_DIR` and the
//! embedded demo: a strong `ETag` from the file's SHA-256, `Cache-Control:
//! no-cache` (browsers revalidate on every use, so an updated file is seen at
//! once and an unchanged one costs a 304), and no `Last-Modified`. Files
//! unpacked from an npm tarball all carry its fixed date (1985-10-26), so an
//! `If-Modified-Since` check would call an updated package unmodified: dates
//! are dropped both ways and only the `ETag` validates.
//!
//! Fingerprinted names (`index-3f9a1c2b.js`) are not made `immutable`: telling
//! them from `my-language.js` by name is a guess, and a wrong guess would
//! freeze a file in browsers for a year. A 304 per file and page load is the
//! price.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use super::DemoSite;

const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

/// Where the site's files come from, to hash them.
#[derive(Debug)]
pub enum Files {
    /// `PUBLIC_DIR`, with the hashes of the files seen so far.
    Dir { root: PathBuf, hashes: Mutex<HashMap<PathBuf, (Stamp, String)>> },
    /// The demo site in the binary (rust-embed keeps each file's SHA-256).
    Embedded,
}

/// What changes when a file is rewritten, even by a tool that restores its
/// modification time (npm does): size, inode and status-change time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    changed: (i64, i64, u64),
}

impl Files {
    pub fn dir(root: &Path) -> Self {
        Self::Dir { root: root.to_owned(), hashes: Mutex::default() }
    }

    /// The entity tag of the file a request path names (hex, unquoted), or
    /// `None` when it names no file.
    async fn tag(self: Arc<Self>, path: &str) -> Option<String> {
        match &*self {
            Self::Embedded => {
                let file = DemoSite::get(&super::embedded_name(path)?)?;
                Some(hex(&file.metadata.sha256_hash()[..16]))
            }
            Self::Dir { root, .. } => {
                let decoded = percent_decode_str(path).decode_utf8().ok()?;
                let mut file = root.clone();
                file.extend(decoded.split('/').filter(|segment| !segment.is_empty()));
                if decoded.ends_with('/') {
                    file.push("index.html");
                }
                let files = Arc::clone(&self);
                tokio::task::spawn_blocking(move || files.hash_file(&file).ok()).await.ok().flatten()
            }
        }
    }

    /// The file's hash, from the cache while its [`Stamp`] is unchanged.
    fn hash_file(&self, file: &Path) -> io::Result<String> {
        let Self::Dir { hashes, .. } = self else { return Err(io::ErrorKind::Unsupported.into()) };
        let metadata = std::fs::metadata(file)?;
        if !metadata.is_file() {
            return Err(io::ErrorKind::NotFound.into());
        }
        let stamp = stamp(&metadata);
        let cached = hashes.lock().ok().and_then(|h| h.get(file).filter(|(s, _)| *s == stamp).map(|(_, t)| t.clone()));
        if let Some(tag) = cached {
            return Ok(tag);
        }
        let mut hasher = Sha256::new();
        io::copy(&mut std::fs::File::open(file)?, &mut hasher)?;
        let tag = hex(&hasher.finalize()[..16]);
        if let Ok(mut hashes) = hashes.lock() {
            hashes.insert(file.to_owned(), (stamp, tag.clone()));
        }
        Ok(tag)
    }
}

fn stamp(metadata: &std::fs::Metadata) -> Stamp {
    #[cfg(unix)]
    use std::os::unix::fs::MetadataExt;
    Stamp {
        len: metadata.len(),
        modified: metadata.modified().ok(),
        #[cfg(unix)]
        changed: (metadata.ctime(), metadata.ctime_nsec(), metadata.ino()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Answers a matching `If-None-Match` with 304 before the file is read, and
/// gives every file answer its `ETag` (suffixed with the content coding the
/// compression layer chose, as each coding is its own representation) and
/// `Cache-Control`, without `Last-Modified`.
pub async fn revalidate(State(files): State<Arc<Files>>, mut request: Request, next: Next) -> Response {
    request.headers_mut().remove(header::IF_MODIFIED_SINCE);
    request.headers_mut().remove(header::IF_UNMODIFIED_SINCE);
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    let tag = if readable { files.tag(request.uri().path()).await } else { None };
    if let Some(tag) = &tag {
        if let Some(matched) = matching(request.headers(), tag) {
            return (
                StatusCode::NOT_MODIFIED,
                [(header::ETAG, matched), (header::CACHE_CONTROL, NO_CACHE)],
                [(header::VARY, HeaderValue::from_static("accept-encoding"))],
            )
                .into_response();
        }
    }
    let mut response = next.run(request).await;
    let served = response.status().is_success();
    let headers = response.headers_mut();
    headers.remove(header::LAST_MODIFIED);
    if let (Some(tag), true) = (tag, served) {
        let mut etag = format!("\"{tag}");
        if let Some(coding) = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) {
            etag.push('-');
            etag.push_str(coding);
        }
        etag.push('"');
        if let Ok(etag) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, etag);
        }
        headers.insert(header::CACHE_CONTROL, NO_CACHE);
    }
    response
}

/// The entity tag of `If-None-Match` that names this file (`"<tag>"` or
/// `"<tag>-<coding>"`, weak or strong, as RFC 9110 compares weakly here), or
/// the plain tag for `*`.
fn matching(headers: &HeaderMap, tag: &str) -> Option<HeaderValue> {
    let wanted = headers.get(header::IF_NONE_MATCH)?.to_str().ok()?;
    wanted.split(',').map(str::trim).find_map(|candidate| {
        if candidate == "*" {
            return HeaderValue::from_str(&format!("\"{tag}\"")).ok();
        }
        let opaque = candidate.trim_start_matches("W/").strip_prefix('"')?.strip_suffix('"')?;
        let coding = opaque.strip_prefix(tag)?;
        let names_this = coding.is_empty()
            || coding.strip_prefix('-').is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric()));
        names_this.then(|| HeaderValue::from_str(&format!("\"{opaque}\"")).ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn if_none_match(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).expect("header"));
        headers
    }

    /// The plain tag, a coding's tag and weak forms match; other tags and
    /// tags that merely start with this one do not.
    #[test]
    fn if_none_match_names_the_file_in_any_coding() {
        let tag = "0123abcd";
        for (header, expected) in [
            ("\"0123abcd\"", Some("\"0123abcd\"")),
            ("\"other\", W/\"0123abcd-br\"", Some("\"0123abcd-br\"")),
            ("\"0123abcd-gzip\"", Some("\"0123abcd-gzip\"")),
            ("*", Some("\"0123abcd\"")),
            ("\"0123abcdef\"", None),
            ("\"0123abcd-\"", None),
            ("\"0123abcd-b r\"", None),
            ("\"other\"", None),
        ] {
            let matched = matching(&if_none_match(header), tag);
            assert_eq!(matched.as_ref().map(|v| v.to_str().expect("ascii")), expected, "{header}");
        }
    }
}
