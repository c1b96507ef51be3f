//! Runs every case in `tests/cases/*.yaml` against the engine: each names its `source` (the
//! AWS recording, developer-guide page or spec its expected output comes from), a `template`,
//! the request (`body`, `params`, `context`, `stage_variables`, `overrides_in`) and either the
//! exact `expected` output (plus optional `overrides`) or an `error` substring.

use std::path::Path;

use portico_vtl::{Input, Limits, Overrides, Template};
use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    source: String,
    template: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    params: Option<Json>,
    #[serde(default)]
    context: Option<Json>,
    #[serde(default)]
    stage_variables: Option<Json>,
    #[serde(default)]
    overrides_in: Option<Json>,
    #[serde(default)]
    limits: Option<Json>,
    #[serde(default)]
    expected: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    overrides: Option<Json>,
}

/// `{a: b}` or `[[a, b], ...]` as ordered pairs.
fn pairs(v: Option<&Json>) -> Vec<(String, String)> {
    let text = |v: &Json| match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    match v {
        Some(Json::Object(m)) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Some(Json::Array(a)) => a
            .iter()
            .filter_map(|p| match p {
                Json::Array(kv) if kv.len() == 2 => Some((text(&kv[0]), text(&kv[1]))),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn overrides(v: Option<&Json>) -> Overrides {
    let Some(v) = v else {
        return Overrides::default();
    };
    Overrides {
        request_header: pairs(v.get("request_header")),
        request_path: pairs(v.get("request_path")),
        request_querystring: pairs(v.get("request_querystring")),
        response_header: pairs(v.get("response_header")),
        response_status: v
            .get("response_status")
            .and_then(Json::as_u64)
            .and_then(|s| u16::try_from(s).ok()),
    }
}

fn limits(v: Option<&Json>) -> Limits {
    let mut l = Limits::default();
    if let Some(v) = v {
        let get = |k: &str| v.get(k).and_then(Json::as_u64);
        if let Some(n) = get("max_foreach") {
            l.max_foreach = n as usize;
        }
        if let Some(n) = get("max_macro_depth") {
            l.max_macro_depth = n as usize;
        }
        if let Some(n) = get("max_output_bytes") {
            l.max_output_bytes = n as usize;
        }
        if let Some(n) = get("max_steps") {
            l.max_steps = n;
        }
    }
    l
}

/// Runs one case; `Err` describes the failure.
fn run(case: &Case) -> Result<(), String> {
    let params = case.params.as_ref();
    let path = pairs(params.and_then(|p| p.get("path")));
    let querystring = pairs(params.and_then(|p| p.get("querystring")));
    let header = pairs(params.and_then(|p| p.get("header")));
    let stage = pairs(case.stage_variables.as_ref());
    let context = case
        .context
        .clone()
        .unwrap_or_else(|| Json::Object(Default::default()));
    let input = Input {
        body: &case.body,
        body_json: None,
        path: &path,
        querystring: &querystring,
        header: &header,
        context: &context,
        stage_variables: &stage,
        overrides: overrides(case.overrides_in.as_ref()),
        limits: limits(case.limits.as_ref()),
    };
    let render = |input: &Input<'_>| {
        Template::parse(&case.template)
            .map_err(|e| format!("parse error: {e}"))
            .and_then(|t| t.render(input).map_err(|e| format!("render error: {e}")))
    };
    let result = render(&input);
    // The same case with the body parsed beforehand, as the gateway hands over a body its
    // request validator parsed: the outcome must be the same.
    let parsed = if case.body.trim().is_empty() {
        Some(Json::Object(Default::default()))
    } else {
        serde_json::from_str::<Json>(&case.body).ok()
    };
    if let Some(parsed) = &parsed {
        let again = render(&Input {
            body_json: Some(parsed),
            ..input.clone()
        });
        if again != result {
            return Err(format!(
                "with the body parsed beforehand:\n{again:?}\nparsed by the template:\n{result:?}"
            ));
        }
    }
    match (&case.expected, &case.error, result) {
        (Some(want), _, Ok(got)) => {
            if got.body != *want {
                return Err(format!(
                    "expected:\n{want:?}\nactual:\n{:?}\n--- expected (raw) ---\n{want}\n--- actual (raw) ---\n{}",
                    got.body, got.body
                ));
            }
            if let Some(o) = &case.overrides {
                let want = overrides(Some(o));
                if got.overrides != want {
                    return Err(format!(
                        "expected overrides {want:?}\nactual overrides {:?}",
                        got.overrides
                    ));
                }
            }
            Ok(())
        }
        (_, Some(want), Err(got)) => {
            if got.contains(want.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "expected an error containing {want:?}\nactual: {got}"
                ))
            }
        }
        (_, Some(want), Ok(got)) => Err(format!(
            "expected an error containing {want:?}\nactual output: {:?}",
            got.body
        )),
        (Some(want), None, Err(got)) => Err(format!("expected:\n{want:?}\nactual: {got}")),
        (None, None, _) => Err("case has neither expected nor error".to_string()),
    }
}

fn load() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let mut these: Vec<Case> =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        cases.append(&mut these);
    }
    cases
}

#[test]
fn yaml_cases() {
    let cases = load();
    let mut failures = Vec::new();
    let mut names = std::collections::HashSet::new();
    for case in &cases {
        assert!(
            names.insert(case.name.clone()),
            "duplicate case name {}",
            case.name
        );
        assert!(!case.source.is_empty(), "case {} has no source", case.name);
        let started = std::time::Instant::now();
        let outcome = run(case);
        let took = started.elapsed();
        if took.as_millis() > 200 {
            eprintln!("slow case {}: {took:?}", case.name);
        }
        if let Err(why) = outcome {
            failures.push(format!(
                "=== case {} ({}) ===\n{why}",
                case.name, case.source
            ));
        }
    }
    for f in &failures {
        eprintln!("{f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed",
        failures.len(),
        cases.len()
    );
    assert!(cases.len() >= 70, "only {} cases", cases.len());
}
