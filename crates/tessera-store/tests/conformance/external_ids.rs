//! Members carry the host product's id (`external_id`): unique in an org,
//! free across orgs, absent for local members, and a member found by it.

use tessera_core::{BuiltinRole, ExternalId};
use tessera_store::{Change, Store, StoreError, Unique};

use crate::fixtures::*;

fn ext(s: &str) -> ExternalId {
    ExternalId::parse(s).unwrap()
}

pub async fn members_are_found_by_external_id(store: &dyn Store) {
    let (fx, acme, owner) = Fx::with_org(store, "acme").await;
    assert_eq!(owner.external_id, None, "a local member has none");
    let mut ada = member_record(&acme.id, ADA, BuiltinRole::Writer);
    ada.external_id = Some(ext("user|42"));
    store
        .create_member(&ada, &fx.event(&acme.id, "member:create", "m"))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_member_by_external_id(&acme.id, &ext("user|42"))
            .await
            .unwrap(),
        Some(ada.clone())
    );
    assert_eq!(
        store.get_member(&acme.id, &ada.id).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(
        store
            .get_member_by_external_id(&acme.id, &ext("user|43"))
            .await
            .unwrap(),
        None
    );

    // Another org may use the same id for its own person.
    let (globex, _) = fx.org("globex").await;
    let mut other = member_record(&globex.id, ADA, BuiltinRole::Reader);
    other.external_id = Some(ext("user|42"));
    store
        .create_member(&other, &fx.event(&globex.id, "member:create", "m"))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_member_by_external_id(&globex.id, &ext("user|42"))
            .await
            .unwrap()
            .map(|m| m.id),
        Some(other.id)
    );
}

pub async fn an_external_id_names_one_member_of_an_org(store: &dyn Store) {
    let (fx, acme, owner) = Fx::with_org(store, "acme").await;
    let mut ada = member_record(&acme.id, ADA, BuiltinRole::Writer);
    ada.external_id = Some(ext("u1"));
    store
        .create_member(&ada, &fx.event(&acme.id, "member:create", "m"))
        .await
        .unwrap();
    // Creating a second member with it, or giving it to another, clashes
    // and says so (not as an email clash).
    let mut bob = member_record(&acme.id, "bob@example.com", BuiltinRole::Reader);
    bob.external_id = Some(ext("u1"));
    assert_fails!(
        store
            .create_member(&bob, &fx.event(&acme.id, "member:create", "m"))
            .await,
        StoreError::Conflict(Unique::ExternalId)
    );
    let event = fx.event(&acme.id, "member:update", "m");
    assert_fails!(
        store
            .set_external_id(&acme.id, &owner.id, Some(&ext("u1")), &event)
            .await,
        StoreError::Conflict(Unique::ExternalId)
    );
    // Local members (no external id) are any number.
    let carl = fx
        .member(&acme.id, "carl@example.com", BuiltinRole::Reader)
        .await;
    assert_eq!(carl.external_id, None);

    // Setting one announces the member (caches carry the id) and is read
    // back; clearing it too.
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = heard.clone();
    store.on_commit(std::sync::Arc::new(move |c: &Change| {
        log.lock().unwrap().push(c.clone())
    }));
    let event = fx.event(&acme.id, "member:update", "m");
    store
        .set_external_id(&acme.id, &owner.id, Some(&ext("u2")), &event)
        .await
        .unwrap();
    let saved = store
        .get_member(&acme.id, &owner.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.external_id, Some(ext("u2")));
    assert!(heard.lock().unwrap().contains(&Change::Member {
        id: owner.id.clone(),
        removed: false
    }));
    let event = fx.event(&acme.id, "member:update", "m");
    store
        .set_external_id(&acme.id, &owner.id, None, &event)
        .await
        .unwrap();
    let saved = store
        .get_member(&acme.id, &owner.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.external_id, None);
    // An unknown member is NotFound.
    assert_fails!(
        store
            .set_external_id(&acme.id, &bob.id, Some(&ext("u3")), &event)
            .await,
        StoreError::NotFound
    );
}
