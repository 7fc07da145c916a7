//! The browser-token profiles: the default one (`OAUTH_SCOPE`) and the named
//! `[profiles.NAME]` tables of the file (each with its grant, see `grant`), and
//! scope syntax (RFC 6749 §3.3).

use std::collections::BTreeMap;

use super::cli::CONFIG_FILE_VAR;
use super::file::FileProfile;
use super::grant::{default_grant, profile_grant};
use super::settings::Settings;
use super::validate::Validator;
use crate::app::Profile;
use crate::provider::Preset;
use crate::token_cache::DEFAULT_PROFILE;

pub(super) fn parse(
    s: &Settings,
    named: &BTreeMap<String, FileProfile>,
    preset: Preset,
    dev: bool,
    v: &mut Validator,
) -> Option<BTreeMap<String, Profile>> {
    let default_scope = if dev { "viewables:read" } else { preset.default_scope() };
    let scopes = v.parse_or(&s.scope, default_scope, parse_scope);
    let grant = default_grant(s, preset, dev, v);
    let mut profiles = BTreeMap::new();
    profiles.insert(
        DEFAULT_PROFILE.to_owned(),
        Profile { name: DEFAULT_PROFILE.to_owned(), scopes: scopes?, grant: grant? },
    );
    let mut ok = true;
    for (name, profile) in named {
        if name == DEFAULT_PROFILE {
            v.problem(CONFIG_FILE_VAR, "[profiles.default] is reserved; set OAUTH_SCOPE or [oauth].scope instead");
            ok = false;
            continue;
        }
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            v.problem(CONFIG_FILE_VAR, format!("profile name `{name}` must be 1-64 of [A-Za-z0-9_-]"));
            ok = false;
            continue;
        }
        let grant = profile_grant(name, profile, s, preset, dev, v);
        match (parse_scope(&profile.scope), grant) {
            (Ok(scopes), Some(grant)) => {
                profiles.insert(name.clone(), Profile { name: name.clone(), scopes, grant });
            }
            (Err(message), _) => {
                v.problem(CONFIG_FILE_VAR, format!("[profiles.{name}].scope: {message}"));
                ok = false;
            }
            (Ok(_), None) => ok = false,
        }
    }
    ok.then_some(profiles)
}

/// Splits a space-separated scope, checking each token against RFC 6749 §3.3.
pub(super) fn parse_scope(raw: &str) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for token in raw.split_whitespace() {
        if !token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)) {
            return Err(format!("`{token}` has characters a scope cannot contain"));
        }
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::FileConfig;
    use crate::config::validate::tests::cli;

    /// Scope tokens are validated and de-duplicated.
    #[test]
    fn scope_parsing() {
        assert_eq!(
            parse_scope(" data:read  data:read viewables:read "),
            Ok(vec!["data:read".into(), "viewables:read".into()])
        );
        assert!(parse_scope("bad\"scope").is_err());
        assert_eq!(parse_scope(""), Ok(vec![]));
    }

    /// TOML profiles add named token kinds; unknown keys are refused.
    #[test]
    fn toml_profiles_and_unknown_keys() {
        let file: FileConfig = toml::from_str("[profiles.data]\nscope = \"data:read\"\n").expect("valid toml");
        let settings = Settings::merge(cli(&["--dev"]).settings, file.values);
        let mut v = Validator::default();
        let profiles = parse(&settings, &file.profiles, Preset::Aps, true, &mut v).expect("profiles");
        assert_eq!(profiles["data"].scopes, ["data:read"]);
        assert!(toml::from_str::<FileConfig>("bind_adr = \"x\"").is_err());
    }
}
