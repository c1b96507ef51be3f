//! The `Condition` element of a policy statement: parsed once into typed tests (CIDRs parsed,
//! dates turned into seconds), then evaluated against the request [`Facts`] without allocating.
//!
//! Semantics, as IAM documents them: every operator of a `Condition` block must hold (AND), every
//! key under an operator must hold (AND), and a key holds when any of its values matches (OR); a
//! negated operator (`StringNotEquals`, `NotIpAddress`, `DateNotEquals`, ...) holds when none of
//! the values matches. A key the request does not carry makes the test false, except under an
//! `...IfExists` operator and under negated operators, where it makes it true; `Null` tests for
//! the key's absence itself. The multivalued prefixes `ForAnyValue:` / `ForAllValues:` are
//! refused: none of the supported keys is multivalued.
//!
//! Supported keys: `aws:SourceIp`; the strings `aws:UserAgent`, `aws:Referer`, `aws:SourceArn`,
//! `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:username`, `aws:userid`; `aws:SecureTransport`;
//! `aws:CurrentTime` and `aws:EpochTime`. `aws:SourceVpc`, `aws:SourceVpce` and `aws:VpcSourceIp`
//! are accepted and always absent: Portico serves public endpoints only, so the canonical
//! "deny unless from my VPC" policies deny as they would for a request from outside any VPC.
//! Key names compare case-insensitively (as in IAM); so do operator names. Policy variables
//! (`${aws:username}`) are not expanded: they compare literally.

use std::net::IpAddr;
use std::time::UNIX_EPOCH;

use ipnet::IpNet;
use serde_json::Value;

use super::values::{parse_bool, parse_date, parse_net, scalar_strings};
use super::{Facts, PolicyError, Principal};
use crate::arn;

/// One compiled `Operator: { key: values }` test.
#[derive(Clone, Debug)]
pub(crate) struct Condition {
    key: Key,
    /// `...IfExists`: an absent key makes the test true.
    if_exists: bool,
    test: Test,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    SourceIp,
    UserAgent,
    Referer,
    SourceArn,
    PrincipalAccount,
    PrincipalArn,
    Username,
    Userid,
    SecureTransport,
    CurrentTime,
    EpochTime,
    /// `aws:SourceVpc`, `aws:SourceVpce`, `aws:VpcSourceIp`: private-API keys, never present.
    AlwaysAbsent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StrOp {
    Equals,
    EqualsIgnoreCase,
    Like,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug)]
enum Test {
    Ip {
        nets: Vec<IpNet>,
        negate: bool,
    },
    Str {
        op: StrOp,
        negate: bool,
        values: Vec<String>,
    },
    Bool(Vec<bool>),
    /// Dates as Unix seconds; `negate` only with `Cmp::Eq` (`DateNotEquals`).
    Date {
        cmp: Cmp,
        negate: bool,
        values: Vec<f64>,
    },
    Numeric {
        cmp: Cmp,
        negate: bool,
        values: Vec<f64>,
    },
    /// `Null: { key: true }` holds when the key is absent, `false` when present.
    Null(Vec<bool>),
}

/// The value of a key in the request, borrowed.
enum Fact<'a> {
    Ip(IpAddr),
    Str(&'a str),
    Bool(bool),
    /// Unix seconds.
    Time(f64),
}

impl Condition {
    /// Whether the test holds for `facts`.
    pub(crate) fn holds(&self, facts: &Facts<'_>) -> bool {
        let Some(fact) = self.key.fact(facts) else {
            return match &self.test {
                Test::Null(values) => values.iter().any(|&absent| absent),
                Test::Ip { negate, .. }
                | Test::Str { negate, .. }
                | Test::Date { negate, .. }
                | Test::Numeric { negate, .. } => self.if_exists || *negate,
                Test::Bool(_) => self.if_exists,
            };
        };
        match (&self.test, fact) {
            (Test::Null(values), _) => values.iter().any(|&absent| !absent),
            (Test::Ip { nets, negate }, Fact::Ip(ip)) => {
                nets.iter().any(|net| ip_in(net, ip)) != *negate
            }
            (Test::Str { op, negate, values }, Fact::Str(s)) => {
                values.iter().any(|v| match op {
                    StrOp::Equals => v == s,
                    StrOp::EqualsIgnoreCase => v.eq_ignore_ascii_case(s),
                    StrOp::Like => arn::matches(v, s),
                }) != *negate
            }
            (Test::Bool(values), Fact::Bool(b)) => values.contains(&b),
            (
                Test::Date {
                    cmp,
                    negate,
                    values,
                },
                Fact::Time(t),
            )
            | (
                Test::Numeric {
                    cmp,
                    negate,
                    values,
                },
                Fact::Time(t),
            ) => values.iter().any(|&v| compare(*cmp, t, v)) != *negate,
            // Key and operator kinds are checked at parse time; a mismatch cannot match.
            _ => false,
        }
    }
}

fn compare(cmp: Cmp, fact: f64, value: f64) -> bool {
    match cmp {
        Cmp::Eq => fact == value,
        Cmp::Lt => fact < value,
        Cmp::Le => fact <= value,
        Cmp::Gt => fact > value,
        Cmp::Ge => fact >= value,
    }
}

/// Whether `ip` is in `net`, an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) counting as its IPv4
/// address and an IPv4 address as its mapped form.
fn ip_in(net: &IpNet, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpNet::V4(net), IpAddr::V4(v4)) => net.contains(&v4),
        (IpNet::V6(net), IpAddr::V6(v6)) => net.contains(&v6),
        (IpNet::V4(net), IpAddr::V6(v6)) => v6.to_ipv4_mapped().is_some_and(|v4| net.contains(&v4)),
        (IpNet::V6(net), IpAddr::V4(v4)) => net.contains(&v4.to_ipv6_mapped()),
    }
}

impl Key {
    fn parse(name: &str) -> Option<Key> {
        const KEYS: [(&str, Key); 14] = [
            ("aws:SourceIp", Key::SourceIp),
            ("aws:UserAgent", Key::UserAgent),
            ("aws:Referer", Key::Referer),
            ("aws:SourceArn", Key::SourceArn),
            ("aws:PrincipalAccount", Key::PrincipalAccount),
            ("aws:PrincipalArn", Key::PrincipalArn),
            ("aws:username", Key::Username),
            ("aws:userid", Key::Userid),
            ("aws:SecureTransport", Key::SecureTransport),
            ("aws:CurrentTime", Key::CurrentTime),
            ("aws:EpochTime", Key::EpochTime),
            ("aws:SourceVpc", Key::AlwaysAbsent),
            ("aws:SourceVpce", Key::AlwaysAbsent),
            ("aws:VpcSourceIp", Key::AlwaysAbsent),
        ];
        KEYS.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|&(_, key)| key)
    }

    fn fact<'a>(self, f: &Facts<'a>) -> Option<Fact<'a>> {
        let iam = match f.principal {
            Principal::Iam {
                account,
                arn,
                user_id,
                username,
            } => Some((account, arn, user_id, username)),
            Principal::Anonymous => None,
        };
        match self {
            Key::SourceIp => f.source_ip.map(Fact::Ip),
            Key::UserAgent => f.user_agent.map(Fact::Str),
            Key::Referer => f.referer.map(Fact::Str),
            Key::SourceArn => f.source_arn.map(Fact::Str),
            Key::PrincipalAccount => iam.map(|p| Fact::Str(p.0)),
            Key::PrincipalArn => iam.map(|p| Fact::Str(p.1)),
            Key::Userid => iam.map(|p| Fact::Str(p.2)),
            Key::Username => iam.map(|p| Fact::Str(p.3)),
            Key::SecureTransport => Some(Fact::Bool(f.secure_transport)),
            Key::CurrentTime | Key::EpochTime => {
                let secs = match f.now.duration_since(UNIX_EPOCH) {
                    Ok(d) => d.as_secs() as f64,
                    Err(e) => -(e.duration().as_secs() as f64),
                };
                Some(Fact::Time(secs))
            }
            Key::AlwaysAbsent => None,
        }
    }

    fn is_string(self) -> bool {
        matches!(
            self,
            Key::UserAgent
                | Key::Referer
                | Key::SourceArn
                | Key::PrincipalAccount
                | Key::PrincipalArn
                | Key::Username
                | Key::Userid
        )
    }
}

/// The operator families, before their values are parsed.
enum Family {
    Ip { negate: bool },
    Str { op: StrOp, negate: bool },
    Bool,
    Date { cmp: Cmp, negate: bool },
    Numeric { cmp: Cmp, negate: bool },
    Null,
}

fn family(op: &str) -> Option<Family> {
    const CMPS: [(&str, Cmp, bool); 6] = [
        ("Equals", Cmp::Eq, false),
        ("NotEquals", Cmp::Eq, true),
        ("LessThan", Cmp::Lt, false),
        ("LessThanEquals", Cmp::Le, false),
        ("GreaterThan", Cmp::Gt, false),
        ("GreaterThanEquals", Cmp::Ge, false),
    ];
    let strs: [(&str, StrOp, bool); 6] = [
        ("StringEquals", StrOp::Equals, false),
        ("StringNotEquals", StrOp::Equals, true),
        ("StringEqualsIgnoreCase", StrOp::EqualsIgnoreCase, false),
        ("StringNotEqualsIgnoreCase", StrOp::EqualsIgnoreCase, true),
        ("StringLike", StrOp::Like, false),
        ("StringNotLike", StrOp::Like, true),
    ];
    let is = |name: &str| op.eq_ignore_ascii_case(name);
    if is("IpAddress") {
        return Some(Family::Ip { negate: false });
    }
    if is("NotIpAddress") {
        return Some(Family::Ip { negate: true });
    }
    if is("Bool") {
        return Some(Family::Bool);
    }
    if is("Null") {
        return Some(Family::Null);
    }
    if let Some(&(_, op, negate)) = strs.iter().find(|(n, _, _)| is(n)) {
        return Some(Family::Str { op, negate });
    }
    let (prefix, rest) = if op.len() > 4 && op[..4].eq_ignore_ascii_case("Date") {
        ("Date", &op[4..])
    } else if op.len() > 7 && op.is_char_boundary(7) && op[..7].eq_ignore_ascii_case("Numeric") {
        ("Numeric", &op[7..])
    } else {
        return None;
    };
    let &(_, cmp, negate) = CMPS.iter().find(|(n, _, _)| rest.eq_ignore_ascii_case(n))?;
    Some(if prefix == "Date" {
        Family::Date { cmp, negate }
    } else {
        Family::Numeric { cmp, negate }
    })
}

/// Parses a statement's `Condition` object; `path` is that element's path for errors.
pub(crate) fn parse(value: &Value, path: &str) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(ops) = value else {
        return Err(PolicyError::new(
            path,
            "must be an object of condition operators",
        ));
    };
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let op_path = format!("{path}.{op_name}");
        if let Some((prefix, _)) = op_name.split_once(':') {
            return Err(PolicyError::new(
                &op_path,
                format!(
                    "the set operator prefix '{prefix}:' is not supported (no supported condition key is multivalued)"
                ),
            ));
        }
        let (base, if_exists) = match op_name.len().checked_sub(8) {
            Some(at)
                if op_name.is_char_boundary(at)
                    && op_name[at..].eq_ignore_ascii_case("IfExists") =>
            {
                (&op_name[..at], true)
            }
            _ => (op_name.as_str(), false),
        };
        let Some(fam) = family(base) else {
            return Err(PolicyError::new(
                &op_path,
                format!("unknown condition operator '{op_name}'"),
            ));
        };
        if if_exists && matches!(fam, Family::Null) {
            return Err(PolicyError::new(
                &op_path,
                "the Null operator takes no IfExists suffix",
            ));
        }
        let Value::Object(keys) = keys else {
            return Err(PolicyError::new(
                &op_path,
                "must be an object of condition keys",
            ));
        };
        if keys.is_empty() {
            return Err(PolicyError::new(&op_path, "names no condition key"));
        }
        for (key_name, values) in keys {
            let key_path = format!("{op_path}.{key_name}");
            let Some(key) = Key::parse(key_name) else {
                return Err(PolicyError::new(
                    &key_path,
                    format!("unsupported condition key '{key_name}'"),
                ));
            };
            let test = parse_test(&fam, key, key_name, values, &key_path)?;
            out.push(Condition {
                key,
                if_exists,
                test,
            });
        }
    }
    Ok(out)
}

fn parse_test(
    fam: &Family,
    key: Key,
    key_name: &str,
    values: &Value,
    path: &str,
) -> Result<Test, PolicyError> {
    let texts = scalar_strings(values, path)?;
    let wrong = |what: &str| {
        PolicyError::new(
            path,
            format!("condition key '{key_name}' cannot be used with {what} operators"),
        )
    };
    let absent_ok = key == Key::AlwaysAbsent;
    Ok(match *fam {
        Family::Null => Test::Null(
            texts
                .iter()
                .map(|t| parse_bool(t, path))
                .collect::<Result<_, _>>()?,
        ),
        Family::Ip { negate } => {
            if key != Key::SourceIp && !absent_ok {
                return Err(wrong("IP address"));
            }
            let nets = texts
                .iter()
                .map(|t| parse_net(t, path))
                .collect::<Result<_, _>>()?;
            Test::Ip { nets, negate }
        }
        Family::Str { op, negate } => {
            if !key.is_string() && !absent_ok {
                return Err(wrong("string"));
            }
            Test::Str {
                op,
                negate,
                values: texts,
            }
        }
        Family::Bool => {
            if key != Key::SecureTransport && !absent_ok {
                return Err(wrong("Bool"));
            }
            Test::Bool(
                texts
                    .iter()
                    .map(|t| parse_bool(t, path))
                    .collect::<Result<_, _>>()?,
            )
        }
        Family::Date { cmp, negate } => {
            if !matches!(key, Key::CurrentTime | Key::EpochTime) && !absent_ok {
                return Err(wrong("date"));
            }
            let values = texts
                .iter()
                .map(|t| parse_date(t, path))
                .collect::<Result<_, _>>()?;
            Test::Date {
                cmp,
                negate,
                values,
            }
        }
        Family::Numeric { cmp, negate } => {
            if key != Key::EpochTime && !absent_ok {
                return Err(wrong("numeric"));
            }
            let values = texts
                .iter()
                .map(|t| {
                    t.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| PolicyError::new(path, format!("'{t}' is not a number")))
                })
                .collect::<Result<_, _>>()?;
            Test::Numeric {
                cmp,
                negate,
                values,
            }
        }
    })
}
