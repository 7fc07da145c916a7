//! The token source of the in-process examples (`layer_cost`, `proxy_allocs`):
//! one fixed, long-lived token, so every request is a cache hit and the
//! figures measure the route, not an exchange. Included with `#[path]`; cargo
//! does not build this directory as an example.

use std::time::Duration;

use futures_util::future::BoxFuture;
use oauth2::AccessToken;
use token_backend::ExchangeError;
use token_backend::exchange::IssuedToken;
use token_backend::token_cache::TokenSource;

pub const ACCESS_TOKEN: &str = "abcdefghijklmnopqrstuvwxyzabcdef";

#[derive(Debug)]
pub struct FixedToken;

impl TokenSource for FixedToken {
    fn fetch<'a>(&'a self, _scopes: &'a [String]) -> BoxFuture<'a, Result<IssuedToken, ExchangeError>> {
        Box::pin(async {
            Ok(IssuedToken {
                access_token: AccessToken::new(ACCESS_TOKEN.to_owned()),
                expires_in: Duration::from_secs(3600),
                refresh_token: None,
                id_token: None,
            })
        })
    }
}
