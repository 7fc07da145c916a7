//! [`ApiSettings`]: one configured API of the proxy, validated (built by
//! `config`, owned here), and the APS services an `aps` deployment can name.

use std::time::Duration;

use http::Method;
use url::Url;

/// Default cap on a request body sent to an API (uploads through the proxy).
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 10 * 1024 * 1024;
/// Default cap on a response body: large enough for viewer derivatives.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 512 * 1024 * 1024;
/// Default wait for the API's response headers, and for each gap between body chunks.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default wait after a renewal caused by an API's `401` before another.
pub const DEFAULT_RENEW_COOLDOWN: Duration = Duration::from_secs(30);

/// The API that `--dev` adds for its resource server: `/api/proxy/models/…`.
pub const DEV_MODELS_API: &str = "models";

/// Whose token the proxy sends to an API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiToken {
    /// A two-legged profile's token (`"default"` or a `[profiles.NAME]`).
    Profile(String),
    /// The signed-in user's token (`"user"`): the route needs the session, the
    /// CSRF header and a same-origin caller, as `/api/user/token` does.
    User,
}

/// One API reachable at `/api/proxy/{name}/…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// `[A-Za-z0-9_-]{1,64}`: the route segment.
    pub name: String,
    /// `http(s)`, no query, fragment or credentials; its path always ends in `/`,
    /// so "under the base URL" is a plain prefix test.
    pub base_url: Url,
    pub token: ApiToken,
    /// Allowed methods; anything else is `405 method_not_allowed`.
    pub methods: Vec<Method>,
    /// Allowed path prefixes, relative to `base_url`, each starting with `/`
    /// (`/` allows everything under it).
    pub paths: Vec<String>,
    pub max_request_bytes: u64,
    pub max_response_bytes: u64,
    /// For the response headers, and for each gap between body chunks either way.
    pub timeout: Duration,
    /// `inline_active_content`: HTML, SVG, XML and unknown types are shown
    /// (still sandboxed) rather than downloaded when navigated to.
    pub is_active_content_inline: bool,
    /// `renew_cooldown_secs`: after the API's `401` renewed the token, how
    /// long before another `401` may renew it again (`0`: no cool-down).
    pub renew_cooldown: Duration,
}

impl ApiSettings {
    /// An API with the defaults of the simple form (`PROXY_API`): the default
    /// profile's token, `GET` and `HEAD`, every path under `base_url`.
    pub fn read_only(name: &str, base_url: Url) -> Self {
        Self {
            name: name.to_owned(),
            base_url: with_trailing_slash(base_url),
            token: ApiToken::Profile(crate::token_cache::DEFAULT_PROFILE.to_owned()),
            methods: vec![Method::GET, Method::HEAD],
            paths: vec!["/".to_owned()],
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            timeout: DEFAULT_TIMEOUT,
            is_active_content_inline: false,
            renew_cooldown: DEFAULT_RENEW_COOLDOWN,
        }
    }
}

/// `base_url` with a path ending in `/`, so `…/v2` and `…/v2/` mean the same.
pub fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// The Autodesk Platform Services APIs a Viewer needs, named by `service = …`
/// in `[apis.NAME]` (with `OAUTH_PROVIDER=aps`): each fills `base_url` and
/// read-only defaults for `methods` and `paths`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApsService {
    /// What the Autodesk Viewer loads (manifests and derivatives), at the API
    /// host's root, since the Viewer's `endpoint` option is the host, not a service.
    Viewer,
    /// Model Derivative: manifests, metadata and the derivatives the Viewer streams.
    ModelDerivative,
    /// Data Management, hubs and projects (`/project/v1`).
    Project,
    /// Data Management, folders, items and versions (`/data/v1`).
    Data,
    /// Object Storage Service (`/oss/v2`): buckets and objects.
    Oss,
}

impl ApsService {
    pub const NAMES: &'static str = "viewer, model-derivative, project, data, oss";

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "viewer" => Ok(Self::Viewer),
            "model-derivative" => Ok(Self::ModelDerivative),
            "project" => Ok(Self::Project),
            "data" => Ok(Self::Data),
            "oss" => Ok(Self::Oss),
            other => Err(format!("`{other}` is not one of: {}", Self::NAMES)),
        }
    }

    /// The service's base URL.
    pub fn base_url(self) -> &'static str {
        match self {
            Self::Viewer => "https://developer.api.autodesk.com/",
            Self::ModelDerivative => "https://developer.api.autodesk.com/modelderivative/v2/",
            Self::Project => "https://developer.api.autodesk.com/project/v1/",
            Self::Data => "https://developer.api.autodesk.com/data/v1/",
            Self::Oss => "https://developer.api.autodesk.com/oss/v2/",
        }
    }

    /// What a viewer reads, when `paths` is not set: derivatives and manifests
    /// (`/designdata/`, also the regional `/regions/eu/designdata/`; for the
    /// Viewer also the derivative service it streams SVF from), or the whole
    /// service for the read-only Data Management APIs.
    pub fn default_paths(self) -> Vec<String> {
        match self {
            Self::Viewer => vec![
                "/modelderivative/v2/designdata/".to_owned(),
                "/modelderivative/v2/regions/".to_owned(),
                "/derivativeservice/v2/".to_owned(),
            ],
            Self::ModelDerivative => vec!["/designdata/".to_owned(), "/regions/".to_owned()],
            Self::Project | Self::Data | Self::Oss => vec!["/".to_owned()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every APS base URL parses and ends in `/`, as the proxy's prefix test needs.
    #[test]
    fn aps_base_urls_are_valid() {
        for service in
            [ApsService::Viewer, ApsService::ModelDerivative, ApsService::Project, ApsService::Data, ApsService::Oss]
        {
            let url = Url::parse(service.base_url()).expect("valid URL");
            assert_eq!(with_trailing_slash(url.clone()), url, "{service:?}");
            assert_eq!(url.host_str(), Some("developer.api.autodesk.com"));
        }
    }

    /// `…/v2` and `…/v2/` are the same base.
    #[test]
    fn trailing_slash_is_added_once() {
        let bare = with_trailing_slash(Url::parse("http://h/models").expect("url"));
        assert_eq!(bare.as_str(), "http://h/models/");
        assert_eq!(with_trailing_slash(bare.clone()), bare);
    }
}
