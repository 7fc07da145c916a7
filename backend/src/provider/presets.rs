//! Built-in providers, so users configure a name and credentials rather than URLs.

use url::Url;

use super::ClientAuth;

/// A provider preset, chosen with `OAUTH_PROVIDER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Autodesk Platform Services, authentication v2.
    Aps,
    /// Glimesh-style authorization-code servers.
    Glimesh,
    /// Any OpenID Connect / RFC 8414 server, found by discovery from `OAUTH_ISSUER`.
    Oidc,
    /// Any RFC 6749 server; every URL comes from configuration.
    Generic,
}

/// The endpoints a preset knows in advance.
#[derive(Debug, Default)]
pub struct PresetEndpoints {
    pub token_url: Option<Url>,
    pub authorize_url: Option<Url>,
    pub revocation_url: Option<Url>,
    pub userinfo_url: Option<Url>,
}

impl Preset {
    /// Every preset, in the order `--help` and messages list them.
    pub const ALL: [Self; 4] = [Self::Aps, Self::Oidc, Self::Glimesh, Self::Generic];

    /// The name `OAUTH_PROVIDER` gives the preset.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aps => "aps",
            Self::Oidc => "oidc",
            Self::Glimesh => "glimesh",
            Self::Generic => "generic",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        Self::ALL
            .into_iter()
            .find(|preset| preset.as_str() == name)
            .ok_or_else(|| format!("`{name}` is not one of: {}", Self::ALL.map(Self::as_str).join(", ")))
    }

    /// The scope of the default browser token when `OAUTH_SCOPE` is not set: the
    /// least privilege a viewer needs.
    pub fn default_scope(self) -> &'static str {
        match self {
            Self::Aps => "viewables:read",
            Self::Glimesh => "public",
            Self::Oidc | Self::Generic => "",
        }
    }

    /// The scope requested at user sign-in when `OAUTH_USER_SCOPE` is not set.
    pub fn default_user_scope(self) -> &'static str {
        match self {
            Self::Aps => "user-profile:read data:read viewables:read",
            Self::Glimesh => "public",
            Self::Oidc => "openid profile",
            Self::Generic => "",
        }
    }

    /// How the client authenticates when `OAUTH_CLIENT_AUTH` is not set: what the
    /// provider's documentation uses. Glimesh reads `client_id`/`client_secret`
    /// from request parameters only, so HTTP Basic there is `invalid_client`.
    pub fn default_client_auth(self) -> ClientAuth {
        match self {
            Self::Glimesh => ClientAuth::Post,
            Self::Aps | Self::Oidc | Self::Generic => ClientAuth::Basic,
        }
    }

    pub fn endpoints(self) -> PresetEndpoints {
        let url = |s: &str| Url::parse(s).ok();
        match self {
            Self::Aps => PresetEndpoints {
                token_url: url("https://developer.api.autodesk.com/authentication/v2/token"),
                authorize_url: url("https://developer.api.autodesk.com/authentication/v2/authorize"),
                revocation_url: url("https://developer.api.autodesk.com/authentication/v2/revoke"),
                userinfo_url: url("https://api.userprofile.autodesk.com/userinfo"),
            },
            Self::Glimesh => PresetEndpoints {
                token_url: url("https://glimesh.tv/api/oauth/token"),
                authorize_url: url("https://glimesh.tv/oauth/authorize"),
                revocation_url: None,
                userinfo_url: None,
            },
            Self::Oidc | Self::Generic => PresetEndpoints::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Preset URLs are constants; a typo would only show against the real service.
    #[test]
    fn preset_urls_parse() {
        for preset in [Preset::Aps, Preset::Glimesh] {
            let e = preset.endpoints();
            assert!(e.token_url.is_some() && e.authorize_url.is_some(), "{preset:?}");
        }
        assert!(Preset::Aps.endpoints().revocation_url.is_some());
    }

    /// Each preset authenticates the way its provider documents.
    #[test]
    fn client_auth_follows_the_provider() {
        assert_eq!(Preset::Aps.default_client_auth(), ClientAuth::Basic);
        assert_eq!(Preset::Glimesh.default_client_auth(), ClientAuth::Post);
    }
}
