//! The process's descriptor limit (`RLIMIT_NOFILE`) and how the broker shares
//! it out: client connections, the API proxy's upstream connections, and fixed
//! reserves for everything else. A leaf: it imports nothing of ours.
//!
//! Every client connection is a descriptor, and a proxied request needs a second
//! one for its upstream connection. With the limit split up front, the client
//! connection cap (`MAX_CONNECTIONS`) and the proxy's bound together stay under
//! it, so the broker answers `503` with `Retry-After` when busy instead of
//! failing with "Too many open files".

use std::io;

/// The process itself: stdio, the listener, epoll and tokio's wakers, the signal
/// pipe, the log, and in `--dev` the embedded servers' listeners.
const PROCESS: u64 = 32;
/// The authorization server's client (token grants, discovery, userinfo,
/// revocation): its pool keeps a few connections; concurrent user refreshes add some.
const TOKEN_CLIENT: u64 = 32;
/// The Redis connections of a replica (one multiplexed connection and its reconnects).
const REDIS: u64 = 8;
/// Files of `PUBLIC_DIR` being sent at once.
const STATIC_FILES: u64 = 64;
/// Client connections at most when derived: about 12 KiB each while idle, so the
/// cap keeps a slowloris within ~50 MiB even where the limit is 1,048,576, as in
/// many containers (where a cap derived from the limit alone has exhausted memory).
pub const CONNECTIONS_CEILING: usize = 4096;
/// Fewer connections than this cannot serve a page and its assets.
const MIN_CONNECTIONS: usize = 16;
/// The least the proxy gets when it is used at all.
const MIN_PROXY_CONNECTIONS: usize = 8;
/// What is assumed when the limit cannot be read (a common `ulimit -n`).
const FALLBACK_LIMIT: u64 = 1024;

/// The soft limit after [`raise_soft_limit`], and what it was before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub from: u64,
    pub to: u64,
}

/// Raises the soft descriptor limit to the hard limit, as Go's runtime does at
/// start-up and systemd recommends for programs that need many descriptors and
/// do not use `select()` (tokio uses epoll). Returns the soft limit before and after.
pub fn raise_soft_limit() -> io::Result<Raised> {
    let from = soft_limit()?;
    #[cfg(unix)]
    let to = rlimit::increase_nofile_limit(u64::MAX)?;
    #[cfg(not(unix))]
    let to = from;
    Ok(Raised { from, to })
}

/// The current soft descriptor limit.
pub fn soft_limit() -> io::Result<u64> {
    #[cfg(unix)]
    return rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _hard)| soft);
    #[cfg(not(unix))]
    Ok(FALLBACK_LIMIT)
}

/// Whether `e` means the process (`EMFILE`) or the system (`ENFILE`) is out of
/// descriptors. std has no `ErrorKind` for either; the numbers are the same on
/// Linux, the BSDs and macOS.
pub fn is_exhausted(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Whether anything in `e`'s chain of sources is [`is_exhausted`]: a client
/// library wraps the `io::Error` of a failed connect.
pub fn caused_by_exhaustion(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.downcast_ref::<io::Error>().is_some_and(is_exhausted) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// What the budget is planned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    /// `MAX_CONNECTIONS` when set; `None` derives it from the limit.
    pub max_connections: Option<usize>,
    /// Whether the proxy has any API, so it needs a share.
    pub has_proxy: bool,
    /// `--dev`: the authorization server and the demo's API run in this process,
    /// so each connection to them costs two descriptors, one for each end.
    pub is_in_process_upstream: bool,
}

/// The limit, shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptorBudget {
    /// The soft `RLIMIT_NOFILE` planned for.
    pub limit: u64,
    /// For the process, the token client, Redis and static files, plus a margin
    /// for short-lived sockets (DNS lookups, connects that finish after their
    /// request was served from the pool).
    pub reserved: u64,
    /// Client connections open at once (`MAX_CONNECTIONS`).
    pub connections: usize,
    /// Whether [`Self::connections`] was derived (`MAX_CONNECTIONS` unset).
    pub is_derived: bool,
    /// Upstream connections the proxy may hold, idle ones included; 0 without APIs.
    pub proxy_connections: usize,
    /// Whether the shares exceed the limit: it is below what the broker needs,
    /// or `MAX_CONNECTIONS` leaves too little. The broker still runs, and warns.
    pub is_overcommitted: bool,
}

impl DescriptorBudget {
    /// The budget for `demand` within the current soft limit.
    pub fn current(demand: Demand) -> Self {
        Self::plan(soft_limit().unwrap_or(FALLBACK_LIMIT), demand)
    }

    /// Fixed reserves and a 1/16 margin come off the top; the rest is shared so
    /// that every client connection could be proxying at once (one descriptor
    /// each side), up to [`CONNECTIONS_CEILING`] each. An explicit
    /// `MAX_CONNECTIONS` is kept, and the proxy gets what it leaves.
    pub fn plan(limit: u64, demand: Demand) -> Self {
        let cost: u64 = if demand.is_in_process_upstream { 2 } else { 1 };
        let reserved = PROCESS + TOKEN_CLIENT * cost + REDIS + STATIC_FILES + (limit / 16).max(16);
        let available = limit.saturating_sub(reserved);
        let proxy_cost = if demand.has_proxy { cost } else { 0 };
        let connections = match demand.max_connections {
            Some(n) => n,
            None => to_usize(available / (1 + proxy_cost)).clamp(MIN_CONNECTIONS, CONNECTIONS_CEILING),
        };
        let proxy_connections = if demand.has_proxy {
            let left = available.saturating_sub(connections as u64) / cost;
            to_usize(left).clamp(MIN_PROXY_CONNECTIONS, CONNECTIONS_CEILING)
        } else {
            0
        };
        let needed = connections as u64 + proxy_connections as u64 * cost;
        Self {
            limit,
            reserved,
            connections,
            is_derived: demand.max_connections.is_none(),
            proxy_connections,
            is_overcommitted: needed > available,
        }
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROXY: Demand = Demand { max_connections: None, has_proxy: true, is_in_process_upstream: false };
    const NO_PROXY: Demand = Demand { has_proxy: false, ..PROXY };

    /// Everything planned fits under the limit, for every limit a deployment meets.
    #[test]
    fn shares_fit_under_the_limit() {
        for limit in [256, 1024, 4096, 20_000, 65_536, 1_048_576] {
            for demand in [PROXY, NO_PROXY, Demand { is_in_process_upstream: true, ..PROXY }] {
                let budget = DescriptorBudget::plan(limit, demand);
                let cost = if demand.is_in_process_upstream { 2 } else { 1 };
                let used = budget.reserved + budget.connections as u64 + budget.proxy_connections as u64 * cost;
                assert!(used <= limit && !budget.is_overcommitted, "{limit} {demand:?}: {budget:?}");
            }
        }
    }

    /// `ulimit -n 1024` with the proxy: half of what is left for each side.
    #[test]
    fn a_common_limit_is_shared_between_clients_and_the_proxy() {
        let budget = DescriptorBudget::plan(1024, PROXY);
        assert_eq!((budget.reserved, budget.connections, budget.proxy_connections), (200, 412, 412));
        let alone = DescriptorBudget::plan(1024, NO_PROXY);
        assert_eq!((alone.connections, alone.proxy_connections), (824, 0), "without APIs the clients get it all");
    }

    /// A large limit no longer means 512 connections, nor unbounded memory.
    #[test]
    fn large_limits_reach_the_ceiling() {
        let budget = DescriptorBudget::plan(20_000, PROXY);
        assert_eq!((budget.connections, budget.proxy_connections), (CONNECTIONS_CEILING, CONNECTIONS_CEILING));
    }

    /// An explicit `MAX_CONNECTIONS` is kept; too large a one is flagged, not refused.
    #[test]
    fn an_explicit_cap_is_kept_and_checked() {
        let fits = DescriptorBudget::plan(1024, Demand { max_connections: Some(300), ..PROXY });
        assert_eq!((fits.connections, fits.proxy_connections, fits.is_overcommitted), (300, 524, false));
        let over = DescriptorBudget::plan(1024, Demand { max_connections: Some(5000), ..PROXY });
        assert_eq!((over.connections, over.proxy_connections), (5000, MIN_PROXY_CONNECTIONS));
        assert!(over.is_overcommitted && !over.is_derived);
    }

    /// Below what the broker needs, it still gets its minimums, and says so.
    #[test]
    fn a_tiny_limit_is_flagged() {
        let budget = DescriptorBudget::plan(128, PROXY);
        assert_eq!((budget.connections, budget.proxy_connections), (MIN_CONNECTIONS, MIN_PROXY_CONNECTIONS));
        assert!(budget.is_overcommitted);
    }

    /// `EMFILE` is found however deep a client library wraps it.
    #[test]
    fn exhaustion_is_found_in_a_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("connect failed")]
        struct Wrapper(#[source] io::Error);
        assert!(caused_by_exhaustion(&Wrapper(io::Error::from_raw_os_error(24))));
        assert!(!caused_by_exhaustion(&Wrapper(io::Error::from(io::ErrorKind::ConnectionRefused))));
    }
}
