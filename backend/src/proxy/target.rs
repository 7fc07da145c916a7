//! Where a proxied request goes: the browser's path and query resolved under an
//! API's `base_url`, refusing anything that could leave it (SSRF through the path).
//!
//! The raw, still percent-encoded path is checked, before any decoding, and the
//! rules are strict rather than clever: a real API path never needs a dot
//! segment, an empty segment, a backslash (plain or encoded), an encoded dot or
//! `@`, so refusing them outright costs nothing. Encoded slashes are the one
//! exception, because APS needs them: Model Derivative addresses a derivative
//! by its URL-encoded URN inside one path segment
//! (`…/manifest/urn%3Aadsk.viewing%3Afs.file%3A…%2Foutput%2F0.svf`). So the
//! segment rules are applied with `%2F` counted as a separator too: whether the
//! API server decodes it before routing or not, no reading of the path has a dot
//! or empty segment, and there is no parser differential to exploit. Servlet
//! containers (Tomcat, Jetty, Spring) drop a segment's `;` parameters before
//! resolving dot segments, so `..;x` counts as `..` (and so do `..%3b`,
//! `..%20` and `...`, which Windows servers trim). The resolved URL is then
//! checked again: same origin as `base_url`, under its path and an allowed
//! prefix, matched by whole segments (`/models` allows `/models/x`, never
//! `/models-private`).

use super::settings::ApiSettings;

/// Why a path was refused; the message is safe to show (it names the rule, not the path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathRefusal {
    #[error("the path has a `.` or `..` segment (also with `;` parameters, such as `..;x`)")]
    DotSegment,
    #[error("the path has an empty segment (`//`)")]
    EmptySegment,
    #[error("the path has a backslash, an encoded backslash or dot, or an `@`")]
    ForbiddenCharacter,
    #[error("the path is not under one of the API's allowed prefixes")]
    NotAllowed,
}

/// Resolves `path` (what follows `/api/proxy/{name}/`, percent-encoded as
/// received) and `query` under the API's base URL, as the URL to request.
pub fn resolve(api: &ApiSettings, path: &str, query: Option<&str>) -> Result<String, PathRefusal> {
    check_raw(path)?;
    if is_kept_as_is(path, PATH_ENCODES) && query.is_none_or(|query| is_kept_as_is(query, QUERY_ENCODES)) {
        return joined(api, path, query);
    }
    reparsed(api, path, query)
}

/// Bytes `url` percent-encodes in a path (its path set for special schemes),
/// besides controls, space and non-ASCII.
const PATH_ENCODES: &[u8] = b"\"#<>?`{}";
/// The same for a query (its special-query set).
const QUERY_ENCODES: &[u8] = b"\"#<>'";

/// Whether `url` would keep `part` byte for byte: printable ASCII outside `encodes`.
fn is_kept_as_is(part: &str, encodes: &[u8]) -> bool {
    part.bytes().all(|b| b.is_ascii_graphic() && !encodes.contains(&b))
}

/// The common case, without parsing: a path that passed `check_raw` and that
/// `url` would keep as is, appended to the base URL's path (which ends in `/`),
/// cannot change the origin or climb out of the base, so what `reparsed` checks
/// holds by construction; only the prefixes are left. The same string as
/// `reparsed` gives (tested below).
fn joined(api: &ApiSettings, path: &str, query: Option<&str>) -> Result<String, PathRefusal> {
    if !api.paths.iter().any(|prefix| is_under(path, prefix)) {
        return Err(PathRefusal::NotAllowed);
    }
    let base = &api.base_url[..url::Position::AfterPath];
    let mut url = String::with_capacity(base.len() + path.len() + query.map_or(0, |q| q.len() + 1));
    url.push_str(base);
    url.push_str(path);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    Ok(url)
}

/// The rare case (a byte `url` encodes): the path set on a parsed copy of the
/// base URL, and the result checked again.
fn reparsed(api: &ApiSettings, path: &str, query: Option<&str>) -> Result<String, PathRefusal> {
    let base = &api.base_url;
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path()));
    url.set_query(query);
    // `set_path` percent-encodes what the path grammar needs and leaves the rest;
    // whatever it did, the result must still lie where we meant it to.
    let relative = url.path().strip_prefix(base.path()).ok_or(PathRefusal::NotAllowed)?;
    let is_same_origin = url.scheme() == base.scheme()
        && url.host() == base.host()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none();
    if !is_same_origin {
        return Err(PathRefusal::NotAllowed);
    }
    if !api.paths.iter().any(|prefix| is_under(relative, prefix)) {
        return Err(PathRefusal::NotAllowed);
    }
    Ok(url.into())
}

/// Whether `relative` (a path under the base, without its leading `/`) is
/// `prefix` or below it, by whole segments: a trailing `/` on the prefix
/// changes nothing (`/models/` allows `/models` too), and `/` allows all.
fn is_under(relative: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    let Some(prefix) = prefix.strip_prefix('/') else {
        return prefix.is_empty();
    };
    match relative.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// A segment (lowercase) as a server that drops `;` parameters and trims
/// trailing spaces would resolve it: nothing but dots means a dot segment to
/// some server. The parameters start at the first `;` or `%3b`.
fn is_dot_segment(segment: &str) -> bool {
    // What is left is a prefix of the segment: no leading dot, no dot segment
    // (most segments stop here, before any search).
    if !segment.starts_with('.') {
        return false;
    }
    let end = [segment.find(';'), segment.find("%3b")].into_iter().flatten().min().unwrap_or(segment.len());
    let mut bare = segment[..end].trim_end_matches(' ');
    while let Some(rest) = bare.strip_suffix("%20") {
        bare = rest;
    }
    !bare.is_empty() && bare.bytes().all(|b| b == b'.')
}

/// The rules on the raw path; see the module documentation for why each.
fn check_raw(path: &str) -> Result<(), PathRefusal> {
    if path.bytes().any(|b| b == b'\\' || b == b'@' || b.is_ascii_control() || b == b' ') {
        return Err(PathRefusal::ForbiddenCharacter);
    }
    // Case matters only in escapes (`%2F`, `%3B`...), so a path without `%`
    // (most) is checked as it is: no lowercase copy, no escapes to look for.
    if !path.contains('%') {
        return check_segments(path.split('/'));
    }
    let lower = path.to_ascii_lowercase();
    if ["%5c", "%2e", "%40", "%00"].iter().any(|encoded| lower.contains(encoded)) {
        return Err(PathRefusal::ForbiddenCharacter);
    }
    // Segments as a server that decodes `%2F` first would see them; a server
    // that does not sees fewer, longer segments, which these rules cover too.
    check_segments(lower.split("%2f").flat_map(|part| part.split('/')))
}

/// No dot segment, and no empty one but the last.
fn check_segments<'a>(segments: impl Iterator<Item = &'a str>) -> Result<(), PathRefusal> {
    let mut segments = segments.peekable();
    while let Some(segment) = segments.next() {
        if is_dot_segment(segment) {
            return Err(PathRefusal::DotSegment);
        }
        // A trailing slash is a real path (`/designdata/`); an empty segment
        // elsewhere is `//`, and so is one of `;` parameters only.
        let is_empty = segment.is_empty() || segment.starts_with(';') || segment.starts_with("%3b");
        if is_empty && segments.peek().is_some() {
            return Err(PathRefusal::EmptySegment);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;
    use crate::proxy::settings::with_trailing_slash;

    fn api(base: &str, paths: &[&str]) -> ApiSettings {
        let mut api = ApiSettings::read_only("t", with_trailing_slash(Url::parse(base).expect("url")));
        api.paths = paths.iter().map(|p| (*p).to_owned()).collect();
        api
    }

    /// Ordinary paths and queries land under the base URL, query untouched.
    #[test]
    fn resolves_under_the_base() {
        let api = api("https://api.example.com/modelderivative/v2", &["/designdata/"]);
        let url = resolve(&api, "designdata/dXJuOmE/manifest", Some("a=1&b=%2F")).expect("allowed");
        assert_eq!(url, "https://api.example.com/modelderivative/v2/designdata/dXJuOmE/manifest?a=1&b=%2F");
        let url = resolve(&api, "designdata/", None).expect("trailing slash");
        assert_eq!(url, "https://api.example.com/modelderivative/v2/designdata/");
    }

    /// Every escape attempt is refused, whatever the allowed prefixes.
    #[test]
    fn escapes_are_refused() {
        let api = api("https://api.example.com/base/", &["/"]);
        let cases = [
            ("../secret", PathRefusal::DotSegment),
            ("a/../../secret", PathRefusal::DotSegment),
            ("./a", PathRefusal::DotSegment),
            ("a/..", PathRefusal::DotSegment),
            ("%2e%2e/secret", PathRefusal::ForbiddenCharacter),
            ("%2E./secret", PathRefusal::ForbiddenCharacter),
            ("..%2Fsecret", PathRefusal::DotSegment),
            ("a%2F..%2F..%2Fsecret", PathRefusal::DotSegment),
            ("a%2F%2Fb", PathRefusal::EmptySegment),
            ("%2Fevil.example.com/x", PathRefusal::EmptySegment),
            ("a%5cb", PathRefusal::ForbiddenCharacter),
            ("a\\..\\b", PathRefusal::ForbiddenCharacter),
            ("@evil.example.com/", PathRefusal::ForbiddenCharacter),
            ("a%40evil", PathRefusal::ForbiddenCharacter),
            ("/evil.example.com/x", PathRefusal::EmptySegment),
            ("http://evil.example.com/x", PathRefusal::EmptySegment),
            ("a//b", PathRefusal::EmptySegment),
            ("a%00b", PathRefusal::ForbiddenCharacter),
            ("a\nb", PathRefusal::ForbiddenCharacter),
            ("models/..;/..;/secret", PathRefusal::DotSegment),
            ("models/..;jsessionid=x/secret", PathRefusal::DotSegment),
            ("models/.;/secret", PathRefusal::DotSegment),
            ("models/..%3b/secret", PathRefusal::DotSegment),
            ("models/..%3B/secret", PathRefusal::DotSegment),
            ("models/.%3Bx=1/secret", PathRefusal::DotSegment),
            ("models/..;", PathRefusal::DotSegment),
            ("models/..%20/secret", PathRefusal::DotSegment),
            ("models/.../secret", PathRefusal::DotSegment),
            ("models/;x/secret", PathRefusal::EmptySegment),
            ("models/%3bx/secret", PathRefusal::EmptySegment),
        ];
        for (path, refusal) in cases {
            assert_eq!(resolve(&api, path, None), Err(refusal), "{path}");
        }
    }

    /// A URL-encoded derivative URN, as the Viewer and Model Derivative use in
    /// one path segment, passes with its encoded slashes intact.
    #[test]
    fn encoded_urns_pass_whole() {
        let api = api("https://api.example.com/modelderivative/v2", &["/designdata/"]);
        let path = "designdata/dXJuOmE/manifest/urn%3Aadsk.viewing%3Afs.file%3AdXJuOmE%2Foutput%2F0%2F0.svf";
        let url = resolve(&api, path, None).expect("allowed");
        assert_eq!(url, format!("https://api.example.com/modelderivative/v2/{path}"));
    }

    /// Prefixes are enforced on the resolved path.
    #[test]
    fn prefixes_are_enforced() {
        let api = api("https://api.example.com/v2/", &["/designdata/", "/regions/eu/designdata/"]);
        assert!(resolve(&api, "designdata/x", None).is_ok());
        assert!(resolve(&api, "regions/eu/designdata/x", None).is_ok());
        assert_eq!(resolve(&api, "modelviews", None), Err(PathRefusal::NotAllowed));
        assert_eq!(resolve(&api, "designdataX", None), Err(PathRefusal::NotAllowed));
        assert_eq!(resolve(&api, "", None), Err(PathRefusal::NotAllowed));
    }

    /// A prefix matches whole segments, with or without its trailing slash.
    #[test]
    fn prefixes_match_whole_segments() {
        for prefix in ["/models", "/models/"] {
            let api = api("https://api.example.com/v2/", &[prefix]);
            for allowed in ["models", "models/", "models/x", "models/x/y"] {
                assert!(resolve(&api, allowed, None).is_ok(), "{prefix}: {allowed}");
            }
            let refused =
                ["models-private/x", "modelsX", "models.bak/x", "models%2dprivate/x", "models;v=1/x", "model"];
            for refused in refused {
                assert_eq!(resolve(&api, refused, None), Err(PathRefusal::NotAllowed), "{prefix}: {refused}");
            }
        }
    }

    /// Ordinary names with dots and semicolons are not dot segments.
    #[test]
    fn dotted_names_pass() {
        let api = api("https://api.example.com/", &["/"]);
        for path in ["a.b/c", ".well-known/x", "..a/b", "a;v=1/b", "x/a..b", "file.svf"] {
            assert!(resolve(&api, path, None).is_ok(), "{path}");
        }
    }

    /// The empty path (the base itself) is allowed when `/` is.
    #[test]
    fn the_base_itself_is_reachable_with_the_root_prefix() {
        let api = api("http://127.0.0.1:9/models", &["/"]);
        assert_eq!(resolve(&api, "", None).expect("allowed"), "http://127.0.0.1:9/models/");
    }

    /// The unparsed join gives exactly what setting the path on the parsed
    /// base URL gives, refusals included, wherever it is taken.
    #[test]
    fn the_join_agrees_with_url() {
        let paths = [
            "",
            "a",
            "a/",
            "models/x",
            "models/x/y.svf",
            "designdata/urn%3Aadsk%2Foutput%2F0.svf",
            "a;v=1/b",
            "x/a..b",
            ".well-known/x",
            "a%20b",
            "~user/x",
            "a!$&'()*+,=:/b",
            "a%2Fb",
            "modelsX",
            "models-private/x",
            "a%3Fb",
            "A/B/C",
            "%E2%82%AC",
        ];
        let queries = [None, Some(""), Some("a=1&b=%2F"), Some("x=a/b?c"), Some("q=[1]"), Some("a=%27")];
        for base in ["https://api.example.com/base/", "http://127.0.0.1:9/", "https://api.example.com:8443/v2/"] {
            for prefixes in [&["/"][..], &["/models/", "/designdata"][..]] {
                let api = api(base, prefixes);
                for path in paths {
                    for query in queries {
                        let joined = check_raw(path).and_then(|()| joined(&api, path, query));
                        let reparsed = check_raw(path).and_then(|()| reparsed(&api, path, query));
                        assert_eq!(joined, reparsed, "{base} {prefixes:?} {path} {query:?}");
                    }
                }
            }
        }
    }

    /// Bytes `url` would encode take the parsed route, and come out encoded.
    #[test]
    fn bytes_url_encodes_are_encoded() {
        let api = api("https://api.example.com/base/", &["/"]);
        assert_eq!(
            resolve(&api, "a{b}", Some("q='x'")).expect("allowed"),
            "https://api.example.com/base/a%7Bb%7D?q=%27x%27"
        );
        assert_eq!(resolve(&api, "caf\u{e9}", None).expect("allowed"), "https://api.example.com/base/caf%C3%A9");
    }
}
