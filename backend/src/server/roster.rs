//! The open connections, and which of them to close when the connection cap is
//! reached and a client waits: idle keep-alive connections that have been
//! answered first, least recently active first (as nginx drains its reusable
//! connections); then fresh connections that have sent nothing for well beyond
//! what a browser's preconnect takes; never one that has started sending a request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// A connection that has sent nothing for this long since it was accepted may
/// be closed to make room: about four times the 250–300 ms between a browser's
/// preconnect and its request. A client waiting in the listen queue behind idle
/// ones gets a place within this per cap's worth of them, so it is kept short;
/// a browser whose unused preconnect is closed opens another without an error.
pub(super) const FRESH_EVICTABLE_AFTER: Duration = Duration::from_secs(1);
/// At most this many connections are asked to close per round (nginx drains up
/// to 32 reusable connections at a time): room for the clients waiting in the
/// listen queue without emptying every keep-alive connection at once.
const MAX_PER_ROUND: usize = 32;

/// What the roster and its seats share.
#[derive(Debug, Default)]
struct Signals {
    /// Room might be made now: a connection was answered while the server is
    /// full, refused to close, or closed.
    changed: Notify,
    /// Whether the accept loop waits for room.
    is_full: AtomicBool,
}

/// Every open connection's [`Seat`].
#[derive(Debug, Default)]
pub(super) struct Roster {
    /// A std `Mutex`: held for a scan or an insertion, never across `.await`.
    seats: Mutex<HashMap<u64, Arc<Seat>>>,
    next_id: AtomicU64,
    signals: Arc<Signals>,
}

/// One connection's state, as its stream, its requests and the roster see it.
#[derive(Debug)]
pub(super) struct Seat {
    opened: Instant,
    /// Milliseconds after `opened` that a byte last moved either way.
    last_ms: AtomicU64,
    /// Reads that returned bytes.
    reads: AtomicU64,
    /// `reads` when the last response ended: more since means a new request has begun.
    reads_answered: AtomicU64,
    in_flight: AtomicUsize,
    has_answered: AtomicBool,
    /// Asked to close and not yet closed (or refused).
    is_leaving: AtomicBool,
    /// Wakes the connection to close.
    leave: Notify,
    signals: Arc<Signals>,
}

/// Where a connection stands, for eviction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// A request is being read or answered: never closed to make room.
    Busy,
    /// Answered, and idle since `quiet_since`.
    Answered { quiet_since: Instant },
    /// Nothing received since it was accepted at `opened`.
    Fresh { opened: Instant },
}

/// Removes its seat from the roster when the connection ends.
#[derive(Debug)]
pub(super) struct Membership {
    id: u64,
    roster: Arc<Roster>,
    pub(super) seat: Arc<Seat>,
}

impl Roster {
    /// A seat for a connection accepted now.
    pub(super) fn join(self: &Arc<Self>) -> Membership {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let seat = Arc::new(Seat {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            reads_answered: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            has_answered: AtomicBool::new(false),
            is_leaving: AtomicBool::new(false),
            leave: Notify::new(),
            signals: Arc::clone(&self.signals),
        });
        self.seats.lock().unwrap_or_else(PoisonError::into_inner).insert(id, Arc::clone(&seat));
        Membership { id, roster: Arc::clone(self), seat }
    }

    /// Marks whether the accept loop is waiting for room.
    pub(super) fn set_full(&self, is_full: bool) {
        self.signals.is_full.store(is_full, Ordering::Relaxed);
    }

    /// Completes when room might be made (see [`Signals::changed`]).
    pub(super) async fn changed(&self) {
        self.signals.changed.notified().await;
    }

    /// Asks the connections [`choose`] picks to close. When it asked none:
    /// the time a fresh connection becomes closable, if one is open.
    pub(super) fn make_room(&self, now: Instant) -> Option<Instant> {
        let seats = self.seats.lock().unwrap_or_else(PoisonError::into_inner);
        let phases = seats.values().filter(|seat| !seat.is_leaving.load(Ordering::Acquire)).map(|s| (s.phase(), s));
        let (chosen, next) = choose(phases, now);
        for seat in &chosen {
            seat.is_leaving.store(true, Ordering::Release);
            seat.leave.notify_one();
        }
        if !chosen.is_empty() {
            tracing::debug!(closing = chosen.len(), open = seats.len(), "closing idle connections to make room");
        }
        next
    }
}

/// Up to an eighth of the closable connections of the first tier that has any
/// (at least one, at most [`MAX_PER_ROUND`]), longest idle first; and, when
/// none is closable, the time the first fresh one will be.
pub(super) fn choose<T>(phases: impl Iterator<Item = (Phase, T)>, now: Instant) -> (Vec<T>, Option<Instant>) {
    let (mut answered, mut fresh, mut next) = (Vec::new(), Vec::new(), None::<Instant>);
    for (phase, item) in phases {
        match phase {
            Phase::Busy => {}
            Phase::Answered { quiet_since } => answered.push((quiet_since, item)),
            Phase::Fresh { opened } if opened + FRESH_EVICTABLE_AFTER <= now => fresh.push((opened, item)),
            Phase::Fresh { opened } => {
                let at = opened + FRESH_EVICTABLE_AFTER;
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
    }
    let mut tier = if answered.is_empty() { fresh } else { answered };
    let count = (tier.len() / 8).clamp(1, MAX_PER_ROUND).min(tier.len());
    tier.sort_unstable_by_key(|(since, _)| *since);
    (tier.into_iter().take(count).map(|(_, item)| item).collect(), next)
}

impl Seat {
    pub(super) fn phase(&self) -> Phase {
        let reads = self.reads.load(Ordering::Acquire);
        if self.in_flight.load(Ordering::Acquire) > 0 || reads > self.reads_answered.load(Ordering::Acquire) {
            Phase::Busy
        } else if self.has_answered.load(Ordering::Acquire) {
            Phase::Answered { quiet_since: self.last_active() }
        } else {
            Phase::Fresh { opened: self.opened }
        }
    }

    pub(super) fn last_active(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// A byte moved.
    pub(super) fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// A read returned bytes.
    pub(super) fn record_read(&self) {
        self.reads.fetch_add(1, Ordering::AcqRel);
        self.touch();
    }

    /// Completes when the roster asks this connection to close.
    pub(super) async fn asked_to_leave(&self) {
        self.leave.notified().await;
    }

    /// The connection had begun a request by the time it saw the request to close.
    pub(super) fn refuse_to_leave(&self) {
        self.is_leaving.store(false, Ordering::Release);
        self.signals.changed.notify_one();
    }

    /// Counts a request in progress until the returned guard is dropped, which
    /// is when its response body ends.
    pub(super) fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(self))
    }
}

/// A request in progress on its connection.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Seat>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let seat = &self.0;
        seat.reads_answered.store(seat.reads.load(Ordering::Acquire), Ordering::Release);
        seat.has_answered.store(true, Ordering::Release);
        seat.in_flight.fetch_sub(1, Ordering::AcqRel);
        if seat.signals.is_full.load(Ordering::Relaxed) {
            seat.signals.changed.notify_one();
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.roster.seats.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.id);
        self.roster.signals.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(at: Instant, n: u64) -> Instant {
        at + Duration::from_millis(n)
    }

    /// Answered idle connections go first, longest idle first, even when fresh
    /// ones have been silent for longer.
    #[test]
    fn answered_connections_go_before_fresh_ones() {
        let t0 = Instant::now();
        let now = ms(t0, 10_000);
        let phases = [
            (Phase::Fresh { opened: t0 }, "fresh"),
            (Phase::Answered { quiet_since: ms(t0, 9_000) }, "recent"),
            (Phase::Answered { quiet_since: ms(t0, 5_000) }, "oldest"),
            (Phase::Busy, "busy"),
        ];
        assert_eq!(choose(phases.into_iter(), now), (vec!["oldest"], None));
    }

    /// A fresh connection is closable only once silent past the threshold, and
    /// a busy one never, however long it has been quiet.
    #[test]
    fn fresh_connections_wait_their_threshold_and_busy_ones_stay() {
        let t0 = Instant::now();
        let young = [(Phase::Fresh { opened: t0 }, 1), (Phase::Busy, 2)];
        let at = ms(t0, 300);
        assert_eq!(choose(young.into_iter(), at), (vec![], Some(t0 + FRESH_EVICTABLE_AFTER)));
        let later = t0 + FRESH_EVICTABLE_AFTER;
        assert_eq!(choose(young.into_iter(), later), (vec![1], None));
        assert_eq!(choose([(Phase::Busy, 2)].into_iter(), ms(t0, 3_600_000)), (vec![], None));
    }

    /// Large rosters give up an eighth per round, at most 32.
    #[test]
    fn rounds_are_bounded() {
        let t0 = Instant::now();
        let many = |n: u64| (0..n).map(move |i| (Phase::Answered { quiet_since: ms(t0, i) }, i));
        assert_eq!(choose(many(80), ms(t0, 100)).0, (0..10).collect::<Vec<_>>());
        assert_eq!(choose(many(1000), ms(t0, 1000)).0.len(), MAX_PER_ROUND);
    }

    /// A request in progress, or bytes read since the last answer, make a
    /// connection busy; its answer makes it closable again.
    #[tokio::test(start_paused = true)]
    async fn a_seat_is_busy_from_its_first_byte_to_its_answer() {
        let roster = Arc::new(Roster::default());
        let member = roster.join();
        let seat = &member.seat;
        assert!(matches!(seat.phase(), Phase::Fresh { .. }));
        seat.record_read();
        assert_eq!(seat.phase(), Phase::Busy, "half a request head counts");
        let request = seat.enter();
        assert_eq!(seat.phase(), Phase::Busy);
        drop(request);
        assert!(matches!(seat.phase(), Phase::Answered { .. }));
        seat.record_read();
        assert_eq!(seat.phase(), Phase::Busy, "the next request has begun");
    }
}
