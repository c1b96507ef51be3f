//! Time sources. This module owns the [`Clock`] trait every other module reads time through,
//! the [`SystemClock`] used in production and the [`ManualClock`] that tests move by hand.
//!
//! Two readings are kept apart on purpose: token buckets run on a *monotonic* nanosecond count
//! (never affected by NTP steps or an operator changing the date), while quota periods and
//! daily usage run on *wall-clock* UTC seconds, because "a day" in a usage plan is a calendar
//! day.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time for buckets (monotonic) and quotas (calendar).
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since an arbitrary, fixed origin. Should never go backwards; the buckets
    /// tolerate it if it does (see [`crate::bucket`]).
    fn monotonic_nanos(&self) -> u64;

    /// Seconds since the Unix epoch, UTC.
    fn unix_secs(&self) -> i64;
}

/// The real clock: [`Instant`] for monotonic time, [`SystemTime`] for the calendar.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn monotonic_nanos(&self) -> u64 {
        // u64 nanoseconds last 584 years from the origin.
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn unix_secs(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that only moves when told to: deterministic tests of rates, periods and retry-after.
///
/// [`ManualClock::advance`] moves both readings together; [`ManualClock::set_unix_secs`] and
/// [`ManualClock::set_monotonic_nanos`] move one (e.g. to simulate a clock going backwards).
#[derive(Debug)]
pub struct ManualClock {
    mono: AtomicU64,
    /// Wall clock in nanoseconds since the epoch, so sub-second advances add up.
    wall_nanos: AtomicI64,
}

impl ManualClock {
    /// A clock at monotonic 0 and the given calendar time.
    pub fn new(unix_secs: i64) -> Self {
        Self {
            mono: AtomicU64::new(0),
            wall_nanos: AtomicI64::new(unix_secs.saturating_mul(1_000_000_000)),
        }
    }

    /// A clock at monotonic 0 and the given UTC date-time.
    pub fn at(when: time::OffsetDateTime) -> Self {
        Self::new(when.unix_timestamp())
    }

    /// Moves both readings forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.mono.fetch_add(nanos, Ordering::SeqCst);
        self.wall_nanos
            .fetch_add(i64::try_from(nanos).unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// Sets the monotonic reading (may go backwards).
    pub fn set_monotonic_nanos(&self, nanos: u64) {
        self.mono.store(nanos, Ordering::SeqCst);
    }

    /// Sets the calendar reading.
    pub fn set_unix_secs(&self, secs: i64) {
        self.wall_nanos
            .store(secs.saturating_mul(1_000_000_000), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn monotonic_nanos(&self) -> u64 {
        self.mono.load(Ordering::SeqCst)
    }

    fn unix_secs(&self) -> i64 {
        self.wall_nanos
            .load(Ordering::SeqCst)
            .div_euclid(1_000_000_000)
    }
}
