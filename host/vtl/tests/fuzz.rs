//! A deterministic smoke fuzzer: thousands of random templates built from VTL fragments and
//! odd characters must parse or fail cleanly, and render or fail cleanly, never panic.

use portico_vtl::{Input, Limits, Overrides, Template};

const PIECES: &[&str] = &[
    "$",
    "$!",
    "${",
    "}",
    "#",
    "##",
    "#*",
    "*#",
    "#[[",
    "]]#",
    "#set(",
    "#if(",
    "#elseif(",
    "#else",
    "#end",
    "#foreach(",
    "#macro(",
    "#define(",
    "#break",
    "#stop",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ".",
    ",",
    ":",
    "=",
    "==",
    "!",
    "&&",
    "||",
    "+",
    "-",
    "*",
    "/",
    "%",
    "..",
    " in ",
    "$a",
    "$b.c",
    "$input.json('$.x')",
    "$input.path('$')",
    "$util.escapeJavaScript($a)",
    "$context.responseOverride.status",
    "$l.add(1)",
    "$m.put('k', $a)",
    "'s'",
    "\"d$a\"",
    "1",
    "2.5",
    "-3",
    "true",
    "null",
    "é",
    "✓",
    "\\",
    "\\$a",
    "\n",
    " ",
    "\t",
    "\r\n",
    "#m($a)",
    "$a.substring(1)",
    "$a.split(',')",
    "[1..3]",
    "{'k': 1}",
    "$foreach.hasNext",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

#[test]
fn random_templates_never_panic() {
    let mut rng = Lcg(0x5eed);
    let ctx = serde_json::json!({"stage": "dev", "identity": {"sourceIp": "1.2.3.4"}});
    let prelude = "#set($a = 'x,y')#set($l = [])#set($m = {})";
    let mut parsed = 0;
    for _ in 0..4000 {
        let len = 1 + rng.next() % 24;
        let mut src = String::from(prelude);
        for _ in 0..len {
            src.push_str(PIECES[rng.next() % PIECES.len()]);
        }
        let Ok(t) = Template::parse(&src) else {
            continue;
        };
        parsed += 1;
        let input = Input {
            body: r#"{"x": [1, {"y": "z"}]}"#,
            body_json: None,
            path: &[],
            querystring: &[],
            header: &[],
            context: &ctx,
            stage_variables: &[],
            overrides: Overrides::default(),
            limits: Limits {
                max_steps: 100_000,
                ..Limits::default()
            },
        };
        let _ = t.render(&input);
    }
    assert!(parsed > 100, "only {parsed} random templates parsed");
}
