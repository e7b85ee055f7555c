//! Webhooks: the event types an org's endpoints may subscribe to, which
//! audited change reports which event (and with what `data`), and the
//! retry schedule of a failed delivery. Pure rules; the store writes the
//! events in the change's own transaction, the server delivers them.

use serde_json::{json, Map, Value};
use time::{Duration, OffsetDateTime};

use crate::model::AuditEvent;
use crate::{OrgId, WebhookId};

/// Every event type an endpoint may subscribe to (`"*"` means all).
pub const EVENT_TYPES: &[&str] = &[
    "token.created",
    "token.updated",
    "token.rotated",
    "token.cloned",
    "token.revoked",
    "token.disabled",
    "token.enabled",
    "token.expiring",
    "token.expired",
    "member.added",
    "member.updated",
    "member.removed",
    "service_account.created",
    "service_account.updated",
    "service_account.deleted",
    "webhook.ping",
];

/// Subscribes to every type.
pub const ALL_EVENTS: &str = "*";

/// After the n-th failed attempt, the next one waits `RETRY_DELAYS[n-1]`
/// (the Standard Webhooks schedule); after the last, the delivery failed.
pub const RETRY_DELAYS: &[Duration] = &[
    Duration::seconds(5),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(5),
    Duration::hours(10),
    Duration::hours(10),
];

/// When to try again after `attempts` failed attempts; `None`: give up.
pub fn next_attempt(attempts: u32, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_DELAYS.get(index).map(|delay| now + *delay)
}

/// A webhook endpoint. `secret` is the raw signing key (the bytes after
/// `whsec_`, base64-decoded); `Debug` leaves it out.
#[derive(Clone, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub org_id: OrgId,
    pub url: String,
    /// Event types, or `["*"]`.
    pub events: Vec<String>,
    pub description: Option<String>,
    pub secret: Vec<u8>,
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("description", &self.description)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl Webhook {
    /// Whether this endpoint wants events of type `ty` (pings always).
    pub fn wants(&self, ty: &str) -> bool {
        ty == "webhook.ping" || self.events.iter().any(|e| e == ALL_EVENTS || e == ty)
    }
}

/// Whether `events` is a valid subscription list: `["*"]`, or known types.
/// The first unknown type, if any.
pub fn unknown_event_type(events: &[String]) -> Option<&str> {
    events
        .iter()
        .map(String::as_str)
        .find(|e| *e != ALL_EVENTS && !EVENT_TYPES.contains(e))
}

/// The webhook event an audited change reports, if any: its type and the
/// audit's part of its `data` (ids, names, snippets, who and why), which
/// never includes a token's value or any secret. [`with_subject`] puts the
/// subject's metadata, as the API shows it, around that.
pub fn event_for(audit: &AuditEvent) -> Option<(&'static str, Value)> {
    let details = audit.details.as_object().cloned().unwrap_or_default();
    let reason = details
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("deleted")
        .to_owned();
    let ty = match audit.action.as_str() {
        "token:create" => "token.created",
        "token:update" => "token.updated",
        "token:rotate" => "token.rotated",
        "token:clone" => "token.cloned",
        "token:delete" => "token.revoked",
        "token:disable" => "token.disabled",
        "token:enable" => "token.enabled",
        "member:create" => "member.added",
        "member:update" => "member.updated",
        "member:delete" => "member.removed",
        "service_account:create" => "service_account.created",
        "service_account:update" => "service_account.updated",
        "service_account:delete" => "service_account.deleted",
        _ => return None,
    };
    let mut data = Map::new();
    for (key, id) in target_ids(&audit.target) {
        data.insert(key.to_owned(), json!(id));
    }
    data.insert(
        "actor".to_owned(),
        json!({
            "member_id": audit.actor.member.as_ref().map(|m| m.as_str()),
            "token_id": audit.actor.token.as_ref().map(|t| t.as_str()),
        }),
    );
    for (key, value) in details {
        data.entry(key).or_insert(value);
    }
    if ty == "token.revoked" {
        data.insert("reason".to_owned(), json!(reason));
    }
    Some((ty, Value::Object(data)))
}

/// An event's `data`: the metadata of what it is about (a token, member
/// or service account, as the API shows it), plus from the audit's part
/// `actor`, `reason` (of `token.revoked`) and whatever else the audit
/// recorded (such as `changed`, `source`) that the metadata does not
/// already hold. Without a subject (it could not be read), the audit's
/// part alone.
pub fn with_subject(audit_part: Value, subject: Option<Value>) -> Value {
    let Some(Value::Object(mut data)) = subject else {
        return audit_part;
    };
    if let Value::Object(part) = audit_part {
        for (key, value) in part {
            if key == "actor" || key == "reason" {
                data.insert(key, value);
            } else {
                data.entry(key).or_insert(value);
            }
        }
    }
    Value::Object(data)
}

/// The ids a target names: `member/<id>:token/<id>` gives `member_id` and
/// `token_id`.
pub fn target_ids(target: &str) -> Vec<(&'static str, &str)> {
    target
        .split(':')
        .filter_map(|part| {
            let (kind, id) = part.split_once('/')?;
            let key = match kind {
                "member" => "member_id",
                "token" => "token_id",
                "service_account" => "service_account_id",
                _ => return None,
            };
            Some((key, id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Actor;
    use time::macros::datetime;

    fn audit(action: &str, target: &str, details: Value) -> AuditEvent {
        AuditEvent {
            id: "a".into(),
            org_id: OrgId::from_trusted("o".into()),
            at: datetime!(2026-12-01 0:00 UTC),
            actor: Actor::default(),
            action: action.into(),
            target: target.into(),
            ip: None,
            details,
        }
    }

    #[test]
    fn audited_changes_map_to_event_types() {
        let (ty, data) = event_for(&audit(
            "token:delete",
            "member/m1:token/t1",
            json!({"name": "ci", "snippet": "tk_…abcd"}),
        ))
        .expect("an event");
        assert_eq!(ty, "token.revoked");
        assert_eq!(data["reason"], "deleted");
        assert_eq!(data["member_id"], "m1");
        assert_eq!(data["token_id"], "t1");
        let (_, data) = event_for(&audit(
            "token:delete",
            "service_account/s:token/t",
            json!({"reason": "leak_report"}),
        ))
        .expect("an event");
        assert_eq!(data["reason"], "leak_report");
        assert_eq!(data["service_account_id"], "s");
        assert!(event_for(&audit("session:create", "member/m", json!({}))).is_none());
        for action in ["token:create", "member:create", "service_account:delete"] {
            let (ty, _) = event_for(&audit(action, "member/m", json!({}))).expect(action);
            assert!(EVENT_TYPES.contains(&ty), "{ty}");
        }
    }

    #[test]
    fn the_subject_comes_first_then_who_and_why() {
        let part = json!({"token_id": "t", "actor": {"member_id": "m"}, "reason": "inactive",
            "name": "old", "changed": ["name"]});
        let subject = json!({"id": "t", "name": "new", "reason": "not this"});
        let data = with_subject(part.clone(), Some(subject));
        assert_eq!(data["name"], "new");
        assert_eq!(data["reason"], "inactive");
        assert_eq!(data["actor"]["member_id"], "m");
        assert_eq!(data["changed"], json!(["name"]));
        assert_eq!(with_subject(part.clone(), None), part);
    }

    #[test]
    fn retries_follow_the_schedule_then_stop() {
        let now = datetime!(2026-12-01 0:00 UTC);
        assert_eq!(next_attempt(0, now), None);
        assert_eq!(next_attempt(1, now), Some(now + Duration::seconds(5)));
        assert_eq!(next_attempt(7, now), Some(now + Duration::hours(10)));
        assert_eq!(next_attempt(8, now), None);
        let total: Duration = RETRY_DELAYS.iter().copied().sum();
        assert!(total >= Duration::hours(24));
    }

    #[test]
    fn debug_leaves_the_secret_out() {
        let hook = Webhook {
            id: WebhookId::from_trusted("w".into()),
            org_id: OrgId::from_trusted("o".into()),
            url: "https://example.com/".into(),
            events: vec!["*".into()],
            description: None,
            secret: b"very-secret-bytes".to_vec(),
            created_at: datetime!(2026-12-01 0:00 UTC),
        };
        let shown = format!("{hook:?}");
        assert!(
            shown.contains("<redacted>") && !shown.contains("118, 101, 114"),
            "{shown}"
        );
    }

    #[test]
    fn subscriptions_name_known_types() {
        assert_eq!(unknown_event_type(&["*".into()]), None);
        assert_eq!(unknown_event_type(&["token.created".into()]), None);
        assert_eq!(
            unknown_event_type(&["token.created".into(), "nope".into()]),
            Some("nope")
        );
    }
}
