//! Lambda authorizer output: both shapes, context stringification and its refusals, the limits.

use std::time::SystemTime;

use portico_auth::output::{
    AuthorizerOutput, MAX_OUTPUT, OutputError, parse_output, stringify_context,
};
use portico_auth::policy::{Facts, Outcome, Principal};
use serde_json::{Value, json};

const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets";

fn parse(v: Value) -> Result<AuthorizerOutput, OutputError> {
    parse_output(v.to_string().as_bytes())
}

fn policy_doc() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ARN}]})
}

#[test]
fn policy_shape() {
    let out = parse(json!({
        "principalId": "user-1",
        "policyDocument": policy_doc(),
        "context": {"stringKey": "value", "numberKey": 1, "floatKey": 1.5, "booleanKey": true},
        "usageIdentifierKey": "key-123"
    }))
    .unwrap();
    let AuthorizerOutput::Policy(p) = out else {
        panic!("not the policy shape")
    };
    assert_eq!(p.principal_id, "user-1");
    assert_eq!(p.usage_identifier_key.as_deref(), Some("key-123"));
    let ctx: Vec<(&str, &str)> = p
        .context
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        ctx,
        [
            ("stringKey", "value"),
            ("numberKey", "1"),
            ("floatKey", "1.5"),
            ("booleanKey", "true")
        ]
    );
    let facts = Facts {
        action: "execute-api:Invoke",
        resource: ARN,
        principal: Principal::Anonymous,
        source_ip: None,
        user_agent: None,
        referer: None,
        source_arn: None,
        secure_transport: true,
        now: SystemTime::now(),
    };
    assert_eq!(p.policy.evaluate(&facts), Outcome::Allow);
}

#[test]
fn policy_document_as_a_string_and_without_context() {
    let out =
        parse(json!({"principalId": "u", "policyDocument": policy_doc().to_string()})).unwrap();
    let AuthorizerOutput::Policy(p) = out else {
        panic!("not the policy shape")
    };
    assert!(p.context.is_empty());
    assert_eq!(p.usage_identifier_key, None);
    let out = parse(json!({"principalId": "u", "policyDocument": policy_doc(), "context": null}))
        .unwrap();
    assert!(matches!(out, AuthorizerOutput::Policy(_)));
}

#[test]
fn policy_shape_refusals() {
    let cases = [
        (
            json!({"policyDocument": policy_doc()}),
            OutputError::PrincipalId,
        ),
        (
            json!({"principalId": 7, "policyDocument": policy_doc()}),
            OutputError::PrincipalId,
        ),
        (json!({"principalId": "u"}), OutputError::MissingPolicy),
        (
            json!({"principalId": "u", "policyDocument": policy_doc(), "context": {"a": {"b": 1}}}),
            OutputError::ContextValue("a".into()),
        ),
        (
            json!({"principalId": "u", "policyDocument": policy_doc(), "context": {"a": [1]}}),
            OutputError::ContextValue("a".into()),
        ),
        (
            json!({"principalId": "u", "policyDocument": policy_doc(), "context": {"a": null}}),
            OutputError::ContextValue("a".into()),
        ),
        (
            json!({"principalId": "u", "policyDocument": policy_doc(), "context": {"": "x"}}),
            OutputError::EmptyContextKey,
        ),
        (
            json!({"principalId": "u", "policyDocument": policy_doc(), "context": "x"}),
            OutputError::ContextNotObject,
        ),
        (
            json!({"principalId": "u", "policyDocument": policy_doc(), "usageIdentifierKey": 5}),
            OutputError::UsageIdentifierKey,
        ),
    ];
    for (doc, want) in cases {
        assert_eq!(parse(doc.clone()).unwrap_err(), want, "{doc}");
    }
    let err = parse(json!({"principalId": "u", "policyDocument": {"Statement": {"Effect": "Maybe", "Action": "*", "Resource": "*"}}})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the authorizer's policyDocument is invalid at Statement.Effect: must be \"Allow\" or \"Deny\", not \"Maybe\""
    );
    assert!(matches!(
        parse_output(b"not json"),
        Err(OutputError::InvalidJson(_))
    ));
    assert!(matches!(
        parse_output(b"[1]"),
        Err(OutputError::InvalidJson(_))
    ));
}

#[test]
fn context_size_limit() {
    // 8192 bytes of keys and values pass; one more fails.
    let ok = json!({"k": "v".repeat(8191)});
    assert_eq!(
        stringify_context(ok.as_object().unwrap()).unwrap()[0]
            .1
            .len(),
        8191
    );
    let big = json!({"k": "v".repeat(8192)});
    assert_eq!(
        stringify_context(big.as_object().unwrap()),
        Err(OutputError::ContextTooLarge(8193))
    );
    let many: serde_json::Map<String, Value> = (0..1000)
        .map(|i| (format!("key{i:04}"), json!(i)))
        .collect();
    assert!(matches!(
        stringify_context(&many),
        Err(OutputError::ContextTooLarge(_))
    ));
    let err = parse(json!({"isAuthorized": true, "context": {"k": "v".repeat(9000)}})).unwrap_err();
    assert_eq!(err, OutputError::ContextTooLarge(9001));
    assert_eq!(
        err.to_string(),
        "the authorizer's context is 9001 bytes; at most 8192 are accepted"
    );
}

#[test]
fn whole_output_limit() {
    let huge = json!({"principalId": "u", "policyDocument": policy_doc(), "padding": "x".repeat(MAX_OUTPUT)});
    assert!(matches!(parse(huge), Err(OutputError::OutputTooLarge(_))));
}

#[test]
fn simple_responses() {
    let out = parse(json!({"isAuthorized": true, "context": {"s": "text", "n": 2, "b": false, "o": {"x": [1, 2]}, "a": ["p"], "z": null}})).unwrap();
    let AuthorizerOutput::Simple(s) = out else {
        panic!("not the simple shape")
    };
    assert!(s.authorized);
    let ctx: Vec<(&str, &str)> = s
        .context
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        ctx,
        [
            ("s", "text"),
            ("n", "2"),
            ("b", "false"),
            ("o", r#"{"x":[1,2]}"#),
            ("a", r#"["p"]"#),
            ("z", "null")
        ]
    );
    let out = parse(json!({"isAuthorized": false})).unwrap();
    assert!(matches!(out, AuthorizerOutput::Simple(s) if !s.authorized && s.context.is_empty()));
    assert_eq!(
        parse(json!({"isAuthorized": "true"})).unwrap_err(),
        OutputError::IsAuthorized
    );
    assert_eq!(
        parse(json!({"isAuthorized": true, "context": 3})).unwrap_err(),
        OutputError::ContextNotObject
    );
}
