//! Organizations and members: uniqueness, custom roles, the last owner,
//! and what deleting a member takes with it.

use tessera_core::model::Org;
use tessera_core::{BuiltinRole, MemberId, OrgId, OrgKey, TokenPolicy, TokenScope};
use tessera_store::{Store, StoreError, Unique};

use crate::fixtures::*;

pub async fn org_is_created_with_its_owner(store: &dyn Store) {
    let fx = Fx::new(store);
    assert_eq!(store.count_orgs().await.unwrap(), 0);
    let (mut org, mut owner) = Fx::org_record("acme");
    org.token_policy = TokenPolicy {
        require_expiration: true,
        max_lifetime_days: Some(30),
        inactive_days: Some(90),
        inactive_action: tessera_core::InactiveAction::Revoke,
        expiry_warning_days: tessera_core::ExpiryWarnings::new(&[30, 2]).unwrap(),
    };
    owner.password_hash = Some("$argon2id$v=19$stub".into());
    let event = fx.event(&org.id, "org:create", "org/acme");
    store.create_org(&org, &owner, &event).await.unwrap();

    assert_eq!(store.count_orgs().await.unwrap(), 1);
    assert_eq!(store.get_org(&org.id).await.unwrap(), Some(org.clone()));
    assert_eq!(
        store.get_org_by_key(&org.key).await.unwrap(),
        Some(org.clone())
    );
    assert_eq!(
        store.get_member(&org.id, &owner.id).await.unwrap(),
        Some(owner.clone())
    );
    assert_eq!(store.list_members(&org.id).await.unwrap(), vec![owner]);
    assert_eq!(store.get_org(&OrgId::generate(T0)).await.unwrap(), None);
    let other_key = OrgKey::parse("globex").unwrap();
    assert_eq!(store.get_org_by_key(&other_key).await.unwrap(), None);
    fx.assert_actions(&org.id, "org:create").await;
}

pub async fn duplicate_org_key_conflicts(store: &dyn Store) {
    let (fx, acme, _) = Fx::with_org(store, "acme").await;
    let (again, again_owner) = Fx::org_record("acme");
    let event = fx.event(&again.id, "org:create", "org/acme");
    assert_fails!(
        store.create_org(&again, &again_owner, &event).await,
        StoreError::Conflict(Unique::OrgKey)
    );

    assert_eq!(store.count_orgs().await.unwrap(), 1);
    assert_eq!(store.get_org(&again.id).await.unwrap(), None);
    assert_eq!(
        store.get_member(&again.id, &again_owner.id).await.unwrap(),
        None
    );
    assert!(fx.actions(&again.id).await.is_empty());
    fx.assert_actions(&acme.id, "org:create").await;
}

pub async fn update_org_saves_name_and_policy(store: &dyn Store) {
    let (fx, org, _) = Fx::with_org(store, "acme").await;
    let changed = Org {
        name: "Acme Corporation".into(),
        token_policy: TokenPolicy {
            require_expiration: false,
            max_lifetime_days: Some(90),
            ..TokenPolicy::default()
        },
        ..org.clone()
    };
    store
        .update_org(&changed, &fx.event(&org.id, "org:update", "org"))
        .await
        .unwrap();
    assert_eq!(store.get_org(&org.id).await.unwrap(), Some(changed));

    let (ghost, _) = Fx::org_record("ghost");
    assert_fails!(fx.update_org(&ghost).await, StoreError::NotFound);
    assert!(fx.actions(&ghost.id).await.is_empty());
    fx.assert_actions(&org.id, "org:create org:update").await;
}

pub async fn member_email_is_unique_per_org(store: &dyn Store) {
    let (fx, [(acme, acme_owner), (globex, _)]) = Fx::with_two_orgs(store).await;
    let ada = fx.ada(&acme.id, BuiltinRole::Writer).await;

    let twin = member_record(&acme.id, ADA, BuiltinRole::Reader);
    assert_fails!(
        store
            .create_member(&twin, &fx.event(&acme.id, "member:create", "member"))
            .await,
        StoreError::Conflict(Unique::MemberEmail)
    );
    assert_eq!(store.get_member(&acme.id, &twin.id).await.unwrap(), None);

    let ada_at_globex = fx.ada(&globex.id, BuiltinRole::Admin).await;
    let mut found = store.members_by_email(ADA).await.unwrap();
    found.sort_by(|a, b| a.org_id.cmp(&b.org_id));
    let mut expected = vec![ada.clone(), ada_at_globex];
    expected.sort_by(|a, b| a.org_id.cmp(&b.org_id));
    assert_eq!(found, expected);
    assert_eq!(
        store.members_by_email(&acme_owner.email).await.unwrap(),
        vec![acme_owner]
    );
    assert!(store
        .members_by_email("nobody@example.com")
        .await
        .unwrap()
        .is_empty());
    // A member of one org is not found through another.
    assert_eq!(store.get_member(&globex.id, &ada.id).await.unwrap(), None);

    let (ghost, _) = Fx::org_record("ghost");
    let orphan = member_record(&ghost.id, "orphan@example.com", BuiltinRole::Reader);
    assert_fails!(
        store
            .create_member(&orphan, &fx.event(&ghost.id, "member:create", "member"))
            .await,
        StoreError::UnknownReference(_)
    );
    assert!(fx.actions(&ghost.id).await.is_empty());
    fx.assert_actions(&acme.id, "org:create member:create")
        .await;
}

pub async fn members_are_listed_by_email(store: &dyn Store) {
    let (fx, org, _) = Fx::with_org(store, "acme").await;
    for email in ["carol@x.example", "alice@x.example", "bob@x.example"] {
        fx.member(&org.id, email, BuiltinRole::Reader).await;
    }
    let emails: Vec<String> = store
        .list_members(&org.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.email)
        .collect();
    assert_eq!(
        emails,
        [
            "alice@x.example",
            "bob@x.example",
            "carol@x.example",
            "owner@acme.example"
        ]
    );
}

pub async fn member_roles_are_replaced_with_custom_roles(store: &dyn Store) {
    let (fx, [(org, _), (globex, _)]) = Fx::with_two_orgs(store).await;
    fx.role(&org.id, "alpha").await;
    fx.role(&org.id, "beta").await;
    fx.role(&globex.id, "gamma").await;
    let mut ada = member_record(&org.id, ADA, BuiltinRole::Reader);
    ada.custom_roles = vec![role_key("beta")];
    store
        .create_member(&ada, &fx.event(&org.id, "member:create", "member"))
        .await
        .unwrap();
    assert_eq!(
        store.get_member(&org.id, &ada.id).await.unwrap(),
        Some(ada.clone())
    );

    let both = [role_key("beta"), role_key("alpha")];
    fx.set_roles(&org.id, &ada.id, BuiltinRole::Writer, &both)
        .await
        .unwrap();
    let saved = store.get_member(&org.id, &ada.id).await.unwrap().unwrap();
    assert_eq!(saved.role, BuiltinRole::Writer);
    assert_eq!(saved.custom_roles, both, "kept in the order given");

    let one = [role_key("alpha")];
    fx.set_roles(&org.id, &ada.id, BuiltinRole::Writer, &one)
        .await
        .unwrap();
    let saved = store.get_member(&org.id, &ada.id).await.unwrap().unwrap();
    assert_eq!(saved.custom_roles, one);

    // An unknown role, or another org's, changes nothing at all.
    for bad in ["nope", "gamma"] {
        let roles = [role_key("beta"), role_key(bad)];
        let err = fx
            .set_roles(&org.id, &ada.id, BuiltinRole::Admin, &roles)
            .await
            .unwrap_err();
        match err {
            StoreError::UnknownReference(what) => assert_eq!(what, format!("custom role {bad}")),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        store.get_member(&org.id, &ada.id).await.unwrap(),
        Some(saved)
    );

    assert_fails!(
        fx.set_roles(&org.id, &MemberId::generate(T0), BuiltinRole::Reader, &[])
            .await,
        StoreError::NotFound
    );
    // A member is only reachable through its own org.
    assert_fails!(
        fx.set_roles(&globex.id, &ada.id, BuiltinRole::Reader, &[])
            .await,
        StoreError::NotFound
    );

    let mut carol = member_record(&org.id, "carol@example.com", BuiltinRole::Reader);
    carol.custom_roles = vec![role_key("nope")];
    assert_fails!(
        store
            .create_member(&carol, &fx.event(&org.id, "member:create", "member"))
            .await,
        StoreError::UnknownReference(_)
    );
    assert_eq!(store.get_member(&org.id, &carol.id).await.unwrap(), None);

    fx.assert_actions(
        &org.id,
        "org:create role:create role:create member:create member:update member:update",
    )
    .await;
    fx.assert_actions(&globex.id, "org:create role:create")
        .await;
}

pub async fn the_last_owner_stays(store: &dyn Store) {
    let (fx, org, first) = Fx::with_org(store, "acme").await;
    let reader = fx
        .member(&org.id, "reader@example.com", BuiltinRole::Reader)
        .await;

    assert_fails!(
        fx.set_roles(&org.id, &first.id, BuiltinRole::Admin, &[])
            .await,
        StoreError::LastOwner
    );
    assert_fails!(
        fx.delete_member(&org.id, &first.id).await,
        StoreError::LastOwner
    );
    assert_eq!(
        store.get_member(&org.id, &first.id).await.unwrap(),
        Some(first.clone())
    );

    // Changing and removing others is fine while an owner remains.
    fx.set_roles(&org.id, &reader.id, BuiltinRole::Owner, &[])
        .await
        .unwrap();
    fx.set_roles(&org.id, &first.id, BuiltinRole::Admin, &[])
        .await
        .unwrap();
    assert_fails!(
        fx.delete_member(&org.id, &reader.id).await,
        StoreError::LastOwner
    );
    fx.delete_member(&org.id, &first.id).await.unwrap();
    let left: Vec<_> = store.list_members(&org.id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].id.clone(), left[0].role),
        (reader.id, BuiltinRole::Owner)
    );
    fx.assert_actions(
        &org.id,
        "org:create member:create member:update member:update member:delete",
    )
    .await;
}

pub async fn set_password_saves_the_hash(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    fx.set_password(&org.id, &owner.id, "$argon2id$new")
        .await
        .unwrap();
    let saved = store.get_member(&org.id, &owner.id).await.unwrap().unwrap();
    assert_eq!(saved.password_hash.as_deref(), Some("$argon2id$new"));
    assert_fails!(
        fx.set_password(&org.id, &MemberId::generate(T0), "x").await,
        StoreError::NotFound
    );
    fx.assert_actions(&org.id, "org:create member:password")
        .await;
}

pub async fn deleting_a_member_removes_its_tokens_and_sessions(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    fx.role(&org.id, "ops").await;
    let ada = fx.ada(&org.id, BuiltinRole::Writer).await;
    let plain = fx.token(&ada, "plain", T0).await;
    let mut scoped = token_record(&ada, "scoped", T0 + hours(1));
    scoped.scope = TokenScope::CustomRoles(vec![role_key("ops")]);
    fx.save_token(&scoped).await;
    let session = fx.session(&ada, "ada-session", T0 + hours(8)).await;
    let kept_token = fx.token(&owner, "owner's", T0).await;
    let kept_session = fx.session(&owner, "owner-session", T0 + hours(8)).await;

    fx.delete_member(&org.id, &ada.id).await.unwrap();
    assert_eq!(store.get_member(&org.id, &ada.id).await.unwrap(), None);
    assert_eq!(store.get_token(&plain.id).await.unwrap(), None);
    assert_eq!(store.get_token(&scoped.id).await.unwrap(), None);
    assert!(store
        .list_tokens(&org.id, &ada.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.get_session(&session.id_hash).await.unwrap(), None);
    assert_eq!(
        store.get_token(&kept_token.id).await.unwrap(),
        Some(kept_token)
    );
    assert_eq!(
        store.get_session(&kept_session.id_hash).await.unwrap(),
        Some(kept_session)
    );
    // The deleted token no longer holds the role.
    fx.delete_role(&org.id, &role_key("ops")).await.unwrap();

    assert_fails!(
        fx.delete_member(&org.id, &ada.id).await,
        StoreError::NotFound
    );
    fx.assert_actions(&org.id, "org:create role:create member:create token:create token:create session:create token:create session:create member:delete role:delete").await;
}
