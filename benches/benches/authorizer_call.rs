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
//! Every case is checked once before it is measured: an authorizer that stops allowing fails
//! the bench instead of timing its deny path.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
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

fn authorizer_call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
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
            match rt.block_on(plugin.authorize(&cx, h.clone())) {
                Ok(Decision::Allow { .. }) => {}
                other => panic!("{} does not allow the bench request: {other:?}", case.id),
            }
            group.bench_function(format!("{}/{label}", case.id), |b| {
                b.iter(|| {
                    let decision = rt.block_on(plugin.authorize(&cx, black_box(h.clone())));
                    black_box(decision)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, authorizer_call);
criterion_main!(benches);
