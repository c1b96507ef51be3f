//! Attribute macros for `portico-sdk`: turn one free function into an exported plugin.
//!
//! `#[portico_sdk::authorizer]` on `fn NAME(request: &Request) -> Decision` (or
//! `fn NAME(request: &Request, method_arn: &str) -> Decision`) expands to the
//! function itself, a hidden type implementing `portico_sdk::Authorizer` by calling `NAME`, and
//! `portico_sdk::export_authorizer!` for that type. `validator` and `function` do the same for
//! `Validator` and `Function`. Use them through `portico_sdk` (they refer to it as
//! `::portico_sdk`, so the dependency must keep that name); the function's signature is checked
//! by the trait, so a wrong one is a type error at the call.
//!
//! The macros need only the function's name, so they read it from the token stream by hand
//! rather than depend on `syn`.

use proc_macro::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};

/// Exports `fn NAME(request: &portico_sdk::Request) -> portico_sdk::Decision`, or
/// `fn NAME(request: &portico_sdk::Request, method_arn: &str) -> portico_sdk::Decision`, as the
/// component's `authorizer` world.
#[proc_macro_attribute]
pub fn authorizer(attr: TokenStream, item: TokenStream) -> TokenStream {
    let call = if fn_params(&item) >= 2 {
        "(request, method_arn)"
    } else {
        "(request)"
    };
    expand(attr, item, |name| {
        format!(
            "struct __PorticoExport;
             impl ::portico_sdk::Authorizer for __PorticoExport {{
                 fn authorize(
                     request: &::portico_sdk::Request,
                     method_arn: &str,
                 ) -> ::portico_sdk::Decision {{
                     let _ = method_arn;
                     {name}{call}
                 }}
             }}
             ::portico_sdk::export_authorizer!(__PorticoExport);"
        )
    })
}

/// How many parameters the function `item` declares: the commas at the top level of its
/// parameter list (outside `<...>`), plus one unless the list is empty.
fn fn_params(item: &TokenStream) -> usize {
    let mut after_fn = false;
    for tt in item.clone() {
        match &tt {
            TokenTree::Ident(ident) if ident.to_string() == "fn" => after_fn = true,
            TokenTree::Group(g) if after_fn && g.delimiter() == Delimiter::Parenthesis => {
                let mut depth = 0i32;
                let mut params = 0;
                let mut pending = false;
                for t in g.stream() {
                    match &t {
                        TokenTree::Punct(p) if p.as_char() == '<' => depth += 1,
                        TokenTree::Punct(p) if p.as_char() == '>' => depth -= 1,
                        TokenTree::Punct(p) if p.as_char() == ',' && depth == 0 => {
                            params += usize::from(pending);
                            pending = false;
                            continue;
                        }
                        _ => {}
                    }
                    pending = true;
                }
                return params + usize::from(pending);
            }
            _ => {}
        }
    }
    0
}

/// Exports `fn NAME(request: &portico_sdk::Request, body: &[u8]) -> Result<(), String>` as the
/// component's `validator` world.
#[proc_macro_attribute]
pub fn validator(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item, |name| {
        format!(
            "struct __PorticoExport;
             impl ::portico_sdk::Validator for __PorticoExport {{
                 fn validate(
                     request: &::portico_sdk::Request,
                     body: &[u8],
                 ) -> ::core::result::Result<(), ::std::string::String> {{
                     {name}(request, body)
                 }}
             }}
             ::portico_sdk::export_validator!(__PorticoExport);"
        )
    })
}

/// Exports `fn NAME(event: serde_json::Value) -> Result<serde_json::Value, String>` as the
/// component's `function` world.
#[proc_macro_attribute]
pub fn function(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item, |name| {
        format!(
            "struct __PorticoExport;
             impl ::portico_sdk::Function for __PorticoExport {{
                 fn handle(
                     event: ::portico_sdk::serde_json::Value,
                 ) -> ::core::result::Result<
                     ::portico_sdk::serde_json::Value,
                     ::std::string::String,
                 > {{
                     {name}(event)
                 }}
             }}
             ::portico_sdk::export_function!(__PorticoExport);"
        )
    })
}

/// The item unchanged, followed by `const _: () = { <glue(name)> };`, or a compile error.
fn expand(attr: TokenStream, item: TokenStream, glue: impl Fn(&Ident) -> String) -> TokenStream {
    if let Some(tt) = attr.into_iter().next() {
        return error(tt.span(), "this attribute takes no arguments");
    }
    let Some(name) = fn_name(&item) else {
        return error(
            Span::call_site(),
            "expected a free function, e.g. `fn authorize(request: &Request) -> Decision`",
        );
    };
    let glue: TokenStream = match glue(&name).parse() {
        Ok(glue) => glue,
        Err(e) => return error(name.span(), &format!("portico-sdk-macros bug: {e}")),
    };
    let mut out = item;
    out.extend(format!("const _: () = {{ {glue} }};").parse::<TokenStream>());
    out
}

/// The name of the function `item` declares: the identifier after the top-level `fn`.
fn fn_name(item: &TokenStream) -> Option<Ident> {
    let mut tokens = item.clone().into_iter();
    while let Some(tt) = tokens.next() {
        if let TokenTree::Ident(ident) = &tt
            && ident.to_string() == "fn"
        {
            return match tokens.next() {
                Some(TokenTree::Ident(name)) => Some(name),
                _ => None,
            };
        }
    }
    None
}

/// `compile_error!(message)` at `span`.
fn error(span: Span, message: &str) -> TokenStream {
    let mut out: TokenStream = "::core::compile_error!".parse().unwrap_or_default();
    let mut literal = proc_macro::Literal::string(message);
    literal.set_span(span);
    let mut args = Group::new(
        Delimiter::Parenthesis,
        TokenStream::from(TokenTree::Literal(literal)),
    );
    args.set_span(span);
    out.extend([TokenTree::Group(args)]);
    out.extend(";".parse::<TokenStream>());
    out
}
