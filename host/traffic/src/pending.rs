//! Staged registry changes. This module owns [`Pending`]: the throttle levels and meters a
//! configuration build resolves, held apart from the live registries until
//! [`Pending::commit`].
//!
//! A build that resolves handles with [`Traffic::limit`] and [`Traffic::quota`] changes live
//! state as it goes: a changed rate is set on a bucket that requests are using, a new id is
//! inserted. If the build then fails, the old configuration keeps serving with limits it never
//! had. Resolving through a [`Pending`] instead:
//!
//! - an id that is live returns the live handle, untouched: the new limit (or quota settings)
//!   is recorded and set on [`Pending::commit`];
//! - an id that is not live returns a new, detached handle (a full bucket, an empty meter),
//!   inserted into the registry on commit;
//! - resolving the same id twice returns the same handle; the last limit wins.
//!
//! [`Pending::commit`] applies the recorded limits and settings, inserts the new handles and
//! prunes every id the build did not resolve (the account limit is always kept). Dropping a
//! `Pending` discards it: nothing live has changed. Commits are not serialised here: the
//! caller commits one build at a time (the gateway holds its reload lock).

use std::collections::HashMap;

use crate::bucket::Limit;
use crate::config::FailMode;
use crate::limit::LimitHandle;
use crate::meter::QuotaHandle;
use crate::quota::QuotaSettings;
use crate::traffic::Traffic;

/// The limits and meters of one configuration build, not yet applied (see the module docs).
#[must_use = "a Pending changes nothing until it is committed"]
pub struct Pending<'t> {
    traffic: &'t Traffic,
    /// Every id resolved by this build.
    limits: HashMap<String, StagedLimit>,
    /// Every (plan, key) resolved by this build.
    meters: HashMap<(String, String), StagedMeter>,
}

struct StagedLimit {
    handle: LimitHandle,
    limit: Limit,
    fail_mode: FailMode,
    /// Not in the registry yet: inserted on commit.
    new: bool,
}

struct StagedMeter {
    handle: QuotaHandle,
    settings: Option<QuotaSettings>,
    /// Not in the registry yet: inserted on commit.
    new: bool,
}

impl<'t> Pending<'t> {
    pub(crate) fn new(traffic: &'t Traffic) -> Self {
        Self {
            traffic,
            limits: HashMap::new(),
            meters: HashMap::new(),
        }
    }

    /// The handle of throttle level `id` with the cluster's default fail mode; `limit` takes
    /// effect on commit.
    pub fn limit(&mut self, id: &str, limit: Limit) -> LimitHandle {
        let fail_mode = self.traffic.default_fail_mode();
        self.limit_with(id, limit, fail_mode)
    }

    /// Like [`Pending::limit`] with an explicit fail mode.
    pub fn limit_with(&mut self, id: &str, limit: Limit, fail_mode: FailMode) -> LimitHandle {
        if let Some(staged) = self.limits.get_mut(id) {
            staged.limit = limit;
            staged.fail_mode = fail_mode;
            return staged.handle.clone();
        }
        let (handle, new) = match self.traffic.limits().get(id) {
            Some(live) => (live, false),
            None => (LimitHandle::new(id, limit, fail_mode), true),
        };
        self.limits.insert(
            id.to_owned(),
            StagedLimit {
                handle: handle.clone(),
                limit,
                fail_mode,
                new,
            },
        );
        handle
    }

    /// The meter of (plan, key); `settings` take effect on commit.
    pub fn quota(&mut self, plan: &str, key: &str, settings: Option<QuotaSettings>) -> QuotaHandle {
        let id = (plan.to_owned(), key.to_owned());
        if let Some(staged) = self.meters.get_mut(&id) {
            staged.settings = settings;
            return staged.handle.clone();
        }
        let (handle, new) = match self.traffic.meters().get(plan, key) {
            Some(live) => (live, false),
            None => (QuotaHandle::new(plan, key), true),
        };
        self.meters.insert(
            id,
            StagedMeter {
                handle: handle.clone(),
                settings,
                new,
            },
        );
        handle
    }

    /// Applies the build: sets the recorded limits and quota settings, inserts the new
    /// handles, and drops every limit (but the account's) and meter the build did not
    /// resolve, with their usage history.
    pub fn commit(self) {
        let now = self.traffic.clock().monotonic_nanos();
        let unix = self.traffic.clock().unix_secs();
        let limits = self.traffic.limits();
        for (id, staged) in &self.limits {
            staged.handle.update(now, staged.limit, staged.fail_mode);
            if staged.new {
                limits.insert(id.clone(), staged.handle.clone());
            }
        }
        let meters = self.traffic.meters();
        for staged in self.meters.values() {
            let quota = staged.handle.quota();
            if quota.settings() != staged.settings {
                quota.configure(staged.settings, unix);
            }
            if staged.new {
                meters.insert(staged.handle.clone());
            }
        }
        let ids = &self.limits;
        self.traffic.retain(|id| ids.contains_key(id));
        let pairs = &self.meters;
        self.traffic
            .retain_quotas(|p, k| pairs.contains_key(&(p.to_owned(), k.to_owned())));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{ACCOUNT_ID, ManualClock, Period};

    fn traffic() -> Arc<Traffic> {
        Traffic::in_memory(
            Some(Limit::new(100.0, 100)),
            Arc::new(ManualClock::new(1_767_225_600)),
        )
    }

    #[test]
    fn nothing_live_changes_until_commit() {
        let t = traffic();
        let live = t.limit("stage:a/prod/method:*/*", Limit::new(1.0, 2));
        let meter = t.quota("gold", "alice", Some(QuotaSettings::new(5, Period::Day)));
        let mut p = t.pending();
        let staged = p.limit("stage:a/prod/method:*/*", Limit::new(50.0, 60));
        assert!(staged.same(&live), "a live id keeps its bucket");
        let fresh = p.limit("plan:gold/key:alice", Limit::new(3.0, 3));
        let staged_meter = p.quota("gold", "alice", Some(QuotaSettings::new(9, Period::Day)));
        p.quota("gold", "bob", None);
        assert_eq!(live.limit(), Limit::new(1.0, 2));
        assert!(t.limits().get(fresh.id()).is_none());
        assert_eq!(meter.quota().settings().map(|s| s.limit), Some(5));
        assert!(t.meters().get("gold", "bob").is_none());
        drop(p);
        assert_eq!(live.limit(), Limit::new(1.0, 2));
        assert_eq!(staged_meter.quota().settings().map(|s| s.limit), Some(5));
        assert_eq!(t.limits().len(), 2, "account + the stage level");
    }

    #[test]
    fn commit_applies_inserts_and_prunes() {
        let t = traffic();
        let kept = t.limit("kept", Limit::new(1.0, 2));
        t.limit("gone", Limit::new(1.0, 2));
        t.quota("gold", "gone", None);
        let mut p = t.pending();
        p.limit("kept", Limit::new(5.0, 5));
        let again = p.limit("kept", Limit::new(7.0, 7));
        let fresh = p.limit("fresh", Limit::new(3.0, 3));
        let meter = p.quota("gold", "alice", Some(QuotaSettings::new(9, Period::Day)));
        p.commit();
        assert!(again.same(&kept));
        assert_eq!(kept.limit(), Limit::new(7.0, 7), "the last limit wins");
        assert!(t.limits().get("fresh").is_some_and(|h| h.same(&fresh)));
        assert!(t.limits().get("gone").is_none());
        assert!(t.limits().get(ACCOUNT_ID).is_some(), "the account is kept");
        let live = t.meters().get("gold", "alice").expect("inserted");
        assert_eq!(live.quota().settings().map(|s| s.limit), Some(9));
        assert_eq!(meter.quota().settings().map(|s| s.limit), Some(9));
        assert!(t.meters().get("gold", "gone").is_none());
    }
}
