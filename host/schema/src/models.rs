//! The models of one API ([`Models`]), compiled together once per deploy so that they can
//! `$ref` each other, and the error a broken model gives ([`ModelError`]).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::documents::{Documents, check_limits};
use crate::model::{self, Model};
use crate::refs;

/// The models of one API, compiled once per deploy. `Send + Sync` on native targets.
#[derive(Debug, Default)]
pub struct Models {
    by_name: HashMap<String, Model>,
    /// Each model as a validator component prepares it (see [`Models::portable`]).
    portable: HashMap<String, PortableModel>,
    /// Every document a model may reach, by URL, as JSON text.
    documents: Vec<(String, String)>,
}

/// A model's component form, owned.
#[derive(Debug)]
struct PortableModel {
    id: u64,
    schema: String,
}

/// One model in the form a `model-validator` component takes: its `$ref`s rewritten to
/// absolute URLs, as JSON text, under an id that changes whenever it or a document changes.
#[derive(Debug, Clone)]
pub struct Portable<'a> {
    /// The id a component keeps its compiled form under.
    pub id: u64,
    /// The schema, `$ref`s rewritten, as JSON text.
    pub schema: &'a str,
    /// Every document (the API's other models included) its `$ref`s may reach: (URL, JSON).
    pub documents: &'a [(String, String)],
}

/// A model that does not compile: its name and the reason (a `portico check` error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model {model}: {message}")]
pub struct ModelError {
    /// The model's name.
    pub model: String,
    /// Why it does not compile.
    pub message: String,
}

impl Models {
    /// Compiles `models`: (model name, schema JSON) pairs of one API (OpenAPI 3
    /// `components.schemas`, Swagger 2 `definitions`).
    ///
    /// `api_id` names the API in AWS's model URLs: a `$ref` may be
    /// `https://apigateway.amazonaws.com/restapis/{api_id}/models/{Name}` (any api id is accepted in
    /// that form, since AWS exports carry the original id), `#/components/schemas/{Name}` or
    /// `#/definitions/{Name}` (see [`crate::refs`]). `documents` are extra documents reachable by
    /// absolute `$ref` URL (e.g. remote refs the caller fetched); an unknown remote ref is a compile
    /// error, never a network call.
    ///
    /// Returns the error of the first broken model, in input order; [`Models::compile_all`]
    /// reports every broken model.
    pub fn compile(
        api_id: &str,
        models: &[(String, Value)],
        documents: &[(String, Value)],
    ) -> Result<Models, ModelError> {
        Models::compile_all(api_id, models, documents).map_err(|mut errors| errors.remove(0))
    }

    /// Like [`Models::compile`], but `Err` lists one [`ModelError`] per broken model (never
    /// empty), in input order. A broken supplied document is reported under its URL.
    pub fn compile_all(
        api_id: &str,
        models: &[(String, Value)],
        documents: &[(String, Value)],
    ) -> Result<Models, Vec<ModelError>> {
        let mut errors = Vec::new();
        let mut names = HashSet::new();
        for (name, schema) in models {
            if !names.insert(name.as_str()) {
                errors.push(error(name, "defined more than once".into()));
            } else if let Err(e) = check_limits(schema) {
                errors.push(error(name, e.to_string()));
            }
        }
        for (url, doc) in documents {
            if let Err(e) = check_limits(doc) {
                errors.push(error(url, e.to_string()));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let mut store: HashMap<String, Value> = documents.iter().cloned().collect();
        let mut compiled = Vec::with_capacity(models.len());
        for (name, schema) in models {
            let mut schema = schema.clone();
            refs::rewrite(&mut schema, api_id, &names);
            let url = refs::model_url(api_id, name);
            store.insert(url.clone(), schema.clone());
            compiled.push((name, url, schema));
        }
        let documents: Vec<(String, String)> = {
            let mut docs: Vec<(String, String)> = store
                .iter()
                .map(|(u, d)| (u.clone(), d.to_string()))
                .collect();
            docs.sort();
            docs
        };
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&documents, &mut hasher);
        let documents_hash = std::hash::Hasher::finish(&hasher);
        let store = Documents::new(store);
        let mut portable = HashMap::with_capacity(compiled.len());

        let mut by_name = HashMap::with_capacity(compiled.len());
        for (name, url, schema) in compiled {
            let text = schema.to_string();
            let mut hasher = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(&(documents_hash, &text), &mut hasher);
            portable.insert(
                name.clone(),
                PortableModel {
                    id: std::hash::Hasher::finish(&hasher),
                    schema: text,
                },
            );
            match model::build(schema, Some(&url), store.clone()) {
                Ok(model) => {
                    by_name.insert(name.clone(), model);
                }
                Err(message) => errors.push(error(name, message)),
            }
        }
        if errors.is_empty() {
            Ok(Models {
                by_name,
                portable,
                documents,
            })
        } else {
            Err(errors)
        }
    }

    /// The compiled model `name`, if the API has one.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Model> {
        self.by_name.get(name)
    }

    /// Model `name` as a `model-validator` component prepares it, if the API has it.
    #[must_use]
    pub fn portable(&self, name: &str) -> Option<Portable<'_>> {
        self.portable.get(name).map(|p| Portable {
            id: p.id,
            schema: &p.schema,
            documents: &self.documents,
        })
    }

    /// How many models the API has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether the API has no model.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

fn error(model: &str, message: String) -> ModelError {
    ModelError {
        model: model.to_owned(),
        message,
    }
}
