//! CORS for the token and user routes: `ALLOWED_ORIGINS` and `CORS_ALLOW_CREDENTIALS`.

use url::Url;

use super::settings::Settings;
use super::validate::Validator;
use crate::app::Cors;

pub(super) fn parse(s: &Settings, v: &mut Validator) -> Option<Cors> {
    let credentials = v.value_or_default(&s.cors_allow_credentials)?;
    let entries: Vec<String> =
        v.value(&s.allowed_origins).unwrap_or_default().iter().map(|e| e.trim().to_owned()).collect();
    if entries.is_empty() {
        return Some(Cors::SameOrigin);
    }
    if entries.iter().any(|e| e == "*") {
        if entries.len() > 1 {
            v.problem_with(&s.allowed_origins, "`*` cannot be combined with other origins");
            return None;
        }
        if credentials {
            v.problem_with(
                &s.allowed_origins,
                "`*` cannot be used with CORS_ALLOW_CREDENTIALS=true; list the origins instead",
            );
            return None;
        }
        return Some(Cors::AnyOrigin);
    }
    let origins: Result<Vec<String>, String> = entries.iter().map(|e| parse_origin(e)).collect();
    let origins = v.check_setting(&s.allowed_origins, origins)?;
    Some(Cors::Origins { origins, allow_credentials: credentials })
}

/// Normalises `https://Example.com:443/` to `https://example.com`, the form browsers send.
fn parse_origin(raw: &str) -> Result<String, String> {
    let url = Url::parse(raw).map_err(|e| format!("`{raw}` is not an origin: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("`{raw}` is not an http(s) origin"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!("`{raw}` must be an origin only (scheme://host[:port]), without a path"));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Config;
    use crate::config::validate::tests::{cli, problems};

    /// A wildcard with credentials would make tower-http panic; it is a start-up error instead.
    #[test]
    fn wildcard_origin_with_credentials_is_rejected() {
        let p = problems(Config::from_cli(cli(&[
            "--dev",
            "--public-dir",
            ".",
            "--allowed-origins",
            "*",
            "--cors-allow-credentials",
            "true",
        ])));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].var, "ALLOWED_ORIGINS");
    }

    /// Origins are normalised to what browsers send, and paths are refused.
    #[test]
    fn origins_are_normalised_and_checked() {
        assert_eq!(parse_origin("https://App.Example.com:443/").as_deref(), Ok("https://app.example.com"));
        assert_eq!(parse_origin("http://localhost:5173").as_deref(), Ok("http://localhost:5173"));
        assert!(parse_origin("https://example.com/app").is_err());
        assert!(parse_origin("example.com").is_err());
    }
}
