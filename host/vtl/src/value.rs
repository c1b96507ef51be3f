//! Runtime values and how Java prints them.
//!
//! Maps and lists are shared and mutable (`Rc<RefCell<..>>`), as Java references are: after
//! `#set($b = $a)`, `$b.put(..)` changes `$a` too. Rendering follows what AWS prints:
//! - maps (made in VTL, from `$input.path` or `$util.parseJson`) as Java's
//!   `Map.toString()`: `{a=1, b=x}`;
//! - lists from JSON (`$input.path`, `$util.parseJson`) as JSON text, `[{"c":5}]`
//!   (Jayway/json-smart `JSONArray.toString()`; `[LS:template_mapping.py VTLJsonList]`);
//! - lists made in VTL as Java's `ArrayList.toString()`: `[1, a]`;
//! - doubles as Java's `Double.toString()`: `1.0`, `0.5`, `1.0E10`.
//!
//! Printing, JSON output and comparison stop at [`MAX_VALUE_DEPTH`] (a list may contain
//! itself); nested values are dropped iteratively; the renderer empties the containers a cycle
//! could run through when a render ends, so `Rc` cycles never outlive a request.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;

use crate::ast::Node;
use crate::error::RenderError;
use crate::limits::MAX_VALUE_DEPTH;
use crate::overrides::Slot;

/// A shared map.
pub(crate) type MapRef = Rc<RefCell<MapObj>>;
/// A shared list.
pub(crate) type ListRef = Rc<RefCell<ListObj>>;

/// Maps with more entries than this keep a hash index beside the ordered entries.
const INDEX_THRESHOLD: usize = 16;

/// An insertion-ordered map (Java `LinkedHashMap`). Keys are strings. Small maps are searched
/// linearly; larger ones keep a hash index, so building or reading a big map stays linear.
#[derive(Debug, Default)]
pub(crate) struct MapObj {
    /// The entries in insertion order; keys are unique.
    pub entries: Vec<(String, Value)>,
    index: Option<HashMap<String, usize>>,
    /// Set on the `$context.requestOverride.*` / `responseOverride` maps: writes are
    /// overrides, and each may be written once.
    pub slot: Option<Slot>,
}

/// A list; `json` marks lists that came from JSON and print as JSON.
#[derive(Debug, Default)]
pub(crate) struct ListObj {
    pub items: Vec<Value>,
    pub json: bool,
}

/// A runtime value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    List(ListRef),
    Map(MapRef),
    /// A `Map.Entry` from `entrySet()`.
    Entry(Rc<(String, Value)>),
    /// `$input`.
    Input,
    /// `$util`.
    Util,
    /// A `#define` block, rendered where it is referenced.
    Block(Arc<Vec<Node>>),
}

impl MapObj {
    /// A map of `entries` (keys must be unique).
    pub fn new(entries: Vec<(String, Value)>, slot: Option<Slot>) -> Self {
        let mut m = MapObj {
            entries,
            index: None,
            slot,
        };
        m.reindex();
        m
    }

    fn reindex(&mut self) {
        self.index = (self.entries.len() > INDEX_THRESHOLD).then(|| {
            self.entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect()
        });
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        match &mut self.index {
            Some(ix) => {
                ix.insert(key.clone(), self.entries.len());
                self.entries.push((key, value));
            }
            None => {
                self.entries.push((key, value));
                if self.entries.len() > INDEX_THRESHOLD {
                    self.reindex();
                }
            }
        }
        None
    }

    /// Replaces the value under `key` without allocating when the key exists.
    pub fn set(&mut self, key: &str, value: Value) {
        match self.position(key) {
            Some(i) => self.entries[i].1 = value,
            None => {
                self.insert(key.to_string(), value);
            }
        }
    }

    /// Removes `key`; returns its value. Linear in the map's size.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        let (_, v) = self.entries.remove(i);
        self.reindex();
        Some(v)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.index = None;
    }
}

// Deeply nested values are dropped iteratively, so a template that nests a million lists
// cannot overflow the stack on drop. A list or map that holds no list, map or entry (most of
// those parsed from a body) drops as a plain `Vec`, with no stack to allocate.
impl Drop for ListObj {
    fn drop(&mut self) {
        if self.items.iter().any(Value::is_container) {
            drop_iteratively(std::mem::take(&mut self.items));
        }
    }
}

impl Drop for MapObj {
    fn drop(&mut self) {
        if self.entries.iter().any(|(_, v)| v.is_container()) {
            let mut stack = Vec::with_capacity(self.entries.len());
            stack.extend(
                self.entries
                    .drain(..)
                    .map(|(_, v)| v)
                    .filter(Value::is_container),
            );
            drop_iteratively(stack);
        }
    }
}

/// Drops `stack`'s containers and everything only they hold, one at a time. A container
/// taken apart here is left empty, so its own `Drop` does nothing.
fn drop_iteratively(mut stack: Vec<Value>) {
    while let Some(v) = stack.pop() {
        match v {
            Value::List(rc) => {
                if let Ok(cell) = Rc::try_unwrap(rc) {
                    let mut list = cell.into_inner();
                    stack.extend(list.items.drain(..).filter(Value::is_container));
                }
            }
            Value::Map(rc) => {
                if let Ok(cell) = Rc::try_unwrap(rc) {
                    let mut m = cell.into_inner();
                    stack.extend(
                        m.entries
                            .drain(..)
                            .map(|(_, v)| v)
                            .filter(Value::is_container),
                    );
                }
            }
            Value::Entry(rc) => {
                if let Ok((_, v)) = Rc::try_unwrap(rc)
                    && v.is_container()
                {
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
}

impl Value {
    /// Whether dropping this value can free other values: a list, a map or an entry.
    fn is_container(&self) -> bool {
        matches!(self, Value::List(_) | Value::Map(_) | Value::Entry(_))
    }

    /// A string value.
    pub fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }

    /// A new VTL (ArrayList) list.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(RefCell::new(ListObj { items, json: false })))
    }

    /// A new map.
    pub fn map(entries: Vec<(String, Value)>) -> Value {
        Value::Map(Rc::new(RefCell::new(MapObj::new(entries, None))))
    }

    /// The number of elements of a list or map (0 for anything else): what a comparison or a
    /// copy of this value costs, for the step budget.
    pub fn size_hint(&self) -> usize {
        match self {
            Value::List(l) => l.borrow().items.len(),
            Value::Map(m) => m.borrow().entries.len(),
            _ => 0,
        }
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Velocity 1.7 truthiness: null and `false` are false, everything else is true.
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Null | Value::Bool(false))
    }

    /// The value converted from JSON (numbers: integers to `Int`, others to `Float`).
    pub fn from_json(j: &serde_json::Value) -> Value {
        let mut nodes = 0;
        Value::from_json_counted(j, &mut nodes)
    }

    /// A list that came from JSON (it prints as JSON).
    pub fn json_list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(RefCell::new(ListObj { items, json: true })))
    }

    /// [`Value::from_json`], adding the number of JSON nodes converted to `nodes`.
    pub fn from_json_counted(j: &serde_json::Value, nodes: &mut usize) -> Value {
        *nodes += 1;
        match j {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::str(s.as_str()),
            serde_json::Value::Array(a) => Value::json_list(
                a.iter()
                    .map(|v| Value::from_json_counted(v, nodes))
                    .collect(),
            ),
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json_counted(v, nodes)))
                    .collect(),
            ),
        }
    }

    /// Java `toString()` (lists from JSON print as JSON text, compact, doubles as Java
    /// prints them).
    pub fn to_java_string(&self) -> Result<String, RenderError> {
        let mut out = String::new();
        write_java(self, &mut out, 0)?;
        Ok(out)
    }

    /// [`Value::to_java_string`], borrowed from a string value instead of copied.
    pub fn java_str(&self) -> Result<Cow<'_, str>, RenderError> {
        match self {
            Value::Str(s) => Ok(Cow::Borrowed(s)),
            other => other.to_java_string().map(Cow::Owned),
        }
    }
}

fn too_deep() -> RenderError {
    RenderError::new(format!(
        "value nested deeper than {MAX_VALUE_DEPTH} levels (does a list contain itself?)"
    ))
}

/// Appends the Java `toString()` of `v` to `out` (see [`Value::to_java_string`]).
pub(crate) fn write_java(v: &Value, out: &mut String, depth: usize) -> Result<(), RenderError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(too_deep());
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&java_double(*f)),
        Value::Str(s) => out.push_str(s),
        Value::List(l) => {
            let l = l.borrow();
            if l.json {
                drop(l);
                return write_json(v, out, depth);
            }
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_java(item, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.borrow().entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                write_java(item, out, depth + 1)?;
            }
            out.push('}');
        }
        Value::Entry(e) => {
            out.push_str(&e.0);
            out.push('=');
            write_java(&e.1, out, depth + 1)?;
        }
        Value::Input => out.push_str("$input"),
        Value::Util => out.push_str("$util"),
        Value::Block(_) => {}
    }
    Ok(())
}

fn write_json(v: &Value, out: &mut String, depth: usize) -> Result<(), RenderError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(too_deep());
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) if f.is_finite() => out.push_str(&java_double(*f)),
        Value::Float(_) => out.push_str("null"),
        Value::Str(s) => write_json_str(s, out),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.borrow().items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.borrow().entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(k, out);
                out.push(':');
                write_json(item, out, depth + 1)?;
            }
            out.push('}');
        }
        Value::Entry(e) => {
            out.push('{');
            write_json_str(&e.0, out);
            out.push(':');
            write_json(&e.1, out, depth + 1)?;
            out.push('}');
        }
        Value::Input | Value::Util | Value::Block(_) => write_json_str(&v.to_java_string()?, out),
    }
    Ok(())
}

fn write_json_str(s: &str, out: &mut String) {
    match serde_json::to_string(s) {
        Ok(j) => out.push_str(&j),
        Err(_) => out.push_str("\"\""),
    }
}

/// Java's `Double.toString`: plain notation with at least one fraction digit for
/// 10^-3 <= |x| < 10^7, else `d.dddE±n`.
pub(crate) fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let a = f.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = if mant.contains('.') {
            mant.to_string()
        } else {
            format!("{mant}.0")
        };
        format!("{mant}E{exp}")
    }
}

/// Parses JSON text straight into runtime values (what `$input.path('$')` returns), without a
/// `serde_json::Value` in between; numbers convert as [`Value::from_json`] converts them, and
/// `nodes` counts the values made. serde_json's nesting limit (128) applies.
pub(crate) fn parse_json(text: &str, nodes: &mut usize) -> Result<Value, serde_json::Error> {
    use serde::de::DeserializeSeed as _;
    let mut de = serde_json::Deserializer::from_str(text);
    let v = JsonSeed { nodes }.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

struct JsonSeed<'n> {
    nodes: &'n mut usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for JsonSeed<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        *self.nodes += 1;
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        *self.nodes += 1;
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        *self.nodes += 1;
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        *self.nodes += 1;
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        *self.nodes += 1;
        Ok(Value::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        *self.nodes += 1;
        Ok(Value::str(s))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        *self.nodes += 1;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(JsonSeed {
            nodes: &mut *self.nodes,
        })? {
            items.push(v);
        }
        Ok(Value::json_list(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        *self.nodes += 1;
        let mut obj = MapObj::default();
        while let Some(key) = map.next_key::<String>()? {
            let v = map.next_value_seed(JsonSeed {
                nodes: &mut *self.nodes,
            })?;
            // A repeated key keeps its first place and its last value, as serde_json's map does.
            obj.insert(key, v);
        }
        Ok(Value::Map(Rc::new(RefCell::new(obj))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(1e10), "1.0E10");
        assert_eq!(java_double(1.5e-5), "1.5E-5");
        assert_eq!(java_double(1234567.0), "1234567.0");
        assert_eq!(java_double(12345678.0), "1.2345678E7");
        assert_eq!(java_double(-0.001), "-0.001");
    }

    #[test]
    fn deep_nesting_drops_without_overflow() {
        let mut v = Value::list(vec![]);
        for _ in 0..200_000 {
            v = Value::list(vec![v]);
        }
        assert!(v.to_java_string().is_err());
        drop(v);
    }

    #[test]
    fn json_parsed_straight_into_values_matches_the_tree_conversion() {
        let text = r#"{"a": 1, "b": [1.5, "x", null, true], "a": 2, "big": 18446744073709551615}"#;
        let mut nodes = 0;
        let direct = super::parse_json(text, &mut nodes).map(|v| v.to_java_string());
        let tree: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let via_tree = Value::from_json(&tree).to_java_string();
        assert_eq!(direct.ok(), Some(via_tree));
        assert_eq!(nodes, 9, "every value parsed counts, a repeated key too");
    }
}
