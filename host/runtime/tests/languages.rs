//! JavaScript and Python authorizers (built by `bash plugins/build.sh --all`), and per-call
//! timings of every authorizer (an ignored test: run it in release mode,
//! `cargo test --release -p portico-runtime --test languages -- --ignored --nocapture`).

mod support;

use std::time::{Duration, Instant};

use portico_runtime::{Decision, Grants, InstancePolicy, Plugin, PluginKind};
use support::*;

/// Grants a JS or Python plugin might be given; the templates target `authorizer-core` and
/// import no capability, so these are unused (a grant the component does not import is fine).
fn interpreted_grants() -> Grants {
    Grants {
        log: true,
        kv: true,
        http_allow: vec!["api.example.com".into()],
        ..Grants::default()
    }
}

async fn allows_and_denies(p: &Plugin, prefix: &str) {
    let allow = p
        .authorize(
            &cx(),
            head(&[("Authorization", &format!("{prefix}-allow"))]),
            TEST_ARN,
        )
        .await;
    match allow {
        Ok(Decision::Allow {
            principal_id,
            context,
            ..
        }) => {
            assert_eq!(principal_id, format!("{prefix}-user"));
            assert_eq!(context, vec![("scope".to_string(), "read".to_string())]);
        }
        other => panic!("{prefix}-allow: {other:?}"),
    }
    let deny = p
        .authorize(
            &cx(),
            head(&[("authorization", &format!("{prefix}-deny"))]),
            TEST_ARN,
        )
        .await;
    assert_eq!(deny, Ok(Decision::Forbidden(None)));
    assert_eq!(
        p.authorize(&cx(), head(&[]), TEST_ARN).await,
        Ok(Decision::Unauthorized)
    );
}

#[tokio::test]
async fn javascript_authorizer_allows_and_denies() {
    for policy in [
        InstancePolicy::Reuse { max_uses: 100 },
        InstancePolicy::Fresh,
    ] {
        let p = load_with(
            "authorizer-js",
            PluginKind::Authorizer,
            interpreted_grants(),
            policy,
        );
        allows_and_denies(&p, "js").await;
    }
}

#[tokio::test]
async fn python_authorizer_allows_and_denies() {
    for policy in [
        InstancePolicy::Reuse { max_uses: 100 },
        InstancePolicy::Fresh,
    ] {
        let p = load_with(
            "authorizer-py",
            PluginKind::Authorizer,
            interpreted_grants(),
            policy,
        );
        allows_and_denies(&p, "py").await;
    }
}

/// The templates target `authorizer-core`, which imports no host capability, so a JS
/// authorizer loads with no grants at all (componentize-js would otherwise import every
/// interface its world names, used or not).
#[tokio::test]
async fn javascript_authorizer_needs_no_grants() {
    let s = spec("authorizer-js", PluginKind::Authorizer);
    let p = runtime()
        .load(&s, &fixture("authorizer-js"))
        .expect("loads without grants");
    allows_and_denies(&p, "js").await;
}

/// Median and mean per-call time of `calls` sequential calls.
async fn time_calls(p: &Plugin, token: &str, calls: usize) -> (Duration, Duration) {
    let h = head(&[("authorization", token)]);
    // Warm up: first instantiation, page faults, lazy init.
    for _ in 0..10 {
        p.authorize(&cx(), h.clone(), TEST_ARN).await.unwrap();
    }
    let mut samples = Vec::with_capacity(calls);
    let start = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        p.authorize(&cx(), h.clone(), TEST_ARN).await.unwrap();
        samples.push(t.elapsed());
    }
    let mean = start.elapsed() / calls as u32;
    samples.sort();
    (samples[calls / 2], mean)
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "prints timings; run in release mode with --ignored --nocapture"]
async fn per_call_timings() {
    let cases: [(&str, Grants, &str, usize); 4] = [
        ("authorizer-allow", Grants::default(), "x", 20_000),
        ("authorizer-header", header_grants(), "allow-token", 20_000),
        ("authorizer-js", interpreted_grants(), "js-allow", 2_000),
        ("authorizer-py", interpreted_grants(), "py-allow", 2_000),
    ];
    println!(
        "{:<20} {:<8} {:>12} {:>12}",
        "plugin", "policy", "median", "mean"
    );
    for (name, grants, token, calls) in cases {
        for (label, policy, n) in [
            ("fresh", InstancePolicy::Fresh, calls / 10),
            ("reuse", InstancePolicy::Reuse { max_uses: u32::MAX }, calls),
        ] {
            let mut s = spec(name, PluginKind::Authorizer);
            s.grants = grants.clone();
            s.instances = policy;
            let load = Instant::now();
            let p = runtime().load(&s, &fixture(name)).unwrap();
            let loaded = load.elapsed();
            let (median, mean) = time_calls(&p, token, n).await;
            let usage = runtime().pool_usage();
            println!(
                "{name:<20} {label:<8} {:>10.1}µs {:>10.1}µs   (load {:.1} ms, {n} calls; \
                 idle instance holds {} core instances, {} memories, {} tables)",
                median.as_secs_f64() * 1e6,
                mean.as_secs_f64() * 1e6,
                loaded.as_secs_f64() * 1e3,
                usage.core_instances,
                usage.memories,
                usage.tables,
            );
            drop(p);
        }
    }
}
