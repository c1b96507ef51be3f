//! Fixture: an authorizer built against `portico:plugin@0.1.0` (`wit/compat/0.1.0`), before
//! `authorize` took the method ARN. It allows `authorization: legacy` as principal `legacy-user`
//! with context `era=0.1.0`, and answers 401 otherwise. The gateway must keep loading it.

#![allow(unsafe_code)]

#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/compat/0.1.0",
        world: "portico:plugin/authorizer-core",
    });
}

use bindings::{Allow, Decision, Guest};

struct Legacy;

impl Guest for Legacy {
    fn authorize(request: bindings::portico::plugin::types::RequestHead) -> Decision {
        let token = request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str());
        match token {
            Some("legacy") => Decision::Allow(Allow {
                principal_id: "legacy-user".into(),
                context: vec![("era".into(), "0.1.0".into())],
                usage_identifier_key: None,
            }),
            _ => Decision::Unauthorized,
        }
    }
}

bindings::export!(Legacy with_types_in bindings);
