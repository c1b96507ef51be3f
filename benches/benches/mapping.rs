//! Mapping templates and request models, natively and through their first-party components.
//!
//! - `template_render/native`: a ~30-line request template (`$input.path('$')`, a `#foreach`
//!   over five items, `$util.escapeJavaScript`, `$context.requestId`, `$input.params('id')`,
//!   `#if`) rendered with `portico-vtl`, parsed once;
//! - `template_render/component_reuse`: the same through `mapper-vtl` (`Plugin::render_template`
//!   on a reused instance, so the template is prepared once);
//! - `model_validate/native`: a ~2 KB JSON body validated against an order model with
//!   `portico-schema`, compiled once;
//! - `model_validate/component_reuse`: the same through `validator-jsonschema`
//!   (`Plugin::validate_model`, reused instance, prepared once).
//!
//! Components come from `plugins/dist` (`bash plugins/build.sh`). Every case is checked once
//! before it is measured.
//!
//! `cargo bench -p portico-benches --bench mapping`

/// The gateway binary's allocator (host/gateway/src/main.rs): parsing and rendering allocate
/// per node, so the system allocator would measure a different program.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portico_runtime::{
    CallContext, Grants, InstancePolicy, Plugin, PluginKind, PluginSpec, RenderInput, Runtime,
    RuntimeOptions,
};
use serde_json::{Value, json};

/// The ~30-line order template, also served by `benches/load.sh`'s mapping scenario.
const TEMPLATE: &str = include_str!("../fixtures/order-template.vtl");

/// The ~1 KB order the template renders, also `benches/load.sh`'s mapping scenario's body.
fn order_body() -> String {
    include_str!("../fixtures/order.json").trim().to_owned()
}

fn context() -> Value {
    json!({"requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "stage": "prod",
           "httpMethod": "POST", "resourcePath": "/orders/{id}"})
}

fn render_input() -> RenderInput {
    RenderInput {
        body: order_body(),
        path: vec![("id".into(), "o-1234".into())],
        querystring: vec![("dryRun".into(), "true".into())],
        header: vec![("content-type".into(), "application/json".into())],
        context: context().to_string(),
        ..RenderInput::default()
    }
}

const MODEL: &str = r##"{
  "$schema": "http://json-schema.org/draft-04/schema#",
  "title": "Order", "type": "object",
  "required": ["orderId", "customer", "items", "shipping"],
  "properties": {
    "orderId": {"type": "string", "pattern": "^o-[0-9]+$"},
    "customer": {"type": "object", "required": ["name", "email"],
      "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100},
                     "email": {"type": "string", "format": "email"},
                     "phone": {"type": "string"}}},
    "items": {"type": "array", "minItems": 1, "maxItems": 50,
      "items": {"$ref": "#/definitions/item"}},
    "shipping": {"type": "object", "required": ["street", "city", "country"],
      "properties": {"street": {"type": "string"}, "city": {"type": "string"},
                     "zip": {"type": "string"}, "country": {"enum": ["DE", "FR", "US", "GB"]}}},
    "notes": {"type": "string", "maxLength": 500}
  },
  "definitions": {
    "item": {"type": "object", "required": ["sku", "quantity", "price"],
      "additionalProperties": false,
      "properties": {"sku": {"type": "string"}, "title": {"type": "string"},
                     "quantity": {"type": "integer", "minimum": 1},
                     "price": {"type": "number", "minimum": 0},
                     "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}}}
  }
}"##;

/// A valid order of about 2 KB: items are added until the body reaches 2000 bytes.
fn model_body() -> Vec<u8> {
    let mut body = json!({
        "orderId": "o-1234",
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000"},
        "items": [],
        "shipping": {"street": "12 Analytical Engine Road", "city": "London", "zip": "N1 9GU",
                     "country": "GB"},
        "notes": "Please ring twice.",
    });
    let mut i = 0;
    loop {
        let bytes = serde_json::to_vec(&body).expect("serializes");
        if bytes.len() >= 2000 {
            return bytes;
        }
        i += 1;
        body["items"].as_array_mut().expect("items").push(
            json!({"sku": format!("SKU-{i:04}"), "title": format!("Catalogue item number {i}"),
                   "quantity": i, "price": 4.5 * f64::from(i), "tags": ["a", "b", format!("t{i}")]}),
        );
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/dist")
        .join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `bash plugins/build.sh`)", path.display()))
}

fn load(runtime: &std::sync::Arc<Runtime>, name: &str, kind: PluginKind) -> Plugin {
    let mut spec = PluginSpec::new(name, kind);
    spec.grants = Grants::default();
    spec.instances = InstancePolicy::Reuse { max_uses: u32::MAX };
    spec.timeout = Duration::from_secs(5);
    runtime
        .load(&spec, &fixture(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn mapping(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(std::env::temp_dir().join("portico-bench-artifacts")),
        max_instances: 16,
        ..RuntimeOptions::default()
    })
    .expect("plugin runtime");
    let cx = CallContext::new("bench-request");

    // (a), (b): the template.
    let template = portico_vtl::Template::parse(TEMPLATE).expect("template parses");
    let input = render_input();
    let ctx = context();
    let native_input = || portico_vtl::Input {
        body: &input.body,
        body_json: None,
        path: &input.path,
        querystring: &input.querystring,
        header: &input.header,
        context: &ctx,
        stage_variables: &input.stage_variables,
        overrides: portico_vtl::Overrides::default(),
        limits: portico_vtl::Limits::default(),
    };
    let native = template.render(&native_input()).expect("renders").body;
    serde_json::from_str::<Value>(&native).expect("the template renders JSON");
    let mapper = load(&runtime, "mapper-vtl", PluginKind::TemplateMapper);
    let through = rt
        .block_on(mapper.render_template(&cx, 1, TEMPLATE, input.clone()))
        .expect("no fault")
        .expect("renders");
    assert_eq!(
        through.body, native,
        "component and native renderings differ"
    );

    let mut group = c.benchmark_group("template_render");
    group.bench_function("native", |b| {
        b.iter(|| {
            template
                .render(black_box(&native_input()))
                .expect("renders")
        })
    });
    group.bench_function("component_reuse", |b| {
        b.iter(|| {
            rt.block_on(mapper.render_template(&cx, 1, TEMPLATE, black_box(input.clone())))
                .expect("no fault")
                .expect("renders")
        })
    });
    group.finish();

    // (c), (d): the model.
    let body = model_body();
    assert!(
        (2000..2400).contains(&body.len()),
        "body is {} bytes",
        body.len()
    );
    let schema: Value = serde_json::from_str(MODEL).expect("model is JSON");
    let model = portico_schema::compile_schema(&schema, &[]).expect("model compiles");
    model.validate_bytes(&body).expect("body is valid");
    let validator = load(&runtime, "validator-jsonschema", PluginKind::ModelValidator);
    rt.block_on(validator.validate_model(&cx, 1, MODEL, &[], &body))
        .expect("no fault")
        .expect("body is valid through the component");

    let mut group = c.benchmark_group("model_validate");
    group.bench_function("native", |b| {
        b.iter(|| model.validate_bytes(black_box(&body)).expect("valid"))
    });
    group.bench_function("component_reuse", |b| {
        b.iter(|| {
            rt.block_on(validator.validate_model(&cx, 1, MODEL, &[], black_box(&body)))
                .expect("no fault")
                .expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, mapping);
criterion_main!(benches);
