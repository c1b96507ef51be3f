//! Stage settings: the response cache and `method_settings`, validated against the API's
//! routes and resolved into one [`MethodCaching`] per route, so the proxy never looks a setting
//! up by name.
//!
//! Throttles (`throttling_rate_limit`, `throttling_burst_limit`) resolve the same way into one
//! [`MethodThrottle`] per route: the method's own entry (its own bucket, missing fields taken
//! from `*/*`, then from AWS's defaults 10 000 / 5 000), else `*/*` (one bucket shared by the
//! stage's methods that have no entry), else no stage-level throttle.
//!
//! Resolution follows API Gateway: a method's own entry (`/pets/GET`) wins over the stage-wide
//! `*/*`, field by field; with neither, GET methods are cached for 300 s and nothing else is.
//! `*/*` applies its `caching_enabled` to GET (and ANY) methods only; another method is cached
//! only when its own entry enables it, as AWS requires.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::diag::Report;
use crate::gateway::{RawMethodSetting, RawSize, RawStageCache};
use crate::model::{
    MethodCaching, MethodThrottle, Route, StageCache, Throttle, TransferMode,
    UnauthorizedCacheControl,
};

/// Default entry lifetime (AWS: 300 s).
pub const DEFAULT_CACHE_TTL_SECS: u64 = 300;
/// Longest entry lifetime (AWS: 3600 s, not raisable).
pub const MAX_CACHE_TTL_SECS: u64 = 3600;
/// Smallest stage cache.
pub const MIN_CACHE_BYTES: u64 = 64 << 10;
/// Largest stage cache (AWS's largest `cacheClusterSize`, 237 GB).
pub const MAX_CACHE_BYTES: u64 = 237 << 30;

/// The key of the stage-wide entry.
const ALL_METHODS: &str = "*/*";

/// The stage's cache and each route's caching; `None` when the stage has no (enabled) cache.
pub(crate) fn resolve(
    report: &mut Report,
    file: &str,
    spath: &str,
    cache: Option<&RawStageCache>,
    settings: &BTreeMap<String, RawMethodSetting>,
    routes: &[Route],
) -> (Option<StageCache>, Vec<Option<MethodCaching>>) {
    let mpath = format!("{spath}.method_settings");
    let mut all = None;
    let mut by_route: BTreeMap<usize, &RawMethodSetting> = BTreeMap::new();
    for (key, setting) in settings {
        let kpath = format!("{mpath}.{key}");
        check_setting(report, file, &kpath, setting);
        if key == ALL_METHODS {
            all = Some(setting);
            continue;
        }
        match parse_key(key) {
            Some((resource, method)) => {
                let found = routes.iter().position(|r| {
                    r.resource_path == resource && r.method.eq_ignore_ascii_case(&method)
                });
                match found {
                    Some(i) => {
                        by_route.insert(i, setting);
                    }
                    None => report.error(
                        file,
                        &kpath,
                        format!("the API has no method {method} on resource {resource}"),
                    ),
                }
            }
            None => report.error(
                file,
                &kpath,
                "a method setting key is `*/*` or `/{resourcePath}/{METHOD}`, e.g. `/pets/{id}/GET`",
            ),
        }
    }

    let cache = cache.filter(|c| c.enabled != Some(false));
    let Some(cache) = cache else {
        if settings.values().any(has_caching_fields) {
            report.warn(
                file,
                &mpath,
                "caching settings have no effect: the stage has no enabled cache",
            );
        }
        return (None, Vec::new());
    };
    let capacity_bytes = match parse_size(&cache.size) {
        Ok(b) if (MIN_CACHE_BYTES..=MAX_CACHE_BYTES).contains(&b) => b,
        Ok(b) => {
            report.error(
                file,
                format!("{spath}.cache.size"),
                format!("{b} bytes is outside 64KiB..237GiB"),
            );
            MIN_CACHE_BYTES
        }
        Err(e) => {
            report.error(file, format!("{spath}.cache.size"), e);
            MIN_CACHE_BYTES
        }
    };
    for (i, key) in cache.invalidation_api_keys.iter().enumerate() {
        if !(20..=128).contains(&key.len()) {
            report.error(
                file,
                format!("{spath}.cache.invalidation_api_keys[{i}]"),
                "an API key value has 20 to 128 characters",
            );
        }
    }
    let caching: Vec<Option<MethodCaching>> = routes
        .iter()
        .enumerate()
        .map(|(i, route)| method_caching(route, by_route.get(&i).copied(), all))
        .collect();
    // AWS: endpoint caching is not supported for streamed responses.
    for (route, caching) in routes.iter().zip(&caching) {
        if caching.is_some() && route.integration.transfer_mode == TransferMode::Stream {
            report.error(
                file,
                format!("{mpath}./{}/{}", route.resource_path.trim_start_matches('/'), route.method.to_ascii_uppercase()),
                format!(
                    "{} {} streams its response (responseTransferMode STREAM, {}) and cannot be cached; set caching_enabled: false for it",
                    route.method.to_ascii_uppercase(),
                    route.resource_path,
                    route.location
                ),
            );
        }
    }
    (
        Some(StageCache {
            capacity_bytes,
            invalidation_api_keys: cache.invalidation_api_keys.clone(),
        }),
        caching,
    )
}

/// Each route's stage throttle (keys were checked by [`resolve`]).
pub(crate) fn throttles(
    settings: &BTreeMap<String, RawMethodSetting>,
    routes: &[Route],
) -> Vec<Option<MethodThrottle>> {
    let has = |s: &RawMethodSetting| {
        s.throttling_rate_limit.is_some() || s.throttling_burst_limit.is_some()
    };
    let all = settings.get(ALL_METHODS).filter(|s| has(s));
    let default = Throttle::ACCOUNT_DEFAULT;
    let mut out: Vec<Option<MethodThrottle>> = routes
        .iter()
        .map(|_| {
            all.map(|s| MethodThrottle {
                throttle: Throttle {
                    rate: s.throttling_rate_limit.unwrap_or(default.rate),
                    burst: s.throttling_burst_limit.unwrap_or(default.burst),
                },
                own: false,
            })
        })
        .collect();
    for (key, setting) in settings.iter().filter(|(k, s)| *k != ALL_METHODS && has(s)) {
        let Some(i) = route_index(key, routes) else {
            continue;
        };
        let pick = |f: fn(&RawMethodSetting) -> Option<f64>| {
            f(setting)
                .or_else(|| all.and_then(f))
                .unwrap_or(default.rate)
        };
        out[i] = Some(MethodThrottle {
            throttle: Throttle {
                rate: pick(|s| s.throttling_rate_limit),
                burst: setting
                    .throttling_burst_limit
                    .or_else(|| all.and_then(|s| s.throttling_burst_limit))
                    .unwrap_or(default.burst),
            },
            own: true,
        });
    }
    out
}

/// The index of the route a `/{resourcePath}/{METHOD}` key names.
pub(crate) fn route_index(key: &str, routes: &[Route]) -> Option<usize> {
    let (resource, method) = parse_key(key)?;
    routes
        .iter()
        .position(|r| r.resource_path == resource && r.method.eq_ignore_ascii_case(&method))
}

fn has_caching_fields(s: &RawMethodSetting) -> bool {
    s.caching_enabled.is_some()
        || s.cache_ttl_seconds.is_some()
        || s.require_authorization_for_cache_control.is_some()
        || s.unauthorized_cache_control_header_strategy.is_some()
}

fn check_setting(report: &mut Report, file: &str, kpath: &str, s: &RawMethodSetting) {
    if let Some(rate) = s.throttling_rate_limit
        && !(rate.is_finite() && rate >= 0.0)
    {
        report.error(
            file,
            format!("{kpath}.throttling_rate_limit"),
            format!("must be a number of requests per second ≥ 0, got {rate}"),
        );
    }
    if let Some(ttl) = s.cache_ttl_seconds
        && ttl > MAX_CACHE_TTL_SECS
    {
        report.error(
            file,
            format!("{kpath}.cache_ttl_seconds"),
            format!("at most {MAX_CACHE_TTL_SECS} seconds, got {ttl}"),
        );
    }
    if let Some(strategy) = &s.unauthorized_cache_control_header_strategy
        && parse_strategy(strategy).is_none()
    {
        report.error(
            file,
            format!("{kpath}.unauthorized_cache_control_header_strategy"),
            format!("{strategy} is not FAIL_WITH_403, SUCCEED_WITH_RESPONSE_HEADER or SUCCEED_WITHOUT_RESPONSE_HEADER"),
        );
    }
}

/// One route's caching: its own setting, then `*/*`, then the defaults.
fn method_caching(
    route: &Route,
    own: Option<&RawMethodSetting>,
    all: Option<&RawMethodSetting>,
) -> Option<MethodCaching> {
    let get_like = route.method == "GET" || route.method == "ANY";
    let pick =
        |f: fn(&RawMethodSetting) -> Option<u64>| own.and_then(f).or_else(|| all.and_then(f));
    let enabled = own
        .and_then(|s| s.caching_enabled)
        .or_else(|| all.and_then(|s| s.caching_enabled).filter(|_| get_like))
        .unwrap_or(get_like);
    let ttl = pick(|s| s.cache_ttl_seconds).unwrap_or(DEFAULT_CACHE_TTL_SECS);
    if !enabled || ttl == 0 {
        return None;
    }
    let require_authorization = own
        .and_then(|s| s.require_authorization_for_cache_control)
        .or_else(|| all.and_then(|s| s.require_authorization_for_cache_control))
        .unwrap_or(true);
    let unauthorized = own
        .and_then(|s| s.unauthorized_cache_control_header_strategy.as_deref())
        .or_else(|| all.and_then(|s| s.unauthorized_cache_control_header_strategy.as_deref()))
        .and_then(parse_strategy)
        .unwrap_or(UnauthorizedCacheControl::SucceedWithResponseHeader);
    Some(MethodCaching {
        ttl: Duration::from_secs(ttl.min(MAX_CACHE_TTL_SECS)),
        require_authorization,
        unauthorized,
    })
}

fn parse_strategy(s: &str) -> Option<UnauthorizedCacheControl> {
    match s {
        "FAIL_WITH_403" => Some(UnauthorizedCacheControl::FailWith403),
        "SUCCEED_WITH_RESPONSE_HEADER" => Some(UnauthorizedCacheControl::SucceedWithResponseHeader),
        "SUCCEED_WITHOUT_RESPONSE_HEADER" => {
            Some(UnauthorizedCacheControl::SucceedWithoutResponseHeader)
        }
        _ => None,
    }
}

/// `/pets/{id}/GET`, `pets/GET`, `~1pets/GET` (AWS's escaped form) or `//GET` (the root) →
/// (`/pets/{id}`, `GET`).
fn parse_key(key: &str) -> Option<(String, String)> {
    let key = key.replace("~1", "/");
    let (resource, method) = key.rsplit_once('/')?;
    let method = method.to_ascii_uppercase();
    let known = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
    ];
    if !known.contains(&method.as_str()) || resource.contains('*') {
        return None;
    }
    let resource = match resource.trim_start_matches('/') {
        "" => "/".to_owned(),
        rest => format!("/{rest}"),
    };
    Some((resource, method))
}

/// A cache size: a number of GB (1 GB = 1 GiB, so AWS's `0.5` is 512 MiB), or a number with
/// a unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
pub(crate) fn parse_size(size: &RawSize) -> Result<u64, String> {
    let (number, unit) = match size {
        RawSize::Gigabytes(gb) => (*gb, 1u64 << 30),
        RawSize::Text(text) => {
            let t = text.trim();
            let split = t
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(t.len());
            let (n, u) = t.split_at(split);
            let unit = match u.trim() {
                "" => {
                    return Err(format!(
                        "size {text:?} needs a unit (B, KB, MB, GB, KiB, MiB, GiB), or write a bare number of GB"
                    ));
                }
                "B" => 1,
                "KB" => 1_000,
                "MB" => 1_000_000,
                "GB" => 1_000_000_000,
                "KiB" => 1 << 10,
                "MiB" => 1 << 20,
                "GiB" => 1 << 30,
                other => {
                    return Err(format!(
                        "unknown size unit {other:?} (B, KB, MB, GB, KiB, MiB, GiB)"
                    ));
                }
            };
            let n: f64 = n
                .parse()
                .map_err(|_| format!("size {text:?} does not start with a number"))?;
            (n, unit)
        }
    };
    let bytes = number * unit as f64;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("size must be positive, got {number}"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size(&RawSize::Gigabytes(0.5)), Ok(512 << 20));
        assert_eq!(parse_size(&RawSize::Text("512MiB".into())), Ok(512 << 20));
        assert_eq!(parse_size(&RawSize::Text("100MB".into())), Ok(100_000_000));
        assert_eq!(parse_size(&RawSize::Text("1.5 GiB".into())), Ok(3 << 29));
        assert!(parse_size(&RawSize::Text("512".into())).is_err());
        assert!(parse_size(&RawSize::Text("12 parsecs".into())).is_err());
        assert!(parse_size(&RawSize::Gigabytes(-1.0)).is_err());
        assert!(parse_size(&RawSize::Gigabytes(f64::NAN)).is_err());
    }

    #[test]
    fn keys() {
        let k = |s: &str| parse_key(s).map(|(r, m)| format!("{r} {m}"));
        assert_eq!(k("/pets/{id}/GET").as_deref(), Some("/pets/{id} GET"));
        assert_eq!(k("pets/get").as_deref(), Some("/pets GET"));
        assert_eq!(k("~1pets~1{id}/PUT").as_deref(), Some("/pets/{id} PUT"));
        assert_eq!(k("//GET").as_deref(), Some("/ GET"));
        assert_eq!(k("/GET").as_deref(), Some("/ GET"));
        assert_eq!(k("*/GET"), None);
        assert_eq!(k("/pets/FETCH"), None);
        assert_eq!(k("GET"), None);
    }
}
