//! The function output → response direction.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use serde_json::{Map, Value};

use super::BadResponse;
use crate::integration::headers;
use crate::pipeline::body::{Body, full};

/// The only keys a format 1.0 response may have.
const V1_KEYS: &[&str] = &[
    "statusCode",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
];

/// Sent to the client renamed, as API Gateway does for every integration type (reference §8.7).
const REMAPPED: &[(&str, &str)] = &[
    ("connection", "x-amzn-remapped-connection"),
    ("content-length", "x-amzn-remapped-content-length"),
    ("date", "x-amzn-remapped-date"),
    ("server", "x-amzn-remapped-server"),
];

fn bad(what: impl Into<String>) -> BadResponse {
    BadResponse(what.into())
}

/// Format 1.0. `binary` says whether a response of a `Content-Type` is binary for the API
/// (its `binaryMediaTypes`, or the request's first `Accept` type): only then is an
/// `isBase64Encoded` body decoded; otherwise REST APIs pass the base64 text through.
pub(super) fn v1(
    output: &str,
    binary: &dyn Fn(Option<&str>) -> bool,
) -> Result<Response<Body>, BadResponse> {
    let value: Value =
        serde_json::from_str(output).map_err(|e| bad(format!("output is not JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(bad("output is not a JSON object"));
    };
    if obj.is_empty() {
        return Err(bad("output is an empty object"));
    }
    if let Some(key) = obj.keys().find(|k| !V1_KEYS.contains(&k.as_str())) {
        return Err(bad(format!("unexpected key {key:?}")));
    }
    let status = status(obj.get("statusCode"))?;
    let mut headers = Headers::default();
    multi_value_headers(obj.get("multiValueHeaders"), &mut headers)?;
    single_headers(obj.get("headers"), &mut headers)?;
    let body = body(&obj)?;
    let content_type = headers
        .0
        .iter()
        .find(|(n, _)| n == "content-type")
        .and_then(|(_, v)| v.first())
        .map(String::as_str);
    let body = if is_base64(obj.get("isBase64Encoded"))? && binary(content_type) {
        Bytes::from(
            STANDARD
                .decode(body.trim())
                .map_err(|e| bad(format!("isBase64Encoded body is not base64: {e}")))?,
        )
    } else {
        Bytes::from(body)
    };
    build(status, headers, body)
}

/// Format 2.0.
pub(super) fn v2(output: &str) -> Result<Response<Body>, BadResponse> {
    let value: Value =
        serde_json::from_str(output).map_err(|e| bad(format!("output is not JSON: {e}")))?;
    let obj = match value {
        Value::Object(obj) if obj.contains_key("statusCode") => obj,
        Value::String(text) => return build(StatusCode::OK, Headers::default(), text.into()),
        _ => {
            let text = output.trim().to_owned();
            return build(StatusCode::OK, Headers::default(), text.into());
        }
    };
    let status = status(obj.get("statusCode"))?;
    let mut headers = Headers::default();
    single_headers(obj.get("headers"), &mut headers)?;
    match obj.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(cookies)) => {
            for cookie in cookies {
                match scalar(cookie) {
                    Some(c) => headers.push("set-cookie", c),
                    None if cookie.is_null() => {}
                    None => return Err(bad("a cookie is not a string")),
                }
            }
        }
        Some(_) => return Err(bad("cookies is not an array")),
    }
    let body = body(&obj)?;
    let body = if is_base64(obj.get("isBase64Encoded"))? {
        STANDARD
            .decode(body.as_bytes())
            .map_err(|e| bad(format!("body is not valid base64: {e}")))?
    } else {
        body.into_bytes()
    };
    build(status, headers, Bytes::from(body))
}

/// `statusCode`: absent → 200; a number or a numeric string in 200–599.
fn status(value: Option<&Value>) -> Result<StatusCode, BadResponse> {
    let code = match value {
        None => return Ok(StatusCode::OK),
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..1000.0).contains(f))
                .map(|f| f as u64)
        }),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(_) => None,
    };
    code.filter(|c| (200..=599).contains(c))
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| {
            bad(format!(
                "invalid statusCode {}",
                value.unwrap_or(&Value::Null)
            ))
        })
}

/// A header value as text: strings as they are, numbers and booleans stringified.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn single_headers(value: Option<&Value>, out: &mut Headers) -> Result<(), BadResponse> {
    let map = match value {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(bad("headers is not an object")),
    };
    for (name, v) in map {
        match scalar(v) {
            Some(s) => out.push(name, s),
            None if v.is_null() => {}
            None => return Err(bad(format!("header {name:?} is not a string"))),
        }
    }
    Ok(())
}

fn multi_value_headers(value: Option<&Value>, out: &mut Headers) -> Result<(), BadResponse> {
    let map = match value {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(bad("multiValueHeaders is not an object")),
    };
    for (name, values) in map {
        let values = match values {
            Value::Null => continue,
            Value::Array(values) => values,
            _ => return Err(bad(format!("multiValueHeaders {name:?} is not a list"))),
        };
        for v in values {
            match scalar(v) {
                Some(s) => out.push(name, s),
                None if v.is_null() => {}
                None => return Err(bad(format!("a value of header {name:?} is not a string"))),
            }
        }
    }
    Ok(())
}

/// `body`: a string (numbers and booleans stringified); absent or `null` is empty.
fn body(obj: &Map<String, Value>) -> Result<String, BadResponse> {
    match obj.get("body") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(v) => scalar(v).ok_or_else(|| bad("body is not a string")),
    }
}

fn is_base64(value: Option<&Value>) -> Result<bool, BadResponse> {
    match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(bad("isBase64Encoded is not a boolean")),
    }
}

/// Response headers by lower-case name, in order of first appearance, values in order.
#[derive(Default)]
struct Headers(Vec<(String, Vec<String>)>);

impl Headers {
    fn push(&mut self, name: &str, value: String) {
        let name = name.to_ascii_lowercase();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => self.0.push((name, vec![value])),
        }
    }
}

fn build(status: StatusCode, headers: Headers, body: Bytes) -> Result<Response<Body>, BadResponse> {
    let mut map = HeaderMap::new();
    for (name, values) in headers.0 {
        // Remapped names first (`Connection` is passed on as `x-amzn-Remapped-Connection`),
        // then the other hop-by-hop headers are dropped.
        let name = match REMAPPED.iter().find(|(from, _)| *from == name) {
            Some((_, to)) => *to,
            None if headers::is_hop_by_hop(&name) => continue,
            None => name.as_str(),
        };
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(format!("invalid header name {name:?}")))?;
        let value = |v: &str| {
            HeaderValue::from_str(v).map_err(|_| bad(format!("invalid value for header {name}")))
        };
        if name == header::SET_COOKIE {
            for v in &values {
                map.append(&name, value(v)?);
            }
        } else {
            map.insert(&name, value(&values.join(", "))?);
        }
    }
    if !map.contains_key(header::CONTENT_TYPE) {
        map.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    *response.headers_mut() = map;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use http::Response;
    use http_body_util::BodyExt;

    use super::super::{BadResponse, PayloadFormat, response};
    use crate::pipeline::body::Body;

    fn run(format: PayloadFormat, output: &str) -> Result<(Response<Body>, String), BadResponse> {
        let resp = response(format, output, &|_| false)?;
        let (parts, body) = resp.into_parts();
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(body.collect())
            .unwrap()
            .to_bytes();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        Ok((
            Response::from_parts(parts, crate::pipeline::body::empty()),
            text,
        ))
    }

    fn ok1(output: &str) -> (Response<Body>, String) {
        run(PayloadFormat::V1, output).unwrap_or_else(|e| panic!("{output}: {e}"))
    }

    fn ok2(output: &str) -> (Response<Body>, String) {
        run(PayloadFormat::V2, output).unwrap_or_else(|e| panic!("{output}: {e}"))
    }

    fn bad1(output: &str) {
        assert!(
            response(PayloadFormat::V1, output, &|_| false).is_err(),
            "{output} should be rejected"
        );
    }

    fn bad2(output: &str) {
        assert!(
            response(PayloadFormat::V2, output, &|_| false).is_err(),
            "{output} should be rejected"
        );
    }

    fn header<'a>(r: &'a Response<Body>, name: &str) -> Option<&'a str> {
        r.headers().get(name).map(|v| v.to_str().unwrap())
    }

    fn all<'a>(r: &'a Response<Body>, name: &str) -> Vec<&'a str> {
        r.headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    // The AWS-validated table of reference §8.3, row by row.

    #[test]
    fn table_status_only() {
        let (r, body) = ok1(r#"{"statusCode":200}"#);
        assert_eq!(r.status(), 200);
        assert_eq!(body, "");
        assert_eq!(header(&r, "content-type"), Some("application/json"));
    }

    #[test]
    fn table_headers_with_bool() {
        let (r, _) =
            ok1(r#"{"statusCode":200,"headers":{"test-header":"value","header-bool":true}}"#);
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "test-header"), Some("value"));
        assert_eq!(header(&r, "header-bool"), Some("true"));
    }

    #[test]
    fn table_headers_null() {
        let (r, body) = ok1(r#"{"statusCode":200,"headers":null}"#);
        assert_eq!(r.status(), 200);
        assert_eq!(body, "");
    }

    #[test]
    fn table_unknown_key() {
        bad1(r#"{"statusCode":200,"wrongValue":"value"}"#);
    }

    #[test]
    fn table_empty_object() {
        bad1("{}");
        // What AWS's own test really received there: the function failed on a request
        // without a body, and Lambda returned its error payload.
        bad1(
            r#"{"errorMessage":"the JSON object must be str, bytes or bytearray, not NoneType",
                "errorType":"TypeError","requestId":"1","stackTrace":["  File ..."]}"#,
        );
    }

    #[test]
    fn v1_base64_decoded_for_binary_types() {
        let binary = |ct: Option<&str>| ct == Some("image/png");
        let out = r#"{"statusCode":200,"headers":{"content-type":"image/png"},"body":"iVBORw==","isBase64Encoded":true}"#;
        let resp = response(PayloadFormat::V1, out, &binary).unwrap();
        let bytes = futures_body(resp);
        assert_eq!(bytes, vec![0x89, b'P', b'N', b'G']);
        let text = r#"{"statusCode":200,"headers":{"content-type":"text/plain"},"body":"iVBORw==","isBase64Encoded":true}"#;
        let resp = response(PayloadFormat::V1, text, &binary).unwrap();
        assert_eq!(futures_body(resp), b"iVBORw==".to_vec());
    }

    fn futures_body(resp: Response<Body>) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(resp.into_body().collect())
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    #[test]
    fn table_base64_not_decoded() {
        let (r, body) = ok1(r#"{"statusCode":200,"body":"dGVzdC1kYXRh","isBase64Encoded":true}"#);
        assert_eq!(r.status(), 200);
        assert_eq!(body, "dGVzdC1kYXRh");
        let (_, body) = ok1(r#"{"statusCode":200,"body":"dGVzdC1kYXRh"}"#);
        assert_eq!(body, "dGVzdC1kYXRh");
    }

    #[test]
    fn table_multi_value_headers() {
        let (r, _) =
            ok1(r#"{"statusCode":200,"multiValueHeaders":{"test-multi":["value1","value2"]}}"#);
        assert_eq!(all(&r, "test-multi"), ["value1, value2"]);
    }

    #[test]
    fn table_multi_value_and_single_merge() {
        let (r, _) = ok1(
            r#"{"statusCode":200,"multiValueHeaders":{"test-multi":["value-multi"]},"headers":{"test-multi":"value-solo"}}"#,
        );
        assert_eq!(all(&r, "test-multi"), ["value-multi, value-solo"]);
        // Different casing; and `headers` before `multiValueHeaders` in the JSON.
        let (r, _) = ok1(
            r#"{"statusCode":200,"headers":{"test-multi":"value-solo"},"multiValueHeaders":{"tesT-Multi":["value-multi"]}}"#,
        );
        assert_eq!(all(&r, "test-multi"), ["value-multi, value-solo"]);
    }

    #[test]
    fn table_multi_value_not_a_list() {
        bad1(r#"{"statusCode":200,"multiValueHeaders":{"test-multi-invalid":"value1"}}"#);
    }

    #[test]
    fn table_status_not_numeric() {
        bad1(r#"{"statusCode":"test"}"#);
    }

    #[test]
    fn table_status_numeric_string() {
        let (r, _) = ok1(r#"{"statusCode":"201"}"#);
        assert_eq!(r.status(), 201);
    }

    #[test]
    fn table_just_a_string() {
        bad1(r#""justAString""#);
    }

    #[test]
    fn table_no_status_code() {
        let (r, body) = ok1(r#"{"headers":{"test-header":"value"}}"#);
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "test-header"), Some("value"));
        assert_eq!(body, "");
    }

    // Beyond the table.

    #[test]
    fn v1_status_codes() {
        for (output, status) in [
            (r#"{"statusCode":404}"#, 404),
            (r#"{"statusCode":599}"#, 599),
            (r#"{"statusCode":200.0}"#, 200),
            (r#"{"statusCode":"503"}"#, 503),
        ] {
            assert_eq!(ok1(output).0.status(), status, "{output}");
        }
        for output in [
            r#"{"statusCode":600}"#,
            r#"{"statusCode":100}"#,
            r#"{"statusCode":101}"#,
            r#"{"statusCode":0}"#,
            r#"{"statusCode":-1}"#,
            r#"{"statusCode":200.5}"#,
            r#"{"statusCode":"20x"}"#,
            r#"{"statusCode":""}"#,
            r#"{"statusCode":null}"#,
            r#"{"statusCode":true}"#,
            r#"{"statusCode":[200]}"#,
            r#"{"statusCode":70000}"#,
        ] {
            bad1(output);
        }
    }

    #[test]
    fn v1_not_an_object_or_not_json() {
        for output in [
            "",
            "not json",
            "[]",
            "null",
            "42",
            "true",
            r#"{"statusCode":200"#,
        ] {
            bad1(output);
        }
    }

    #[test]
    fn v1_header_values() {
        let (r, _) = ok1(
            r#"{"statusCode":200,"headers":{"x-num":42,"x-float":1.5,"x-false":false,"x-null":null},
                "multiValueHeaders":{"x-mixed":["a",1,true,null],"x-none":null}}"#,
        );
        assert_eq!(header(&r, "x-num"), Some("42"));
        assert_eq!(header(&r, "x-float"), Some("1.5"));
        assert_eq!(header(&r, "x-false"), Some("false"));
        assert_eq!(header(&r, "x-null"), None);
        assert_eq!(header(&r, "x-mixed"), Some("a, 1, true"));
        assert_eq!(header(&r, "x-none"), None);
        bad1(r#"{"statusCode":200,"headers":{"x":{"a":1}}}"#);
        bad1(r#"{"statusCode":200,"headers":{"x":["a"]}}"#);
        bad1(r#"{"statusCode":200,"headers":["x"]}"#);
        bad1(r#"{"statusCode":200,"headers":"x: y"}"#);
        bad1(r#"{"statusCode":200,"multiValueHeaders":{"x":[["a"]]}}"#);
        bad1(r#"{"statusCode":200,"multiValueHeaders":["x"]}"#);
        // Not sendable as HTTP.
        bad1(r#"{"statusCode":200,"headers":{"x":"a\nb"}}"#);
        bad1(r#"{"statusCode":200,"headers":{"bad name":"v"}}"#);
        bad1(r#"{"statusCode":200,"headers":{"":"v"}}"#);
    }

    #[test]
    fn v1_same_header_in_two_casings() {
        let (r, _) = ok1(r#"{"statusCode":200,"headers":{"X-A":"1","x-a":"2"}}"#);
        assert_eq!(all(&r, "x-a"), ["1, 2"]);
    }

    #[test]
    fn v1_set_cookie_stays_separate() {
        let (r, _) = ok1(
            r#"{"statusCode":200,"multiValueHeaders":{"Set-Cookie":["a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT","b=2"]},
                "headers":{"set-cookie":"c=3"}}"#,
        );
        assert_eq!(
            all(&r, "set-cookie"),
            ["a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT", "b=2", "c=3"]
        );
    }

    #[test]
    fn v1_content_type_kept_when_set() {
        let (r, body) =
            ok1(r#"{"statusCode":200,"headers":{"Content-Type":"text/html"},"body":"<p>hi</p>"}"#);
        assert_eq!(all(&r, "content-type"), ["text/html"]);
        assert_eq!(body, "<p>hi</p>");
    }

    #[test]
    fn v1_remapped_and_dropped_headers() {
        let (r, body) = ok1(
            r#"{"statusCode":200,"body":"hello","headers":{"Content-Length":"999","Transfer-Encoding":"chunked",
                "Date":"yesterday","Server":"lambda","Connection":"close","Keep-Alive":"timeout=5"}}"#,
        );
        assert_eq!(body, "hello");
        assert_eq!(header(&r, "content-length"), None);
        assert_eq!(header(&r, "x-amzn-remapped-content-length"), Some("999"));
        assert_eq!(header(&r, "transfer-encoding"), None);
        assert_eq!(header(&r, "date"), None);
        assert_eq!(header(&r, "x-amzn-remapped-date"), Some("yesterday"));
        assert_eq!(header(&r, "server"), None);
        assert_eq!(header(&r, "x-amzn-remapped-server"), Some("lambda"));
        assert_eq!(header(&r, "connection"), None);
        assert_eq!(header(&r, "x-amzn-remapped-connection"), Some("close"));
        assert_eq!(header(&r, "keep-alive"), None);
    }

    #[test]
    fn v1_body_types() {
        let (_, body) = ok1(r#"{"statusCode":200,"body":null}"#);
        assert_eq!(body, "");
        let (_, body) = ok1(r#"{"statusCode":200,"body":"{\"a\":1}"}"#);
        assert_eq!(body, r#"{"a":1}"#);
        let (_, body) = ok1(r#"{"statusCode":200,"body":42}"#);
        assert_eq!(body, "42");
        bad1(r#"{"statusCode":200,"body":{"a":1}}"#);
        bad1(r#"{"statusCode":200,"body":["a"]}"#);
    }

    #[test]
    fn v1_is_base64_encoded_values() {
        ok1(r#"{"statusCode":200,"isBase64Encoded":false}"#);
        ok1(r#"{"statusCode":200,"isBase64Encoded":null}"#);
        ok1(r#"{"statusCode":200,"isBase64Encoded":"true"}"#);
        bad1(r#"{"statusCode":200,"isBase64Encoded":1}"#);
        bad1(r#"{"statusCode":200,"isBase64Encoded":"yes"}"#);
    }

    #[test]
    fn v1_rejects_v2_only_keys() {
        bad1(r#"{"statusCode":200,"cookies":["a=1"]}"#);
    }

    // Format 2.0 (reference §8.4).

    #[test]
    fn v2_bare_string() {
        let (r, body) = ok2(r#""Hello from Lambda!""#);
        assert_eq!(r.status(), 200);
        assert_eq!(body, "Hello from Lambda!");
        assert_eq!(header(&r, "content-type"), Some("application/json"));
    }

    #[test]
    fn v2_object_without_status_code() {
        let output = r#"{ "message": "Hello from Lambda!" }"#;
        let (r, body) = ok2(output);
        assert_eq!(r.status(), 200);
        assert_eq!(body, output);
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        // `headers` and `body` mean nothing without `statusCode`.
        let output = r#"{"headers":{"x-a":"1"},"body":"b"}"#;
        let (r, body) = ok2(output);
        assert_eq!(header(&r, "x-a"), None);
        assert_eq!(body, output);
    }

    #[test]
    fn v2_other_json() {
        for (output, expected) in [
            ("42", "42"),
            ("true", "true"),
            ("null", "null"),
            ("[1, 2]", "[1, 2]"),
            ("{}", "{}"),
            (" {\"a\":1}\n", "{\"a\":1}"),
        ] {
            let (r, body) = ok2(output);
            assert_eq!(r.status(), 200);
            assert_eq!(body, expected);
        }
    }

    #[test]
    fn v2_invalid_json() {
        for output in ["", "Hello from Lambda!", "{\"statusCode\":200", "'x'"] {
            bad2(output);
        }
    }

    #[test]
    fn v2_structured() {
        let (r, body) = ok2(
            r#"{"statusCode":201,"headers":{"Content-Type":"text/plain","x-n":7},
                "cookies":["a=1; Path=/","b=2"],"body":"created","isBase64Encoded":false}"#,
        );
        assert_eq!(r.status(), 201);
        assert_eq!(header(&r, "content-type"), Some("text/plain"));
        assert_eq!(header(&r, "x-n"), Some("7"));
        assert_eq!(all(&r, "set-cookie"), ["a=1; Path=/", "b=2"]);
        assert_eq!(body, "created");
    }

    #[test]
    fn v2_structured_defaults_and_lenience() {
        let (r, body) = ok2(r#"{"statusCode":"204"}"#);
        assert_eq!(r.status(), 204);
        assert_eq!(body, "");
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        // Unknown keys, multiValueHeaders included, are ignored.
        let (r, _) = ok2(
            r#"{"statusCode":200,"multiValueHeaders":{"x-m":["a","b"]},"extra":1,"cookies":null}"#,
        );
        assert_eq!(header(&r, "x-m"), None);
        assert_eq!(all(&r, "set-cookie"), Vec::<&str>::new());
    }

    #[test]
    fn v2_structured_invalid() {
        bad2(r#"{"statusCode":"abc"}"#);
        bad2(r#"{"statusCode":null}"#);
        bad2(r#"{"statusCode":200,"cookies":"a=1"}"#);
        bad2(r#"{"statusCode":200,"cookies":[{"a":1}]}"#);
        bad2(r#"{"statusCode":200,"headers":{"x":["a"]}}"#);
        bad2(r#"{"statusCode":200,"body":{"a":1}}"#);
    }

    #[test]
    fn v2_base64_is_decoded() {
        let (r, body) = ok2(r#"{"statusCode":200,"body":"dGVzdC1kYXRh","isBase64Encoded":true}"#);
        assert_eq!(r.status(), 200);
        assert_eq!(body, "test-data");
        bad2(r#"{"statusCode":200,"body":"not base64!","isBase64Encoded":true}"#);
    }

    #[test]
    fn v2_function_error_payload_is_a_valid_answer() {
        // Why the caller must check Lambda's function-error flag before calling `response`.
        let output = r#"{"errorMessage":"boom","errorType":"Error"}"#;
        let (r, body) = ok2(output);
        assert_eq!(r.status(), 200);
        assert_eq!(body, output);
    }
}
