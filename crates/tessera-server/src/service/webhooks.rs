//! Webhooks: an org's endpoints (admins), and the delivery of the events
//! the store queues for them.
//!
//! Endpoints are checked on `webhook:read|create|update|delete` at
//! `webhook/<id>`; pinging one or retrying a delivery is `webhook:update`.
//! A URL is refused with `400` when it is not an `http(s)` URL without
//! credentials, and with `422` when it resolves to a private, loopback or
//! link-local address (unless `webhook_allow_private`); the same check runs
//! again before every attempt (see [`crate::webhook_sender`]).
//!
//! The signing secret is made here and shown once, in the create answer.
//! Signing needs the secret itself, so the store keeps it as it is (as the
//! database already holds what would let anyone with it act for the org,
//! a separate key beside it would add nothing; see docs/webhooks.md).
//!
//! Delivery: every node runs [`deliver_due`] every second (tests call it
//! after moving the server's clock). It claims due deliveries with a lease,
//! sends each, and records the attempt: a `2xx` succeeds; anything else is
//! retried on the Standard Webhooks schedule
//! ([`tessera_core::webhook::RETRY_DELAYS`]), then marked `failed`.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};
use tessera_api::{
    CreateWebhookRequest, CreatedWebhookResponse, DeliveryList, DeliveryResponse, ErrorCode,
    UpdateWebhookRequest, WebhookList, WebhookResponse,
};
use tessera_core::resource;
use tessera_core::webhook::{next_attempt, unknown_event_type, Webhook, ALL_EVENTS};
use tessera_core::WebhookId;
use tessera_store::{AttemptOutcome, ClaimedDelivery, Delivery};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{event, not_found_as, Call, Caller, ServiceError, ServiceResult};
use crate::metrics::OutcomeLabels;
use crate::state::AppState;
use crate::webhook_sender::{self, Message, UrlError};

/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Most event types one endpoint lists.
pub const MAX_EVENTS: usize = 32;
/// Most endpoints per org.
pub const MAX_WEBHOOKS: usize = 50;
/// Deliveries one node claims per pass.
const CLAIM_BATCH: u32 = 32;
/// How long a claim holds a delivery: well past one attempt's timeout, so
/// only a node that died mid-send lets it run out.
const LEASE: time::Duration = time::Duration::seconds(120);
/// Deliveries `GET /webhooks/{id}/deliveries` lists, newest first.
const DELIVERY_PAGE: u32 = 100;

pub fn webhook_response(w: &Webhook) -> WebhookResponse {
    WebhookResponse {
        id: w.id.to_string(),
        url: w.url.clone(),
        events: w.events.clone(),
        description: w.description.clone(),
        created_at: w.created_at,
    }
}

pub fn delivery_response(d: &Delivery) -> DeliveryResponse {
    DeliveryResponse {
        id: d.id.clone(),
        event_id: d.event_id.clone(),
        event_type: d.event_type.clone(),
        status: d.status.as_str().to_owned(),
        attempts: d.attempts,
        last_response_code: d.last_response_code,
        last_error: d.last_error.clone(),
        next_attempt_at: d.next_attempt_at,
    }
}

/// The org's endpoints the caller may read, oldest first.
pub async fn list(call: &Call) -> ServiceResult<WebhookList> {
    let (state, caller, _) = call.parts();
    let hooks = state.store.list_webhooks(&caller.org.id).await?;
    let items = hooks
        .iter()
        .filter(|w| caller.allows("webhook:read", &resource::webhook(&w.id)))
        .map(webhook_response)
        .collect();
    Ok(WebhookList { items })
}

/// Makes an endpoint; the answer shows its signing secret, this once.
pub async fn create(
    call: &Call,
    request: CreateWebhookRequest,
) -> ServiceResult<CreatedWebhookResponse> {
    let (state, caller, now) = call.parts();
    let id = WebhookId::generate(now);
    let target = resource::webhook(&id);
    caller.require("webhook:create", &target)?;
    let events = events(request.events)?;
    let description = description(request.description)?;
    check_url(state, &request.url).await?;
    if state.store.list_webhooks(&caller.org.id).await?.len() >= MAX_WEBHOOKS {
        return Err(ServiceError::unprocessable(
            ErrorCode::ValidationFailed,
            format!("an organization has at most {MAX_WEBHOOKS} webhooks"),
        ));
    }
    let (secret, shown) = webhook_sender::new_secret();
    let webhook = Webhook {
        id,
        org_id: caller.org.id.clone(),
        url: request.url,
        events,
        description,
        secret,
        created_at: now,
    };
    let details = json!({ "url": webhook.url, "events": webhook.events });
    let event = event(state, caller, now, "webhook:create", target, details);
    state.store.create_webhook(&webhook, &event).await?;
    Ok(CreatedWebhookResponse {
        webhook: webhook_response(&webhook),
        secret: shown,
    })
}

/// One endpoint (never its secret).
pub async fn show(call: &Call, id: &str) -> ServiceResult<WebhookResponse> {
    let webhook = load(call, id, "webhook:read").await?;
    Ok(webhook_response(&webhook))
}

/// Changes an endpoint's URL, events or description.
pub async fn update(
    call: &Call,
    id: &str,
    request: UpdateWebhookRequest,
) -> ServiceResult<WebhookResponse> {
    let (state, caller, now) = call.parts();
    let mut webhook = load(call, id, "webhook:update").await?;
    let before = json!({ "url": webhook.url, "events": webhook.events });
    if let Some(list) = request.events {
        webhook.events = events(list)?;
    }
    if let Some(text) = request.description {
        webhook.description = description(Some(text))?;
    }
    if let Some(url) = request.url {
        check_url(state, &url).await?;
        webhook.url = url;
    }
    let details = json!({ "from": before,
                          "to": { "url": webhook.url, "events": webhook.events } });
    let target = resource::webhook(&webhook.id);
    let event = event(state, caller, now, "webhook:update", target, details);
    state
        .store
        .update_webhook(&webhook, &event)
        .await
        .map_err(not_found_as("webhook"))?;
    Ok(webhook_response(&webhook))
}

/// Deletes an endpoint and its deliveries (pending ones are not sent).
pub async fn delete(call: &Call, id: &str) -> ServiceResult<()> {
    let (state, caller, now) = call.parts();
    let webhook = load(call, id, "webhook:delete").await?;
    let details = json!({ "url": webhook.url });
    let target = resource::webhook(&webhook.id);
    let event = event(state, caller, now, "webhook:delete", target, details);
    state
        .store
        .delete_webhook(&caller.org.id, &webhook.id, &event)
        .await
        .map_err(not_found_as("webhook"))
}

/// An endpoint's deliveries, newest first.
pub async fn deliveries(call: &Call, id: &str) -> ServiceResult<DeliveryList> {
    let (state, caller, _) = call.parts();
    let webhook = load(call, id, "webhook:read").await?;
    let items = state
        .store
        .list_deliveries(&caller.org.id, &webhook.id, DELIVERY_PAGE)
        .await?;
    Ok(DeliveryList {
        items: items.iter().map(delivery_response).collect(),
    })
}

/// Sends a `webhook.ping` at once: the delivery as it stands after.
pub async fn ping(call: &Call, id: &str) -> ServiceResult<DeliveryResponse> {
    let (state, _, now) = call.parts();
    let webhook = load(call, id, "webhook:update").await?;
    let delivery = state.store.ping_webhook(&webhook, now).await?;
    send_now(call, &webhook, &delivery).await
}

/// Sends a delivery again at once, whatever its status, with the same
/// `webhook-id`.
pub async fn retry(call: &Call, id: &str, delivery: &str) -> ServiceResult<DeliveryResponse> {
    let webhook = load(call, id, "webhook:update").await?;
    send_now(call, &webhook, delivery).await
}

async fn send_now(
    call: &Call,
    webhook: &Webhook,
    delivery: &str,
) -> ServiceResult<DeliveryResponse> {
    let (state, caller, now) = call.parts();
    let claimed = state
        .store
        .claim_delivery(&caller.org.id, &webhook.id, delivery, now, now + LEASE)
        .await
        .map_err(not_found_as("delivery"))?;
    match claimed {
        Some(claimed) => Ok(delivery_response(&deliver(state, &claimed).await?)),
        None => Err(ServiceError::Conflict {
            code: ErrorCode::InUse,
            message: "this delivery is being sent right now; look at it again in a moment".into(),
        }),
    }
}

/// May the caller see the org's endpoints at all? For front ends that
/// refuse a page whose every part would be refused; each operation checks
/// its own permission again.
pub fn may_read(caller: &Caller) -> bool {
    caller.allows("webhook:read", "webhook/*")
}

/// May the caller make endpoints (for offering the form only to them)?
pub fn may_create(caller: &Caller) -> bool {
    caller.allows("webhook:create", "webhook/*")
}

/// May the caller do `action` (`webhook:update`, `webhook:delete`) on the
/// endpoint `id`? For offering only the forms that can succeed.
pub fn may(caller: &Caller, action: &str, id: &str) -> bool {
    WebhookId::parse(id).is_ok_and(|id| caller.allows(action, &resource::webhook(&id)))
}

/// One delivery pass of this node: claims what is due (in batches of
/// [`CLAIM_BATCH`], until a batch comes back short), sends each batch
/// concurrently, records its attempts in one write, and refreshes the
/// queue's metrics. How many were sent (successfully or not).
///
/// Draining in one pass lets delivery follow the API's writes (a pass a
/// second of one batch could not pass 32 a second); one write per batch rather than per delivery
/// keeps the node's own delivery work from competing with those writes.
pub async fn deliver_due(state: &AppState) -> ServiceResult<usize> {
    let mut count = 0;
    loop {
        let now = state.now();
        let claimed = state
            .store
            .claim_deliveries(now, now + LEASE, CLAIM_BATCH)
            .await?;
        let batch = claimed.len();
        count += batch;
        let mut sending = tokio::task::JoinSet::new();
        for delivery in claimed {
            let state = state.clone();
            sending.spawn(async move {
                let outcome = attempt(&state, &delivery).await;
                (delivery.id, outcome)
            });
        }
        let mut attempts = Vec::with_capacity(batch);
        while let Some(done) = sending.join_next().await {
            match done {
                Ok(attempt) => attempts.push(attempt),
                // Its lease runs out and the delivery is sent again.
                Err(e) => tracing::warn!(error = %e, "a webhook delivery task failed"),
            }
        }
        state.store.record_attempts(&attempts).await?;
        if batch < CLAIM_BATCH as usize {
            break;
        }
    }
    let queue = state.store.delivery_queue().await?;
    let metrics = &state.metrics;
    metrics
        .webhook_queue_depth
        .set(i64::try_from(queue.pending).unwrap_or(i64::MAX));
    let age = queue
        .oldest_pending
        .map_or(0, |t| (state.now() - t).whole_seconds().max(0));
    metrics.webhook_oldest_pending_seconds.set(age);
    Ok(count)
}

/// The body of a delivery: `{"type", "timestamp", "data"}`. `data` is the
/// JSON object this server stored with the event: it goes in as stored,
/// checked but not parsed into a tree and written out again (that was a
/// third of a delivery's CPU time); anything else stored there is `null`.
pub fn body(claimed: &ClaimedDelivery) -> String {
    let stored = claimed.data.trim();
    let data = if stored.starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(stored).is_ok()
    {
        stored
    } else {
        "null"
    };
    let ty = Value::from(claimed.event_type.as_str());
    let timestamp = Value::from(claimed.event_at.format(&Rfc3339).unwrap_or_default());
    format!(r#"{{"type":{ty},"timestamp":{timestamp},"data":{data}}}"#)
}

/// Sends a claimed delivery once and records the attempt.
async fn deliver(state: &AppState, claimed: &ClaimedDelivery) -> ServiceResult<Delivery> {
    let outcome = attempt(state, claimed).await;
    Ok(state.store.record_attempt(&claimed.id, &outcome).await?)
}

/// Sends a claimed delivery once: the attempt's outcome, to record.
async fn attempt(state: &AppState, claimed: &ClaimedDelivery) -> AttemptOutcome {
    let body = body(claimed);
    let sent_at: OffsetDateTime = state.now();
    let message = Message {
        url: &claimed.url,
        id: &claimed.id,
        timestamp: sent_at.unix_timestamp(),
        body: body.as_bytes(),
        secret: &claimed.secret,
    };
    let timeout =
        std::time::Duration::from_millis(state.webhook_timeout_ms.load(Ordering::Relaxed));
    let allow_private = state.config.webhooks.allow_private;
    let connections = &state.webhook_connections;
    let answer = webhook_sender::send(connections, &message, allow_private, timeout).await;
    let succeeded = answer.error.is_none();
    let attempts = claimed.attempts.saturating_add(1);
    let next_attempt_at = if succeeded {
        None
    } else {
        next_attempt(attempts, state.now())
    };
    let outcome = match (succeeded, next_attempt_at) {
        (true, _) => "succeeded",
        (false, Some(_)) => "retrying",
        (false, None) => "failed",
    };
    state
        .metrics
        .webhook_deliveries
        .get_or_create(&OutcomeLabels {
            outcome: outcome.to_owned(),
        })
        .inc();
    if let Some(why) = &answer.error {
        tracing::info!(delivery = %claimed.id, webhook = %claimed.webhook_id, attempts, error = %why,
            "a webhook delivery failed");
    }
    AttemptOutcome {
        succeeded,
        response_code: answer.code,
        error: answer.error,
        next_attempt_at,
    }
}

/// The endpoint `id` names in the caller's org, once `action` on it is
/// allowed.
async fn load(call: &Call, id: &str, action: &str) -> ServiceResult<Webhook> {
    let (state, caller, _) = call.parts();
    let id = WebhookId::parse(id).map_err(|_| ServiceError::not_found("webhook"))?;
    caller.require(action, &resource::webhook(&id))?;
    state
        .store
        .get_webhook(&caller.org.id, &id)
        .await?
        .ok_or_else(|| ServiceError::not_found("webhook"))
}

async fn check_url(state: &AppState, url: &str) -> ServiceResult<()> {
    let refused = |e: UrlError| match e {
        UrlError::Malformed(m) => ServiceError::BadRequest(m),
        UrlError::Refused(m) => ServiceError::unprocessable(ErrorCode::ValidationFailed, m),
    };
    let target = webhook_sender::parse_url(url).map_err(refused)?;
    webhook_sender::resolve(&target, state.config.webhooks.allow_private)
        .await
        .map_err(refused)?;
    Ok(())
}

/// A subscription list: `["*"]` or known types, each once.
fn events(list: Vec<String>) -> ServiceResult<Vec<String>> {
    if list.is_empty() {
        return Err(ServiceError::BadRequest(
            "events: name at least one event type, or \"*\" for all".into(),
        ));
    }
    if list.len() > MAX_EVENTS {
        return Err(ServiceError::BadRequest(format!(
            "events: at most {MAX_EVENTS}"
        )));
    }
    if let Some(unknown) = unknown_event_type(&list) {
        return Err(ServiceError::BadRequest(format!(
            "events: unknown event type `{unknown}` (see docs/webhooks.md for the list)"
        )));
    }
    if list.iter().any(|e| e == ALL_EVENTS) {
        return Ok(vec![ALL_EVENTS.to_owned()]);
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for e in list {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

fn description(text: Option<String>) -> ServiceResult<Option<String>> {
    match text {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) if text.chars().count() > MAX_DESCRIPTION_CHARS => {
            Err(ServiceError::unprocessable(
                ErrorCode::ValidationFailed,
                format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ))
        }
        Some(text) => Ok(Some(text)),
    }
}

#[cfg(test)]
mod tests {
    use tessera_core::{OrgId, WebhookId};
    use time::macros::datetime;

    use super::*;

    fn claimed(data: &str) -> ClaimedDelivery {
        let at = datetime!(2026-12-08 01:02:03 UTC);
        ClaimedDelivery {
            id: "msg_1".into(),
            org_id: OrgId::generate(at),
            webhook_id: WebhookId::generate(at),
            url: "https://hooks.example/x".into(),
            secret: vec![0; 32],
            attempts: 0,
            event_type: "token.created".into(),
            event_at: at,
            data: data.into(),
        }
    }

    #[test]
    fn the_body_carries_the_stored_data_as_it_is() {
        let data = r#"{"token_id":"t1","name":"ci \"prod\"","projects":["a"],"n":1.5}"#;
        let body: Value = serde_json::from_str(&body(&claimed(data))).unwrap();
        assert_eq!(
            body,
            json!({
                "type": "token.created",
                "timestamp": "2026-12-08T01:02:03Z",
                "data": serde_json::from_str::<Value>(data).unwrap(),
            })
        );
    }

    #[test]
    fn stored_data_that_is_not_a_json_object_is_sent_as_null() {
        for stored in [
            "",
            "not json",
            r#"{"a":"#,
            "[1,2]",
            "1",
            r#"{"a":1} {"#,
            r#"{"a":1}, "x""#,
        ] {
            let body: Value = serde_json::from_str(&body(&claimed(stored)))
                .unwrap_or_else(|e| panic!("{stored:?} made an invalid body: {e}"));
            assert_eq!(body["data"], Value::Null, "{stored:?}");
        }
    }
}
