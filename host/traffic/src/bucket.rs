//! The token bucket. This module owns [`Limit`] (a rate and a burst, AWS's
//! `throttlingRateLimit` / `throttlingBurstLimit`), [`RetryAfter`], and [`TokenBucket`], the
//! lock-free bucket behind every throttle level.
//!
//! # Mechanism
//!
//! The bucket is kept in the GCRA form (generic cell rate algorithm), which is a token bucket
//! stored as one number: the *theoretical arrival time* `tat`, the monotonic instant at which
//! the bucket will be full again. With `interval = 1 / rate` and `tau = burst × interval`:
//!
//! - tokens available at `now` = `(now + tau − max(tat, now)) / interval`;
//! - taking a token moves `tat` to `max(tat, now) + interval`, allowed while that stays within
//!   `now + tau`.
//!
//! So the whole state is one `AtomicU64` updated by compare-exchange: no lock, no packing of
//! two fields, and a fresh bucket (`tat = 0`) is full. At `now = 0` exactly `burst` requests pass.
//!
//! # Edge cases (decided here, documented for operators)
//!
//! - **Rate 0 or burst 0 blocks everything.** A bucket of capacity 0 can never hold the one
//!   token a request needs; AWS answers every request with 429 for a limit of burst 0, and a
//!   rate of 0 is how AWS users block a method. The retry-after is then
//!   [`BLOCKED_RETRY_AFTER_SECS`].
//! - **Rates above 10⁹/s** are treated as 10⁹/s (the interval is whole nanoseconds, at least 1).
//! - **Clock going backwards.** The bucket never grants tokens because time went back: it
//!   behaves as if time had stood still. To stop a large backwards step from throttling for
//!   as long as the step, `tat` is never allowed further than `tau + MAX_DEBT` ahead of `now`,
//!   so a backwards step costs at most a full bucket plus [`MAX_DEBT`].
//! - **Parameter changes keep the tokens.** [`TokenBucket::set_limit`] converts the current
//!   token count to the new parameters, clamped to the new burst.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Retry-after answered for a limit that blocks everything (rate 0 or burst 0): no token will
/// ever arrive, so the client is told to come back in a minute (a reload may lift the block).
pub const BLOCKED_RETRY_AFTER_SECS: u64 = 60;

/// How far a bucket may be overdrawn: the most debt a cluster sync may write into a local
/// bucket, and the most a backwards clock step can cost on top of a full bucket.
pub const MAX_DEBT: Duration = Duration::from_secs(10);

const MAX_DEBT_NANOS: u64 = 10_000_000_000;
const NANOS_PER_SEC: f64 = 1e9;
/// `interval` value that marks a blocked bucket.
const BLOCKED: u64 = u64::MAX;

/// A throttle: steady-state `rate` in requests per second and `burst`, the bucket's capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Tokens added per second (AWS `rateLimit`, a double).
    pub rate: f64,
    /// Bucket capacity (AWS `burstLimit`, an integer).
    pub burst: u32,
}

impl Limit {
    /// A limit of `rate` per second with a bucket of `burst`.
    pub const fn new(rate: f64, burst: u32) -> Self {
        Self { rate, burst }
    }

    /// Whether this limit rejects every request (rate 0, burst 0, or a rate that is not a
    /// positive number).
    pub fn is_blocking(&self) -> bool {
        self.burst == 0 || self.rate.is_nan() || self.rate <= 0.0
    }

    /// Nanoseconds between tokens, or [`BLOCKED`].
    fn interval_nanos(&self) -> u64 {
        if self.is_blocking() {
            return BLOCKED;
        }
        let ns = (NANOS_PER_SEC / self.rate).round();
        if ns >= (u64::MAX - 1) as f64 {
            BLOCKED - 1
        } else {
            (ns as u64).max(1)
        }
    }
}

/// How long a rejected client should wait, in whole seconds: rounded up, at least 1 (the
/// value of an HTTP `Retry-After` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RetryAfter {
    secs: u64,
}

impl RetryAfter {
    /// Rounds `nanos` up to whole seconds, at least 1.
    pub fn from_nanos(nanos: u64) -> Self {
        Self {
            secs: nanos.div_ceil(1_000_000_000).max(1),
        }
    }

    /// At least 1 second.
    pub fn from_secs(secs: u64) -> Self {
        Self { secs: secs.max(1) }
    }

    /// The answer for a blocking limit.
    pub const BLOCKED: RetryAfter = RetryAfter {
        secs: BLOCKED_RETRY_AFTER_SECS,
    };

    /// Whole seconds (≥ 1).
    pub fn as_secs(&self) -> u64 {
        self.secs
    }

    /// As a [`Duration`].
    pub fn as_duration(&self) -> Duration {
        Duration::from_secs(self.secs)
    }
}

/// A lock-free token bucket (GCRA form, see the module docs). Time is the caller's monotonic
/// nanoseconds ([`crate::Clock::monotonic_nanos`]).
#[derive(Debug)]
pub struct TokenBucket {
    /// Theoretical arrival time: when the bucket will be full again. The only hot state.
    tat: AtomicU64,
    /// Nanoseconds per token, or [`BLOCKED`]. Read with `burst` without a lock: a request that
    /// races a parameter change may see one new and one old value, which only affects that
    /// request.
    interval: AtomicU64,
    /// Capacity in tokens.
    burst: AtomicU64,
    /// The configured rate, kept exactly for reporting and cluster sync.
    rate_bits: AtomicU64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: Limit) -> Self {
        Self {
            tat: AtomicU64::new(0),
            interval: AtomicU64::new(limit.interval_nanos()),
            burst: AtomicU64::new(u64::from(limit.burst)),
            rate_bits: AtomicU64::new(limit.rate.to_bits()),
        }
    }

    /// The current parameters.
    pub fn limit(&self) -> Limit {
        Limit {
            rate: f64::from_bits(self.rate_bits.load(Ordering::Relaxed)),
            burst: u32::try_from(self.burst.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
        }
    }

    fn params(&self) -> (u64, u64) {
        (
            self.interval.load(Ordering::Relaxed),
            self.burst.load(Ordering::Relaxed),
        )
    }

    /// Takes one token, or says how long until one is available.
    #[inline]
    pub fn try_acquire(&self, now: u64) -> Result<(), RetryAfter> {
        let (interval, burst) = self.params();
        if interval == BLOCKED || burst == 0 {
            return Err(RetryAfter::BLOCKED);
        }
        let tau = burst.saturating_mul(interval);
        let limit = now.saturating_add(tau);
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let ceiling = limit.saturating_add(MAX_DEBT_NANOS);
            if tat > ceiling {
                // The clock went backwards (or a sync overdrew): forget the excess for good,
                // so the wait is bounded from now on, not only for this request.
                match self.tat.compare_exchange_weak(
                    tat,
                    ceiling,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => tat = ceiling,
                    Err(current) => tat = current,
                }
                continue;
            }
            let base = tat.max(now);
            let next = base.saturating_add(interval);
            if next > limit {
                return Err(RetryAfter::from_nanos(next - limit));
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }

    /// Gives back one token taken by [`TokenBucket::try_acquire`] (when a later level
    /// rejected the request). Never makes the bucket hold more than `burst`.
    pub fn refund(&self, now: u64) {
        let (interval, _) = self.params();
        if interval == BLOCKED {
            return;
        }
        // A `tat` at or before `now` already means "full": the subtraction cannot overfill.
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                (tat > now).then(|| tat.saturating_sub(interval).max(now))
            });
    }

    /// Tokens available at `now` (negative while overdrawn by a cluster sync).
    pub fn tokens(&self, now: u64) -> f64 {
        let (interval, burst) = self.params();
        if interval == BLOCKED {
            return 0.0;
        }
        let tat = self.tat.load(Ordering::Acquire);
        tokens_at(tat, now, interval, burst)
    }

    /// Sets the token count (cluster sync writes the global view here). Clamped to
    /// `[-MAX_DEBT × rate, burst]`.
    pub fn set_tokens(&self, now: u64, tokens: f64) {
        let (interval, burst) = self.params();
        if interval == BLOCKED {
            return;
        }
        self.tat
            .store(tat_for(now, tokens, interval, burst), Ordering::Release);
    }

    /// Changes rate and burst, keeping the tokens the bucket holds (clamped to the new burst).
    /// A bucket coming out of a blocking limit starts full.
    pub fn set_limit(&self, now: u64, limit: Limit) {
        let new_interval = limit.interval_nanos();
        let new_burst = u64::from(limit.burst);
        let (old_interval, old_burst) = self.params();
        if (old_interval, old_burst) == (new_interval, new_burst) {
            self.rate_bits
                .store(limit.rate.to_bits(), Ordering::Relaxed);
            return;
        }
        self.interval.store(new_interval, Ordering::Relaxed);
        self.burst.store(new_burst, Ordering::Relaxed);
        self.rate_bits
            .store(limit.rate.to_bits(), Ordering::Relaxed);
        if new_interval == BLOCKED {
            return;
        }
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                let tokens = if old_interval == BLOCKED {
                    new_burst as f64
                } else {
                    tokens_at(tat, now, old_interval, old_burst)
                };
                Some(tat_for(now, tokens, new_interval, new_burst))
            });
    }
}

fn tokens_at(tat: u64, now: u64, interval: u64, burst: u64) -> f64 {
    let tau = burst.saturating_mul(interval);
    let full_at = now.saturating_add(tau);
    let base = tat.max(now);
    (full_at as f64 - base as f64) / interval as f64
}

fn tat_for(now: u64, tokens: f64, interval: u64, burst: u64) -> u64 {
    let tau = burst.saturating_mul(interval);
    let tokens = tokens.min(burst as f64);
    let ahead = (tau as f64 - tokens * interval as f64).max(0.0);
    let ahead = (ahead as u64).min(tau.saturating_add(MAX_DEBT_NANOS));
    now.saturating_add(ahead)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn exactly_burst_at_time_zero() {
        let b = TokenBucket::new(Limit::new(10.0, 5));
        for _ in 0..5 {
            assert!(b.try_acquire(0).is_ok());
        }
        assert_eq!(b.try_acquire(0), Err(RetryAfter::from_secs(1)));
    }

    #[test]
    fn blocking_limits() {
        for limit in [
            Limit::new(0.0, 10),
            Limit::new(5.0, 0),
            Limit::new(f64::NAN, 3),
        ] {
            let b = TokenBucket::new(limit);
            assert_eq!(b.try_acquire(0), Err(RetryAfter::BLOCKED), "{limit:?}");
            assert_eq!(b.try_acquire(100 * SEC), Err(RetryAfter::BLOCKED));
        }
    }

    #[test]
    fn refund_restores_one_token_but_never_overfills() {
        let b = TokenBucket::new(Limit::new(1.0, 2));
        b.refund(0);
        assert_eq!(b.tokens(0), 2.0);
        b.try_acquire(0).unwrap();
        assert_eq!(b.tokens(0), 1.0);
        b.refund(0);
        assert_eq!(b.tokens(0), 2.0);
    }

    #[test]
    fn clock_backwards_costs_at_most_bucket_plus_max_debt() {
        let b = TokenBucket::new(Limit::new(1.0, 1));
        let late = 3_600 * SEC;
        b.try_acquire(late).unwrap();
        // The clock jumps an hour back: no token is granted, and the wait is bounded.
        let err = b.try_acquire(0).unwrap_err();
        assert!(err.as_secs() <= 1 + MAX_DEBT.as_secs(), "{err:?}");
        assert!(b.try_acquire(MAX_DEBT_NANOS + 2 * SEC).is_ok());
    }

    #[test]
    fn set_tokens_can_overdraw() {
        let b = TokenBucket::new(Limit::new(10.0, 10));
        b.set_tokens(0, -5.0);
        assert!((b.tokens(0) + 5.0).abs() < 1e-9);
        // 0.6 s later: 6 tokens refilled, 1 available.
        assert!(b.try_acquire(600_000_000).is_ok());
        assert!(b.try_acquire(600_000_000).is_err());
    }
}
