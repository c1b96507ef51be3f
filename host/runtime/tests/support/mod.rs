//! Shared helpers for the runtime's integration tests: fixtures from `plugins/dist`, one
//! runtime per test binary, request heads.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use portico_runtime::{
    CallContext, Grants, InstancePolicy, Plugin, PluginKind, PluginSpec, RequestHead, Runtime,
    RuntimeOptions,
};

/// `plugins/dist/<name>.wasm`, or a failure telling how to build it.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins/dist")
        .join(format!("{name}.wasm"));
    match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => panic!(
            "fixture {} is missing ({e}): run bash plugins/build.sh first{}",
            path.display(),
            if name.ends_with("-js") || name.ends_with("-py") {
                " (with --all for the JS and Python authorizers)"
            } else {
                ""
            }
        ),
    }
}

/// Where this test binary caches precompiled artifacts (JS and Python components take
/// seconds to compile).
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("portico-runtime-artifacts")
}

/// The runtime shared by the tests of one binary.
pub fn runtime() -> Arc<Runtime> {
    static RT: OnceLock<Arc<Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        Runtime::new(RuntimeOptions {
            cache_dir: Some(cache_dir()),
            max_instances: 256,
            ..RuntimeOptions::default()
        })
        .expect("runtime")
    })
    .clone()
}

/// A spec with the default limits and no grants, except a deadline generous enough for a
/// debug build on a loaded 2-core machine (tests of deadlines set their own).
pub fn spec(name: &str, kind: PluginKind) -> PluginSpec {
    let mut s = PluginSpec::new(name, kind);
    s.timeout = RELAXED;
    s
}

/// The deadline of tests that are not about deadlines.
pub const RELAXED: Duration = Duration::from_secs(10);

/// Loads a fixture under its own name.
pub fn load(name: &str, kind: PluginKind, grants: Grants) -> Plugin {
    let mut s = spec(name, kind);
    s.grants = grants;
    runtime()
        .load(&s, &fixture(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Loads a fixture with an instance policy.
pub fn load_with(name: &str, kind: PluginKind, grants: Grants, policy: InstancePolicy) -> Plugin {
    let mut s = spec(name, kind);
    s.grants = grants;
    s.instances = policy;
    runtime()
        .load(&s, &fixture(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A GET request head with the given headers.
pub fn head(headers: &[(&str, &str)]) -> RequestHead {
    RequestHead {
        request_id: "req-1".into(),
        method: "GET".into(),
        path: "/prod/pets".into(),
        resource_path: "/pets".into(),
        stage: "prod".into(),
        api_id: "petstore".into(),
        source_ip: "127.0.0.1".into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        ..RequestHead::default()
    }
}

/// The method ARN the tests pass to authorizers.
pub const TEST_ARN: &str = "arn:aws:execute-api:us-east-1:000000000000:api/prod/GET/pets";

/// A call context.
pub fn cx() -> CallContext {
    CallContext::new("req-1")
}

/// The config the header authorizer is tested with.
pub const HEADER_CONFIG: &str =
    r#"{"header":"authorization","tokens":{"allow-token":"user-1"},"deny":["deny-token"]}"#;

/// Grants for the header authorizer.
pub fn header_grants() -> Grants {
    Grants {
        log: true,
        config: Some(HEADER_CONFIG.into()),
        ..Grants::default()
    }
}

/// A short deadline for misbehaving fixtures.
pub const SHORT: Duration = Duration::from_millis(50);
