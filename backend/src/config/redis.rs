//! The shared Redis of a multi-replica deployment: `REDIS_URL` and `REDIS_KEY_PREFIX`.

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::settings::Settings;
use super::validate::Validator;
use crate::cluster::RedisSettings;

/// `REDIS_URL`: `redis://` or `rediss://` (TLS). Errors never repeat the URL,
/// which may carry a password.
pub(super) fn parse(s: &Settings, v: &mut Validator) -> Option<RedisSettings> {
    let url = v.value(&s.redis_url)?;
    let parsed = Url::parse(url.expose_secret().trim());
    match parsed.as_ref().map(|u| (u.scheme(), u.host_str().is_some())) {
        Ok(("redis" | "rediss", true)) => {}
        Ok(_) => {
            v.problem_with(&s.redis_url, "must be a redis:// or rediss:// URL with a host");
            return None;
        }
        Err(e) => {
            v.problem_with(&s.redis_url, format!("is not a URL ({e})"));
            return None;
        }
    }
    let key_prefix = v.value_or_default(&s.redis_key_prefix)?;
    Some(RedisSettings { url: SecretString::from(url.expose_secret().trim().to_owned()), key_prefix })
}

#[cfg(test)]
mod tests {
    use crate::app::Config;
    use crate::config::validate::tests::{cli, problems};

    /// A Redis password in `REDIS_URL` is neither printed by `Debug` nor in errors.
    #[test]
    fn redis_url_is_secret() {
        let config =
            Config::from_cli(cli(&["--dev", "--public-dir", ".", "--redis-url", "redis://:pa55word@127.0.0.1:6379/0"]))
                .expect("valid config");
        assert!(!format!("{config:?}").contains("pa55word"));
        let p = problems(Config::from_cli(cli(&["--dev", "--public-dir", ".", "--redis-url", "http://:pa55word@x/"])));
        assert_eq!(p.len(), 1);
        assert!(!p[0].message.contains("pa55word"));
    }
}
