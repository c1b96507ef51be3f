//! The `validationErrorString` texts: the `jsonschema` crate's errors rendered as the messages of
//! the Java fge `json-schema-validator` (2.2.x) that API Gateway validates models with.
//!
//! Source: fge's message bundle `com/github/fge/jsonschema/validator/validation.properties`
//! (java-json-tools/json-schema-validator), and AWS answers seen in the wild, e.g.
//! `[object has missing required properties (["schedule","team"])]`: JSON values are written
//! compactly (`["a","b"]`), and the whole is a Java list, `[msg1, msg2]`.
//!
//! | keyword | text |
//! |---|---|
//! | `required` | `object has missing required properties (["a","b"])` — one message per object, names in schema order |
//! | `type` | `instance type (integer) does not match any allowed primitive type (allowed: ["string"])` — allowed sorted; `number` also allows `integer` |
//! | `enum` | `instance value ("x") not found in enum (possible values: ["a","b"])` |
//! | `minLength` | `string "abc" is too short (length: 3, required minimum: 5)` (length in code points) |
//! | `maxLength` | `string "abcdef" is too long (length: 6, maximum allowed: 5)` |
//! | `minimum` | `numeric instance is lower than the required minimum (minimum: 5, found: 4)` |
//! | `minimum` + `exclusiveMinimum` | `numeric instance is not strictly greater than the required minimum 5` |
//! | `maximum` | `numeric instance is greater than the required maximum (maximum: 10, found: 11)` |
//! | `maximum` + `exclusiveMaximum` | `numeric instance is not strictly lower than the required maximum 10` |
//! | `multipleOf` | `remainder of division is not zero (7 / 2)` |
//! | `pattern` | `ECMA 262 regex "^a" does not match input string "b"` |
//! | `minItems` | `array is too short: must have at least 2 elements but instance has 1 elements` |
//! | `maxItems` | `array is too long: must have at most 1 elements but instance has 2 elements` |
//! | `uniqueItems` | `array must not contain duplicate elements` |
//! | `additionalItems` | `schema only allows 1 elements in array but instance has 2 elements` |
//! | `additionalProperties` | `object instance has properties which are not allowed by the schema: ["x","y"]` (sorted) |
//! | `minProperties` | `object has too few properties (found 0 but schema requires at least 1)` |
//! | `maxProperties` | `object has too many properties (found 2 but schema requires at most 1)` |
//! | `allOf` | `instance failed to match all required schemas (matched only 1 out of 2)` |
//! | `anyOf` | `instance failed to match at least one required schema among 2` |
//! | `oneOf` | `instance failed to match exactly one schema (matched 0 out of 2)` |
//! | `not` | `instance matched a schema which it should not have` |
//! | `format: date-time` | `string "x" is invalid against requested date format(s) ["yyyy-MM-dd'T'HH:mm:ssZ","yyyy-MM-dd'T'HH:mm:ss.[0-9]{1,12}Z"]` |
//! | `format: email` | `string "x" is not a valid email address` |
//! | `format: hostname` | `string "x" is not a valid hostname` |
//! | `format: ipv4` / `ipv6` | `string "x" is not a valid IPv4 address` / `… IPv6 address` |
//! | `format: uri` | `string "x" is not a valid URI` |
//! | `format: regex` | `string "x" is not a valid ECMA 262 regular expression` |
//! | anything else | the `jsonschema` crate's own message |
//!
//! As in fge, the branches of `allOf`, `anyOf` and `oneOf` are summarized by one message (fge
//! nests their reports), so their inner errors are not listed. Messages appear in the order the
//! engine reports them (fge's own order, keyword by keyword, may differ when one body has several
//! errors).
//!
//! `dependencies` with a property list: `property "a" of object has missing property dependencies
//! (schema requires ["b","c"]; missing: ["c"])`.

use std::collections::BTreeSet;
use std::fmt::Write;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError};
use serde_json::Value;

use crate::MAX_REPORTED_ERRORS;
use crate::documents::Documents;

/// What the messages may look up: the schema as compiled and the documents its `$ref`s reach
/// (to count the branches of an `allOf`).
pub struct Lookup<'a> {
    /// The compiled schema.
    pub root: &'a Value,
    /// The documents reachable by absolute `$ref`.
    pub documents: &'a Documents,
}

/// One message of the list, or a group still collecting errors.
enum Entry {
    Text(String),
    Required {
        key: (String, String),
        missing: Vec<String>,
    },
    Dependency {
        key: (String, String),
        property: String,
        requires: Vec<String>,
        missing: Vec<String>,
    },
    AllOf {
        key: (String, String),
        failed: BTreeSet<usize>,
        of: usize,
    },
}

/// Renders `errors` as AWS's `validationErrorString`: `[msg1, msg2, …]`.
pub fn validation_error_string<'i>(
    errors: impl Iterator<Item = ValidationError<'i>>,
    lookup: &Lookup<'_>,
) -> String {
    let mut entries: Vec<Entry> = Vec::new();
    for error in errors {
        add(&mut entries, &error, lookup);
    }
    let total = entries.len();
    let mut out = String::from("[");
    for (i, entry) in entries.into_iter().take(MAX_REPORTED_ERRORS).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match entry {
            Entry::Text(text) => out.push_str(&text),
            Entry::Required { missing, .. } => {
                let _ = write!(
                    out,
                    "object has missing required properties ({})",
                    json(&missing)
                );
            }
            Entry::Dependency {
                property,
                requires,
                missing,
                ..
            } => {
                let _ = write!(
                    out,
                    "property \"{property}\" of object has missing property dependencies \
                     (schema requires {}; missing: {})",
                    json(&requires),
                    json(&missing)
                );
            }
            Entry::AllOf { failed, of, .. } => {
                let _ = write!(
                    out,
                    "instance failed to match all required schemas (matched only {} out of {of})",
                    of.saturating_sub(failed.len())
                );
            }
        }
    }
    if total > MAX_REPORTED_ERRORS {
        let _ = write!(out, ", … and {} more", total - MAX_REPORTED_ERRORS);
    }
    out.push(']');
    out
}

fn add(entries: &mut Vec<Entry>, error: &ValidationError<'_>, lookup: &Lookup<'_>) {
    let eval: Vec<String> = error
        .evaluation_path()
        .segments()
        .map(|s| s.to_string())
        .collect();
    let instance_path = error.instance_path().as_str();
    if let Some(site) = all_of_site(&eval, instance_path)
        && let Some(of) = lookup.array_len(&eval[..site.keyword_end])
    {
        let key = (eval[..site.keyword_end].join("/"), site.instance);
        for entry in entries.iter_mut() {
            if let Entry::AllOf { key: k, failed, .. } = entry
                && *k == key
            {
                failed.insert(site.branch);
                return;
            }
        }
        entries.push(Entry::AllOf {
            key,
            failed: BTreeSet::from([site.branch]),
            of,
        });
        return;
    }
    if let ValidationErrorKind::Required { property } = error.kind() {
        let name = property
            .as_str()
            .map_or_else(|| property.to_string(), str::to_owned);
        let key = (
            instance_path.to_owned(),
            error.schema_path().as_str().to_owned(),
        );
        if eval.last().is_some_and(|s| s == "dependencies") {
            let dependency = lookup
                .resolve(&eval)
                .and_then(|deps| dependency_of(deps, error.instance(), &name));
            if let Some((property, requires)) = dependency {
                let key = (key.0, format!("{}/{property}", key.1));
                if let Some(Entry::Dependency {
                    key: k, missing, ..
                }) = entries.last_mut()
                    && *k == key
                {
                    missing.push(name);
                    return;
                }
                entries.push(Entry::Dependency {
                    key,
                    property,
                    requires,
                    missing: vec![name],
                });
                return;
            }
        }
        if let Some(Entry::Required { key: k, missing }) = entries.last_mut()
            && *k == key
        {
            missing.push(name);
            return;
        }
        entries.push(Entry::Required {
            key,
            missing: vec![name],
        });
        return;
    }
    entries.push(Entry::Text(message(error)));
}

/// The property of `instance` whose `dependencies` list (in `deps`) names `missing`, and that list.
fn dependency_of(deps: &Value, instance: &Value, missing: &str) -> Option<(String, Vec<String>)> {
    let (Value::Object(deps), Value::Object(instance)) = (deps, instance) else {
        return None;
    };
    deps.iter().find_map(|(property, list)| {
        let names: Vec<String> = list
            .as_array()?
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect();
        (instance.contains_key(property) && names.iter().any(|n| n == missing))
            .then(|| (property.clone(), names))
    })
}

/// Where an error sits under the outermost `allOf` of its evaluation path.
struct AllOfSite {
    /// `eval[..keyword_end]` is the path of the `allOf` keyword.
    keyword_end: usize,
    /// The failing branch.
    branch: usize,
    /// The instance location the `allOf` applies to.
    instance: String,
}

/// Finds the outermost `allOf` in `eval`, counting the instance segments consumed before it.
fn all_of_site(eval: &[String], instance_path: &str) -> Option<AllOfSite> {
    let mut consumed = 0;
    let mut i = 0;
    while i < eval.len() {
        match eval[i].as_str() {
            "allOf" => {
                let branch = eval.get(i + 1)?.parse().ok()?;
                let instance: String = instance_path
                    .split('/')
                    .skip(1)
                    .take(consumed)
                    .fold(String::new(), |acc, s| acc + "/" + s);
                return Some(AllOfSite {
                    keyword_end: i + 1,
                    branch,
                    instance,
                });
            }
            "anyOf" | "oneOf" | "not" => return None,
            "properties" | "patternProperties" => {
                consumed += 1;
                i += 2;
            }
            "definitions" | "dependencies" => i += 2,
            "items" => {
                consumed += 1;
                i += if eval.get(i + 1).is_some_and(|s| s.parse::<usize>().is_ok()) {
                    2
                } else {
                    1
                };
            }
            "additionalItems" | "additionalProperties" => {
                consumed += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

impl Lookup<'_> {
    /// The length of the array at evaluation path `eval` (following `$ref`s), if it resolves.
    fn array_len(&self, eval: &[String]) -> Option<usize> {
        self.resolve(eval)?.as_array().map(Vec::len)
    }

    /// The schema value at evaluation path `eval` (following `$ref`s), if it resolves.
    fn resolve(&self, eval: &[String]) -> Option<&Value> {
        let mut doc: &Value = self.root;
        let mut node: &Value = self.root;
        for segment in eval {
            if segment == "$ref" {
                let reference = node.get("$ref")?.as_str()?;
                let (base, fragment) = reference.split_once('#').unwrap_or((reference, ""));
                if !base.is_empty() {
                    doc = self.documents.get(base)?;
                }
                node = doc.pointer(&percent_decode(fragment))?;
            } else {
                node = match node {
                    Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                    Value::Object(map) => map.get(segment)?,
                    _ => return None,
                };
            }
        }
        Some(node)
    }
}

/// `%XX` escapes of a URI fragment decoded (JSON pointers in `$ref`s may be percent-encoded).
fn percent_decode(fragment: &str) -> String {
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = fragment.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The fge message of one error (all kinds but `required` and `allOf`, grouped by the caller).
fn message(error: &ValidationError<'_>) -> String {
    let instance: &Value = error.instance();
    let text = || instance.as_str().unwrap_or_default();
    match error.kind() {
        ValidationErrorKind::Type { kind } => format!(
            "instance type ({}) does not match any allowed primitive type (allowed: {})",
            type_name(instance),
            json(&allowed_types(kind))
        ),
        ValidationErrorKind::Enum { options } => {
            format!("instance value ({instance}) not found in enum (possible values: {options})")
        }
        ValidationErrorKind::MinLength { limit } => format!(
            "string \"{}\" is too short (length: {}, required minimum: {limit})",
            text(),
            text().chars().count()
        ),
        ValidationErrorKind::MaxLength { limit } => format!(
            "string \"{}\" is too long (length: {}, maximum allowed: {limit})",
            text(),
            text().chars().count()
        ),
        ValidationErrorKind::Minimum { limit } => format!(
            "numeric instance is lower than the required minimum (minimum: {limit}, found: {instance})"
        ),
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            format!("numeric instance is not strictly greater than the required minimum {limit}")
        }
        ValidationErrorKind::Maximum { limit } => format!(
            "numeric instance is greater than the required maximum (maximum: {limit}, found: {instance})"
        ),
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            format!("numeric instance is not strictly lower than the required maximum {limit}")
        }
        ValidationErrorKind::MultipleOf { multiple_of } => {
            format!("remainder of division is not zero ({instance} / {multiple_of})")
        }
        ValidationErrorKind::Pattern { pattern } => format!(
            "ECMA 262 regex \"{pattern}\" does not match input string \"{}\"",
            text()
        ),
        ValidationErrorKind::MinItems { limit } => format!(
            "array is too short: must have at least {limit} elements but instance has {} elements",
            len(instance)
        ),
        ValidationErrorKind::MaxItems { limit } => format!(
            "array is too long: must have at most {limit} elements but instance has {} elements",
            len(instance)
        ),
        ValidationErrorKind::UniqueItems => "array must not contain duplicate elements".into(),
        ValidationErrorKind::AdditionalItems { limit } => format!(
            "schema only allows {limit} elements in array but instance has {} elements",
            len(instance)
        ),
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let mut names = unexpected.clone();
            names.sort();
            format!(
                "object instance has properties which are not allowed by the schema: {}",
                json(&names)
            )
        }
        ValidationErrorKind::MinProperties { limit } => format!(
            "object has too few properties (found {} but schema requires at least {limit})",
            len(instance)
        ),
        ValidationErrorKind::MaxProperties { limit } => format!(
            "object has too many properties (found {} but schema requires at most {limit})",
            len(instance)
        ),
        ValidationErrorKind::AnyOf { context } => format!(
            "instance failed to match at least one required schema among {}",
            context.len()
        ),
        ValidationErrorKind::OneOfNotValid { context } => format!(
            "instance failed to match exactly one schema (matched 0 out of {})",
            context.len()
        ),
        ValidationErrorKind::OneOfMultipleValid { context } => format!(
            "instance failed to match exactly one schema (matched {} out of {})",
            context.iter().filter(|branch| branch.is_empty()).count(),
            context.len()
        ),
        ValidationErrorKind::Not { .. } => {
            "instance matched a schema which it should not have".into()
        }
        ValidationErrorKind::Format { format } => format_message(format, text()),
        _ => error.to_string(),
    }
}

fn format_message(format: &str, value: &str) -> String {
    match format {
        "date-time" => format!(
            "string \"{value}\" is invalid against requested date format(s) \
             [\"yyyy-MM-dd'T'HH:mm:ssZ\",\"yyyy-MM-dd'T'HH:mm:ss.[0-9]{{1,12}}Z\"]"
        ),
        "email" => format!("string \"{value}\" is not a valid email address"),
        "hostname" => format!("string \"{value}\" is not a valid hostname"),
        "ipv4" => format!("string \"{value}\" is not a valid IPv4 address"),
        "ipv6" => format!("string \"{value}\" is not a valid IPv6 address"),
        "uri" => format!("string \"{value}\" is not a valid URI"),
        "regex" => format!("string \"{value}\" is not a valid ECMA 262 regular expression"),
        other => format!("string \"{value}\" is not a valid \"{other}\""),
    }
}

/// fge's name of the instance's type: `integer` for a number with no fraction part written.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The allowed types, sorted as fge's `EnumSet` orders them (alphabetically); `number` implies
/// `integer`.
fn allowed_types(kind: &TypeKind) -> Vec<String> {
    let mut names: BTreeSet<String> = match kind {
        TypeKind::Single(t) => BTreeSet::from([t.to_string()]),
        TypeKind::Multiple(set) => set.iter().map(|t: JsonType| t.to_string()).collect(),
    };
    if names.contains("number") {
        names.insert("integer".into());
    }
    names.into_iter().collect()
}

fn len(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => 0,
    }
}

/// Compact JSON of a list of strings: `["a","b"]`.
fn json(names: &[String]) -> String {
    serde_json::to_string(names).unwrap_or_default()
}
