//! The traffic part of the admin API: usage plans (AWS CreateUsagePlan, GetUsagePlan(s),
//! DeleteUsagePlan), usage (AWS GetUsage / UpdateUsage) and API keys.
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /usageplans`, `GET /usageplans/{plan}` | 200, AWS `UsagePlans` `{"item":[..]}` / `UsagePlan` `{"id","name","description","apiStages","throttle","quota"}`: the gateway file's plans and the ones made here |
//! | `POST /usageplans` AWS `CreateUsagePlanRequest` | 201 the `UsagePlan`, with a random 6-character id; kept in `<data_dir>/usageplans/` and in force at once |
//! | `DELETE /usageplans/{plan}` | 202: forgets a plan made here (400 for the gateway file's; refused while a key is in it) |
//! | `GET /usageplans/{plan}/usage?startDate=YYYY-MM-DD&endDate=YYYY-MM-DD` | 200, AWS GetUsage JSON `{"usagePlanId","startDate","endDate","items":{"<keyId>":[[used,remaining],..]}}` (dates default to today, UTC) |
//! | `POST /usageplans/{plan}/keys/{key}/usage` `{"extend":N}` or `{"reset":true}` | 200 `{"usagePlanId","keyId","remaining","used","limit","periodEnd"}`; 404 without such a quota |
//! | `POST /usageplans/{plan}/keys` `{"keyId","keyType":"API_KEY"}` | 201 `{"id","name","type"}`: adds a runtime key to the plan (AWS CreateUsagePlanKey); 400 for a key declared in the gateway file, 409 when it is in the plan already |
//! | `GET /apikeys[?includeValues=true]` | 200 `{"items":[{"id","name","enabled","usagePlans","source"[,"value"]}]}` |
//! | `POST /apikeys` `{"name","value"?,"enabled"?,"usagePlans"?}` | 201 `{"id","name","value","enabled","usagePlans","generation"}`; 409 on a name or value already taken |

use std::sync::Arc;

use http::{Method, StatusCode};
use portico_traffic::QuotaReading;
use serde::Deserialize;
use serde_json::json;
use time::{Date, Month, OffsetDateTime};

use portico_config::deploy;
use portico_config::{Config, QuotaPeriod, Throttle, UsagePlan};
use serde_json::Value;

use crate::Gateway;
use crate::control::admin::json_reply;
use crate::control::admin_deploy::{self, AwsError, Reply};
use crate::control::aws::random_id;
use crate::phase::traffic::{KeyError, RuntimeKey};
use crate::pipeline::body::Body;

/// Length of a generated key value.
const GENERATED_KEY_LEN: usize = 40;

/// `/usageplans` itself: the plans, or a new one.
pub(crate) async fn plans(gw: &Arc<Gateway>, method: &Method, body: &[u8]) -> http::Response<Body> {
    let result = match *method {
        Method::GET => {
            let config = gw.config();
            let items: Vec<_> = config
                .usage_plans
                .iter()
                .map(|p| plan_json(&config, p))
                .collect();
            Ok((StatusCode::OK, json!({ "item": items, "items": items })))
        }
        Method::POST => create_plan(gw, body).await,
        _ => Err(AwsError::not_found("Not Found")),
    };
    admin_deploy::respond(result)
}

/// AWS `CreateUsagePlanRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatePlan {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    api_stages: Vec<deploy::PlanApiStage>,
    #[serde(default)]
    throttle: Option<deploy::PlanThrottle>,
    #[serde(default)]
    quota: Option<deploy::PlanQuota>,
}

async fn create_plan(gw: &Arc<Gateway>, body: &[u8]) -> Reply {
    let request: CreatePlan = admin_deploy::parse(body)?;
    if request.name.trim().is_empty() {
        return Err(AwsError::bad_request("Invalid usage plan name specified"));
    }
    let plan = deploy::ManagedPlan {
        id: random_id(deploy::PLAN_ID_LEN),
        name: request.name,
        description: request.description.unwrap_or_default(),
        api_stages: request.api_stages,
        throttle: request.throttle,
        quota: request.quota,
    };
    let store = admin_deploy::store(gw)?;
    {
        let _serial = gw.stage_lock.lock().await;
        store.save_plan(&plan).map_err(AwsError::internal)?;
        admin_deploy::reload_or_undo(gw, "usage plan", || store.delete_plan(&plan.id)).await?;
    }
    let config = gw.config();
    let made = config
        .usage_plans
        .iter()
        .find(|p| p.name == plan.id)
        .ok_or_else(|| AwsError::internal("the usage plan did not load"))?;
    Ok((StatusCode::CREATED, plan_json(&config, made)))
}

async fn delete_plan(gw: &Arc<Gateway>, plan: &UsagePlan) -> Reply {
    if plan.managed.is_none() {
        return Err(AwsError::bad_request(format!(
            "usage plan {} is declared in the gateway file: remove it there",
            plan.name
        )));
    }
    if let Some(key) = gw
        .traffic
        .runtime_keys()
        .into_iter()
        .find(|k| k.usage_plans.contains(&plan.name))
    {
        return Err(AwsError::bad_request(format!(
            "Cannot delete Usage Plan {} because API key {} is in it",
            plan.name, key.name
        )));
    }
    let store = admin_deploy::store(gw)?;
    let _serial = gw.stage_lock.lock().await;
    let kept = store
        .plans()
        .0
        .into_iter()
        .find(|p| p.id == plan.name)
        .ok_or_else(|| {
            AwsError::not_found(format!("Invalid Usage Plan ID specified: {}", plan.name))
        })?;
    store.delete_plan(&kept.id).map_err(AwsError::internal)?;
    admin_deploy::reload_or_undo(gw, "usage plan deletion", || store.save_plan(&kept)).await?;
    Ok((StatusCode::ACCEPTED, Value::Null))
}

/// AWS `UsagePlan`.
fn plan_json(config: &Config, plan: &UsagePlan) -> Value {
    let throttle = |t: &Throttle| json!({"burstLimit": t.burst, "rateLimit": t.rate});
    let (name, description) = match &plan.managed {
        Some((name, description)) => (name.as_str(), description.as_str()),
        None => (plan.name.as_str(), ""),
    };
    let stages: Vec<Value> = plan
        .stages
        .iter()
        .map(|s| {
            let routes = config
                .apis
                .iter()
                .find(|a| a.name == s.api)
                .map(|a| a.routes.as_slice())
                .unwrap_or_default();
            let methods: serde_json::Map<String, Value> = s
                .methods
                .iter()
                .filter_map(|(i, t)| {
                    let r = routes.get(*i)?;
                    Some((
                        format!("{}/{}", r.resource_path, r.method.to_ascii_uppercase()),
                        throttle(t),
                    ))
                })
                .collect();
            let mut out = json!({"apiId": s.api, "stage": s.stage});
            if !methods.is_empty() {
                out["throttle"] = Value::Object(methods);
            }
            out
        })
        .collect();
    let mut out = json!({
        "id": plan.name,
        "name": name,
        "description": description,
        "apiStages": stages,
    });
    if let Some(t) = &plan.throttle {
        out["throttle"] = throttle(t);
    }
    if let Some(q) = &plan.quota {
        out["quota"] = json!({
            "limit": q.limit,
            "offset": q.offset,
            "period": match q.period {
                QuotaPeriod::Day => "DAY",
                QuotaPeriod::Week => "WEEK",
                QuotaPeriod::Month => "MONTH",
            },
        });
    }
    out
}

/// `/usageplans/...`: `rest` is what follows `/usageplans/`.
pub(crate) async fn usage_plans(
    gw: &Arc<Gateway>,
    method: &Method,
    rest: &str,
    query: &str,
    body: &[u8],
) -> http::Response<Body> {
    let parts: Vec<&str> = rest.split('/').collect();
    let snap = gw.snapshot();
    let plan = parts[0];
    if !snap.traffic.plans.contains(plan) {
        return not_found(format!("no usage plan is named {plan}"));
    }
    match (method, parts.as_slice()) {
        (&Method::GET | &Method::DELETE, [_]) => {
            let config = gw.config();
            let Some(found) = config.usage_plans.iter().find(|p| p.name == plan) else {
                return not_found(format!("no usage plan is named {plan}"));
            };
            admin_deploy::respond(if method == Method::GET {
                Ok((StatusCode::OK, plan_json(&config, found)))
            } else {
                delete_plan(gw, found).await
            })
        }
        (&Method::GET, [_, "usage"]) => {
            let today = OffsetDateTime::now_utc().date();
            let date = |name: &str| match query_value(query, name) {
                None => Ok(today),
                Some(v) => parse_date(&v).ok_or(format!("{name}: {v:?} is not a YYYY-MM-DD date")),
            };
            let (from, to) = match (date("startDate"), date("endDate")) {
                (Ok(f), Ok(t)) => (f, t),
                (Err(e), _) | (_, Err(e)) => return bad_request(e),
            };
            match gw.traffic.core.usage(plan, from, to).await {
                Ok(report) => json_reply(StatusCode::OK, report.to_aws_json()),
                Err(e @ portico_traffic::TrafficError::DateRange(_)) => bad_request(e.to_string()),
                Err(e) => json_reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"message": e.to_string()}),
                ),
            }
        }
        (&Method::POST, [_, "keys", key, "usage"]) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Update {
                extend: Option<u64>,
                reset: Option<bool>,
            }
            let update: Update = match serde_json::from_slice(body) {
                Ok(u) => u,
                Err(e) => return bad_request(format!("invalid body: {e}")),
            };
            let core = &gw.traffic.core;
            let result = match (update.extend, update.reset) {
                (Some(n), None) => core.extend_quota(plan, key, n).await,
                (None, Some(true)) => core.reset_quota(plan, key).await,
                _ => return bad_request(r#"send {"extend": N} or {"reset": true}"#.into()),
            };
            match result {
                Ok(Some(r)) => json_reply(StatusCode::OK, reading(plan, key, &r)),
                Ok(None) => not_found(format!("key {key} has no quota in usage plan {plan}")),
                Err(e) => json_reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"message": e.to_string()}),
                ),
            }
        }
        (&Method::POST, [_, "keys"]) => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct PlanKey {
                key_id: String,
                #[serde(default)]
                key_type: Option<String>,
            }
            let new: PlanKey = match serde_json::from_slice(body) {
                Ok(k) => k,
                Err(e) => return bad_request(format!("invalid body: {e}")),
            };
            if new.key_type.as_deref().is_some_and(|t| t != "API_KEY") {
                return bad_request("keyType must be API_KEY".into());
            }
            match gw.add_key_to_plan(&new.key_id, plan).await {
                Ok(_) => json_reply(
                    StatusCode::CREATED,
                    json!({"id": new.key_id, "name": new.key_id, "type": "API_KEY"}),
                ),
                Err(e) => key_error(&e),
            }
        }
        _ => not_found("Not Found".into()),
    }
}

fn reading(plan: &str, key: &str, r: &QuotaReading) -> serde_json::Value {
    json!({
        "usagePlanId": plan,
        "keyId": key,
        "limit": r.effective_limit,
        "used": r.spent,
        "remaining": r.remaining,
        "periodStart": r.period_start,
        "periodEnd": r.period_end,
    })
}

/// `GET /apikeys` and `POST /apikeys`.
pub(crate) async fn api_keys(
    gw: &Arc<Gateway>,
    method: &Method,
    query: &str,
    body: &[u8],
) -> http::Response<Body> {
    match *method {
        Method::GET => {
            let values = query_value(query, "includeValues").as_deref() == Some("true");
            let snap = gw.snapshot();
            let items: Vec<_> = snap
                .traffic
                .keys
                .iter()
                .map(|k| {
                    let mut item = json!({
                        "id": k.name,
                        "name": k.name,
                        "enabled": k.enabled,
                        "usagePlans": k.usage_plans,
                        "source": k.source,
                    });
                    if values {
                        item["value"] = json!(k.value);
                    }
                    item
                })
                .collect();
            // `item` is the key the AWS CLI reads (botocore's wire name); `items` is kept.
            json_reply(StatusCode::OK, json!({ "items": items, "item": items }))
        }
        Method::POST => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields, rename_all = "camelCase")]
            struct NewKey {
                name: String,
                value: Option<String>,
                enabled: Option<bool>,
                #[serde(default)]
                usage_plans: Vec<String>,
                // AWS CreateApiKey fields that Portico accepts and does not keep.
                #[serde(default, rename = "description")]
                _description: Option<String>,
                #[serde(default, rename = "customerId")]
                _customer_id: Option<String>,
                #[serde(default, rename = "generateDistinctId")]
                _generate_distinct_id: Option<bool>,
                #[serde(default, rename = "stageKeys")]
                _stage_keys: Option<serde_json::Value>,
                #[serde(default, rename = "tags")]
                _tags: Option<serde_json::Value>,
            }
            let new: NewKey = match serde_json::from_slice(body) {
                Ok(k) => k,
                Err(e) => return bad_request(format!("invalid body: {e}")),
            };
            let key = RuntimeKey {
                name: new.name,
                value: new.value.unwrap_or_else(generate_value),
                enabled: new.enabled.unwrap_or(true),
                usage_plans: new.usage_plans,
            };
            match gw.create_key(key.clone()).await {
                Ok(generation) => json_reply(
                    StatusCode::CREATED,
                    json!({
                        "id": key.name,
                        "name": key.name,
                        "value": key.value,
                        "enabled": key.enabled,
                        "usagePlans": key.usage_plans,
                        "generation": generation,
                    }),
                ),
                Err(e) => key_error(&e),
            }
        }
        _ => json_reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"message": "Method Not Allowed"}),
        ),
    }
}

/// A refused key change: 409 for a name or value taken, 400 for an invalid one, 500 when it
/// could not be kept.
fn key_error(e: &KeyError) -> http::Response<Body> {
    let status = match e {
        KeyError::Conflict(_) => StatusCode::CONFLICT,
        KeyError::Invalid(_) => StatusCode::BAD_REQUEST,
        KeyError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    json_reply(status, json!({"message": e.to_string()}))
}

/// 40 random alphanumeric characters (from two v4 UUIDs' random bits).
fn generate_value() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(GENERATED_KEY_LEN);
    while out.len() < GENERATED_KEY_LEN {
        for b in uuid::Uuid::new_v4().as_bytes() {
            // 248 = 4 × 62: keep the distribution uniform.
            if *b < 248 && out.len() < GENERATED_KEY_LEN {
                out.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
            }
        }
    }
    out
}

pub(crate) fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name)
        .last()
        .map(|(_, v)| v.into_owned())
}

fn parse_date(s: &str) -> Option<Date> {
    let mut it = s.splitn(3, '-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

fn bad_request(message: String) -> http::Response<Body> {
    json_reply(StatusCode::BAD_REQUEST, json!({ "message": message }))
}

fn not_found(message: String) -> http::Response<Body> {
    json_reply(StatusCode::NOT_FOUND, json!({ "message": message }))
}
