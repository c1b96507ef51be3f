//! The public API beyond rendering: parse limits, error display, thread-safety and the
//! `$context` roots the host uses to build only what a template reads.

use portico_vtl::{Input, Limits, MAX_TEMPLATE_BYTES, Overrides, Template};

fn render(src: &str, body: &str) -> Result<String, String> {
    let t = Template::parse(src).map_err(|e| e.to_string())?;
    let ctx = serde_json::json!({});
    let input = Input {
        body,
        body_json: None,
        path: &[],
        querystring: &[],
        header: &[],
        context: &ctx,
        stage_variables: &[],
        overrides: Overrides::default(),
        limits: Limits::default(),
    };
    t.render(&input).map(|r| r.body).map_err(|e| e.to_string())
}

#[test]
fn template_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Template>();
}

#[test]
fn refuses_templates_over_300_kb() {
    let big = "a".repeat(MAX_TEMPLATE_BYTES + 1);
    let err = Template::parse(&big).err().map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("300") || e.contains("limit")));
    assert!(Template::parse(&"a".repeat(MAX_TEMPLATE_BYTES)).is_ok());
}

#[test]
fn parse_error_displays_line_and_column() {
    let err = Template::parse("ok\n  #set($a = )").err();
    let err = err.map(|e| (e.line, e.column, e.to_string()));
    assert!(
        matches!(&err, Some((2, _, text)) if text.starts_with("line 2, column ")),
        "{err:?}"
    );
}

#[test]
fn context_roots_and_params() {
    let t = Template::parse(
        "$context.requestId $context.identity.sourceIp #if($context['authorizer'].x)#end\
         #set($context.responseOverride.status = 200)",
    );
    let t = t.ok();
    let roots = t.as_ref().map(|t| t.context_roots().to_vec());
    assert_eq!(
        roots,
        Some(vec![
            "authorizer".to_string(),
            "identity".to_string(),
            "requestId".to_string(),
        ])
    );
    assert_eq!(t.map(|t| t.reads_input_params()), Some(false));

    let t = Template::parse("#foreach($k in $context.keySet())#end $input.params('a')").ok();
    assert_eq!(
        t.as_ref().map(|t| t.context_roots().to_vec()),
        Some(vec!["*".to_string()])
    );
    assert_eq!(t.map(|t| t.reads_input_params()), Some(true));

    // `$input` handed on may read the parameters later; its body and paths do not.
    let reads = |src: &str| Template::parse(src).ok().map(|t| t.reads_input_params());
    assert_eq!(reads("#set($i = $input)$i.params('a')"), Some(true));
    assert_eq!(
        reads("$input.body $input.json('$') $input.path('$.a')"),
        Some(false)
    );
}

#[test]
fn one_template_renders_many_bodies() {
    let t = Template::parse("$input.path('$.n')");
    let t = t.ok();
    for n in 0..3 {
        let body = format!("{{\"n\": {n}}}");
        let ctx = serde_json::json!({});
        let input = Input {
            body: &body,
            body_json: None,
            path: &[],
            querystring: &[],
            header: &[],
            context: &ctx,
            stage_variables: &[],
            overrides: Overrides::default(),
            limits: Limits::default(),
        };
        let out = t
            .as_ref()
            .and_then(|t| t.render(&input).ok())
            .map(|r| r.body);
        assert_eq!(out, Some(n.to_string()));
    }
}

#[test]
fn deeply_nested_json_body_is_an_error_not_a_crash() {
    let body = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    assert!(render("$input.json('$')", &body).is_err());
}

#[test]
fn deep_value_nesting_built_by_template_is_bounded() {
    let src = "#set($cur = [])#set($root = $cur)\
               #foreach($i in [1..1000])#set($n = [])#set($ok = $cur.add($n))#set($cur = $n)#end$root";
    let out = render(src, "");
    assert!(out.is_err_and(|e| e.contains("nested deeper")));
}

/// The worst nesting the parser allows, inside the deepest macro recursion, renders (or fails
/// cleanly) on a 1 MiB stack, the size of a small Wasm guest's.
#[test]
fn worst_case_recursion_fits_a_small_stack() {
    let ifs = "#if(true)".repeat(30);
    let ends = "#end".repeat(30);
    let expr = format!("{}1{}", "(".repeat(25), ")".repeat(25));
    let src = format!(
        "#macro(deep $n){ifs}#set($x = {expr})#if($n > 0)#set($m = $n - 1)#deep($m)#end{ends}#end#deep(25)"
    );
    let handle = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || render(&src, "").map(|_| ()))
        .map(|h| h.join());
    let result = match handle {
        Ok(Ok(r)) => r,
        _ => Err("thread failed".to_string()),
    };
    assert!(
        result
            .as_ref()
            .is_err_and(|e| e.contains("recursion deeper than 200 levels")),
        "{result:?}"
    );
}
