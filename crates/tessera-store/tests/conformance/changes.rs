//! This node hears of its own committed changes, at once: the
//! verification cache relies on it to never answer from a record this node
//! has just changed.

use std::sync::{Arc, Mutex};

use tessera_core::model::CustomRole;
use tessera_core::{BuiltinRole, MemberId, TokenId};
use tessera_store::{Change, Rotation, Store, StoreError, TokenChanges};

use crate::fixtures::*;

pub async fn each_committed_change_is_announced_to_this_node(store: &dyn Store) {
    let heard: Arc<Mutex<Vec<Change>>> = Arc::default();
    let sink = Arc::clone(&heard);
    store.on_commit(Arc::new(move |change: &Change| {
        sink.lock().unwrap().push(change.clone());
    }));
    let take = || std::mem::take(&mut *heard.lock().unwrap());
    let fx = Fx::new(store);
    let (mut org, owner) = fx.org("acme").await;
    let ada = fx.ada(&org.id, BuiltinRole::Writer).await;
    let role = fx.role(&org.id, "ci").await;
    fx.project(&org.id, "web").await;
    // Creating an org, a member or a project changes nothing cached.
    assert_eq!(take(), vec![Change::Roles(org.id.clone())]);

    org.name = "Acme Inc".into();
    fx.update_org(&org).await.unwrap();
    assert_eq!(take(), vec![Change::Org(org.id.clone())]);

    let token = fx.token(&ada, "ci", T0).await;
    let rename = TokenChanges {
        name: Some("deploy".into()),
        ..TokenChanges::default()
    };
    fx.update_token(&org.id, &token.id, &rename).await.unwrap();
    let rotation = Rotation {
        secret_hash: hash("next"),
        snippet: "next".into(),
        expires_at: T0 + hours(48),
        rotated_at: T0 + hours(1),
        previous_secret: None,
        last_rotation_before: T0,
    };
    store
        .rotate_token(
            &token.id,
            &rotation,
            &fx.event(&org.id, "token:rotate", "t"),
        )
        .await
        .unwrap();
    fx.delete_token(&org.id, &token.id).await.unwrap();
    let token_change = Change::Token(token.id.clone());
    assert_eq!(take(), vec![token_change.clone(); 4]);

    let edited = CustomRole {
        name: "CI".into(),
        ..role.clone()
    };
    fx.update_role(&org.id, &edited).await.unwrap();
    fx.delete_role(&org.id, &role.key).await.unwrap();
    assert_eq!(take(), vec![Change::Roles(org.id.clone()); 2]);

    let member = |id: &MemberId, removed| Change::Member {
        id: id.clone(),
        removed,
    };
    fx.set_roles(&org.id, &ada.id, BuiltinRole::Reader, &[])
        .await
        .unwrap();
    fx.set_password(&org.id, &ada.id, "$argon2id$x")
        .await
        .unwrap();
    fx.delete_member(&org.id, &ada.id).await.unwrap();
    assert_eq!(
        take(),
        vec![
            member(&ada.id, false),
            member(&ada.id, false),
            member(&ada.id, true)
        ]
    );

    // A call refused before it changed anything announces nothing.
    assert_fails!(
        fx.delete_member(&org.id, &owner.id).await,
        StoreError::LastOwner
    );
    let unknown = TokenId::generate(T0);
    assert_fails!(
        fx.delete_token(&org.id, &unknown).await,
        StoreError::NotFound
    );
    assert_eq!(take(), vec![]);
}
