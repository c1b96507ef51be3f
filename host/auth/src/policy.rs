//! IAM policy documents as API Gateway meets them: the policy a Lambda authorizer returns
//! ([`PolicyKind::Authorizer`]), the identity policy of SigV4 credentials
//! ([`PolicyKind::Identity`]), and an API's resource policy (`x-amazon-apigateway-policy`,
//! [`PolicyKind::Resource`]). A document is parsed once into a [`Policy`] (errors carry the path
//! of the offending element, `Statement[1].Condition.IpAddress`), then evaluated per request
//! against [`Facts`] without allocating: an explicit `Deny` wins, else any matching `Allow`, else
//! an implicit deny. [`combine`] joins an identity (or authorizer) outcome with a resource-policy
//! outcome per the §5.2 tables.
//!
//! Element names are case-sensitive, as IAM writes them (`Statement`, `Effect`, ...); unknown
//! elements are refused, as are `NotPrincipal` and principals other than `AWS` (`Service`,
//! `Federated`, `CanonicalUser`), which no API Gateway caller can be.

mod condition;
mod principal;
mod values;

use std::net::IpAddr;
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::arn;
use condition::Condition;
use principal::PrincipalPattern;

/// The longest resource policy AWS stores, in characters.
pub const MAX_RESOURCE_POLICY: usize = 8192;

/// Which kind of document a policy is; it decides which elements are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Returned by a Lambda authorizer: `Principal` is ignored, each `Resource` is at most
    /// [`arn::MAX_AUTHORIZER_RESOURCE`] characters.
    Authorizer,
    /// An IAM identity policy attached to SigV4 credentials: `Principal` is refused.
    Identity,
    /// An API's resource policy: `Principal` is required, the shorthand
    /// `execute-api:/{stage}/{METHOD}/{path}` is expanded to the API's ARN, and the document is
    /// at most [`MAX_RESOURCE_POLICY`] characters.
    Resource,
}

/// The API a policy belongs to, used to expand the resource-policy shorthand
/// `execute-api:/stage/GET/pets` into `arn:aws:execute-api:{region}:{account}:{api_id}/stage/GET/pets`.
#[derive(Clone, Copy, Debug)]
pub struct ArnScope<'a> {
    /// The region, `us-east-1`.
    pub region: &'a str,
    /// The owning account id, `123456789012`.
    pub account: &'a str,
    /// The API id, `abc123defg`.
    pub api_id: &'a str,
}

impl ArnScope<'static> {
    /// The scope of a policy that is not a resource policy (an authorizer's output, an identity
    /// policy): those name full ARNs, and only resource policies have the shorthand to expand.
    pub const NONE: ArnScope<'static> = ArnScope {
        region: "",
        account: "",
        api_id: "",
    };
}

/// A policy document that did not parse, with where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PolicyError {
    /// The offending element, `Statement[1].Condition.IpAddress` (`(document)` for the whole).
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl PolicyError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        PolicyError {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

/// The result of evaluating a policy, or of [`combine`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A statement allows the request and none denies it.
    Allow,
    /// A statement denies the request.
    ExplicitDeny,
    /// No statement applies.
    ImplicitDeny,
}

/// Who is calling, for `Principal` matching and the `aws:Principal*` condition keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal<'a> {
    /// An unauthenticated caller: matches only `Principal: "*"` (or `{"AWS": "*"}`).
    Anonymous,
    /// An IAM caller, authenticated by SigV4.
    Iam {
        /// Its account id, `123456789012`.
        account: &'a str,
        /// Its ARN, `arn:aws:iam::123456789012:user/alice`.
        arn: &'a str,
        /// `aws:userid`, `AIDAEXAMPLE`.
        user_id: &'a str,
        /// `aws:username`, `alice`.
        username: &'a str,
    },
}

/// What a policy is evaluated against: one request's action, resource and context.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The action, `execute-api:Invoke`.
    pub action: &'a str,
    /// The method ARN ([`arn::method_arn`]).
    pub resource: &'a str,
    /// The caller.
    pub principal: Principal<'a>,
    /// `aws:SourceIp`.
    pub source_ip: Option<IpAddr>,
    /// `aws:UserAgent`.
    pub user_agent: Option<&'a str>,
    /// `aws:Referer`.
    pub referer: Option<&'a str>,
    /// `aws:SourceArn`: the ARN of an AWS resource calling on a service's behalf; `None` for
    /// ordinary callers.
    pub source_arn: Option<&'a str>,
    /// `aws:SecureTransport`: whether the request came over TLS.
    pub secure_transport: bool,
    /// `aws:CurrentTime` and `aws:EpochTime`.
    pub now: SystemTime,
}

/// A parsed policy document, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// A list of glob patterns, or its negation (`NotAction`, `NotResource`).
#[derive(Clone, Debug)]
struct Patterns {
    patterns: Vec<String>,
    negated: bool,
}

#[derive(Clone, Debug)]
struct Statement {
    effect: Effect,
    actions: Patterns,
    resources: Patterns,
    /// `None` when the kind has no principals (authorizer and identity policies).
    principals: Option<Vec<PrincipalPattern>>,
    conditions: Vec<Condition>,
}

impl Policy {
    /// Parses a policy document given as a JSON object, or as a JSON string holding one (AWS
    /// exports often carry the policy escaped). `scope` expands the resource-policy shorthand.
    pub fn parse(
        doc: &Value,
        kind: PolicyKind,
        scope: &ArnScope<'_>,
    ) -> Result<Policy, PolicyError> {
        const DOC: &str = "(document)";
        let parsed;
        let (doc, length) = match doc {
            Value::String(text) => {
                parsed = serde_json::from_str::<Value>(text)
                    .map_err(|e| PolicyError::new(DOC, format!("is not valid JSON: {e}")))?;
                (&parsed, text.chars().count())
            }
            other => {
                let length = if kind == PolicyKind::Resource {
                    serde_json::to_string(other).map_or(0, |s| s.chars().count())
                } else {
                    0
                };
                (other, length)
            }
        };
        if kind == PolicyKind::Resource && length > MAX_RESOURCE_POLICY {
            return Err(PolicyError::new(
                DOC,
                format!(
                    "a resource policy is at most {MAX_RESOURCE_POLICY} characters; this one has {length}"
                ),
            ));
        }
        let Value::Object(doc) = doc else {
            return Err(PolicyError::new(
                DOC,
                "a policy document must be a JSON object",
            ));
        };
        let mut statements = Vec::new();
        let mut seen_statement = false;
        for (name, value) in doc {
            match name.as_str() {
                "Version" => match value.as_str() {
                    Some("2012-10-17" | "2008-10-17") => {}
                    _ => {
                        return Err(PolicyError::new(
                            "Version",
                            format!("must be \"2012-10-17\" or \"2008-10-17\", not {value}"),
                        ));
                    }
                },
                "Id" => {
                    if !value.is_string() {
                        return Err(PolicyError::new("Id", "must be a string"));
                    }
                }
                "Statement" => {
                    seen_statement = true;
                    match value {
                        Value::Object(st) => {
                            statements.push(Statement::parse(st, "Statement", kind, scope)?)
                        }
                        Value::Array(items) => {
                            for (i, item) in items.iter().enumerate() {
                                let path = format!("Statement[{i}]");
                                let Value::Object(st) = item else {
                                    return Err(PolicyError::new(
                                        &path,
                                        "a statement must be an object",
                                    ));
                                };
                                statements.push(Statement::parse(st, &path, kind, scope)?);
                            }
                        }
                        _ => {
                            return Err(PolicyError::new(
                                "Statement",
                                "must be a statement object or an array of them",
                            ));
                        }
                    }
                }
                other => {
                    return Err(PolicyError::new(other, "unknown policy element"));
                }
            }
        }
        if !seen_statement {
            return Err(PolicyError::new("Statement", "is required"));
        }
        Ok(Policy { statements })
    }

    /// Evaluates the policy: [`Outcome::ExplicitDeny`] if any applicable statement denies, else
    /// [`Outcome::Allow`] if any allows, else [`Outcome::ImplicitDeny`]. An empty policy never
    /// allows. Does not allocate.
    pub fn evaluate(&self, facts: &Facts<'_>) -> Outcome {
        let mut allowed = false;
        for statement in &self.statements {
            if statement.applies(facts) {
                match statement.effect {
                    Effect::Deny => return Outcome::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Outcome::Allow
        } else {
            Outcome::ImplicitDeny
        }
    }
}

/// Joins the outcome of the caller's identity policy (or a Lambda authorizer's policy) with that
/// of the API's resource policy, per `[DG:apigateway-authorization-flow]` (§5.2): `None` means the
/// API has no resource policy, and the identity outcome stands alone. Any explicit deny wins. In
/// the same account (Table A) either policy's Allow suffices; across accounts (Table B) both must
/// allow.
pub fn combine(identity: Outcome, resource: Option<Outcome>, cross_account: bool) -> Outcome {
    let Some(resource) = resource else {
        return identity;
    };
    if identity == Outcome::ExplicitDeny || resource == Outcome::ExplicitDeny {
        return Outcome::ExplicitDeny;
    }
    let allowed = if cross_account {
        identity == Outcome::Allow && resource == Outcome::Allow
    } else {
        identity == Outcome::Allow || resource == Outcome::Allow
    };
    if allowed {
        Outcome::Allow
    } else {
        Outcome::ImplicitDeny
    }
}

impl Statement {
    fn parse(
        st: &Map<String, Value>,
        path: &str,
        kind: PolicyKind,
        scope: &ArnScope<'_>,
    ) -> Result<Statement, PolicyError> {
        let mut effect = None;
        let mut actions = None;
        let mut resources = None;
        let mut principals = None;
        let mut conditions = Vec::new();
        for (name, value) in st {
            let here = format!("{path}.{name}");
            match name.as_str() {
                "Sid" => {
                    if !value.is_string() {
                        return Err(PolicyError::new(&here, "must be a string"));
                    }
                }
                "Effect" => {
                    effect = Some(match value.as_str() {
                        Some("Allow") => Effect::Allow,
                        Some("Deny") => Effect::Deny,
                        _ => {
                            return Err(PolicyError::new(
                                &here,
                                format!("must be \"Allow\" or \"Deny\", not {value}"),
                            ));
                        }
                    });
                }
                "Action" | "NotAction" => {
                    if actions.is_some() {
                        return Err(PolicyError::new(
                            &here,
                            "a statement has either Action or NotAction, not both",
                        ));
                    }
                    actions = Some(Patterns {
                        patterns: strings(value, &here)?,
                        negated: name == "NotAction",
                    });
                }
                "Resource" | "NotResource" => {
                    if resources.is_some() {
                        return Err(PolicyError::new(
                            &here,
                            "a statement has either Resource or NotResource, not both",
                        ));
                    }
                    let mut patterns = strings(value, &here)?;
                    for (i, p) in patterns.iter_mut().enumerate() {
                        match kind {
                            PolicyKind::Authorizer
                                if p.chars().count() > arn::MAX_AUTHORIZER_RESOURCE =>
                            {
                                let at = if value.is_array() {
                                    format!("{here}[{i}]")
                                } else {
                                    here.clone()
                                };
                                return Err(PolicyError::new(
                                    &at,
                                    format!(
                                        "an authorizer's Resource is at most {} characters",
                                        arn::MAX_AUTHORIZER_RESOURCE
                                    ),
                                ));
                            }
                            PolicyKind::Resource => {
                                if let Some(rest) = p.strip_prefix("execute-api:") {
                                    *p = format!(
                                        "arn:aws:execute-api:{}:{}:{}{rest}",
                                        scope.region, scope.account, scope.api_id
                                    );
                                }
                            }
                            _ => {}
                        }
                    }
                    resources = Some(Patterns {
                        patterns,
                        negated: name == "NotResource",
                    });
                }
                "Principal" => match kind {
                    PolicyKind::Identity => {
                        return Err(PolicyError::new(
                            &here,
                            "an identity policy has no Principal",
                        ));
                    }
                    PolicyKind::Authorizer => {}
                    PolicyKind::Resource => principals = Some(principal::parse(value, &here)?),
                },
                "NotPrincipal" => {
                    return Err(PolicyError::new(&here, "NotPrincipal is not supported"));
                }
                "Condition" => conditions = condition::parse(value, &here)?,
                _ => return Err(PolicyError::new(&here, "unknown statement element")),
            }
        }
        let missing = |what: &str| PolicyError::new(path, format!("{what} is required"));
        let effect = effect.ok_or_else(|| missing("Effect"))?;
        let actions = actions.ok_or_else(|| missing("Action or NotAction"))?;
        let resources = resources.ok_or_else(|| missing("Resource or NotResource"))?;
        if kind == PolicyKind::Resource && principals.is_none() {
            return Err(missing("Principal (in a resource policy)"));
        }
        Ok(Statement {
            effect,
            actions,
            resources,
            principals,
            conditions,
        })
    }

    fn applies(&self, facts: &Facts<'_>) -> bool {
        let action = self
            .actions
            .patterns
            .iter()
            .any(|p| arn::matches_ignore_case(p, facts.action));
        if action == self.actions.negated {
            return false;
        }
        let resource = self
            .resources
            .patterns
            .iter()
            .any(|p| arn::matches(p, facts.resource));
        if resource == self.resources.negated {
            return false;
        }
        if let Some(principals) = &self.principals
            && !principals.iter().any(|p| p.matches(&facts.principal))
        {
            return false;
        }
        self.conditions.iter().all(|c| c.holds(facts))
    }
}

/// A string or a non-empty array of strings.
pub(crate) fn strings(value: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if items.is_empty() => Err(PolicyError::new(path, "must not be empty")),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| PolicyError::new(&format!("{path}[{i}]"), "must be a string"))
            })
            .collect(),
        _ => Err(PolicyError::new(
            path,
            "must be a string or an array of strings",
        )),
    }
}
