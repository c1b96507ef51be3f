//! `$input` (`[DG:api-gateway-mapping-template-reference]`): `body`, `json(path)`,
//! `path(path)`, `params()` and `params(name)`.
//!
//! AWS behaviour followed here, beyond the developer guide:
//! - an empty body reads as `{}`: `$input.body` renders `{}`
//!   (`[LS-snap:test_apigateway_common::test_input_body_formatting]`), `$input.path('$')` is
//!   an empty map and `$input.json('$')` is `{}` (`[LS:next_gen/execute_api/template_mapping.py]`);
//! - `params(name)` searches path, then query string, then headers, and is `""` when absent
//!   (LocalStack, same file); header names also match case-insensitively (Portico choice,
//!   HTTP header names are case-insensitive);
//! - `params()` lists its groups as `path`, `header`, `querystring`, the order of the guide's
//!   Example 2 output (`[DG:api-gateway-mapping-variable-examples]`);
//! - a repeated name keeps its last value in the `params()` maps (as
//!   `method.request.header.h` does, reference §6.8);
//! - a body that is not JSON makes `json`/`path` a render error (Jayway throws; AWS answers
//!   500);
//! - `json(path)` of a missing definite path is the empty string, `path(path)` is null
//!   (Portico choice; unverified against AWS).

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::RenderError;
use crate::jsonpath::{self, Selected};
use crate::render::Renderer;
use crate::value::{MapObj, Value};

impl Renderer<'_> {
    /// `$input.body`.
    pub fn input_body(&self) -> Value {
        if self.input.body.is_empty() {
            Value::str("{}")
        } else {
            Value::str(self.input.body)
        }
    }

    /// The body parsed here, once, when the caller gave no [`crate::Input::body_json`].
    fn parse_body(&mut self) -> Result<Rc<serde_json::Value>, RenderError> {
        if let Some(j) = &self.parsed_body {
            return Ok(j.clone());
        }
        let body = self.input.body;
        let j = if body.trim().is_empty() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_str(body)
                .map_err(|e| RenderError::new(format!("the body is not valid JSON: {e}")))?
        };
        let j = Rc::new(j);
        self.parsed_body = Some(j.clone());
        Ok(j)
    }

    /// `$input.<name>(args)`.
    pub fn input_method(
        &mut self,
        name: &str,
        args: &[Value],
    ) -> Result<Option<Value>, RenderError> {
        match (name, args.len()) {
            ("json" | "path", 1) => {
                let path = args[0].java_str()?;
                // `$input.path('$')`, the most common call: the caller's parse converted, or
                // the body parsed straight into values, with no JSON tree in between.
                if name == "path" && path.trim() == "$" {
                    if let Some(j) = self.input.body_json {
                        let mut nodes = 0;
                        let v = Value::from_json_counted(j, &mut nodes);
                        self.charge(nodes)?;
                        return Ok(Some(v));
                    }
                    if self.parsed_body.is_none() {
                        let body = self.input.body;
                        if body.trim().is_empty() {
                            return Ok(Some(Value::map(Vec::new())));
                        }
                        let mut nodes = 0;
                        let v = crate::value::parse_json(body, &mut nodes).map_err(|e| {
                            RenderError::new(format!("the body is not valid JSON: {e}"))
                        })?;
                        self.charge(nodes)?;
                        return Ok(Some(v));
                    }
                }
                let parsed;
                let root = match self.input.body_json {
                    Some(j) => j,
                    None => {
                        parsed = self.parse_body()?;
                        &*parsed
                    }
                };
                let sel = jsonpath::select(root, &path)
                    .map_err(|e| RenderError::new(format!("bad JSONPath {path:?}: {e}")))?;
                if name == "path" {
                    // Converted straight from the parsed body: no intermediate JSON copy.
                    let mut nodes = 0;
                    let v = match &sel {
                        Selected::One(None) => Value::Null,
                        Selected::One(Some(j)) => Value::from_json_counted(j, &mut nodes),
                        Selected::Many(js) => Value::json_list(
                            js.iter()
                                .map(|j| Value::from_json_counted(j, &mut nodes))
                                .collect(),
                        ),
                    };
                    self.charge(nodes)?;
                    return Ok(Some(v));
                }
                let found = sel.to_json();
                let text = match (&sel, found) {
                    (Selected::One(None), _) | (_, None) => String::new(),
                    (_, Some(j)) => serde_json::to_string(&j)
                        .map_err(|e| RenderError::new(format!("JSON output failed: {e}")))?,
                };
                self.check_len(text.len())?;
                self.charge(text.len() / 64)?;
                Ok(Some(Value::str(text)))
            }
            ("params", 0) => Ok(Some(self.params_map()?)),
            ("params", 1) => {
                let key = args[0].java_str()?;
                let i = self.input;
                let last = |list: &[(String, String)]| {
                    list.iter()
                        .rev()
                        .find(|(k, _)| *k == key)
                        .map(|(_, v)| v.clone())
                };
                let found = last(i.path)
                    .or_else(|| last(i.querystring))
                    .or_else(|| last(i.header))
                    .or_else(|| {
                        i.header
                            .iter()
                            .rev()
                            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
                            .map(|(_, v)| v.clone())
                    });
                Ok(Some(Value::str(found.unwrap_or_default())))
            }
            ("getBody", 0) => Ok(Some(self.input_body())),
            _ => Ok(None),
        }
    }

    fn params_map(&mut self) -> Result<Value, RenderError> {
        let i = self.input;
        self.charge(i.path.len() + i.header.len() + i.querystring.len())?;
        let group = |list: &[(String, String)]| {
            let mut map = MapObj::default();
            for (k, v) in list {
                map.insert(k.clone(), Value::str(v.as_str()));
            }
            Value::Map(Rc::new(RefCell::new(map)))
        };
        Ok(Value::map(vec![
            ("path".to_string(), group(i.path)),
            ("header".to_string(), group(i.header)),
            ("querystring".to_string(), group(i.querystring)),
        ]))
    }
}
