//! Policy documents: parsing (and its error paths), evaluation (wildcards, explicit deny,
//! NotAction / NotResource, principals, conditions) and the §5.2 combination tables.

use portico_auth::policy::{
    Facts, MAX_RESOURCE_POLICY, Outcome, Policy, PolicyKind, Principal, combine,
};
use serde_json::{Value, json};

mod common;
use common::*;

const BOB_ELSEWHERE: Principal<'static> = Principal::Iam {
    account: "210987654321",
    arn: "arn:aws:iam::210987654321:user/bob",
    user_id: "AIDABOB",
    username: "bob",
};

fn identity(statements: Value) -> Policy {
    parse(
        json!({"Version": "2012-10-17", "Statement": statements}),
        PolicyKind::Identity,
    )
}

fn allow(resource: &str) -> Value {
    json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource})
}

#[test]
fn wildcard_resources() {
    let f = facts();
    for pattern in [
        ARN,
        "*",
        "arn:aws:execute-api:*:*:*/*/GET/pets/*",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/pets/*",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/*",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/?",
    ] {
        assert_eq!(
            identity(allow(pattern)).evaluate(&f),
            Outcome::Allow,
            "{pattern}"
        );
    }
    for pattern in [
        "arn:aws:execute-api:*:*:*/*/GET/pets",
        "arn:aws:execute-api:*:*:*/dev/*",
        "arn:aws:execute-api:*:*:*/*/POST/*",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/get/pets/1",
    ] {
        assert_eq!(
            identity(allow(pattern)).evaluate(&f),
            Outcome::ImplicitDeny,
            "{pattern}"
        );
    }
}

#[test]
fn actions_are_case_insensitive_globs() {
    let f = facts();
    for action in [
        "execute-api:Invoke",
        "execute-api:invoke",
        "execute-api:*",
        "*",
        "execute-api:In*",
    ] {
        let p = identity(json!({"Effect": "Allow", "Action": action, "Resource": "*"}));
        assert_eq!(p.evaluate(&f), Outcome::Allow, "{action}");
    }
    let p = identity(
        json!({"Effect": "Allow", "Action": ["execute-api:InvalidateCache"], "Resource": "*"}),
    );
    assert_eq!(p.evaluate(&f), Outcome::ImplicitDeny);
    let cache = Facts {
        action: "execute-api:InvalidateCache",
        ..f
    };
    assert_eq!(p.evaluate(&cache), Outcome::Allow);
}

#[test]
fn explicit_deny_wins_in_any_order() {
    let f = facts();
    let deny = json!({"Effect": "Deny", "Action": "*", "Resource": ARN});
    assert_eq!(
        identity(json!([allow("*"), deny.clone()])).evaluate(&f),
        Outcome::ExplicitDeny
    );
    assert_eq!(
        identity(json!([deny, allow("*")])).evaluate(&f),
        Outcome::ExplicitDeny
    );
    let other =
        json!({"Effect": "Deny", "Action": "*", "Resource": "arn:aws:execute-api:*:*:*/dev/*"});
    assert_eq!(
        identity(json!([allow("*"), other])).evaluate(&f),
        Outcome::Allow
    );
}

#[test]
fn empty_statement_list_never_allows() {
    let p = identity(json!([]));
    assert_eq!(p.evaluate(&facts()), Outcome::ImplicitDeny);
}

#[test]
fn not_action_and_not_resource() {
    let f = facts();
    let p = identity(
        json!({"Effect": "Allow", "NotAction": "execute-api:InvalidateCache", "Resource": "*"}),
    );
    assert_eq!(p.evaluate(&f), Outcome::Allow);
    let p =
        identity(json!({"Effect": "Allow", "NotAction": ["execute-api:Invoke"], "Resource": "*"}));
    assert_eq!(p.evaluate(&f), Outcome::ImplicitDeny);
    let p = identity(json!([
        allow("*"),
        {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:execute-api:*:*:*/prod/GET/*"}
    ]));
    assert_eq!(p.evaluate(&f), Outcome::Allow);
    let post = Facts {
        resource: "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/pets",
        ..f
    };
    assert_eq!(p.evaluate(&post), Outcome::ExplicitDeny);
}

fn resource_policy(statements: Value) -> Policy {
    parse(
        json!({"Version": "2012-10-17", "Statement": statements}),
        PolicyKind::Resource,
    )
}

#[test]
fn resource_policy_shorthand_is_expanded() {
    let f = facts();
    let p = resource_policy(
        json!({"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/prod/GET/pets/*"}),
    );
    assert_eq!(p.evaluate(&f), Outcome::Allow);
    let p = resource_policy(
        json!({"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": ["execute-api:/*"]}),
    );
    assert_eq!(p.evaluate(&f), Outcome::Allow);
    // Another API's request does not match the expansion.
    let other = Facts {
        resource: "arn:aws:execute-api:us-east-1:123456789012:zzz999/prod/GET/pets/1",
        ..f
    };
    assert_eq!(p.evaluate(&other), Outcome::ImplicitDeny);
    let p = resource_policy(
        json!({"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/*"}),
    );
    assert_eq!(p.evaluate(&f), Outcome::ImplicitDeny);
}

#[test]
fn principals() {
    let anon = facts();
    let alice = Facts {
        principal: ALICE,
        ..anon
    };
    let bob = Facts {
        principal: BOB_ELSEWHERE,
        ..anon
    };
    let with = |principal: Value| {
        resource_policy(
            json!({"Effect": "Allow", "Principal": principal, "Action": "*", "Resource": "*"}),
        )
    };
    let cases: [(Value, [Outcome; 3]); 8] = [
        (json!("*"), [Outcome::Allow; 3]),
        (json!({"AWS": "*"}), [Outcome::Allow; 3]),
        (
            json!({"AWS": "123456789012"}),
            [Outcome::ImplicitDeny, Outcome::Allow, Outcome::ImplicitDeny],
        ),
        (
            json!({"AWS": "arn:aws:iam::123456789012:root"}),
            [Outcome::ImplicitDeny, Outcome::Allow, Outcome::ImplicitDeny],
        ),
        (
            json!({"AWS": ["arn:aws:iam::123456789012:user/alice"]}),
            [Outcome::ImplicitDeny, Outcome::Allow, Outcome::ImplicitDeny],
        ),
        (
            json!({"AWS": "arn:aws:iam::123456789012:user/carol"}),
            [Outcome::ImplicitDeny; 3],
        ),
        (
            json!({"AWS": "arn:aws:iam::*:user/*"}),
            [Outcome::ImplicitDeny, Outcome::Allow, Outcome::Allow],
        ),
        (
            json!({"AWS": ["210987654321", "arn:aws:iam::123456789012:user/alice"]}),
            [Outcome::ImplicitDeny, Outcome::Allow, Outcome::Allow],
        ),
    ];
    for (principal, want) in cases {
        let p = with(principal.clone());
        let got = [p.evaluate(&anon), p.evaluate(&alice), p.evaluate(&bob)];
        assert_eq!(got, want, "{principal}");
    }
}

#[test]
fn policy_given_as_a_string() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"}]}"#;
    let p = parse(Value::String(text.to_owned()), PolicyKind::Resource);
    assert_eq!(p.evaluate(&facts()), Outcome::Allow);
    let err = parse_err(Value::String("{not json".into()), PolicyKind::Resource);
    assert!(err.starts_with("(document): is not valid JSON"), "{err}");
}

#[test]
fn resource_policy_size_limit() {
    let long = format!(
        "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/{}",
        "x".repeat(MAX_RESOURCE_POLICY)
    );
    let doc = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": long}});
    let err = parse_err(doc.clone(), PolicyKind::Resource);
    assert!(err.contains("at most 8192 characters"), "{err}");
    let err = parse_err(Value::String(doc.to_string()), PolicyKind::Resource);
    assert!(err.contains("at most 8192 characters"), "{err}");
    // The limit is the resource policy's: an identity policy may be longer.
    let doc = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": long}});
    parse(doc, PolicyKind::Identity);
}

#[test]
fn authorizer_resource_limit_and_principal_ignored() {
    let ok = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": ARN}]});
    assert_eq!(
        parse(ok, PolicyKind::Authorizer).evaluate(&facts()),
        Outcome::Allow
    );
    let long = format!("{ARN}/{}", "x".repeat(512));
    let doc = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": [ARN, long]}]});
    assert_eq!(
        parse_err(doc, PolicyKind::Authorizer),
        "Statement[0].Resource[1]: an authorizer's Resource is at most 512 characters"
    );
}

#[test]
fn error_paths_and_messages() {
    let cases: Vec<(Value, PolicyKind, &str)> = vec![
        (
            json!([]),
            PolicyKind::Identity,
            "(document): a policy document must be a JSON object",
        ),
        (
            json!({"Version": "2012-10-18", "Statement": []}),
            PolicyKind::Identity,
            "Version: must be \"2012-10-17\" or \"2008-10-17\", not \"2012-10-18\"",
        ),
        (
            json!({"Version": "2012-10-17"}),
            PolicyKind::Identity,
            "Statement: is required",
        ),
        (
            json!({"Statement": [], "Extra": 1}),
            PolicyKind::Identity,
            "Extra: unknown policy element",
        ),
        (
            json!({"Statement": 3}),
            PolicyKind::Identity,
            "Statement: must be a statement object or an array of them",
        ),
        (
            json!({"Statement": [allow("*"), 1]}),
            PolicyKind::Identity,
            "Statement[1]: a statement must be an object",
        ),
        (
            json!({"Statement": [allow("*"), {"Effect": "Permit", "Action": "*", "Resource": "*"}]}),
            PolicyKind::Identity,
            "Statement[1].Effect: must be \"Allow\" or \"Deny\", not \"Permit\"",
        ),
        (
            json!({"Statement": {"Action": "*", "Resource": "*"}}),
            PolicyKind::Identity,
            "Statement: Effect is required",
        ),
        (
            json!({"Statement": {"Effect": "Allow", "Resource": "*"}}),
            PolicyKind::Identity,
            "Statement: Action or NotAction is required",
        ),
        (
            json!({"Statement": {"Effect": "Allow", "Action": "*"}}),
            PolicyKind::Identity,
            "Statement: Resource or NotResource is required",
        ),
        (
            json!({"Statement": {"Effect": "Allow", "Action": "*", "NotAction": "x", "Resource": "*"}}),
            PolicyKind::Identity,
            "Statement.NotAction: a statement has either Action or NotAction, not both",
        ),
        (
            json!({"Statement": {"Effect": "Allow", "Action": [], "Resource": "*"}}),
            PolicyKind::Identity,
            "Statement.Action: must not be empty",
        ),
        (
            json!({"Statement": {"Effect": "Allow", "Action": ["*", 3], "Resource": "*"}}),
            PolicyKind::Identity,
            "Statement.Action[1]: must be a string",
        ),
        (
            json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Color": "red"}}),
            PolicyKind::Identity,
            "Statement.Color: unknown statement element",
        ),
        (
            json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}),
            PolicyKind::Identity,
            "Statement.Principal: an identity policy has no Principal",
        ),
        (
            json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}),
            PolicyKind::Resource,
            "Statement: Principal (in a resource policy) is required",
        ),
        (
            json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "*", "Resource": "*"}}),
            PolicyKind::Resource,
            "Statement.Principal.Service: principal type 'Service' is not supported (only AWS principals call API Gateway)",
        ),
        (
            json!({"Statement": {"Effect": "Allow", "NotPrincipal": "*", "Action": "*", "Resource": "*"}}),
            PolicyKind::Resource,
            "Statement.NotPrincipal: NotPrincipal is not supported",
        ),
        (
            json!({"Statement": {"Effect": "Allow", "Principal": "someone", "Action": "*", "Resource": "*"}}),
            PolicyKind::Resource,
            "Statement.Principal: must be \"*\" or an object such as {\"AWS\": ...}",
        ),
    ];
    for (doc, kind, want) in cases {
        assert_eq!(parse_err(doc, kind), want);
    }
}

#[test]
fn table_a_same_account_and_table_b_cross_account() {
    use Outcome::{Allow, ExplicitDeny as Deny, ImplicitDeny as Silent};
    // (identity/authorizer, resource, Table A, Table B), §5.2.
    let rows = [
        (Allow, Allow, Allow, Allow),
        (Allow, Silent, Allow, Silent),
        (Allow, Deny, Deny, Deny),
        (Silent, Allow, Allow, Silent),
        (Silent, Silent, Silent, Silent),
        (Silent, Deny, Deny, Deny),
        (Deny, Allow, Deny, Deny),
        (Deny, Silent, Deny, Deny),
        (Deny, Deny, Deny, Deny),
    ];
    for (id, res, same, cross) in rows {
        assert_eq!(
            combine(id, Some(res), false),
            same,
            "Table A {id:?} {res:?}"
        );
        assert_eq!(
            combine(id, Some(res), true),
            cross,
            "Table B {id:?} {res:?}"
        );
    }
    for id in [Allow, Silent, Deny] {
        assert_eq!(combine(id, None, false), id);
        assert_eq!(combine(id, None, true), id);
    }
}

#[test]
fn policy_is_send_sync_clone() {
    fn assert_traits<T: Clone + std::fmt::Debug + Send + Sync>() {}
    assert_traits::<Policy>();
}
