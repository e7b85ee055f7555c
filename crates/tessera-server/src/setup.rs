//! Setting up an org and its owner: `tessera init`, and `tessera serve` on
//! an empty database.

use serde_json::json;
use tessera_core::lifecycle::{normalize_email, validate_password};
use tessera_core::model::{Actor, Member, Org, Token};
use tessera_core::{resource, BuiltinRole, MemberId, OrgId, OrgKey, TokenPolicy, TokenScope};

use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;

/// What set-up created. The password is here only when it was generated.
pub struct Created {
    pub org: Org,
    pub owner: Member,
    pub generated_password: Option<String>,
}

/// Creates an org and its owner. Without `password`, one is generated.
pub async fn create_org(
    state: &AppState,
    org_key: &str,
    email: &str,
    password: Option<String>,
) -> Result<Created, ApiError> {
    let now = state.now();
    let key = OrgKey::parse(org_key)?;
    let email = normalize_email(email)?;
    let (password, generated) = match password {
        Some(p) => {
            validate_password(&p)?;
            (p, false)
        }
        None => (secrets::random_password(20), true),
    };
    let org = Org {
        id: OrgId::generate(now),
        name: key.to_string(),
        key,
        token_policy: TokenPolicy::default(),
        created_at: now,
        suspended_at: None,
    };
    let owner = Member {
        id: MemberId::generate(now),
        org_id: org.id.clone(),
        name: email.split('@').next().unwrap_or_default().to_owned(),
        email,
        role: BuiltinRole::Owner,
        custom_roles: Vec::new(),
        password_hash: Some(secrets::hash_password(password.clone()).await?),
        created_at: now,
        external_id: None,
    };
    let event = state.audit(
        &org.id,
        Actor::default(),
        None,
        "org:create",
        resource::org(&org.key),
        json!({ "owner": owner.email }),
    );
    state.store.create_org(&org, &owner, &event).await?;
    Ok(Created {
        org,
        owner,
        generated_password: generated.then_some(password),
    })
}

/// `tessera serve` on an empty database: creates the first org and its
/// owner (with a generated password). `None` when the database already has
/// an org, including when another node, starting on the same empty
/// database at the same moment, created it between this one's check and
/// its insert: that node's owner is the owner, and this node just serves.
pub async fn create_first_org(
    state: &AppState,
    org_key: &str,
    email: &str,
) -> Result<Option<Created>, ApiError> {
    if state.store.count_orgs().await? > 0 {
        return Ok(None);
    }
    match create_org(state, org_key, email, None).await {
        Ok(created) => Ok(Some(created)),
        // Whatever the insert's error, an org that exists now means
        // another node won; otherwise the error is this node's own.
        Err(err) => match state.store.count_orgs().await {
            Ok(orgs) if orgs > 0 => Ok(None),
            _ => Err(err),
        },
    }
}

/// Creates a token for `owner` with the owner's permissions, for scripts
/// (`tessera init --print-token`). Returns the token string.
pub async fn create_owner_token(
    state: &AppState,
    created: &Created,
    name: &str,
) -> Result<String, ApiError> {
    let now = state.now();
    let minted = state.format.generate(now);
    let token = Token::minted(&minted, &created.owner, name, TokenScope::Inherit, now);
    let event = state.audit(
        &created.org.id,
        Actor {
            member: Some(created.owner.id.clone()),
            token: None,
        },
        None,
        "token:create",
        resource::token(&created.owner.id, &token.id),
        json!({ "name": token.name, "snippet": token.snippet, "via": "init" }),
    );
    state.store.create_token(&token, &event).await?;
    Ok(minted.token)
}
