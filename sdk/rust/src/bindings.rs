//! The generated bindings for `wit/` (package `portico:plugin@0.1.3`), one module per world.
//!
//! The host-capability imports (`types`, `log`, `config`, `http-client`, `kv`, `request-tls`) are
//! generated once, in [`capabilities`], and every plugin world points at them with `with`, so a
//! [`RequestHead`](capabilities::portico::plugin::types::RequestHead) is the same Rust type
//! whichever world a plugin exports. An import a plugin never calls does not appear in its
//! component: the component linker keeps only the imports the code uses, which is what lets the
//! host refuse a plugin that needs a capability its route does not grant.
//!
//! Each world module holds that world's own types (such as `Decision`), its `Guest` trait and a
//! public export macro (`export_authorizer_world!` …). Plugins do not call those macros
//! directly: they use [`export_authorizer!`](crate::export_authorizer) and friends, which adapt
//! the SDK's traits to the generated ones.

#![allow(unsafe_code, missing_docs)]

/// Imports only: the host capabilities and the shared types.
pub mod capabilities {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "portico:plugin/capabilities",
        runtime_path: "::portico_sdk::__wit_bindgen::rt",
        additional_derives: [PartialEq, Eq],
    });
}

/// The `authorizer` world: `authorize(request-head) -> decision`.
pub mod authorizer {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "portico:plugin/authorizer",
        runtime_path: "::portico_sdk::__wit_bindgen::rt",
        with: {
            "portico:plugin/types@0.1.3": crate::bindings::capabilities::portico::plugin::types,
            "portico:plugin/log@0.1.3": crate::bindings::capabilities::portico::plugin::log,
            "portico:plugin/config@0.1.3": crate::bindings::capabilities::portico::plugin::config,
            "portico:plugin/http-client@0.1.3": crate::bindings::capabilities::portico::plugin::http_client,
            "portico:plugin/kv@0.1.3": crate::bindings::capabilities::portico::plugin::kv,
            "portico:plugin/request-tls@0.1.3": crate::bindings::capabilities::portico::plugin::request_tls,
        },
        additional_derives: [PartialEq, Eq],
        export_macro_name: "export_authorizer_world",
        pub_export_macro: true,
        default_bindings_module: "::portico_sdk::bindings::authorizer",
    });
}

/// The `mapper` world: `map-request` and `map-response`.
pub mod mapper {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "portico:plugin/mapper",
        runtime_path: "::portico_sdk::__wit_bindgen::rt",
        with: {
            "portico:plugin/types@0.1.3": crate::bindings::capabilities::portico::plugin::types,
            "portico:plugin/log@0.1.3": crate::bindings::capabilities::portico::plugin::log,
            "portico:plugin/config@0.1.3": crate::bindings::capabilities::portico::plugin::config,
            "portico:plugin/http-client@0.1.3": crate::bindings::capabilities::portico::plugin::http_client,
            "portico:plugin/kv@0.1.3": crate::bindings::capabilities::portico::plugin::kv,
            "portico:plugin/request-tls@0.1.3": crate::bindings::capabilities::portico::plugin::request_tls,
        },
        additional_derives: [PartialEq, Eq],
        export_macro_name: "export_mapper_world",
        pub_export_macro: true,
        default_bindings_module: "::portico_sdk::bindings::mapper",
    });
}

/// The `validator` world: `validate(request-head, body) -> result<_, string>`.
pub mod validator {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "portico:plugin/validator",
        runtime_path: "::portico_sdk::__wit_bindgen::rt",
        with: {
            "portico:plugin/types@0.1.3": crate::bindings::capabilities::portico::plugin::types,
            "portico:plugin/log@0.1.3": crate::bindings::capabilities::portico::plugin::log,
            "portico:plugin/config@0.1.3": crate::bindings::capabilities::portico::plugin::config,
            "portico:plugin/http-client@0.1.3": crate::bindings::capabilities::portico::plugin::http_client,
            "portico:plugin/kv@0.1.3": crate::bindings::capabilities::portico::plugin::kv,
            "portico:plugin/request-tls@0.1.3": crate::bindings::capabilities::portico::plugin::request_tls,
        },
        export_macro_name: "export_validator_world",
        pub_export_macro: true,
        default_bindings_module: "::portico_sdk::bindings::validator",
    });
}

/// The `function` world: `handle(event-json) -> result<string, string>`.
pub mod function {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "portico:plugin/function",
        runtime_path: "::portico_sdk::__wit_bindgen::rt",
        with: {
            "portico:plugin/types@0.1.3": crate::bindings::capabilities::portico::plugin::types,
            "portico:plugin/log@0.1.3": crate::bindings::capabilities::portico::plugin::log,
            "portico:plugin/config@0.1.3": crate::bindings::capabilities::portico::plugin::config,
            "portico:plugin/http-client@0.1.3": crate::bindings::capabilities::portico::plugin::http_client,
            "portico:plugin/kv@0.1.3": crate::bindings::capabilities::portico::plugin::kv,
            "portico:plugin/request-tls@0.1.3": crate::bindings::capabilities::portico::plugin::request_tls,
        },
        export_macro_name: "export_function_world",
        pub_export_macro: true,
        default_bindings_module: "::portico_sdk::bindings::function",
    });
}
