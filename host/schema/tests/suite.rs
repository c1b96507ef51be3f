//! The JSON-Schema-Test-Suite, draft 4, run through [`portico_schema::compile_schema`].
//!
//! Required cases (the top-level `tests/draft4/*.json`) must all pass; optional cases
//! (`tests/draft4/optional/**`) are counted and printed, never failed. `refRemote.json` needs the
//! documents of `remotes/` under `http://localhost:1234/`; they are supplied through the
//! `documents` parameter ([`remote_documents`]).

use std::fs;
use std::path::{Path, PathBuf};

use portico_schema::compile_schema;
use serde_json::Value;

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/conformance/json-schema-test-suite"
);

/// Every file under `dir`, recursively, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read suite directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The documents of the suite's `remotes/` directory, keyed by `http://localhost:1234/{path}`.
pub fn remote_documents(dir: &Path) -> Vec<(String, Value)> {
    files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let relative = path.strip_prefix(dir).expect("under remotes");
            let url = format!("http://localhost:1234/{}", relative.to_string_lossy());
            let text = fs::read_to_string(&path).expect("read remote");
            (url, serde_json::from_str(&text).expect("remote is JSON"))
        })
        .collect()
}

/// Runs one suite file: (passed, failures).
fn run_file(path: &Path, remotes: &[(String, Value)]) -> (usize, Vec<String>) {
    let text = fs::read_to_string(path).expect("read suite file");
    let groups: Vec<Value> = serde_json::from_str(&text).expect("suite file is JSON");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut passed = 0;
    let mut failures = Vec::new();
    for group in &groups {
        let description = group["description"].as_str().unwrap_or("?");
        let model = compile_schema(&group["schema"], remotes);
        for test in group["tests"].as_array().into_iter().flatten() {
            let case = format!(
                "{name}: {description}: {}",
                test["description"].as_str().unwrap_or("?")
            );
            let expected = test["valid"].as_bool().unwrap_or(false);
            match &model {
                Err(e) => failures.push(format!("{case}: schema did not compile: {e}")),
                Ok(model) => {
                    let result = model.validate(&test["data"]);
                    if result.is_ok() == expected {
                        passed += 1;
                    } else {
                        failures.push(format!("{case}: expected valid={expected}, got {result:?}"));
                    }
                }
            }
        }
    }
    (passed, failures)
}

#[test]
fn draft4_required_cases_all_pass() {
    let remotes = remote_documents(&Path::new(SUITE).join("remotes"));
    let dir = Path::new(SUITE).join("tests/draft4");
    let mut passed = 0;
    let mut failures = Vec::new();
    for path in files(&dir) {
        if path.parent() != Some(dir.as_path()) || path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let (ok, failed) = run_file(&path, &remotes);
        passed += ok;
        failures.extend(failed);
    }
    println!(
        "draft4 required: {passed} passed, {} failed",
        failures.len()
    );
    assert!(passed > 0, "no suite case ran (is {SUITE} there?)");
    assert!(
        failures.is_empty(),
        "failing required cases:\n{}",
        failures.join("\n")
    );
}

#[test]
fn draft4_optional_cases_are_counted() {
    let remotes = remote_documents(&Path::new(SUITE).join("remotes"));
    let dir = Path::new(SUITE).join("tests/draft4/optional");
    let (mut passed, mut total) = (0, 0);
    for path in files(&dir) {
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let (ok, failed) = run_file(&path, &remotes);
        let relative = path.strip_prefix(&dir).unwrap_or(&path).display();
        println!("optional {relative}: {ok}/{}", ok + failed.len());
        for failure in &failed {
            println!("    {failure}");
        }
        passed += ok;
        total += ok + failed.len();
    }
    println!("optional total: {passed}/{total}");
}
