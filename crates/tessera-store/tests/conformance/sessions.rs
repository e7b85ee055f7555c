//! Login sessions.

use tessera_core::BuiltinRole;
use tessera_store::Store;

use crate::fixtures::*;

pub async fn sessions_are_created_read_and_deleted(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    let logged_out = fx.session(&owner, "one", T0 + hours(8)).await;
    let expired = fx.session(&owner, "two", T0 + hours(8)).await;
    assert_eq!(
        store.get_session(&logged_out.id_hash).await.unwrap(),
        Some(logged_out.clone())
    );
    assert_eq!(store.get_session(&hash("unknown")).await.unwrap(), None);

    let logout = fx.event(&org.id, "session:delete", "logout");
    store
        .delete_session(&logged_out.id_hash, Some(&logout))
        .await
        .unwrap();
    assert_eq!(store.get_session(&logged_out.id_hash).await.unwrap(), None);
    // Without an event (the server dropping an expired session): no line.
    store.delete_session(&expired.id_hash, None).await.unwrap();
    assert_eq!(store.get_session(&expired.id_hash).await.unwrap(), None);
    // Ending a session that is already gone succeeds and records nothing.
    let again = fx.event(&org.id, "session:delete", "again");
    store
        .delete_session(&logged_out.id_hash, Some(&again))
        .await
        .unwrap();

    fx.assert_actions(
        &org.id,
        "org:create session:create session:create session:delete",
    )
    .await;
}

pub async fn member_sessions_end_together_except_one(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    let ada = fx.ada(&org.id, BuiltinRole::Reader).await;
    let s1 = fx.session(&ada, "s1", T0 + hours(8)).await;
    let s2 = fx.session(&ada, "s2", T0 + hours(8)).await;
    let s3 = fx.session(&ada, "s3", T0 + hours(8)).await;
    let other = fx.session(&owner, "owner", T0 + hours(8)).await;

    store
        .delete_member_sessions(&ada.id, Some(&s2.id_hash))
        .await
        .unwrap();
    assert_eq!(store.get_session(&s1.id_hash).await.unwrap(), None);
    assert_eq!(
        store.get_session(&s2.id_hash).await.unwrap(),
        Some(s2.clone())
    );
    assert_eq!(store.get_session(&s3.id_hash).await.unwrap(), None);
    assert_eq!(
        store.get_session(&other.id_hash).await.unwrap(),
        Some(other.clone())
    );

    store.delete_member_sessions(&ada.id, None).await.unwrap();
    assert_eq!(store.get_session(&s2.id_hash).await.unwrap(), None);
    assert_eq!(
        store.get_session(&other.id_hash).await.unwrap(),
        Some(other)
    );
}

pub async fn expired_sessions_are_purged(store: &dyn Store) {
    let (fx, _, owner) = Fx::with_org(store, "acme").await;
    let early = fx.session(&owner, "early", T0 + hours(1)).await;
    let on_time = fx.session(&owner, "on time", T0 + hours(2)).await;
    let late = fx.session(&owner, "late", T0 + hours(3)).await;

    // A session is over at its expiry instant.
    assert_eq!(
        store.purge_expired_sessions(T0 + hours(2)).await.unwrap(),
        2
    );
    assert_eq!(store.get_session(&early.id_hash).await.unwrap(), None);
    assert_eq!(store.get_session(&on_time.id_hash).await.unwrap(), None);
    assert_eq!(store.get_session(&late.id_hash).await.unwrap(), Some(late));
    assert_eq!(
        store.purge_expired_sessions(T0 + hours(2)).await.unwrap(),
        0
    );
}

/// The first key stored under a name is the one every later caller gets
/// (each node offers its own candidate; all must sign with one key).
pub async fn a_server_key_is_made_once_and_shared(store: &dyn Store) {
    let first = store.server_key("login-csrf", &[1u8; 32]).await.unwrap();
    assert_eq!(first, vec![1u8; 32]);
    let second = store.server_key("login-csrf", &[2u8; 32]).await.unwrap();
    assert_eq!(second, first, "a second candidate does not replace the key");
    let other = store.server_key("other", &[3u8; 16]).await.unwrap();
    assert_eq!(other, vec![3u8; 16]);
}
