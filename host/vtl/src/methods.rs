//! The Java methods a template may call on values: `String`, `Map` (`LinkedHashMap`), `List`
//! (`ArrayList`/`JSONArray`), `Map.Entry`, boxed numbers, plus `toString()` / `equals()` on
//! anything. A method that is not here returns `None`, and the reference renders as written.
//!
//! Strings are indexed by Unicode scalar values; Java counts UTF-16 units, so indexes differ
//! only past U+FFFF. Java exceptions (an index out of range, a null argument) are render errors.

use std::rc::Rc;

use crate::error::RenderError;
use crate::eval::{as_index, java_eq};
use crate::jregex;
use crate::render::Renderer;
use crate::util;
use crate::value::{ListRef, MapRef, Value};

type Found = Result<Option<Value>, RenderError>;

fn npe(method: &str) -> RenderError {
    RenderError::new(format!("NullPointerException in {method}()"))
}

fn arg_str(args: &[Value], i: usize, method: &str) -> Result<String, RenderError> {
    match args.get(i) {
        None | Some(Value::Null) => Err(npe(method)),
        Some(v) => v.to_java_string(),
    }
}

fn arg_int(args: &[Value], i: usize) -> Option<i64> {
    match args.get(i) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    }
}

fn str_index_error(method: &str, i: i64, len: usize) -> RenderError {
    RenderError::new(format!(
        "StringIndexOutOfBoundsException in {method}(): index {i}, length {len}"
    ))
}

fn char_pos(s: &str, byte: usize) -> i64 {
    s[..byte].chars().count() as i64
}

fn byte_at(s: &str, ch: usize) -> Option<usize> {
    if ch == 0 {
        return Some(0);
    }
    s.char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(s.len()))
        .nth(ch)
}

impl Renderer<'_> {
    /// Calls `base.name(args)`; `None` if there is no such method.
    pub fn call_method(&mut self, base: &Value, name: &str, args: Vec<Value>) -> Found {
        let found = match base {
            Value::Input => return self.input_method(name, &args),
            Value::Util => {
                if let Some(Value::Str(s)) = args.first() {
                    self.charge(s.len() / 64)?;
                }
                return util::call(name, &args);
            }
            Value::Str(s) => self.str_method(s, name, &args)?,
            Value::Map(m) => self.map_method(m, name, &args)?,
            Value::List(l) => {
                let len = l.borrow().items.len();
                let linear = matches!(name, "contains" | "indexOf" | "remove" | "addAll")
                    || (name == "add" && args.len() == 2);
                if linear {
                    let extra = match args.first() {
                        Some(Value::List(o)) if name == "addAll" => o.borrow().items.len(),
                        _ => 0,
                    };
                    self.charge(len + extra)?;
                }
                if matches!(name, "add" | "addAll" | "set") {
                    for a in &args {
                        self.note_insert(base, a);
                    }
                }
                list_method(l, name, &args)?
            }
            Value::Entry(e) => match (name, args.len()) {
                ("getKey", 0) => Some(Value::str(e.0.as_str())),
                ("getValue", 0) => Some(e.1.clone()),
                _ => None,
            },
            Value::Int(i) => match (name, args.len()) {
                ("intValue" | "longValue", 0) => Some(Value::Int(*i)),
                ("doubleValue" | "floatValue", 0) => Some(Value::Float(*i as f64)),
                _ => None,
            },
            Value::Float(f) => match (name, args.len()) {
                ("intValue" | "longValue", 0) => Some(Value::Int(*f as i64)),
                ("doubleValue" | "floatValue", 0) => Some(Value::Float(*f)),
                _ => None,
            },
            Value::Bool(b) => match (name, args.len()) {
                ("booleanValue", 0) => Some(Value::Bool(*b)),
                _ => None,
            },
            Value::Null | Value::Block(_) => None,
        };
        if found.is_some() {
            return Ok(found);
        }
        Ok(match (name, args.len()) {
            ("toString", 0) => {
                let s = base.to_java_string()?;
                self.charge(s.len() / 16)?;
                Some(Value::str(s))
            }
            ("equals", 1) => {
                self.charge(base.size_hint() + args[0].size_hint())?;
                Some(Value::Bool(java_eq(base, &args[0], 0)?))
            }
            _ => None,
        })
    }

    fn str_method(&mut self, s: &str, name: &str, args: &[Value]) -> Found {
        let n = args.len();
        let v = match (name, n) {
            ("length" | "size", 0) => Value::Int(s.chars().count() as i64),
            ("isEmpty", 0) => Value::Bool(s.is_empty()),
            ("toLowerCase", 0) => Value::str(s.to_lowercase()),
            ("toUpperCase", 0) => Value::str(s.to_uppercase()),
            ("trim", 0) => Value::str(s.trim_matches(|c: char| c <= ' ')),
            ("toString", 0) => Value::str(s),
            ("equals", 1) => Value::Bool(matches!(&args[0], Value::Str(o) if **o == *s)),
            ("equalsIgnoreCase", 1) => Value::Bool(match &args[0] {
                Value::Str(o) => o.to_lowercase() == s.to_lowercase(),
                _ => false,
            }),
            ("contains", 1) => Value::Bool(s.contains(arg_str(args, 0, name)?.as_str())),
            ("startsWith", 1) => Value::Bool(s.starts_with(arg_str(args, 0, name)?.as_str())),
            ("endsWith", 1) => Value::Bool(s.ends_with(arg_str(args, 0, name)?.as_str())),
            ("concat", 1) => {
                let mut out = s.to_string();
                out.push_str(&arg_str(args, 0, name)?);
                Value::str(out)
            }
            ("indexOf", 1 | 2) | ("lastIndexOf", 1 | 2) => {
                let needle = arg_str(args, 0, name)?;
                let len = s.chars().count() as i64;
                let from = if n == 2 {
                    let Some(f) = arg_int(args, 1) else {
                        return Ok(None);
                    };
                    Some(f)
                } else {
                    None
                };
                let found = if name == "indexOf" {
                    let from = from.unwrap_or(0).clamp(0, len) as usize;
                    byte_at(s, from).and_then(|b| s[b..].find(needle.as_str()).map(|i| i + b))
                } else {
                    let from = from.unwrap_or(len).min(len);
                    if from < 0 {
                        None
                    } else {
                        let end = byte_at(s, from as usize).unwrap_or(s.len());
                        let end = (end + needle.len()).min(s.len());
                        let end = (0..=end)
                            .rev()
                            .find(|&e| s.is_char_boundary(e))
                            .unwrap_or(0);
                        s[..end].rfind(needle.as_str())
                    }
                };
                Value::Int(found.map_or(-1, |b| char_pos(s, b)))
            }
            ("charAt", 1) => {
                let Some(i) = arg_int(args, 0) else {
                    return Ok(None);
                };
                let len = s.chars().count();
                match usize::try_from(i).ok().and_then(|i| s.chars().nth(i)) {
                    Some(c) => Value::str(c.to_string()),
                    None => return Err(str_index_error(name, i, len)),
                }
            }
            ("substring", 1 | 2) => {
                let len = s.chars().count();
                let Some(a) = arg_int(args, 0) else {
                    return Ok(None);
                };
                let b = if n == 2 {
                    let Some(b) = arg_int(args, 1) else {
                        return Ok(None);
                    };
                    b
                } else {
                    len as i64
                };
                if a < 0 || b > len as i64 || a > b {
                    return Err(str_index_error(name, if a < 0 { a } else { b }, len));
                }
                let (ba, bb) = (
                    byte_at(s, a as usize).unwrap_or(s.len()),
                    byte_at(s, b as usize).unwrap_or(s.len()),
                );
                Value::str(&s[ba..bb])
            }
            ("replace", 2) => {
                let from = arg_str(args, 0, name)?;
                let to = arg_str(args, 1, name)?;
                let out = s.replace(from.as_str(), &to);
                self.check_len(out.len())?;
                Value::str(out)
            }
            ("replaceAll" | "replaceFirst", 2) => {
                let re = arg_str(args, 0, name)?;
                let to = arg_str(args, 1, name)?;
                let out = jregex::replace(&re, s, &to, name == "replaceFirst")?;
                self.check_len(out.len())?;
                Value::str(out)
            }
            ("matches", 1) => Value::Bool(jregex::matches(&arg_str(args, 0, name)?, s)?),
            ("split", 1 | 2) => {
                let re = arg_str(args, 0, name)?;
                let limit = if n == 2 {
                    let Some(l) = arg_int(args, 1) else {
                        return Ok(None);
                    };
                    l
                } else {
                    0
                };
                let parts = jregex::split(&re, s, limit)?;
                Value::list(parts.into_iter().map(Value::str).collect())
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    fn map_method(&mut self, m: &MapRef, name: &str, args: &[Value]) -> Found {
        let key = |i: usize| -> Result<String, RenderError> {
            match args.get(i) {
                Some(v) => v.to_java_string(),
                None => Ok(String::new()),
            }
        };
        let len = m.borrow().entries.len();
        if matches!(
            name,
            "remove" | "containsValue" | "keySet" | "values" | "entrySet"
        ) {
            self.charge(len)?;
        }
        let v = match (name, args.len()) {
            ("get", 1) => m.borrow().get(&key(0)?).cloned().unwrap_or(Value::Null),
            ("put", 2) => self
                .map_put(m, key(0)?, args[1].clone())?
                .unwrap_or(Value::Null),
            ("putAll", 1) => {
                let Value::Map(other) = &args[0] else {
                    return Ok(None);
                };
                let entries = other.borrow().entries.clone();
                self.charge(entries.len())?;
                for (k, v) in entries {
                    self.map_put(m, k, v)?;
                }
                Value::Null
            }
            ("remove", 1) => m.borrow_mut().remove(&key(0)?).unwrap_or(Value::Null),
            ("containsKey", 1) => Value::Bool(m.borrow().get(&key(0)?).is_some()),
            ("containsValue", 1) => {
                let values: Vec<Value> =
                    m.borrow().entries.iter().map(|(_, v)| v.clone()).collect();
                let mut found = false;
                for v in &values {
                    if java_eq(v, &args[0], 0)? {
                        found = true;
                        break;
                    }
                }
                Value::Bool(found)
            }
            ("isEmpty", 0) => Value::Bool(m.borrow().entries.is_empty()),
            ("size", 0) => Value::Int(m.borrow().entries.len() as i64),
            ("clear", 0) => {
                m.borrow_mut().clear();
                Value::Null
            }
            ("keySet", 0) => Value::list(
                m.borrow()
                    .entries
                    .iter()
                    .map(|(k, _)| Value::str(k.as_str()))
                    .collect(),
            ),
            ("values", 0) => {
                Value::list(m.borrow().entries.iter().map(|(_, v)| v.clone()).collect())
            }
            ("entrySet", 0) => Value::list(
                m.borrow()
                    .entries
                    .iter()
                    .map(|(k, v)| Value::Entry(Rc::new((k.clone(), v.clone()))))
                    .collect(),
            ),
            _ => return Ok(None),
        };
        Ok(Some(v))
    }
}

fn list_method(l: &ListRef, name: &str, args: &[Value]) -> Found {
    let len = l.borrow().items.len();
    let bounds = |i: usize, limit: usize| -> Result<(), RenderError> {
        if i < limit {
            Ok(())
        } else {
            Err(RenderError::new(format!(
                "IndexOutOfBoundsException: Index: {i}, Size: {len}"
            )))
        }
    };
    let v = match (name, args.len()) {
        ("size", 0) => Value::Int(len as i64),
        ("isEmpty", 0) => Value::Bool(len == 0),
        ("get", 1) => {
            let i = as_index(&args[0])?;
            bounds(i, len)?;
            l.borrow().items[i].clone()
        }
        ("add", 1) => {
            l.borrow_mut().items.push(args[0].clone());
            Value::Bool(true)
        }
        ("add", 2) => {
            let i = as_index(&args[0])?;
            bounds(i, len + 1)?;
            l.borrow_mut().items.insert(i, args[1].clone());
            Value::Null
        }
        ("addAll", 1) => {
            let Value::List(other) = &args[0] else {
                return Ok(None);
            };
            let items = other.borrow().items.clone();
            let changed = !items.is_empty();
            l.borrow_mut().items.extend(items);
            Value::Bool(changed)
        }
        ("set", 2) => {
            let i = as_index(&args[0])?;
            bounds(i, len)?;
            std::mem::replace(&mut l.borrow_mut().items[i], args[1].clone())
        }
        ("contains", 1) | ("indexOf", 1) => {
            let items = l.borrow().items.clone();
            let mut at = None;
            for (i, v) in items.iter().enumerate() {
                if java_eq(v, &args[0], 0)? {
                    at = Some(i);
                    break;
                }
            }
            if name == "contains" {
                Value::Bool(at.is_some())
            } else {
                Value::Int(at.map_or(-1, |i| i as i64))
            }
        }
        ("remove", 1) => {
            if let Value::Int(_) = args[0] {
                let i = as_index(&args[0])?;
                bounds(i, len)?;
                l.borrow_mut().items.remove(i)
            } else {
                let items = l.borrow().items.clone();
                let mut at = None;
                for (i, v) in items.iter().enumerate() {
                    if java_eq(v, &args[0], 0)? {
                        at = Some(i);
                        break;
                    }
                }
                if let Some(i) = at {
                    l.borrow_mut().items.remove(i);
                }
                Value::Bool(at.is_some())
            }
        }
        ("clear", 0) => {
            l.borrow_mut().items.clear();
            Value::Null
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}
