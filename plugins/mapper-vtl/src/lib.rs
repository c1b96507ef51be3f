//! The first-party template mapper (`portico:plugin/template-mapper`): API Gateway mapping
//! templates (Velocity with `$input`, `$context`, `$util`, `$stageVariables` and the request and
//! response overrides), by [`portico_vtl`].
//!
//! `prepare(id, source)` parses a template once and keeps it in this instance under `id`;
//! `render(input)` renders it, or answers `unknown-template` when this instance has not prepared
//! that id (the host then prepares and asks again). Nothing about a request is kept: an instance
//! holds only parsed templates, so the host may reuse it across requests, and should, to parse
//! each template once per instance.

use std::cell::RefCell;
use std::collections::HashMap;

use portico_vtl::{Input, Limits, Template};

#[allow(unsafe_code, missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "portico:plugin/template-mapper",
    });
}

use bindings::{Guest, Overrides, RenderError, RenderInput, Rendered, TemplateError};

thread_local! {
    /// Parsed templates by id, for the instance's life.
    static TEMPLATES: RefCell<HashMap<u64, Template>> = RefCell::new(HashMap::new());
}

struct Mapper;

impl Guest for Mapper {
    fn prepare(id: u64, source: String) -> Result<Vec<String>, TemplateError> {
        let template = Template::parse(&source).map_err(|e| TemplateError {
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
        let roots = template.context_roots().to_vec();
        TEMPLATES.with(|t| t.borrow_mut().insert(id, template));
        Ok(roots)
    }

    fn render(input: RenderInput) -> Result<Rendered, RenderError> {
        TEMPLATES.with(|t| {
            let templates = t.borrow();
            let template = templates
                .get(&input.template)
                .ok_or(RenderError::UnknownTemplate)?;
            let context = if input.context.trim().is_empty() {
                serde_json::Value::Object(serde_json::Map::new())
            } else {
                serde_json::from_str(&input.context)
                    .map_err(|e| RenderError::Failed(format!("$context is not JSON: {e}")))?
            };
            let out = template
                .render(&Input {
                    body: &input.body,
                    body_json: None,
                    path: &input.path,
                    querystring: &input.querystring,
                    header: &input.header,
                    context: &context,
                    stage_variables: &input.stage_variables,
                    overrides: from_wit(input.overrides),
                    limits: Limits::default(),
                })
                .map_err(|e| RenderError::Failed(e.to_string()))?;
            Ok(Rendered {
                body: out.body,
                overrides: to_wit(out.overrides),
            })
        })
    }
}

fn from_wit(o: Overrides) -> portico_vtl::Overrides {
    portico_vtl::Overrides {
        request_header: o.request_header,
        request_path: o.request_path,
        request_querystring: o.request_querystring,
        response_header: o.response_header,
        response_status: o.response_status,
    }
}

fn to_wit(o: portico_vtl::Overrides) -> Overrides {
    Overrides {
        request_header: o.request_header,
        request_path: o.request_path,
        request_querystring: o.request_querystring,
        response_header: o.response_header,
        response_status: o.response_status,
    }
}

// The export glue is generated `unsafe` code (exported symbols): allowed here only.
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(Mapper with_types_in bindings);
};
