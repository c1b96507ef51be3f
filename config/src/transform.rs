//! The body transformations of non-proxy integrations, as configured: mapping templates (VTL,
//! parsed once here by `portico-vtl`), their selection by content type, `passthroughBehavior`,
//! `contentHandling` and the API's `binaryMediaTypes`.
//!
//! The rules are AWS's (reference §6.6 and §8.9); the proxy only applies the choices these
//! functions make.

use std::collections::BTreeMap;
use std::sync::Arc;

/// A mapping template: its source, and the engine's parse of it.
#[derive(Clone)]
pub struct MappingTemplate {
    /// A hash of the source: the id a template-engine component keeps its parse under.
    pub id: u64,
    /// The template text, as written.
    pub source: Arc<str>,
    /// Parsed once, when the configuration is read.
    pub parsed: Arc<portico_vtl::Template>,
}

impl std::fmt::Debug for MappingTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappingTemplate")
            .field("bytes", &self.source.len())
            .finish()
    }
}

impl MappingTemplate {
    /// Parses `source`; `Err` is `line L, column C: message`.
    pub fn parse(source: &str) -> Result<Self, String> {
        let parsed = portico_vtl::Template::parse(source).map_err(|e| e.to_string())?;
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(source, &mut hasher);
        Ok(Self {
            id: std::hash::Hasher::finish(&hasher),
            source: source.into(),
            parsed: Arc::new(parsed),
        })
    }
}

/// Templates by content type (lower-cased MIME type).
pub type Templates = BTreeMap<String, MappingTemplate>;

/// `passthroughBehavior`: what happens to a request body no template matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Passthrough {
    /// `WHEN_NO_MATCH` (the default): pass it through as is.
    #[default]
    WhenNoMatch,
    /// `WHEN_NO_TEMPLATES`: pass it through only when no template is defined at all; else 415.
    WhenNoTemplates,
    /// `NEVER`: 415 unless a template matches.
    Never,
}

impl Passthrough {
    /// Parses AWS's spelling, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "when_no_match" => Some(Self::WhenNoMatch),
            "when_no_templates" => Some(Self::WhenNoTemplates),
            "never" => Some(Self::Never),
            _ => None,
        }
    }
}

/// `contentHandling`: converting a payload between text and binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentHandling {
    /// Base64-decode a text payload into bytes.
    ConvertToBinary,
    /// Base64-encode a binary payload into text.
    ConvertToText,
}

impl ContentHandling {
    /// Parses `CONVERT_TO_BINARY` / `CONVERT_TO_TEXT`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CONVERT_TO_BINARY" => Some(Self::ConvertToBinary),
            "CONVERT_TO_TEXT" => Some(Self::ConvertToText),
            _ => None,
        }
    }
}

/// What to do with a request body, as §6.6's table decides.
#[derive(Debug, Clone, Copy)]
pub enum RequestMapping<'t> {
    /// Render this template.
    Transform(&'t MappingTemplate),
    /// Send the body as it came.
    PassThrough,
    /// Answer 415 `{"message":"Unsupported Media Type"}`.
    Unsupported,
}

/// The MIME type of a `Content-Type` or `Accept` value: parameters dropped, lower-cased.
pub fn mime_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Chooses the request template by the request's `Content-Type` (MIME type only; absent means
/// `application/json`), then applies `passthroughBehavior`.
pub fn request_mapping<'t>(
    templates: &'t Templates,
    passthrough: Passthrough,
    content_type: Option<&str>,
) -> RequestMapping<'t> {
    let ct = content_type.map_or_else(|| "application/json".to_owned(), mime_type);
    if let Some(t) = templates.get(&ct) {
        return RequestMapping::Transform(t);
    }
    match passthrough {
        Passthrough::WhenNoMatch => RequestMapping::PassThrough,
        Passthrough::WhenNoTemplates if templates.is_empty() => RequestMapping::PassThrough,
        Passthrough::WhenNoTemplates | Passthrough::Never => RequestMapping::Unsupported,
    }
}

/// Chooses the response template by the first type of the request's `Accept` (absent means
/// `application/json`): that type's template, else `application/json`'s, else the first one
/// defined. `None` when there are no templates (the body passes through).
pub fn response_template<'t>(
    templates: &'t Templates,
    accept: Option<&str>,
) -> Option<(&'t str, &'t MappingTemplate)> {
    let first = accept
        .and_then(|a| a.split(',').next())
        .map(mime_type)
        .filter(|t| !t.is_empty());
    first
        .as_deref()
        .and_then(|t| templates.get_key_value(t))
        .or_else(|| templates.get_key_value("application/json"))
        .or_else(|| templates.iter().next())
        .map(|(k, v)| (k.as_str(), v))
}

/// The API's `binaryMediaTypes`: MIME types (`image/png`), with `*` wildcards (`image/*`,
/// `*/*`), matched case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryMediaTypes(Vec<String>);

impl BinaryMediaTypes {
    /// No binary type: every payload is text.
    pub const EMPTY: Self = Self(Vec::new());

    /// The types, as the document lists them. AWS's exports escape `/` as `~1`; both spellings
    /// are accepted.
    pub fn new(types: impl IntoIterator<Item = String>) -> Self {
        Self(
            types
                .into_iter()
                .map(|t| t.replace("~1", "/").to_ascii_lowercase())
                .collect(),
        )
    }

    /// True when no binary type is declared (every payload is text).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when a `Content-Type` or (first) `Accept` value names a binary type.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else { return false };
        let first = value.split(',').next().unwrap_or("");
        let ty = mime_type(first);
        if ty.is_empty() {
            return false;
        }
        self.0.iter().any(|pattern| glob(pattern, &ty))
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(mut remaining) = text.strip_prefix(head) else {
                return false;
            };
            if rest.is_empty() {
                return true;
            }
            loop {
                if glob(rest, remaining) {
                    return true;
                }
                let mut chars = remaining.chars();
                if chars.next().is_none() {
                    return false;
                }
                remaining = chars.as_str();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates(types: &[&str]) -> Templates {
        types
            .iter()
            .map(|t| ((*t).to_owned(), MappingTemplate::parse("x").unwrap()))
            .collect()
    }

    /// §6.6's table, row by row.
    #[test]
    fn passthrough_table() {
        use Passthrough::*;
        let json = templates(&["application/json"]);
        let xml = templates(&["application/xml"]);
        let none = templates(&[]);
        let rows: &[(&Templates, Option<&str>, [&str; 3])] = &[
            (&json, None, ["T", "T", "T"]),
            (&json, Some("application/json"), ["T", "T", "T"]),
            (&json, Some("application/xml"), ["P", "415", "415"]),
            (&xml, None, ["P", "415", "415"]),
            (&xml, Some("application/json"), ["P", "415", "415"]),
            (&xml, Some("application/xml"), ["T", "T", "T"]),
            (&none, Some("text/plain"), ["P", "P", "415"]),
            (&none, None, ["P", "P", "415"]),
        ];
        for (t, ct, expected) in rows {
            for (behaviour, want) in [WhenNoMatch, WhenNoTemplates, Never].iter().zip(expected) {
                let got = match request_mapping(t, *behaviour, *ct) {
                    RequestMapping::Transform(_) => "T",
                    RequestMapping::PassThrough => "P",
                    RequestMapping::Unsupported => "415",
                };
                assert_eq!(got, *want, "{ct:?} {behaviour:?} with {:?}", t.keys());
            }
        }
        // Parameters do not take part in the choice.
        assert!(matches!(
            request_mapping(&json, Never, Some("Application/JSON; charset=UTF-8")),
            RequestMapping::Transform(_)
        ));
    }

    #[test]
    fn response_template_follows_the_first_accept() {
        let t = templates(&["application/xml", "text/plain"]);
        assert_eq!(
            response_template(&t, Some("text/plain, application/xml"))
                .unwrap()
                .0,
            "text/plain"
        );
        // No match and no application/json: the first defined.
        assert_eq!(
            response_template(&t, Some("image/png")).unwrap().0,
            "application/xml"
        );
        let t = templates(&["application/json", "text/plain"]);
        assert_eq!(response_template(&t, None).unwrap().0, "application/json");
        assert!(response_template(&templates(&[]), None).is_none());
    }

    #[test]
    fn binary_media_types_glob() {
        let b =
            BinaryMediaTypes::new(["image~1*".to_owned(), "application/octet-stream".to_owned()]);
        assert!(b.matches(Some("image/png")));
        assert!(b.matches(Some("IMAGE/webp; q=1, text/html")));
        assert!(!b.matches(Some("text/html, image/png")));
        assert!(b.matches(Some("application/octet-stream")));
        assert!(!b.matches(None));
        assert!(BinaryMediaTypes::new(["*/*".to_owned()]).matches(Some("text/plain")));
    }
}
