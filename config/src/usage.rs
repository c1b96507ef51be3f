//! The traffic sections of the gateway file: `traffic`, `api_keys` and `usage_plans`, validated
//! against the APIs (every plan stage names a deployed stage, every per-method throttle a
//! method) into [`TrafficSettings`], [`ApiKey`]s and [`UsagePlan`]s.
//!
//! AWS rules enforced here: key values have 20 to 128 characters and are unique; a key is in
//! at most one usage plan per stage; rates are ≥ 0. See `docs/traffic.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use crate::diag::Report;
use crate::gateway::{RawApiKey, RawThrottle, RawTraffic, RawUsagePlan};
use crate::model::{
    Api, ApiKey, PlanStage, Quota, QuotaPeriod, Throttle, TrafficSettings, UsagePlan,
};
use crate::stage;

/// Shortest and longest API key value (AWS).
pub const KEY_VALUE_LEN: std::ops::RangeInclusive<usize> = 20..=128;

/// Whether `value` can be an API key value: 20 to 128 visible ASCII characters.
pub fn key_value_ok(value: &str) -> bool {
    KEY_VALUE_LEN.contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `name` can name a key or a plan: letters, digits, `-`, `_`, `.`, 1 to 128.
pub fn name_ok(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// `traffic:` with defaults. `data_dir` is resolved by `resolve_dir` (relative to the file);
/// without one, it is the gateway's `data_dir`.
pub(crate) fn settings(
    report: &mut Report,
    file: &str,
    raw: Option<&RawTraffic>,
    gateway_data_dir: &Option<PathBuf>,
    resolve_dir: impl Fn(&str) -> PathBuf,
) -> TrafficSettings {
    let mut out = TrafficSettings::default();
    let Some(raw) = raw else {
        out.data_dir = gateway_data_dir.clone();
        return out;
    };
    if let Some(a) = &raw.account {
        out.account = throttle(report, file, "traffic.account", a);
    }
    out.data_dir = match raw.data_dir.as_deref() {
        Some("off") => None,
        Some(dir) => Some(resolve_dir(dir)),
        None => gateway_data_dir.clone(),
    };
    let interval = |report: &mut Report, path: &str, ms: Option<u64>, default: Duration| match ms {
        Some(0) => {
            report.error(file, path, "must be more than 0");
            default
        }
        Some(ms) => Duration::from_millis(ms),
        None => default,
    };
    out.flush_interval = interval(
        report,
        "traffic.flush_interval_ms",
        raw.flush_interval_ms,
        out.flush_interval,
    );
    out.sync_interval = interval(
        report,
        "traffic.sync_interval_ms",
        raw.sync_interval_ms,
        out.sync_interval,
    );
    if let Some(url) = &raw.redis {
        let scheme_ok = ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .any(|s| url.starts_with(s));
        if !scheme_ok {
            report.error(
                file,
                "traffic.redis",
                format!("{url:?} is not a redis:// (or rediss://, redis+unix://) URL"),
            );
        }
        out.redis = Some(url.clone());
    }
    out.strict = raw.strict.unwrap_or(false);
    out.fail_closed = match raw.fail_mode.as_deref() {
        None | Some("open") => false,
        Some("closed") => true,
        Some(other) => {
            report.error(
                file,
                "traffic.fail_mode",
                format!("{other:?} is not open or closed"),
            );
            false
        }
    };
    if out.redis.is_none() && (raw.strict.is_some() || raw.fail_mode.is_some()) {
        report.warn(
            file,
            "traffic",
            "strict and fail_mode only apply in cluster mode (traffic.redis)",
        );
    }
    out
}

/// `$XDG_DATA_HOME/portico`, else `~/.local/share/portico`: the gateway's `data_dir` when the
/// file names none, and where the CLI looks for a generated admin token.
pub fn default_data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("portico"))
}

fn throttle(report: &mut Report, file: &str, path: &str, raw: &RawThrottle) -> Throttle {
    if !(raw.rate_limit.is_finite() && raw.rate_limit >= 0.0) {
        report.error(
            file,
            format!("{path}.rate_limit"),
            format!(
                "must be a number of requests per second ≥ 0, got {}",
                raw.rate_limit
            ),
        );
    }
    Throttle {
        rate: if raw.rate_limit.is_finite() {
            raw.rate_limit.max(0.0)
        } else {
            0.0
        },
        burst: raw.burst_limit,
    }
}

/// `api_keys:`.
pub(crate) fn keys(report: &mut Report, file: &str, raw: &[RawApiKey]) -> Vec<ApiKey> {
    let mut names = BTreeSet::new();
    let mut values = BTreeSet::new();
    raw.iter()
        .enumerate()
        .map(|(i, k)| {
            let path = format!("api_keys[{i}]");
            if !name_ok(&k.name) {
                report.error(
                    file,
                    format!("{path}.name"),
                    format!(
                        "{:?}: a key name has 1 to 128 letters, digits, -, _ or .",
                        k.name
                    ),
                );
            }
            if !names.insert(k.name.as_str()) {
                report.error(
                    file,
                    format!("{path}.name"),
                    format!("another key is already named {}", k.name),
                );
            }
            if !key_value_ok(&k.value) {
                report.error(
                    file,
                    format!("{path}.value"),
                    "an API key value has 20 to 128 visible ASCII characters",
                );
            }
            if !values.insert(k.value.as_str()) {
                report.error(
                    file,
                    format!("{path}.value"),
                    "another key has the same value; values must be unique",
                );
            }
            ApiKey {
                name: k.name.clone(),
                value: k.value.clone(),
                enabled: k.enabled.unwrap_or(true),
            }
        })
        .collect()
}

/// `usage_plans:`, checked against `apis` and `keys`.
pub(crate) fn plans(
    report: &mut Report,
    file: &str,
    raw: &[RawUsagePlan],
    apis: &[Api],
    keys: &[ApiKey],
) -> Vec<UsagePlan> {
    let mut names = BTreeSet::new();
    // (key, api, stage) → plan: a key is in at most one plan per stage.
    let mut owner: BTreeMap<(&str, &str, &str), &str> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let path = format!("usage_plans[{i}]");
        if !name_ok(&p.name) {
            report.error(
                file,
                format!("{path}.name"),
                format!(
                    "{:?}: a plan name has 1 to 128 letters, digits, -, _ or .",
                    p.name
                ),
            );
        }
        if !names.insert(p.name.as_str()) {
            report.error(
                file,
                format!("{path}.name"),
                format!("another usage plan is already named {}", p.name),
            );
        }
        let mut stages = Vec::new();
        let mut seen = BTreeSet::new();
        for (j, s) in p.api_stages.iter().enumerate() {
            let spath = format!("{path}.api_stages[{j}]");
            let Some(api) = apis.iter().find(|a| a.name == s.api) else {
                report.error(
                    file,
                    format!("{spath}.api"),
                    format!("no API is named {}", s.api),
                );
                continue;
            };
            if !api.stages.iter().any(|st| st.name == s.stage) {
                report.error(
                    file,
                    format!("{spath}.stage"),
                    format!("API {} has no stage {}", s.api, s.stage),
                );
                continue;
            }
            if !seen.insert((s.api.as_str(), s.stage.as_str())) {
                report.error(
                    file,
                    &spath,
                    format!("stage {}/{} is listed twice", s.api, s.stage),
                );
            }
            let mut methods = Vec::new();
            for (key, t) in &s.throttle {
                let tpath = format!("{spath}.throttle.{key}");
                let t = throttle(report, file, &tpath, t);
                match stage::route_index(key, &api.routes) {
                    Some(r) => methods.push((r, t)),
                    None => report.error(
                        file,
                        &tpath,
                        format!(
                            "API {} has no such method; a key is `/{{resourcePath}}/{{METHOD}}`, e.g. `/pets/GET`",
                            s.api
                        ),
                    ),
                }
            }
            for key in &p.keys {
                if let Some(other) = owner.insert((key, &s.api, &s.stage), &p.name)
                    && other != p.name
                {
                    report.error(
                        file,
                        format!("{path}.keys"),
                        format!(
                            "key {key} is already in usage plan {other} for stage {}/{}; a key can be in one plan per stage",
                            s.api, s.stage
                        ),
                    );
                }
            }
            stages.push(PlanStage {
                api: s.api.clone(),
                stage: s.stage.clone(),
                methods,
            });
        }
        for (j, key) in p.keys.iter().enumerate() {
            if !keys.iter().any(|k| &k.name == key) {
                report.error(
                    file,
                    format!("{path}.keys[{j}]"),
                    format!("no API key is named {key}"),
                );
            }
        }
        let quota = p.quota.as_ref().map(|q| {
            let period = match q.period.as_str() {
                "DAY" => QuotaPeriod::Day,
                "WEEK" => QuotaPeriod::Week,
                "MONTH" => QuotaPeriod::Month,
                other => {
                    report.error(
                        file,
                        format!("{path}.quota.period"),
                        format!("{other:?} is not DAY, WEEK or MONTH"),
                    );
                    QuotaPeriod::Day
                }
            };
            let offset = q.offset.unwrap_or(0);
            if offset > q.limit {
                report.error(
                    file,
                    format!("{path}.quota.offset"),
                    format!("the offset ({offset}) is more than the limit ({})", q.limit),
                );
            }
            Quota {
                limit: q.limit,
                period,
                offset,
            }
        });
        out.push(UsagePlan {
            name: p.name.clone(),
            stages,
            throttle: p
                .throttle
                .as_ref()
                .map(|t| throttle(report, file, &format!("{path}.throttle"), t)),
            quota,
            keys: p.keys.clone(),
            managed: None,
        });
    }
    out
}

/// The usage plans made through the AWS control plane, validated as the gateway file's are;
/// an id the file's plans already use is an error.
pub(crate) fn managed_plans(
    report: &mut Report,
    stored: &[crate::deploy::ManagedPlan],
    apis: &[Api],
    keys: &[ApiKey],
    file_plans: &[UsagePlan],
) -> Vec<UsagePlan> {
    let raw_throttle = |t: &crate::deploy::PlanThrottle| RawThrottle {
        rate_limit: t.rate_limit,
        burst_limit: t.burst_limit,
    };
    let mut out = Vec::new();
    for m in stored {
        let label = format!("usage plan {} ({})", m.id, m.name);
        if file_plans.iter().any(|p| p.name == m.id) {
            report.error(
                &label,
                "id",
                "the gateway file has a usage plan with this name; rename one of them",
            );
            continue;
        }
        let raw = RawUsagePlan {
            name: m.id.clone(),
            api_stages: m
                .api_stages
                .iter()
                .map(|s| crate::gateway::RawApiStage {
                    api: s.api_id.clone(),
                    stage: s.stage.clone(),
                    throttle: s
                        .throttle
                        .iter()
                        .map(|(k, t)| (k.clone(), raw_throttle(t)))
                        .collect(),
                })
                .collect(),
            throttle: m.throttle.as_ref().map(raw_throttle),
            quota: m.quota.as_ref().map(|q| crate::gateway::RawQuota {
                limit: q.limit,
                period: q.period.clone(),
                offset: Some(q.offset),
            }),
            keys: Vec::new(),
        };
        for mut plan in plans(report, &label, std::slice::from_ref(&raw), apis, keys) {
            plan.managed = Some((m.name.clone(), m.description.clone()));
            out.push(plan);
        }
    }
    out
}
