//! The API proxy's settings: `[apis.NAME]` tables in the TOML file and the
//! simple `PROXY_API` form, checked here and built into
//! [`ApiSettings`](crate::proxy::ApiSettings). Every problem is reported with
//! its table and key, all at once.

use std::collections::BTreeMap;
use std::time::Duration;

use http::Method;
use serde::Deserialize;
use url::Url;

use super::Problem;
use crate::provider::{Preset, is_loopback};
use crate::proxy::{
    ApiSettings, ApiToken, ApsService, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_RENEW_COOLDOWN,
    DEFAULT_TIMEOUT, with_trailing_slash,
};

/// The largest body limit accepted: a typo's extra digits, not a real need, go beyond.
const MAX_BODY_LIMIT: u64 = 64 * 1024 * 1024 * 1024;
/// The token value that sends the signed-in user's token.
const USER_TOKEN: &str = "user";
/// Methods an API may allow; `CONNECT` and `TRACE` never.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// `[apis.NAME]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileApi {
    /// With `OAUTH_PROVIDER=aps`: an APS service that fills `base_url` and `paths`.
    service: Option<String>,
    base_url: Option<String>,
    /// `"default"`, another profile name, or `"user"`.
    token: Option<String>,
    methods: Option<Vec<String>>,
    paths: Option<Vec<String>>,
    max_request_bytes: Option<u64>,
    max_response_bytes: Option<u64>,
    timeout_secs: Option<u64>,
    /// Show HTML, SVG, XML and unknown types inline (still sandboxed) instead of as downloads.
    inline_active_content: Option<bool>,
    /// After an API's `401` renewed the token, seconds before another may.
    renew_cooldown_secs: Option<u64>,
}

/// What the APIs are checked against.
pub(super) struct Context<'a> {
    /// The token profiles' names, when they were valid.
    pub profiles: Option<Vec<&'a str>>,
    pub has_sign_in: bool,
    pub preset: Option<Preset>,
}

/// The file's APIs, with `PROXY_API`'s entries over those of the same name.
pub(super) fn parse(
    env: Option<&str>,
    file: &BTreeMap<String, FileApi>,
    context: &Context<'_>,
    problems: &mut Vec<Problem>,
) -> Vec<ApiSettings> {
    let mut apis = BTreeMap::new();
    for (name, api) in file {
        let mut report = |key: &str, message: String| {
            let key = if key.is_empty() { String::new() } else { format!(".{key}") };
            problems
                .push(Problem { var: super::cli::CONFIG_FILE_VAR, message: format!("[apis.{name}]{key}: {message}") });
        };
        if let Some(settings) = parse_file_api(name, api, context, &mut report) {
            apis.insert(name.clone(), settings);
        }
    }
    for entry in env.unwrap_or_default().split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match parse_env_entry(entry) {
            Ok(settings) => {
                apis.insert(settings.name.clone(), settings);
            }
            Err(message) => problems.push(Problem { var: "PROXY_API", message }),
        }
    }
    apis.into_values().collect()
}

/// `NAME=BASE_URL`: the default profile's token, `GET` and `HEAD`, every path.
fn parse_env_entry(entry: &str) -> Result<ApiSettings, String> {
    let Some((name, url)) = entry.split_once('=') else {
        return Err(format!("`{entry}` is not NAME=BASE_URL"));
    };
    let name = name.trim();
    check_name(name).map_err(|m| format!("`{name}`: {m}"))?;
    let url = parse_base_url(url.trim()).map_err(|m| format!("{name}: {m}"))?;
    Ok(ApiSettings::read_only(name, url))
}

fn parse_file_api(
    name: &str,
    api: &FileApi,
    context: &Context<'_>,
    report: &mut impl FnMut(&str, String),
) -> Option<ApiSettings> {
    let mut ok = true;
    let mut fail = |key: &str, message: String| {
        report(key, message);
        ok = false;
    };
    if let Err(m) = check_name(name) {
        fail("", format!("the name {m}"));
    }
    let service = match &api.service {
        Some(raw) if context.preset == Some(Preset::Aps) => ApsService::parse(raw).map_err(|m| fail("service", m)).ok(),
        Some(_) => {
            fail("service", "APS services need OAUTH_PROVIDER=aps; set base_url instead".to_owned());
            None
        }
        None => None,
    };
    let base_url = match (&api.base_url, service) {
        (Some(_), Some(_)) => {
            fail("base_url", "set either `service` or `base_url`, not both".to_owned());
            None
        }
        (Some(raw), None) => parse_base_url(raw).map_err(|m| fail("base_url", m)).ok(),
        (None, Some(service)) => Url::parse(service.base_url()).ok(),
        (None, None) => {
            fail("base_url", "missing (or, with OAUTH_PROVIDER=aps, set `service`)".to_owned());
            None
        }
    };
    let token = match api.token.as_deref().map(str::trim).unwrap_or(crate::token_cache::DEFAULT_PROFILE) {
        USER_TOKEN if context.has_sign_in => Some(ApiToken::User),
        USER_TOKEN => {
            fail("token", "`user` needs sign-in (OAUTH_REDIRECT_URL)".to_owned());
            None
        }
        profile => match &context.profiles {
            Some(names) if names.contains(&profile) => Some(ApiToken::Profile(profile.to_owned())),
            Some(names) => {
                fail("token", format!("`{profile}` is not `user` or a profile ({})", names.join(", ")));
                None
            }
            None => None,
        },
    };
    let methods = match &api.methods {
        Some(raw) => parse_methods(raw).map_err(|m| fail("methods", m)).ok(),
        None => Some(vec![Method::GET, Method::HEAD]),
    };
    let paths = match (&api.paths, service) {
        (Some(raw), _) => parse_paths(raw).map_err(|m| fail("paths", m)).ok(),
        (None, Some(service)) => Some(service.default_paths()),
        (None, None) => Some(vec!["/".to_owned()]),
    };
    let mut limit = |key: &str, value: Option<u64>, default: u64, range: (u64, u64)| {
        let value = value.unwrap_or(default);
        if value < range.0 || value > range.1 {
            fail(key, format!("{value} is out of range ({}..={})", range.0, range.1));
        }
        value
    };
    let max_request_bytes =
        limit("max_request_bytes", api.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES, (0, MAX_BODY_LIMIT));
    let max_response_bytes =
        limit("max_response_bytes", api.max_response_bytes, DEFAULT_MAX_RESPONSE_BYTES, (1, MAX_BODY_LIMIT));
    let timeout = limit("timeout_secs", api.timeout_secs, DEFAULT_TIMEOUT.as_secs(), (1, 3600));
    let renew_cooldown =
        limit("renew_cooldown_secs", api.renew_cooldown_secs, DEFAULT_RENEW_COOLDOWN.as_secs(), (0, 3600));
    if !ok {
        return None;
    }
    Some(ApiSettings {
        name: name.to_owned(),
        base_url: with_trailing_slash(base_url?),
        token: token?,
        methods: methods?,
        paths: paths?,
        max_request_bytes,
        max_response_bytes,
        timeout: Duration::from_secs(timeout),
        is_active_content_inline: api.inline_active_content.unwrap_or(false),
        renew_cooldown: Duration::from_secs(renew_cooldown),
    })
}

fn check_name(name: &str) -> Result<(), String> {
    let is_valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if is_valid { Ok(()) } else { Err("must be 1-64 of [A-Za-z0-9_-]".to_owned()) }
}

/// An `http(s)` URL with a host, no credentials, query or fragment; plain
/// `http` only on loopback, since the token travels with every request.
fn parse_base_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{raw}` must be an http(s) URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err("must have no credentials, query or fragment".to_owned());
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err("must use https (plain http is allowed only on loopback)".to_owned());
    }
    Ok(url)
}

fn parse_methods(raw: &[String]) -> Result<Vec<Method>, String> {
    if raw.is_empty() {
        return Err("must list at least one method".to_owned());
    }
    raw.iter()
        .map(|m| match METHODS.iter().find(|known| **known == m.as_str()) {
            Some(known) => Method::from_bytes(known.as_bytes()).map_err(|e| e.to_string()),
            None => Err(format!("`{m}` is not one of: {}", METHODS.join(", "))),
        })
        .collect()
}

/// Prefixes start with `/` and are plain paths: the proxy compares them with
/// the resolved path segment by segment as text, so they must be in the same
/// normal form (no `;` parameters either). A trailing `/` is allowed and changes nothing.
fn parse_paths(raw: &[String]) -> Result<Vec<String>, String> {
    if raw.is_empty() {
        return Err("must list at least one path prefix (`/` for all)".to_owned());
    }
    for path in raw {
        let is_plain = path.starts_with('/')
            && !path.contains("//")
            && !path.split('/').any(|s| s == "." || s == "..")
            && !path.contains(['\\', '%', '?', '#', '@', ';'])
            && !path.chars().any(char::is_whitespace);
        if !is_plain {
            return Err(format!("`{path}` must start with `/`, without `//`, dot segments, `%`, `;`, `?`, `#` or `@`"));
        }
    }
    Ok(raw.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(preset: Option<Preset>) -> Context<'static> {
        Context { profiles: Some(vec!["default", "data"]), has_sign_in: false, preset }
    }

    fn parse_toml(toml: &str, env: Option<&str>, preset: Option<Preset>) -> (Vec<ApiSettings>, Vec<String>) {
        let file: BTreeMap<String, FileApi> = toml::from_str(toml).expect("valid TOML");
        let mut problems = Vec::new();
        let apis = parse(env, &file, &context(preset), &mut problems);
        (apis, problems.into_iter().map(|p| format!("{}: {}", p.var, p.message)).collect())
    }

    /// A full table, and the defaults of a minimal one.
    #[test]
    fn tables_and_defaults() {
        let (apis, problems) = parse_toml(
            "[md]\nbase_url = \"https://api.example.com/md/v2\"\ntoken = \"data\"\nmethods = [\"GET\", \"POST\"]\n\
             paths = [\"/designdata/\"]\nmax_request_bytes = 0\nmax_response_bytes = 1000\ntimeout_secs = 5\n\
             [plain]\nbase_url = \"http://127.0.0.1:9/x\"\n",
            None,
            None,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let md = apis.iter().find(|a| a.name == "md").expect("md");
        assert_eq!(md.base_url.as_str(), "https://api.example.com/md/v2/");
        assert_eq!(md.token, ApiToken::Profile("data".into()));
        assert_eq!(md.methods, [Method::GET, Method::POST]);
        assert_eq!((md.max_request_bytes, md.max_response_bytes, md.timeout), (0, 1000, Duration::from_secs(5)));
        let plain = apis.iter().find(|a| a.name == "plain").expect("plain");
        assert_eq!(plain, &ApiSettings::read_only("plain", Url::parse("http://127.0.0.1:9/x/").expect("url")));
    }

    /// Every bad key is reported at once, each with its table and key.
    #[test]
    fn every_problem_is_reported_with_its_key() {
        let (apis, problems) = parse_toml(
            "[bad]\nbase_url = \"http://api.example.com/\"\ntoken = \"nope\"\nmethods = [\"TRACE\"]\n\
             paths = [\"designdata\", \"/a/../b\"]\ntimeout_secs = 0\n[user]\nbase_url = \"https://a.example/\"\ntoken = \"user\"\n",
            Some("x=https://ok.example/,broken,y=ftp://h/"),
            None,
        );
        assert!(apis.iter().all(|a| a.name == "x"), "only the valid env entry is built");
        let expected = [
            "[apis.bad].base_url: must use https",
            "[apis.bad].token: `nope` is not `user` or a profile (default, data)",
            "[apis.bad].methods: `TRACE` is not one of",
            "[apis.bad].paths: `designdata` must start with `/`",
            "[apis.bad].timeout_secs: 0 is out of range",
            "[apis.user].token: `user` needs sign-in",
            "PROXY_API: `broken` is not NAME=BASE_URL",
            "PROXY_API: y: `ftp://h/` must be an http(s) URL",
        ];
        for want in expected {
            assert!(problems.iter().any(|p| p.contains(want)), "missing {want:?} in {problems:?}");
        }
        assert_eq!(problems.len(), expected.len(), "{problems:?}");
    }

    /// Prefixes in the form the proxy compares: `;` parameters refused, a trailing `/` kept.
    #[test]
    fn path_prefixes_are_plain() {
        assert!(parse_paths(&["/a;b".to_owned()]).is_err());
        assert!(parse_paths(&["/models/..;/".to_owned()]).is_err());
        assert_eq!(parse_paths(&["/models/".to_owned()]), Ok(vec!["/models/".to_owned()]));
    }

    /// Unknown keys are refused by name.
    #[test]
    fn unknown_keys_are_refused() {
        let error = toml::from_str::<BTreeMap<String, FileApi>>("[a]\nbase_url = \"https://a/\"\nbase_uri = \"x\"\n")
            .expect_err("unknown key");
        assert!(error.to_string().contains("base_uri"), "{error}");
    }

    /// With the `aps` preset, `service` fills the base URL and the viewer's paths.
    #[test]
    fn aps_services_fill_the_base_url() {
        let (apis, problems) = parse_toml("[derivative]\nservice = \"model-derivative\"\n", None, Some(Preset::Aps));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(apis[0].base_url.as_str(), "https://developer.api.autodesk.com/modelderivative/v2/");
        assert_eq!(apis[0].paths, ["/designdata/", "/regions/"]);
        let (_, problems) = parse_toml("[d]\nservice = \"model-derivative\"\n", None, Some(Preset::Glimesh));
        assert!(problems[0].contains("need OAUTH_PROVIDER=aps"), "{problems:?}");
    }

    /// `PROXY_API` overrides the file's API of the same name.
    #[test]
    fn env_entries_override_the_file() {
        let (apis, problems) =
            parse_toml("[m]\nbase_url = \"https://file.example/\"\n", Some("m=https://env.example/"), None);
        assert!(problems.is_empty());
        assert_eq!(apis.len(), 1);
        assert_eq!(apis[0].base_url.as_str(), "https://env.example/");
    }
}
