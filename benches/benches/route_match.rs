//! Route matching against a table of 1 000 resource paths.
//!
//! The table is generated with plain arithmetic (no RNG) so every run matches the same routes:
//! 40 services under `/v1/svc{N}`, each with 25 resources. It mixes literal-only paths,
//! `{param}` paths at depths one to three, literal siblings of parameters (`/items/search` next
//! to `/items/{id}`), a greedy `/legacy/{proxy+}` under every eighth service (with a literal
//! `/legacy/status` beside it, so the greedy case backtracks), several methods on some
//! resources, one `ANY` resource and the root `/`.
//!
//! Benchmarks (`group/id`, all `GET`):
//! - `literal/depth4`: `/v1/svc37/reports/monthly`, a literal-only hit four segments deep;
//! - `param/two_params`: `/v1/svc21/items/8812/parts/p-77`, a hit binding `id` and `partId`;
//! - `greedy/fallback`: `/v1/svc16/legacy/status/v2/orders/991`, which descends into the
//!   literal `/legacy/status`, finds nothing below it and falls back to `/legacy/{proxy+}`;
//! - `miss/deep`: `/v1/svc21/items/8812/unknown`, no match after entering `{id}` (`Ok(None)`);
//! - `miss/top_level`: `/v2/svc21`, no match at the first segment (`Ok(None)`);
//! - `root/slash`: `/`.
//!
//! Each iteration is one `Router::find` call, including its allocations (the segment list and
//! the parameter list). Every case is checked once before it is measured, so a change in the
//! router's answers fails the bench instead of timing a different code path.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::Method;
use portico_proxy::snapshot::router::{RouteId, Router};

/// Number of services (`/v1/svc0` … `/v1/svc39`); each contributes 25 resources.
const SERVICES: usize = 40;

/// Resource paths every service has, with the methods defined on each.
const PER_SERVICE: [(&str, &[&str]); 24] = [
    ("", &["GET"]),
    ("/items", &["GET", "POST"]),
    ("/items/search", &["GET"]),
    ("/items/export", &["POST"]),
    ("/items/{id}", &["GET", "PUT", "DELETE"]),
    ("/items/{id}/parts", &["GET"]),
    ("/items/{id}/parts/{partId}", &["GET", "PATCH"]),
    ("/items/{id}/parts/{partId}/history", &["GET"]),
    ("/users", &["GET", "POST"]),
    ("/users/me", &["GET"]),
    ("/users/{userId}", &["GET", "DELETE"]),
    ("/users/{userId}/orders", &["GET"]),
    ("/users/{userId}/orders/{orderId}", &["GET"]),
    ("/users/{userId}/orders/{orderId}/lines/{lineId}", &["GET"]),
    ("/config", &["GET", "PUT"]),
    ("/config/limits", &["GET"]),
    ("/reports/daily", &["GET"]),
    ("/reports/monthly", &["GET"]),
    ("/reports/{reportId}", &["GET"]),
    ("/tags", &["GET"]),
    ("/tags/{tag}", &["GET", "DELETE"]),
    ("/events", &["GET"]),
    ("/events/{eventId}/ack", &["POST"]),
    ("/health", &["GET"]),
];

/// The 1 000 resource paths with their methods: 24 per service, plus one extra per service
/// that is the greedy pair (`/legacy/{proxy+}` and `/legacy/status`) every eighth service, the
/// `ANY` resource for service 13, the root `/` for service 39, and `/admin/audit` otherwise.
///
/// The greedy pair counts as two resources, so services with it drop `/health` to keep the
/// total at 1 000.
fn table() -> Vec<(String, &'static [&'static str])> {
    let mut out = Vec::with_capacity(1_000);
    for s in 0..SERVICES {
        let prefix = format!("/v1/svc{s}");
        let greedy = s % 8 == 0;
        for (suffix, methods) in PER_SERVICE {
            if greedy && suffix == "/health" {
                continue;
            }
            out.push((format!("{prefix}{suffix}"), methods));
        }
        if greedy {
            out.push((format!("{prefix}/legacy/{{proxy+}}"), &["GET", "POST"][..]));
            out.push((format!("{prefix}/legacy/status"), &["GET"][..]));
        } else if s == 13 {
            out.push((format!("{prefix}/webhook"), &["ANY"][..]));
        } else if s == SERVICES - 1 {
            out.push(("/".to_owned(), &["GET"][..]));
        } else {
            out.push((format!("{prefix}/admin/audit"), &["GET"][..]));
        }
    }
    out
}

/// Builds the router from [`table`], numbering routes (resource × method) from 0.
fn router() -> Router {
    let table = table();
    let mut distinct: Vec<&str> = table.iter().map(|(p, _)| p.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 1_000, "the table must hold 1 000 resources");

    let mut router = Router::new();
    let mut id: RouteId = 0;
    for (path, methods) in &table {
        for method in *methods {
            router.insert(path, method, id).expect("valid route table");
            id += 1;
        }
    }
    router
}

/// Matches `path` and returns the route id and the parameters, owned, for the pre-checks.
fn answer(router: &Router, method: &Method, path: &str) -> Option<(RouteId, Vec<String>)> {
    router
        .find(method, path)
        .expect("well-formed path")
        .map(|m| {
            let params = m.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (m.route, params)
        })
}

/// Times `find` for one method and path in `group` under `name`.
fn case(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    router: &Router,
    name: &str,
    method: &Method,
    path: &str,
) {
    group.bench_function(name, |b| {
        b.iter(|| {
            let found = router.find(black_box(method), black_box(path));
            black_box(found).is_ok()
        })
    });
}

/// The five groups, each preceded by a check of the router's answer.
fn route_match(c: &mut Criterion) {
    let router = router();
    let get = Method::GET;

    let literal = "/v1/svc37/reports/monthly";
    assert!(matches!(answer(&router, &get, literal), Some((_, p)) if p.is_empty()));
    let mut group = c.benchmark_group("literal");
    case(&mut group, &router, "depth4", &get, literal);
    group.finish();

    let param = "/v1/svc21/items/8812/parts/p-77";
    assert_eq!(
        answer(&router, &get, param).map(|(_, p)| p),
        Some(vec!["id=8812".to_owned(), "partId=p-77".to_owned()])
    );
    let mut group = c.benchmark_group("param");
    case(&mut group, &router, "two_params", &get, param);
    group.finish();

    // `status` matches the literal sibling, which has no child `v2`, so the router backtracks
    // to `{proxy+}`.
    let greedy = "/v1/svc16/legacy/status/v2/orders/991";
    assert_eq!(
        answer(&router, &get, greedy).map(|(_, p)| p),
        Some(vec!["proxy=status/v2/orders/991".to_owned()])
    );
    let mut group = c.benchmark_group("greedy");
    case(&mut group, &router, "fallback", &get, greedy);
    group.finish();

    let deep_miss = "/v1/svc21/items/8812/unknown";
    let shallow_miss = "/v2/svc21";
    assert_eq!(answer(&router, &get, deep_miss), None);
    assert_eq!(answer(&router, &get, shallow_miss), None);
    let mut group = c.benchmark_group("miss");
    case(&mut group, &router, "deep", &get, deep_miss);
    case(&mut group, &router, "top_level", &get, shallow_miss);
    group.finish();

    assert!(answer(&router, &get, "/").is_some());
    let mut group = c.benchmark_group("root");
    case(&mut group, &router, "slash", &get, "/");
    group.finish();
}

criterion_group!(benches, route_match);
criterion_main!(benches);
