//! Admission order, precedence and refunds (AWS §3.1).

use std::sync::Arc;

use portico_traffic::{Admission, Limit, ManualClock, Period, QuotaSettings, Traffic};

fn setup() -> (Arc<ManualClock>, Arc<Traffic>) {
    let clock = Arc::new(ManualClock::new(1_767_225_600)); // 2026-01-01T00:00:00Z
    let traffic = Traffic::in_memory(Some(Limit::new(10_000.0, 5_000)), clock.clone());
    (clock, traffic)
}

#[test]
fn the_first_level_out_of_tokens_answers() {
    let (_, t) = setup();
    let method = t.limit("plan:p/key:k/method:/pets/GET", Limit::new(1.0, 2));
    let key = t.limit("plan:p/key:k", Limit::new(1.0, 3));
    let stage = t.limit("stage:a/prod/method:*/*", Limit::new(1.0, 100));
    let account = t.account().unwrap().clone();
    let levels = [&method, &key, &stage, &account];
    assert!(t.admit(&levels, None).is_admitted());
    assert!(t.admit(&levels, None).is_admitted());
    let third = t.admit(&levels, None);
    assert_eq!(
        third,
        Admission::Throttled {
            retry_after: portico_traffic::RetryAfter::from_secs(1),
            level: 0
        }
    );
    assert_eq!(third.status(), 429);
    // The per-key bucket still has its third token: the method level rejected first, so
    // nothing was taken from the later levels.
    assert_eq!(key.tokens(0), 1.0);
    // Another method of the same key uses the per-key bucket's last token, then level 1 answers.
    let other = t.limit("plan:p/key:k/method:/pets/POST", Limit::new(1.0, 10));
    assert!(
        t.admit(&[&other, &key, &stage, &account], None)
            .is_admitted()
    );
    let rejected = t.admit(&[&other, &key, &stage, &account], None);
    assert!(
        matches!(rejected, Admission::Throttled { level: 1, .. }),
        "{rejected:?}"
    );
}

#[test]
fn a_later_rejection_refunds_the_earlier_levels() {
    let (_, t) = setup();
    let key = t.limit("plan:p/key:k", Limit::new(1.0, 5));
    let stage = t.limit("stage:a/prod/method:/x/GET", Limit::new(1.0, 1));
    assert!(t.admit(&[&key, &stage], None).is_admitted());
    assert_eq!(key.tokens(0), 4.0);
    for _ in 0..10 {
        let a = t.admit(&[&key, &stage], None);
        assert!(matches!(a, Admission::Throttled { level: 1, .. }), "{a:?}");
    }
    assert_eq!(
        key.tokens(0),
        4.0,
        "the stage's rejections did not drain the key"
    );
}

#[test]
fn the_account_level_applies_last() {
    let clock = Arc::new(ManualClock::new(0));
    let t = Traffic::in_memory(Some(Limit::new(1.0, 1)), clock);
    let stage = t.limit("stage:a/prod/method:*/*", Limit::new(100.0, 100));
    let account = t.account().unwrap().clone();
    assert!(t.admit(&[&stage, &account], None).is_admitted());
    let a = t.admit(&[&stage, &account], None);
    assert!(matches!(a, Admission::Throttled { level: 1, .. }), "{a:?}");
    assert_eq!(stage.tokens(0), 99.0);
}

#[test]
fn throttled_requests_consume_no_quota_and_quota_rejections_refund_tokens() {
    let (_, t) = setup();
    let key = t.limit("plan:p/key:k", Limit::new(1.0, 2));
    let quota = t.quota("p", "k", Some(QuotaSettings::new(1, Period::Day)));
    assert!(t.admit(&[&key], Some(&quota)).is_admitted());
    assert_eq!(t.quota_status("p", "k").unwrap().remaining, 0);
    let exceeded = t.admit(&[&key], Some(&quota));
    assert!(
        matches!(exceeded, Admission::QuotaExceeded { .. }),
        "{exceeded:?}"
    );
    assert_eq!(exceeded.status(), 429);
    assert_eq!(
        key.tokens(0),
        1.0,
        "the quota rejection gave the token back"
    );

    let quota2 = t.quota("p", "k2", Some(QuotaSettings::new(10, Period::Day)));
    let tight = t.limit("plan:p/key:k2", Limit::new(1.0, 1));
    assert!(t.admit(&[&tight], Some(&quota2)).is_admitted());
    for _ in 0..5 {
        assert!(matches!(
            t.admit(&[&tight], Some(&quota2)),
            Admission::Throttled { .. }
        ));
    }
    assert_eq!(
        t.quota_status("p", "k2").unwrap().remaining,
        9,
        "throttled: no quota used"
    );
}

#[test]
fn a_blocking_limit_rejects_everything() {
    let (_, t) = setup();
    let blocked = t.limit("stage:a/prod/method:/admin/GET", Limit::new(0.0, 0));
    let a = t.admit(&[&blocked], None);
    assert_eq!(
        a,
        Admission::Throttled {
            retry_after: portico_traffic::RetryAfter::BLOCKED,
            level: 0
        }
    );
}
