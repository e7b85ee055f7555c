//! `tessera reset-password`: a lost owner's way back in, on the server's
//! machine (it works on the database directly, like `tessera init`, also
//! while the service serves). The member's sessions end; the change is
//! audited in their org as `member:password` by nobody (the machine).

use serde_json::json;
use tessera_core::lifecycle::{normalize_email, validate_password};
use tessera_core::model::{Actor, Member};
use tessera_core::{resource, OrgKey};

use crate::secrets;
use crate::state::AppState;

/// Why a password could not be reset, in words for the command line.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Failed(String),
}

/// The member whose password was reset; the password when generated.
pub struct Reset {
    pub member: Member,
    pub org_key: String,
    pub generated_password: Option<String>,
}

/// Sets the password of the member with `email` (in the org `org`, when
/// the email is in several). Without `password`, one is generated.
pub async fn reset_password(
    state: &AppState,
    email: &str,
    org: Option<&str>,
    password: Option<String>,
) -> Result<Reset, RecoveryError> {
    let failed = |e: &dyn std::fmt::Display| RecoveryError::Failed(e.to_string());
    let email = normalize_email(email).map_err(|e| RecoveryError::Input(e.to_string()))?;
    let org_key = org
        .map(OrgKey::parse)
        .transpose()
        .map_err(|e| RecoveryError::Input(format!("--org: {e}")))?;
    let mut members = state
        .store
        .members_by_email(&email)
        .await
        .map_err(|e| failed(&e))?;
    if let Some(key) = &org_key {
        let org = state
            .store
            .get_org_by_key(key)
            .await
            .map_err(|e| failed(&e))?
            .ok_or_else(|| RecoveryError::Input(format!("no organization {key}")))?;
        members.retain(|m| m.org_id == org.id);
    }
    let member = match members.as_slice() {
        [] => {
            return Err(RecoveryError::Input(format!(
                "no member with the email {email}{}",
                org_key.map_or(String::new(), |k| format!(" in {k}"))
            )))
        }
        [one] => one.clone(),
        several => {
            let mut keys = Vec::new();
            for m in several {
                if let Ok(Some(org)) = state.store.get_org(&m.org_id).await {
                    keys.push(org.key.to_string());
                }
            }
            return Err(RecoveryError::Input(format!(
                "{email} is a member of several organizations ({}): add --org KEY",
                keys.join(", ")
            )));
        }
    };
    let (password, generated) = match password {
        Some(p) => {
            validate_password(&p).map_err(|e| RecoveryError::Input(e.to_string()))?;
            (p, false)
        }
        None => (secrets::random_password(20), true),
    };
    let hash = secrets::hash_password(password.clone())
        .await
        .map_err(|e| failed(&e))?;
    let org = state
        .store
        .get_org(&member.org_id)
        .await
        .map_err(|e| failed(&e))?
        .ok_or_else(|| RecoveryError::Failed("the member's org is gone".into()))?;
    let event = state.audit(
        &member.org_id,
        Actor::default(),
        None,
        "member:password",
        resource::member(&member.id),
        json!({ "email": member.email, "via": "tessera reset-password" }),
    );
    state
        .store
        .set_password(&member.id, &hash, &event)
        .await
        .map_err(|e| failed(&e))?;
    state
        .store
        .delete_member_sessions(&member.id, None)
        .await
        .map_err(|e| failed(&e))?;
    Ok(Reset {
        member,
        org_key: org.key.to_string(),
        generated_password: generated.then_some(password),
    })
}
