//! The parsed template tree: nodes (text, references, directives) and expressions. Built by
//! [`crate::parser`] and [`crate::expr`], read by [`crate::render`] and [`crate::eval`].

use std::sync::Arc;

/// One piece of template output.
#[derive(Debug)]
pub(crate) enum Node {
    /// Literal text.
    Text(String),
    /// `$a.b`, `$!{a}`: rendered.
    Ref(RefExpr),
    /// `\$a`, `\\$a`: `backslashes` backslashes before a reference. Velocity prints half of
    /// them; with an odd count the reference prints as written (`$a` when defined, `\$a`
    /// when not), with an even count it renders normally.
    Escaped {
        reference: RefExpr,
        backslashes: usize,
    },
    /// `#set(target = value)`.
    Set { target: RefExpr, value: Expr },
    /// `#if / #elseif / #else / #end`.
    If {
        branches: Vec<(Expr, Vec<Node>)>,
        otherwise: Option<Vec<Node>>,
    },
    /// `#foreach($var in iter) body #end`.
    Foreach {
        var: String,
        iter: Expr,
        body: Vec<Node>,
        line: u32,
    },
    /// `#break`.
    Break,
    /// `#stop`.
    Stop,
    /// `#define($name) body #end`.
    Define { name: String, body: Arc<Vec<Node>> },
    /// `#name(args)`: a macro call; renders `source` literally if no such macro exists.
    MacroCall {
        name: String,
        args: Vec<Expr>,
        source: String,
    },
}

/// `#macro(name $a $b) body #end`.
#[derive(Debug)]
pub(crate) struct MacroDef {
    /// Parameter names without `$`.
    pub params: Vec<String>,
    /// The body.
    pub body: Vec<Node>,
}

/// A reference: `$root` followed by property, method and index accessors.
#[derive(Debug)]
pub(crate) struct RefExpr {
    /// `$!` form: null renders empty.
    pub quiet: bool,
    /// The variable name.
    pub root: String,
    /// The accessors after the root.
    pub chain: Vec<Accessor>,
    /// The reference as written, rendered when a method does not exist.
    pub source: String,
    /// The 1-based template line it starts on, for error messages.
    pub line: u32,
}

/// One step after a reference's root.
#[derive(Debug)]
pub(crate) enum Accessor {
    /// `.name`.
    Prop(String),
    /// `.name(args)`.
    Method(String, Vec<Expr>),
    /// `[expr]`.
    Index(Expr),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// An expression inside a directive or method argument.
#[derive(Debug)]
pub(crate) enum Expr {
    Ref(RefExpr),
    /// Single-quoted string: no interpolation.
    Str(String),
    /// Double-quoted string: a template of its own.
    Interp(Vec<Node>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Range(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

/// Collects the `$context.<first segment>` names and whether `$input.params` is called.
pub(crate) fn scan_roots(nodes: &[Node], roots: &mut Vec<String>, params: &mut bool) {
    for node in nodes {
        match node {
            Node::Text(_) | Node::Break | Node::Stop => {}
            Node::Ref(r) | Node::Escaped { reference: r, .. } => scan_ref(r, roots, params),
            Node::Set { target, value } => {
                scan_ref(target, roots, params);
                scan_expr(value, roots, params);
            }
            Node::If {
                branches,
                otherwise,
            } => {
                for (cond, body) in branches {
                    scan_expr(cond, roots, params);
                    scan_roots(body, roots, params);
                }
                if let Some(body) = otherwise {
                    scan_roots(body, roots, params);
                }
            }
            Node::Foreach { iter, body, .. } => {
                scan_expr(iter, roots, params);
                scan_roots(body, roots, params);
            }
            Node::Define { body, .. } => scan_roots(body, roots, params),
            Node::MacroCall { args, .. } => {
                for a in args {
                    scan_expr(a, roots, params);
                }
            }
        }
    }
}

fn scan_ref(r: &RefExpr, roots: &mut Vec<String>, params: &mut bool) {
    if r.root == "context" {
        let first = match r.chain.first() {
            Some(Accessor::Prop(name)) | Some(Accessor::Index(Expr::Str(name))) => name.as_str(),
            _ => "*",
        };
        // The override maps belong to the engine; the host never builds them.
        if first != "requestOverride" && first != "responseOverride" {
            roots.push(first.to_string());
        }
    }
    // `$input.params(..)`, and `$input` itself handed on (`#set($i = $input)`), may read the
    // parameters; `body`, `json` and `path` do not.
    if r.root == "input"
        && !matches!(r.chain.first(),
            Some(Accessor::Prop(p)) if p == "body")
        && !matches!(r.chain.first(),
            Some(Accessor::Method(m, _)) if m == "json" || m == "path" || m == "getBody")
    {
        *params = true;
    }
    for acc in &r.chain {
        match acc {
            Accessor::Prop(_) => {}
            Accessor::Method(_, args) => {
                for a in args {
                    scan_expr(a, roots, params);
                }
            }
            Accessor::Index(e) => scan_expr(e, roots, params),
        }
    }
}

fn scan_expr(e: &Expr, roots: &mut Vec<String>, params: &mut bool) {
    match e {
        Expr::Ref(r) => scan_ref(r, roots, params),
        Expr::Interp(nodes) => scan_roots(nodes, roots, params),
        Expr::List(items) => {
            for i in items {
                scan_expr(i, roots, params);
            }
        }
        Expr::Map(pairs) => {
            for (k, v) in pairs {
                scan_expr(k, roots, params);
                scan_expr(v, roots, params);
            }
        }
        Expr::Range(a, b) | Expr::Binary(_, a, b) => {
            scan_expr(a, roots, params);
            scan_expr(b, roots, params);
        }
        Expr::Not(a) | Expr::Neg(a) => scan_expr(a, roots, params),
        Expr::Str(_) | Expr::Int(_) | Expr::Float(_) | Expr::Bool(_) | Expr::Null => {}
    }
}
