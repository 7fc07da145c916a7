//! The in-memory token cache and the shared in-flight request (single-flight),
//! judged against an injectable wall clock so expiry is testable on the host.
//!
//! This module is plain Rust: it knows nothing about promises or fetch. The
//! client stores a JS string plus a resolved `Promise` as `T` and the in-flight
//! `Promise` as `F`; the unit tests below use `&'static str` and integers.

/// Milliseconds since the Unix epoch, like `Date.now()`.
///
/// Wall-clock time on purpose: after a laptop sleeps, monotonic timers in the
/// browser stall but a token's expiry does not, so expiry must be judged by the
/// wall clock.
pub trait Clock {
    /// The current time in epoch milliseconds.
    fn now_ms(&self) -> f64;
}

/// The real clock: `Date.now()` in the browser, `SystemTime` on the host.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock;

impl Clock for WallClock {
    #[cfg(target_arch = "wasm32")]
    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn now_ms(&self) -> f64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// A token and the wall-clock instant it stops being valid.
#[derive(Debug, Clone)]
pub struct CachedToken<T> {
    /// The token (whatever representation the caller chose).
    pub value: T,
    /// Epoch ms at which the server says the token expires.
    pub expires_at: f64,
    /// The leeway applied to this token: the configured one, or half the
    /// token's life when it arrived with no more life than the leeway (see
    /// [`TokenCache::finish_ok`]).
    pub leeway_ms: f64,
}

/// What a caller should do, decided in one place.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<T, F> {
    /// A token that is valid for longer than the leeway.
    Hit(T),
    /// No usable token, but a request is already on its way: wait for it.
    Join(F),
    /// No usable token and nothing in flight: start a request.
    Miss,
}

/// Proof that a caller started the current request. A request started before
/// [`TokenCache::clear`] carries an older generation and may not store its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// The token cache of one client.
#[derive(Debug)]
pub struct TokenCache<T, F, C> {
    clock: C,
    /// A token is reused only while `expires_at - leeway_ms` is in the future,
    /// so a caller never receives a token that expires mid-request.
    leeway_ms: f64,
    token: Option<CachedToken<T>>,
    /// The shared in-flight request: every caller that misses while it exists
    /// joins it instead of starting another (single-flight).
    flight: Option<F>,
    /// Bumped by `clear()` so a request that was in flight then cannot
    /// resurrect a token the application asked to forget.
    generation: u64,
    /// Requests started (one per flight; retries inside a flight not counted).
    pub fetches: u32,
    /// Calls answered from the cache.
    pub cache_hits: u32,
    /// Tokens stored so far (fetched or received): a request that waited for
    /// its turn compares it to see whether a token arrived meanwhile.
    pub stored: u64,
}

impl<T: Clone, F: Clone, C: Clock> TokenCache<T, F, C> {
    /// An empty cache.
    pub fn new(clock: C, leeway_ms: f64) -> Self {
        Self { clock, leeway_ms, token: None, flight: None, generation: 0, fetches: 0, cache_hits: 0, stored: 0 }
    }

    /// The cache's notion of "now", in epoch ms.
    pub fn now(&self) -> f64 {
        self.clock.now_ms()
    }

    /// The cached token, whether or not it is still fresh.
    pub fn token(&self) -> Option<&CachedToken<T>> {
        self.token.as_ref()
    }

    /// Epoch ms until which the cached token may be handed out (`expires_at - leeway`).
    pub fn fresh_until(&self) -> Option<f64> {
        self.token.as_ref().map(|t| t.expires_at - t.leeway_ms)
    }

    /// Whether the cached token may be handed out now.
    pub fn is_fresh(&self) -> bool {
        self.fresh_until().is_some_and(|until| until > self.now())
    }

    /// Whether a request is in flight.
    pub fn is_refreshing(&self) -> bool {
        self.flight.is_some()
    }

    /// Decide how to answer a caller, counting a cache hit when there is one.
    pub fn lookup(&mut self) -> Lookup<T, F> {
        self.lookup_lasting(0.0)
    }

    /// [`Self::lookup`] for a caller that needs the token to stay usable for
    /// at least `min_left_ms`: a fresh token with less time left counts as
    /// used up, so the caller joins or starts a request. The viewer callback
    /// asks for a second, because it is told whole seconds and would be told
    /// 0 otherwise (and the Viewer renews at once on 0, in a loop).
    pub fn lookup_lasting(&mut self, min_left_ms: f64) -> Lookup<T, F> {
        let now = self.now();
        if self.fresh_until().is_some_and(|until| until > now && until - now >= min_left_ms) {
            if let Some(token) = &self.token {
                self.cache_hits = self.cache_hits.saturating_add(1);
                return Lookup::Hit(token.value.clone());
            }
        }
        match &self.flight {
            Some(flight) => Lookup::Join(flight.clone()),
            None => Lookup::Miss,
        }
    }

    /// Reserve the flight slot before the request is created. Follow with
    /// [`Self::attach`] once the request handle exists.
    pub fn begin(&mut self) -> Ticket {
        self.fetches = self.fetches.saturating_add(1);
        Ticket(self.generation)
    }

    /// Publish the in-flight request so later callers join it.
    pub fn attach(&mut self, ticket: Ticket, flight: F) {
        if ticket.0 == self.generation {
            self.flight = Some(flight);
        }
    }

    /// Store the outcome of a successful request. `expires_in_s` is taken
    /// relative to now, the moment the response arrived. Returns whether the
    /// token was stored (false if `clear()` happened meanwhile).
    ///
    /// A token whose remaining life is no more than the leeway gets an
    /// effective leeway of half its life instead: a 45 s token with a 60 s
    /// leeway is reused for 22.5 s. Treating it as already stale would make
    /// every caller (and the viewer, told `expiresInSeconds = 0`) ask again at
    /// once, a tight loop against a backend that keeps serving that token.
    pub fn finish_ok(&mut self, ticket: Ticket, value: T, expires_in_s: f64) -> bool {
        if ticket.0 != self.generation {
            return false;
        }
        let expires_at = self.now() + expires_in_s * 1000.0;
        self.store(value, expires_at);
        self.flight = None;
        true
    }

    /// Store a token another tab fetched, if it outlives the one held: it
    /// obeys the same leeway rule as one fetched here (its remaining life is
    /// judged now, on arrival). A request in flight here is left alone; it
    /// finds this token when it gets its turn (see [`Self::finish_adopted`]).
    /// Returns whether the token was stored.
    pub fn receive(&mut self, value: T, expires_at: f64) -> bool {
        // Written so NaN is refused too.
        let is_live = expires_at > self.now();
        if !is_live || self.token.as_ref().is_some_and(|t| t.expires_at >= expires_at) {
            return false;
        }
        self.store(value, expires_at);
        true
    }

    /// Expiry of the held token, whether fresh or not.
    pub fn expires_at(&self) -> Option<f64> {
        self.token.as_ref().map(|t| t.expires_at)
    }

    /// End a request that made no request after all, because another tab's
    /// token arrived while it waited: it is not counted in `fetches`.
    pub fn finish_adopted(&mut self, ticket: Ticket) -> bool {
        if ticket.0 != self.generation {
            return false;
        }
        self.fetches = self.fetches.saturating_sub(1);
        self.flight = None;
        true
    }

    /// Keep `value` until `expires_at`, with the leeway rule of [`Self::finish_ok`].
    fn store(&mut self, value: T, expires_at: f64) {
        let life_ms = expires_at - self.now();
        let leeway_ms = if life_ms <= self.leeway_ms { life_ms / 2.0 } else { self.leeway_ms };
        self.token = Some(CachedToken { value, expires_at, leeway_ms });
        self.stored = self.stored.wrapping_add(1);
    }

    /// Forget a failed request so the next call tries again. A still-valid
    /// token (e.g. after a failed refresh-ahead) stays: errors never poison
    /// the cache, and never throw away a good token either.
    pub fn finish_err(&mut self, ticket: Ticket) -> bool {
        if ticket.0 != self.generation {
            return false;
        }
        self.flight = None;
        true
    }

    /// Forget the token and detach any in-flight request.
    pub fn clear(&mut self) {
        self.token = None;
        self.flight = None;
        self.generation = self.generation.wrapping_add(1);
    }

    /// Drop the token if it is past its leeway (after sleep or coming back
    /// online). Returns whether a token was dropped.
    pub fn drop_stale(&mut self) -> bool {
        if self.token.is_some() && !self.is_fresh() {
            self.token = None;
            return true;
        }
        false
    }

    /// Drop the cached token if `rejected` says it is the one a server just
    /// refused (HTTP 401). A newer token fetched meanwhile is kept.
    pub fn invalidate(&mut self, rejected: impl Fn(&T) -> bool) -> bool {
        if self.token.as_ref().is_some_and(|t| rejected(&t.value)) {
            self.token = None;
            return true;
        }
        false
    }

    /// Seconds the given token may still be handed out (until `expires_at`
    /// minus its effective leeway), floored, never negative: the
    /// `expiresInSeconds` of the viewer callback.
    pub fn usable_seconds(&self, token: &CachedToken<T>) -> f64 {
        let ms = token.expires_at - token.leeway_ms - self.now();
        // Truncation is floor for positive values; `f64::floor` is not in `core`.
        if ms > 0.0 { (ms / 1000.0) as u64 as f64 } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A clock the test moves by hand.
    #[derive(Clone, Default)]
    struct ManualClock(Rc<Cell<f64>>);

    impl ManualClock {
        fn advance_s(&self, s: f64) {
            self.0.set(self.0.get() + s * 1000.0);
        }
    }

    impl Clock for ManualClock {
        fn now_ms(&self) -> f64 {
            self.0.get()
        }
    }

    fn cache(leeway_s: f64) -> (TokenCache<&'static str, u32, ManualClock>, ManualClock) {
        let clock = ManualClock(Rc::new(Cell::new(1_700_000_000_000.0)));
        (TokenCache::new(clock.clone(), leeway_s * 1000.0), clock)
    }

    /// An empty cache asks for a request, and the stored token is then served from memory.
    #[test]
    fn stored_token_is_served_until_leeway() {
        let (mut c, clock) = cache(60.0);
        assert_eq!(c.lookup(), Lookup::Miss);
        let t = c.begin();
        c.attach(t, 1);
        assert!(c.finish_ok(t, "tok", 120.0));
        assert_eq!(c.lookup(), Lookup::Hit("tok"));
        clock.advance_s(59.0);
        assert_eq!(c.lookup(), Lookup::Hit("tok"));
        clock.advance_s(1.0); // exactly expires_at - leeway: no longer fresh
        assert_eq!(c.lookup(), Lookup::Miss);
        assert_eq!((c.fetches, c.cache_hits), (1, 2));
    }

    /// Concurrent misses all join the one in-flight request.
    #[test]
    fn cold_burst_joins_one_flight() {
        let (mut c, _) = cache(60.0);
        assert_eq!(c.lookup(), Lookup::Miss);
        let t = c.begin();
        c.attach(t, 7);
        for _ in 0..1000 {
            assert_eq!(c.lookup(), Lookup::Join(7));
        }
        assert_eq!(c.fetches, 1);
        assert!(c.is_refreshing());
    }

    /// A failed request leaves nothing behind: the next call starts a new one.
    #[test]
    fn error_does_not_poison_cache() {
        let (mut c, _) = cache(60.0);
        let t = c.begin();
        c.attach(t, 1);
        assert!(c.finish_err(t));
        assert!(!c.is_refreshing());
        assert_eq!(c.lookup(), Lookup::Miss);
    }

    /// A failed refresh-ahead keeps the still-valid token.
    #[test]
    fn failed_refresh_keeps_valid_token() {
        let (mut c, _) = cache(60.0);
        let t = c.begin();
        c.finish_ok(t, "old", 3600.0);
        let t2 = c.begin();
        c.attach(t2, 2);
        assert_eq!(c.lookup(), Lookup::Hit("old"), "callers are not held up by a refresh");
        c.finish_err(t2);
        assert_eq!(c.lookup(), Lookup::Hit("old"));
    }

    /// A token that arrives with no more life than the leeway is reused for
    /// half its life (not refetched at once: that loops against a backend
    /// still serving it), and the viewer is told that half.
    #[test]
    fn short_lived_token_uses_half_its_life_as_leeway() {
        let (mut c, clock) = cache(60.0);
        let t = c.begin();
        assert!(c.finish_ok(t, "short", 45.0));
        assert_eq!(c.lookup(), Lookup::Hit("short"));
        let token = c.token().cloned().map(|t| (t.expires_at, t.leeway_ms));
        assert_eq!(token.map(|(_, leeway)| leeway), Some(22_500.0));
        assert_eq!(c.token().map(|t| c.usable_seconds(t)), Some(22.0));
        assert_eq!(c.fresh_until(), token.map(|(expires_at, _)| expires_at - 22_500.0));
        clock.advance_s(22.0);
        assert_eq!(c.lookup(), Lookup::Hit("short"));
        clock.advance_s(0.5);
        assert_eq!(c.lookup(), Lookup::Miss, "stale at half its life");
        assert_eq!(c.fetches, 1);
    }

    /// Many rapid viewer cycles against a server that always answers
    /// `expires_in: 45` (leeway 60) make one request, not one per cycle.
    #[test]
    fn rapid_cycles_on_short_tokens_make_one_request() {
        let (mut c, clock) = cache(60.0);
        for _ in 0..50 {
            if c.lookup() == Lookup::Miss {
                let t = c.begin();
                c.finish_ok(t, "45s", 45.0);
            }
            assert!(c.token().is_some_and(|t| c.usable_seconds(t) > 0.0));
            clock.advance_s(0.1);
        }
        assert_eq!(c.fetches, 1);
    }

    /// A token longer-lived than the leeway keeps the configured leeway.
    #[test]
    fn long_lived_token_keeps_configured_leeway() {
        let (mut c, _) = cache(60.0);
        let t = c.begin();
        c.finish_ok(t, "long", 61.0);
        assert_eq!(c.token().map(|t| t.leeway_ms), Some(60_000.0));
        assert_eq!(c.token().map(|t| c.usable_seconds(t)), Some(1.0));
    }

    /// `clear()` during a request stops that request from storing its token.
    #[test]
    fn clear_discards_in_flight_result() {
        let (mut c, _) = cache(0.0);
        let t = c.begin();
        c.attach(t, 1);
        c.clear();
        assert!(!c.is_refreshing());
        assert!(!c.finish_ok(t, "late", 100.0));
        assert_eq!(c.lookup(), Lookup::Miss);
    }

    /// After a long sleep the stale token is dropped on wake-up.
    #[test]
    fn drop_stale_after_sleep() {
        let (mut c, clock) = cache(60.0);
        let t = c.begin();
        c.finish_ok(t, "tok", 3600.0);
        assert!(!c.drop_stale());
        clock.advance_s(8.0 * 3600.0);
        assert!(c.drop_stale());
        assert!(c.token().is_none());
    }

    /// A 401 drops only the token that was rejected.
    #[test]
    fn invalidate_only_the_rejected_token() {
        let (mut c, _) = cache(60.0);
        let t = c.begin();
        c.finish_ok(t, "new", 3600.0);
        assert!(!c.invalidate(|v| *v == "old"));
        assert!(c.invalidate(|v| *v == "new"));
        assert_eq!(c.lookup(), Lookup::Miss);
    }

    /// Regression (0-second spin): a viewer that renews exactly when its
    /// `expiresInSeconds` runs out finds < 1 s left. It must get a new token,
    /// not the old one with 0 (which it would renew at once, for up to a
    /// second), while plain callers keep using the old one.
    #[test]
    fn viewer_renewing_on_time_is_never_told_zero() {
        let (mut c, clock) = cache(60.0);
        for cycle in 1..=10 {
            if c.lookup_lasting(1000.0) == Lookup::Miss {
                let t = c.begin();
                c.attach(t, cycle);
                assert_eq!(c.lookup(), if cycle == 1 { Lookup::Join(1) } else { Lookup::Hit("45s") });
                c.finish_ok(t, "45s", 45.0);
            }
            let told = c.token().map_or(0.0, |t| c.usable_seconds(t));
            assert!(told >= 1.0, "cycle {cycle}: told {told}");
            clock.advance_s(told);
        }
        assert_eq!(c.fetches, 10, "one request per viewer cycle, not a spin");
    }

    /// A token from another tab obeys the same leeway rule, and only a longer-lived one replaces the held token.
    #[test]
    fn received_token_obeys_leeway_and_age() {
        let (mut c, clock) = cache(60.0);
        assert!(c.receive("other-tab", c.now() + 45_000.0));
        assert_eq!(c.token().map(|t| t.leeway_ms), Some(22_500.0));
        assert!(!c.receive("older", c.now() + 30_000.0));
        assert!(!c.receive("expired", c.now() - 1.0));
        assert_eq!(c.lookup(), Lookup::Hit("other-tab"));
        clock.advance_s(22.5);
        assert_eq!(c.lookup(), Lookup::Miss);
    }

    /// A request whose turn comes after another tab's token arrived is not counted and leaves the token.
    #[test]
    fn adopted_request_is_not_counted() {
        let (mut c, _) = cache(60.0);
        let t = c.begin();
        c.attach(t, 1);
        assert!(c.receive("other-tab", c.now() + 3_600_000.0));
        assert_eq!(c.lookup(), Lookup::Hit("other-tab"), "a received token answers callers at once");
        assert!(c.finish_adopted(t));
        assert!(!c.is_refreshing());
        assert_eq!(c.fetches, 0);
    }

    /// The viewer callback's lifetime is remaining minus leeway, floored, never negative.
    #[test]
    fn usable_seconds_floor_and_clamp() {
        let (c, clock) = cache(60.0);
        let token = CachedToken { value: "t", expires_at: c.now() + 3_599_500.0, leeway_ms: 60_000.0 };
        assert_eq!(c.usable_seconds(&token), 3539.0);
        clock.advance_s(4000.0);
        assert_eq!(c.usable_seconds(&token), 0.0);
    }
}
