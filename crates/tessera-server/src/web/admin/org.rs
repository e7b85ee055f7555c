//! The org's token policy and its audit log.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tessera_api::{AuditEventResponse, InactiveAction, TokenPolicyPatch, UpdateOrgRequest};

use super::{notice, query_of};
use crate::error::ApiError;
use crate::service::audit::AuditParams;
use crate::service::{audit, members, org};
use crate::state::AppState;
use crate::web::forms::{friendly, PageResult, Problems, WebForm};
use crate::web::render::{page, Layout};
use crate::web::scope::Choice;
use crate::web::session::WebUser;
use time::macros::format_description;

#[derive(Template)]
#[template(path = "admin_policy.html")]
struct PolicyPage {
    layout: Layout,
    /// The form, for who may change the policy; else the policy as text.
    editable: bool,
    require_expiration: bool,
    max_days: String,
    /// The inactivity rule: days (empty: off) and whether it revokes.
    inactive_days: String,
    revoke: bool,
    /// Expiry warning thresholds, comma-separated (empty: none).
    warning_days: String,
    notice: Option<&'static str>,
    problems: Problems,
}

/// `GET /admin/policy`: the org's token policy as `GET /api/v1/org` reads
/// it (with the same permission check).
pub(super) async fn policy(user: WebUser, RawQuery(raw): RawQuery) -> PageResult {
    let current = org::show(&user.call.caller)?.token_policy;
    Ok(page(
        StatusCode::OK,
        &PolicyPage {
            layout: user.layout("Token policy", "policy"),
            editable: org::may_update(&user.call.caller),
            require_expiration: current.require_expiration,
            max_days: current
                .max_lifetime_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            inactive_days: current
                .inactive_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            revoke: current.inactive_action == InactiveAction::Revoke,
            warning_days: joined_days(&current.expiry_warning_days.days()),
            notice: notice(&query_of(raw)),
            problems: Problems::default(),
        },
    ))
}

pub(super) async fn update_policy(
    State(_state): State<AppState>,
    user: WebUser,
    WebForm(form): WebForm,
) -> Response {
    let show = |problems: Problems| {
        page(
            problems.status(),
            &PolicyPage {
                layout: user.layout("Token policy", "policy"),
                editable: true,
                require_expiration: form.get("require_expiration") == "on",
                max_days: form.get("max_lifetime_days").to_owned(),
                inactive_days: form.get("inactive_days").to_owned(),
                revoke: form.get("inactive_action") == "revoke",
                warning_days: form.get("expiry_warning_days").to_owned(),
                notice: None,
                problems,
            },
        )
    };
    let days = |field: &'static str, empty: &str| match form.opt(field) {
        None => Ok(None),
        Some(text) => text.parse::<u32>().map(Some).map_err(|_| {
            Problems::field(
                field,
                format!("Enter a whole number of days, or leave it empty for {empty}."),
            )
        }),
    };
    let max = match days("max_lifetime_days", "no cap") {
        Ok(max) => max,
        Err(problems) => return show(problems),
    };
    let inactive = match days("inactive_days", "no inactivity rule") {
        Ok(inactive) => inactive,
        Err(problems) => return show(problems),
    };
    let warnings = match warning_days(form.get("expiry_warning_days")) {
        Ok(warnings) => warnings,
        Err(problems) => return show(problems),
    };
    let request = UpdateOrgRequest {
        name: None,
        token_policy: Some(TokenPolicyPatch {
            require_expiration: Some(form.get("require_expiration") == "on"),
            max_lifetime_days: Some(max),
            inactive_days: Some(inactive),
            inactive_action: Some(if form.get("inactive_action") == "revoke" {
                InactiveAction::Revoke
            } else {
                InactiveAction::Disable
            }),
            expiry_warning_days: Some(warnings),
        }),
        sso: None,
    };
    match org::update(&user.call, request).await {
        Ok(_) => Redirect::to("/admin/policy?done=saved").into_response(),
        Err(e) => show(Problems::from_api(
            e,
            &["max_lifetime_days", "inactive_days", "expiry_warning_days"],
        )),
    }
}
/// `14, 7, 1`.
fn joined_days(days: &[u32]) -> String {
    days.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The warning field: days separated by commas (or spaces); empty: none.
fn warning_days(text: &str) -> Result<Vec<u32>, Problems> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse::<u32>().map_err(|_| {
                Problems::field(
                    "expiry_warning_days",
                    "Enter whole numbers of days separated by commas, or leave it empty for no \
                     warnings.",
                )
            })
        })
        .collect()
}

// ---------------------------------------------------------------- audit

struct AuditRow {
    /// To the second, UTC.
    at: String,
    /// An email (or, for an event no member made, a dash); the id on hover.
    actor: String,
    actor_id: String,
    /// The token the actor used, by name; its id on hover.
    via_token: Option<(String, String)>,
    action: String,
    /// A member's email or a token's name and owner, else the raw target;
    /// the raw target on hover.
    target: String,
    target_raw: String,
    ip: String,
    /// The event's details as fields: name and value in words.
    details: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPageView {
    layout: Layout,
    actors: Vec<Choice>,
    action: String,
    target: String,
    rows: Vec<AuditRow>,
    next: Option<String>,
    problem: Option<String>,
    /// The filters as a query string, for the export links.
    export: String,
    /// The filters, only for who may read the log: they name members.
    filters: bool,
}

/// `GET /admin/audit?actor=&action=&target=&before=`: the API's own query
/// parameters ([`AuditParams`]), so one parser checks both.
pub(super) async fn audit(
    State(_state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let query = query_of(raw);
    let kept: Vec<(&str, String)> = ["actor", "action", "target", "before"]
        .into_iter()
        .filter_map(|k| query.opt(k).map(|v| (k, v)))
        .collect();
    // Who may not read the log sees neither the filters nor the members
    // they list: only the refusal.
    let filters = audit::may_read(&user.call.caller);
    let members = if filters {
        members::list(&user.call).await?.items
    } else {
        Vec::new()
    };
    let params = serde_urlencoded::to_string(&kept)
        .ok()
        .and_then(|q| serde_urlencoded::from_str::<AuditParams>(&q).ok());
    let (rows, next, problem) = match params {
        None => (
            Vec::new(),
            None,
            Some((
                StatusCode::BAD_REQUEST,
                "Those filters cannot be read.".to_owned(),
            )),
        ),
        Some(params) => match audit::list(&user.call, params).await {
            Ok(page) => (
                page.items.into_iter().map(audit_row).collect(),
                page.next_cursor
                    .map(|c| super::next_page_link("/admin/audit", &kept, &c)),
                None,
            ),
            Err(e) => {
                let e = ApiError::from(e);
                let problem = (e.status_and_code().0, friendly(&e));
                (Vec::new(), None, Some(problem))
            }
        },
    };
    let actor = query.get("actor");
    let mut actors = vec![Choice {
        value: String::new(),
        label: "Anyone".into(),
        checked: actor.is_empty(),
    }];
    actors.extend(members.iter().map(|m| Choice {
        checked: m.id == actor,
        value: m.id.clone(),
        label: m.email.clone(),
    }));
    // A refused read keeps the API's status (403 is not a bad filter).
    let (status, problem) = match problem {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    Ok(page(
        status,
        &AuditPageView {
            layout: user.layout("Audit log", "audit"),
            actors,
            action: query.get("action").to_owned(),
            target: query.get("target").to_owned(),
            rows,
            next,
            problem,
            filters,
            export: serde_urlencoded::to_string(
                kept.iter()
                    .filter(|(k, _)| *k != "before")
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default(),
        },
    ))
}

/// One event as people read it: names instead of ids (the API resolves
/// them, also for what was removed since), the time to the second, the
/// details as fields.
fn audit_row(e: AuditEventResponse) -> AuditRow {
    let actor_id = e.actor.member.clone().unwrap_or_default();
    let actor = e
        .actor
        .email
        .or(e.actor.member)
        .unwrap_or_else(|| "—".into());
    let via_token = e.actor.token.map(|id| {
        let name = e.actor.token_name.unwrap_or_else(|| id.clone());
        (name, id)
    });
    AuditRow {
        at: e
            .at
            .format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .unwrap_or_default(),
        actor,
        actor_id,
        via_token,
        action: e.action,
        target: e.target_name.unwrap_or_else(|| e.target.clone()),
        target_raw: e.target,
        ip: e.ip.unwrap_or_else(|| "—".into()),
        details: detail_fields(&e.details),
    }
}

/// A JSON object's fields as (name, value) pairs, each value in words.
fn detail_fields(details: &serde_json::Value) -> Vec<(String, String)> {
    let Some(fields) = details.as_object() else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|(name, value)| (name.replace('_', " "), in_words(value)))
        .collect()
}

/// A detail's value as people read it: text as it is, a list joined by
/// commas (`none` when empty), a set of flags (`changed`) as the names of
/// those set, another object as `name: value` pairs.
fn in_words(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items.iter().map(in_words).collect::<Vec<_>>().join(", "),
        Value::Object(map) if !map.is_empty() && map.values().all(Value::is_boolean) => map
            .iter()
            .filter(|(_, set)| set.as_bool() == Some(true))
            .map(|(name, _)| name.replace('_', " "))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(name, v)| format!("{}: {}", name.replace('_', " "), in_words(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn details_read_as_fields_in_words() {
        let details = serde_json::json!({
            "name": "CI deploy",
            "changed": { "expires_at": true, "name": false, "scope": true },
            "custom_roles": [],
            "to": { "max_lifetime_days": null, "require_expiration": true },
            "policy": [{ "effect": "allow", "actions": ["token:read"], "resources": ["proj/web:*"] }],
        });
        let fields: Vec<(String, String)> = super::detail_fields(&details);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {name} in {fields:?}"))
        };
        for (name, words) in [
            ("name", "CI deploy"),
            ("changed", "expires at, scope"),
            ("custom roles", "none"),
            ("to", "max lifetime days: none; require expiration: true"),
            (
                "policy",
                "actions: token:read; effect: allow; resources: proj/web:*",
            ),
        ] {
            assert_eq!(field(name), words, "{name}");
        }
    }
}
