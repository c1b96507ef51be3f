//! Single-flight fills: the in-flight table, the leader's [`FillGuard`] and the followers'
//! [`FillWait`].
//!
//! A fill is one `watch` channel of [`State`]. The table maps each key being fetched to a
//! receiver and an id; the leader's guard owns the sender. A follower clones the receiver and
//! waits for `State::Done`. The leader, whether it completes, fails, is cancelled or panics,
//! ends in [`FillGuard::finish`] (from `complete` or `Drop`), which in this order stores the
//! result (if asked), publishes it and removes its table entry. Storing before removing means
//! a request arriving in between finds either the fill or the stored entry, never neither.
//!
//! The table's mutex is held only for one map operation, never across an `.await`; followers
//! wait on the channel, not on the lock.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::key::CacheKey;
use crate::store::{CachedResponse, Store};

/// What a fill publishes: a response the followers may serve, or nothing usable.
type Outcome = Option<Arc<CachedResponse>>;

/// A fill's progress, as seen by its followers.
#[derive(Debug, Clone)]
enum State {
    Pending,
    Done(Outcome),
}

impl State {
    fn is_done(&self) -> bool {
        matches!(self, State::Done(_))
    }

    /// The published outcome; `None` while pending (used once the leader is gone).
    fn outcome(&self) -> Outcome {
        match self {
            State::Pending => None,
            State::Done(outcome) => outcome.clone(),
        }
    }
}

/// Fills in progress, by key.
#[derive(Default)]
pub(crate) struct Inflight {
    /// Key → (fill id, receiver to clone for followers). The id lets a guard remove only its
    /// own entry.
    slots: Mutex<HashMap<CacheKey, (u64, watch::Receiver<State>)>>,
    next_id: AtomicU64,
}

impl Inflight {
    /// Follows the fill in progress for `key`, or starts one with the caller as leader.
    pub(crate) fn join(self: &Arc<Self>, key: &CacheKey, store: &Store) -> Fill {
        let mut slots = self.slots.lock();
        match slots.entry(key.clone()) {
            Entry::Occupied(slot) => {
                let rx = slot.get().1.clone();
                drop(slots);
                Fill::Follower(FillWait {
                    inner: Wait::Pending(rx),
                })
            }
            Entry::Vacant(slot) => {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                let (tx, rx) = watch::channel(State::Pending);
                slot.insert((id, rx));
                drop(slots);
                Fill::Leader(FillGuard {
                    key: key.clone(),
                    id,
                    tx,
                    store: store.clone(),
                    inflight: Arc::clone(self),
                    finished: false,
                })
            }
        }
    }

    fn remove(&self, key: &CacheKey, id: u64) {
        let mut slots = self.slots.lock();
        if slots.get(key).is_some_and(|(current, _)| *current == id) {
            slots.remove(key);
        }
    }
}

/// The first caller for a missing key leads; concurrent callers for the same key follow.
#[derive(Debug)]
pub enum Fill {
    /// Fetch from the integration, then [`FillGuard::complete`].
    Leader(FillGuard),
    /// Wait for the leader with [`FillWait::wait`].
    Follower(FillWait),
}

/// The leader's side of a fill. Dropping it without [`FillGuard::complete`] (the leader failed,
/// was cancelled or panicked) wakes the followers with `None`. The in-flight entry is removed
/// in every case, so no key is left stuck.
#[must_use = "dropping the guard ends the fill with nothing for the followers"]
pub struct FillGuard {
    key: CacheKey,
    id: u64,
    /// Publishes the outcome; the followers hold receivers.
    tx: watch::Sender<State>,
    /// Where `complete` stores a cacheable result.
    store: Store,
    inflight: Arc<Inflight>,
    finished: bool,
}

impl FillGuard {
    /// Publishes the leader's result to the followers (`Some`: a response they may serve,
    /// whether or not it was cacheable; `None`: nothing usable — each follower goes to the
    /// upstream itself). Also stores it when `store_ttl` is `Some` and it is cacheable (same
    /// rule as [`crate::StageCache::insert`]).
    pub fn complete(mut self, result: Option<Arc<CachedResponse>>, store_ttl: Option<Duration>) {
        if let (Some(response), Some(ttl)) = (&result, store_ttl) {
            self.store
                .insert(self.key.clone(), Arc::clone(response), ttl);
        }
        self.finish(result);
    }

    /// The key being filled.
    pub fn key(&self) -> &CacheKey {
        &self.key
    }

    fn finish(&mut self, result: Outcome) {
        if self.finished {
            return;
        }
        self.finished = true;
        // `send_replace` publishes even when no follower is listening.
        self.tx.send_replace(State::Done(result));
        self.inflight.remove(&self.key, self.id);
    }
}

impl Drop for FillGuard {
    fn drop(&mut self) {
        self.finish(None);
    }
}

impl fmt::Debug for FillGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FillGuard")
            .field("key", &self.key)
            .field("followers", &self.tx.receiver_count().saturating_sub(1))
            .finish_non_exhaustive()
    }
}

/// A follower's side of a fill.
#[derive(Debug)]
pub struct FillWait {
    inner: Wait,
}

#[derive(Debug)]
enum Wait {
    /// Known already (the entry was in the cache when the follower joined).
    Ready(Outcome),
    Pending(watch::Receiver<State>),
}

impl FillWait {
    pub(crate) fn ready(outcome: Outcome) -> Self {
        Self {
            inner: Wait::Ready(outcome),
        }
    }

    /// Waits up to `bound` for the leader. `Ok(Some(resp))`: serve it. `Ok(None)`: the leader
    /// had nothing usable (or is gone). `Err(TimedOut)`: `bound` passed — the caller fetches
    /// itself. Cancel-safe: dropping the future only stops this follower waiting.
    pub async fn wait(self, bound: Duration) -> Result<Option<Arc<CachedResponse>>, TimedOut> {
        let mut rx = match self.inner {
            Wait::Ready(outcome) => return Ok(outcome),
            Wait::Pending(rx) => rx,
        };
        let published = match tokio::time::timeout(bound, rx.wait_for(State::is_done)).await {
            Err(_elapsed) => return Err(TimedOut),
            Ok(Ok(state)) => Some(state.outcome()),
            // The sender is gone. The guard always publishes before it goes, but a receiver
            // that has already seen that version is told "closed"; read the last value.
            Ok(Err(_closed)) => None,
        };
        Ok(published.unwrap_or_else(|| rx.borrow().outcome()))
    }
}

/// A follower's bound passed before its leader finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cache fill did not finish within the follower's wait bound")]
pub struct TimedOut;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StageCache;

    fn leader(fill: Fill) -> FillGuard {
        match fill {
            Fill::Leader(guard) => guard,
            Fill::Follower(_) => panic!("expected to lead"),
        }
    }

    fn follower(fill: Fill) -> FillWait {
        match fill {
            Fill::Follower(wait) => wait,
            Fill::Leader(_) => panic!("expected to follow"),
        }
    }

    #[test]
    fn table_entry_removed_on_complete_and_drop() {
        let cache = StageCache::new(1 << 20);
        let key = CacheKey::from(&b"k"[..]);
        let guard = leader(cache.begin_fill(&key));
        let _wait = follower(cache.begin_fill(&key));
        guard.complete(None, None);
        assert!(cache.inflight.slots.lock().is_empty());

        let guard = leader(cache.begin_fill(&key));
        drop(guard);
        assert!(cache.inflight.slots.lock().is_empty());
    }

    #[tokio::test]
    async fn follower_joining_after_publish_still_gets_the_result() {
        // The guard publishes before it removes the entry; a follower may clone the receiver
        // in between and must still see the result, even after the sender is dropped.
        let cache = StageCache::new(1 << 20);
        let key = CacheKey::from(&b"k"[..]);
        let mut guard = leader(cache.begin_fill(&key));
        let response = Arc::new(CachedResponse {
            status: http::StatusCode::OK,
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::from_static(b"hi"),
        });
        guard
            .tx
            .send_replace(State::Done(Some(Arc::clone(&response))));
        let wait = follower(cache.begin_fill(&key));
        guard.finished = true;
        guard.inflight.remove(&guard.key, guard.id);
        drop(guard);
        let got = wait.wait(Duration::from_secs(1)).await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&got, &response));
    }
}
