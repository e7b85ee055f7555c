//! Expiry notices and the email outbox: each notice recorded once, each
//! email claimed by one claimant at a time, and again once its lease ends.

use std::collections::BTreeSet;

use tessera_core::model::Token;
use tessera_store::{EmailCounts, EmailOutcome, Store};

use crate::fixtures::*;

pub async fn expiry_notices_are_recorded_once_and_emails_claimed_once(store: &dyn Store) {
    let (fx, _org, owner) = Fx::with_org(store, "acme").await;
    // Made at T0, expiring a day later: inside the default 1-day warning.
    let mut tokens: Vec<Token> = Vec::new();
    for i in 0..20 {
        tokens.push(fx.expiring_token(&owner, &format!("t{i}")).await);
    }
    let now = T0 + hours(1);
    let candidates = store.expiry_candidates(now, 100).await.unwrap();
    assert_eq!(candidates.len(), 20);
    for candidate in &candidates {
        let expires_at = candidate.token.expires_at.unwrap();
        let due = candidate.warnings.due(expires_at, now).unwrap();
        assert_eq!(due.days, 1);
        assert!(store
            .record_expiry_notice(&candidate.token, due, now)
            .await
            .unwrap());
        // A second node (or pass) finds it recorded: nothing written twice.
        assert!(!store
            .record_expiry_notice(&candidate.token, due, now)
            .await
            .unwrap());
    }
    assert!(store.expiry_candidates(now, 100).await.unwrap().is_empty());
    // One warning email to the owner per token.
    assert_eq!(
        store.email_counts().await.unwrap(),
        EmailCounts {
            pending: 20,
            sent: 0,
            failed: 0
        }
    );

    // Two claimants at once share the emails without overlap.
    let lease = now + hours(1);
    let (a, b) = tokio::join!(
        store.claim_emails(now, lease, 20),
        store.claim_emails(now, lease, 20),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let ids: BTreeSet<&str> = a.iter().chain(&b).map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), a.len() + b.len(), "an email was claimed twice");
    assert_eq!(ids.len(), 20);
    let first = a.first().or(b.first()).unwrap().clone();
    assert_eq!(first.recipient, owner.email);
    assert_eq!(first.kind, tessera_store::EMAIL_EXPIRING);
    assert_eq!(first.attempts, 0);
    // Leased: nobody else gets them until the lease runs out.
    assert!(store.claim_emails(now, lease, 20).await.unwrap().is_empty());

    store
        .record_email_attempt(
            &first.id,
            &EmailOutcome {
                sent: true,
                error: None,
                next_attempt_at: None,
            },
        )
        .await
        .unwrap();
    // A claimant that died holding the others: they come back after the
    // lease, the sent one does not.
    let again = store
        .claim_emails(lease, lease + hours(1), 50)
        .await
        .unwrap();
    assert_eq!(again.len(), 19);
    assert!(again.iter().all(|e| e.id != first.id));
    assert_eq!(store.email_counts().await.unwrap().sent, 1);
}
