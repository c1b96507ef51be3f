//! The admission decision. This module owns [`Admission`] and the local decision procedure:
//! the throttle levels in AWS order, then the quota, with refunds.
//!
//! # Order (AWS §3.1)
//!
//! The caller passes the applicable limits in the order AWS applies them:
//!
//! 1. usage plan, per key, per method (`plan:<p>/key:<k>/method:<resource>/<METHOD>`);
//! 2. usage plan, per key (`plan:<p>/key:<k>`);
//! 3. stage, per method, or the stage's `*/*` default (`stage:<api>/<stage>/...`);
//! 4. account (`account`).
//!
//! A token is taken from each level in turn. The first level without a token answers
//! [`Admission::Throttled`] with its own retry-after and its index (`level`), and the tokens
//! already taken from the earlier levels are **refunded**: a request that was not served
//! should not drain a client's per-key bucket because the stage was busy. After every level
//! passed, the quota of the usage-plan key is consumed; if it is exhausted the answer is
//! [`Admission::QuotaExceeded`] and all tokens are refunded too. A throttled request therefore
//! never consumes quota.
//!
//! Refunds are best-effort, as AWS's own throttling is: between the take and the refund a
//! concurrent request on the same bucket may have been rejected for want of that token. In
//! cluster mode a refund also never reaches Redis, because admissions are only counted there
//! once the whole request is admitted.

use crate::bucket::RetryAfter;
use crate::config::FailMode;
use crate::limit::LimitHandle;
use crate::meter::QuotaHandle;

use std::sync::atomic::Ordering;

/// The answer to "may this request proceed?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Admission {
    /// Proceed.
    Admit,
    /// A throttle level is out of tokens: `429 Too Many Requests`, gateway response
    /// `THROTTLED`, body `{"message":"Too Many Requests"}`.
    Throttled {
        /// Seconds until that level has a token.
        retry_after: RetryAfter,
        /// Index of the rejecting level in the list passed to `admit`.
        level: usize,
    },
    /// The usage-plan key's quota is exhausted: `429`, gateway response `QUOTA_EXCEEDED`,
    /// body `{"message":"Limit Exceeded"}`.
    QuotaExceeded {
        /// Seconds until the quota period ends.
        retry_after: RetryAfter,
    },
    /// Cluster mode only: Redis is unreachable and a limit (or the quota) is
    /// [`FailMode::Closed`]. Answer **`503 Service Unavailable`** with `Retry-After`: the
    /// client did nothing wrong, the gateway cannot check its limits. (AWS has no equivalent;
    /// 429 would wrongly blame the client's rate, and Kong's default 500 hides that the
    /// condition is temporary.)
    Unavailable {
        /// Seconds before trying again (one second: the sync task probes Redis continuously).
        retry_after: RetryAfter,
    },
}

impl Admission {
    /// Whether the request may proceed.
    pub fn is_admitted(&self) -> bool {
        matches!(self, Admission::Admit)
    }

    /// The HTTP status of a rejection (200 for [`Admission::Admit`]).
    pub fn status(&self) -> u16 {
        match self {
            Admission::Admit => 200,
            Admission::Throttled { .. } | Admission::QuotaExceeded { .. } => 429,
            Admission::Unavailable { .. } => 503,
        }
    }

    /// The `Retry-After` of a rejection.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            Admission::Admit => None,
            Admission::Throttled { retry_after, .. }
            | Admission::QuotaExceeded { retry_after }
            | Admission::Unavailable { retry_after } => Some(*retry_after),
        }
    }
}

/// How the local decision should treat cluster state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    /// Count admissions for the sync task.
    pub(crate) cluster: bool,
    /// Redis is unreachable: apply fail modes.
    pub(crate) degraded: bool,
    /// Fail mode of quotas.
    pub(crate) quota_fail_mode: FailMode,
}

impl Mode {
    pub(crate) const EMBEDDED: Mode = Mode {
        cluster: false,
        degraded: false,
        quota_fail_mode: FailMode::Open,
    };
}

/// Refunds one token to each of `limits`.
pub(crate) fn refund(limits: &[&LimitHandle], now: u64) {
    for l in limits {
        l.bucket().refund(now);
    }
}

/// The local decision (see the module docs).
#[inline]
pub(crate) fn admit_local(
    now: u64,
    unix_secs: impl FnOnce() -> i64,
    limits: &[&LimitHandle],
    quota: Option<&QuotaHandle>,
    mode: Mode,
) -> Admission {
    if mode.degraded {
        let closed = limits.iter().any(|l| l.fail_mode() == FailMode::Closed)
            || (quota.is_some() && mode.quota_fail_mode == FailMode::Closed);
        if closed {
            return Admission::Unavailable {
                retry_after: RetryAfter::from_secs(1),
            };
        }
    }
    for (level, limit) in limits.iter().enumerate() {
        if let Err(retry_after) = limit.bucket().try_acquire(now) {
            refund(&limits[..level], now);
            return Admission::Throttled { retry_after, level };
        }
    }
    if let Some(meter) = quota {
        // The calendar is read only when there is a quota: it costs as much as the bucket.
        let unix_secs = unix_secs();
        match meter.quota().try_consume(unix_secs) {
            Ok(remaining) => {
                meter
                    .usage()
                    .record(unix_secs.div_euclid(86_400), remaining);
                meter.0.mark_changed();
                if mode.cluster {
                    if remaining.is_some() {
                        meter.0.pending.fetch_add(1, Ordering::Relaxed);
                    }
                    meter.0.mark_dirty();
                }
            }
            Err(retry_after) => {
                refund(limits, now);
                if mode.cluster {
                    // Pull the global counter at the next sync: another node may have been
                    // granted an extension, or a reset, for this key.
                    meter.0.mark_dirty();
                }
                return Admission::QuotaExceeded { retry_after };
            }
        }
    }
    if mode.cluster {
        for limit in limits {
            limit.0.pending.fetch_add(1, Ordering::Relaxed);
        }
    }
    Admission::Admit
}
