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
    let ada = fx
        .member(&org.id, "ada@example.com", BuiltinRole::Writer)
        .await;
    let role = fx.role(&org.id, "ci").await;
    fx.project(&org.id, "web").await;
    // Creating an org, a member or a project changes nothing cached.
    assert_eq!(take(), vec![Change::Roles(org.id.clone())]);

    org.name = "Acme Inc".into();
    store
        .update_org(&org, &fx.event(&org.id, "org:update", "org"))
        .await
        .unwrap();
    assert_eq!(take(), vec![Change::Org(org.id.clone())]);

    let token = fx.token(&ada, "ci", T0).await;
    let rename = TokenChanges {
        name: Some("deploy".into()),
        ..TokenChanges::default()
    };
    store
        .update_token(&token.id, &rename, &fx.event(&org.id, "token:update", "t"))
        .await
        .unwrap();
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
    store
        .delete_token(&token.id, &fx.event(&org.id, "token:delete", "t"))
        .await
        .unwrap();
    let token_change = Change::Token(token.id.clone());
    assert_eq!(take(), vec![token_change.clone(); 4]);

    let edited = CustomRole {
        name: "CI".into(),
        ..role.clone()
    };
    store
        .update_role(&edited, &fx.event(&org.id, "role:update", "r"))
        .await
        .unwrap();
    store
        .delete_role(&org.id, &role.key, &fx.event(&org.id, "role:delete", "r"))
        .await
        .unwrap();
    assert_eq!(take(), vec![Change::Roles(org.id.clone()); 2]);

    let member = |id: &MemberId, removed| Change::Member {
        id: id.clone(),
        removed,
    };
    fx.set_roles(&org.id, &ada.id, BuiltinRole::Reader, &[])
        .await
        .unwrap();
    store
        .set_password(
            &ada.id,
            "$argon2id$x",
            &fx.event(&org.id, "member:password", "m"),
        )
        .await
        .unwrap();
    store
        .delete_member(&org.id, &ada.id, &fx.event(&org.id, "member:delete", "m"))
        .await
        .unwrap();
    assert_eq!(
        take(),
        vec![
            member(&ada.id, false),
            member(&ada.id, false),
            member(&ada.id, true)
        ]
    );

    // A call refused before it changed anything announces nothing.
    let err = store
        .delete_member(&org.id, &owner.id, &fx.event(&org.id, "member:delete", "m"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LastOwner), "{err:?}");
    let unknown = TokenId::generate(T0);
    let err = store
        .delete_token(&unknown, &fx.event(&org.id, "token:delete", "t"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(take(), vec![]);
}
