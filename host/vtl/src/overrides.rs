//! `$context.requestOverride` and `$context.responseOverride`
//! (`[DG:apigateway-override-request-response-parameters]`): builds the `$context` map with
//! override maps in place, refuses a second write to the same override (AWS answers 5XX), and
//! collects the overrides once the template has run.

use std::cell::RefCell;
use std::rc::Rc;

use crate::Overrides;
use crate::error::RenderError;
use crate::value::{MapObj, MapRef, Value};

/// Which override a map's writes set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    /// `requestOverride.header`.
    RequestHeader,
    /// `requestOverride.path`.
    RequestPath,
    /// `requestOverride.querystring`.
    RequestQuerystring,
    /// `responseOverride.header`.
    ResponseHeader,
    /// `responseOverride` itself: its `status` key.
    Response,
}

impl Slot {
    /// Whether writing `key` into a map of this slot sets an override.
    pub fn tracks(self, key: &str) -> bool {
        self != Slot::Response || key == "status"
    }

    /// The name used in error messages.
    pub fn describe(self, key: &str) -> String {
        match self {
            Slot::RequestHeader => format!("$context.requestOverride.header.{key}"),
            Slot::RequestPath => format!("$context.requestOverride.path.{key}"),
            Slot::RequestQuerystring => format!("$context.requestOverride.querystring.{key}"),
            Slot::ResponseHeader => format!("$context.responseOverride.header.{key}"),
            Slot::Response => format!("$context.responseOverride.{key}"),
        }
    }
}

/// An override map pre-filled from `entries`; a repeated name becomes a list (a multi-value
/// override), as [`collect`] reads it back.
fn slot_map(slot: Slot, entries: &[(String, String)]) -> Value {
    let mut map = MapObj::new(Vec::new(), Some(slot));
    for (k, v) in entries {
        let v = Value::str(v.as_str());
        match map.get(k).cloned() {
            None => {
                map.insert(k.clone(), v);
            }
            Some(Value::List(l)) => l.borrow_mut().items.push(v),
            Some(first) => {
                map.insert(k.clone(), Value::list(vec![first, v]));
            }
        }
    }
    Value::Map(Rc::new(RefCell::new(map)))
}

/// The `$context` map: the host's tree plus the override maps (pre-filled from `given`).
pub(crate) fn build_context(tree: &serde_json::Value, given: &Overrides) -> MapRef {
    let map = match Value::from_json(tree) {
        Value::Map(m) => m,
        _ => Rc::new(RefCell::new(MapObj::default())),
    };
    {
        let mut m = map.borrow_mut();
        m.insert(
            "requestOverride".to_string(),
            Value::map(vec![
                (
                    "header".to_string(),
                    slot_map(Slot::RequestHeader, &given.request_header),
                ),
                (
                    "path".to_string(),
                    slot_map(Slot::RequestPath, &given.request_path),
                ),
                (
                    "querystring".to_string(),
                    slot_map(Slot::RequestQuerystring, &given.request_querystring),
                ),
            ]),
        );
        let mut response = vec![(
            "header".to_string(),
            slot_map(Slot::ResponseHeader, &given.response_header),
        )];
        if let Some(status) = given.response_status {
            response.push(("status".to_string(), Value::Int(i64::from(status))));
        }
        m.insert(
            "responseOverride".to_string(),
            Value::Map(Rc::new(RefCell::new(MapObj::new(
                response,
                Some(Slot::Response),
            )))),
        );
    }
    map
}

fn child(map: &MapRef, key: &str) -> Option<MapRef> {
    match map.borrow().get(key) {
        Some(Value::Map(m)) => Some(m.clone()),
        _ => None,
    }
}

fn pairs(map: Option<MapRef>) -> Result<Vec<(String, String)>, RenderError> {
    let Some(map) = map else {
        return Ok(Vec::new());
    };
    let m = map.borrow();
    let mut out = Vec::new();
    for (k, v) in &m.entries {
        match v {
            Value::Null => {}
            // A list sets a multi-value header or query parameter, one pair per element.
            Value::List(items) => {
                for item in &items.borrow().items {
                    if !item.is_null() {
                        out.push((k.clone(), item.to_java_string()?));
                    }
                }
            }
            other => out.push((k.clone(), other.to_java_string()?)),
        }
    }
    Ok(out)
}

/// Reads the overrides back out of the `$context` map after the render.
pub(crate) fn collect(context: &MapRef) -> Result<Overrides, RenderError> {
    let request = child(context, "requestOverride");
    let response = child(context, "responseOverride");
    let status = match response
        .as_ref()
        .and_then(|r| r.borrow().get("status").cloned())
    {
        None | Some(Value::Null) => None,
        Some(v) => {
            let text = v.to_java_string()?;
            let code = match v {
                Value::Int(i) => u16::try_from(i).ok(),
                Value::Float(f) if f.fract() == 0.0 && (0.0..65536.0).contains(&f) => {
                    Some(f as u16)
                }
                _ => text.trim().parse::<u16>().ok(),
            };
            match code {
                Some(c) if (100..=599).contains(&c) => Some(c),
                _ => {
                    return Err(RenderError::new(format!(
                        "$context.responseOverride.status is not an HTTP status: {text}"
                    )));
                }
            }
        }
    };
    Ok(Overrides {
        request_header: pairs(request.as_ref().and_then(|r| child(r, "header")))?,
        request_path: pairs(request.as_ref().and_then(|r| child(r, "path")))?,
        request_querystring: pairs(request.as_ref().and_then(|r| child(r, "querystring")))?,
        response_header: pairs(response.as_ref().and_then(|r| child(r, "header")))?,
        response_status: status,
    })
}
