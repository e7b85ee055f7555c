//! Custom roles and projects.

use tessera_core::model::CustomRole;
use tessera_core::{BuiltinRole, Policy, Statement, TokenScope};
use tessera_store::{Store, StoreError, TokenChanges, Unique};

use crate::fixtures::*;

pub async fn roles_are_created_read_updated_and_deleted(store: &dyn Store) {
    let (fx, [(org, _), (globex, _)]) = Fx::with_two_orgs(store).await;
    let beta = fx.role(&org.id, "beta").await;
    let alpha = fx.role(&org.id, "alpha").await;
    assert_eq!(
        store.get_role(&org.id, &beta.key).await.unwrap(),
        Some(beta.clone())
    );
    assert_eq!(
        store.list_roles(&org.id).await.unwrap(),
        vec![alpha.clone(), beta.clone()]
    );

    let twin = CustomRole {
        name: "Another beta".into(),
        ..beta.clone()
    };
    assert_fails!(
        fx.create_role(&twin).await,
        StoreError::Conflict(Unique::RoleKey)
    );
    // The same key in another org is another role.
    let globex_beta = fx.role(&globex.id, "beta").await;
    assert_eq!(
        store.list_roles(&globex.id).await.unwrap(),
        vec![globex_beta]
    );

    let updated = CustomRole {
        name: "Beta testers".into(),
        policy: Policy(vec![Statement::allow(&["*:read"], &["*"])]),
        updated_at: T0 + hours(2),
        ..beta.clone()
    };
    fx.update_role(&org.id, &updated).await.unwrap();
    assert_eq!(
        store.get_role(&org.id, &beta.key).await.unwrap(),
        Some(updated)
    );

    let ghost = role_record(&org.id, "ghost");
    assert_fails!(fx.update_role(&org.id, &ghost).await, StoreError::NotFound);

    fx.delete_role(&org.id, &beta.key).await.unwrap();
    assert_eq!(store.get_role(&org.id, &beta.key).await.unwrap(), None);
    assert_eq!(store.list_roles(&org.id).await.unwrap(), vec![alpha]);
    assert_fails!(
        fx.delete_role(&org.id, &beta.key).await,
        StoreError::NotFound
    );
    assert!(store
        .get_role(&globex.id, &beta.key)
        .await
        .unwrap()
        .is_some());

    fx.assert_actions(
        &org.id,
        "org:create role:create role:create role:update role:delete",
    )
    .await;
}

pub async fn a_held_role_cannot_be_deleted(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    let ops = fx.role(&org.id, "ops").await;
    let ada = fx.ada(&org.id, BuiltinRole::Writer).await;
    fx.set_roles(
        &org.id,
        &ada.id,
        BuiltinRole::Writer,
        std::slice::from_ref(&ops.key),
    )
    .await
    .unwrap();

    assert_held(&fx, &ops, "role ops is held by 1 member and 0 tokens").await;

    // Released by the member, then held by a token.
    fx.set_roles(&org.id, &ada.id, BuiltinRole::Writer, &[])
        .await
        .unwrap();
    let token = fx.token(&owner, "deploy", T0).await;
    let scoped = TokenChanges {
        scope: Some(TokenScope::CustomRoles(vec![ops.key.clone()])),
        ..TokenChanges::default()
    };
    fx.update_token(&org.id, &token.id, &scoped).await.unwrap();
    assert_held(&fx, &ops, "role ops is held by 0 members and 1 token").await;
    assert!(store.get_role(&org.id, &ops.key).await.unwrap().is_some());

    let unscoped = TokenChanges {
        scope: Some(TokenScope::Role(BuiltinRole::Reader)),
        ..TokenChanges::default()
    };
    fx.update_token(&org.id, &token.id, &unscoped)
        .await
        .unwrap();
    fx.delete_role(&org.id, &ops.key).await.unwrap();
    assert_eq!(store.get_role(&org.id, &ops.key).await.unwrap(), None);
    fx.assert_actions(&org.id, "org:create role:create member:create member:update member:update token:create token:update token:update role:delete").await;
}

/// Asserts that `role` cannot be deleted because it is held, as `why` says.
async fn assert_held(fx: &Fx<'_>, role: &CustomRole, why: &str) {
    match fx.delete_role(&role.org_id, &role.key).await {
        Err(StoreError::InUse(held)) => assert_eq!(held, why),
        other => panic!("expected the role to be held ({why}): {other:?}"),
    }
}

pub async fn projects_are_created_listed_and_deleted(store: &dyn Store) {
    let (fx, [(org, _), (globex, _)]) = Fx::with_two_orgs(store).await;
    let web = fx.project(&org.id, "web").await;
    let api = fx.project(&org.id, "api").await;
    assert_eq!(
        store.list_projects(&org.id).await.unwrap(),
        vec![api.clone(), web.clone()]
    );

    assert_fails!(
        fx.create_project(&web).await,
        StoreError::Conflict(Unique::ProjectKey)
    );
    let globex_web = fx.project(&globex.id, "web").await;

    fx.delete_project(&org.id, &web.key).await.unwrap();
    assert_eq!(store.list_projects(&org.id).await.unwrap(), vec![api]);
    assert_eq!(
        store.list_projects(&globex.id).await.unwrap(),
        vec![globex_web]
    );
    assert_fails!(
        fx.delete_project(&org.id, &web.key).await,
        StoreError::NotFound
    );
    fx.assert_actions(
        &org.id,
        "org:create project:create project:create project:delete",
    )
    .await;
}
