//! Service accounts: their records, their tokens, and what outlives what.

use tessera_core::model::{ServiceAccount, Token, TokenOwner};
use tessera_core::{BuiltinRole, OrgId, ServiceAccountId, TokenScope};
use tessera_store::{Change, Store, StoreError, TokenQuery, Unique};

use crate::fixtures::*;

fn account_record(org: &OrgId, name: &str, role: BuiltinRole) -> ServiceAccount {
    ServiceAccount {
        id: ServiceAccountId::generate(T0),
        org_id: org.clone(),
        name: name.to_owned(),
        description: Some(format!("{name} pipeline")),
        role,
        custom_roles: Vec::new(),
        created_at: T0,
        created_by: None,
    }
}

fn account_token(account: &ServiceAccount, name: &str) -> Token {
    Token {
        owner: TokenOwner::ServiceAccount(account.id.clone()),
        scope: TokenScope::Role(BuiltinRole::Reader),
        ..token_record_in(&account.org_id, name)
    }
}

/// A member's token record moved to `org` (its owner is replaced by the
/// caller).
fn token_record_in(org: &OrgId, name: &str) -> Token {
    let placeholder = member_record(org, "placeholder@example.com", BuiltinRole::Reader);
    token_record(&placeholder, name, T0)
}

async fn save(fx: &Fx<'_>, account: &ServiceAccount) -> Result<(), StoreError> {
    let event = fx.event(&account.org_id, "service_account:create", "service_account");
    fx.store.create_service_account(account, &event).await
}

pub async fn service_accounts_round_trip(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    let (_, globex) = fx.org("globex").await;
    let ops = fx.role(&org.id, "ops").await;
    let mut ci = ServiceAccount {
        custom_roles: vec![ops.key.clone()],
        created_by: Some(owner.id.clone()),
        ..account_record(&org.id, "ci", BuiltinRole::Writer)
    };
    save(&fx, &ci).await.unwrap();
    let bot = account_record(&org.id, "bot", BuiltinRole::Reader);
    save(&fx, &bot).await.unwrap();
    assert_eq!(
        store.get_service_account(&org.id, &ci.id).await.unwrap(),
        Some(ci.clone())
    );
    // Another org's id names nothing here, and neither does a member's.
    assert_eq!(
        store
            .get_service_account(&globex.org_id, &ci.id)
            .await
            .unwrap(),
        None
    );
    let member_as_account = ServiceAccountId::from_trusted(owner.id.to_string());
    assert_eq!(
        store
            .get_service_account(&org.id, &member_as_account)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.list_service_accounts(&org.id).await.unwrap(),
        vec![bot.clone(), ci.clone()],
        "by name"
    );
    // Names are unique in an org, not across orgs.
    let twin = account_record(&org.id, "ci", BuiltinRole::Reader);
    assert_fails!(
        save(&fx, &twin).await,
        StoreError::Conflict(Unique::ServiceAccountName)
    );
    save(
        &fx,
        &account_record(&globex.org_id, "ci", BuiltinRole::Reader),
    )
    .await
    .unwrap();

    ci.role = BuiltinRole::Admin;
    ci.name = "ci-deploy".into();
    ci.description = None;
    ci.custom_roles = Vec::new();
    let event = fx.event(&org.id, "service_account:update", "sa");
    store.update_service_account(&ci, &event).await.unwrap();
    assert_eq!(
        store.get_service_account(&org.id, &ci.id).await.unwrap(),
        Some(ci.clone())
    );
    let mut renamed = ci.clone();
    renamed.name = "bot".into();
    let event = fx.event(&org.id, "service_account:update", "sa");
    assert_fails!(
        store.update_service_account(&renamed, &event).await,
        StoreError::Conflict(Unique::ServiceAccountName)
    );
    let ghost = account_record(&org.id, "ghost", BuiltinRole::Reader);
    let event = fx.event(&org.id, "service_account:update", "sa");
    assert_fails!(
        store.update_service_account(&ghost, &event).await,
        StoreError::NotFound
    );

    let event = fx.event(&org.id, "service_account:delete", "sa");
    store
        .delete_service_account(&org.id, &ci.id, &event)
        .await
        .unwrap();
    assert_eq!(
        store.get_service_account(&org.id, &ci.id).await.unwrap(),
        None
    );
    let event = fx.event(&org.id, "service_account:delete", "sa");
    assert_fails!(
        store.delete_service_account(&org.id, &ci.id, &event).await,
        StoreError::NotFound
    );
}

/// A service account's tokens survive the member who made the account and
/// go with the account; a member's go with the member.
pub async fn account_tokens_outlive_their_maker_and_die_with_the_account(store: &dyn Store) {
    let (fx, org, _owner) = Fx::with_org(store, "acme").await;
    let ada = fx.ada(&org.id, BuiltinRole::Admin).await;
    let ci = ServiceAccount {
        created_by: Some(ada.id.clone()),
        ..account_record(&org.id, "ci", BuiltinRole::Writer)
    };
    save(&fx, &ci).await.unwrap();
    let deploy = account_token(&ci, "deploy");
    fx.save_token(&deploy).await;
    // Token names are unique per owner, whichever kind it is.
    let same_name = fx.token(&ada, "deploy", T0).await;
    let twin = account_token(&ci, "deploy");
    let event = fx.event(&org.id, "token:create", "t");
    assert_fails!(
        store.create_token(&twin, &event).await,
        StoreError::Conflict(Unique::TokenName)
    );
    assert_eq!(
        store.get_token(&deploy.id).await.unwrap(),
        Some(deploy.clone())
    );
    assert_eq!(
        store
            .list_service_account_tokens(&org.id, &ci.id)
            .await
            .unwrap(),
        vec![deploy.clone()]
    );
    assert_eq!(
        store.list_tokens(&org.id, &ada.id).await.unwrap(),
        vec![same_name.clone()],
        "a member's list holds only the member's tokens"
    );

    fx.delete_member(&org.id, &ada.id).await.unwrap();
    assert_eq!(store.get_token(&same_name.id).await.unwrap(), None);
    assert_eq!(
        store.get_token(&deploy.id).await.unwrap(),
        Some(deploy.clone())
    );
    assert_eq!(
        store.get_service_account(&org.id, &ci.id).await.unwrap(),
        Some(ci.clone()),
        "the account outlives its maker"
    );

    // An account of another org, or none, cannot own a token here.
    let mut orphan = account_token(&ci, "orphan");
    orphan.owner = TokenOwner::ServiceAccount(ServiceAccountId::generate(T0));
    let event = fx.event(&org.id, "token:create", "t");
    assert_fails!(
        store.create_token(&orphan, &event).await,
        StoreError::UnknownReference(_)
    );

    let event = fx.event(&org.id, "service_account:delete", "sa");
    store
        .delete_service_account(&org.id, &ci.id, &event)
        .await
        .unwrap();
    assert_eq!(store.get_token(&deploy.id).await.unwrap(), None);
    assert!(store
        .list_service_account_tokens(&org.id, &ci.id)
        .await
        .unwrap()
        .is_empty());
}

/// A role an account holds cannot be deleted; every change is announced.
pub async fn a_role_held_by_an_account_stays_and_changes_are_announced(store: &dyn Store) {
    let (fx, org, _owner) = Fx::with_org(store, "acme").await;
    let ops = fx.role(&org.id, "ops").await;
    let changes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&changes);
    store.on_commit(std::sync::Arc::new(move |c: &Change| {
        seen.lock().unwrap().push(c.clone());
    }));
    let mut ci = ServiceAccount {
        custom_roles: vec![ops.key.clone()],
        ..account_record(&org.id, "ci", BuiltinRole::Reader)
    };
    save(&fx, &ci).await.unwrap();
    assert_fails!(
        fx.delete_role(&org.id, &ops.key).await,
        StoreError::InUse(_)
    );
    ci.custom_roles.clear();
    let event = fx.event(&org.id, "service_account:update", "sa");
    store.update_service_account(&ci, &event).await.unwrap();
    let event = fx.event(&org.id, "service_account:delete", "sa");
    store
        .delete_service_account(&org.id, &ci.id, &event)
        .await
        .unwrap();
    fx.delete_role(&org.id, &ops.key).await.unwrap();
    let account = |removed| Change::ServiceAccount {
        id: ci.id.clone(),
        removed,
    };
    assert_eq!(
        changes.lock().unwrap()[..3],
        [account(false), account(false), account(true)]
    );
}

/// The inventory's `service_account` filter finds that account's tokens
/// only: never a member's, and a member's id finds nothing.
pub async fn the_inventory_filters_by_service_account(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    let ci = account_record(&org.id, "ci", BuiltinRole::Writer);
    save(&fx, &ci).await.unwrap();
    let bot = account_record(&org.id, "bot", BuiltinRole::Reader);
    save(&fx, &bot).await.unwrap();
    fx.save_token(&account_token(&ci, "deploy")).await;
    fx.save_token(&account_token(&ci, "release")).await;
    fx.save_token(&account_token(&bot, "nightly")).await;
    fx.token(&owner, "laptop", T0).await;
    let names = |tokens: Vec<Token>| {
        let mut names: Vec<String> = tokens.into_iter().map(|t| t.name).collect();
        names.sort();
        names
    };
    let query = |service_account: Option<ServiceAccountId>, member| TokenQuery {
        service_account,
        member,
        limit: 100,
        ..TokenQuery::default()
    };
    let found = store
        .query_tokens(&org.id, &query(Some(ci.id.clone()), None))
        .await
        .unwrap();
    assert_eq!(names(found), ["deploy", "release"]);
    let member_as_account = ServiceAccountId::from_trusted(owner.id.to_string());
    let found = store
        .query_tokens(&org.id, &query(Some(member_as_account), None))
        .await
        .unwrap();
    assert!(found.is_empty(), "a member's id names no account's tokens");
    let found = store
        .query_tokens(&org.id, &query(None, Some(owner.id.clone())))
        .await
        .unwrap();
    assert_eq!(names(found), ["laptop"], "a member's tokens only");
    let found = store
        .query_tokens(&org.id, &query(Some(ci.id.clone()), Some(owner.id.clone())))
        .await
        .unwrap();
    assert!(found.is_empty(), "no token has both owners");
}
