//! Single-flight fills: one leader per missing key, followers served the leader's answer, and
//! no stuck keys however the leader ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use portico_cache::{CacheKey, CachedResponse, Fill, FillGuard, FillWait, StageCache, TimedOut};
use tokio::sync::Barrier;

const BOUND: Duration = Duration::from_secs(10);

fn key(name: &str) -> CacheKey {
    CacheKey::builder().part("GET").part(name).build()
}

fn response(body: &'static [u8]) -> Arc<CachedResponse> {
    Arc::new(CachedResponse {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::from_static(body),
    })
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_requests_make_one_upstream_call() {
    let cache = Arc::new(StageCache::new(1 << 20));
    let upstream_calls = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(100));
    let k = key("/pets");

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (cache, calls, start, k) = (
                Arc::clone(&cache),
                Arc::clone(&upstream_calls),
                Arc::clone(&start),
                k.clone(),
            );
            tokio::spawn(async move {
                start.wait().await;
                if let Some(hit) = cache.get(&k) {
                    return hit;
                }
                match cache.begin_fill(&k) {
                    Fill::Leader(guard) => {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await; // the upstream
                        let fetched = response(b"pets");
                        guard.complete(Some(Arc::clone(&fetched)), Some(Duration::from_secs(60)));
                        fetched
                    }
                    Fill::Follower(wait) => wait
                        .wait(BOUND)
                        .await
                        .expect("leader finishes in time")
                        .expect("leader had a response"),
                }
            })
        })
        .collect();

    let mut responses = Vec::new();
    for task in tasks {
        responses.push(task.await.expect("task"));
    }
    assert_eq!(upstream_calls.load(Ordering::SeqCst), 1);
    assert_eq!(responses.len(), 100);
    assert!(responses.iter().all(|r| Arc::ptr_eq(r, &responses[0])));
    assert_eq!(&responses[0].body[..], b"pets");
    // The leader stored it too.
    assert!(Arc::ptr_eq(&cache.get(&k).expect("stored"), &responses[0]));
}

#[tokio::test]
async fn followers_get_the_response_even_when_it_is_not_cacheable() {
    let cache = StageCache::new(1 << 20);
    let k = key("/pets");
    let guard = leader(cache.begin_fill(&k));
    let waits: Vec<_> = (0..3).map(|_| follower(cache.begin_fill(&k))).collect();
    let fetched = response(b"no-store");
    guard.complete(Some(Arc::clone(&fetched)), None);
    for wait in waits {
        let got = wait.wait(BOUND).await.unwrap().expect("shared response");
        assert!(Arc::ptr_eq(&got, &fetched));
    }
    assert!(cache.get(&k).is_none(), "store_ttl None stores nothing");
}

#[tokio::test]
async fn leader_with_nothing_usable_sends_followers_upstream() {
    let cache = StageCache::new(1 << 20);
    let k = key("/pets");
    let guard = leader(cache.begin_fill(&k));
    let wait = follower(cache.begin_fill(&k));
    guard.complete(None, Some(Duration::from_secs(60)));
    assert_eq!(wait.wait(BOUND).await, Ok(None));
    assert!(cache.get(&k).is_none());
}

#[tokio::test]
async fn dropped_leader_wakes_followers_promptly_with_none() {
    let cache = Arc::new(StageCache::new(1 << 20));
    let k = key("/pets");
    let guard = leader(cache.begin_fill(&k));
    let waits: Vec<_> = (0..5)
        .map(|_| {
            let wait = follower(cache.begin_fill(&k));
            tokio::spawn(async move {
                let started = Instant::now();
                (wait.wait(BOUND).await, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(guard); // the leader's request failed
    for wait in waits {
        let (result, waited) = wait.await.unwrap();
        assert_eq!(result, Ok(None));
        assert!(waited < Duration::from_secs(2), "woken late: {waited:?}");
    }
    // No stuck key: the next request leads.
    let _next = leader(cache.begin_fill(&k));
}

#[tokio::test]
async fn cancelled_leader_wakes_followers() {
    let cache = Arc::new(StageCache::new(1 << 20));
    let k = key("/pets");
    let guard = leader(cache.begin_fill(&k));
    let wait = follower(cache.begin_fill(&k));
    let leader_task = tokio::spawn(async move {
        let _guard = guard;
        tokio::time::sleep(Duration::from_secs(3600)).await; // an upstream that never answers
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    leader_task.abort(); // the client went away
    assert_eq!(wait.wait(BOUND).await, Ok(None));
    let _next = leader(cache.begin_fill(&k));
}

#[tokio::test]
async fn panicking_leader_wakes_followers() {
    let cache = Arc::new(StageCache::new(1 << 20));
    let k = key("/pets");
    let guard = leader(cache.begin_fill(&k));
    let wait = follower(cache.begin_fill(&k));
    let leader_task = tokio::spawn(async move {
        let _guard = guard;
        panic!("leader panicked (expected by this test)");
    });
    assert!(leader_task.await.unwrap_err().is_panic());
    assert_eq!(wait.wait(BOUND).await, Ok(None));
    let _next = leader(cache.begin_fill(&k));
}

#[tokio::test]
async fn follower_gives_up_after_its_bound() {
    let cache = StageCache::new(1 << 20);
    let k = key("/pets");
    let _guard = leader(cache.begin_fill(&k));
    let wait = follower(cache.begin_fill(&k));
    let started = Instant::now();
    assert_eq!(wait.wait(Duration::from_millis(100)).await, Err(TimedOut));
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn completed_key_can_be_filled_again() {
    let cache = StageCache::new(1 << 20);
    let k = key("/pets");
    leader(cache.begin_fill(&k)).complete(Some(response(b"a")), None);
    leader(cache.begin_fill(&k)).complete(None, None);
    drop(leader(cache.begin_fill(&k)));
    let _still_leads = leader(cache.begin_fill(&k));
}

#[tokio::test]
async fn fill_after_a_stored_completion_is_served_from_the_cache() {
    let cache = StageCache::new(1 << 20);
    let k = key("/pets");
    let fetched = response(b"pets");
    leader(cache.begin_fill(&k))
        .complete(Some(Arc::clone(&fetched)), Some(Duration::from_secs(60)));
    // A request that missed just before the leader stored joins as an already-served follower.
    let got = follower(cache.begin_fill(&k)).wait(Duration::ZERO).await;
    assert!(Arc::ptr_eq(&got.unwrap().unwrap(), &fetched));
    // Once invalidated, the key is filled afresh.
    cache.invalidate(&k);
    let _leads = leader(cache.begin_fill(&k));
}

#[tokio::test]
async fn oversized_result_is_shared_but_not_stored() {
    let cache = StageCache::new(4 << 20);
    let k = key("/big");
    let guard = leader(cache.begin_fill(&k));
    let wait = follower(cache.begin_fill(&k));
    let big = Arc::new(CachedResponse {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::from(vec![0u8; portico_cache::MAX_ENTRY_BODY + 1]),
    });
    guard.complete(Some(Arc::clone(&big)), Some(Duration::from_secs(60)));
    assert!(Arc::ptr_eq(&wait.wait(BOUND).await.unwrap().unwrap(), &big));
    assert!(cache.get(&k).is_none());
}

#[tokio::test]
async fn fills_for_different_keys_are_independent() {
    let cache = StageCache::new(1 << 20);
    let a = leader(cache.begin_fill(&key("/a")));
    let b = leader(cache.begin_fill(&key("/b")));
    let wait_a = follower(cache.begin_fill(&key("/a")));
    b.complete(Some(response(b"b")), None);
    a.complete(Some(response(b"a")), None);
    assert_eq!(&wait_a.wait(BOUND).await.unwrap().unwrap().body[..], b"a");
}
