//! Disable and enable, the org-wide inventory query, and the inactivity
//! rule's reads and conditional changes.

use tessera_core::model::Token;
use tessera_core::{BuiltinRole, InactiveAction, TokenPolicy};
use tessera_store::{LastUsed, Store, StoreError, TokenOrder, TokenPosition, TokenQuery};

use crate::fixtures::{hours, token_record, Fx, T0};

fn ids(tokens: &[Token]) -> Vec<&str> {
    tokens.iter().map(|t| t.name.as_str()).collect()
}

pub async fn disable_and_enable_change_once_and_audit_once(store: &dyn Store) {
    let (fx, org, ada) = Fx::with_org(store, "acme").await;
    let token = fx.token(&ada, "ci", T0).await;
    let event = || fx.event(&org.id, "token:disable", "t");

    let at = T0 + hours(1);
    let saved = store
        .disable_token(&token.id, at, None, &event())
        .await
        .unwrap()
        .expect("it was enabled");
    assert_eq!(saved.disabled_at, Some(at));
    assert_eq!(store.get_token(&token.id).await.unwrap(), Some(saved));
    // Again: nothing to do, no audit, the first time kept.
    let again = store
        .disable_token(&token.id, at + hours(1), None, &event())
        .await
        .unwrap();
    assert_eq!(again, None);
    assert_eq!(
        store
            .get_token(&token.id)
            .await
            .unwrap()
            .unwrap()
            .disabled_at,
        Some(at)
    );

    let enable = || fx.event(&org.id, "token:enable", "t");
    let enabled = store.enable_token(&token.id, at, &enable()).await.unwrap();
    assert_eq!(enabled.expect("it was disabled").disabled_at, None);
    assert_eq!(
        store.enable_token(&token.id, at, &enable()).await.unwrap(),
        None
    );
    fx.assert_actions(
        &org.id,
        "org:create token:create token:disable token:enable",
    )
    .await;

    let missing = token_record(&ada, "gone", T0).id;
    assert!(matches!(
        store.disable_token(&missing, at, None, &event()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.enable_token(&missing, at, &enable()).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn conditional_changes_recheck_the_last_use(store: &dyn Store) {
    let (fx, org, ada) = Fx::with_org(store, "acme").await;
    let idle = fx.token(&ada, "idle", T0).await;
    let used = fx.token(&ada, "used", T0).await;
    let use_at = T0 + hours(48);
    store
        .record_last_used(&[LastUsed {
            token: used.id.clone(),
            at: use_at,
            ip: None,
        }])
        .await
        .unwrap();
    let cutoff = T0 + hours(24);
    let event = |action: &str| fx.event(&org.id, action, "t");
    // Used after the cutoff: neither disabled nor revoked.
    assert_eq!(
        store
            .disable_token(&used.id, use_at, Some(cutoff), &event("token:disable"))
            .await
            .unwrap(),
        None
    );
    assert!(!store
        .revoke_inactive_token(&used.id, cutoff, &event("token:delete"))
        .await
        .unwrap());
    // Never used and created before the cutoff: it counts from creation.
    assert!(store
        .disable_token(&idle.id, use_at, Some(cutoff), &event("token:disable"))
        .await
        .unwrap()
        .is_some());
    assert!(store
        .revoke_inactive_token(&idle.id, cutoff, &event("token:delete"))
        .await
        .unwrap());
    assert_eq!(store.get_token(&idle.id).await.unwrap(), None);
    assert!(!store
        .revoke_inactive_token(&idle.id, cutoff, &event("token:delete"))
        .await
        .unwrap());
    fx.assert_actions(
        &org.id,
        "org:create token:create token:create token:disable token:delete",
    )
    .await;
}

pub async fn inactive_tokens_follow_each_orgs_rule(store: &dyn Store) {
    let (fx, [(mut acme, ada), (other, bob)]) = Fx::with_two_orgs(store).await;
    acme.token_policy = TokenPolicy {
        inactive_days: Some(10),
        ..TokenPolicy::default()
    };
    fx.update_org(&acme).await.unwrap();
    let old = fx.token(&ada, "old", T0).await;
    let fresh = fx.token(&ada, "fresh", T0 + hours(24 * 5)).await;
    let off = fx.token(&bob, "off", T0).await; // the other org has no rule
    let now = T0 + hours(24 * 12);
    let found = store.inactive_tokens(now, 100).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].token.id, old.id);
    assert_eq!(found[0].days, 10);
    assert_eq!(found[0].action, InactiveAction::Disable);
    assert_eq!(found[0].unused_before, now - hours(24 * 10));

    // Disabled tokens are done for "disable", still due for "revoke".
    let event = fx.event(&acme.id, "token:disable", "t");
    store
        .disable_token(&old.id, now, None, &event)
        .await
        .unwrap();
    assert!(store.inactive_tokens(now, 100).await.unwrap().is_empty());
    acme.token_policy.inactive_action = InactiveAction::Revoke;
    fx.update_org(&acme).await.unwrap();
    let later = now + hours(24 * 10);
    let found: Vec<_> = store
        .inactive_tokens(later, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.token.id, i.action))
        .collect();
    assert_eq!(
        found,
        vec![
            (old.id.clone(), InactiveAction::Revoke),
            (fresh.id.clone(), InactiveAction::Revoke)
        ]
    );
    assert_eq!(store.inactive_tokens(later, 1).await.unwrap().len(), 1);
    let _ = (other, off);
}

pub async fn the_inventory_filters_and_pages(store: &dyn Store) {
    let (fx, [(org, ada), (other, bob)]) = Fx::with_two_orgs(store).await;
    let bea = fx
        .member(&org.id, "bea@example.com", BuiltinRole::Writer)
        .await;
    let mut made = Vec::new();
    for (i, (owner, name)) in [
        (&ada, "Deploy CI"),
        (&bea, "deploy_100%"),
        (&ada, "laptop"),
        (&bea, "backup"),
        (&ada, "deployer"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut token = token_record(owner, name, T0 + hours(i as i64));
        token.expires_at = Some(T0 + hours(100 + i as i64));
        fx.save_token(&token).await;
        made.push(token);
    }
    fx.token(&bob, "deploy elsewhere", T0).await;
    let org_id = &org.id;
    let query = |q: TokenQuery| async move { store.query_tokens(org_id, &q).await.unwrap() };
    let all = TokenQuery {
        limit: 100,
        ..TokenQuery::default()
    };

    assert_eq!(
        ids(&query(all.clone()).await),
        ["deployer", "backup", "laptop", "deploy_100%", "Deploy CI"]
    );
    let mine = TokenQuery {
        member: Some(bea.id.clone()),
        ..all.clone()
    };
    assert_eq!(ids(&query(mine).await), ["backup", "deploy_100%"]);
    let named = |q: &str| TokenQuery {
        name_contains: Some(q.into()),
        ..all.clone()
    };
    assert_eq!(
        ids(&query(named("DEPLOY")).await),
        ["deployer", "deploy_100%", "Deploy CI"]
    );
    // `%` and `_` are plain characters.
    assert_eq!(ids(&query(named("y_1")).await), ["deploy_100%"]);
    assert_eq!(ids(&query(named("0%")).await), ["deploy_100%"]);
    assert!(query(named("%")).await.len() == 1);
    assert!(query(named("_")).await.len() == 1);
    let expiring = TokenQuery {
        expires_before: Some(T0 + hours(102)),
        ..all.clone()
    };
    assert_eq!(ids(&query(expiring).await), ["deploy_100%", "Deploy CI"]);

    // Last use: "laptop" long ago, "backup" recently; the rest never.
    let uses = [(2, T0 + hours(10)), (3, T0 + hours(50))].map(|(i, at)| LastUsed {
        token: made[i].id.clone(),
        at,
        ip: None,
    });
    store.record_last_used(&uses).await.unwrap();
    let unused = TokenQuery {
        unused_since: Some(T0 + hours(20)),
        ..all.clone()
    };
    // Never used counts from creation (all created before T0 + 20h).
    assert_eq!(
        ids(&query(unused).await),
        ["deployer", "laptop", "deploy_100%", "Deploy CI"]
    );
    let by_use = TokenQuery {
        order: TokenOrder::LastUsed,
        ..all.clone()
    };
    assert_eq!(
        ids(&query(by_use.clone()).await),
        ["backup", "laptop", "deployer", "deploy_100%", "Deploy CI"]
    );

    // Pages of two, in both orders, neither repeat nor skip.
    for order in [all.clone(), by_use] {
        let every = query(order.clone()).await;
        let mut paged = Vec::new();
        let mut after: Option<TokenPosition> = None;
        loop {
            let page = query(TokenQuery {
                limit: 2,
                after: after.clone(),
                ..order.clone()
            })
            .await;
            let Some(last) = page.last() else { break };
            after = Some(TokenPosition {
                key: match order.order {
                    TokenOrder::Newest => Some(last.created_at),
                    TokenOrder::LastUsed => last.last_used_at,
                },
                id: last.id.clone(),
            });
            paged.extend(page);
        }
        assert_eq!(ids(&paged), ids(&every));
    }

    let event = fx.event(&org.id, "token:disable", "t");
    store
        .disable_token(&made[0].id, T0, None, &event)
        .await
        .unwrap();
    let disabled = TokenQuery {
        disabled: Some(true),
        ..all.clone()
    };
    assert_eq!(ids(&query(disabled).await), ["Deploy CI"]);
    let _ = other;
}
