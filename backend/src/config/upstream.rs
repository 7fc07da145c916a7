//! Where tokens come from: the provider preset and its endpoints, our client
//! credentials, the limits on upstream requests, or the `--dev` server.

use oauth2::{ClientId, ClientSecret};
use secrecy::ExposeSecret;

use super::kinds::Text;
use super::setting::Setting;
use super::settings::Settings;
use super::validate::Validator;
use crate::app::Upstream;
use crate::provider::{ClientAuth, ClientCredentials, EndpointOverrides, Preset, ProviderSpec, parse_endpoint_url};
use crate::transport::UpstreamHttp;

/// The limits on every request to the authorization server.
pub(super) fn http(s: &Settings, v: &mut Validator) -> Option<UpstreamHttp> {
    let timeout = v.seconds(&s.upstream_timeout_secs);
    let connect_timeout = v.seconds(&s.upstream_connect_timeout_secs);
    Some(UpstreamHttp { timeout: timeout?, connect_timeout: connect_timeout?, max_body_bytes: 64 * 1024 })
}

/// The embedded development authorization server (`--dev`).
pub(super) fn dev(s: &Settings, v: &mut Validator) -> Option<Upstream> {
    Some(Upstream::Dev { token_ttl: v.seconds(&s.dev_token_ttl_secs)? })
}

/// A real authorization server: the preset with any endpoint overrides, and
/// our credentials there.
/// A bad provider name or endpoint URL is reported once: it does not also
/// count as missing.
pub(super) fn remote(s: &Settings, preset: Option<Preset>, v: &mut Validator) -> Option<Upstream> {
    // `Err` for a bad URL (reported), `Ok(None)` for none.
    let mut url = |setting: &Setting<Text>| match v.value(setting) {
        Some(raw) => v.check_setting(setting, parse_endpoint_url(&raw)).map(Some).ok_or(()),
        None => Ok(None),
    };
    let (token_url, issuer) = (url(&s.token_url), url(&s.issuer));
    let (authorize_url, revocation_url, userinfo_url) =
        (url(&s.authorize_url), url(&s.revoke_url), url(&s.userinfo_url));
    let provider = match preset {
        None if !s.provider.is_set() => {
            let names = Preset::ALL.map(Preset::as_str).join(", ");
            v.problem(s.provider.var, format!("missing: set one of {names} (or run with --dev)"));
            None
        }
        None => None,
        Some(preset) => match (token_url, issuer, authorize_url, revocation_url, userinfo_url) {
            (Ok(token_url), Ok(issuer), Ok(authorize_url), Ok(revocation_url), Ok(userinfo_url)) => {
                let overrides = EndpointOverrides { token_url, authorize_url, revocation_url, userinfo_url };
                v.check_setting(&s.provider, ProviderSpec::new(preset, issuer, overrides))
            }
            _ => None,
        },
    };
    let auth = match v.value(&s.client_auth) {
        Some(raw) => v.check_setting(&s.client_auth, ClientAuth::parse(&raw)),
        None => preset.map(Preset::default_client_auth),
    };
    let id = match v.value(&s.client_id).as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => Some(ClientId::new(id.to_owned())),
        _ => {
            v.problem(s.client_id.var, "missing (required unless --dev)");
            None
        }
    };
    let secret = client_secret(s, v);
    Some(Upstream::Remote { provider: provider?, client: ClientCredentials { id: id?, secret: secret?, auth: auth? } })
}

/// `OAUTH_CLIENT_SECRET` or the file `OAUTH_CLIENT_SECRET_FILE` names, never both.
fn client_secret(s: &Settings, v: &mut Validator) -> Option<ClientSecret> {
    let secret = match (v.value(&s.client_secret), v.value(&s.client_secret_file)) {
        (Some(_), Some(_)) => {
            v.problem(s.client_secret.var, "set either OAUTH_CLIENT_SECRET or OAUTH_CLIENT_SECRET_FILE, not both");
            return None;
        }
        (Some(secret), None) => secret.expose_secret().trim().to_owned(),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().to_owned(),
            Err(e) => {
                v.problem_with(&s.client_secret_file, format!("cannot read {}: {}", path.display(), e.kind()));
                return None;
            }
        },
        (None, None) => {
            v.problem(
                s.client_secret.var,
                "missing: set OAUTH_CLIENT_SECRET or OAUTH_CLIENT_SECRET_FILE (or run with --dev)",
            );
            return None;
        }
    };
    if secret.is_empty() {
        v.problem_with(&s.client_secret, "is empty");
        return None;
    }
    Some(ClientSecret::new(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The secret must not travel in clear text to a remote host.
    #[test]
    fn plain_http_upstream_only_on_loopback() {
        assert!(parse_endpoint_url("http://127.0.0.1:9000/token").is_ok());
        assert!(parse_endpoint_url("http://localhost/token").is_ok());
        assert!(parse_endpoint_url("http://auth.example.com/token").is_err());
        assert!(parse_endpoint_url("ftp://auth.example.com/token").is_err());
    }
}
