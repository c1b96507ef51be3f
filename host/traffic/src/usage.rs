//! Daily usage per usage-plan key, the data behind AWS GetUsage. This module owns
//! [`DailyUsage`] (a ring of the last [`USAGE_DAYS`] UTC days), [`DayUsage`] and
//! [`UsageReport`] with its AWS JSON shape.
//!
//! Each day records the requests admitted for the key and the quota remaining after the last
//! of them. A day with no admission reports 0 used and the remaining carried over from the
//! latest earlier day of the same quota period in the report (or the full limit when the
//! period had none). Each day is one `AtomicU64` (day number and count), so recording is one
//! compare-exchange.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use time::Date;

/// Days of usage kept per key (AWS keeps 90 days of usage data).
pub const USAGE_DAYS: usize = 90;

const DAY_BITS: u32 = 24;
const VALUE_BITS: u32 = 40;
const VALUE_MASK: u64 = (1 << VALUE_BITS) - 1;
const DAY_MASK: u64 = (1 << DAY_BITS) - 1;
/// Remaining value meaning "no quota".
const NO_QUOTA: u64 = VALUE_MASK;

fn pack(day: i64, value: u64) -> u64 {
    ((day as u64 & DAY_MASK) << VALUE_BITS) | value.min(VALUE_MASK)
}

fn value_on(cell: u64, day: i64) -> Option<u64> {
    (cell >> VALUE_BITS == day as u64 & DAY_MASK).then_some(cell & VALUE_MASK)
}

#[derive(Debug, Default)]
struct Cell {
    /// Day number and requests admitted that day.
    used: AtomicU64,
    /// Day number and quota remaining after the last admission that day.
    remaining: AtomicU64,
    /// Day number and the part of `used` already pushed to Redis (sync task only).
    pushed: AtomicU64,
}

/// The ring of daily counters of one key.
#[derive(Debug)]
pub struct DailyUsage {
    cells: Box<[Cell]>,
}

impl Default for DailyUsage {
    fn default() -> Self {
        Self {
            cells: (0..USAGE_DAYS).map(|_| Cell::default()).collect(),
        }
    }
}

/// Usage of one key on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DayUsage {
    /// Requests admitted.
    pub used: u64,
    /// Quota remaining at the end of the day (or now, for today); `None` without a quota.
    pub remaining: Option<u64>,
}

impl DailyUsage {
    fn cell(&self, day: i64) -> &Cell {
        &self.cells[day.rem_euclid(USAGE_DAYS as i64) as usize]
    }

    /// Counts one admission on `day` (days since 1970), with the quota remaining after it.
    #[inline]
    pub fn record(&self, day: i64, remaining: Option<u64>) {
        self.add(day, 1);
        self.cell(day)
            .remaining
            .store(pack(day, remaining.unwrap_or(NO_QUOTA)), Ordering::Relaxed);
    }

    /// Adds `n` admissions to `day`.
    pub(crate) fn add(&self, day: i64, n: u64) {
        let cell = self.cell(day);
        let _ = cell
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some(pack(day, value_on(cur, day).unwrap_or(0).saturating_add(n)))
            });
    }

    /// The usage of `day`, if recorded.
    pub fn day(&self, day: i64) -> Option<DayUsage> {
        let cell = self.cell(day);
        let used = value_on(cell.used.load(Ordering::Acquire), day)?;
        let remaining = value_on(cell.remaining.load(Ordering::Relaxed), day)
            .and_then(|r| (r != NO_QUOTA).then_some(r));
        Some(DayUsage { used, remaining })
    }

    /// Restores a persisted day.
    pub(crate) fn restore(&self, day: i64, usage: DayUsage) {
        let cell = self.cell(day);
        cell.used.store(pack(day, usage.used), Ordering::Release);
        cell.remaining.store(
            pack(day, usage.remaining.unwrap_or(NO_QUOTA)),
            Ordering::Relaxed,
        );
        // Restored days were pushed (or are embedded-only): never push them again.
        cell.pushed.store(pack(day, usage.used), Ordering::Relaxed);
    }

    /// Every recorded day within the last [`USAGE_DAYS`] before `today` (inclusive).
    pub fn recorded(&self, today: i64) -> Vec<(i64, DayUsage)> {
        (today - USAGE_DAYS as i64 + 1..=today)
            .filter_map(|d| self.day(d).map(|u| (d, u)))
            .collect()
    }

    /// Days whose admissions are not all in Redis yet: `(day, delta, remaining)`. Marks them
    /// pushed; [`DailyUsage::unpush`] undoes that when the push fails.
    pub(crate) fn take_unpushed(&self, today: i64) -> Vec<(i64, u64, Option<u64>)> {
        let mut out = Vec::new();
        for day in today - USAGE_DAYS as i64 + 1..=today {
            let cell = self.cell(day);
            let Some(used) = value_on(cell.used.load(Ordering::Acquire), day) else {
                continue;
            };
            let pushed = value_on(cell.pushed.load(Ordering::Acquire), day).unwrap_or(0);
            if used > pushed {
                cell.pushed.store(pack(day, used), Ordering::Release);
                let remaining = value_on(cell.remaining.load(Ordering::Relaxed), day)
                    .and_then(|r| (r != NO_QUOTA).then_some(r));
                out.push((day, used - pushed, remaining));
            }
        }
        out
    }

    /// Undoes a failed push of `delta` on `day`.
    pub(crate) fn unpush(&self, day: i64, delta: u64) {
        let cell = self.cell(day);
        let _ = cell
            .pushed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                value_on(cur, day).map(|p| pack(day, p.saturating_sub(delta)))
            });
    }

    /// Marks `n` admissions on `day` as already in Redis (strict mode writes them there).
    pub(crate) fn mark_pushed(&self, day: i64, n: u64) {
        let cell = self.cell(day);
        let _ = cell
            .pushed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some(pack(day, value_on(cur, day).unwrap_or(0).saturating_add(n)))
            });
    }
}

/// Days since 1970-01-01 of a date.
pub fn day_number(date: Date) -> i64 {
    date.midnight()
        .assume_utc()
        .unix_timestamp()
        .div_euclid(86_400)
}

/// The date of a day number.
pub fn day_date(day: i64) -> Option<Date> {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .ok()
        .map(|t| t.date())
}

/// Usage of a plan's keys over a date range, shaped like AWS GetUsage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    /// The usage plan.
    pub plan_id: String,
    /// First day (inclusive).
    pub start_date: Date,
    /// Last day (inclusive).
    pub end_date: Date,
    /// Per key id, one entry per day from `start_date` to `end_date`.
    pub items: BTreeMap<String, Vec<DayUsage>>,
}

impl UsageReport {
    /// The AWS GetUsage body: `{"usagePlanId", "startDate", "endDate", "items": {"<keyId>":
    /// [[used, remaining], ...]}}`, the map also under `values` (botocore's wire name, which
    /// the AWS CLI reads). A key without a quota reports remaining as `null`.
    pub fn to_aws_json(&self) -> serde_json::Value {
        let fmt = |d: Date| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
        let items: serde_json::Map<String, serde_json::Value> = self
            .items
            .iter()
            .map(|(key, days)| {
                let rows = days
                    .iter()
                    .map(|d| serde_json::json!([d.used, d.remaining]))
                    .collect();
                (key.clone(), serde_json::Value::Array(rows))
            })
            .collect();
        serde_json::json!({
            "usagePlanId": self.plan_id,
            "startDate": fmt(self.start_date),
            "endDate": fmt(self.end_date),
            "values": items.clone(),
            "items": items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_forgets_days_older_than_the_window() {
        let u = DailyUsage::default();
        u.record(100, Some(5));
        u.record(100, Some(4));
        assert_eq!(
            u.day(100),
            Some(DayUsage {
                used: 2,
                remaining: Some(4)
            })
        );
        u.record(100 + USAGE_DAYS as i64, None);
        assert_eq!(u.day(100), None);
        assert_eq!(u.day(100 + USAGE_DAYS as i64).map(|d| d.used), Some(1));
    }

    #[test]
    fn unpushed_deltas() {
        let u = DailyUsage::default();
        u.record(10, None);
        u.record(10, None);
        assert_eq!(u.take_unpushed(10), vec![(10, 2, None)]);
        assert!(u.take_unpushed(10).is_empty());
        u.record(10, None);
        let taken = u.take_unpushed(10);
        assert_eq!(taken, vec![(10, 1, None)]);
        u.unpush(10, 1);
        assert_eq!(u.take_unpushed(10), vec![(10, 1, None)]);
    }
}
