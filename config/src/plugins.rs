//! Plugin declarations: validated from the gateway file, and cross-checked against the methods
//! that use them (an authorizer must name an `authorizer` plugin, and so on).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::Source;
use crate::diag::Report;
use crate::gateway::RawPlugin;
use crate::model::{Api, InstancePolicy, PluginDef, PluginKind, Preopen};
use crate::template::Part;

/// Default deadline of one plugin call.
const DEFAULT_TIMEOUT_MS: u64 = 100;
/// Default deadline of one function call (the integration timeout bounds it too).
const DEFAULT_FUNCTION_TIMEOUT_MS: u64 = 29_000;
/// The longest deadline of a function call: 15 minutes, Lambda's longest, and the longest
/// `responseTransferMode: STREAM` exchange (a streaming function runs while it streams).
const MAX_FUNCTION_TIMEOUT_MS: u64 = 900_000;
/// The longest deadline of any other plugin's call: API Gateway's integration timeout.
const MAX_TIMEOUT_MS: u64 = 29_000;
/// Default and largest linear-memory limit, in MiB.
const DEFAULT_MEMORY_MB: u64 = 64;
const MAX_MEMORY_MB: u64 = 4096;
/// Default calls per reused instance.
const DEFAULT_MAX_USES: u32 = 1000;

/// Validates the `plugins:` section.
pub fn validate(
    source: &dyn Source,
    file: &str,
    raw: &[RawPlugin],
    report: &mut Report,
) -> Vec<PluginDef> {
    let mut out: Vec<PluginDef> = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let path = format!("plugins[{i}]");
        if p.name.is_empty()
            || !p
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            report.error(
                file,
                format!("{path}.name"),
                "a plugin name may only hold letters, digits, - and _",
            );
        }
        if out.iter().any(|o| o.name == p.name) {
            report.error(
                file,
                format!("{path}.name"),
                format!("another plugin is already named {}", p.name),
            );
        }
        let kind = match p.kind.as_str() {
            "authorizer" => PluginKind::Authorizer,
            "mapper" => PluginKind::Mapper,
            "validator" => PluginKind::Validator,
            "function" => PluginKind::Function,
            "template-mapper" => PluginKind::TemplateMapper,
            "model-validator" => PluginKind::ModelValidator,
            other => {
                report.error(
                    file,
                    format!("{path}.kind"),
                    format!(
                        "{other:?} is not authorizer, mapper, validator, function, template-mapper or model-validator"
                    ),
                );
                continue;
            }
        };
        let component = source
            .path(&p.file)
            .unwrap_or_else(|| PathBuf::from(&p.file));
        if !component.is_file() {
            report.error(
                file,
                format!("{path}.file"),
                format!(
                    "{} does not exist (build the plugins with `bash plugins/build.sh`)",
                    component.display()
                ),
            );
        }
        let grants = p
            .grants
            .clone()
            .unwrap_or_else(|| vec!["log".into(), "config".into()]);
        for g in &grants {
            if !["log", "config", "kv", "http"].contains(&g.as_str()) {
                report.error(
                    file,
                    format!("{path}.grants"),
                    format!("{g:?} is not a capability (log, config, kv, http)"),
                );
            }
        }
        let has = |g: &str| grants.iter().any(|x| x == g);
        if !p.http_allow.is_empty() && !has("http") {
            report.error(
                file,
                format!("{path}.http_allow"),
                "http_allow needs the `http` grant",
            );
        }
        if has("http") && p.http_allow.is_empty() {
            report.warn(
                file,
                format!("{path}.grants"),
                "the `http` grant with an empty http_allow allows no host",
            );
        }
        if p.config.is_some() && !has("config") {
            report.warn(
                file,
                format!("{path}.config"),
                "the plugin has a config but not the `config` grant, so it cannot read it",
            );
        }
        let config = p
            .config
            .as_ref()
            .filter(|_| has("config"))
            .map(ToString::to_string);
        let (timeout_default, timeout_max) = if kind == PluginKind::Function {
            (DEFAULT_FUNCTION_TIMEOUT_MS, MAX_FUNCTION_TIMEOUT_MS)
        } else {
            (DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS)
        };
        let timeout_ms = p.timeout_ms.unwrap_or(timeout_default);
        if !(1..=timeout_max).contains(&timeout_ms) {
            report.error(
                file,
                format!("{path}.timeout_ms"),
                format!("must be between 1 and {timeout_max}"),
            );
        }
        let memory_mb = p.memory_mb.unwrap_or(DEFAULT_MEMORY_MB);
        if !(1..=MAX_MEMORY_MB).contains(&memory_mb) {
            report.error(
                file,
                format!("{path}.memory_mb"),
                format!("must be between 1 and {MAX_MEMORY_MB}"),
            );
        }
        let instances = match p.instances.as_deref() {
            None | Some("fresh") => {
                if p.max_uses.is_some() {
                    report.error(
                        file,
                        format!("{path}.max_uses"),
                        "max_uses needs `instances: reuse`",
                    );
                }
                InstancePolicy::Fresh
            }
            Some("reuse") => InstancePolicy::Reuse {
                max_uses: p.max_uses.unwrap_or(DEFAULT_MAX_USES).max(1),
            },
            Some(other) => {
                report.error(
                    file,
                    format!("{path}.instances"),
                    format!("{other:?} is not fresh or reuse"),
                );
                InstancePolicy::Fresh
            }
        };
        let preopens = p
            .preopens
            .iter()
            .map(|o| Preopen {
                host: source
                    .path(&o.host)
                    .unwrap_or_else(|| PathBuf::from(&o.host)),
                guest: o.guest.clone(),
                read_only: o.read_only,
            })
            .collect::<Vec<_>>();
        for (j, o) in preopens.iter().enumerate() {
            if !o.host.is_dir() {
                report.error(
                    file,
                    format!("{path}.preopens[{j}].host"),
                    format!("{} is not a directory", o.host.display()),
                );
            }
        }
        out.push(PluginDef {
            name: p.name.clone(),
            kind,
            file: component,
            config,
            log: has("log"),
            kv: has("kv"),
            http_allow: p.http_allow.clone(),
            preopens,
            timeout: Duration::from_millis(timeout_ms),
            memory_bytes: usize::try_from(memory_mb * 1024 * 1024).unwrap_or(usize::MAX),
            instances,
        });
    }
    out
}

/// The function an `aws_proxy` integration calls in a stage: its template rendered with the
/// stage's variables (a missing variable renders empty, as at run time). `None` when the
/// template uses anything but literals and stage variables, which only a request can fill.
pub fn function_for_stage(
    template: &crate::template::Template,
    variables: &BTreeMap<String, String>,
) -> Option<String> {
    let mut name = String::new();
    for part in &template.parts {
        match part {
            Part::Literal(s) => name.push_str(s),
            Part::Var(crate::template::Var::StageVariable(v)) => {
                name.push_str(variables.get(v).map_or("", String::as_str));
            }
            Part::Var(_) => return None,
        }
    }
    Some(name)
}

/// The `template_mapper` and `model_validator` of every API (in gateway file `file`) must name
/// plugins of those kinds.
pub fn check_engines(file: &str, apis: &[Api], plugins: &[PluginDef], report: &mut Report) {
    let by_name = by_name(plugins);
    for (i, api) in apis.iter().enumerate() {
        let engines = [
            (
                "template_mapper",
                &api.engines.template_mapper,
                PluginKind::TemplateMapper,
            ),
            (
                "model_validator",
                &api.engines.model_validator,
                PluginKind::ModelValidator,
            ),
        ];
        for (field, name, kind) in engines {
            let Some(name) = name else { continue };
            if let Some(why) = wrong_plugin(&by_name, name, kind) {
                report.error(file, format!("apis[{i}].{field}"), format!("{field} {why}"));
            }
        }
    }
}

/// The plugins by name.
fn by_name(plugins: &[PluginDef]) -> BTreeMap<&str, &PluginDef> {
    plugins.iter().map(|p| (p.name.as_str(), p)).collect()
}

/// Why plugin `name` cannot serve as a `kind` plugin (absent, or of another kind); `None`
/// when it can.
fn wrong_plugin(
    by_name: &BTreeMap<&str, &PluginDef>,
    name: &str,
    kind: PluginKind,
) -> Option<String> {
    match by_name.get(name) {
        Some(p) if p.kind == kind => None,
        Some(p) => Some(format!(
            "names plugin {name}, of kind {}, not {}",
            p.kind.name(),
            kind.name()
        )),
        None => Some(format!(
            "names {name}, but the gateway file declares no plugin of that name (add it under `plugins:` with kind {})",
            kind.name()
        )),
    }
}

/// Every plugin a method names must exist and be of the right kind.
pub fn check_references(apis: &[Api], plugins: &[PluginDef], report: &mut Report) {
    let by_name = by_name(plugins);
    for api in apis {
        let spec = &api.spec;
        for route in &api.routes {
            let mut need = |name: &str, kind: PluginKind, what: &str| {
                if let Some(why) = wrong_plugin(&by_name, name, kind) {
                    report.error(spec, &route.location, format!("{what} {why}"));
                }
            };
            if let Some(a) = &route.authorizer
                && let Some(plugin) = a.plugin()
            {
                need(
                    plugin,
                    PluginKind::Authorizer,
                    &format!("authorizer {}", a.name),
                );
            }
            if let Some(v) = &route.validator {
                need(v, PluginKind::Validator, "x-portico-validator");
            }
            if let Some(m) = &route.mapper {
                need(m, PluginKind::Mapper, "x-portico-mapper");
            }
            if route.integration.kind.is_function()
                && let Some(f) = &route.integration.function
            {
                if let [Part::Literal(name)] = f.parts.as_slice() {
                    need(name, PluginKind::Function, "the aws_proxy integration");
                } else {
                    // `function:${stageVariables.fn}`: every stage names its function.
                    for stage in &api.stages {
                        if let Some(name) = function_for_stage(f, &stage.variables) {
                            need(
                                &name,
                                PluginKind::Function,
                                &format!("the aws_proxy integration in stage {}", stage.name),
                            );
                        }
                    }
                }
            }
        }
    }
}
