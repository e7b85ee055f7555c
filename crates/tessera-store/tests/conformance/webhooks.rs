//! Webhooks: endpoints, the outbox written with each change, and claims.

use std::collections::BTreeSet;

use tessera_core::webhook::Webhook;
use tessera_core::{OrgId, WebhookId};
use tessera_store::{AttemptOutcome, DeliveryStatus, Store, StoreError};

use crate::fixtures::*;

fn webhook_record(org: &OrgId, events: &[&str]) -> Webhook {
    Webhook {
        id: WebhookId::generate(T0),
        org_id: org.clone(),
        url: "https://hooks.example.com/tessera".into(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        description: Some("ops".into()),
        secret: vec![7; 32],
        created_at: T0,
    }
}

async fn save(fx: &Fx<'_>, webhook: &Webhook) {
    let event = fx.event(&webhook.org_id, "webhook:create", "webhook");
    fx.store.create_webhook(webhook, &event).await.unwrap();
}

/// Everything due by the end of the fixtures' day, leased for an hour.
async fn claim(store: &dyn Store, limit: u32) -> Vec<tessera_store::ClaimedDelivery> {
    let now = T0 + hours(24);
    store
        .claim_deliveries(now, now + hours(1), limit)
        .await
        .unwrap()
}

pub async fn changes_write_deliveries_for_subscribed_endpoints(store: &dyn Store) {
    let (fx, [(acme, owner), (globex, globex_owner)]) = Fx::with_two_orgs(store).await;
    let tokens_only = webhook_record(&acme.id, &["token.created"]);
    save(&fx, &tokens_only).await;
    let everything = webhook_record(&acme.id, &["*"]);
    save(&fx, &everything).await;
    assert_eq!(
        store.get_webhook(&acme.id, &tokens_only.id).await.unwrap(),
        Some(tokens_only.clone())
    );
    assert_eq!(
        store
            .get_webhook(&globex.id, &tokens_only.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.list_webhooks(&acme.id).await.unwrap().len(), 2);
    // Making endpoints reports nothing to them.
    assert!(claim(store, 10).await.is_empty());

    let token = fx.token(&owner, "ci", T0).await;
    // Another org's change reaches neither.
    fx.token(&globex_owner, "theirs", T0).await;
    // A change that fails writes no event.
    let again = fx.event(&acme.id, "token:create", "token");
    assert!(matches!(
        store.create_token(&token, &again).await,
        Err(StoreError::Conflict(_))
    ));
    let mut claimed = claim(store, 10).await;
    claimed.sort_by(|a, b| a.url.cmp(&b.url).then(a.webhook_id.cmp(&b.webhook_id)));
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    assert!(claimed.iter().all(|c| c.event_type == "token.created"));
    assert!(claimed
        .iter()
        .all(|c| c.secret == vec![7; 32] && c.attempts == 0));
    assert_eq!(claimed[0].event_at, claimed[1].event_at);
    let data: serde_json::Value = serde_json::from_str(&claimed[0].data).unwrap();
    assert_eq!(data["n"], 5, "the audit details: {data}");
    // Leased: nobody else takes them meanwhile.
    assert!(claim(store, 10).await.is_empty());

    // A failure with a next attempt stays pending; success ends it.
    let (first, second) = (&claimed[0], &claimed[1]);
    let ok = AttemptOutcome {
        succeeded: true,
        response_code: Some(204),
        error: None,
        next_attempt_at: None,
    };
    store.record_attempt(&second.id, &ok).await.unwrap();
    let retry_at = T0 + hours(30);
    let failed = store
        .record_attempt(
            &first.id,
            &AttemptOutcome {
                succeeded: false,
                response_code: Some(500),
                error: Some("answered 500".into()),
                next_attempt_at: Some(retry_at),
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.status, DeliveryStatus::Pending);
    assert_eq!((failed.attempts, failed.last_response_code), (1, Some(500)));
    assert_eq!(failed.next_attempt_at, Some(retry_at));
    assert!(
        claim(store, 10).await.is_empty(),
        "not due before {retry_at}"
    );
    let later = retry_at + hours(1);
    let again = store
        .claim_deliveries(later, later + hours(1), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].id.as_str(), again[0].attempts),
        (first.id.as_str(), 1)
    );
    let done = store.record_attempt(&first.id, &ok).await.unwrap();
    assert_eq!(done.status, DeliveryStatus::Succeeded);
    assert_eq!(done.next_attempt_at, None);

    // Only the `*` endpoint hears of a member.
    fx.member(
        &acme.id,
        "new@example.com",
        tessera_core::BuiltinRole::Reader,
    )
    .await;
    let member_added = claim(store, 10).await;
    assert_eq!(member_added.len(), 1, "{member_added:?}");
    assert_eq!(member_added[0].event_type, "member.added");
    assert_eq!(member_added[0].webhook_id, everything.id);
    // A lease that ran out (its node died) lets another claim it.
    let much_later = T0 + hours(100);
    let due = store
        .claim_deliveries(much_later, much_later + hours(1), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, member_added[0].id);
    // A pass's attempts are recorded in one write; a delivery gone
    // meanwhile (its endpoint deleted) does not fail the others.
    let refused = AttemptOutcome {
        succeeded: false,
        response_code: Some(503),
        error: Some("answered 503".into()),
        next_attempt_at: Some(much_later + hours(1)),
    };
    store
        .record_attempts(&[
            (due[0].id.clone(), refused.clone()),
            ("no-such-delivery".into(), ok.clone()),
        ])
        .await
        .unwrap();
    let recorded = store
        .list_deliveries(&acme.id, &everything.id, 10)
        .await
        .unwrap();
    let recorded = recorded.iter().find(|d| d.id == due[0].id).unwrap();
    assert_eq!(
        (
            recorded.status,
            recorded.attempts,
            recorded.last_response_code
        ),
        (DeliveryStatus::Pending, 1, Some(503))
    );

    // A hand-made retry claims one delivery whatever its status.
    let ping = store.ping_webhook(&tokens_only, much_later).await.unwrap();
    let listed = store
        .list_deliveries(&acme.id, &tokens_only.id, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, ping, "newest first");
    assert_eq!(listed[0].event_type, "webhook.ping");
    let succeeded = &listed[1];
    assert_eq!(succeeded.status, DeliveryStatus::Succeeded);
    let retried = store
        .claim_delivery(
            &acme.id,
            &tokens_only.id,
            &succeeded.id,
            much_later,
            much_later + hours(1),
        )
        .await
        .unwrap()
        .expect("not held");
    assert_eq!(retried.id, succeeded.id);
    assert!(matches!(
        store
            .claim_delivery(
                &globex.id,
                &tokens_only.id,
                &first.id,
                much_later,
                much_later
            )
            .await,
        Err(StoreError::NotFound)
    ));
    let queue = store.delivery_queue().await.unwrap();
    assert!(queue.pending >= 1);

    // Finished deliveries are purged once old; pending ones stay.
    let everything_before = store
        .list_deliveries(&acme.id, &everything.id, 10)
        .await
        .unwrap();
    let finished = everything_before
        .iter()
        .filter(|d| d.status != DeliveryStatus::Pending)
        .count();
    assert_eq!(finished, 1, "{everything_before:?}");
    // (tokens_only's deliveries are both pending: the ping, and the one
    // claimed for a retry.)
    assert_eq!(store.purge_deliveries(T0 + hours(1000)).await.unwrap(), 1);
    let left = store
        .list_deliveries(&acme.id, &everything.id, 10)
        .await
        .unwrap();
    assert!(left.iter().all(|d| d.status == DeliveryStatus::Pending));
    assert_eq!(left.len(), everything_before.len() - finished);

    // Deleting an endpoint deletes its deliveries.
    let event = fx.event(&acme.id, "webhook:delete", "webhook");
    store
        .delete_webhook(&acme.id, &tokens_only.id, &event)
        .await
        .unwrap();
    assert!(store
        .list_deliveries(&acme.id, &tokens_only.id, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn concurrent_claims_take_each_delivery_once(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    save(&fx, &webhook_record(&org.id, &["*"])).await;
    for i in 0..20 {
        fx.token(&owner, &format!("t{i}"), T0).await;
    }
    let now = T0 + hours(24);
    let (a, b) = tokio::join!(
        store.claim_deliveries(now, now + hours(1), 20),
        store.claim_deliveries(now, now + hours(1), 20),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let ids: BTreeSet<&str> = a.iter().chain(&b).map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), a.len() + b.len(), "a delivery was claimed twice");
    assert_eq!(ids.len(), 20);
}
