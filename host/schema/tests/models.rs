//! AWS-style models: the three `$ref` forms between models, supplied remote documents, broken
//! schemas' errors, body parsing, and the exact `validationErrorString` text of each keyword.

use portico_schema::{Model, ModelError, Models, compile_schema};
use serde_json::{Value, json};

fn models(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(n, s)| ((*n).to_owned(), s.clone()))
        .collect()
}

fn one(schema: Value) -> Model {
    compile_schema(&schema, &[]).expect("schema compiles")
}

fn error(schema: Value, body: Value) -> String {
    one(schema).validate(&body).expect_err("body is invalid")
}

#[test]
fn models_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Models>();
    assert_send_sync::<Model>();
}

#[test]
fn aws_url_ref_with_any_api_id() {
    let compiled = Models::compile(
        "abc123",
        &models(&[
            ("Tag", json!({"type": "string", "minLength": 2})),
            (
                "Pet",
                json!({
                    "type": "object",
                    "properties": {
                        "tag": {"$ref": "https://apigateway.amazonaws.com/restapis/abc123/models/Tag"},
                        "old": {"$ref": "https://apigateway.amazonaws.com/restapis/exported9/models/Tag"}
                    }
                }),
            ),
        ]),
        &[],
    )
    .expect("models compile");
    let pet = compiled.get("Pet").expect("Pet");
    assert_eq!(pet.validate(&json!({"tag": "ok", "old": "ok"})), Ok(()));
    assert_eq!(
        pet.validate(&json!({"tag": "x"})),
        Err(r#"[string "x" is too short (length: 1, required minimum: 2)]"#.into())
    );
    assert_eq!(
        pet.validate(&json!({"old": 1})),
        Err(r#"[instance type (integer) does not match any allowed primitive type (allowed: ["string"])]"#.into())
    );
    assert!(compiled.get("Nope").is_none());
}

#[test]
fn openapi_and_swagger_refs_and_chains() {
    let compiled = Models::compile(
        "api",
        &models(&[
            ("Name", json!({"type": "string"})),
            (
                "Owner",
                json!({"type": "object", "required": ["name"], "properties": {"name": {"$ref": "#/definitions/Name"}}}),
            ),
            (
                "Pet",
                json!({
                    "type": "object",
                    "required": ["owner"],
                    "properties": {
                        "owner": {"$ref": "#/components/schemas/Owner"},
                        "friends": {"type": "array", "items": {"$ref": "#/definitions/Pet"}},
                        "ownerName": {"$ref": "#/components/schemas/Owner/properties/name"}
                    }
                }),
            ),
        ]),
        &[],
    )
    .expect("models compile");
    let pet = compiled.get("Pet").expect("Pet");
    assert_eq!(
        pet.validate(&json!({"owner": {"name": "a"}, "friends": [{"owner": {"name": "b"}}]})),
        Ok(())
    );
    assert_eq!(
        pet.validate(&json!({"owner": {}})),
        Err(r#"[object has missing required properties (["name"])]"#.into())
    );
    assert_eq!(
        pet.validate(&json!({"owner": {"name": "a"}, "friends": [{}]})),
        Err(r#"[object has missing required properties (["owner"])]"#.into())
    );
    assert_eq!(
        pet.validate(&json!({"owner": {"name": "a"}, "ownerName": 3})),
        Err(r#"[instance type (integer) does not match any allowed primitive type (allowed: ["string"])]"#.into())
    );
}

#[test]
fn a_model_with_its_own_definitions_keeps_them_local() {
    let compiled = Models::compile(
        "api",
        &models(&[
            ("Name", json!({"type": "integer"})),
            (
                "Pet",
                json!({"definitions": {"Name": {"type": "string"}}, "$ref": "#/definitions/Name"}),
            ),
        ]),
        &[],
    )
    .expect("models compile");
    assert_eq!(
        compiled.get("Pet").expect("Pet").validate(&json!("x")),
        Ok(())
    );
}

#[test]
fn supplied_documents_and_unknown_remote_refs() {
    let docs = vec![(
        "https://example.com/s.json".to_owned(),
        json!({"definitions": {"n": {"type": "integer"}}}),
    )];
    let compiled = Models::compile(
        "api",
        &models(&[(
            "M",
            json!({"$ref": "https://example.com/s.json#/definitions/n"}),
        )]),
        &docs,
    )
    .expect("models compile");
    assert!(compiled.get("M").expect("M").validate(&json!("x")).is_err());

    let err = Models::compile(
        "api",
        &models(&[("M", json!({"$ref": "https://example.com/other.json"}))]),
        &[],
    )
    .expect_err("unknown remote ref");
    assert_eq!(err.model, "M");
    assert!(
        err.message
            .contains("unknown remote reference https://example.com/other.json"),
        "{err}"
    );
}

#[test]
fn broken_schemas_name_the_model() {
    let err = Models::compile(
        "api",
        &models(&[
            ("Good", json!({"type": "string"})),
            ("Bad", json!({"type": "strng"})),
        ]),
        &[],
    )
    .expect_err("broken model");
    assert_eq!(err.model, "Bad");
    assert!(
        err.to_string().starts_with("model Bad: invalid schema: "),
        "{err}"
    );
    assert!(err.message.contains("(at /type)"), "{err}");

    let errors = Models::compile_all(
        "api",
        &models(&[
            ("A", json!({"minLength": -1})),
            ("B", json!({"$ref": "#/definitions/Missing"})),
        ]),
        &[],
    )
    .expect_err("two broken models");
    let names: Vec<&str> = errors
        .iter()
        .map(|e: &ModelError| e.model.as_str())
        .collect();
    assert_eq!(names, ["A", "B"]);

    let err = Models::compile("api", &models(&[("A", json!({})), ("A", json!({}))]), &[])
        .expect_err("duplicate");
    assert_eq!(err.to_string(), "model A: defined more than once");
}

#[test]
fn body_bytes() {
    let model = one(json!({"type": "object", "required": ["a"]}));
    let missing = Err(r#"[object has missing required properties (["a"])]"#.to_owned());
    assert_eq!(model.validate_bytes(b""), missing);
    assert_eq!(model.validate_bytes(b"  \n"), missing);
    assert_eq!(
        one(json!({"type": "object"})).validate_bytes(b""),
        Ok(json!({}))
    );
    assert_eq!(model.validate_bytes(br#"{"a": 1}"#), Ok(json!({"a": 1})));
    let err = model.validate_bytes(b"<xml/>").expect_err("not JSON");
    assert!(err.starts_with("[Invalid JSON in request body: "), "{err}");
}

#[test]
fn texts_required_and_type() {
    assert_eq!(
        error(
            json!({"required": ["name", "age", "id"]}),
            json!({"age": 1})
        ),
        r#"[object has missing required properties (["name","id"])]"#
    );
    assert_eq!(
        error(json!({"type": "string"}), json!(1)),
        r#"[instance type (integer) does not match any allowed primitive type (allowed: ["string"])]"#
    );
    assert_eq!(
        error(json!({"type": "number"}), json!("1")),
        r#"[instance type (string) does not match any allowed primitive type (allowed: ["integer","number"])]"#
    );
    assert_eq!(
        error(json!({"type": ["string", "null"]}), json!(1.5)),
        r#"[instance type (number) does not match any allowed primitive type (allowed: ["null","string"])]"#
    );
}

#[test]
fn texts_enum_strings_and_pattern() {
    assert_eq!(
        error(json!({"enum": ["a", "b"]}), json!("x")),
        r#"[instance value ("x") not found in enum (possible values: ["a","b"])]"#
    );
    assert_eq!(
        error(json!({"minLength": 5}), json!("abc")),
        r#"[string "abc" is too short (length: 3, required minimum: 5)]"#
    );
    assert_eq!(
        error(json!({"maxLength": 2}), json!("abc")),
        r#"[string "abc" is too long (length: 3, maximum allowed: 2)]"#
    );
    assert_eq!(
        error(json!({"pattern": "^[a-z]+$"}), json!("A1")),
        r#"[ECMA 262 regex "^[a-z]+$" does not match input string "A1"]"#
    );
}

#[test]
fn texts_numbers() {
    assert_eq!(
        error(json!({"maximum": 10}), json!(11)),
        "[numeric instance is greater than the required maximum (maximum: 10, found: 11)]"
    );
    assert_eq!(
        error(json!({"minimum": 5}), json!(4.5)),
        "[numeric instance is lower than the required minimum (minimum: 5, found: 4.5)]"
    );
    assert_eq!(
        error(json!({"maximum": 10, "exclusiveMaximum": true}), json!(10)),
        "[numeric instance is not strictly lower than the required maximum 10]"
    );
    assert_eq!(
        error(json!({"minimum": 5, "exclusiveMinimum": true}), json!(5)),
        "[numeric instance is not strictly greater than the required minimum 5]"
    );
    assert_eq!(
        error(json!({"multipleOf": 2}), json!(7)),
        "[remainder of division is not zero (7 / 2)]"
    );
}

#[test]
fn texts_arrays() {
    assert_eq!(
        error(json!({"minItems": 2}), json!([1])),
        "[array is too short: must have at least 2 elements but instance has 1 elements]"
    );
    assert_eq!(
        error(json!({"maxItems": 1}), json!([1, 2])),
        "[array is too long: must have at most 1 elements but instance has 2 elements]"
    );
    assert_eq!(
        error(json!({"uniqueItems": true}), json!([1, 1])),
        "[array must not contain duplicate elements]"
    );
    assert_eq!(
        error(
            json!({"items": [{}], "additionalItems": false}),
            json!([1, 2])
        ),
        "[schema only allows 1 elements in array but instance has 2 elements]"
    );
}

#[test]
fn texts_objects() {
    assert_eq!(
        error(
            json!({"properties": {"a": {}}, "additionalProperties": false}),
            json!({"z": 1, "a": 1, "b": 2})
        ),
        r#"[object instance has properties which are not allowed by the schema: ["b","z"]]"#
    );
    assert_eq!(
        error(json!({"minProperties": 1}), json!({})),
        "[object has too few properties (found 0 but schema requires at least 1)]"
    );
    assert_eq!(
        error(json!({"maxProperties": 1}), json!({"a": 1, "b": 2})),
        "[object has too many properties (found 2 but schema requires at most 1)]"
    );
    assert_eq!(
        error(
            json!({"dependencies": {"a": ["b", "c"]}}),
            json!({"a": 1, "b": 2})
        ),
        r#"[property "a" of object has missing property dependencies (schema requires ["b","c"]; missing: ["c"])]"#
    );
}

#[test]
fn texts_combinators() {
    assert_eq!(
        error(
            json!({"allOf": [{"type": "string"}, {"minimum": 1}, {"maximum": 2}]}),
            json!(5)
        ),
        "[instance failed to match all required schemas (matched only 1 out of 3)]"
    );
    assert_eq!(
        error(
            json!({"anyOf": [{"type": "string"}, {"type": "boolean"}]}),
            json!(5)
        ),
        "[instance failed to match at least one required schema among 2]"
    );
    assert_eq!(
        error(
            json!({"oneOf": [{"type": "string"}, {"type": "boolean"}]}),
            json!(5)
        ),
        "[instance failed to match exactly one schema (matched 0 out of 2)]"
    );
    assert_eq!(
        error(
            json!({"oneOf": [{"type": "integer"}, {"minimum": 2}, {"type": "string"}]}),
            json!(3)
        ),
        "[instance failed to match exactly one schema (matched 2 out of 3)]"
    );
    assert_eq!(
        error(json!({"not": {"type": "integer"}}), json!(5)),
        "[instance matched a schema which it should not have]"
    );
}

#[test]
fn texts_all_of_behind_a_model_ref() {
    let compiled = Models::compile(
        "api",
        &models(&[
            (
                "Both",
                json!({"allOf": [{"required": ["a"]}, {"required": ["b"]}]}),
            ),
            (
                "Outer",
                json!({"properties": {"x": {"$ref": "#/definitions/Both"}}}),
            ),
        ]),
        &[],
    )
    .expect("models compile");
    assert_eq!(
        compiled
            .get("Outer")
            .expect("Outer")
            .validate(&json!({"x": {}})),
        Err("[instance failed to match all required schemas (matched only 0 out of 2)]".into())
    );
}

#[test]
fn texts_formats() {
    let format = |name: &str, value: &str| error(json!({"format": name}), json!(value));
    assert_eq!(
        format("date-time", "2020-13-01"),
        r#"[string "2020-13-01" is invalid against requested date format(s) ["yyyy-MM-dd'T'HH:mm:ssZ","yyyy-MM-dd'T'HH:mm:ss.[0-9]{1,12}Z"]]"#
    );
    assert_eq!(
        format("email", "nope"),
        r#"[string "nope" is not a valid email address]"#
    );
    assert_eq!(
        format("hostname", "-bad-"),
        r#"[string "-bad-" is not a valid hostname]"#
    );
    assert_eq!(
        format("ipv4", "1.2.3"),
        r#"[string "1.2.3" is not a valid IPv4 address]"#
    );
    assert_eq!(
        format("ipv6", "::g"),
        r#"[string "::g" is not a valid IPv6 address]"#
    );
    assert_eq!(
        format("uri", "not a uri"),
        r#"[string "not a uri" is not a valid URI]"#
    );
    // Formats fge does not know for draft 4 are not asserted.
    assert_eq!(one(json!({"format": "date"})).validate(&json!("x")), Ok(()));
    assert_eq!(one(json!({"format": "uuid"})).validate(&json!("x")), Ok(()));
    assert_eq!(
        one(json!({"format": "date-time"})).validate(&json!("2020-01-01T00:00:00Z")),
        Ok(())
    );
}

#[test]
fn several_errors_are_one_list() {
    let schema = json!({
        "type": "object",
        "required": ["name"],
        "properties": {"age": {"type": "integer", "minimum": 0}}
    });
    assert_eq!(
        error(schema, json!({"age": -1})),
        r#"[object has missing required properties (["name"]), numeric instance is lower than the required minimum (minimum: 0, found: -1)]"#
    );
}
