//! The models of one API ([`Models`]), compiled together once per deploy so that they can
//! `$ref` each other, and the error a broken model gives ([`ModelError`]).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::Value;

use crate::documents::{Documents, check_limits};
use crate::model::{self, Model};
use crate::refs;

/// The models of one API, compiled once per deploy. `Send + Sync` on native targets.
#[derive(Debug, Default)]
pub struct Models {
    by_name: HashMap<String, Model>,
    /// Every document a model may reach, the models themselves included (`$ref`s rewritten).
    store: Documents,
    /// The models as a validator component prepares them, derived from `store` the first time
    /// [`Models::portable`] is asked (only APIs with a `model_validator` ever ask).
    portable: OnceLock<PortableSet>,
}

/// Every model's component form, and the documents as JSON text.
#[derive(Debug)]
struct PortableSet {
    /// (id, schema text) by model name.
    models: HashMap<String, (u64, String)>,
    documents: Vec<(String, String)>,
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
        let store = Documents::new(store);

        let mut by_name = HashMap::with_capacity(compiled.len());
        for (name, url, schema) in compiled {
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
                store,
                portable: OnceLock::new(),
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
        let set = self.portable.get_or_init(|| self.portable_set());
        set.models.get(name).map(|(id, schema)| Portable {
            id: *id,
            schema,
            documents: &set.documents,
        })
    }

    fn portable_set(&self) -> PortableSet {
        let hash = |v: &dyn Fn(&mut std::hash::DefaultHasher)| {
            let mut hasher = std::hash::DefaultHasher::new();
            v(&mut hasher);
            std::hash::Hasher::finish(&hasher)
        };
        let mut documents: Vec<(String, String)> = self
            .store
            .iter()
            .map(|(url, doc)| (url.to_owned(), doc.to_string()))
            .collect();
        documents.sort();
        let documents_hash = hash(&|h| std::hash::Hash::hash(&documents, h));
        let models = self
            .by_name
            .iter()
            .map(|(name, model)| {
                let text = model.root().to_string();
                let id = hash(&|h| std::hash::Hash::hash(&(documents_hash, &text), h));
                (name.clone(), (id, text))
            })
            .collect();
        PortableSet { models, documents }
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
