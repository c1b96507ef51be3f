//! Quota periods, offset, extend, reset, retry-after, and daily usage (AWS GetUsage).

use std::sync::Arc;
use std::time::Duration;

use portico_traffic::{Admission, Clock, ManualClock, Period, QuotaSettings, Traffic};
use time::OffsetDateTime;
use time::macros::{date, datetime};

fn at(when: OffsetDateTime) -> (Arc<ManualClock>, Arc<Traffic>) {
    let clock = Arc::new(ManualClock::at(when));
    let traffic = Traffic::in_memory(None, clock.clone());
    (clock, traffic)
}

fn admit(t: &Traffic, plan: &str, key: &str) -> Admission {
    let q = t.meters().get(plan, key).expect("meter");
    t.admit(&[], Some(&q))
}

fn exceeded_after(a: Admission) -> u64 {
    match a {
        Admission::QuotaExceeded { retry_after } => retry_after.as_secs(),
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
}

#[test]
fn day_quota_resets_at_midnight_utc() {
    let (clock, t) = at(datetime!(2026-03-04 23:59:50 UTC));
    t.quota("p", "k", Some(QuotaSettings::new(2, Period::Day)));
    assert!(admit(&t, "p", "k").is_admitted());
    assert!(admit(&t, "p", "k").is_admitted());
    assert_eq!(exceeded_after(admit(&t, "p", "k")), 10);
    clock.advance(Duration::from_secs(9));
    assert_eq!(exceeded_after(admit(&t, "p", "k")), 1);
    clock.advance(Duration::from_secs(1));
    assert!(admit(&t, "p", "k").is_admitted());
    assert_eq!(t.quota_status("p", "k").unwrap().remaining, 1);
}

#[test]
fn week_quota_runs_sunday_to_saturday() {
    let (clock, t) = at(datetime!(2026-03-07 23:00 UTC)); // a Saturday
    t.quota("p", "k", Some(QuotaSettings::new(1, Period::Week)));
    assert!(admit(&t, "p", "k").is_admitted());
    assert_eq!(exceeded_after(admit(&t, "p", "k")), 3_600);
    clock.set_unix_secs(datetime!(2026-03-08 00:00 UTC).unix_timestamp()); // Sunday
    assert!(admit(&t, "p", "k").is_admitted());
    let r = t.quota_status("p", "k").unwrap();
    assert_eq!(
        r.period_start,
        datetime!(2026-03-08 00:00 UTC).unix_timestamp()
    );
    assert_eq!(
        r.period_end,
        datetime!(2026-03-15 00:00 UTC).unix_timestamp()
    );
}

#[test]
fn month_quota_runs_to_the_first_of_the_next_month() {
    let (clock, t) = at(datetime!(2026-02-27 12:00 UTC));
    t.quota("p", "k", Some(QuotaSettings::new(1, Period::Month)));
    assert!(admit(&t, "p", "k").is_admitted());
    // 1.5 days to 2026-03-01.
    assert_eq!(exceeded_after(admit(&t, "p", "k")), 36 * 3_600);
    clock.set_unix_secs(datetime!(2026-03-01 00:00 UTC).unix_timestamp());
    assert!(admit(&t, "p", "k").is_admitted());
}

#[test]
fn offset_is_subtracted_in_the_initial_period_only() {
    let (clock, t) = at(datetime!(2026-03-04 10:00 UTC));
    let q = QuotaSettings {
        limit: 10,
        period: Period::Day,
        offset: 4,
    };
    t.quota("p", "k", Some(q));
    let first = (0..20)
        .filter(|_| admit(&t, "p", "k").is_admitted())
        .count();
    assert_eq!(first, 6);
    clock.advance(Duration::from_secs(86_400));
    let second = (0..20)
        .filter(|_| admit(&t, "p", "k").is_admitted())
        .count();
    assert_eq!(second, 10);
}

#[tokio::test]
async fn extend_adds_to_the_current_period_and_reset_forgets_it() {
    let (clock, t) = at(datetime!(2026-03-04 10:00 UTC));
    t.quota("p", "k", Some(QuotaSettings::new(2, Period::Day)));
    assert!(admit(&t, "p", "k").is_admitted());
    assert!(admit(&t, "p", "k").is_admitted());
    assert!(!admit(&t, "p", "k").is_admitted());
    let r = t.extend_quota("p", "k", 3).await.unwrap().unwrap();
    assert_eq!(r.remaining, 3);
    let more = (0..10)
        .filter(|_| admit(&t, "p", "k").is_admitted())
        .count();
    assert_eq!(more, 3);
    let r = t.reset_quota("p", "k").await.unwrap().unwrap();
    assert_eq!((r.spent, r.remaining), (0, 2));
    assert!(admit(&t, "p", "k").is_admitted());
    // The extension does not carry into the next period.
    clock.advance(Duration::from_secs(86_400));
    t.extend_quota("p", "k", 100).await.unwrap();
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(t.quota_status("p", "k").unwrap().remaining, 2);
    // Unknown keys: nothing to extend.
    assert_eq!(t.extend_quota("p", "nope", 1).await.unwrap(), None);
}

#[test]
fn changing_the_limit_keeps_usage_and_changing_the_period_restarts() {
    let (_, t) = at(datetime!(2026-03-04 10:00 UTC));
    t.quota("p", "k", Some(QuotaSettings::new(5, Period::Day)));
    for _ in 0..3 {
        assert!(admit(&t, "p", "k").is_admitted());
    }
    t.quota("p", "k", Some(QuotaSettings::new(4, Period::Day)));
    assert_eq!(t.quota_status("p", "k").unwrap().remaining, 1);
    t.quota("p", "k", Some(QuotaSettings::new(4, Period::Week)));
    assert_eq!(t.quota_status("p", "k").unwrap().remaining, 4);
}

#[tokio::test]
async fn usage_per_key_per_day_in_the_aws_shape() {
    let (clock, t) = at(datetime!(2026-03-01 08:00 UTC));
    let weekly = Some(QuotaSettings::new(100, Period::Week));
    t.quota("plan1", "k1", weekly);
    t.quota("plan1", "k2", None);
    t.quota("plan2", "other", None);
    for _ in 0..3 {
        assert!(admit(&t, "plan1", "k1").is_admitted());
    }
    assert!(admit(&t, "plan1", "k2").is_admitted());
    assert!(admit(&t, "plan2", "other").is_admitted());
    clock.advance(Duration::from_secs(2 * 86_400)); // 2026-03-03, nothing on the 2nd
    for _ in 0..2 {
        assert!(admit(&t, "plan1", "k1").is_admitted());
    }
    let report = t
        .usage("plan1", date!(2026 - 03 - 01), date!(2026 - 03 - 03))
        .await
        .unwrap();
    let json = report.to_aws_json();
    assert_eq!(
        json,
        serde_json::json!({
            "usagePlanId": "plan1",
            "startDate": "2026-03-01",
            "endDate": "2026-03-03",
            "items": {
                "k1": [[3, 97], [0, 97], [2, 95]],
                "k2": [[1, null], [0, null], [0, null]],
            },
            "values": {
                "k1": [[3, 97], [0, 97], [2, 95]],
                "k2": [[1, null], [0, null], [0, null]],
            }
        })
    );
    let bad = t
        .usage("plan1", date!(2026 - 03 - 03), date!(2026 - 03 - 01))
        .await;
    assert!(bad.is_err());
}

#[test]
fn usage_keeps_a_bounded_number_of_days() {
    let (clock, t) = at(datetime!(2026-01-01 00:00 UTC));
    let q = t.quota("p", "k", None);
    for _ in 0..(portico_traffic::USAGE_DAYS + 5) {
        assert!(t.admit(&[], Some(&q)).is_admitted());
        clock.advance(Duration::from_secs(86_400));
    }
    let today = clock.unix_secs() / 86_400;
    assert_eq!(
        q.usage().recorded(today).len(),
        portico_traffic::USAGE_DAYS - 1
    );
}
