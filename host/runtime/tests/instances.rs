//! Instance policy, concurrency and the artifact cache.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use portico_runtime::{
    Decision, Fault, Grants, InstancePolicy, LoadError, PluginKind, Runtime, RuntimeOptions,
};
use support::*;

#[tokio::test]
async fn reuse_serves_a_thousand_calls_with_one_instance() {
    let p = load_with(
        "authorizer-allow",
        PluginKind::Authorizer,
        Grants::default(),
        InstancePolicy::Reuse { max_uses: 1000 },
    );
    for i in 0..999 {
        let d = p.authorize(&cx(), head(&[]), TEST_ARN).await;
        assert!(matches!(d, Ok(Decision::Allow { .. })), "call {i}: {d:?}");
    }
    assert_eq!(p.instantiations(), 1);
    assert_eq!(p.idle_instances(), 1);
    // The 1000th use retires the instance; the next call gets a new one.
    assert!(p.authorize(&cx(), head(&[]), TEST_ARN).await.is_ok());
    assert_eq!(p.idle_instances(), 0);
    assert!(p.authorize(&cx(), head(&[]), TEST_ARN).await.is_ok());
    assert_eq!(p.instantiations(), 2);
}

#[tokio::test]
async fn fresh_policy_instantiates_per_call() {
    let p = load(
        "authorizer-allow",
        PluginKind::Authorizer,
        Grants::default(),
    );
    for _ in 0..10 {
        assert!(p.authorize(&cx(), head(&[]), TEST_ARN).await.is_ok());
    }
    assert_eq!(p.instantiations(), 10);
    assert_eq!(p.idle_instances(), 0);
}

#[tokio::test]
async fn a_reused_instance_gets_a_new_deadline_every_call() {
    // Calls spread over several times the deadline: a reused instance whose deadline was not
    // armed again would trap once the first one passed.
    let mut s = spec("authorizer-header", PluginKind::Authorizer);
    s.grants = header_grants();
    s.timeout = Duration::from_millis(200);
    s.instances = InstancePolicy::Reuse { max_uses: 100 };
    let p = runtime().load(&s, &fixture("authorizer-header")).unwrap();
    for _ in 0..6 {
        let d = p
            .authorize(&cx(), head(&[("authorization", "allow-token")]), TEST_ARN)
            .await;
        assert!(matches!(d, Ok(Decision::Allow { .. })), "{d:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(p.instantiations(), 1);
}

#[tokio::test]
async fn a_faulting_reused_instance_is_discarded() {
    let p = load_with(
        "function-trap",
        PluginKind::Function,
        Grants::default(),
        InstancePolicy::Reuse { max_uses: 100 },
    );
    for _ in 0..3 {
        assert!(matches!(
            p.invoke_event(&cx(), "{}".into()).await,
            Err(Fault::Trap(_))
        ));
        assert_eq!(p.idle_instances(), 0);
    }
    assert_eq!(p.instantiations(), 3);

    let mut s = spec("mapper-alloc-bomb", PluginKind::Mapper);
    s.memory_limit_bytes = 16 << 20;
    s.instances = InstancePolicy::Reuse { max_uses: 100 };
    let bomb = runtime().load(&s, &fixture("mapper-alloc-bomb")).unwrap();
    assert_eq!(
        bomb.map_request(&cx(), head(&[]), Bytes::new()).await,
        Err(Fault::OutOfMemory)
    );
    assert_eq!(bomb.idle_instances(), 0);
}

#[test]
fn two_hundred_concurrent_calls_on_two_threads() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for policy in [
        InstancePolicy::Fresh,
        InstancePolicy::Reuse { max_uses: 1000 },
    ] {
        let p = load_with(
            "authorizer-header",
            PluginKind::Authorizer,
            header_grants(),
            policy,
        );
        let results = rt.block_on(async {
            let calls: Vec<_> = (0..200)
                .map(|i| {
                    let p = p.clone();
                    tokio::spawn(async move {
                        let token = if i % 2 == 0 {
                            "allow-token"
                        } else {
                            "deny-token"
                        };
                        let cx = portico_runtime::CallContext::new(format!("req-{i}"));
                        (
                            i,
                            p.authorize(&cx, head(&[("authorization", token)]), TEST_ARN)
                                .await,
                        )
                    })
                })
                .collect();
            let mut out = Vec::new();
            for c in calls {
                out.push(c.await.unwrap());
            }
            out
        });
        for (i, r) in results {
            if i % 2 == 0 {
                assert!(
                    matches!(r, Ok(Decision::Allow { .. })),
                    "{policy:?} call {i}: {r:?}"
                );
            } else {
                assert!(
                    matches!(r, Ok(Decision::Forbidden(_))),
                    "{policy:?} call {i}: {r:?}"
                );
            }
        }
    }
}

#[test]
fn thread_per_core_calls_share_a_plugin() {
    // The proxy's shape: one current-thread runtime per core, all calling the same `Plugin`.
    // Each thread keeps reusing an idle instance (its own shard first), so 400 calls need about
    // one instance per thread (a few more if the threads race for a shard); fresh instances
    // work the same way.
    for policy in [
        InstancePolicy::Reuse { max_uses: 1000 },
        InstancePolicy::Fresh,
    ] {
        let p = load_with(
            "authorizer-header",
            PluginKind::Authorizer,
            header_grants(),
            policy,
        );
        std::thread::scope(|s| {
            for t in 0..2 {
                let p = p.clone();
                s.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .build()
                        .unwrap();
                    for i in 0..200 {
                        let d = rt.block_on(p.authorize(
                            &cx(),
                            head(&[("authorization", "allow-token")]),
                            TEST_ARN,
                        ));
                        assert!(
                            matches!(d, Ok(Decision::Allow { .. })),
                            "{policy:?} thread {t} call {i}: {d:?}"
                        );
                    }
                });
            }
        });
        match policy {
            InstancePolicy::Fresh => assert_eq!(p.instantiations(), 400),
            InstancePolicy::Reuse { .. } => {
                assert!(p.instantiations() < 40, "{} instances", p.instantiations());
                assert!(p.idle_instances() >= 1);
            }
        }
    }
}

#[tokio::test]
async fn calls_wait_for_a_free_slot() {
    // One slot: concurrent calls queue on it instead of failing; with a deadline too short to
    // wait, the call is reported as overloaded.
    let rt = Runtime::new(RuntimeOptions {
        max_instances: 1,
        ..RuntimeOptions::default()
    })
    .unwrap();
    let p = rt
        .load(
            &spec("authorizer-allow", PluginKind::Authorizer),
            &fixture("authorizer-allow"),
        )
        .unwrap();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.authorize(&cx(), head(&[]), TEST_ARN).await })
        })
        .collect();
    for c in calls {
        assert!(matches!(c.await.unwrap(), Ok(Decision::Allow { .. })));
    }

    // The hog holds the only slot for 2 s; once it does (its instance is alive), a call
    // whose 30 ms deadline passes while waiting for the slot is overloaded. Waiting for the
    // instance rather than sleeping keeps this exact on a slow machine.
    let mut s = spec("authorizer-infinite-loop", PluginKind::Authorizer);
    s.timeout = Duration::from_secs(2);
    let hog = rt.load(&s, &fixture("authorizer-infinite-loop")).unwrap();
    let mut quick = spec("authorizer-allow", PluginKind::Authorizer);
    quick.timeout = Duration::from_millis(30);
    let quick = rt.load(&quick, &fixture("authorizer-allow")).unwrap();
    let hogging = tokio::spawn(async move { hog.authorize(&cx(), head(&[]), TEST_ARN).await });
    let waiting = Instant::now();
    while rt.pool_usage().component_instances == 0 {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the hog never started"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        quick.authorize(&cx(), head(&[]), TEST_ARN).await,
        Err(Fault::Overloaded)
    );
    assert_eq!(hogging.await.unwrap(), Err(Fault::Deadline));
    assert!(matches!(
        quick.authorize(&cx(), head(&[]), TEST_ARN).await,
        Ok(Decision::Allow { .. })
    ));
}

#[tokio::test]
async fn artifact_cache_is_used_and_survives_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let options = RuntimeOptions {
        cache_dir: Some(dir.path().to_owned()),
        max_instances: 8,
        ..RuntimeOptions::default()
    };
    let bytes = fixture("authorizer-allow");
    let s = spec("authorizer-allow", PluginKind::Authorizer);
    let call = async |rt: &Arc<Runtime>| {
        let p = rt.load(&s, &bytes).unwrap();
        assert!(matches!(
            p.authorize(&cx(), head(&[]), TEST_ARN).await,
            Ok(Decision::Allow { .. })
        ));
    };

    let rt = Runtime::new(options.clone()).unwrap();
    call(&rt).await;
    let artifacts: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let artifact = &artifacts[0];
    let name = artifact.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(&rt.load(&s, &bytes).unwrap().digest().to_owned()),
        "{name}"
    );
    assert!(name.ends_with(".cwasm"), "{name}");

    // A second runtime loads the artifact.
    let modified = std::fs::metadata(artifact).unwrap().modified().unwrap();
    let rt2 = Runtime::new(options.clone()).unwrap();
    call(&rt2).await;
    assert_eq!(
        std::fs::metadata(artifact).unwrap().modified().unwrap(),
        modified
    );

    // Corrupt it in the middle, truncate it, empty it: each time the runtime compiles again and
    // rewrites a good artifact.
    let good = std::fs::read(artifact).unwrap();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    for damaged in [
        flipped,
        good[..good.len() / 3].to_vec(),
        Vec::new(),
        b"junk".to_vec(),
    ] {
        std::fs::write(artifact, &damaged).unwrap();
        let rt = Runtime::new(options.clone()).unwrap();
        call(&rt).await;
        assert_eq!(std::fs::read(artifact).unwrap(), good);
    }

    // Garbage is still rejected with a cache, and nothing is cached for it.
    let err = rt
        .load(&spec("garbage", PluginKind::Authorizer), b"garbage")
        .unwrap_err();
    assert!(matches!(err, LoadError::Invalid { .. }));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn options_are_checked() {
    assert!(
        Runtime::new(RuntimeOptions {
            max_instances: 0,
            ..RuntimeOptions::default()
        })
        .is_err()
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    assert!(
        Runtime::new(RuntimeOptions {
            cache_dir: Some(file.path().join("sub")),
            ..RuntimeOptions::default()
        })
        .is_err()
    );
}
