//! Policy conditions: IP address (v4, v6, mapped), string, Bool, date and numeric operators,
//! `IfExists`, `Null`, missing keys, and the parse errors naming the operator or key.

use std::net::IpAddr;

use portico_auth::policy::{Facts, Outcome, Policy, PolicyKind};
use serde_json::{Value, json};

mod common;
use common::*;

fn allow(resource: &str) -> Value {
    json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource})
}

fn identity(statements: Value) -> Policy {
    parse(
        json!({"Version": "2012-10-17", "Statement": statements}),
        PolicyKind::Identity,
    )
}

fn resource_policy(statements: Value) -> Policy {
    parse(
        json!({"Version": "2012-10-17", "Statement": statements}),
        PolicyKind::Resource,
    )
}

fn with_condition(condition: Value) -> Policy {
    identity(json!({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition}))
}

fn condition_err(condition: Value) -> String {
    parse_err(
        json!({"Statement": [allow("*"), {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition}]}),
        PolicyKind::Identity,
    )
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

#[test]
fn ip_address_conditions() {
    let f = facts();
    let allows = |cond: Value, source: Option<IpAddr>| {
        with_condition(cond).evaluate(&Facts {
            source_ip: source,
            ..f
        }) == Outcome::Allow
    };
    let v4 = json!({"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "198.51.100.0/24"]}});
    assert!(allows(v4.clone(), ip("192.0.2.10")));
    assert!(allows(v4.clone(), ip("198.51.100.255")));
    assert!(!allows(v4.clone(), ip("203.0.113.1")));
    // An IPv4-mapped IPv6 source matches IPv4 blocks.
    assert!(allows(v4.clone(), ip("::ffff:192.0.2.10")));
    assert!(!allows(v4.clone(), ip("::ffff:203.0.113.1")));
    assert!(!allows(v4.clone(), ip("2001:db8::1")));
    // A missing source IP fails a positive test.
    assert!(!allows(v4.clone(), None));
    let v6 = json!({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}});
    assert!(allows(v6.clone(), ip("2001:db8:1::5")));
    assert!(!allows(v6.clone(), ip("2001:db9::1")));
    assert!(!allows(v6, ip("192.0.2.10")));
    let bare = json!({"IpAddress": {"aws:SourceIp": ["192.0.2.10", "2001:db8::1"]}});
    assert!(allows(bare.clone(), ip("192.0.2.10")));
    assert!(allows(bare.clone(), ip("2001:db8::1")));
    assert!(!allows(bare, ip("192.0.2.11")));
    // Host bits in a block are ignored, as IAM does.
    assert!(allows(
        json!({"IpAddress": {"aws:SourceIp": "192.0.2.77/24"}}),
        ip("192.0.2.1")
    ));
    let not = json!({"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}});
    assert!(!allows(not.clone(), ip("192.0.2.10")));
    assert!(!allows(not.clone(), ip("::ffff:192.0.2.10")));
    assert!(allows(not.clone(), ip("203.0.113.1")));
    // Negated operators hold when the key is absent.
    assert!(allows(not, None));
    assert!(allows(
        json!({"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}),
        None
    ));
    assert!(!allows(
        json!({"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}),
        ip("192.0.2.1")
    ));
}

#[test]
fn canonical_ip_deny_list_example() {
    // [DG:apigateway-resource-policies-examples], as in §15.
    let p = resource_policy(json!([
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": ["execute-api:/*"]},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": ["execute-api:/*"],
         "Condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "198.51.100.0/24"]}}}
    ]));
    let f = facts();
    assert_eq!(p.evaluate(&f), Outcome::ExplicitDeny);
    assert_eq!(
        p.evaluate(&Facts {
            source_ip: ip("203.0.113.9"),
            ..f
        }),
        Outcome::Allow
    );
}

#[test]
fn string_conditions() {
    let f = Facts {
        principal: ALICE,
        referer: Some("https://example.com/page"),
        ..facts()
    };
    let allows = |cond: Value| with_condition(cond).evaluate(&f) == Outcome::Allow;
    assert!(allows(
        json!({"StringEquals": {"aws:UserAgent": "curl/8.0"}})
    ));
    assert!(!allows(
        json!({"StringEquals": {"aws:UserAgent": "CURL/8.0"}})
    ));
    assert!(allows(
        json!({"StringEqualsIgnoreCase": {"aws:UserAgent": "CURL/8.0"}})
    ));
    assert!(!allows(
        json!({"StringNotEqualsIgnoreCase": {"aws:UserAgent": "CURL/8.0"}})
    ));
    assert!(allows(
        json!({"StringNotEquals": {"aws:UserAgent": ["wget", "httpie"]}})
    ));
    assert!(!allows(
        json!({"StringNotEquals": {"aws:UserAgent": ["wget", "curl/8.0"]}})
    ));
    assert!(allows(
        json!({"StringLike": {"aws:Referer": "https://example.com/*"}})
    ));
    assert!(allows(json!({"StringLike": {"aws:UserAgent": "curl/?.?"}})));
    assert!(!allows(
        json!({"StringNotLike": {"aws:Referer": ["https://example.com/*"]}})
    ));
    assert!(allows(
        json!({"StringEquals": {"aws:PrincipalAccount": "123456789012"}})
    ));
    assert!(allows(
        json!({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:user/*"}})
    ));
    assert!(allows(
        json!({"StringEquals": {"aws:username": "alice", "aws:userid": "AIDAALICE"}})
    ));
    // Key names are case-insensitive; values may be numbers.
    assert!(allows(
        json!({"StringEquals": {"AWS:PRINCIPALACCOUNT": 123456789012u64}})
    ));
    // Several operators and keys: all must hold.
    assert!(!allows(
        json!({"StringEquals": {"aws:username": "alice"}, "StringLike": {"aws:UserAgent": "wget*"}})
    ));
    // Missing keys: positive false, negated true, IfExists true.
    let anon = facts();
    let anon_allows = |cond: Value| with_condition(cond).evaluate(&anon) == Outcome::Allow;
    assert!(!anon_allows(json!({"StringEquals": {"aws:Referer": "x"}})));
    assert!(anon_allows(
        json!({"StringNotEquals": {"aws:Referer": "x"}})
    ));
    assert!(anon_allows(
        json!({"StringLikeIfExists": {"aws:Referer": "x"}})
    ));
    assert!(!anon_allows(
        json!({"StringEquals": {"aws:PrincipalAccount": "123456789012"}})
    ));
    assert!(!anon_allows(json!({"StringLike": {"aws:SourceArn": "*"}})));
    let from_arn = Facts {
        source_arn: Some("arn:aws:sns:us-east-1:123456789012:topic"),
        ..anon
    };
    assert_eq!(
        with_condition(json!({"StringLike": {"aws:SourceArn": "arn:aws:sns:*"}}))
            .evaluate(&from_arn),
        Outcome::Allow
    );
    // Private-API keys are always absent: the canonical VPC allow-list denies public callers.
    let vpc = resource_policy(json!([
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
         "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-1a2b3c4d"}}}
    ]));
    assert_eq!(vpc.evaluate(&anon), Outcome::ExplicitDeny);
    // Null tests presence.
    assert!(anon_allows(json!({"Null": {"aws:Referer": "true"}})));
    assert!(!anon_allows(json!({"Null": {"aws:UserAgent": "true"}})));
    assert!(anon_allows(json!({"Null": {"aws:UserAgent": false}})));
}

#[test]
fn bool_date_and_numeric_conditions() {
    let f = facts();
    let allows = |cond: Value, f: &Facts<'_>| with_condition(cond).evaluate(f) == Outcome::Allow;
    assert!(allows(json!({"Bool": {"aws:SecureTransport": "true"}}), &f));
    assert!(allows(json!({"Bool": {"aws:SecureTransport": true}}), &f));
    let plain = Facts {
        secure_transport: false,
        ..f
    };
    assert!(!allows(
        json!({"Bool": {"aws:SecureTransport": "true"}}),
        &plain
    ));
    assert!(allows(
        json!({"Bool": {"aws:SecureTransport": "false"}}),
        &plain
    ));

    assert!(allows(
        json!({"DateGreaterThan": {"aws:CurrentTime": "2023-12-31T23:59:59Z"}}),
        &f
    ));
    assert!(!allows(
        json!({"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}}),
        &f
    ));
    assert!(allows(
        json!({"DateGreaterThanEquals": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}}),
        &f
    ));
    assert!(allows(
        json!({"DateLessThan": {"aws:CurrentTime": "2024-01-01T00:00:01Z"}}),
        &f
    ));
    assert!(allows(
        json!({"DateLessThanEquals": {"aws:CurrentTime": "2024-01-01"}}),
        &f
    ));
    assert!(allows(
        json!({"DateEquals": {"aws:CurrentTime": "2024-01-01T01:00:00+01:00"}}),
        &f
    ));
    assert!(allows(
        json!({"DateNotEquals": {"aws:CurrentTime": "2024-06-01T00:00:00.000Z"}}),
        &f
    ));
    assert!(allows(
        json!({"DateLessThan": {"aws:CurrentTime": "2024-01-01T10:00Z"}}),
        &f
    ));
    assert!(allows(
        json!({"DateGreaterThan": {"aws:EpochTime": "1704067199"}}),
        &f
    ));
    assert!(allows(
        json!({"NumericGreaterThanEquals": {"aws:EpochTime": 1704067200}}),
        &f
    ));
    assert!(allows(
        json!({"NumericLessThan": {"aws:EpochTime": "1704067201"}}),
        &f
    ));
    assert!(!allows(
        json!({"NumericLessThan": {"aws:EpochTime": "1704067200"}}),
        &f
    ));
    assert!(allows(
        json!({"NumericEquals": {"aws:EpochTime": ["1", "1704067200"]}}),
        &f
    ));
    assert!(!allows(
        json!({"NumericNotEquals": {"aws:EpochTime": ["1", "1704067200"]}}),
        &f
    ));
    assert!(allows(
        json!({"NumericLessThanEquals": {"aws:EpochTime": 1704067200.5}}),
        &f
    ));
}

#[test]
fn condition_errors() {
    let cases = [
        (
            json!("x"),
            "Statement[1].Condition: must be an object of condition operators",
        ),
        (
            json!({"IpAddress": {"aws:SourceIp": "300.1.1.1"}}),
            "Statement[1].Condition.IpAddress.aws:SourceIp: '300.1.1.1' is not an IP address or CIDR block",
        ),
        (
            json!({"IpAddress": {"aws:SourceIp": []}}),
            "Statement[1].Condition.IpAddress.aws:SourceIp: the list of condition values is empty",
        ),
        (
            json!({"IpAddress": "x"}),
            "Statement[1].Condition.IpAddress: must be an object of condition keys",
        ),
        (
            json!({"StringFuzzy": {"aws:UserAgent": "x"}}),
            "Statement[1].Condition.StringFuzzy: unknown condition operator 'StringFuzzy'",
        ),
        (
            json!({"StringEquals": {"aws:PrincipalTag/team": "x"}}),
            "Statement[1].Condition.StringEquals.aws:PrincipalTag/team: unsupported condition key 'aws:PrincipalTag/team'",
        ),
        (
            json!({"ForAnyValue:StringEquals": {"aws:UserAgent": "x"}}),
            "Statement[1].Condition.ForAnyValue:StringEquals: the set operator prefix 'ForAnyValue:' is not supported (no supported condition key is multivalued)",
        ),
        (
            json!({"ForAllValues:StringLike": {"aws:UserAgent": "x"}}),
            "Statement[1].Condition.ForAllValues:StringLike: the set operator prefix 'ForAllValues:' is not supported (no supported condition key is multivalued)",
        ),
        (
            json!({"IpAddress": {"aws:UserAgent": "1.2.3.4"}}),
            "Statement[1].Condition.IpAddress.aws:UserAgent: condition key 'aws:UserAgent' cannot be used with IP address operators",
        ),
        (
            json!({"StringEquals": {"aws:SourceIp": "1.2.3.4"}}),
            "Statement[1].Condition.StringEquals.aws:SourceIp: condition key 'aws:SourceIp' cannot be used with string operators",
        ),
        (
            json!({"Bool": {"aws:SecureTransport": "yes"}}),
            "Statement[1].Condition.Bool.aws:SecureTransport: 'yes' is not true or false",
        ),
        (
            json!({"DateLessThan": {"aws:CurrentTime": "next week"}}),
            "Statement[1].Condition.DateLessThan.aws:CurrentTime: 'next week' is not an ISO 8601 date (2024-01-31T12:00:00Z) or Unix seconds",
        ),
        (
            json!({"NumericLessThan": {"aws:CurrentTime": "1"}}),
            "Statement[1].Condition.NumericLessThan.aws:CurrentTime: condition key 'aws:CurrentTime' cannot be used with numeric operators",
        ),
        (
            json!({"NumericLessThan": {"aws:EpochTime": "soon"}}),
            "Statement[1].Condition.NumericLessThan.aws:EpochTime: 'soon' is not a number",
        ),
        (
            json!({"NullIfExists": {"aws:Referer": "true"}}),
            "Statement[1].Condition.NullIfExists: the Null operator takes no IfExists suffix",
        ),
        (
            json!({"StringEquals": {"aws:UserAgent": {"a": 1}}}),
            "Statement[1].Condition.StringEquals.aws:UserAgent: condition values must be strings, numbers or booleans",
        ),
    ];
    for (cond, want) in cases {
        assert_eq!(condition_err(cond), want);
    }
}
