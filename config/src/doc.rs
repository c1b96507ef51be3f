//! Reading documents: YAML or JSON text into a [`serde_json::Value`] tree.
//!
//! OpenAPI documents are walked as a generic tree rather than deserialised into fixed types, so
//! that every problem can be reported with its path instead of stopping at the first one.
//! YAML allows non-string keys (`200:` under `responses`); they become strings here.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses YAML or JSON text (by the file extension) into a value tree.
pub fn parse(name: &str, text: &str) -> Result<Value, String> {
    if name.ends_with(".json") {
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))
    } else {
        serde_saphyr::from_str::<AnyValue>(text)
            .map(|v| v.0)
            .map_err(|e| format!("invalid YAML: {e}"))
    }
}

/// A value tree whose map keys may be any scalar.
struct AnyValue(Value);

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(AnyValue)
    }
}

/// A map key: any scalar, kept as text.
struct AnyKey(String);

impl<'de> Deserialize<'de> for AnyKey {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_any(ValueVisitor)?;
        match v {
            Value::String(s) => Ok(AnyKey(s)),
            Value::Number(n) => Ok(AnyKey(n.to_string())),
            Value::Bool(b) => Ok(AnyKey(b.to_string())),
            Value::Null => Ok(AnyKey("null".to_owned())),
            _ => Err(de::Error::custom("map keys must be scalars")),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML or JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(AnyValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some((AnyKey(k), AnyValue(v))) = map.next_entry()? {
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_integer_keys_become_strings() {
        let v = parse("a.yaml", "responses:\n  200:\n    description: ok\n").unwrap();
        assert_eq!(v["responses"]["200"]["description"], "ok");
    }

    #[test]
    fn bad_yaml_is_an_error() {
        assert!(parse("a.yaml", "a: [1, 2").is_err());
        assert!(parse("a.json", "{").is_err());
    }
}
