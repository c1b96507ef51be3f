//! Resource paths, the keys of `paths`: which shapes API Gateway accepts (`/`, literal
//! segments, `{param}`, a last `{greedy+}`), the one-variable-child-per-resource rule, and the
//! path parameters a resource declares.

use std::collections::{BTreeSet, HashMap};

use super::context::Cx;
use crate::diag::DocPath;

/// Validates a resource path: `/`, literal segments, `{param}`, and a last `{greedy+}`.
pub(super) fn resource_path_ok(cx: &mut Cx<'_>, path: &DocPath, resource: &str) -> bool {
    if !resource.starts_with('/') {
        cx.error(path, "a resource path must start with /");
        return false;
    }
    if resource == "/" {
        return true;
    }
    let segments: Vec<&str> = resource[1..].split('/').collect();
    let mut names = BTreeSet::new();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            cx.error(
                path,
                "a resource path may not contain an empty segment or end with /",
            );
            return false;
        }
        if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                cx.error(path, format!("invalid path parameter name in {seg}"));
                return false;
            }
            if greedy && i + 1 != segments.len() {
                cx.error(
                    path,
                    format!(
                        "Cannot create a child of a resource with a greedy path variable: {seg}"
                    ),
                );
                return false;
            }
            if !names.insert(name) {
                cx.error(path, format!("path parameter {name} appears twice"));
                return false;
            }
        } else if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.,:@~".contains(&b))
        {
            cx.error(
                path,
                format!("segment {seg:?}: a literal segment may only hold letters, digits and _ - . , : @ ~; a parameter must be a whole segment"),
            );
            return false;
        }
    }
    true
}

/// AWS allows one variable child per resource: `/a/{x}` and `/a/{y+}` cannot both exist.
#[derive(Default)]
pub(super) struct SiblingCheck {
    /// Parent prefix (variables normalised) → the variable child seen there.
    seen: HashMap<String, String>,
}

impl SiblingCheck {
    /// Records `resource`, reporting a second variable child under the same parent.
    pub(super) fn add(&mut self, cx: &mut Cx<'_>, path: &DocPath, resource: &str) {
        let mut prefix = String::new();
        for seg in resource.split('/').skip(1).filter(|s| !s.is_empty()) {
            if seg.starts_with('{') {
                match self.seen.get(&prefix) {
                    Some(existing) if existing != seg => cx.error(
                        path,
                        format!("A sibling ({existing}) of this resource already has a variable path part -- only one is allowed"),
                    ),
                    Some(_) => {}
                    None => {
                        self.seen.insert(prefix.clone(), seg.to_owned());
                    }
                }
                prefix.push_str("/{}");
            } else {
                prefix.push('/');
                prefix.push_str(seg);
            }
        }
    }
}

/// Path parameter names of a resource path.
pub(super) fn path_params(resource: &str) -> Vec<&str> {
    resource
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|s| s.trim_end_matches('+'))
        .collect()
}
