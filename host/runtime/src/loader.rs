//! Checking a compiled component against its plugin kind and grants, and linking it.
//!
//! Order, each step with its own error:
//! 1. exports: the world the kind needs must be there (`WrongWorld`, listing what is exported);
//! 2. imports, by name: a Portico capability must be granted (`NotGranted`; a model validator's
//!    `http-client` is the one exception, linked ungranted), anything else must be an allowed
//!    WASI 0.2 interface (`UnsupportedImport`);
//! 3. linking: a linker holding WASI, `wasi:http` when imported (functions, or plugins granted
//!    outbound HTTP), `config` and `request-tls`, and only the granted capabilities, turned
//!    into an `InstancePre` (`Link`);
//! 4. typing: the generated `*Pre::new` checks every export's signature (`WrongWorld`).

use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::bindings::{
    authorizer, authorizer_v0, function, mapper, model_validator, template_mapper, validator,
};
use crate::cap;
use crate::error::LoadError;
use crate::host::Host;
use crate::spec::{PluginKind, PluginSpec};

/// A type-checked, pre-linked component, ready to instantiate.
pub(crate) enum Entry {
    Authorizer(authorizer::AuthorizerPre<Host>),
    /// An authorizer built for `portico:plugin@0.1.0` (no method ARN, no `lambda-output`).
    AuthorizerV0(authorizer_v0::AuthorizerCorePre<Host>),
    Mapper(mapper::MapperPre<Host>),
    Validator(validator::ValidatorPre<Host>),
    Function(function::FunctionPre<Host>),
    WasiHttp(ProxyPre<Host>),
    TemplateMapper(template_mapper::TemplateMapperPre<Host>),
    ModelValidator(model_validator::ModelValidatorPre<Host>),
}

/// The `wasi:http` handler export a function may have instead of `handle`.
const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@0.2";

/// Checks and links `component` for `spec`.
pub(crate) fn link(
    engine: &Engine,
    component: &Component,
    spec: &PluginSpec,
) -> Result<Entry, LoadError> {
    let ty = component.component_type();
    let exports: Vec<(String, &'static str)> = ty
        .exports(engine)
        .map(|(name, item)| (name.to_owned(), item_kind(&item.ty)))
        .collect();
    let wasi_http = check_exports(spec, &exports)?;
    let mut imports_wasi_http = false;
    for (name, _) in ty.imports(engine) {
        check_import(spec, name, wasi_http)?;
        imports_wasi_http |= name.starts_with("wasi:http/");
    }

    let link_err = |e: wasmtime::Error| LoadError::Link {
        plugin: spec.name.clone(),
        detail: format!("{e:#}"),
    };
    let mut linker = Linker::<Host>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link_err)?;
    if imports_wasi_http {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link_err)?;
    }
    cap::config::add_to_linker(&mut linker).map_err(link_err)?;
    cap::tls::add_to_linker(&mut linker).map_err(link_err)?;
    if spec.grants.log {
        cap::log::add_to_linker(&mut linker).map_err(link_err)?;
    }
    if spec.grants.kv {
        cap::kv::add_to_linker(&mut linker).map_err(link_err)?;
    }
    if !spec.grants.http_allow.is_empty() || spec.kind == PluginKind::ModelValidator {
        cap::http::add_to_linker(&mut linker).map_err(link_err)?;
    }
    let pre = linker.instantiate_pre(component).map_err(link_err)?;

    let wrong = |e: wasmtime::Error| LoadError::WrongWorld {
        plugin: spec.name.clone(),
        expected: spec.kind.world(),
        detail: format!("{e:#}"),
    };
    Ok(match spec.kind {
        PluginKind::Authorizer => match authorizer::AuthorizerPre::new(pre.clone()) {
            Ok(pre) => Entry::Authorizer(pre),
            // Not today's signature: a component built for 0.1.0 still loads; if it is not
            // that either, report against today's world.
            Err(e) => Entry::AuthorizerV0(
                authorizer_v0::AuthorizerCorePre::new(pre).map_err(|_| wrong(e))?,
            ),
        },
        PluginKind::Mapper => Entry::Mapper(mapper::MapperPre::new(pre).map_err(wrong)?),
        PluginKind::Validator => {
            Entry::Validator(validator::ValidatorPre::new(pre).map_err(wrong)?)
        }
        PluginKind::Function if wasi_http => Entry::WasiHttp(ProxyPre::new(pre).map_err(wrong)?),
        PluginKind::Function => Entry::Function(function::FunctionPre::new(pre).map_err(wrong)?),
        PluginKind::TemplateMapper => {
            Entry::TemplateMapper(template_mapper::TemplateMapperPre::new(pre).map_err(wrong)?)
        }
        PluginKind::ModelValidator => {
            Entry::ModelValidator(model_validator::ModelValidatorPre::new(pre).map_err(wrong)?)
        }
    })
}

fn item_kind(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentFunc(_) => "func",
        ComponentItem::CoreFunc(_) => "core func",
        ComponentItem::Module(_) => "core module",
        ComponentItem::Component(_) => "component",
        ComponentItem::ComponentInstance(_) => "interface",
        ComponentItem::Type(_) => "type",
        ComponentItem::Resource(_) => "resource",
    }
}

/// Checks that the kind's exports are there; returns whether the component is a `wasi:http`
/// function.
fn check_exports(spec: &PluginSpec, exports: &[(String, &'static str)]) -> Result<bool, LoadError> {
    let has_func = |name: &str| exports.iter().any(|(n, k)| n == name && *k == "func");
    let has_handler = exports.iter().any(|(n, k)| {
        *k == "interface"
            && (n == INCOMING_HANDLER || n.starts_with(&format!("{INCOMING_HANDLER}.")))
    });
    let ok = match spec.kind {
        PluginKind::Authorizer => has_func("authorize"),
        PluginKind::Mapper => has_func("map-request") && has_func("map-response"),
        PluginKind::Validator => has_func("validate"),
        PluginKind::Function => has_func("handle") || has_handler,
        PluginKind::TemplateMapper => has_func("prepare") && has_func("render"),
        PluginKind::ModelValidator => has_func("prepare") && has_func("validate"),
    };
    if !ok {
        let found = if exports.is_empty() {
            "it exports nothing".to_owned()
        } else {
            let list: Vec<String> = exports.iter().map(|(n, k)| format!("{n} ({k})")).collect();
            format!("it exports {}", list.join(", "))
        };
        return Err(LoadError::WrongWorld {
            plugin: spec.name.clone(),
            expected: spec.kind.world(),
            detail: found,
        });
    }
    Ok(spec.kind == PluginKind::Function && !has_func("handle") && has_handler)
}

/// `namespace:package/interface@version`, split.
struct ImportName<'a> {
    namespace: &'a str,
    package: &'a str,
    interface: &'a str,
    version: &'a str,
}

fn parse(name: &str) -> Option<ImportName<'_>> {
    let (namespace, rest) = name.split_once(':')?;
    let (package, rest) = rest.split_once('/')?;
    let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
    Some(ImportName {
        namespace,
        package,
        interface,
        version,
    })
}

/// WASI 0.2 interfaces every plugin may import. Rust's std imports several even in a pure
/// plugin; the WASI context behind them has no environment, arguments, network or files beyond
/// the granted preopens.
fn wasi_allowed(package: &str, interface: &str) -> bool {
    match package {
        "io" | "clocks" | "random" | "filesystem" | "sockets" => true,
        "cli" => matches!(
            interface,
            "environment"
                | "exit"
                | "stdin"
                | "stdout"
                | "stderr"
                | "terminal-input"
                | "terminal-output"
                | "terminal-stdin"
                | "terminal-stdout"
                | "terminal-stderr"
        ),
        _ => false,
    }
}

fn check_import(spec: &PluginSpec, name: &str, wasi_http: bool) -> Result<(), LoadError> {
    let unsupported = |hint: &'static str| LoadError::UnsupportedImport {
        plugin: spec.name.clone(),
        import: name.to_owned(),
        hint,
    };
    let not_granted = |hint: &'static str| LoadError::NotGranted {
        plugin: spec.name.clone(),
        import: name.to_owned(),
        hint,
    };
    let Some(n) = parse(name) else {
        return Err(unsupported(""));
    };
    match (n.namespace, n.package) {
        ("portico", "plugin") => {
            if !n.version.starts_with("0.1.") {
                return Err(unsupported(" in that version (this gateway offers 0.1.x)"));
            }
            match n.interface {
                // `request-tls` tells a plugin only about its own caller: no grant.
                "types" | "config" | "request-tls" => Ok(()),
                "log" if spec.grants.log => Ok(()),
                "log" => Err(not_granted("add `log` to grants")),
                "kv" if spec.grants.kv => Ok(()),
                "kv" => Err(not_granted("add `kv` to grants")),
                "http-client" if !spec.grants.http_allow.is_empty() => Ok(()),
                // Optional for a model validator (remote `$ref`s): linked without a grant, every
                // fetch then answers `host-not-allowed`.
                "http-client" if spec.kind == PluginKind::ModelValidator => Ok(()),
                "http-client" => Err(not_granted("list the hosts it calls in `http_allow`")),
                _ => Err(unsupported("")),
            }
        }
        ("wasi", package) => {
            if !n.version.starts_with("0.2.") {
                return Err(unsupported(
                    " in that version (this gateway offers WASI 0.2.x)",
                ));
            }
            if wasi_allowed(package, n.interface) {
                return Ok(());
            }
            if package == "http" && matches!(n.interface, "types" | "outgoing-handler") {
                // A `wasi:http` function needs `types` for its handler and often imports
                // `outgoing-handler` whether it calls out or not: both are linked, and requests
                // to hosts outside `http_allow` are refused when sent. Other plugins import
                // them only for outbound HTTP (JavaScript's `fetch`), which is the same grant
                // as `portico:plugin/http-client`.
                return if wasi_http || !spec.grants.http_allow.is_empty() {
                    Ok(())
                } else {
                    Err(not_granted(
                        "list the hosts it calls in `http_allow`, or build it without outbound \
                         HTTP (componentize-js: `--disable http`)",
                    ))
                };
            }
            Err(unsupported(""))
        }
        _ => Err(unsupported("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Grants;

    fn spec(grants: Grants) -> PluginSpec {
        let mut s = PluginSpec::new("p", PluginKind::Authorizer);
        s.grants = grants;
        s
    }

    #[test]
    fn capabilities_need_grants() {
        let none = spec(Grants::default());
        for import in [
            "portico:plugin/types@0.1.0",
            "portico:plugin/config@0.1.0",
            "portico:plugin/request-tls@0.1.3",
        ] {
            assert!(check_import(&none, import, false).is_ok(), "{import}");
        }
        for (import, hint) in [
            ("portico:plugin/log@0.1.0", "add `log` to grants"),
            ("portico:plugin/kv@0.1.0", "add `kv` to grants"),
            (
                "portico:plugin/http-client@0.1.0",
                "list the hosts it calls in `http_allow`",
            ),
        ] {
            match check_import(&none, import, false) {
                Err(LoadError::NotGranted {
                    import: i, hint: h, ..
                }) => {
                    assert_eq!((i.as_str(), h), (import, hint));
                }
                other => panic!("{import}: {other:?}"),
            }
        }
        let all = spec(Grants {
            log: true,
            kv: true,
            http_allow: vec!["a.example".into()],
            ..Grants::default()
        });
        for import in [
            "portico:plugin/log@0.1.0",
            "portico:plugin/kv@0.1.0",
            "portico:plugin/http-client@0.1.0",
        ] {
            assert!(check_import(&all, import, false).is_ok(), "{import}");
        }
    }

    #[test]
    fn only_listed_wasi_interfaces() {
        let s = spec(Grants::default());
        for ok in [
            "wasi:cli/environment@0.2.6",
            "wasi:cli/terminal-stderr@0.2.0",
            "wasi:io/streams@0.2.12",
            "wasi:filesystem/preopens@0.2.0",
            "wasi:sockets/tcp@0.2.0",
            "wasi:random/insecure-seed@0.2.3",
            "wasi:clocks/monotonic-clock@0.2.0",
        ] {
            assert!(check_import(&s, ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "wasi:cli/run@0.2.0",
            "wasi:keyvalue/store@0.2.0",
            "wasi:io/streams@0.3.0",
            "portico:plugin/secrets@0.1.0",
            "portico:plugin/kv@0.2.0",
            "acme:thing/x@1.0.0",
            "env",
        ] {
            assert!(
                matches!(
                    check_import(&s, bad, false),
                    Err(LoadError::UnsupportedImport { .. })
                ),
                "{bad}"
            );
        }
        assert!(check_import(&s, "wasi:http/outgoing-handler@0.2.0", true).is_ok());
        assert!(check_import(&s, "wasi:http/types@0.2.12", true).is_ok());
        assert!(matches!(
            check_import(&s, "wasi:http/outgoing-handler@0.2.0", false),
            Err(LoadError::NotGranted { .. })
        ));
        assert!(matches!(
            check_import(&s, "wasi:http/incoming-handler@0.2.0", true),
            Err(LoadError::UnsupportedImport { .. })
        ));
        let granted = spec(Grants {
            http_allow: vec!["api.example.com".into()],
            ..Grants::default()
        });
        assert!(check_import(&granted, "wasi:http/outgoing-handler@0.2.10", false).is_ok());
    }
}
