//! One authorizer call through the plugin runtime, as the proxy makes it.
//!
//! Each iteration is one `Plugin::authorize` call with a three-header request head:
//! - `fresh`: take a pool slot, build a store and instantiate from the deploy's `InstancePre`,
//!   call `authorize`, check the decision, drop the instance (the default policy);
//! - `reuse`: call an idle live instance and put it back (`instances: reuse`).
//!
//! Plugins (all from `plugins/dist`, built by `bash plugins/build.sh --all`):
//! - `rust_allow`: `authorizer-allow`, which allows everything (the floor of a call);
//! - `rust_header`: `authorizer-header`, a token table from its config (a realistic authorizer);
//! - `js`, `python`: the SDK templates built with componentize-js and componentize-py. They are
//!   skipped, with a note, when their components are missing.
//!
//! Group `authorize_2threads` runs the Rust authorizers on two threads at once, each with its own
//! current-thread tokio runtime (the proxy's thread-per-core shape), both calling the same
//! `Plugin`. An iteration is one call on *each* thread; its time is the wall time of the slower
//! thread divided by its calls, so with perfect scaling it equals the single-thread time. This
//! is where the costs that only show under concurrency live: cross-CPU TLB shootdowns from
//! `madvise` on instance teardown, and contention on shared locks. Group `authorize_2threads_cpu`
//! runs the same and reports CPU time per call instead: the two threads' on-CPU time (`CLOCK_THREAD_CPUTIME_ID`,
//! kernel time included) over all their calls. It is the number to
//! read on a machine where other work competes for the cores, since wall time there also counts
//! the time the bench threads wait for a CPU.
//!
//! Every case is checked once before it is measured: an authorizer that stops allowing fails
//! the bench instead of timing its deny path.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

/// The method ARN passed to the authorizer.
const TEST_ARN: &str = "arn:aws:execute-api:us-east-1:000000000000:api/prod/GET/pets";
use portico_runtime::{
    CallContext, Decision, Grants, InstancePolicy, Plugin, PluginKind, PluginSpec, RequestHead,
    Runtime, RuntimeOptions,
};

/// The header authorizer's config: one allowed token.
const HEADER_CONFIG: &str = r#"{"header":"authorization","tokens":{"allow-token":"user-1"}}"#;

struct Case {
    id: &'static str,
    fixture: &'static str,
    token: &'static str,
    config: Option<&'static str>,
}

const CASES: [Case; 4] = [
    Case {
        id: "rust_allow",
        fixture: "authorizer-allow",
        token: "anything",
        config: None,
    },
    Case {
        id: "rust_header",
        fixture: "authorizer-header",
        token: "allow-token",
        config: Some(HEADER_CONFIG),
    },
    Case {
        id: "js",
        fixture: "authorizer-js",
        token: "js-allow",
        config: None,
    },
    Case {
        id: "python",
        fixture: "authorizer-py",
        token: "py-allow",
        config: None,
    },
];

fn fixture(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/dist")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).ok()
}

fn head(token: &str) -> RequestHead {
    RequestHead {
        request_id: "bench-request".into(),
        method: "GET".into(),
        path: "/prod/pets".into(),
        resource_path: "/pets".into(),
        stage: "prod".into(),
        api_id: "petstore".into(),
        source_ip: "127.0.0.1".into(),
        headers: [
            ("host", "localhost"),
            ("user-agent", "bench"),
            ("authorization", token),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect(),
        ..RequestHead::default()
    }
}

fn load(runtime: &Arc<Runtime>, case: &Case, bytes: &[u8], policy: InstancePolicy) -> Plugin {
    let mut spec = PluginSpec::new(case.fixture, PluginKind::Authorizer);
    spec.grants = Grants {
        log: true,
        config: case.config.map(str::to_owned),
        ..Grants::default()
    };
    spec.instances = policy;
    // JS and Python calls on a fresh instance take about a millisecond; keep the deadline
    // far from any measurement.
    spec.timeout = Duration::from_secs(5);
    runtime
        .load(&spec, bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", case.fixture))
}

/// Threads in the concurrent group: the bench machine's two cores.
const THREADS: usize = 2;

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime")
}

/// This thread's time on a CPU so far (user and kernel): `CLOCK_THREAD_CPUTIME_ID`.
fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or_default(),
        u32::try_from(t.tv_nsec).unwrap_or_default(),
    )
}

/// What [`concurrent_calls`] reports for an iteration.
#[derive(Clone, Copy)]
enum Measure {
    /// The slowest thread's wall time.
    Wall,
    /// The threads' CPU time, averaged over the threads.
    Cpu,
}

/// Runs `iters` calls on each of [`THREADS`] threads at once (released together by a barrier)
/// and returns the time `measure` says.
fn concurrent_calls(plugin: &Plugin, head: &RequestHead, iters: u64, measure: Measure) -> Duration {
    let start = Barrier::new(THREADS);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    let rt = current_thread_runtime();
                    let cx = CallContext::new("bench-request");
                    start.wait();
                    let (t0, cpu0) = (Instant::now(), thread_cpu_time());
                    for _ in 0..iters {
                        let decision =
                            rt.block_on(plugin.authorize(&cx, black_box(head.clone()), TEST_ARN));
                        black_box(decision.ok());
                    }
                    (t0.elapsed(), thread_cpu_time().saturating_sub(cpu0))
                })
            })
            .collect();
        let times = workers.into_iter().map(|w| w.join().expect("bench thread"));
        match measure {
            Measure::Wall => times.map(|(wall, _)| wall).max().unwrap_or_default(),
            Measure::Cpu => times.map(|(_, cpu)| cpu).sum::<Duration>() / THREADS as u32,
        }
    })
}

fn authorizer_call(c: &mut Criterion) {
    let rt = current_thread_runtime();
    let cache = std::env::temp_dir().join("portico-bench-artifacts");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache),
        max_instances: 64,
        ..RuntimeOptions::default()
    })
    .expect("plugin runtime");
    let cx = CallContext::new("bench-request");
    let mut group = c.benchmark_group("authorize");
    for case in &CASES {
        let Some(bytes) = fixture(case.fixture) else {
            let hint = "run `bash plugins/build.sh --all`";
            if case.id == "js" || case.id == "python" {
                eprintln!(
                    "skipping {}: plugins/dist/{}.wasm is missing ({hint})",
                    case.id, case.fixture
                );
                continue;
            }
            panic!("plugins/dist/{}.wasm is missing: {hint}", case.fixture);
        };
        for (label, policy) in [
            ("fresh", InstancePolicy::Fresh),
            ("reuse", InstancePolicy::Reuse { max_uses: u32::MAX }),
        ] {
            let plugin = load(&runtime, case, &bytes, policy);
            let h = head(case.token);
            match rt.block_on(plugin.authorize(&cx, h.clone(), TEST_ARN)) {
                Ok(Decision::Allow { .. }) => {}
                other => panic!("{} does not allow the bench request: {other:?}", case.id),
            }
            group.bench_function(format!("{}/{label}", case.id), |b| {
                b.iter(|| {
                    let decision =
                        rt.block_on(plugin.authorize(&cx, black_box(h.clone()), TEST_ARN));
                    black_box(decision)
                })
            });
        }
    }
    group.finish();

    for (group_name, measure) in [
        ("authorize_2threads", Measure::Wall),
        ("authorize_2threads_cpu", Measure::Cpu),
    ] {
        concurrent_group(c, &rt, &runtime, group_name, measure);
    }
}

fn concurrent_group(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    runtime: &Arc<Runtime>,
    group_name: &str,
    measure: Measure,
) {
    let cx = CallContext::new("bench-request");
    let mut group = c.benchmark_group(group_name);
    for case in CASES.iter().filter(|c| c.id.starts_with("rust_")) {
        let Some(bytes) = fixture(case.fixture) else {
            panic!(
                "plugins/dist/{}.wasm is missing: run `bash plugins/build.sh`",
                case.fixture
            );
        };
        for (label, policy) in [
            ("fresh", InstancePolicy::Fresh),
            ("reuse", InstancePolicy::Reuse { max_uses: u32::MAX }),
        ] {
            let plugin = load(runtime, case, &bytes, policy);
            let h = head(case.token);
            match rt.block_on(plugin.authorize(&cx, h.clone(), TEST_ARN)) {
                Ok(Decision::Allow { .. }) => {}
                other => panic!("{} does not allow the bench request: {other:?}", case.id),
            }
            group.bench_function(format!("{}/{label}", case.id), |b| {
                b.iter_custom(|iters| concurrent_calls(&plugin, &h, iters, measure))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, authorizer_call);
criterion_main!(benches);
