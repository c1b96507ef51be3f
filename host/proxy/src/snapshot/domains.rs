//! Custom domain names, compiled: which API and stage a request to a domain reaches, by
//! routing rules and base path mappings, in the domain's routing mode.
//!
//! A request whose `Host` is a custom domain is routed here instead of by the API's hosts
//! and the stage segment: the base path (or a routing rule) names the API and the stage, and
//! the rest of the path is what the API's router matches. Nothing matching is 403
//! `{"message":"Forbidden"}`, as API Gateway answers for an unmapped base path.

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;
use portico_config::transport::{
    Domain, EndpointAccessMode, HeaderGlob, RoutingMode, wildcard_covers,
};

/// A custom domain, with API and stage names resolved to indexes.
pub struct DomainRt {
    /// The configured name (`*.example.com` for a wildcard).
    pub name: Arc<str>,
    /// STRICT: the SNI must name the Host.
    pub strict: bool,
    /// Mutual TLS is on, with this truststore's fingerprint: requests must come over a
    /// handshake this domain's verifier ran with this truststore.
    pub truststore: Option<u64>,
    mode: RoutingMode,
    /// Longest base path first; `(none)` (no segments) last.
    mappings: Vec<(Vec<String>, Target)>,
    rules: Vec<RuleRt>,
}

/// An API and a stage, by index in the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Index in `Snapshot::apis`.
    pub api: usize,
    /// Index in that API's stages.
    pub stage: usize,
}

struct RuleRt {
    headers: Vec<Vec<HeaderGlob>>,
    /// Alternatives, each as segments.
    base_paths: Vec<Vec<String>>,
    target: Target,
    strip_base_path: bool,
}

/// Where a request to a custom domain goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed<'p> {
    /// The API and stage.
    pub target: Target,
    /// The path the API's router matches (starts with `/`, or is empty for the root).
    pub rest: &'p str,
    /// `$context.customDomain.basePathMatched`: the matched base path, `(none)` for the empty
    /// one.
    pub base_path_matched: &'p str,
}

/// The domains of a snapshot, by name.
#[derive(Default)]
pub struct Domains {
    exact: HashMap<String, DomainRt>,
    /// Wildcards by the suffix after `*.`.
    wildcard: Vec<(String, DomainRt)>,
}

impl Domains {
    /// Compiles `domains`; `find` resolves an API and stage name to indexes (the loader has
    /// checked that they exist).
    pub fn build(
        domains: &[Domain],
        find: impl Fn(&str, &str) -> Option<Target>,
        errors: &mut Vec<String>,
    ) -> Self {
        let mut out = Self::default();
        for d in domains {
            let mut resolve = |api: &str, stage: &str| {
                let t = find(api, stage);
                if t.is_none() {
                    errors.push(format!("domain {}: no stage {stage} in API {api}", d.name));
                }
                t
            };
            let mappings = d
                .mappings
                .iter()
                .filter_map(|m| Some((segments(&m.base_path), resolve(&m.api, &m.stage)?)))
                .collect();
            let rules = d
                .rules
                .iter()
                .filter_map(|r| {
                    Some(RuleRt {
                        headers: r.headers.clone(),
                        base_paths: r.base_paths.iter().map(|p| segments(p)).collect(),
                        target: resolve(&r.api, &r.stage)?,
                        strip_base_path: r.strip_base_path,
                    })
                })
                .collect();
            let rt = DomainRt {
                name: d.name.as_str().into(),
                strict: d.access_mode == EndpointAccessMode::Strict,
                truststore: d.mutual_tls.as_ref().map(|m| m.fingerprint),
                mode: d.routing_mode,
                mappings,
                rules,
            };
            match d.name.strip_prefix("*.") {
                Some(_) => out.wildcard.push((d.name.clone(), rt)),
                None => {
                    out.exact.insert(d.name.clone(), rt);
                }
            }
        }
        out
    }

    /// The domain a host names (no port, any case): exact, then a wildcard one label up.
    pub fn get(&self, host: &str) -> Option<&DomainRt> {
        if self.exact.is_empty() && self.wildcard.is_empty() {
            return None;
        }
        let lower;
        let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = host.to_ascii_lowercase();
            &lower
        } else {
            host
        };
        if let Some(d) = self.exact.get(host) {
            return Some(d);
        }
        self.wildcard
            .iter()
            .find(|(pattern, _)| wildcard_covers(pattern, host))
            .map(|(_, d)| d)
    }
}

fn segments(base_path: &str) -> Vec<String> {
    base_path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// If `path` (starting with `/`) begins with `base`'s segments, the rest of it.
fn strip<'p>(path: &'p str, base: &[String]) -> Option<&'p str> {
    let mut rest = path;
    for seg in base {
        let after = rest.strip_prefix('/')?.strip_prefix(seg.as_str())?;
        if !(after.is_empty() || after.starts_with('/')) {
            return None;
        }
        rest = after;
    }
    Some(rest)
}

impl DomainRt {
    /// Routes a request by the domain's mode.
    pub fn route<'p>(&self, path: &'p str, headers: &HeaderMap) -> Option<Routed<'p>> {
        match self.mode {
            RoutingMode::ApiMappingOnly => self.by_mapping(path),
            RoutingMode::RoutingRuleOnly => self.by_rule(path, headers),
            RoutingMode::RoutingRuleThenApiMapping => self
                .by_rule(path, headers)
                .or_else(|| self.by_mapping(path)),
        }
    }

    fn by_mapping<'p>(&self, path: &'p str) -> Option<Routed<'p>> {
        self.mappings.iter().find_map(|(base, target)| {
            let rest = strip(path, base)?;
            Some(Routed {
                target: *target,
                rest,
                base_path_matched: matched(path, rest),
            })
        })
    }

    fn by_rule<'p>(&self, path: &'p str, headers: &HeaderMap) -> Option<Routed<'p>> {
        self.rules.iter().find_map(|rule| {
            let headers_hold = rule.headers.iter().all(|any| {
                any.iter().any(|h| {
                    headers
                        .get_all(h.name.as_str())
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .any(|v| h.glob.matches(v))
                })
            });
            if !headers_hold {
                return None;
            }
            let rest = if rule.base_paths.is_empty() {
                path
            } else {
                rule.base_paths.iter().find_map(|b| strip(path, b))?
            };
            let base_path_matched = matched(path, rest);
            Some(Routed {
                target: rule.target,
                rest: if rule.strip_base_path { rest } else { path },
                base_path_matched,
            })
        })
    }
}

/// The base path `path` lost to become `rest`, without slashes; `(none)` when nothing.
fn matched<'p>(path: &'p str, rest: &'p str) -> &'p str {
    let base = &path[..path.len() - rest.len()];
    match base.trim_matches('/') {
        "" => "(none)",
        b => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_match_whole_segments() {
        let base = segments("orders/v2");
        assert_eq!(strip("/orders/v2/items", &base), Some("/items"));
        assert_eq!(strip("/orders/v2", &base), Some(""));
        assert_eq!(strip("/orders/v22", &base), None);
        assert_eq!(strip("/orders", &base), None);
        assert_eq!(strip("/anything", &[]), Some("/anything"));
        assert_eq!(matched("/orders/v2/items", "/items"), "orders/v2");
        assert_eq!(matched("/items", "/items"), "(none)");
    }
}
