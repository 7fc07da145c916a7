//! The grant a token profile uses: client credentials, or the JWT bearer grant
//! (RFC 7523 §2.1) with its subject and signing key, from `OAUTH_GRANT` and
//! `OAUTH_ASSERTION_*` for the default profile or `[profiles.NAME]` keys, which
//! fall back to those settings.

use std::path::PathBuf;
use std::sync::Arc;

use super::cli::CONFIG_FILE_VAR;
use super::file::FileProfile;
use super::settings::Settings;
use super::validate::Validator;
use crate::exchange::{AssertionStyle, Grant, JwtBearer};
use crate::provider::{AssertionKey, Preset, SigningKey};

/// One grant's raw settings, and how its problems are named.
struct GrantInput {
    grant: Option<String>,
    subject: Option<String>,
    key_file: Option<PathBuf>,
    key_id: Option<String>,
}

/// Which value a problem is about.
#[derive(Debug, Clone, Copy)]
enum Field {
    Grant,
    Subject,
    KeyFile,
    KeyId,
}

/// The default profile's grant.
pub(super) fn default_grant(s: &Settings, preset: Preset, dev: bool, v: &mut Validator) -> Option<Grant> {
    let input = GrantInput {
        grant: v.value_or_default(&s.grant),
        subject: v.value(&s.assertion_subject),
        key_file: v.value(&s.assertion_key_file),
        key_id: v.value(&s.assertion_key_id),
    };
    parse(input, preset, dev)
        .map_err(|problems| {
            for (field, message) in problems {
                match field {
                    Field::Grant => v.problem_with(&s.grant, message),
                    Field::Subject => v.problem_with(&s.assertion_subject, message),
                    Field::KeyFile => v.problem_with(&s.assertion_key_file, message),
                    Field::KeyId => v.problem_with(&s.assertion_key_id, message),
                }
            }
        })
        .ok()
}

/// A named profile's grant; unset assertion keys come from `OAUTH_ASSERTION_*`.
pub(super) fn profile_grant(
    name: &str,
    profile: &FileProfile,
    s: &Settings,
    preset: Preset,
    dev: bool,
    v: &mut Validator,
) -> Option<Grant> {
    let input = GrantInput {
        grant: profile.grant.clone(),
        subject: profile.assertion_subject.clone().or_else(|| v.value(&s.assertion_subject)),
        key_file: profile.assertion_key_file.clone().or_else(|| v.value(&s.assertion_key_file)),
        key_id: profile.assertion_key_id.clone().or_else(|| v.value(&s.assertion_key_id)),
    };
    parse(input, preset, dev)
        .map_err(|problems| {
            for (field, message) in problems {
                let key = match field {
                    Field::Grant => "grant",
                    Field::Subject => "assertion_subject",
                    Field::KeyFile => "assertion_key_file",
                    Field::KeyId => "assertion_key_id",
                };
                v.problem(CONFIG_FILE_VAR, format!("[profiles.{name}].{key}: {message}"));
            }
        })
        .ok()
}

fn parse(input: GrantInput, preset: Preset, dev: bool) -> Result<Grant, Vec<(Field, String)>> {
    match input.grant.as_deref().map(str::trim) {
        None | Some("client-credentials") => return Ok(Grant::ClientCredentials),
        Some("jwt-bearer") if dev => {
            return Err(vec![(Field::Grant, "jwt-bearer needs a real provider, not --dev".into())]);
        }
        Some("jwt-bearer") => {}
        Some(other) => {
            return Err(vec![(Field::Grant, format!("`{other}` is not one of: client-credentials, jwt-bearer"))]);
        }
    }
    let mut problems = Vec::new();
    let subject = input.subject.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if subject.is_none() {
        problems.push((Field::Subject, "missing: jwt-bearer needs the assertion's subject".to_owned()));
    }
    let key_id = input.key_id.filter(|k| !k.trim().is_empty());
    if key_id.is_none() {
        problems.push((Field::KeyId, "missing: jwt-bearer needs the key id (`kid`) of the key".to_owned()));
    }
    let key = match (&input.key_file, &key_id) {
        (None, _) => {
            problems.push((Field::KeyFile, "missing: jwt-bearer needs the PEM private key that signs".to_owned()));
            None
        }
        (Some(file), Some(kid)) => match SigningKey::from_file(file, kid) {
            Ok(key) => Some(key),
            Err(message) => {
                problems.push((Field::KeyFile, message));
                None
            }
        },
        (Some(_), None) => None,
    };
    let style = if preset == Preset::Aps { AssertionStyle::Aps } else { AssertionStyle::Standard };
    let is_rsa = key.as_ref().is_none_or(|key| key.algorithm() == jsonwebtoken::Algorithm::RS256);
    if style == AssertionStyle::Aps && !is_rsa {
        problems.push((Field::KeyFile, "APS signs SSA assertions with RS256: give the SSA's RSA key".to_owned()));
    }
    match (subject, key) {
        (Some(subject), Some(key)) if problems.is_empty() => {
            Ok(Grant::JwtBearer(JwtBearer { subject, key: Arc::new(AssertionKey::new(key)), style }))
        }
        _ => Err(problems),
    }
}
