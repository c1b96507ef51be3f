//! `$ref` rewriting: every way an API Gateway model can name another model is turned into the
//! one canonical URL the engine resolves through [`crate::documents`].
//!
//! A model `Name` of API `api_id` lives at `https://apigateway.amazonaws.com/restapis/{api_id}/models/Name`
//! ([`model_url`]). In a model's schema:
//!
//! * `https://apigateway.amazonaws.com/restapis/{any id}/models/Name[#ptr]` — AWS's own form;
//!   any api id is accepted, since an exported API carries the id of the API it came from;
//! * `#/components/schemas/Name[/rest]` (OpenAPI 3) and `#/definitions/Name[/rest]` (Swagger 2),
//!   when the pointer does **not** resolve inside the model's own document (a model may carry its
//!   own `definitions`; those refs stay local);
//!
//! become `{model_url(Name)}[#ptr or #/rest]`. Other refs are left alone: relative and
//! supplied-document refs resolve as JSON Schema says, and unknown ones fail to compile.
//!
//! The walk follows the draft-4 keywords whose values are schemas only, so an `enum` value or a
//! `default` that happens to look like `{"$ref": …}` is not touched.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::AWS_MODEL_URL_PREFIX;

/// The canonical URL of model `name` of API `api_id`.
#[must_use]
pub fn model_url(api_id: &str, name: &str) -> String {
    format!("{AWS_MODEL_URL_PREFIX}{api_id}/models/{name}")
}

/// Rewrites the model `$ref`s of `doc` (the schema of one model) in place, and drops a root
/// `$schema` so that draft 4 is used whatever it declares.
pub fn rewrite(doc: &mut Value, api_id: &str, models: &HashSet<&str>) {
    if let Value::Object(root) = doc {
        root.remove("$schema");
    }
    let original = doc.clone();
    let ctx = Ctx {
        api_id,
        models,
        original: &original,
    };
    ctx.schema(doc);
}

struct Ctx<'a> {
    api_id: &'a str,
    models: &'a HashSet<&'a str>,
    original: &'a Value,
}

impl Ctx<'_> {
    fn schema(&self, schema: &mut Value) {
        let Value::Object(map) = schema else { return };
        if let Some(Value::String(reference)) = map.get_mut("$ref")
            && let Some(rewritten) = self.reference(reference)
        {
            *reference = rewritten;
        }
        for (keyword, value) in map.iter_mut() {
            match keyword.as_str() {
                "additionalItems" | "additionalProperties" | "not" => self.schema(value),
                "items" | "allOf" | "anyOf" | "oneOf" => match value {
                    Value::Array(items) => items.iter_mut().for_each(|s| self.schema(s)),
                    other => self.schema(other),
                },
                "properties" | "patternProperties" | "definitions" | "dependencies" => {
                    if let Value::Object(members) = value {
                        self.members(members);
                    }
                }
                _ => {}
            }
        }
    }

    fn members(&self, members: &mut Map<String, Value>) {
        members.values_mut().for_each(|s| self.schema(s));
    }

    /// The canonical form of `reference`, or `None` to leave it as written.
    fn reference(&self, reference: &str) -> Option<String> {
        if let Some(pointer) = reference.strip_prefix('#') {
            if self.original.pointer(pointer).is_some() {
                return None;
            }
            let rest = pointer
                .strip_prefix("/components/schemas/")
                .or_else(|| pointer.strip_prefix("/definitions/"))?;
            let (name, tail) = rest.split_once('/').map_or((rest, ""), |(n, t)| (n, t));
            let name = unescape(name);
            if !self.models.contains(name.as_str()) {
                return None;
            }
            let url = model_url(self.api_id, &name);
            return Some(if tail.is_empty() {
                url
            } else {
                format!("{url}#/{tail}")
            });
        }
        let rest = reference.strip_prefix(AWS_MODEL_URL_PREFIX)?;
        let (_api_id, rest) = rest.split_once("/models/")?;
        let (name, fragment) = rest
            .split_once('#')
            .map_or((rest, None), |(n, f)| (n, Some(f)));
        if !self.models.contains(name) {
            return None;
        }
        let url = model_url(self.api_id, name);
        Some(match fragment {
            Some(fragment) if !fragment.is_empty() => format!("{url}#{fragment}"),
            _ => url,
        })
    }
}

/// A JSON-pointer segment unescaped (`~1` → `/`, `~0` → `~`).
fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rewritten(mut doc: Value) -> Value {
        let models = HashSet::from(["Pet", "Tag"]);
        rewrite(&mut doc, "abc123", &models);
        doc
    }

    #[test]
    fn forms_become_canonical() {
        let doc = rewritten(json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "properties": {
                "a": {"$ref": "#/definitions/Pet"},
                "b": {"$ref": "#/components/schemas/Tag/properties/name"},
                "c": {"$ref": "https://apigateway.amazonaws.com/restapis/other/models/Pet"},
                "d": {"items": {"$ref": "#/definitions/Nope"}},
                "e": {"enum": [{"$ref": "#/definitions/Pet"}]}
            }
        }));
        let url = "https://apigateway.amazonaws.com/restapis/abc123/models/";
        assert_eq!(doc.get("$schema"), None);
        assert_eq!(doc["properties"]["a"]["$ref"], json!(format!("{url}Pet")));
        assert_eq!(
            doc["properties"]["b"]["$ref"],
            json!(format!("{url}Tag#/properties/name"))
        );
        assert_eq!(doc["properties"]["c"]["$ref"], json!(format!("{url}Pet")));
        assert_eq!(
            doc["properties"]["d"]["items"]["$ref"],
            json!("#/definitions/Nope")
        );
        assert_eq!(
            doc["properties"]["e"]["enum"][0]["$ref"],
            json!("#/definitions/Pet")
        );
    }

    #[test]
    fn local_definitions_stay_local() {
        let doc = rewritten(json!({
            "definitions": {"Pet": {"type": "string"}},
            "$ref": "#/definitions/Pet"
        }));
        assert_eq!(doc["$ref"], json!("#/definitions/Pet"));
    }
}
