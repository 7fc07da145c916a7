//! How many upstream connections the proxy holds: a bound on requests in
//! flight, for all APIs together and for each, and on the idle pool per host,
//! so the proxy stays within its share of the descriptor limit.
//!
//! The bound is a pair of semaphores acquired before the upstream request and
//! held until the response body ends, so it does not depend on the HTTP
//! client's pool: a request that cannot get a place within the wait answers
//! `503` with `Retry-After`, never a connect failing with "Too many open files".

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Idle connections kept per upstream host at most: enough to reuse connections
/// under load, few enough that they do not eat the share of requests in flight.
const MAX_IDLE_PER_HOST: usize = 32;

/// The proxy's share of descriptors, split (built by `config` from the budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyCapacity {
    /// Upstream requests in flight, all APIs together.
    pub in_flight: usize,
    /// Upstream requests in flight for one API: all of them with one API, half
    /// with several, so one slow API cannot take every place from the others.
    pub per_api: usize,
    /// Idle connections the client keeps per host (scheme, host and port).
    pub idle_per_host: usize,
}

impl ProxyCapacity {
    /// `connections` upstream connections shared by `apis` APIs on `hosts`
    /// distinct hosts: a quarter at most for idle ones, the rest in flight.
    pub fn within(connections: usize, apis: usize, hosts: usize) -> Self {
        let hosts = hosts.max(1);
        let idle_per_host = (connections / (4 * hosts)).min(MAX_IDLE_PER_HOST);
        let in_flight = connections.saturating_sub(idle_per_host * hosts).max(1);
        let per_api = if apis > 1 { in_flight.div_ceil(2) } else { in_flight };
        Self { in_flight, per_api, idle_per_host }
    }
}

/// Places for upstream requests: the proxy's, and one set per API.
#[derive(Debug, Clone)]
pub(super) struct Places {
    total: Arc<Semaphore>,
    /// How long a request waits for a place before it is answered `503`.
    wait: Duration,
}

/// One API's places.
#[derive(Debug)]
pub(super) struct ApiPlaces(Arc<Semaphore>);

/// A request's place; given back when dropped (after the response body ends).
#[derive(Debug)]
pub(super) struct Place {
    _api: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

/// No place came free within the wait.
#[derive(Debug, Clone, Copy)]
pub(super) struct NoPlace;

impl Places {
    pub(super) fn new(capacity: ProxyCapacity, wait: Duration) -> Self {
        Self { total: Arc::new(Semaphore::new(capacity.in_flight)), wait }
    }

    pub(super) fn for_api(capacity: ProxyCapacity) -> ApiPlaces {
        ApiPlaces(Arc::new(Semaphore::new(capacity.per_api)))
    }

    /// A place for one request to `api`, waiting in line (first come, first
    /// served) at most `wait`; the API's place first, so requests to a saturated
    /// API never hold places the others could use.
    pub(super) async fn take(&self, api: &ApiPlaces) -> Result<Place, NoPlace> {
        // A free place is taken at once, without arming the wait's timer; a
        // semaphore hands released permits to its queue first, so this never
        // jumps the line.
        if let Ok(api) = Arc::clone(&api.0).try_acquire_owned() {
            match Arc::clone(&self.total).try_acquire_owned() {
                Ok(total) => return Ok(Place { _api: api, _total: total }),
                Err(_) => drop(api),
            }
        }
        let take = async {
            let api = Arc::clone(&api.0).acquire_owned().await.map_err(|_| NoPlace)?;
            let total = Arc::clone(&self.total).acquire_owned().await.map_err(|_| NoPlace)?;
            Ok(Place { _api: api, _total: total })
        };
        tokio::time::timeout(self.wait, take).await.unwrap_or(Err(NoPlace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One API gets every place; several get half each; idle connections take a
    /// quarter at most, and never more than the cap per host.
    #[test]
    fn the_share_is_split() {
        assert_eq!(ProxyCapacity::within(412, 1, 1), ProxyCapacity { in_flight: 380, per_api: 380, idle_per_host: 32 });
        assert_eq!(ProxyCapacity::within(100, 3, 2), ProxyCapacity { in_flight: 76, per_api: 38, idle_per_host: 12 });
        assert_eq!(ProxyCapacity::within(8, 20, 20), ProxyCapacity { in_flight: 8, per_api: 4, idle_per_host: 0 });
    }

    /// A request beyond the bound waits its turn, then is refused; a place given
    /// back lets the next one in.
    #[tokio::test(start_paused = true)]
    async fn requests_beyond_the_bound_wait_then_are_refused() {
        let capacity = ProxyCapacity { in_flight: 2, per_api: 1, idle_per_host: 0 };
        let places = Places::new(capacity, Duration::from_secs(5));
        let (a, b) = (Places::for_api(capacity), Places::for_api(capacity));
        let first = places.take(&a).await.expect("a place");
        let _other_api = places.take(&b).await.expect("the other API's place");
        assert!(places.take(&a).await.is_err(), "the API's one place is taken");
        let waiting = tokio::spawn({
            let places = places.clone();
            async move { places.take(&a).await.is_ok() }
        });
        tokio::task::yield_now().await;
        drop(first);
        assert!(waiting.await.expect("task"), "the place given back goes to the request in line");
    }
}
