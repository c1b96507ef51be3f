//! Lambda ARNs, the functions plugins stand in for: the function name in an authorizer's
//! `authorizerUri` or an `aws_proxy` integration's `uri`, and the `aws_proxy` target (function
//! name template and payload format).

use serde_json::{Map, Value};

use super::context::Cx;
use crate::diag::DocPath;
use crate::model::PayloadFormat;
use crate::template::{Template, Var};

/// The function name in a Lambda invocation ARN
/// (`arn:aws:apigateway:R:lambda:path/2015-03-31/functions/arn:aws:lambda:R:A:function:NAME[:QUALIFIER]/invocations`),
/// or a bare function ARN.
pub(super) fn lambda_function_name(uri: &str) -> Option<&str> {
    let arn = match uri.find("/functions/") {
        Some(i) => uri[i + "/functions/".len()..].strip_suffix("/invocations")?,
        None => uri,
    };
    let after = &arn[arn.find(":function:")? + ":function:".len()..];
    let name = after.split(':').next()?;
    (!name.is_empty()).then_some(name)
}

/// An `aws_proxy` integration: the function named by the Lambda ARN in `uri`, and the payload
/// format.
pub(super) fn function_target(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &Map<String, Value>,
) -> (Option<Template>, PayloadFormat) {
    let format = match obj.get("payloadFormatVersion").and_then(Value::as_str) {
        None | Some("1.0") => PayloadFormat::V1,
        Some("2.0") => PayloadFormat::V2,
        Some(v) => {
            cx.error(
                &path.key("payloadFormatVersion"),
                format!("{v} is not 1.0 or 2.0"),
            );
            PayloadFormat::V1
        }
    };
    if let Some(m) = obj.get("httpMethod").and_then(Value::as_str)
        && !m.eq_ignore_ascii_case("POST")
    {
        cx.warn(
            &path.key("httpMethod"),
            "Lambda integrations are invoked with POST; the method is ignored",
        );
    }
    let Some(uri) = obj.get("uri").and_then(Value::as_str) else {
        cx.error(
            path,
            "an aws_proxy integration needs a `uri` naming a Lambda function",
        );
        return (None, format);
    };
    let Some(name) = lambda_function_name(uri) else {
        cx.error(&path.key("uri"), format!("{uri} is not a Lambda invocation URI (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/arn:aws:lambda:REGION:ACCOUNT:function:NAME/invocations)"));
        return (None, format);
    };
    match Template::parse_uri(name) {
        Ok(t) if t.vars().all(|v| matches!(v, Var::StageVariable(_))) => (Some(t), format),
        _ => {
            cx.error(
                &path.key("uri"),
                format!("function name {name:?}: only ${{stageVariables.NAME}} may be substituted"),
            );
            (None, format)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_names() {
        assert_eq!(
            lambda_function_name(
                "arn:aws:apigateway:r:lambda:path/2015-03-31/functions/arn:aws:lambda:r:1:function:echo/invocations"
            ),
            Some("echo")
        );
        assert_eq!(
            lambda_function_name("arn:aws:lambda:r:1:function:echo:prod"),
            Some("echo")
        );
        assert_eq!(lambda_function_name("http://example.com"), None);
    }
}
