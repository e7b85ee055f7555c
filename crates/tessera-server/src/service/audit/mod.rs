//! The org's audit log, newest first, a page at a time, with the people
//! and tokens it mentions named ([`names`]).

mod names;

use serde::Deserialize;
use tessera_api::{AuditActor, AuditEventResponse, AuditPage};
use tessera_core::model::AuditEvent;
use tessera_core::{resource, MemberId};
use tessera_store::AuditQuery;

use super::{Call, Caller, ServiceError, ServiceResult};
use crate::state::AuditIds;
use names::Names;

/// What to read of the log: the query of `GET /audit`, which the web page's
/// filters also send, so that one parser checks both.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only events by this member id.
    pub actor: Option<String>,
    /// `token:create`, or a prefix ending in `:` (`token:`); at most 512
    /// bytes (the document: 128 characters, as many as always fit).
    #[param(max_length = 128)]
    pub action: Option<String>,
    /// Only events whose target starts with this; at most 512 bytes (the
    /// document: 128 characters).
    #[param(max_length = 128)]
    pub target: Option<String>,
    /// The previous page's `next_cursor`.
    #[param(pattern = r"^[0-9a-f]{24}$")]
    pub before: Option<String>,
    /// 1 to 500; default 100. With `format=jsonl|csv`: at most this many
    /// events in all (any number; default every one).
    #[param(minimum = 1)]
    pub limit: Option<u32>,
    /// `json` (default): a page; `jsonl` or `csv`: every matching event, as
    /// one download.
    #[param(inline)]
    pub format: Option<AuditFormat>,
}

/// How `GET /audit` answers (see [`AuditParams::format`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditFormat {
    #[default]
    Json,
    Jsonl,
    Csv,
}

/// May the caller read the log? Front ends ask before showing its filters,
/// which name members and actions of people the caller may not watch.
pub fn may_read(caller: &Caller) -> bool {
    caller.allows("audit:read", resource::AUDIT_LOG)
}

/// One page of the log, filtered as `params` says.
pub async fn list(call: &Call, params: AuditParams) -> ServiceResult<AuditPage> {
    let (state, caller, _) = call.parts();
    caller.require("audit:read", resource::AUDIT_LOG)?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ServiceError::BadRequest(
            "limit must be between 1 and 500".into(),
        ));
    }
    if let Some(before) = &params.before {
        if !AuditIds::is_valid(before) {
            return Err(ServiceError::BadRequest(
                "before must be a cursor returned as next_cursor".into(),
            ));
        }
    }
    let actor = match &params.actor {
        Some(a) => Some(
            MemberId::parse(a)
                .map_err(|_| ServiceError::BadRequest("actor must be a member id".into()))?,
        ),
        None => None,
    };
    let bounded = |v: &Option<String>, name: &str| -> ServiceResult<()> {
        match v {
            Some(s) if s.len() > 512 => {
                Err(ServiceError::BadRequest(format!("{name} is too long")))
            }
            _ => Ok(()),
        }
    };
    bounded(&params.action, "action")?;
    bounded(&params.target, "target")?;
    let query = AuditQuery {
        actor,
        action: params.action,
        target: params.target,
        before: params.before,
        limit: limit + 1,
    };
    // One row more than asked tells whether another page exists.
    let mut events = state.store.list_audit(&caller.org.id, &query).await?;
    let next_cursor = if events.len() > limit as usize {
        events.truncate(limit as usize);
        events.last().map(|e| e.id.clone())
    } else {
        None
    };
    let names = Names::of(call, &events).await?;
    let items = events
        .into_iter()
        .map(|e| audit_response(e, &names))
        .collect();
    Ok(AuditPage { items, next_cursor })
}

fn audit_response(e: AuditEvent, names: &Names) -> AuditEventResponse {
    let member = e.actor.member.map(|m| m.to_string());
    let token = e.actor.token.map(|t| t.to_string());
    AuditEventResponse {
        id: e.id,
        at: e.at,
        actor: AuditActor {
            email: member.as_deref().and_then(|m| names.member(m)),
            token_name: token.as_deref().and_then(|t| names.token(t)),
            member,
            token,
        },
        action: e.action,
        target_name: names.target(&e.target),
        target: e.target,
        ip: e.ip,
        details: e.details,
    }
}
