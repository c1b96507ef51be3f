//! Unit tests of the helpers, run on the host target:
//! `cargo test --manifest-path plugins/Cargo.toml -p portico-sdk --target x86_64-unknown-linux-gnu`
//! (the capabilities themselves only exist inside a component).

use serde_json::json;

use crate::{Decision, MappedRequest, Reply, Request, function};

fn request(headers: &[(&str, &str)], query: &[(&str, &str)]) -> Request {
    let fields = |f: &[(&str, &str)]| {
        f.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    Request {
        request_id: "r-1".into(),
        method: "GET".into(),
        path: "/prod/pets".into(),
        resource_path: "/pets".into(),
        stage: "prod".into(),
        api_id: "pets".into(),
        source_ip: "127.0.0.1".into(),
        headers: fields(headers),
        query: fields(query),
        path_parameters: fields(&[("id", "42")]),
        stage_variables: fields(&[("backend", "b")]),
    }
}

#[test]
fn headers_are_case_insensitive_and_query_is_not() {
    let r = request(
        &[("Authorization", "a"), ("X-Multi", "1"), ("x-multi", "2")],
        &[("Name", "n")],
    );
    assert_eq!(r.header("authorization"), Some("a"));
    assert_eq!(r.header_values("X-MULTI").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(r.query("Name"), Some("n"));
    assert_eq!(r.query("name"), None);
    assert_eq!(r.path_parameter("id"), Some("42"));
    assert_eq!(r.stage_variable("backend"), Some("b"));
}

#[test]
fn decisions_build_and_context_only_sticks_to_allow() {
    let allow = Decision::allow("u")
        .with_context("scope", "read")
        .with_usage_identifier_key("k");
    let Decision::Allow(allow) = allow else {
        panic!("not an allow")
    };
    assert_eq!(allow.principal_id, "u");
    assert_eq!(allow.context, [("scope".to_string(), "read".to_string())]);
    assert_eq!(allow.usage_identifier_key.as_deref(), Some("k"));
    assert_eq!(
        Decision::forbidden().with_context("a", "b"),
        Decision::Forbidden(None)
    );
    assert_eq!(
        Decision::forbidden_with("no"),
        Decision::Forbidden(Some("no".into()))
    );
    assert!(!Decision::unauthorized().is_allow());
}

#[test]
fn mapped_request_header_edits() {
    let r = request(&[("Accept", "*/*"), ("X-Drop", "1")], &[("q", "1")]);
    let mut m = MappedRequest::from_request(&r, b"body".to_vec()).with_header("x-added", "yes");
    m.set_header("accept", "application/json");
    m.remove_header("x-drop");
    assert_eq!(m.header("ACCEPT"), Some("application/json"));
    assert_eq!(m.header("x-drop"), None);
    assert_eq!(m.header("x-added"), Some("yes"));
    assert_eq!(m.query, [("q".to_string(), "1".to_string())]);
    assert_eq!(m.body, b"body");
}

#[test]
fn replies() {
    let r = Reply::json(400, &json!({"message": "bad"}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.headers,
        [("content-type".to_string(), "application/json".to_string())]
    );
    assert_eq!(r.body, br#"{"message":"bad"}"#);
}

#[test]
fn function_event_helpers_read_both_payload_formats() {
    let v1 = json!({"httpMethod": "POST", "path": "/p", "headers": {"X-A": "1"},
                    "queryStringParameters": {"q": "v"}, "body": "b"});
    assert_eq!(function::method(&v1), Some("POST"));
    assert_eq!(function::path(&v1), Some("/p"));
    assert_eq!(function::header(&v1, "x-a"), Some("1"));
    assert_eq!(function::query(&v1, "q"), Some("v"));
    assert_eq!(function::body(&v1), Some("b"));
    let v2 = json!({"version": "2.0", "rawPath": "/r", "requestContext": {"http": {"method": "GET"}},
                    "queryStringParameters": null});
    assert_eq!(function::method(&v2), Some("GET"));
    assert_eq!(function::path(&v2), Some("/r"));
    assert_eq!(function::query(&v2, "q"), None);
    assert_eq!(function::body(&v2), None);
}

#[test]
fn function_export_parses_the_event_and_serialises_the_answer() {
    struct Echo;
    impl crate::Function for Echo {
        fn handle(event: serde_json::Value) -> Result<serde_json::Value, String> {
            Ok(function::json_response(200, &event["body"]))
        }
    }
    let out = function::__handle::<Echo>(r#"{"body":"x"}"#).unwrap();
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["statusCode"], 200);
    assert_eq!(out["headers"]["content-type"], "application/json");
    assert_eq!(out["body"], r#""x""#);
    assert!(
        function::__handle::<Echo>("not json")
            .unwrap_err()
            .starts_with("event is not JSON")
    );
}
