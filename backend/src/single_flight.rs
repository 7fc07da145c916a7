//! Single-flight: at most one run of a piece of work per key at a time, its
//! outcome shared by every caller that waits for it.
//!
//! Used by the two-legged token cache (one upstream request per profile) and by
//! sign-in (one refresh per session: refresh tokens rotate, so two parallel
//! refreshes would race and one would be rejected).
//!
//! The work runs in its own task, so it completes (and stores what it fetched)
//! even if every waiting HTTP request is cancelled. The task removes its own
//! entry after the work's last step (or when it panics), so a caller that finds no flight also finds
//! whatever the work stored. The registry lock is a std `Mutex`: it is held only
//! to look at or change the map, never across an `.await`.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

/// A run in progress; cloning it joins it.
pub type Flight<T, E> = Shared<BoxFuture<'static, Result<T, E>>>;

/// The task running the work ended without an answer (it panicked, or the
/// runtime is shutting down). Waiters get this instead of hanging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the background task was stopped before it answered")]
pub struct TaskStopped;

/// The flights in progress, by key. Cheap to clone; clones share the flights.
pub struct SingleFlight<K, T, E> {
    flights: Arc<Mutex<HashMap<K, Flight<T, E>>>>,
}

impl<K, T, E> Clone for SingleFlight<K, T, E> {
    fn clone(&self) -> Self {
        Self { flights: Arc::clone(&self.flights) }
    }
}

impl<K, T, E> Default for SingleFlight<K, T, E> {
    fn default() -> Self {
        Self { flights: Arc::default() }
    }
}

impl<K, T, E> std::fmt::Debug for SingleFlight<K, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight").finish_non_exhaustive()
    }
}

impl<K, T, E> SingleFlight<K, T, E>
where
    K: Eq + Hash + Clone + Send + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + From<TaskStopped> + Send + Sync + 'static,
{
    /// Joins the flight for `key`, or asks `start` for the work of a new one.
    ///
    /// `start` runs under the registry lock, only when no flight is running, and
    /// may decline with `Err(reason)` to start nothing: the caller re-checks there
    /// whether the work is still needed, since a flight may have finished between
    /// its own check and taking the lock. The reason comes back as the `Err`.
    pub fn join_or_start<W, R>(&self, key: K, start: impl FnOnce() -> Result<W, R>) -> Result<Flight<T, E>, R>
    where
        W: Future<Output = Result<T, E>> + Send + 'static,
    {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(flight) = flights.get(&key) {
            return Ok(flight.clone());
        }
        let work = start()?;
        // The task removes its entry, even if the work panics; it cannot before
        // the insert below, which holds the lock.
        let entry = Entry { flights: Arc::clone(&self.flights), key: key.clone() };
        let task = tokio::spawn(async move {
            let result = work.await;
            drop(entry);
            result
        });
        let flight = async move { task.await.unwrap_or_else(|_| Err(TaskStopped.into())) }.boxed().shared();
        flights.insert(key, flight.clone());
        Ok(flight)
    }
}

/// Removes a flight from the registry when its task ends, however it ends.
struct Entry<K: Eq + Hash, T, E> {
    flights: Arc<Mutex<HashMap<K, Flight<T, E>>>>,
    key: K,
}

impl<K: Eq + Hash, T, E> Drop for Entry<K, T, E> {
    fn drop(&mut self) {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Failure {
        Stopped,
    }

    impl From<TaskStopped> for Failure {
        fn from(_: TaskStopped) -> Self {
            Self::Stopped
        }
    }

    /// Callers of one key share one run; another key runs on its own.
    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_run_per_key() {
        let flights = SingleFlight::<u8, usize, Failure>::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let (release, gate) = tokio::sync::watch::channel(false);
        let start = |key: u8| {
            let runs = Arc::clone(&runs);
            let mut gate = gate.clone();
            flights.join_or_start(key, move || {
                Ok::<_, ()>(async move {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    let _ = gate.wait_for(|open| *open).await;
                    Ok(run)
                })
            })
        };
        let waiting: Vec<_> = (0..5).map(|_| start(1).expect("flight")).collect();
        let other = start(2).expect("flight");
        release.send(true).expect("gate");
        let results = futures_util::future::join_all(waiting).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "one run for key 1, one for key 2");
        assert!(results.iter().all(|r| r == &results[0]), "{results:?}");
        assert!(other.await.is_ok());
        let next = start(1).expect("flight").await;
        assert_eq!(next, Ok(3), "a finished flight is not joined again");
    }

    /// `start` may decline; then nothing runs.
    #[tokio::test]
    async fn a_declined_start_runs_nothing() {
        let flights = SingleFlight::<(), (), Failure>::default();
        let flight = flights.join_or_start((), || Err::<futures_util::future::Ready<Result<(), Failure>>, _>("ready"));
        assert_eq!(flight.err(), Some("ready"));
    }

    /// A run that panics gives its waiters an error instead of hanging them.
    #[tokio::test]
    async fn a_stopped_task_is_an_error() {
        let flights = SingleFlight::<(), (), Failure>::default();
        let flight = flights.join_or_start((), || {
            Ok::<_, ()>(async {
                if flights_panic() {
                    panic!("work failed");
                }
                Ok(())
            })
        });
        assert_eq!(flight.expect("flight").await, Err(Failure::Stopped));
        let again = flights.join_or_start((), || Ok::<_, ()>(async { Ok(()) }));
        assert_eq!(again.expect("flight").await, Ok(()), "the stopped flight is not joined again");
    }

    /// Keeps the panic out of clippy's sight of unreachable code.
    fn flights_panic() -> bool {
        std::hint::black_box(true)
    }
}
