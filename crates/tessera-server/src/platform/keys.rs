//! Platform keys: made, listed and deleted by `tessera platform-key` on
//! the server's machine (there is no API for them: a key is the root of
//! the platform API, so only who holds the database makes one).
//!
//! A key has a token's format and checksum with its own prefix
//! (`platform_key_prefix`, default `tsp`); only the SHA-256 of its secret
//! is stored, and the key itself exists once, in what [`create`] returns.

use serde_json::json;
use tessera_core::ids::is_ksuid;
use tessera_core::lifecycle::validate_name;
use tessera_core::platform::{PlatformAuditEvent, PlatformKey};
use tessera_core::TokenFormat;

use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

/// A new key: its record, and the key, to be shown once.
pub struct CreatedKey {
    pub key: PlatformKey,
    pub secret: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The deployment's platform key format.
pub fn format(state: &AppState) -> TokenFormat {
    state.config.platform_key_format()
}

/// Makes a key called `name`.
pub async fn create(state: &AppState, name: &str) -> ServiceResult<CreatedKey> {
    validate_name("name", name)?;
    let now = state.now();
    let minted = format(state).generate(now);
    let key = PlatformKey {
        id: minted.id.to_string(),
        name: name.to_owned(),
        snippet: minted.snippet,
        secret_hash: minted.secret_hash,
        created_at: now,
        last_used_at: None,
    };
    let event = cli_event(
        state,
        "platform_key:create",
        json!({ "id": key.id, "name": key.name, "snippet": key.snippet }),
    );
    state.store.create_platform_key(&key, &event).await?;
    Ok(CreatedKey {
        key,
        secret: minted.token,
    })
}

/// Every key, oldest first (never a key's value: only its snippet).
pub async fn list(state: &AppState) -> ServiceResult<Vec<PlatformKey>> {
    Ok(state.store.list_platform_keys().await?)
}

/// One key by id.
pub async fn get(state: &AppState, id: &str) -> ServiceResult<PlatformKey> {
    if !is_ksuid(id) {
        return Err(ServiceError::BadRequest(
            "a platform key id is the 27-character KSUID `platform-key list` shows".into(),
        ));
    }
    state
        .store
        .get_platform_key(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("platform key"))
}

/// Deletes a key: it stops working at the next call, on every node.
pub async fn delete(state: &AppState, id: &str) -> ServiceResult<PlatformKey> {
    let key = get(state, id).await?;
    let event = cli_event(
        state,
        "platform_key:delete",
        json!({ "id": key.id, "name": key.name, "snippet": key.snippet }),
    );
    state.store.delete_platform_key(&key.id, &event).await?;
    Ok(key)
}

/// An event by the CLI on the server's machine (no key acted).
fn cli_event(state: &AppState, action: &str, details: serde_json::Value) -> PlatformAuditEvent {
    PlatformAuditEvent {
        id: state.next_audit_id(),
        at: state.now(),
        actor_key: None,
        action: action.to_owned(),
        org_key: None,
        external_id: None,
        ip: None,
        details,
    }
}
