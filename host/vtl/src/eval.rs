//! Expression evaluation with Velocity 1.7 semantics: references (properties, indexes,
//! methods), `#set` targets, literals, ranges and operators.
//!
//! Operators: `+ - * / %` on integers stay integers (wrapping like Java `long`), any double
//! makes a double; division or remainder by zero is null; `+` with a string on either side
//! concatenates `toString()`s; a null operand makes arithmetic null. `== !=` compare numbers
//! numerically, same-type values by `equals`, and different types by `toString()`. `< > <= >=`
//! compare numbers only (anything else is false). `#set` with a null right-hand side leaves
//! the target unchanged (Velocity 1.7 `directive.set.null.allowed = false`).

use std::cmp::Ordering;
use std::sync::Arc;

use crate::ast::{Accessor, BinOp, Expr, Node, RefExpr};
use crate::error::RenderError;
use crate::limits::{MAX_RANGE_LEN, MAX_VALUE_DEPTH};
use crate::render::Renderer;
use crate::value::{MapRef, Value};

/// What a reference resolved to.
pub(crate) enum Lookup {
    /// A value (maybe null).
    Val(Value),
    /// A method that does not exist was called: the reference renders as written.
    NoMethod,
}

impl Renderer<'_> {
    /// Resolves a reference.
    pub fn lookup(&mut self, r: &RefExpr) -> Result<Lookup, RenderError> {
        self.lookup_chain(&r.root, &r.chain)
            .map_err(|e| e.at_line(r.line))
    }

    fn lookup_chain(&mut self, root: &str, chain: &[Accessor]) -> Result<Lookup, RenderError> {
        let mut cur = match self.vars.get(root) {
            Some(Value::Block(body)) => {
                let body: Arc<Vec<Node>> = body.clone();
                self.render_block(&body)?
            }
            Some(v) => v.clone(),
            None => return Ok(Lookup::Val(Value::Null)),
        };
        for acc in chain {
            if cur.is_null() {
                return Ok(Lookup::Val(Value::Null));
            }
            cur = match acc {
                Accessor::Prop(name) => self.property(&cur, name)?,
                Accessor::Index(e) => {
                    let key = self.eval(e)?;
                    index(&cur, &key)?
                }
                Accessor::Method(name, args) => {
                    let mut vals = Vec::with_capacity(args.len());
                    for a in args {
                        vals.push(self.eval(a)?);
                    }
                    match self.call_method(&cur, name, vals)? {
                        Some(v) => v,
                        None => return Ok(Lookup::NoMethod),
                    }
                }
            };
        }
        Ok(Lookup::Val(cur))
    }

    fn render_block(&mut self, body: &[Node]) -> Result<Value, RenderError> {
        let mut s = String::new();
        self.render_nodes(body, &mut s)?;
        Ok(Value::str(s))
    }

    /// `$base.name`: a map's key, or a bean getter (`getName()`, then `isName()`).
    fn property(&mut self, base: &Value, name: &str) -> Result<Value, RenderError> {
        match base {
            Value::Map(m) => return Ok(m.borrow().get(name).cloned().unwrap_or(Value::Null)),
            Value::Entry(e) => match name {
                "key" => return Ok(Value::str(e.0.as_str())),
                "value" => return Ok(e.1.clone()),
                _ => {}
            },
            Value::Input if name == "body" => return Ok(self.input_body()),
            Value::Input | Value::Util => return Ok(Value::Null),
            _ => {}
        }
        let mut cap = String::with_capacity(name.len() + 3);
        let mut chars = name.chars();
        if let Some(c) = chars.next() {
            cap.extend(c.to_uppercase());
        }
        cap.push_str(chars.as_str());
        for prefix in ["get", "is"] {
            if let Some(v) = self.call_method(base, &format!("{prefix}{cap}"), Vec::new())? {
                return Ok(v);
            }
        }
        Ok(Value::Null)
    }

    /// Evaluates an expression.
    pub fn eval(&mut self, e: &Expr) -> Result<Value, RenderError> {
        self.step()?;
        self.enter()?;
        let v = self.eval_at_depth(e);
        self.leave();
        v
    }

    fn eval_at_depth(&mut self, e: &Expr) -> Result<Value, RenderError> {
        Ok(match e {
            Expr::Ref(r) => match self.lookup(r)? {
                Lookup::Val(v) => v,
                Lookup::NoMethod => Value::Null,
            },
            Expr::Str(s) => Value::str(s.as_str()),
            Expr::Interp(nodes) => {
                let mut s = String::new();
                self.render_nodes(nodes, &mut s)?;
                Value::str(s)
            }
            Expr::Int(i) => Value::Int(*i),
            Expr::Float(f) => Value::Float(*f),
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Null => Value::Null,
            Expr::List(items) => {
                let mut vals = Vec::with_capacity(items.len());
                for i in items {
                    vals.push(self.eval(i)?);
                }
                Value::list(vals)
            }
            Expr::Map(pairs) => {
                let mut entries: Vec<(String, Value)> = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    let k = self.eval(k)?.to_java_string()?;
                    let v = self.eval(v)?;
                    match entries.iter_mut().find(|(ek, _)| *ek == k) {
                        Some(slot) => slot.1 = v,
                        None => entries.push((k, v)),
                    }
                }
                Value::map(entries)
            }
            Expr::Range(a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                range(&a, &b)?
            }
            Expr::Not(a) => Value::Bool(!self.eval(a)?.truthy()),
            Expr::Neg(a) => match self.eval(a)? {
                Value::Int(i) => Value::Int(i.wrapping_neg()),
                Value::Float(f) => Value::Float(-f),
                _ => Value::Null,
            },
            Expr::Binary(op, a, b) => self.binary(*op, a, b)?,
        })
    }

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr) -> Result<Value, RenderError> {
        match op {
            BinOp::And => {
                let l = self.eval(a)?.truthy();
                return Ok(Value::Bool(l && self.eval(b)?.truthy()));
            }
            BinOp::Or => {
                let l = self.eval(a)?.truthy();
                return Ok(Value::Bool(l || self.eval(b)?.truthy()));
            }
            _ => {}
        }
        let l = self.eval(a)?;
        let r = self.eval(b)?;
        if matches!(op, BinOp::Eq | BinOp::Ne) {
            self.charge(l.size_hint() + r.size_hint())?;
        }
        Ok(match op {
            BinOp::Eq => Value::Bool(java_eq(&l, &r, 0)?),
            BinOp::Ne => Value::Bool(!java_eq(&l, &r, 0)?),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let Some(ord) = num_cmp(&l, &r) else {
                    return Ok(Value::Bool(false));
                };
                Value::Bool(match op {
                    BinOp::Lt => ord == Ordering::Less,
                    BinOp::Le => ord != Ordering::Greater,
                    BinOp::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                })
            }
            BinOp::Add if matches!(l, Value::Str(_)) || matches!(r, Value::Str(_)) => {
                if l.is_null() || r.is_null() {
                    return Ok(Value::Null);
                }
                let mut s = l.to_java_string()?;
                s.push_str(&r.to_java_string()?);
                self.check_len(s.len())?;
                Value::str(s)
            }
            _ => arith(op, &l, &r),
        })
    }

    /// `#set(target = value)`.
    pub fn set(&mut self, target: &RefExpr, value: &Expr) -> Result<(), RenderError> {
        let v = self.eval(value)?;
        if v.is_null() {
            return Ok(());
        }
        let Some((last, init)) = target.chain.split_last() else {
            self.set_var(&target.root, v);
            return Ok(());
        };
        let base = match self
            .lookup_chain(&target.root, init)
            .map_err(|e| e.at_line(target.line))?
        {
            Lookup::Val(b) => b,
            Lookup::NoMethod => return Ok(()),
        };
        match (last, &base) {
            (Accessor::Prop(name), Value::Map(m)) => {
                self.map_put(m, name.clone(), v)?;
            }
            (Accessor::Index(e), _) => {
                let key = self.eval(e)?;
                match &base {
                    Value::Map(m) => {
                        self.map_put(m, key.to_java_string()?, v)?;
                    }
                    Value::List(l) => {
                        self.note_insert(&base, &v);
                        let i = as_index(&key)?;
                        let mut l = l.borrow_mut();
                        let len = l.items.len();
                        match l.items.get_mut(i) {
                            Some(slot) => *slot = v,
                            None => return Err(out_of_bounds(i, len)),
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Puts into a map, refusing a second write to the same override.
    pub fn map_put(
        &mut self,
        m: &MapRef,
        key: String,
        v: Value,
    ) -> Result<Option<Value>, RenderError> {
        self.note_insert(&Value::Map(m.clone()), &v);
        let slot = m.borrow().slot;
        if let Some(slot) = slot
            && slot.tracks(&key)
            && !self.written.insert((slot, key.clone()))
        {
            return Err(RenderError::new(format!(
                "{} is overridden more than once",
                slot.describe(&key)
            )));
        }
        Ok(m.borrow_mut().insert(key, v))
    }
}

fn out_of_bounds(i: usize, len: usize) -> RenderError {
    RenderError::new(format!(
        "IndexOutOfBoundsException: Index: {i}, Size: {len}"
    ))
}

/// A list index from a value.
pub(crate) fn as_index(v: &Value) -> Result<usize, RenderError> {
    match v {
        Value::Int(i) => usize::try_from(*i)
            .map_err(|_| RenderError::new(format!("IndexOutOfBoundsException: Index: {i}"))),
        other => Err(RenderError::new(format!(
            "not a list index: {}",
            other.to_java_string()?
        ))),
    }
}

/// `$base[key]`.
fn index(base: &Value, key: &Value) -> Result<Value, RenderError> {
    Ok(match base {
        Value::Map(m) => m
            .borrow()
            .get(&key.java_str()?)
            .cloned()
            .unwrap_or(Value::Null),
        Value::List(l) => {
            let l = l.borrow();
            let i = as_index(key)?;
            match l.items.get(i) {
                Some(v) => v.clone(),
                None => return Err(out_of_bounds(i, l.items.len())),
            }
        }
        _ => Value::Null,
    })
}

fn range(a: &Value, b: &Value) -> Result<Value, RenderError> {
    // Velocity 1.7's ASTIntegerRange takes numbers only (their intValue); anything else makes
    // the range null.
    let as_int = |v: &Value| match v {
        Value::Int(i) => Some(*i),
        Value::Float(f) if f.is_finite() => Some(*f as i64),
        _ => None,
    };
    let (Some(a), Some(b)) = (as_int(a), as_int(b)) else {
        return Ok(Value::Null);
    };
    let len = a.abs_diff(b).saturating_add(1);
    if len > MAX_RANGE_LEN as u64 {
        return Err(RenderError::new(format!(
            "range [{a}..{b}] has {len} elements, over the {MAX_RANGE_LEN} limit"
        )));
    }
    let items = if a <= b {
        (a..=b).map(Value::Int).collect()
    } else {
        (b..=a).rev().map(Value::Int).collect()
    };
    Ok(Value::list(items))
}

fn num_cmp(l: &Value, r: &Value) -> Option<Ordering> {
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Float(b)) => (*a as f64).partial_cmp(b),
        (Value::Float(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        _ => None,
    }
}

fn arith(op: BinOp, l: &Value, r: &Value) -> Value {
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => {
            let (a, b) = (*a, *b);
            match op {
                BinOp::Add => Value::Int(a.wrapping_add(b)),
                BinOp::Sub => Value::Int(a.wrapping_sub(b)),
                BinOp::Mul => Value::Int(a.wrapping_mul(b)),
                BinOp::Div if b != 0 => Value::Int(a.wrapping_div(b)),
                BinOp::Mod if b != 0 => Value::Int(a.wrapping_rem(b)),
                _ => Value::Null,
            }
        }
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            let f = |v: &Value| match v {
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                _ => 0.0,
            };
            let (a, b) = (f(l), f(r));
            match op {
                BinOp::Add => Value::Float(a + b),
                BinOp::Sub => Value::Float(a - b),
                BinOp::Mul => Value::Float(a * b),
                BinOp::Div if b != 0.0 => Value::Float(a / b),
                BinOp::Mod if b != 0.0 => Value::Float(a % b),
                _ => Value::Null,
            }
        }
        _ => Value::Null,
    }
}

/// Velocity's `==`.
pub(crate) fn java_eq(a: &Value, b: &Value, depth: usize) -> Result<bool, RenderError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(RenderError::new("value nested too deeply to compare"));
    }
    Ok(match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            num_cmp(a, b) == Some(Ordering::Equal)
        }
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            if x.items.len() != y.items.len() {
                return Ok(false);
            }
            for (p, q) in x.items.iter().zip(&y.items) {
                if !java_eq(p, q, depth + 1)? {
                    return Ok(false);
                }
            }
            true
        }
        (Value::Map(x), Value::Map(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            if x.entries.len() != y.entries.len() {
                return Ok(false);
            }
            for (k, v) in &x.entries {
                match y.get(k) {
                    Some(w) if java_eq(v, w, depth + 1)? => {}
                    _ => return Ok(false),
                }
            }
            true
        }
        _ => a.java_str()? == b.java_str()?,
    })
}
