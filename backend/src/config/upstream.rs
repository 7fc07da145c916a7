//! Where tokens come from: the provider preset and its endpoints, our client
//! credentials, the limits on upstream requests, or the `--dev` server.

use std::sync::Arc;

use oauth2::{ClientId, ClientSecret};
use secrecy::ExposeSecret;

use super::kinds::Text;
use super::setting::Setting;
use super::settings::Settings;
use super::validate::Validator;
use crate::app::Upstream;
use crate::provider::{
    ClientAuth, ClientCredentials, ClientProof, EndpointOverrides, Preset, ProofFile, ProofFileKind, ProviderSpec,
    SigningKey, parse_endpoint_url,
};
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
    // Without a valid method (no preset, a bad OAUTH_CLIENT_AUTH), the credentials
    // are still checked as for a secret, so every problem shows in one run.
    let proof = match auth.unwrap_or(ClientAuth::Basic) {
        ClientAuth::Basic => client_secret(s, v).map(ClientProof::Basic),
        ClientAuth::Post => client_secret(s, v).map(ClientProof::Post),
        ClientAuth::PrivateKeyJwt => client_key(s, v).map(ClientProof::PrivateKeyJwt),
    };
    if auth != Some(ClientAuth::PrivateKeyJwt) {
        if v.value(&s.client_key_id).is_some() {
            v.problem_with(&s.client_key_id, "is only used with OAUTH_CLIENT_AUTH=private_key_jwt");
        }
        if v.value(&s.client_key_file).is_some() {
            v.problem_with(&s.client_key_file, "is only used with OAUTH_CLIENT_AUTH=private_key_jwt");
        }
    }
    let file = proof_file(s, auth, v);
    Some(Upstream::Remote { provider: provider?, client: ClientCredentials { id: id?, proof: auth.and(proof)?, file } })
}

/// The file the client's credential comes from, watched for rotation.
fn proof_file(s: &Settings, auth: Option<ClientAuth>, v: &mut Validator) -> Option<Arc<ProofFile>> {
    let (path, kind) = match auth? {
        ClientAuth::Basic => (v.value(&s.client_secret_file)?, ProofFileKind::Basic),
        ClientAuth::Post => (v.value(&s.client_secret_file)?, ProofFileKind::Post),
        ClientAuth::PrivateKeyJwt => {
            (v.value(&s.client_key_file)?, ProofFileKind::Key { kid: v.value(&s.client_key_id)?.trim().to_owned() })
        }
    };
    Some(Arc::new(ProofFile::new(&path, kind)))
}

/// `private_key_jwt`: the key in `OAUTH_CLIENT_KEY_FILE` with its `OAUTH_CLIENT_KEY_ID`.
/// A shared secret set as well is refused: it would never be used.
fn client_key(s: &Settings, v: &mut Validator) -> Option<SigningKey> {
    if v.value(&s.client_secret).is_some() || v.value(&s.client_secret_file).is_some() {
        v.problem(s.client_secret.var, "not used with OAUTH_CLIENT_AUTH=private_key_jwt; unset it");
    }
    let file = v.value(&s.client_key_file);
    if file.is_none() {
        v.problem(s.client_key_file.var, "missing: private_key_jwt needs the PEM private key that signs assertions");
    }
    let kid = v.value(&s.client_key_id);
    if kid.as_deref().is_none_or(|kid| kid.trim().is_empty()) {
        v.problem(s.client_key_id.var, "missing: private_key_jwt needs the key id (`kid`) registered for the key");
    }
    let key = SigningKey::from_file(&file?, &kid?);
    v.check_setting(&s.client_key_file, key)
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
