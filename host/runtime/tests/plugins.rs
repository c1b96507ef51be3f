//! Every plugin kind called through the runtime with the fixtures from `plugins/dist`, and
//! every way a component is rejected or a call faults.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use portico_runtime::{
    Decision, Fault, Grants, InstancePolicy, LoadError, MappedResponse, ModelFailure, Overrides,
    PluginKind, Preopen, RenderFailure, RenderInput,
};
use support::*;

#[tokio::test]
async fn header_authorizer_allows_denies_and_answers_unauthorized() {
    let p = load("authorizer-header", PluginKind::Authorizer, header_grants());
    assert_eq!(p.kind(), PluginKind::Authorizer);
    assert_eq!(p.digest().len(), 64);

    let allow = p
        .authorize(&cx(), head(&[("Authorization", "allow-token")]), TEST_ARN)
        .await;
    match allow {
        Ok(Decision::Allow {
            principal_id,
            context,
            usage_identifier_key,
        }) => {
            assert_eq!(principal_id, "user-1");
            assert!(
                context.contains(&("scope".into(), "read".into())),
                "{context:?}"
            );
            assert!(
                context.contains(&("tokenLength".into(), "11".into())),
                "{context:?}"
            );
            assert_eq!(usage_identifier_key, None);
        }
        other => panic!("allow-token: {other:?}"),
    }
    let bearer = p
        .authorize(
            &cx(),
            head(&[("authorization", "Bearer allow-token")]),
            TEST_ARN,
        )
        .await;
    assert!(matches!(bearer, Ok(Decision::Allow { .. })), "{bearer:?}");

    let deny = p
        .authorize(&cx(), head(&[("authorization", "deny-token")]), TEST_ARN)
        .await;
    assert!(matches!(deny, Ok(Decision::Forbidden(_))), "{deny:?}");

    let missing = p.authorize(&cx(), head(&[]), TEST_ARN).await;
    assert_eq!(missing, Ok(Decision::Unauthorized));
    let unknown = p
        .authorize(&cx(), head(&[("authorization", "who-knows")]), TEST_ARN)
        .await;
    assert_eq!(unknown, Ok(Decision::Unauthorized));
}

#[tokio::test]
async fn policy_authorizer_returns_lambda_output_with_the_method_arn() {
    let config = r#"{"outputs": {"alice": {"principalId": "alice", "policyDocument":
        {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
                        "Resource": ["$methodArn", "$stageArn"]}]}}}}"#;
    let p = load(
        "authorizer-policy",
        PluginKind::Authorizer,
        Grants {
            config: Some(config.into()),
            ..Grants::default()
        },
    );
    let out = p
        .authorize(&cx(), head(&[("authorization", "alice")]), TEST_ARN)
        .await;
    let Ok(Decision::LambdaOutput(json)) = out else {
        panic!("{out:?}");
    };
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["principalId"], "alice");
    assert_eq!(
        v["policyDocument"]["Statement"][0]["Resource"],
        serde_json::json!([
            TEST_ARN,
            "arn:aws:execute-api:us-east-1:000000000000:api/prod/*"
        ])
    );
    let other = p
        .authorize(&cx(), head(&[("authorization", "mallory")]), TEST_ARN)
        .await;
    assert_eq!(other, Ok(Decision::Forbidden(None)));
}

#[tokio::test]
async fn authorizer_built_for_0_1_0_still_loads_and_decides() {
    let p = load(
        "authorizer-legacy",
        PluginKind::Authorizer,
        Grants::default(),
    );
    let allow = p
        .authorize(&cx(), head(&[("authorization", "legacy")]), TEST_ARN)
        .await;
    assert_eq!(
        allow,
        Ok(Decision::Allow {
            principal_id: "legacy-user".into(),
            context: vec![("era".into(), "0.1.0".into())],
            usage_identifier_key: None,
        })
    );
    let other = p.authorize(&cx(), head(&[]), TEST_ARN).await;
    assert_eq!(other, Ok(Decision::Unauthorized));
}

#[tokio::test]
async fn invalid_config_is_rejected_at_load() {
    let mut s = spec("authorizer-header", PluginKind::Authorizer);
    s.grants = Grants {
        log: true,
        config: Some("{\"header\":".into()),
        ..Grants::default()
    };
    let err = runtime()
        .load(&s, &fixture("authorizer-header"))
        .unwrap_err();
    assert!(matches!(err, LoadError::InvalidConfig { .. }), "{err}");
}

#[tokio::test]
async fn ungranted_log_is_rejected_at_load() {
    let mut s = spec("authorizer-header", PluginKind::Authorizer);
    s.grants.config = Some(HEADER_CONFIG.into());
    let err = runtime()
        .load(&s, &fixture("authorizer-header"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin authorizer-header imports portico:plugin/log@0.1.3, which its grants do not \
         include (add `log` to grants)"
    );
}

#[tokio::test]
async fn infinite_loop_hits_the_deadline_and_the_runtime_keeps_working() {
    let mut s = spec("authorizer-infinite-loop", PluginKind::Authorizer);
    s.timeout = SHORT;
    let looping = runtime()
        .load(&s, &fixture("authorizer-infinite-loop"))
        .unwrap();
    let start = Instant::now();
    let fault = looping.authorize(&cx(), head(&[]), TEST_ARN).await;
    let took = start.elapsed();
    assert_eq!(fault, Err(Fault::Deadline));
    assert!(took >= SHORT, "stopped early: {took:?}");
    assert!(
        took < SHORT + Duration::from_millis(200),
        "stopped late: {took:?}"
    );

    // Other plugins, and the same one, still work.
    let allow = load(
        "authorizer-allow",
        PluginKind::Authorizer,
        Grants::default(),
    );
    assert!(matches!(
        allow.authorize(&cx(), head(&[]), TEST_ARN).await,
        Ok(Decision::Allow { .. })
    ));
    assert_eq!(
        looping.authorize(&cx(), head(&[]), TEST_ARN).await,
        Err(Fault::Deadline)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_looping_guest_does_not_starve_other_tasks() {
    // On a single-threaded runtime, a timer task must keep firing while a guest loops: the
    // epoch callback yields to the executor every tick.
    let mut s = spec("authorizer-infinite-loop", PluginKind::Authorizer);
    s.timeout = Duration::from_millis(200);
    let looping = runtime()
        .load(&s, &fixture("authorizer-infinite-loop"))
        .unwrap();
    let ticks = tokio::spawn(async {
        let mut n = 0u32;
        let end = Instant::now() + Duration::from_millis(150);
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(5)).await;
            n += 1;
        }
        n
    });
    assert_eq!(
        looping.authorize(&cx(), head(&[]), TEST_ARN).await,
        Err(Fault::Deadline)
    );
    let n = ticks.await.unwrap();
    // Starved, it would not run at all until the deadline; on a loaded 2-core machine the
    // ticker thread itself may be late, so only a few runs are required.
    assert!(n >= 3, "the timer task ran only {n} times during the loop");
}

#[tokio::test]
async fn alloc_bomb_is_out_of_memory() {
    let mut s = spec("mapper-alloc-bomb", PluginKind::Mapper);
    s.memory_limit_bytes = 32 << 20;
    s.timeout = Duration::from_secs(5);
    let bomb = runtime().load(&s, &fixture("mapper-alloc-bomb")).unwrap();
    let fault = bomb.map_request(&cx(), head(&[]), Bytes::new()).await;
    assert_eq!(fault, Err(Fault::OutOfMemory));
    // The instance is gone; a new call faults the same way and the gateway is fine.
    assert_eq!(
        bomb.map_request(&cx(), head(&[]), Bytes::new()).await,
        Err(Fault::OutOfMemory)
    );
}

#[tokio::test]
async fn panicking_function_is_a_trap_with_its_message() {
    let p = load("function-trap", PluginKind::Function, Grants::default());
    match p.invoke_event(&cx(), "{}".into()).await {
        Err(Fault::Trap(msg)) => {
            assert!(msg.contains("unreachable"), "{msg}");
            assert!(
                msg.contains("function-trap: this function always traps"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn wrong_world_is_rejected_with_what_it_exports() {
    let mut s = spec("authorizer-wrong-world", PluginKind::Authorizer);
    s.grants = Grants::default();
    let err = runtime()
        .load(&s, &fixture("authorizer-wrong-world"))
        .unwrap_err();
    match &err {
        LoadError::WrongWorld {
            expected, detail, ..
        } => {
            assert_eq!(*expected, "portico:plugin/authorizer@0.1.3");
            assert!(detail.contains("validate (func)"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // The same component is a fine validator.
    let mut v = spec("authorizer-wrong-world", PluginKind::Validator);
    v.grants = Grants::default();
    let validator = runtime()
        .load(&v, &fixture("authorizer-wrong-world"))
        .unwrap();
    assert!(
        validator
            .validate(&cx(), head(&[]), Bytes::new())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn kv_needs_its_grant_and_persists_across_calls() {
    let s = spec("authorizer-needs-kv", PluginKind::Authorizer);
    let err = runtime()
        .load(&s, &fixture("authorizer-needs-kv"))
        .unwrap_err();
    match &err {
        LoadError::NotGranted { import, .. } => assert_eq!(import, "portico:plugin/kv@0.1.3"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "plugin authorizer-needs-kv imports portico:plugin/kv@0.1.3, which its grants do not \
         include (add `kv` to grants)"
    );

    let p = load(
        "authorizer-needs-kv",
        PluginKind::Authorizer,
        Grants {
            kv: true,
            ..Grants::default()
        },
    );
    let cached = |d: Result<Decision, Fault>| match d {
        Ok(Decision::Allow { context, .. }) => context
            .into_iter()
            .find(|(k, _)| k == "cached")
            .map(|(_, v)| v)
            .unwrap(),
        other => panic!("{other:?}"),
    };
    let token = [("authorization", "kv-test-token")];
    // Fresh instances: the memory is gone between calls, the kv entry is not.
    assert_eq!(
        cached(p.authorize(&cx(), head(&token), TEST_ARN).await),
        "no"
    );
    assert_eq!(
        cached(p.authorize(&cx(), head(&token), TEST_ARN).await),
        "yes"
    );
    assert_eq!(
        cached(
            p.authorize(&cx(), head(&[("authorization", "other")]), TEST_ARN)
                .await
        ),
        "no"
    );
}

#[tokio::test]
async fn garbage_bytes_are_invalid() {
    let rt = runtime();
    for bytes in [
        &b""[..],
        &b"not wasm at all"[..],
        &b"\0asm\x01\0\0\0"[..], // an empty core module, not a component
        &b"\0asm\x0d\0\x01\0\xff\xff\xff"[..], // a truncated component
    ] {
        let err = rt
            .load(&spec("garbage", PluginKind::Authorizer), bytes)
            .unwrap_err();
        assert!(matches!(err, LoadError::Invalid { .. }), "{bytes:?}: {err}");
    }
    // A real component cut short.
    let good = fixture("authorizer-allow");
    for len in [100, good.len() / 2, good.len() - 1] {
        let err = rt
            .load(&spec("truncated", PluginKind::Authorizer), &good[..len])
            .unwrap_err();
        assert!(matches!(err, LoadError::Invalid { .. }), "{len}: {err}");
    }
}

#[tokio::test]
async fn spec_limits_are_checked() {
    let rt = runtime();
    let bytes = fixture("authorizer-allow");
    let mut s = spec("authorizer-allow", PluginKind::Authorizer);
    s.memory_limit_bytes = 0;
    assert!(matches!(
        rt.load(&s, &bytes),
        Err(LoadError::InvalidSpec { .. })
    ));
    let mut s = spec("authorizer-allow", PluginKind::Authorizer);
    s.grants.http_allow = vec!["http://evil".into()];
    assert!(matches!(
        rt.load(&s, &bytes),
        Err(LoadError::InvalidSpec { .. })
    ));
    let mut s = spec("authorizer-allow", PluginKind::Authorizer);
    s.grants.preopens = vec![Preopen {
        host_path: "/definitely/not/here".into(),
        guest_path: "/data".into(),
        read_only: true,
    }];
    assert!(matches!(
        rt.load(&s, &bytes),
        Err(LoadError::InvalidSpec { .. })
    ));
    // A grant the component does not use is fine.
    let mut s = spec("authorizer-allow", PluginKind::Authorizer);
    s.grants = Grants {
        log: true,
        kv: true,
        http_allow: vec!["api.example.com".into(), "*.example.org".into()],
        preopens: vec![Preopen {
            host_path: std::env::temp_dir(),
            guest_path: "/tmp".into(),
            read_only: true,
        }],
        config: Some("{}".into()),
    };
    let p = rt.load(&s, &bytes).unwrap();
    assert!(matches!(
        p.authorize(&cx(), head(&[]), TEST_ARN).await,
        Ok(Decision::Allow { .. })
    ));
}

#[tokio::test]
async fn mapper_enriches_requests_and_responses() {
    let p = load("mapper-enrich", PluginKind::Mapper, Grants::default());
    let mut h = head(&[("accept", "application/json")]);
    h.query = vec![("a".into(), "1".into())];
    let req = p
        .map_request(&cx(), h.clone(), Bytes::from_static(b"{\"x\":1}"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        req.headers.contains(&("x-enriched".into(), "true".into())),
        "{:?}",
        req.headers
    );
    assert!(
        req.headers
            .contains(&("x-request-id".into(), "req-1".into())),
        "{:?}",
        req.headers
    );
    assert_eq!(req.query, vec![("a".to_string(), "1".to_string())]);
    assert_eq!(req.body, Bytes::from_static(b"{\"x\":1}"));

    let resp = p
        .map_response(
            &cx(),
            h,
            MappedResponse {
                status: 201,
                headers: vec![],
                body: Bytes::from_static(b"ok"),
            },
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 201);
    assert!(resp.headers.contains(&("x-mapped".into(), "true".into())));
    assert_eq!(resp.body, Bytes::from_static(b"ok"));
}

#[tokio::test]
async fn event_function_round_trip() {
    let p = load("function-echo", PluginKind::Function, Grants::default());
    assert!(!p.is_wasi_http());
    let event = r#"{"version":"2.0","rawPath":"/pets","requestContext":{"http":{"method":"POST","path":"/pets"}},"queryStringParameters":{"a":"1"},"body":"hello"}"#;
    let out = p.invoke_event(&cx(), event.into()).await.unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["statusCode"], 200, "{out}");
    let body: serde_json::Value = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["method"], "POST", "{body}");
    assert_eq!(body["body"], "hello", "{body}");

    // A function error is an answer, not a fault.
    let err = p
        .invoke_event(&cx(), r#"{"version":"2.0","body":"error"}"#.into())
        .await;
    assert_eq!(err, Ok(Err("boom".into())));
}

#[tokio::test]
async fn wasi_http_function_round_trip() {
    let p = load(
        "function-echo-http",
        PluginKind::Function,
        Grants::default(),
    );
    assert!(p.is_wasi_http());
    let req = http::Request::post("http://gw.test/pets?x=1")
        .header("content-type", "text/plain")
        .body(Bytes::from_static(b"hi there"))
        .unwrap();
    let resp = p.invoke_http(&cx(), req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-handler"], "wasi-http");
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["path"], "/pets?x=1");
    assert_eq!(body["body"], "hi there");

    // A larger body than the pipe holds at once, and a request without an authority.
    let big = "x".repeat(300_000);
    let req = http::Request::put("/big")
        .body(Bytes::from(big.clone()))
        .unwrap();
    let resp = p.invoke_http(&cx(), req).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(body["body"].as_str().map(str::len), Some(big.len()));

    // The event entry point is refused, not a panic.
    assert!(matches!(
        p.invoke_event(&cx(), "{}".into()).await,
        Err(Fault::Instantiate(_))
    ));
}

#[tokio::test]
async fn wrong_entry_point_is_refused() {
    let p = load(
        "authorizer-allow",
        PluginKind::Authorizer,
        Grants::default(),
    );
    let err = p
        .validate(&cx(), head(&[]), Bytes::new())
        .await
        .unwrap_err();
    assert_eq!(err.label(), "instantiate");
}

/// Files are reachable only through the preopens a plugin is granted: the file inside the
/// preopened directory is read; a path outside any preopen, or one escaping the preopen with
/// `..`, is refused by the sandbox (the guest sees an error, the host's files stay unread).
#[tokio::test]
async fn files_are_reachable_only_through_preopens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("tokens.txt"), "file-token\n").unwrap();
    std::fs::write(dir.path().join("outside.txt"), "file-token\n").unwrap();
    let load = |path: &str, preopen: bool| {
        let mut s = spec("authorizer-file", PluginKind::Authorizer);
        s.grants.config = Some(format!(r#"{{"path":"{path}"}}"#));
        if preopen {
            s.grants.preopens = vec![Preopen {
                host_path: data.clone(),
                guest_path: "/data".into(),
                read_only: true,
            }];
        }
        runtime()
            .load(&s, &fixture("authorizer-file"))
            .expect("loads")
    };
    let token = head(&[("authorization", "file-token")]);

    let inside = load("/data/tokens.txt", true);
    assert!(matches!(
        inside.authorize(&cx(), token.clone(), TEST_ARN).await,
        Ok(Decision::Allow { principal_id, .. }) if principal_id == "file-user"
    ));
    for (path, preopen) in [
        ("/data/../outside.txt", true),
        ("/outside.txt", true),
        ("/etc/passwd", true),
        ("/data/tokens.txt", false),
    ] {
        let p = load(path, preopen);
        match p.authorize(&cx(), token.clone(), TEST_ARN).await {
            Ok(Decision::Forbidden(Some(message))) => {
                assert!(message.starts_with("cannot read"), "{path}: {message}")
            }
            other => panic!("{path} (preopen {preopen}) was readable: {other:?}"),
        }
    }
}

// Template mappers and model validators: the template (model) lives in the instance; the host
// call prepares it when the instance does not know it.

/// A request template exercising `$input`, `$context`, `$util` and an override.
const PET_TEMPLATE: &str = r#"#set($inputRoot = $input.path('$'))
{
  "id": "$input.params('id')",
  "requestId": "$context.requestId",
  "name": "$util.escapeJavaScript($inputRoot.name)",
  "stage": "$stageVariables.env"
}
#set($context.responseOverride.status = 201)"#;

fn pet_input(body: &str) -> RenderInput {
    RenderInput {
        body: body.into(),
        path: vec![("id".into(), "42".into())],
        context: r#"{"requestId": "req-9", "stage": "prod"}"#.into(),
        stage_variables: vec![("env".into(), "test".into())],
        ..RenderInput::default()
    }
}

#[tokio::test]
async fn template_mapper_renders_through_the_component() {
    let p = load("mapper-vtl", PluginKind::TemplateMapper, Grants::default());
    let roots = p.prepare_template(&cx(), 1, PET_TEMPLATE).await;
    // The override the template sets is not a `$context` value it reads.
    assert_eq!(roots, Ok(Ok(vec!["requestId".into()])));
    let out = p
        .render_template(
            &cx(),
            1,
            PET_TEMPLATE,
            pet_input(r#"{"name": "Rex \"the dog\""}"#),
        )
        .await
        .expect("no fault")
        .expect("renders");
    let body: serde_json::Value = serde_json::from_str(&out.body).expect("JSON out");
    assert_eq!(
        body,
        serde_json::json!({"id": "42", "requestId": "req-9", "name": "Rex \"the dog\"", "stage": "test"})
    );
    assert_eq!(
        out.overrides,
        Overrides {
            response_status: Some(201),
            ..Overrides::default()
        }
    );
}

#[tokio::test]
async fn unknown_template_is_prepared_then_rendered_on_fresh_and_reused_instances() {
    // Fresh: every call is a new instance that knows no template, so every call prepares what
    // it is given.
    let fresh = load("mapper-vtl", PluginKind::TemplateMapper, Grants::default());
    for (source, want) in [("one $input.body", "one a"), ("two $input.body", "two a")] {
        let out = fresh
            .render_template(&cx(), 7, source, pet_input("a"))
            .await;
        assert_eq!(out.map(|r| r.map(|r| r.body)), Ok(Ok(want.into())));
    }
    assert_eq!(fresh.instantiations(), 2);

    // Reused: the first call prepares id 7 and the instance keeps it, so a second call under
    // the same id renders the template prepared first (the source is not parsed again).
    let reused = load_with(
        "mapper-vtl",
        PluginKind::TemplateMapper,
        Grants::default(),
        InstancePolicy::Reuse { max_uses: 100 },
    );
    for source in ["one $input.body", "two $input.body"] {
        let out = reused
            .render_template(&cx(), 7, source, pet_input("a"))
            .await;
        assert_eq!(out.map(|r| r.map(|r| r.body)), Ok(Ok("one a".into())));
    }
    assert_eq!(reused.instantiations(), 1);
    let other = reused
        .render_template(&cx(), 8, "two $input.body", pet_input("b"))
        .await;
    assert_eq!(other.map(|r| r.map(|r| r.body)), Ok(Ok("two b".into())));
}

#[tokio::test]
async fn template_parse_error_has_line_and_column() {
    let p = load("mapper-vtl", PluginKind::TemplateMapper, Grants::default());
    let source = "{\n  #if($input.body\n}";
    let prepared = p
        .prepare_template(&cx(), 1, source)
        .await
        .expect("no fault");
    let Err(e) = prepared else {
        panic!("{prepared:?}");
    };
    // The `#if(` on line 2 runs on to the `}` opening line 3.
    assert_eq!((e.line, e.column), (3, 1), "{e:?}");
    assert!(e.message.contains("expected ')'"), "{e:?}");
    let rendered = p
        .render_template(&cx(), 1, source, pet_input(""))
        .await
        .expect("no fault");
    assert_eq!(rendered, Err(RenderFailure::Template(e)));
}

const PET_MODEL: &str = r#"{"type": "object", "required": ["name"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}}"#;

#[tokio::test]
async fn model_validator_answers_aws_validation_error_strings() {
    for policy in [
        InstancePolicy::Fresh,
        InstancePolicy::Reuse { max_uses: 100 },
    ] {
        let p = load_with(
            "validator-jsonschema",
            PluginKind::ModelValidator,
            Grants::default(),
            policy,
        );
        assert_eq!(p.prepare_model(&cx(), 1, PET_MODEL, &[]).await, Ok(Ok(())));
        let ok = p
            .validate_model(&cx(), 1, PET_MODEL, &[], br#"{"name": "Rex", "age": 3}"#)
            .await;
        assert_eq!(ok, Ok(Ok(())), "{policy:?}");
        let missing = p
            .validate_model(&cx(), 1, PET_MODEL, &[], br#"{"age": 3}"#)
            .await;
        assert_eq!(
            missing,
            Ok(Err(ModelFailure::Invalid(
                r#"[object has missing required properties (["name"])]"#.into()
            ))),
            "{policy:?}"
        );
        let not_json = p.validate_model(&cx(), 1, PET_MODEL, &[], b"{").await;
        assert!(
            matches!(&not_json, Ok(Err(ModelFailure::Invalid(m))) if m.starts_with("[Invalid JSON in request body")),
            "{not_json:?}"
        );
    }
}

#[tokio::test]
async fn model_validator_uses_supplied_documents_and_needs_a_grant_to_fetch() {
    let p = load(
        "validator-jsonschema",
        PluginKind::ModelValidator,
        Grants::default(),
    );
    let schema = r#"{"$ref": "https://schemas.example.com/pet.json"}"#;
    let docs = vec![(
        "https://schemas.example.com/pet.json".to_string(),
        PET_MODEL.to_string(),
    )];
    let bad = p.validate_model(&cx(), 2, schema, &docs, b"{}").await;
    assert_eq!(
        bad,
        Ok(Err(ModelFailure::Invalid(
            r#"[object has missing required properties (["name"])]"#.into()
        )))
    );
    // Not supplied, and no host granted: the model does not compile, saying why.
    let unfetched = p.validate_model(&cx(), 3, schema, &[], b"{}").await;
    assert!(
        matches!(&unfetched, Ok(Err(ModelFailure::Model(m)))
            if m.contains("https://schemas.example.com/pet.json") && m.contains("not allowed")),
        "{unfetched:?}"
    );
    let broken = p.prepare_model(&cx(), 4, r#"{"type": 12}"#, &[]).await;
    assert!(matches!(broken, Ok(Err(_))), "{broken:?}");
}
