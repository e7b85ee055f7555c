//! The audit log: events round-trip, are written with their change or not
//! at all, and read back newest first with filters and a cursor.

use serde_json::json;
use tessera_core::model::{Actor, AuditEvent, Project};
use tessera_core::{MemberId, OrgId, TokenId};
use tessera_store::{AuditQuery, Store, StoreError};

use crate::fixtures::*;

pub async fn audit_events_round_trip(store: &dyn Store) {
    let (_, org, owner) = Fx::with_org(store, "acme").await;
    let event = AuditEvent {
        id: "evt-900000".into(),
        org_id: org.id.clone(),
        at: T0 + hours(1),
        actor: Actor {
            member: Some(owner.id.clone()),
            token: Some(TokenId::generate(T0)),
        },
        action: "token:verify".into(),
        target: format!("member/{}:token/x", owner.id),
        ip: Some("2001:db8::1".into()),
        details: json!({ "snippet": "tsr_...abcd", "nested": { "ok": true, "n": [1, 2] } }),
    };
    store.append_audit(&event).await.unwrap();
    let all = store
        .list_audit(
            &org.id,
            &AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], event);
    assert_eq!(all[1].action, "org:create");
}

/// The audit line is part of the change: when it cannot be written (here,
/// a reused event id), the change is undone too.
pub async fn a_failed_audit_write_undoes_the_change(store: &dyn Store) {
    let (fx, org, _) = Fx::with_org(store, "acme").await;
    let project = Project {
        org_id: org.id.clone(),
        key: project_key("web"),
        name: "Web".into(),
        created_at: T0,
    };
    let mut reused = fx.event(&org.id, "project:create", "proj/web");
    reused.id = "evt-000001".into(); // the org's creation
    assert_fails!(
        store.create_project(&project, &reused).await,
        StoreError::Database(_)
    );
    assert!(store.list_projects(&org.id).await.unwrap().is_empty());
    fx.assert_actions(&org.id, "org:create").await;
}

fn event(
    org: &OrgId,
    id: &str,
    actor: Option<&MemberId>,
    action: &str,
    target: &str,
) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        org_id: org.clone(),
        at: T0,
        actor: Actor {
            member: actor.cloned(),
            token: None,
        },
        action: action.into(),
        target: target.into(),
        ip: None,
        details: json!(null),
    }
}

pub async fn list_audit_filters(store: &dyn Store) {
    let (acme, globex) = (OrgId::generate(T0), OrgId::generate(T0));
    let (ada, bob) = (MemberId::generate(T0), MemberId::generate(T0));
    let events = [
        event(
            &acme,
            "e01",
            Some(&ada),
            "token:create",
            "member/ada:token/1",
        ),
        event(
            &acme,
            "e02",
            Some(&bob),
            "token:delete",
            "member/bob:token/2",
        ),
        event(&acme, "e03", Some(&ada), "tokens:purge", "member/ada"),
        event(&acme, "e04", None, "session:create", "proj/a%b:flag/x"),
        event(&acme, "e05", None, "session:create", "proj/axb:flag/y"),
        event(&acme, "e06", Some(&ada), "token", "proj/a_b"),
        event(&acme, "e07", None, "member:create", "proj/aXb"),
        event(
            &globex,
            "e08",
            Some(&ada),
            "token:create",
            "member/ada:token/3",
        ),
    ];
    for e in &events {
        store.append_audit(e).await.unwrap();
    }
    let org = &acme;
    let ids = |query: AuditQuery| async move {
        let query = AuditQuery {
            limit: 100,
            ..query
        };
        let found = store.list_audit(org, &query).await.unwrap();
        found.into_iter().map(|e| e.id).collect::<Vec<_>>()
    };

    assert_eq!(
        ids(AuditQuery::default()).await,
        ["e07", "e06", "e05", "e04", "e03", "e02", "e01"]
    );
    let by_ada = AuditQuery {
        actor: Some(ada.clone()),
        ..AuditQuery::default()
    };
    assert_eq!(ids(by_ada).await, ["e06", "e03", "e01"]);
    let action = |a: &str| AuditQuery {
        action: Some(a.into()),
        ..AuditQuery::default()
    };
    assert_eq!(ids(action("token:create")).await, ["e01"]);
    assert_eq!(
        ids(action("token:")).await,
        ["e02", "e01"],
        "a prefix ends at the colon"
    );
    assert_eq!(ids(action("token")).await, ["e06"], "no colon: exact");
    assert!(
        ids(action("token:c")).await.is_empty(),
        "exact unless it ends with ':'"
    );
    let target = |t: &str| AuditQuery {
        target: Some(t.into()),
        ..AuditQuery::default()
    };
    assert_eq!(ids(target("member/ada")).await, ["e03", "e01"]);
    assert_eq!(ids(target("member/ada:")).await, ["e01"]);
    assert_eq!(ids(target("proj/a%")).await, ["e04"], "% is not a wildcard");
    assert_eq!(ids(target("proj/a_")).await, ["e06"], "_ is not a wildcard");
    assert!(
        ids(target("PROJ/")).await.is_empty(),
        "prefixes are case-sensitive"
    );
    let both = AuditQuery {
        actor: Some(ada.clone()),
        action: Some("token:".into()),
        target: Some("member/".into()),
        ..AuditQuery::default()
    };
    assert_eq!(ids(both).await, ["e01"]);
}

pub async fn list_audit_pages_with_a_cursor(store: &dyn Store) {
    let org = OrgId::generate(T0);
    for n in 1..=7 {
        store
            .append_audit(&event(&org, &format!("e{n:02}"), None, "token:verify", "t"))
            .await
            .unwrap();
    }
    let org = &org;
    let page = |before: Option<&str>, limit: u32| {
        let query = AuditQuery {
            before: before.map(str::to_owned),
            limit,
            ..AuditQuery::default()
        };
        async move {
            let found = store.list_audit(org, &query).await.unwrap();
            found.into_iter().map(|e| e.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(page(None, 3).await, ["e07", "e06", "e05"]);
    assert_eq!(page(Some("e05"), 3).await, ["e04", "e03", "e02"]);
    assert_eq!(page(Some("e02"), 3).await, ["e01"]);
    assert!(page(Some("e01"), 3).await.is_empty());
    assert_eq!(
        page(None, 0).await,
        ["e07"],
        "a limit of 0 still returns one"
    );
}

pub async fn list_audit_returns_at_most_1000(store: &dyn Store) {
    let org = OrgId::generate(T0);
    for n in 0..1001 {
        store
            .append_audit(&event(&org, &format!("e{n:04}"), None, "token:verify", "t"))
            .await
            .unwrap();
    }
    let query = AuditQuery {
        limit: 10_000,
        ..AuditQuery::default()
    };
    let found = store.list_audit(&org, &query).await.unwrap();
    assert_eq!(found.len(), 1000);
    assert_eq!(found[0].id, "e1000");
}

pub async fn ping_answers(store: &dyn Store) {
    store.ping().await.unwrap();
}
