//! Route matching: a segment tree with API Gateway's priorities.
//!
//! At each level a literal child beats the `{param}` child, which beats the greedy `{proxy+}`
//! child. Matching backtracks: when the best path reaches a resource that does not define the
//! method, the next alternative is tried, so `OPTIONS /test` falls back to `/{proxy+}` when
//! `/test` only defines `POST` (AWS-validated behaviour, reference §8.5).
//!
//! Literal segments compare against the percent-decoded request segment; parameter values are
//! the raw (still encoded) segments, as API Gateway passes them on. A trailing slash is ignored.

use std::borrow::Cow;

use http::Method;
use percent_encoding::percent_decode_str;

/// Index of a route in the snapshot's route table.
pub type RouteId = u32;

/// The methods `ANY` stands for.
const ANY_COVERS: [Method; 7] = [
    Method::DELETE,
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::POST,
    Method::PUT,
];

/// The request path is not valid percent-encoded UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid percent-encoding in the request path")]
pub struct BadPath;

/// Two definitions for the same resource and method, or two variable siblings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteConflict {
    /// The same resource and method twice.
    #[error("{0} {1} is defined twice")]
    Duplicate(String, String),
    /// `/a/{x}` next to `/a/{y}` or `/a/{y+}`.
    #[error("{0}: only one variable path part is allowed among siblings")]
    VariableSibling(String),
    /// A segment after a greedy variable.
    #[error("{0}: a greedy variable must be the last segment")]
    AfterGreedy(String),
}

/// A successful match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match<'r, 'p> {
    /// The matched route.
    pub route: RouteId,
    /// Path parameters, name → raw value.
    pub params: Vec<(&'r str, &'p str)>,
}

#[derive(Debug, Default)]
struct Methods {
    exact: Vec<(Method, RouteId)>,
    any: Option<RouteId>,
}

impl Methods {
    fn get(&self, method: &Method) -> Option<RouteId> {
        self.exact
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, id)| *id)
            .or_else(|| self.any.filter(|_| ANY_COVERS.contains(method)))
    }

    fn insert(&mut self, method: &str, id: RouteId) -> bool {
        if method == "ANY" {
            return self.any.replace(id).is_none();
        }
        let Ok(m) = Method::from_bytes(method.as_bytes()) else {
            return false;
        };
        if self.exact.iter().any(|(e, _)| *e == m) {
            return false;
        }
        self.exact.push((m, id));
        true
    }
}

#[derive(Debug, Default)]
struct Node {
    /// Literal children, sorted by segment for binary search.
    literals: Vec<(Box<str>, Node)>,
    /// The `{name}` child.
    param: Option<Box<(Box<str>, Node)>>,
    /// The `{name+}` child: always a leaf.
    greedy: Option<(Box<str>, Methods)>,
    /// Methods of the resource this node is.
    methods: Methods,
}

/// The route table of one API.
#[derive(Debug, Default)]
pub struct Router {
    root: Node,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a resource path (`/pets/{id}`) and method (`GET` or `ANY`).
    pub fn insert(
        &mut self,
        resource: &str,
        method: &str,
        id: RouteId,
    ) -> Result<(), RouteConflict> {
        let segments: Vec<&str> = resource.split('/').filter(|s| !s.is_empty()).collect();
        let mut node = &mut self.root;
        for (i, seg) in segments.iter().enumerate() {
            if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if let Some(name) = inner.strip_suffix('+') {
                    if i + 1 != segments.len() {
                        return Err(RouteConflict::AfterGreedy(resource.to_owned()));
                    }
                    if node.param.is_some() {
                        return Err(RouteConflict::VariableSibling(resource.to_owned()));
                    }
                    let (existing, methods) = node
                        .greedy
                        .get_or_insert_with(|| (name.into(), Methods::default()));
                    if **existing != *name {
                        return Err(RouteConflict::VariableSibling(resource.to_owned()));
                    }
                    return if methods.insert(method, id) {
                        Ok(())
                    } else {
                        Err(RouteConflict::Duplicate(
                            method.to_owned(),
                            resource.to_owned(),
                        ))
                    };
                }
                if node.greedy.is_some() {
                    return Err(RouteConflict::VariableSibling(resource.to_owned()));
                }
                let param = node
                    .param
                    .get_or_insert_with(|| Box::new((inner.into(), Node::default())));
                if *param.0 != *inner {
                    return Err(RouteConflict::VariableSibling(resource.to_owned()));
                }
                node = &mut param.1;
            } else {
                let at = match node.literals.binary_search_by(|(s, _)| (**s).cmp(seg)) {
                    Ok(at) => at,
                    Err(at) => {
                        node.literals.insert(at, ((*seg).into(), Node::default()));
                        at
                    }
                };
                node = &mut node.literals[at].1;
            }
        }
        if node.methods.insert(method, id) {
            Ok(())
        } else {
            Err(RouteConflict::Duplicate(
                method.to_owned(),
                resource.to_owned(),
            ))
        }
    }

    /// Finds the route for `method` and `path` (the part after the stage, starting with `/` or
    /// empty). `Ok(None)` means nothing matches.
    pub fn find<'r, 'p>(
        &'r self,
        method: &Method,
        path: &'p str,
    ) -> Result<Option<Match<'r, 'p>>, BadPath> {
        let trimmed = path.strip_suffix('/').unwrap_or(path);
        let trimmed = trimmed.strip_prefix('/').unwrap_or(trimmed);
        let mut segments: Vec<(&'p str, Cow<'p, str>)> = Vec::new();
        if !trimmed.is_empty() {
            for seg in trimmed.split('/') {
                segments.push((seg, decode_segment(seg)?));
            }
        }
        let mut params = Vec::new();
        let found = find(&self.root, method, trimmed, &segments, 0, &mut params);
        Ok(found.map(|route| Match { route, params }))
    }
}

fn find<'r, 'p>(
    node: &'r Node,
    method: &Method,
    rest_of: &'p str,
    segments: &[(&'p str, Cow<'p, str>)],
    i: usize,
    params: &mut Vec<(&'r str, &'p str)>,
) -> Option<RouteId> {
    let Some((raw, decoded)) = segments.get(i) else {
        return node.methods.get(method);
    };
    if let Ok(at) = node.literals.binary_search_by(|(s, _)| (**s).cmp(decoded))
        && let Some(id) = find(
            &node.literals[at].1,
            method,
            rest_of,
            segments,
            i + 1,
            params,
        )
    {
        return Some(id);
    }
    if let Some(param) = &node.param
        && !raw.is_empty()
    {
        params.push((&param.0, raw));
        if let Some(id) = find(&param.1, method, rest_of, segments, i + 1, params) {
            return Some(id);
        }
        params.pop();
    }
    if let Some((name, methods)) = &node.greedy
        && let Some(id) = methods.get(method)
    {
        // The greedy value is the raw remainder of the path, double slashes included.
        let offset = raw.as_ptr() as usize - rest_of.as_ptr() as usize;
        params.push((name, &rest_of[offset..]));
        return Some(id);
    }
    None
}

/// Percent-decodes one path segment, rejecting malformed escapes and invalid UTF-8.
pub fn decode_segment(seg: &str) -> Result<Cow<'_, str>, BadPath> {
    if !seg.contains('%') {
        return Ok(Cow::Borrowed(seg));
    }
    if !escapes_well_formed(seg) {
        return Err(BadPath);
    }
    percent_decode_str(seg).decode_utf8().map_err(|_| BadPath)
}

/// Whether every `%` starts a `%XX` escape. `percent_decode_str` passes a malformed escape
/// (`%zz`, a trailing `%2`) through as text; API Gateway rejects the request instead.
fn escapes_well_formed(seg: &str) -> bool {
    seg.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let mut r = Router::new();
        for (i, (path, method)) in routes.iter().enumerate() {
            r.insert(path, method, i as RouteId).unwrap();
        }
        r
    }

    fn hit(r: &Router, method: Method, path: &str) -> Option<(RouteId, Vec<(String, String)>)> {
        r.find(&method, path).unwrap().map(|m| {
            (
                m.route,
                m.params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        })
    }

    #[test]
    fn literal_beats_param_beats_greedy() {
        let r = router(&[
            ("/part1/hardcoded-value", "GET"),
            ("/part1/{param+}", "GET"),
            ("/part1", "GET"),
            ("/pets/{id}", "GET"),
            ("/pets/mine", "GET"),
        ]);
        assert_eq!(hit(&r, Method::GET, "/part1/hardcoded-value").unwrap().0, 0);
        let (id, params) = hit(&r, Method::GET, "/part1/random/value").unwrap();
        assert_eq!(
            (id, params),
            (1, vec![("param".into(), "random/value".into())])
        );
        assert_eq!(hit(&r, Method::GET, "/part1").unwrap().0, 2);
        assert_eq!(hit(&r, Method::GET, "/part1/").unwrap().0, 2);
        assert_eq!(hit(&r, Method::GET, "/pets/mine").unwrap().0, 4);
        assert_eq!(
            hit(&r, Method::GET, "/pets/7").unwrap().1,
            vec![("id".into(), "7".into())]
        );
        assert!(hit(&r, Method::GET, "/pets").is_none());
        assert!(hit(&r, Method::GET, "/pets/7/x").is_none());
    }

    #[test]
    fn method_falls_back_to_greedy() {
        let r = router(&[
            ("/test", "POST"),
            ("/{proxy+}", "OPTIONS"),
            ("/test/any", "ANY"),
        ]);
        assert_eq!(hit(&r, Method::OPTIONS, "/test").unwrap().0, 1);
        assert_eq!(hit(&r, Method::POST, "/test").unwrap().0, 0);
        assert_eq!(hit(&r, Method::GET, "/test/any").unwrap().0, 2);
        assert_eq!(hit(&r, Method::OPTIONS, "/test/any").unwrap().0, 2);
        assert!(hit(&r, Method::GET, "/test").is_none());
        assert!(hit(&r, Method::TRACE, "/test/any").is_none());
        assert!(hit(&r, Method::GET, "/").is_none());
    }

    #[test]
    fn greedy_keeps_raw_remainder() {
        let r = router(&[("/{proxy+}", "ANY"), ("/", "GET")]);
        assert_eq!(
            hit(&r, Method::GET, "/proxy-value//double%2Fslash")
                .unwrap()
                .1,
            vec![("proxy".into(), "proxy-value//double%2Fslash".into())]
        );
        assert_eq!(hit(&r, Method::GET, "").unwrap().0, 1);
        assert_eq!(hit(&r, Method::GET, "/").unwrap().0, 1);
    }

    #[test]
    fn literal_matches_decoded_segment() {
        let r = router(&[("/a b", "GET")]);
        assert!(hit(&r, Method::GET, "/a%20b").is_some());
        assert_eq!(r.find(&Method::GET, "/a%zz"), Err(BadPath));
        assert_eq!(r.find(&Method::GET, "/a%ff"), Err(BadPath));
        assert_eq!(r.find(&Method::GET, "/a%2"), Err(BadPath));
    }

    #[test]
    fn decoding_rejects_what_it_cannot_read() {
        assert_eq!(decode_segment("plain"), Ok(Cow::Borrowed("plain")));
        assert_eq!(decode_segment("%41%2fb%C3%A9").as_deref(), Ok("A/bé"));
        assert_eq!(decode_segment("100%25").as_deref(), Ok("100%"));
        for bad in ["%", "%%41", "a%2", "%zz", "%4g", "%ff", "%C3%28", "%C3"] {
            assert_eq!(decode_segment(bad), Err(BadPath), "{bad}");
        }
    }

    #[test]
    fn conflicts_are_reported() {
        let mut r = router(&[("/a/{x}", "GET")]);
        assert!(matches!(
            r.insert("/a/{y}", "GET", 9),
            Err(RouteConflict::VariableSibling(_))
        ));
        assert!(matches!(
            r.insert("/a/{y+}", "GET", 9),
            Err(RouteConflict::VariableSibling(_))
        ));
        assert!(matches!(
            r.insert("/a/{x}", "GET", 9),
            Err(RouteConflict::Duplicate(..))
        ));
    }
}
