//! Where a cache gets a fresh token. Today the upstream directly; a shared store
//! (Redis, for several replicas) can stand in front of it without the cache changing.

use std::fmt::Debug;

use futures_util::future::BoxFuture;

use crate::exchange::{Exchange, ExchangeError, IssuedToken};

/// Produces a fresh token for a set of scopes.
pub trait TokenSource: Send + Sync + Debug + 'static {
    fn fetch<'a>(&'a self, scopes: &'a [String]) -> BoxFuture<'a, Result<IssuedToken, ExchangeError>>;
}

impl TokenSource for Exchange {
    fn fetch<'a>(&'a self, scopes: &'a [String]) -> BoxFuture<'a, Result<IssuedToken, ExchangeError>> {
        Box::pin(self.client_credentials(scopes))
    }
}
