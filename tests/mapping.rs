//! Mapping templates, passthrough, integration-response selection, overrides, parameter
//! mapping, binary payloads and request validation, through the real gateway with a real
//! upstream and the `function-echo` plugin (AWS reference §6, §7, §8.9).

use crate::support::*;

/// Resources for each row of §6.6's passthrough table: `/pt/{json,xml,none}/{match,templates,
/// never}` → an `http` integration whose templates are `{json: 'J', xml: 'X', none: nothing}`,
/// with that passthrough behaviour.
fn passthrough_paths(up: &str) -> String {
    let mut out = String::new();
    for (set, templates) in [
        (
            "json",
            "        requestTemplates:\n          application/json: 'json:$input.body'\n",
        ),
        (
            "xml",
            "        requestTemplates:\n          application/xml: 'xml:$input.body'\n",
        ),
        ("none", ""),
    ] {
        for (name, behaviour) in [
            ("match", "when_no_match"),
            ("templates", "when_no_templates"),
            ("never", "never"),
        ] {
            out.push_str(&format!(
                r#"  /pt/{set}/{name}:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/pt
        passthroughBehavior: {behaviour}
{templates}        responses:
          default:
            statusCode: 200
"#
            ));
        }
    }
    out
}

#[tokio::test]
async fn passthrough_follows_every_row_of_the_table() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    let api = format!(
        "openapi: 3.0.1\ninfo: {{title: pt, version: '1'}}\npaths:\n{}",
        passthrough_paths(&up.addr.to_string())
    );
    dir.single_api(&api, "      prod: {}\n", "");
    let gw = Portico::start(&dir);

    // (templates, content type, [WHEN_NO_MATCH, WHEN_NO_TEMPLATES, NEVER]):
    // "T" transformed, "P" passed through, "415".
    let rows: &[(&str, Option<&str>, [&str; 3])] = &[
        ("json", None, ["T", "T", "T"]),
        ("json", Some("application/json"), ["T", "T", "T"]),
        ("json", Some("application/xml"), ["P", "415", "415"]),
        ("xml", None, ["P", "415", "415"]),
        ("xml", Some("application/json"), ["P", "415", "415"]),
        ("xml", Some("application/xml"), ["T", "T", "T"]),
        ("none", Some("text/plain"), ["P", "P", "415"]),
    ];
    for (set, ct, expected) in rows {
        for (name, want) in ["match", "templates", "never"].iter().zip(expected) {
            let headers: Vec<(&str, &str)> = ct.iter().map(|c| ("content-type", *c)).collect();
            let before = up.count();
            let reply = send(
                "POST",
                &gw.url(&format!("/prod/pt/{set}/{name}")),
                &headers,
                "payload",
            )
            .await;
            let case = format!("{set} templates, content type {ct:?}, {name}");
            match *want {
                "415" => {
                    assert_gateway_error(
                        &reply,
                        415,
                        r#"{"message":"Unsupported Media Type"}"#,
                        "UnsupportedMediaTypeException",
                    );
                    assert_eq!(
                        up.count(),
                        before,
                        "{case}: the upstream must not be called"
                    );
                }
                "P" => {
                    assert_eq!(reply.status, 200, "{case}: {}", reply.text());
                    assert_eq!(up.last().body, "payload", "{case}");
                }
                _ => {
                    assert_eq!(reply.status, 200, "{case}: {}", reply.text());
                    assert_eq!(up.last().body, format!("{set}:payload"), "{case}");
                }
            }
        }
    }
}

/// Where an API's templates and models run: the built-in engines, or the first-party
/// components named per API (`template_mapper`, `model_validator`). Both must answer alike.
#[derive(Clone, Copy, Debug)]
enum Engine {
    BuiltIn,
    Components,
}

impl Engine {
    /// The gateway-file `plugins:` section this engine needs.
    fn plugins(self) -> String {
        match self {
            Engine::BuiltIn => String::new(),
            Engine::Components => format!(
                "plugins:\n  - name: vtl\n    kind: template-mapper\n    file: {}\n    instances: reuse\n  - name: schema\n    kind: model-validator\n    file: {}\n    instances: reuse\n",
                component("mapper-vtl").display(),
                component("validator-jsonschema").display()
            ),
        }
    }

    /// `stages` with the API's engine settings after them.
    fn stages(self, stages: &str) -> String {
        match self {
            Engine::BuiltIn => stages.to_owned(),
            Engine::Components => {
                format!("{stages}    template_mapper: vtl\n    model_validator: schema\n")
            }
        }
    }
}

/// The §6.10 example 3 through an `http` integration: the request template reshapes the body,
/// the upstream gets it, and a response template reshapes the answer.
#[tokio::test]
async fn request_and_response_templates_through_http() {
    templates_through_http(Engine::BuiltIn).await;
}

/// The same, rendered by the `mapper-vtl` component.
#[tokio::test]
async fn request_and_response_templates_through_the_mapper_component() {
    templates_through_http(Engine::Components).await;
}

async fn templates_through_http(engine: Engine) {
    let up = Upstream::answering(|_| {
        (
            http::StatusCode::OK,
            r#"{"pets":[{"name":"rex","age":3},{"name":"tom","age":5}],"total":2}"#.into(),
        )
    })
    .await;
    let dir = Dir::new();
    let api = format!(
        r##"openapi: 3.0.1
info: {{title: t, version: '1'}}
paths:
  /things/{{id}}:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/things
        requestTemplates:
          application/json: |-
            {{"id" : "$input.params('id')", "count" : "$input.path('$.things').size()", "things" : $input.json('$.things')}}
        responses:
          default:
            statusCode: 200
            responseTemplates:
              application/json: |-
                #set($root = $input.path('$'))
                {{"names": [#foreach($p in $root.pets)"$p.name"#if($foreach.hasNext), #end#end], "stage": "$context.stage", "color": "$stageVariables.color"}}
"##,
        up = up.addr
    );
    dir.single_api(
        &api,
        &engine.stages("      prod:\n        variables: {color: blue}\n"),
        &engine.plugins(),
    );
    let gw = Portico::start(&dir);
    let reply = send(
        "POST",
        &gw.url("/prod/things/abc"),
        &[("content-type", "application/json")],
        r#"{"things":{"1":{},"2":{},"3":{}}}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sent: serde_json::Value =
        serde_json::from_slice(&up.last().body).expect("JSON upstream body");
    assert_eq!(sent["id"], "abc");
    assert_eq!(sent["count"], "3");
    assert_eq!(
        sent["things"],
        serde_json::json!({"1": {}, "2": {}, "3": {}})
    );
    assert_eq!(
        reply.text(),
        r#"{"names": ["rex", "tom"], "stage": "prod", "color": "blue"}"#
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

/// A template that builds a 2.5 MB string: the built-in engine renders it; the same template
/// in a `mapper-vtl` limited to 1 MiB of memory answers 500, counts a plugin fault under the
/// plugin's name, and the gateway keeps serving. Proof that an API's templates go to its
/// component, and that a component's fault is contained.
#[tokio::test]
async fn a_mapper_component_out_of_memory_answers_500_and_counts_a_fault() {
    let api = r##"openapi: 3.0.1
info: {title: t, version: '1'}
paths:
  /m:
    post:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 200}'
        responses:
          default:
            statusCode: 200
            responseTemplates:
              application/json: '#set($s = "0123456789012345678901234567890123456789")#foreach($i in [1..16])#set($s = "$s$s")#end$s.length()'
"##;
    let json = [("content-type", "application/json")];
    let built_in = Dir::new();
    built_in.single_api(api, "      prod: {}\n", "");
    let gw = Portico::start(&built_in);
    let reply = send("POST", &gw.url("/prod/m"), &json, "{}").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "2621440");
    drop(gw);

    let dir = Dir::new();
    let plugins = Engine::Components.plugins().replace(
        "    instances: reuse\n  - name: schema",
        "    instances: reuse\n    memory_mb: 1\n  - name: schema",
    );
    dir.single_api(
        api,
        &Engine::Components.stages("      prod: {}\n"),
        &plugins,
    );
    let gw = Portico::start(&dir);
    for _ in 0..2 {
        let reply = send("POST", &gw.url("/prod/m"), &json, "{}").await;
        assert_gateway_error(
            &reply,
            500,
            r#"{"message": "Internal server error"}"#,
            "InternalServerErrorException",
        );
    }
    let metrics = get(&gw.admin_url("/metrics")).await.text();
    assert!(
        metrics.contains(r#"portico_plugin_faults_total{plugin="vtl",fault="out_of_memory"} 2"#),
        "{metrics}"
    );
}

/// Selection patterns on the status code (HTTP), overrides from the response template, and
/// response parameters from headers, multi-value headers and the body (JSONPath).
#[tokio::test]
async fn http_selection_patterns_parameters_and_overrides() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    let api = format!(
        r#"openapi: 3.0.1
info: {{title: t, version: '1'}}
paths:
  /sel:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://{up}/sel
        requestParameters:
          integration.request.header.x-test-status: method.request.header.x-want
          integration.request.querystring.q: method.request.multivaluequerystring.q
          integration.request.header.x-static: "'fixed'"
        responses:
          "4\\d{{2}}":
            statusCode: 400
            responseParameters:
              method.response.header.x-method: integration.response.body.method
              method.response.header.x-up: integration.response.header.x-upstream
            responseTemplates:
              application/json: '{{"failed": $input.json(''$.method'')}}'
          "5\\d{{2}}":
            statusCode: 502
            responseTemplates:
              application/json: |-
                #set($context.responseOverride.status = 503)
                #set($context.responseOverride.header.x-override = "yes")
                {{"overridden": true}}
          default:
            statusCode: 200
            responseParameters:
              method.response.header.x-target: integration.response.body.target
"#,
        up = up.addr
    );
    dir.single_api(&api, "      prod: {}\n", "");
    let gw = Portico::start(&dir);

    let ok = send("GET", &gw.url("/prod/sel?q=a&q=b"), &[], "").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let seen = up.last();
    // A multi-value source reaches the integration's query string once per value (§6.8).
    assert_eq!(seen.target, "/sel?q=a&q=b");
    assert_eq!(seen.headers.get("x-static").unwrap(), "fixed");
    assert_eq!(ok.header("x-target"), Some("/sel?q=a&q=b"));

    let client_error = send("GET", &gw.url("/prod/sel"), &[("x-want", "404")], "").await;
    assert_eq!(client_error.status, 400, "{}", client_error.text());
    assert_eq!(client_error.text(), r#"{"failed": "GET"}"#);
    assert_eq!(client_error.header("x-method"), Some("GET"));
    assert_eq!(client_error.header("x-up"), Some("yes"));

    let server_error = send("GET", &gw.url("/prod/sel"), &[("x-want", "500")], "").await;
    assert_eq!(server_error.status, 503, "{}", server_error.text());
    assert_eq!(server_error.header("x-override"), Some("yes"));
    assert_eq!(server_error.text(), r#"{"overridden": true}"#);
}

/// Request overrides: a request template rewrites the upstream's headers, query string and
/// path parameter; setting one twice is a 500.
#[tokio::test]
async fn request_overrides_reach_the_upstream() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    let api = format!(
        r#"openapi: 3.0.1
info: {{title: t, version: '1'}}
paths:
  /o/{{id}}:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/items/{{id}}
        requestTemplates:
          application/json: |-
            #set($context.requestOverride.header.x-from-template = "h-$input.params('id')")
            #set($name = "k")
            #set($context.requestOverride.querystring[$name] = "v")
            #set($context.requestOverride.path.id = "overridden")
            {{"ok": true}}
        responses:
          default:
            statusCode: 200
  /twice:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/twice
        requestTemplates:
          application/json: |-
            #set($context.requestOverride.header.x-a = "1")
            #set($context.requestOverride.header.x-a = "2")
            {{}}
        responses:
          default:
            statusCode: 200
"#,
        up = up.addr
    );
    dir.single_api(&api, "      prod: {}\n", "");
    let gw = Portico::start(&dir);
    let reply = send("POST", &gw.url("/prod/o/abc"), &[], "{}").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = up.last();
    assert_eq!(seen.target, "/items/overridden?k=v");
    assert_eq!(seen.headers.get("x-from-template").unwrap(), "h-abc");
    assert_eq!(seen.body, r#"{"ok": true}"#);

    let before = up.count();
    let twice = send("POST", &gw.url("/prod/twice"), &[], "{}").await;
    assert_gateway_error(
        &twice,
        500,
        r#"{"message": "Internal server error"}"#,
        "InternalServerErrorException",
    );
    assert_eq!(up.count(), before);
}

/// AWS-validated (LocalStack snapshot, reference §6.9): a MOCK request template's
/// `responseOverride` applies to the response, even without a response template.
#[tokio::test]
async fn mock_response_override_from_the_request_template() {
    let dir = Dir::new();
    let api = r#"openapi: 3.0.1
info: {title: t, version: '1'}
paths:
  /mock:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: |-
            #set($context.responseOverride.status = 444)
            #set($context.responseOverride.header.foo = "bar")
            {"statusCode": 200}
        responses:
          default:
            statusCode: 200
"#;
    dir.single_api(api, "      prod: {}\n", "");
    let gw = Portico::start(&dir);
    let reply = get(&gw.url("/prod/mock")).await;
    assert_eq!(reply.status, 444, "{}", reply.text());
    assert_eq!(reply.header("foo"), Some("bar"));
}

fn function_api(binary: &str) -> String {
    format!(
        r#"openapi: 3.0.1
info: {{title: fn, version: '1'}}
{binary}paths:
  /aws:
    post:
      x-amazon-apigateway-integration:
        type: aws
        httpMethod: POST
        uri: {LAMBDA}:echo/invocations
        requestTemplates:
          application/json: |-
            {{"body": "$util.escapeJavaScript($input.body)", "queryStringParameters": {{"shape": "$input.params('shape')"}}, "httpMethod": "POST", "path": "/aws"}}
        responses:
          ".*boom.*":
            statusCode: 418
            responseTemplates:
              application/json: '{{"failed": $input.json(''$.errorMessage'')}}'
          default:
            statusCode: 200
            responseTemplates:
              application/json: '{{"status": $input.json(''$.statusCode''), "echo": $input.json(''$.body'')}}'
  /proxy:
    post:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {LAMBDA}:echo/invocations
"#
    )
}

/// The `echo` function plugin (`function-echo`), as a gateway file's `plugins:` block.
pub(crate) fn function_plugins() -> String {
    format!(
        "plugins:\n  - name: echo\n    kind: function\n    file: {}\n",
        component("function-echo").display()
    )
}

/// `aws` functions: the mapped body is the event; a function error selects its integration
/// response by `errorMessage`, a success takes the default.
#[tokio::test]
async fn function_selection_on_the_error_message() {
    let dir = Dir::new();
    dir.single_api(&function_api(""), "      prod: {}\n", &function_plugins());
    let gw = Portico::start(&dir);

    let ok = send("POST", &gw.url("/prod/aws"), &[], "hello").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let body = ok.json();
    assert_eq!(body["status"], 200);
    let echoed: serde_json::Value = serde_json::from_str(body["echo"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["body"], "hello");

    let failed = send("POST", &gw.url("/prod/aws?shape=error"), &[], "").await;
    assert_eq!(failed.status, 418, "{}", failed.text());
    assert_eq!(failed.text(), r#"{"failed": "boom"}"#);
}

/// A PNG through `http` (passthrough both ways, bytes intact) and through a proxy function
/// (base64 in the event; a base64 reply decoded on the way back when the first Accept type is
/// binary).
#[tokio::test]
async fn binary_round_trips() {
    let png: Vec<u8> = vec![
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0xff, 0xfe,
    ];
    let up = Upstream::start().await;
    let dir = Dir::new();
    let binary = "x-amazon-apigateway-binary-media-types: [image/png]\n";
    let mut api = function_api(binary);
    api.push_str(&format!(
        r#"  /img:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/img
        requestTemplates:
          application/json: '{{"never": "used for image/png"}}'
        responses:
          default:
            statusCode: 200
  /b64:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/b64
        contentHandling: CONVERT_TO_TEXT
        requestTemplates:
          image/png: '{{"image": "$input.body"}}'
        responses:
          default:
            statusCode: 200
"#,
        up = up.addr
    ));
    dir.single_api(&api, "      prod: {}\n", &function_plugins());
    let gw = Portico::start(&dir);

    let through = send(
        "POST",
        &gw.url("/prod/img"),
        &[("content-type", "image/png")],
        png.clone(),
    )
    .await;
    assert_eq!(through.status, 200, "{}", through.text());
    assert_eq!(
        up.last().body.to_vec(),
        png,
        "binary passthrough keeps the bytes"
    );

    let encoded = send(
        "POST",
        &gw.url("/prod/b64"),
        &[("content-type", "image/png")],
        png.clone(),
    )
    .await;
    assert_eq!(encoded.status, 200, "{}", encoded.text());
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    assert_eq!(up.last().body, format!(r#"{{"image": "{b64}"}}"#));

    let echoed = send(
        "POST",
        &gw.url("/prod/proxy"),
        &[("content-type", "image/png")],
        png.clone(),
    )
    .await;
    assert_eq!(echoed.status, 200, "{}", echoed.text());
    let event_body = echoed.json()["body"].as_str().unwrap().to_owned();
    assert_eq!(
        event_body, b64,
        "the event carries the image base64-encoded"
    );

    // The way back: a reply with isBase64Encoded is decoded when the first Accept type is a
    // binary media type, and stays base64 text when it is not.
    let decoded = send(
        "POST",
        &gw.url("/prod/proxy?shape=base64"),
        &[("accept", "image/png, */*")],
        "",
    )
    .await;
    assert_eq!(decoded.status, 200, "{}", decoded.text());
    assert_eq!(decoded.body.to_vec(), b"test-data".to_vec());
    let text = send(
        "POST",
        &gw.url("/prod/proxy?shape=base64"),
        &[("accept", "application/json")],
        "",
    )
    .await;
    assert_eq!(text.status, 200, "{}", text.text());
    assert_eq!(text.text(), "dGVzdC1kYXRh");

    // The whole round trip through the function: the image goes in base64-encoded, the
    // function answers with the event's own body and flag, and the client gets the same bytes
    // back (its first Accept type is binary), or their base64 text (it is not).
    let mirrored = send(
        "POST",
        &gw.url("/prod/proxy?shape=mirror"),
        &[("content-type", "image/png"), ("accept", "image/png")],
        png.clone(),
    )
    .await;
    assert_eq!(mirrored.status, 200, "{}", mirrored.text());
    assert_eq!(mirrored.body.to_vec(), png, "the image came back unchanged");
    let as_text = send(
        "POST",
        &gw.url("/prod/proxy?shape=mirror"),
        &[
            ("content-type", "image/png"),
            ("accept", "application/json"),
        ],
        png.clone(),
    )
    .await;
    assert_eq!(as_text.status, 200, "{}", as_text.text());
    assert_eq!(as_text.text(), b64);
}

/// The image [`binary_upstream`] serves: PNG's signature, then bytes that are not UTF-8.
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0xff, 0xfe, 0x00, 0x80,
];

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An upstream answering `/png` with [`PNG`] as `image/png`, `/b64` with its base64 as
/// `text/plain`, and anything else with the request's own body and `Content-Type`.
async fn binary_upstream() -> crate::compression::RawUpstream {
    use crate::compression::{RawUpstream, whole};
    use bytes::Bytes;
    RawUpstream::start(|parts, body| {
        let answer = |ty: &str, bytes: Bytes| {
            http::Response::builder()
                .header("content-type", ty)
                .body(whole(bytes))
                .unwrap()
        };
        match parts.uri.path() {
            "/png" => answer("image/png", Bytes::from_static(PNG)),
            "/b64" => answer("text/plain", Bytes::from(base64_of(PNG))),
            _ => {
                let ty = parts
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/octet-stream");
                answer(ty, body.clone())
            }
        }
    })
    .await
}

/// An image from the upstream, through `http` and `http_proxy` (§8.9): a client whose first
/// `Accept` type is a binary media type gets the exact bytes, and an image a client sends
/// reaches the upstream byte for byte.
#[tokio::test]
async fn binary_images_through_http_and_http_proxy() {
    let up = binary_upstream().await;
    let api = format!(
        r#"openapi: 3.0.1
info: {{title: img, version: '1'}}
x-amazon-apigateway-binary-media-types: [image/png]
paths:
  /http/png:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://{up}/png
        responses:
          default:
            statusCode: 200
            responseParameters:
              method.response.header.Content-Type: integration.response.header.Content-Type
  /http/echo:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/echo
        responses:
          default:
            statusCode: 200
            responseParameters:
              method.response.header.Content-Type: integration.response.header.Content-Type
  /proxy/png:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://{up}/png
  /proxy/echo:
    post:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: http://{up}/echo
"#,
        up = up.addr
    );
    let dir = Dir::new();
    dir.single_api(&api, "      prod: {}\n", "");
    let gw = Portico::start(&dir);

    for kind in ["http", "proxy"] {
        // Only the first Accept type counts: it is binary here.
        let image = send(
            "GET",
            &gw.url(&format!("/prod/{kind}/png")),
            &[("accept", "image/png, application/json")],
            "",
        )
        .await;
        assert_eq!(image.status, 200, "{kind}: {}", image.text());
        assert_eq!(image.body.to_vec(), PNG, "{kind}: the exact bytes");
        assert_eq!(image.header("content-type"), Some("image/png"), "{kind}");

        // Both directions: the client's image reaches the upstream unchanged and comes back.
        let round = send(
            "POST",
            &gw.url(&format!("/prod/{kind}/echo")),
            &[("content-type", "image/png"), ("accept", "image/png")],
            PNG,
        )
        .await;
        assert_eq!(round.status, 200, "{kind}: {}", round.text());
        assert_eq!(
            up.last().1.to_vec(),
            PNG,
            "{kind}: the upstream got the bytes"
        );
        assert_eq!(round.body.to_vec(), PNG, "{kind}: the client got them back");
    }

    // A non-proxy integration answers a client whose first Accept type is text with the
    // image base64-encoded (the response table of §8.9: binary data, a text Accept type,
    // contentHandling undefined).
    let text = send(
        "GET",
        &gw.url("/prod/http/png"),
        &[("accept", "application/json, image/png")],
        "",
    )
    .await;
    assert_eq!(text.status, 200, "{}", text.text());
    assert_eq!(text.text(), base64_of(PNG));
}

/// `contentHandling: CONVERT_TO_BINARY` on the integration request (§8.9): a base64 text body
/// reaches the upstream decoded; a body that is not base64 is a 500 and never reaches it.
#[tokio::test]
async fn convert_to_binary_decodes_the_request_body() {
    let up = binary_upstream().await;
    let api = format!(
        r#"openapi: 3.0.1
info: {{title: c2b, version: '1'}}
x-amazon-apigateway-binary-media-types: [image/png]
paths:
  /decode:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/echo
        contentHandling: CONVERT_TO_BINARY
        responses:
          default:
            statusCode: 200
"#,
        up = up.addr
    );
    let dir = Dir::new();
    dir.single_api(&api, "      prod: {}\n", "");
    let gw = Portico::start(&dir);

    let decoded = send(
        "POST",
        &gw.url("/prod/decode"),
        &[("content-type", "text/plain")],
        base64_of(PNG),
    )
    .await;
    assert_eq!(decoded.status, 200, "{}", decoded.text());
    assert_eq!(
        up.last().1.to_vec(),
        PNG,
        "the upstream got the decoded bytes"
    );

    // A binary payload is already binary: it passes as bytes.
    let binary = send(
        "POST",
        &gw.url("/prod/decode"),
        &[("content-type", "image/png")],
        PNG,
    )
    .await;
    assert_eq!(binary.status, 200, "{}", binary.text());
    assert_eq!(
        up.last().1.to_vec(),
        PNG,
        "a binary body is not decoded again"
    );

    let before = up.count();
    let invalid = send(
        "POST",
        &gw.url("/prod/decode"),
        &[("content-type", "text/plain")],
        "this is not base64!",
    )
    .await;
    assert_gateway_error(
        &invalid,
        500,
        r#"{"message": "Internal server error"}"#,
        "InternalServerErrorException",
    );
    assert_eq!(up.count(), before, "nothing reached the upstream");
}

/// `contentHandling` on the integration response (§8.9): `CONVERT_TO_TEXT` answers a binary
/// upstream payload as its base64 text (the text a response template sees as `$input.body`),
/// whatever the client accepts; `CONVERT_TO_BINARY` answers an upstream's base64 text as the
/// bytes it encodes.
#[tokio::test]
async fn content_handling_converts_the_integration_response() {
    let up = binary_upstream().await;
    let api = format!(
        r#"openapi: 3.0.1
info: {{title: out, version: '1'}}
x-amazon-apigateway-binary-media-types: [image/png]
paths:
  /to-text:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://{up}/png
        responses:
          default:
            statusCode: 200
            contentHandling: CONVERT_TO_TEXT
  /to-text/templated:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://{up}/png
        responses:
          default:
            statusCode: 200
            contentHandling: CONVERT_TO_TEXT
            responseTemplates:
              application/json: '{{"image": "$input.body"}}'
  /to-binary:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://{up}/b64
        responses:
          default:
            statusCode: 200
            contentHandling: CONVERT_TO_BINARY
            responseParameters:
              method.response.header.Content-Type: "'image/png'"
  /implicit:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://{up}/b64
        responses:
          default:
            statusCode: 200
  /implicit/echo:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/echo
        responses:
          default:
            statusCode: 200
"#,
        up = up.addr
    );
    let dir = Dir::new();
    dir.single_api(&api, "      prod: {}\n", "");
    let gw = Portico::start(&dir);
    let b64 = base64_of(PNG);

    for accept in ["image/png", "application/json"] {
        let text = send("GET", &gw.url("/prod/to-text"), &[("accept", accept)], "").await;
        assert_eq!(text.status, 200, "{accept}: {}", text.text());
        assert_eq!(text.text(), b64, "{accept}: the base64 of the image");
    }

    let templated = send(
        "GET",
        &gw.url("/prod/to-text/templated"),
        &[("accept", "application/json")],
        "",
    )
    .await;
    assert_eq!(templated.status, 200, "{}", templated.text());
    assert_eq!(templated.json()["image"], b64.as_str());

    for accept in ["image/png", "application/json"] {
        let bytes = send("GET", &gw.url("/prod/to-binary"), &[("accept", accept)], "").await;
        assert_eq!(bytes.status, 200, "{accept}: {}", bytes.text());
        assert_eq!(bytes.body.to_vec(), PNG, "{accept}: the decoded image");
        assert_eq!(bytes.header("content-type"), Some("image/png"));
    }

    // No contentHandling: a text answer reaches a client whose first Accept type is binary
    // base64-decoded, and one whose first type is text as it is (§8.9's response table).
    let decoded = send(
        "GET",
        &gw.url("/prod/implicit"),
        &[("accept", "image/png")],
        "",
    )
    .await;
    assert_eq!(decoded.status, 200, "{}", decoded.text());
    assert_eq!(decoded.body.to_vec(), PNG, "the decoded image");
    let text = send(
        "GET",
        &gw.url("/prod/implicit"),
        &[("accept", "application/json")],
        "",
    )
    .await;
    assert_eq!(text.status, 200, "{}", text.text());
    assert_eq!(text.text(), b64, "text for a text Accept type");
    // A text answer that is not base64, for a binary Accept type: AWS's 500.
    let broken = send(
        "POST",
        &gw.url("/prod/implicit/echo"),
        &[("content-type", "text/plain"), ("accept", "image/png")],
        "this is not base64!",
    )
    .await;
    assert_gateway_error(
        &broken,
        500,
        r#"{"message": "Internal server error"}"#,
        "InternalServerErrorException",
    );
}

const VALIDATED_API: &str = r#"openapi: 3.0.1
info: {title: v, version: '1'}
x-amazon-apigateway-request-validators:
  all: {validateRequestBody: true, validateRequestParameters: true}
  params-only: {validateRequestBody: false, validateRequestParameters: true}
x-amazon-apigateway-request-validator: all
x-amazon-apigateway-gateway-responses:
  BAD_REQUEST_BODY:
    responseTemplates:
      application/json: '{"message": $context.error.messageString, "detail": "$context.error.validationErrorString"}'
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string}
        age: {type: integer, minimum: 0}
        owner: {$ref: '#/components/schemas/Owner'}
    Owner:
      type: object
      required: [email]
      properties:
        email: {type: string}
paths:
  /pets/{issuer}:
    post:
      parameters:
        - {name: issuer, in: path, required: true, schema: {type: string}}
        - {name: qs1, in: query, required: true, schema: {type: string}}
        - {name: x-header-param, in: header, required: true, schema: {type: string}}
        - {name: optional, in: query, required: false, schema: {type: string}}
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 200}'
        responses:
          default:
            statusCode: 200
            responseTemplates:
              application/json: '{"ok": true}'
  /loose:
    post:
      x-amazon-apigateway-request-validator: params-only
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 200}'
        responses:
          default:
            statusCode: 200
"#;

/// AWS-validated bodies and order (reference §7): parameters first, names ordered header <
/// path < querystring; then the model; the detail in a customised gateway response.
#[tokio::test]
async fn validation_errors_their_order_and_detail() {
    validation_errors(Engine::BuiltIn).await;
}

/// The same, bodies checked by the `validator-jsonschema` component.
#[tokio::test]
async fn validation_through_the_validator_component() {
    validation_errors(Engine::Components).await;
}

async fn validation_errors(engine: Engine) {
    let dir = Dir::new();
    dir.single_api(
        VALIDATED_API,
        &engine.stages("      prod: {}\n"),
        &engine.plugins(),
    );
    let gw = Portico::start(&dir);
    let good = r#"{"name": "rex", "age": 3, "owner": {"email": "a@b"}}"#;

    // Everything missing, and a bad body: the parameters answer.
    let reply = send("POST", &gw.url("/prod/pets/x?qs1="), &[], "{}").await;
    assert_gateway_error(
        &reply,
        400,
        r#"{"message": "Missing required request parameters: [x-header-param, qs1]"}"#,
        "BadRequestException",
    );

    let headers = [
        ("x-header-param", "h"),
        ("content-type", "application/json"),
    ];
    let bad = send(
        "POST",
        &gw.url("/prod/pets/x?qs1=v"),
        &headers,
        r#"{"age": -1}"#,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    // Substitution, not JSON encoding: the detail's quotes land in the body as they are, as on
    // AWS.
    assert_eq!(
        bad.text(),
        r#"{"message": "Invalid request body", "detail": "[object has missing required properties (["name"]), numeric instance is lower than the required minimum (minimum: 0, found: -1)]"}"#
    );

    // A referenced model is checked too.
    let bad_owner = send(
        "POST",
        &gw.url("/prod/pets/x?qs1=v"),
        &headers,
        r#"{"name": "rex", "owner": {}}"#,
    )
    .await;
    assert_eq!(bad_owner.status, 400, "{}", bad_owner.text());
    assert!(bad_owner.text().contains("email"), "{}", bad_owner.text());

    let ok = send("POST", &gw.url("/prod/pets/x?qs1=v"), &headers, good).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.text(), r#"{"ok": true}"#);

    // A params-only validator lets any body through.
    let loose = send("POST", &gw.url("/prod/loose"), &[], "not even json").await;
    assert_eq!(loose.status, 200, "{}", loose.text());
}

/// Bad templates and schemas are `check` errors with their place; bad requests and runaway
/// templates answer 400/413/500 and the gateway keeps serving.
#[tokio::test]
async fn hostile_templates_and_bodies() {
    hostile_templates_and_bodies_in(Engine::BuiltIn).await;
}

/// The same through the `mapper-vtl` component, whose stack is 64 KiB
/// (plugins/.cargo/config.toml): the deepest renders the limits allow still fit in it.
#[tokio::test]
async fn hostile_templates_and_bodies_through_the_mapper_component() {
    hostile_templates_and_bodies_in(Engine::Components).await;
}

async fn hostile_templates_and_bodies_in(engine: Engine) {
    let up = Upstream::start().await;
    let many: String = (0..1001).map(|i| format!("{i},")).collect();
    // As deep as the limits allow: 62 nested `#if` inside the template (64 levels with the
    // root and the macro body), and 19 nested macro calls each in an `#if` and a `#foreach`
    // (the 20th is refused).
    let deepest = format!(
        "#macro(down $n)#if($n > 0)#foreach($i in [1])#set($k = $n - 1)#down($k)#end#end#end#down(19){}ok{}",
        "#if(true)".repeat(62),
        "#end".repeat(62)
    );
    let api = format!(
        r#"openapi: 3.0.1
info: {{title: h, version: '1'}}
paths:
  /loop:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/loop
        requestTemplates:
          application/json: '#foreach($i in $input.path(''$'')) $i #end'
        responses:
          default:
            statusCode: 200
  /macro:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/macro
        requestTemplates:
          application/json: '#macro(again $n)#again($n)#end#again(1)'
        responses:
          default:
            statusCode: 200
  /echo:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/echo
        requestTemplates:
          application/json: '{{"body": "$util.escapeJavaScript($input.body)"}}'
        responses:
          default:
            statusCode: 200
  /deepest:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/deepest
        requestTemplates:
          application/json: '{deepest} $input.json(''$'')'
        responses:
          default:
            statusCode: 200
"#,
        up = up.addr
    );
    let dir = Dir::new();
    dir.single_api(&api, &engine.stages("      prod: {}\n"), &engine.plugins());
    let gw = Portico::start(&dir);
    let internal = r#"{"message": "Internal server error"}"#;

    let looped = send("POST", &gw.url("/prod/loop"), &[], format!("[{many}0]")).await;
    assert_gateway_error(&looped, 500, internal, "InternalServerErrorException");
    let few = send("POST", &gw.url("/prod/loop"), &[], "[1,2,3]").await;
    assert_eq!(few.status, 200, "{}", few.text());

    let recursed = send("POST", &gw.url("/prod/macro"), &[], "{}").await;
    assert_gateway_error(&recursed, 500, internal, "InternalServerErrorException");

    // Deep nesting: a body 100 000 arrays deep read by `$input.path` is a 500 (the JSON
    // parser's depth limit), not a stack overflow; at a depth JSON allows, the loop runs.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep = send("POST", &gw.url("/prod/loop"), &[], deep).await;
    assert_gateway_error(&deep, 500, internal, "InternalServerErrorException");
    let nested = format!("[{}{}]", "[".repeat(100), "]".repeat(100));
    let nested = send("POST", &gw.url("/prod/loop"), &[], nested).await;
    assert_eq!(nested.status, 200, "{}", nested.text());

    // Only the head of a 10 MB + 1 body is sent: the gateway answers from Content-Length
    // (sending the whole body races the gateway's early answer and close).
    assert_eq!(
        status_of_head_only(&gw, "/prod/echo", 10 * 1024 * 1024 + 1).await,
        413
    );

    let invalid_utf8 = send("POST", &gw.url("/prod/echo"), &[], vec![b'a', 0xff, b'b']).await;
    assert_eq!(invalid_utf8.status, 200, "{}", invalid_utf8.text());
    assert_eq!(up.last().body, "{\"body\": \"a\\uFFFDb\"}");

    // The deepest template over a body nested as deep as JSON parsing allows (128 levels).
    let body = format!("{}1{}", "[".repeat(127), "]".repeat(127));
    let deepest = send("POST", &gw.url("/prod/deepest"), &[], body.clone()).await;
    assert_eq!(deepest.status, 200, "{engine:?}: {}", deepest.text());
    assert_eq!(up.last().body, format!("ok {body}"), "{engine:?}");

    // Still serving.
    assert_eq!(
        send("POST", &gw.url("/prod/loop"), &[], "[1]").await.status,
        200
    );
}

/// The status of a POST whose head announces `length` bytes and whose body is never sent.
async fn status_of_head_only(gw: &Portico, path: &str, length: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let head = format!("POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\n\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .expect("write the head");
    let mut buf = Vec::new();
    while !buf.windows(2).any(|w| w == b"\r\n") {
        let mut chunk = [0u8; 512];
        let n = stream.read(&mut chunk).await.expect("read the status line");
        assert!(n > 0, "the gateway closed without answering");
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    line.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line")
}

#[test]
fn check_reports_bad_templates_and_schemas_with_their_place() {
    let huge = "x".repeat(300 * 1024 + 1);
    let api = format!(
        r#"openapi: 3.0.1
info: {{title: c, version: '1'}}
components:
  schemas:
    Broken:
      type: not-a-type
paths:
  /a:
    post:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: |-
            {{"statusCode": 200}}
            #if($x
        responses:
          default:
            statusCode: 200
  /b:
    post:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{huge}'
        responses:
          default:
            statusCode: 200
"#
    );
    let dir = Dir::new();
    // Engines must name plugins of their kinds.
    dir.single_api(
        &api,
        "      prod: {}\n    template_mapper: nothere\n    model_validator: vtl\n",
        &Engine::Components
            .plugins()
            .replace("name: schema", "name: other"),
    );
    let out = std::process::Command::new(PORTICO)
        .args(["check", "--config"])
        .arg(dir.path("gateway.yaml"))
        .output()
        .expect("run portico check");
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("apis[0].template_mapper: template_mapper names nothere, but the gateway file declares no plugin of that name"),
        "{text}"
    );
    assert!(
        text.contains(
            "apis[0].model_validator: model_validator names plugin vtl, of kind template-mapper, not model-validator"
        ),
        "{text}"
    );
    assert!(
        text.contains("api.yaml: paths./a.post.x-amazon-apigateway-integration.requestTemplates.application/json: the template does not parse: line 2, column"),
        "{text}"
    );
    assert!(text.contains("paths./b.post"), "{text}");
    assert!(text.contains("over the 307200 byte limit"), "{text}");
    assert!(text.contains("model Broken"), "{text}");
}

/// The SOAP recipe of docs/mapping.md: a JSON request becomes a SOAP call to an XML upstream,
/// and the XML answer becomes JSON again.
#[tokio::test]
async fn json_to_soap_and_back() {
    let up = Upstream::answering(|seen| {
        let xml = String::from_utf8_lossy(&seen.body);
        let number = |tag: &str| -> i64 {
            let open = format!("<{tag}>");
            let start = xml.find(&open).map(|i| i + open.len()).unwrap_or(0);
            let end = xml[start..].find('<').map(|i| start + i).unwrap_or(start);
            xml[start..end].trim().parse().unwrap_or(0)
        };
        let sum = number("a") + number("b");
        (
            http::StatusCode::OK,
            format!(
                r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><AddResponse><Result>{sum}</Result></AddResponse></soap:Body></soap:Envelope>"#
            ),
        )
    })
    .await;
    let dir = Dir::new();
    let api = format!(
        r#"openapi: 3.0.1
info: {{title: soap, version: '1'}}
paths:
  /add:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://{up}/calculator.asmx
        requestParameters:
          integration.request.header.Content-Type: "'text/xml; charset=utf-8'"
          integration.request.header.SOAPAction: "'http://tempuri.org/Add'"
        requestTemplates:
          application/json: |-
            #set($r = $input.path('$'))
            <?xml version="1.0" encoding="utf-8"?>
            <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Add xmlns="http://tempuri.org/"><a>$r.a</a><b>$r.b</b></Add></soap:Body></soap:Envelope>
        responses:
          default:
            statusCode: 200
            responseTemplates:
              application/json: |-
                #set($xml = $input.body)
                {{"sum": $xml.replaceAll("(?s).*<Result>(.*)</Result>.*", "$1")}}
"#,
        up = up.addr
    );
    dir.single_api(&api, "      prod: {}\n", "");
    let gw = Portico::start(&dir);
    let reply = send(
        "POST",
        &gw.url("/prod/add"),
        &[("content-type", "application/json")],
        r#"{"a": 2, "b": 3}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), serde_json::json!({"sum": 5}));
    let seen = up.last();
    assert_eq!(
        seen.headers.get("content-type").unwrap(),
        "text/xml; charset=utf-8"
    );
    assert_eq!(
        seen.headers.get("soapaction").unwrap(),
        "http://tempuri.org/Add"
    );
    let sent = String::from_utf8_lossy(&seen.body).into_owned();
    assert!(sent.contains("<a>2</a><b>3</b>"), "{sent}");
}
