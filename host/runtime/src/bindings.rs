//! The only place `bindgen!` runs. The `capabilities` world is generated once; the plugin
//! worlds reuse its interface modules (`with:`), so one set of `Host` impls (in `cap/`) serves
//! every world. Exports are async (`call_async`, for epoch yields); only `http-client.fetch`
//! is an async import, the other capabilities (and `request-tls`) answer synchronously.
//!
//! The generated code uses `unsafe` (`TypedFunc::new_unchecked` on exports whose types the
//! generated `*Pre::new` has checked), hence the allow on these modules alone.

/// The host capabilities, generated once and shared by every world.
#[allow(unsafe_code, missing_docs, clippy::all)]
pub(crate) mod caps {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "capabilities",
        imports: {
            "portico:plugin/http-client.fetch": async,
        },
    });
}

macro_rules! world {
    ($module:ident, $world:literal) => {
        #[allow(unsafe_code, missing_docs, clippy::all)]
        pub(crate) mod $module {
            wasmtime::component::bindgen!({
                path: "../../wit",
                world: $world,
                exports: { default: async },
                with: {
                    "portico:plugin/types": super::caps::portico::plugin::types,
                    "portico:plugin/log": super::caps::portico::plugin::log,
                    "portico:plugin/config": super::caps::portico::plugin::config,
                    "portico:plugin/http-client": super::caps::portico::plugin::http_client,
                    "portico:plugin/kv": super::caps::portico::plugin::kv,
                    "portico:plugin/request-tls": super::caps::portico::plugin::request_tls,
                },
            });
        }
    };
}

world!(authorizer, "authorizer");

/// The `authorize` export of components built for `portico:plugin@0.1.0` (`wit/compat/0.1.0`):
/// no method ARN, no `lambda-output` decision. Only exports are typed here; their imports are
/// 0.1.0 interfaces, which the linker resolves to today's 0.1.x ones (semver-compatible).
#[allow(unsafe_code, missing_docs, clippy::all)]
pub(crate) mod authorizer_v0 {
    wasmtime::component::bindgen!({
        path: "../../wit/compat/0.1.0",
        world: "authorizer-core",
        exports: { default: async },
        with: {
            "portico:plugin/types": super::caps::portico::plugin::types,
        },
    });
}
world!(mapper, "mapper");
world!(validator, "validator");
world!(function, "function");
world!(template_mapper, "template-mapper");
world!(model_validator, "model-validator");
