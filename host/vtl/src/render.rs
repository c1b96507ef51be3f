//! The renderer: walks the nodes, runs directives (`#set`, `#if`, `#foreach`, `#break`,
//! `#stop`, `#define`, macro calls) and enforces the per-render budgets (steps, output size,
//! `#foreach` iterations, macro depth).
//!
//! AWS renders a null or undefined reference as the empty string, where plain Velocity prints
//! the reference's source text: `[LS:localstack/utils/aws/templating.py]` patches airspeed with
//! "Apigateway does not return None but returns an empty string instead", and
//! `[LS-snap:test_apigateway_canary::test_invoking_canary_deployment]` records
//! `"nonExistingDefault": ""` from AWS. A call to a method that does not exist still renders
//! its source text, as Velocity does.

use std::cell::RefCell;
use std::collections::HashSet;

/// Variable names come from the template, not the request, so a fast hasher is safe here.
type Vars = foldhash::HashMap<String, Value>;
use std::rc::Rc;

use crate::ast::{Expr, Node, RefExpr};
use crate::error::RenderError;
use crate::eval::Lookup;
use crate::limits::MAX_RENDER_DEPTH;
use crate::overrides::{self, Slot};
use crate::value::{MapObj, MapRef, Value};
use crate::{Input, Rendered, Template};

/// How a block finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Normal,
    Break,
    Stop,
}

/// The state of one render.
pub(crate) struct Renderer<'a> {
    pub tpl: &'a Template,
    pub input: &'a Input<'a>,
    pub vars: Vars,
    pub steps: u64,
    /// Current recursion depth of blocks and expressions ([`MAX_RENDER_DEPTH`]).
    pub depth: usize,
    pub macro_depth: usize,
    /// Overrides written by this render, to refuse a second write.
    pub written: HashSet<(Slot, String)>,
    /// The `$context` map as built, read back for the overrides.
    pub context: MapRef,
    /// The body parsed by this render, once `$input.path`/`json` needed it (when the caller
    /// gave no [`Input::body_json`]).
    pub parsed_body: Option<Rc<serde_json::Value>>,
    /// Lists and maps that had a list or map put into them: the only places a reference cycle
    /// (`$l.add($l)`) can form. They are emptied when the render ends, so a cycle cannot
    /// outlive the request as leaked memory.
    pub cycle_risk: Vec<Value>,
}

/// Renders `tpl` against `input`.
pub(crate) fn render(tpl: &Template, input: &Input<'_>) -> Result<Rendered, RenderError> {
    let context = overrides::build_context(input.context, &input.overrides);
    // Room for the four roots and a template's usual variables, so the table never regrows
    // during a typical render.
    let mut vars = Vars::with_capacity_and_hasher(16, Default::default());
    vars.insert("context".to_string(), Value::Map(context.clone()));
    vars.insert("input".to_string(), Value::Input);
    vars.insert("util".to_string(), Value::Util);
    vars.insert(
        "stageVariables".to_string(),
        Value::map(
            input
                .stage_variables
                .iter()
                .map(|(k, v)| (k.clone(), Value::str(v.as_str())))
                .collect(),
        ),
    );
    let mut r = Renderer {
        tpl,
        input,
        vars,
        steps: 0,
        depth: 0,
        macro_depth: 0,
        written: HashSet::new(),
        context: context.clone(),
        parsed_body: None,
        cycle_risk: Vec::new(),
    };
    let mut body = String::new();
    let rendered = r
        .render_nodes(&tpl.nodes, &mut body)
        .and_then(|_| overrides::collect(&r.context));
    r.break_cycles();
    Ok(Rendered {
        body,
        overrides: rendered?,
    })
}

impl Renderer<'_> {
    /// Remembers `container` if `inserted` is a list or map (see `cycle_risk`).
    pub fn note_insert(&mut self, container: &Value, inserted: &Value) {
        if matches!(inserted, Value::List(_) | Value::Map(_)) {
            self.cycle_risk.push(container.clone());
        }
    }

    /// Empties every container a cycle could run through.
    fn break_cycles(&mut self) {
        self.vars.clear();
        for v in std::mem::take(&mut self.cycle_risk) {
            match v {
                Value::List(l) => l.borrow_mut().items.clear(),
                Value::Map(m) => m.borrow_mut().clear(),
                _ => {}
            }
        }
    }

    /// Counts one evaluation step against `max_steps`.
    pub fn step(&mut self) -> Result<(), RenderError> {
        self.steps += 1;
        if self.steps > self.input.limits.max_steps {
            return Err(RenderError::new(format!(
                "template exceeded {} evaluation steps",
                self.input.limits.max_steps
            )));
        }
        Ok(())
    }

    /// Counts `n` steps for an operation whose cost grows with its input (copying a list,
    /// converting JSON), so such work is bounded by `max_steps` too.
    pub fn charge(&mut self, n: usize) -> Result<(), RenderError> {
        self.steps = self.steps.saturating_add(n as u64);
        self.step()
    }

    /// Fails if a string of `len` bytes exceeds `max_output_bytes`.
    pub fn check_len(&self, len: usize) -> Result<(), RenderError> {
        if len > self.input.limits.max_output_bytes {
            return Err(RenderError::new(format!(
                "output exceeded {} bytes",
                self.input.limits.max_output_bytes
            )));
        }
        Ok(())
    }

    /// Enters one level of recursion, failing past [`MAX_RENDER_DEPTH`]; pair with `leave`.
    pub fn enter(&mut self) -> Result<(), RenderError> {
        if self.depth >= MAX_RENDER_DEPTH {
            return Err(RenderError::new(format!(
                "template recursion deeper than {MAX_RENDER_DEPTH} levels"
            )));
        }
        self.depth += 1;
        Ok(())
    }

    /// Leaves one level of recursion.
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Renders `nodes` into `out`.
    pub fn render_nodes(&mut self, nodes: &[Node], out: &mut String) -> Result<Flow, RenderError> {
        self.enter()?;
        let flow = self.render_nodes_at_depth(nodes, out);
        self.leave();
        flow
    }

    fn render_nodes_at_depth(
        &mut self,
        nodes: &[Node],
        out: &mut String,
    ) -> Result<Flow, RenderError> {
        for node in nodes {
            self.step()?;
            let flow = self.render_node(node, out)?;
            self.check_len(out.len())?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn render_node(&mut self, node: &Node, out: &mut String) -> Result<Flow, RenderError> {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Ref(r) => self.render_ref(r, out)?,
            Node::Escaped {
                reference,
                backslashes,
            } => {
                out.push_str(&"\\".repeat(backslashes / 2));
                if backslashes % 2 == 0 {
                    self.render_ref(reference, out)?;
                } else {
                    let defined =
                        matches!(self.lookup(reference)?, Lookup::Val(ref v) if !v.is_null());
                    if !defined {
                        out.push('\\');
                    }
                    out.push_str(&reference.source);
                }
            }
            Node::Set { target, value } => self
                .set(target, value)
                .map_err(|e| e.at_line(target.line))?,
            Node::If {
                branches,
                otherwise,
            } => {
                for (cond, body) in branches {
                    if self.eval(cond)?.truthy() {
                        return self.render_nodes(body, out);
                    }
                }
                if let Some(body) = otherwise {
                    return self.render_nodes(body, out);
                }
            }
            Node::Foreach {
                var,
                iter,
                body,
                line,
            } => return self.foreach(var, iter, body, *line, out),
            Node::Break => return Ok(Flow::Break),
            Node::Stop => return Ok(Flow::Stop),
            Node::Define { name, body } => {
                self.vars.insert(name.clone(), Value::Block(body.clone()));
            }
            Node::MacroCall { name, args, source } => {
                return self.call_macro(name, args, source, out);
            }
        }
        Ok(Flow::Normal)
    }

    fn render_ref(&mut self, r: &RefExpr, out: &mut String) -> Result<(), RenderError> {
        match self.lookup(r)? {
            Lookup::Val(Value::Null) => {}
            Lookup::Val(v) => {
                // Printed straight into the output: no string per reference.
                let before = out.len();
                crate::value::write_java(&v, out, 0)?;
                self.charge((out.len() - before) / 16)?;
            }
            Lookup::NoMethod if r.quiet => {}
            Lookup::NoMethod => out.push_str(&r.source),
        }
        Ok(())
    }

    fn foreach(
        &mut self,
        var: &str,
        iter: &Expr,
        body: &[Node],
        line: u32,
        out: &mut String,
    ) -> Result<Flow, RenderError> {
        let items: Vec<Value> = match self.eval(iter)? {
            Value::List(l) => l.borrow().items.clone(),
            Value::Map(m) => m.borrow().entries.iter().map(|(_, v)| v.clone()).collect(),
            _ => Vec::new(),
        };
        self.charge(items.len())?;
        let saved: Vec<(&str, Option<Value>)> =
            [var, "foreach", "velocityCount", "velocityHasNext"]
                .into_iter()
                .map(|k| (k, self.vars.get(k).cloned()))
                .collect();
        let parent = saved[1].1.clone();
        let n = items.len();
        let max = self.input.limits.max_foreach;
        // One `$foreach` object per loop, updated in place, as Velocity's ForeachScope is.
        let mut info = vec![
            ("hasNext".to_string(), Value::Bool(false)),
            ("index".to_string(), Value::Int(0)),
            ("count".to_string(), Value::Int(0)),
            ("first".to_string(), Value::Bool(false)),
            ("last".to_string(), Value::Bool(false)),
        ];
        if let Some(p) = parent {
            info.push(("parent".to_string(), p));
        }
        let info = Rc::new(RefCell::new(MapObj::new(info, None)));
        self.vars
            .insert("foreach".to_string(), Value::Map(info.clone()));
        let mut flow = Flow::Normal;
        for (i, item) in items.into_iter().enumerate() {
            if i >= max {
                self.restore(saved);
                return Err(
                    RenderError::new(format!("#foreach exceeded {max} iterations")).at_line(line),
                );
            }
            let has_next = i + 1 < n;
            {
                let mut m = info.borrow_mut();
                m.set("hasNext", Value::Bool(has_next));
                m.set("index", Value::Int(i as i64));
                m.set("count", Value::Int(i as i64 + 1));
                m.set("first", Value::Bool(i == 0));
                m.set("last", Value::Bool(!has_next));
            }
            self.set_var(var, item);
            self.set_var("velocityCount", Value::Int(i as i64 + 1));
            self.set_var("velocityHasNext", Value::Bool(has_next));
            match self.render_nodes(body, out) {
                Ok(Flow::Normal) => {}
                Ok(Flow::Break) => break,
                Ok(Flow::Stop) => {
                    flow = Flow::Stop;
                    break;
                }
                Err(e) => {
                    self.restore(saved);
                    return Err(e);
                }
            }
        }
        self.restore(saved);
        Ok(flow)
    }

    /// Sets a variable, reusing its slot when it exists.
    pub fn set_var(&mut self, name: &str, v: Value) {
        match self.vars.get_mut(name) {
            Some(slot) => *slot = v,
            None => {
                self.vars.insert(name.to_string(), v);
            }
        }
    }

    fn restore(&mut self, saved: Vec<(&str, Option<Value>)>) {
        for (k, v) in saved {
            match v {
                Some(v) => {
                    self.vars.insert(k.to_string(), v);
                }
                None => {
                    self.vars.remove(k);
                }
            }
        }
    }

    fn call_macro(
        &mut self,
        name: &str,
        args: &[Expr],
        source: &str,
        out: &mut String,
    ) -> Result<Flow, RenderError> {
        let Some(def) = self.tpl.macros.get(name).cloned() else {
            out.push_str(source);
            return Ok(Flow::Normal);
        };
        if self.macro_depth >= self.input.limits.max_macro_depth {
            return Err(RenderError::new(format!(
                "macro #{name} nested deeper than {} calls",
                self.input.limits.max_macro_depth
            )));
        }
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(self.eval(a)?);
        }
        let saved: Vec<(String, Option<Value>)> = def
            .params
            .iter()
            .map(|p| (p.clone(), self.vars.get(p).cloned()))
            .collect();
        let mut values = values.into_iter();
        for p in &def.params {
            match values.next() {
                Some(v) => self.vars.insert(p.clone(), v),
                None => self.vars.remove(p),
            };
        }
        self.macro_depth += 1;
        let flow = self.render_nodes(&def.body, out);
        self.macro_depth -= 1;
        for (k, v) in saved {
            match v {
                Some(v) => self.vars.insert(k, v),
                None => self.vars.remove(&k),
            };
        }
        Ok(match flow? {
            Flow::Stop => Flow::Stop,
            _ => Flow::Normal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, Overrides};

    #[test]
    fn a_list_that_contains_itself_is_freed_after_the_render() {
        let tpl = Template::parse("#set($l = [])#set($ok = $l.add($l))#set($m = {'me': $l})");
        let Ok(tpl) = tpl else {
            panic!("parse failed");
        };
        let ctx = serde_json::json!({});
        let input = Input {
            body: "",
            body_json: None,
            path: &[],
            querystring: &[],
            header: &[],
            context: &ctx,
            stage_variables: &[],
            overrides: Overrides::default(),
            limits: Limits::default(),
        };
        let context = overrides::build_context(input.context, &input.overrides);
        let mut r = Renderer {
            tpl: &tpl,
            input: &input,
            vars: Vars::default(),
            steps: 0,
            depth: 0,
            macro_depth: 0,
            written: HashSet::new(),
            context,
            parsed_body: None,
            cycle_risk: Vec::new(),
        };
        let mut out = String::new();
        assert!(r.render_nodes(&tpl.nodes, &mut out).is_ok());
        let Some(Value::List(l)) = r.vars.get("l") else {
            panic!("$l is not a list");
        };
        let weak = Rc::downgrade(l);
        r.break_cycles();
        drop(r);
        assert!(weak.upgrade().is_none(), "the cycle kept the list alive");
    }
}
