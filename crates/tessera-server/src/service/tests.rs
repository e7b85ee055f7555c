//! The permission checks live in the operations themselves: exercised here
//! without HTTP, the way any front end would call them.

use tessera_api::{
    ChangePasswordRequest, CreateMemberRequest, CreateTokenRequest, LoginRequest,
    RotateTokenRequest,
};
use tessera_core::BuiltinRole;
use time::Duration;

use super::Call;
use super::{members, sessions, tokens, ServiceError};
use crate::auth::from_session;
use crate::state::AppState;

const PASSWORD: &str = "correct horse battery staple";

async fn org(dir: &tempfile::TempDir) -> AppState {
    let config =
        crate::Config::with_database_url(format!("sqlite://{}", dir.path().join("t.db").display()));
    let state = crate::open(config).await.expect("open");
    crate::setup::create_org(&state, "acme", "owner@acme.test", Some(PASSWORD.into()))
        .await
        .expect("org");
    state
}

/// A new org and its owner's call.
async fn org_and_owner(dir: &tempfile::TempDir) -> (AppState, Call) {
    let state = org(dir).await;
    let owner = logged_in(&state, "owner@acme.test").await;
    (state, owner)
}

/// A call as a front end makes one: logged in, then read back from the
/// session.
async fn logged_in(state: &AppState, email: &str) -> Call {
    let request = LoginRequest {
        email: email.into(),
        password: PASSWORD.into(),
        org: None,
    };
    let started = sessions::login(state, None, request, state.now())
        .await
        .expect("login");
    let caller = from_session(state, &started.secret, None)
        .await
        .expect("session");
    Call::new(state, caller)
}

async fn add_member(state: &AppState, by: &Call, email: &str, role: BuiltinRole) -> Call {
    let request = CreateMemberRequest {
        email: email.into(),
        name: None,
        role,
        custom_roles: None,
        password: Some(PASSWORD.into()),
    };
    members::create(by, request).await.expect("member");
    logged_in(state, email).await
}

fn token_request(name: &str, role: Option<BuiltinRole>) -> CreateTokenRequest {
    CreateTokenRequest {
        name: name.into(),
        role,
        custom_roles: None,
        policy: None,
        projects: None,
        expires_at: None,
        ..Default::default()
    }
}

#[tokio::test]
async fn operations_refuse_what_the_caller_may_not_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, owner) = org_and_owner(&dir).await;
    let reader = add_member(&state, &owner, "reader@acme.test", BuiltinRole::Reader).await;
    let now = state.now();

    // A reader adds nobody, and the refusal names the action.
    let request = CreateMemberRequest {
        email: "x@acme.test".into(),
        name: None,
        role: BuiltinRole::Reader,
        custom_roles: None,
        password: None,
    };
    let refused = members::create(&reader, request).await;
    assert!(
        matches!(&refused, Err(ServiceError::Forbidden { action, .. }) if action == "member:create"),
        "{:?}",
        refused.err()
    );
    assert_eq!(members::list(&owner).await.expect("list").items.len(), 2);

    // Nor hands a token more than it holds itself.
    let wider = token_request("wider", Some(BuiltinRole::Admin));
    let refused = tokens::create(&reader, wider).await;
    assert!(
        matches!(refused, Err(ServiceError::NotAllowed(_))),
        "{:?}",
        refused.err()
    );
    let own = token_request("mine", Some(BuiltinRole::Reader));
    tokens::create(&reader, own)
        .await
        .expect("a reader's own reader token");

    // The owner may read a member's token, never rotate it (that would
    // hand them its value).
    let theirs = tokens::list(&reader).await.expect("list").items;
    let id = &theirs[0].id;
    tokens::show(&owner, id).await.expect("admins read");
    let rotate = RotateTokenRequest {
        expires_at: now + Duration::days(30),
        grace_period_seconds: None,
    };
    let refused = tokens::rotate(&owner, id, rotate).await;
    assert!(matches!(refused, Err(ServiceError::NotAllowed(m)) if m.contains("owner")));

    // And the reader cannot remove the owner.
    let refused = members::delete(&reader, owner.caller.member().unwrap().id.as_str()).await;
    assert!(matches!(refused, Err(ServiceError::Forbidden { .. })));
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, owner) = org_and_owner(&dir).await;
    let request = ChangePasswordRequest {
        current_password: "not it at all".into(),
        new_password: "another long passphrase".into(),
    };
    let refused = sessions::change_password(&owner, request).await;
    assert!(matches!(&refused, Err(ServiceError::NotAllowed(m)) if m == sessions::WRONG_PASSWORD));
    // The old password still logs in.
    logged_in(&state, "owner@acme.test").await;
}

/// The helpers front ends ask before offering a form agree with what the
/// operations allow: a reader is offered nothing of the admin pages, a
/// writer projects, an admin everything but owners.
#[tokio::test]
async fn front_ends_are_told_what_the_caller_may_do() {
    use super::{audit, org, projects, roles};
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, owner) = org_and_owner(&dir).await;
    let reader = add_member(&state, &owner, "reader@acme.test", BuiltinRole::Reader).await;
    let writer = add_member(&state, &owner, "writer@acme.test", BuiltinRole::Writer).await;
    let admin = add_member(&state, &owner, "admin@acme.test", BuiltinRole::Admin).await;
    let me = |c: &Call| members::member_response(c.caller.member().unwrap());
    let (owner_m, reader_m) = (me(&owner), me(&reader));

    for (call, is_admin) in [(&reader, false), (&writer, false), (&admin, true)] {
        let c = &call.caller;
        assert_eq!(members::may_add(c), is_admin);
        assert_eq!(members::may_update(c, &reader_m), is_admin);
        assert_eq!(members::may_remove(c, &reader_m), is_admin);
        assert_eq!(
            members::may_list_tokens(c, &reader_m),
            is_admin || c.member().unwrap().id == reader.caller.member().unwrap().id
        );
        assert_eq!(roles::may_create(c), is_admin);
        assert_eq!(roles::may_update(c, "ops"), is_admin);
        assert_eq!(roles::may_delete(c, "ops"), is_admin);
        assert_eq!(org::may_update(c), is_admin);
        assert_eq!(audit::may_read(c), is_admin);
        // Nobody but an owner changes an owner; only an admin is told why.
        assert!(!members::may_update(c, &owner_m));
        assert_eq!(members::rank_lock(c, &owner_m).is_some(), is_admin);
    }
    assert!(!projects::may_create(&reader.caller));
    assert!(projects::may_create(&writer.caller));
    assert!(projects::may_delete(&writer.caller, "web"));
    assert!(!projects::may_delete(&reader.caller, "web"));
    assert!(members::may_update(&owner.caller, &me(&admin)));

    // And what they are told matches what the operation does.
    let refused = members::delete(&reader, reader_m.id.as_str()).await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_token_without_an_expiry_is_given_one_before_it_rotates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, owner) = org_and_owner(&dir).await;
    let created = tokens::create(&owner, token_request("forever", None))
        .await
        .expect("token");
    let id = created.metadata.id.clone();
    assert!(!tokens::rotatable(&created.metadata));
    let rotate = || RotateTokenRequest {
        expires_at: owner.now + Duration::days(30),
        grace_period_seconds: None,
    };
    assert!(tokens::rotate(&owner, &id, rotate()).await.is_err());
    let request = tessera_api::UpdateTokenRequest {
        expires_at: Some(Some(owner.now + Duration::days(7))),
        ..Default::default()
    };
    let dated = tokens::update(&owner, &id, request)
        .await
        .expect("expiry set");
    assert!(tokens::rotatable(&dated));
    tokens::rotate(&owner, &id, rotate())
        .await
        .expect("rotated");
}

#[test]
fn a_policy_is_checked_alone_as_every_write_checks_it() {
    let ok: tessera_core::Policy = serde_json::from_str(
        r#"[{"effect": "allow", "actions": ["token:read"], "resources": ["proj/web:*"]}]"#,
    )
    .expect("policy");
    assert!(super::roles::check_policy(&ok).is_ok());
    let bad: tessera_core::Policy = serde_json::from_str(
        r#"[{"effect": "allow", "actions": ["read"], "resources": ["proj/web"]}]"#,
    )
    .expect("policy");
    assert!(super::roles::check_policy(&bad).is_err());
}
