//! Usage-plan quotas. This module owns [`QuotaSettings`] (AWS `QuotaSettings`: `limit`,
//! `period`, `offset`), the calendar of quota [`Period`]s, and [`QuotaCounter`], the lock-free
//! per-key counter.
//!
//! # Semantics
//!
//! - Periods are calendar periods in UTC: `DAY` starts at 00:00 UTC, `WEEK` on **Sunday**
//!   00:00 UTC (as the AWS console shows usage-plan weeks), `MONTH` on the 1st at 00:00 UTC.
//! - `offset` follows the AWS API model: "the number of requests subtracted from the given
//!   limit in the initial time period". The initial period is the one in which this quota was
//!   first configured for the key (persisted with the counter). (CloudFormation documents
//!   `Offset` as the day a period starts instead; Portico follows the API model.)
//! - A request that is throttled never reaches the quota, so it consumes none.
//! - Retry-After for an exhausted quota is the number of seconds until the period ends.
//! - [`QuotaCounter::extend`] adds to the remaining requests of the current period only (AWS
//!   UpdateUsage on `/remaining`), [`QuotaCounter::reset`] forgets the current period's use.
//! - Changing a key's `limit` or `offset` keeps what was used; changing its `period` starts a
//!   fresh count.
//!
//! # Representation
//!
//! One `AtomicU64` holds the first day of the counted period (24 bits, days since 1970) and
//! the net requests spent in it (40 bits, biased so extensions can make it negative). A
//! request in a new period starts from zero in the same compare-exchange, so no rollover task
//! is needed.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use time::{Date, Month, OffsetDateTime};

use crate::bucket::RetryAfter;

const SECS_PER_DAY: i64 = 86_400;
const DAY_BITS: u32 = 24;
const SPENT_BITS: u32 = 40;
const DAY_MASK: u64 = (1 << DAY_BITS) - 1;
const SPENT_MASK: u64 = (1 << SPENT_BITS) - 1;
const BIAS: i64 = 1 << (SPENT_BITS - 1);

/// A quota period (AWS `QuotaPeriodType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Period {
    /// A UTC calendar day.
    Day,
    /// A UTC calendar week starting on Sunday.
    Week,
    /// A UTC calendar month.
    Month,
}

impl Period {
    fn code(self) -> u8 {
        match self {
            Period::Day => 1,
            Period::Week => 2,
            Period::Month => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Period::Day),
            2 => Some(Period::Week),
            3 => Some(Period::Month),
            _ => None,
        }
    }

    /// The period containing `unix_secs`: `(start, end)` in Unix seconds, end exclusive.
    pub fn bounds(self, unix_secs: i64) -> (i64, i64) {
        let day = unix_secs.div_euclid(SECS_PER_DAY);
        let (start_day, end_day) = match self {
            Period::Day => (day, day + 1),
            Period::Week => {
                // 1970-01-01 was a Thursday: (day + 4) mod 7 is 0 on Sundays.
                let start = day - (day + 4).rem_euclid(7);
                (start, start + 7)
            }
            Period::Month => month_bounds(day),
        };
        (start_day * SECS_PER_DAY, end_day * SECS_PER_DAY)
    }
}

fn month_bounds(day: i64) -> (i64, i64) {
    let Ok(now) = OffsetDateTime::from_unix_timestamp(day * SECS_PER_DAY) else {
        return (day, day + 1);
    };
    let (year, month) = (now.year(), now.month());
    let first = Date::from_calendar_date(year, month, 1);
    let next = if month == Month::December {
        Date::from_calendar_date(year + 1, Month::January, 1)
    } else {
        Date::from_calendar_date(year, month.next(), 1)
    };
    match (first, next) {
        (Ok(first), Ok(next)) => (days_since_epoch(first), days_since_epoch(next)),
        _ => (day, day + 1),
    }
}

fn days_since_epoch(date: Date) -> i64 {
    date.midnight().assume_utc().unix_timestamp() / SECS_PER_DAY
}

/// A usage-plan quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSettings {
    /// Requests allowed per period.
    pub limit: u64,
    /// The period.
    pub period: Period,
    /// Requests subtracted from `limit` in the initial period.
    pub offset: u64,
}

impl QuotaSettings {
    /// `limit` requests per `period`, no offset.
    pub const fn new(limit: u64, period: Period) -> Self {
        Self {
            limit,
            period,
            offset: 0,
        }
    }
}

fn pack(day: i64, spent: i64) -> u64 {
    let spent = (spent.saturating_add(BIAS)).clamp(0, SPENT_MASK as i64) as u64;
    ((day as u64 & DAY_MASK) << SPENT_BITS) | spent
}

fn unpack(v: u64) -> (u64, i64) {
    (v >> SPENT_BITS, (v & SPENT_MASK) as i64 - BIAS)
}

/// A per-key quota counter (see the module docs).
#[derive(Debug)]
pub struct QuotaCounter {
    /// Period start day (24 bits) and net spent (40 bits).
    state: AtomicU64,
    limit: AtomicU64,
    offset: AtomicU64,
    /// [`Period::code`], 0 when no quota is configured.
    period: AtomicU8,
    /// First day of the initial period (where `offset` applies).
    initial_day: AtomicU32,
}

/// A point-in-time reading of a quota counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaReading {
    /// The settings in force.
    pub settings: QuotaSettings,
    /// Start of the current period (Unix seconds).
    pub period_start: i64,
    /// End of the current period (Unix seconds, exclusive).
    pub period_end: i64,
    /// Net requests spent this period (admissions minus extensions).
    pub spent: i64,
    /// Requests still allowed this period.
    pub remaining: u64,
    /// The limit of this period (`limit`, minus `offset` in the initial period).
    pub effective_limit: i64,
}

impl Default for QuotaCounter {
    fn default() -> Self {
        Self {
            state: AtomicU64::new(pack(0, 0)),
            limit: AtomicU64::new(0),
            offset: AtomicU64::new(0),
            period: AtomicU8::new(0),
            initial_day: AtomicU32::new(0),
        }
    }
}

impl QuotaCounter {
    /// The settings, or `None` when the key has no quota.
    pub fn settings(&self) -> Option<QuotaSettings> {
        let period = Period::from_code(self.period.load(Ordering::Acquire))?;
        Some(QuotaSettings {
            limit: self.limit.load(Ordering::Relaxed),
            period,
            offset: self.offset.load(Ordering::Relaxed),
        })
    }

    /// Applies (or removes) settings at `now`. A first configuration makes the current period
    /// the initial one; a change of period restarts the count.
    pub fn configure(&self, settings: Option<QuotaSettings>, now: i64) {
        let Some(s) = settings else {
            self.period.store(0, Ordering::Release);
            return;
        };
        let old = Period::from_code(self.period.load(Ordering::Acquire));
        self.limit.store(s.limit, Ordering::Relaxed);
        self.offset.store(s.offset, Ordering::Relaxed);
        if old != Some(s.period) {
            let start_day = s.period.bounds(now).0 / SECS_PER_DAY;
            self.state.store(pack(start_day, 0), Ordering::Release);
            self.initial_day
                .store(start_day as u32 & DAY_MASK as u32, Ordering::Relaxed);
        }
        self.period.store(s.period.code(), Ordering::Release);
    }

    fn effective_limit(&self, s: &QuotaSettings, start_day: i64) -> i64 {
        let initial = u64::from(self.initial_day.load(Ordering::Relaxed));
        let limit = i64::try_from(s.limit).unwrap_or(i64::MAX);
        if initial == start_day as u64 & DAY_MASK {
            limit.saturating_sub(i64::try_from(s.offset).unwrap_or(i64::MAX))
        } else {
            limit
        }
    }

    /// The limit of the period containing `unix_secs` (offset applied in the initial period).
    pub(crate) fn effective_limit_at(&self, unix_secs: i64) -> Option<i64> {
        let s = self.settings()?;
        let start_day = s.period.bounds(unix_secs).0 / SECS_PER_DAY;
        Some(self.effective_limit(&s, start_day))
    }

    /// Takes one request from the quota. `Ok(Some(remaining))` after the take, `Ok(None)`
    /// when there is no quota, or the wait until the period ends.
    #[inline]
    pub fn try_consume(&self, now: i64) -> Result<Option<u64>, RetryAfter> {
        let Some(s) = self.settings() else {
            return Ok(None);
        };
        let (start, end) = s.period.bounds(now);
        let start_day = start / SECS_PER_DAY;
        let effective = self.effective_limit(&s, start_day);
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            let spent = self.spent_in(cur, start_day);
            if spent >= effective {
                return Err(RetryAfter::from_secs((end - now).max(1) as u64));
            }
            let next = pack(start_day, spent + 1);
            match self
                .state
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(Some((effective - spent - 1).max(0) as u64)),
                Err(actual) => cur = actual,
            }
        }
    }

    fn spent_in(&self, state: u64, start_day: i64) -> i64 {
        let (day, spent) = unpack(state);
        if day == start_day as u64 & DAY_MASK {
            spent
        } else {
            0
        }
    }

    /// Adds `by` (may be negative) to the net spent of the period containing `now`.
    fn add(&self, now: i64, by: i64) {
        let Some(s) = self.settings() else { return };
        let start_day = s.period.bounds(now).0 / SECS_PER_DAY;
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some(pack(
                    start_day,
                    self.spent_in(cur, start_day).saturating_add(by),
                ))
            });
    }

    /// Sets the net spent of the period containing `now` (cluster sync writes the global
    /// count here).
    pub(crate) fn set_spent(&self, now: i64, spent: i64) {
        let Some(s) = self.settings() else { return };
        let start_day = s.period.bounds(now).0 / SECS_PER_DAY;
        self.state.store(pack(start_day, spent), Ordering::Release);
    }

    /// Grants `requests` more for the current period.
    pub fn extend(&self, now: i64, requests: u64) {
        self.add(now, -i64::try_from(requests).unwrap_or(i64::MAX));
    }

    /// Forgets what was spent in the current period.
    pub fn reset(&self, now: i64) {
        self.set_spent(now, 0);
    }

    /// The counter at `now`, or `None` without a quota.
    pub fn read(&self, now: i64) -> Option<QuotaReading> {
        let s = self.settings()?;
        let (start, end) = s.period.bounds(now);
        let start_day = start / SECS_PER_DAY;
        let spent = self.spent_in(self.state.load(Ordering::Acquire), start_day);
        let effective = self.effective_limit(&s, start_day);
        Some(QuotaReading {
            settings: s,
            period_start: start,
            period_end: end,
            spent,
            remaining: (effective - spent).max(0) as u64,
            effective_limit: effective,
        })
    }

    /// The raw state for persistence: (period code, period start day, spent, initial day).
    pub(crate) fn export(&self) -> (u8, u64, i64, u32) {
        let (day, spent) = unpack(self.state.load(Ordering::Acquire));
        (
            self.period.load(Ordering::Acquire),
            day,
            spent,
            self.initial_day.load(Ordering::Relaxed),
        )
    }

    /// Restores persisted state. The settings themselves come from configuration later.
    pub(crate) fn restore(&self, period: Period, start_day: u64, spent: i64, initial_day: u32) {
        self.state
            .store(pack(start_day as i64, spent), Ordering::Release);
        self.initial_day.store(initial_day, Ordering::Relaxed);
        // Remember the period so a matching configuration keeps the count; the limit stays 0
        // and `settings()` reports it until `configure` runs.
        self.period.store(period.code(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ts(dt: OffsetDateTime) -> i64 {
        dt.unix_timestamp()
    }

    #[test]
    fn week_starts_on_sunday() {
        // 2026-03-04 is a Wednesday.
        let (s, e) = Period::Week.bounds(ts(datetime!(2026-03-04 15:00 UTC)));
        assert_eq!(s, ts(datetime!(2026-03-01 00:00 UTC)));
        assert_eq!(e, ts(datetime!(2026-03-08 00:00 UTC)));
        let (s, _) = Period::Week.bounds(ts(datetime!(2026-03-01 00:00 UTC)));
        assert_eq!(s, ts(datetime!(2026-03-01 00:00 UTC)));
    }

    #[test]
    fn month_bounds_across_year_end_and_leap_february() {
        let (s, e) = Period::Month.bounds(ts(datetime!(2026-12-31 23:59:59 UTC)));
        assert_eq!(s, ts(datetime!(2026-12-01 00:00 UTC)));
        assert_eq!(e, ts(datetime!(2027-01-01 00:00 UTC)));
        let (s, e) = Period::Month.bounds(ts(datetime!(2028-02-10 00:00 UTC)));
        assert_eq!(s, ts(datetime!(2028-02-01 00:00 UTC)));
        assert_eq!(e, ts(datetime!(2028-03-01 00:00 UTC)));
    }

    #[test]
    fn pack_roundtrip_with_negative_spent() {
        for (d, s) in [(0, 0), (20_000, 5), (20_000, -7), (1 << 23, BIAS - 1)] {
            let (day, spent) = unpack(pack(d, s));
            assert_eq!((day as i64, spent), (d, s));
        }
    }
}
