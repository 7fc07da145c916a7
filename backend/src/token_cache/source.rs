//! Where a cache gets a fresh token. Today the upstream directly; a shared store
//! (Redis, for several replicas) can stand in front of it without the cache changing.

use std::fmt::Debug;

use futures_util::future::BoxFuture;

use crate::exchange::{Exchange, ExchangeError, IssuedToken, JwtBearer};

/// Produces a fresh token for a set of scopes.
pub trait TokenSource: Send + Sync + Debug + 'static {
    fn fetch<'a>(&'a self, scopes: &'a [String]) -> BoxFuture<'a, Result<IssuedToken, ExchangeError>>;
}

impl TokenSource for Exchange {
    fn fetch<'a>(&'a self, scopes: &'a [String]) -> BoxFuture<'a, Result<IssuedToken, ExchangeError>> {
        Box::pin(self.client_credentials(scopes))
    }
}

/// A profile whose tokens come from the JWT bearer grant: each fetch signs a
/// new assertion, so a refresh ahead of expiry never reuses one.
#[derive(Debug)]
pub struct JwtBearerSource {
    pub exchange: Exchange,
    pub grant: JwtBearer,
}

impl TokenSource for JwtBearerSource {
    fn fetch<'a>(&'a self, scopes: &'a [String]) -> BoxFuture<'a, Result<IssuedToken, ExchangeError>> {
        Box::pin(self.exchange.jwt_bearer(&self.grant, scopes))
    }
}
