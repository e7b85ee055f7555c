//! Single sign-on's records: an org's settings and the orgs a domain
//! finds, members by `external_id` across orgs, and sign-in steps that can
//! be taken once, before they expire.

use tessera_core::sso::OrgSso;
use tessera_core::{BuiltinRole, ExternalId};
use tessera_store::Store;

use crate::fixtures::*;

pub async fn org_sso_settings_round_trip_and_find_orgs_by_domain(store: &dyn Store) {
    let (fx, [(acme, _), (globex, _)]) = Fx::with_two_orgs(store).await;
    assert_eq!(store.get_org_sso(&acme.id).await.unwrap(), None);
    let sso = OrgSso {
        allowed_domains: vec!["acme.test".into(), "shared.test".into()],
        default_role: BuiltinRole::Writer,
        password_login: false,
    };
    store
        .set_org_sso(&acme.id, &sso, &fx.event(&acme.id, "org:sso", "org/acme"))
        .await
        .unwrap();
    assert_eq!(
        store.get_org_sso(&acme.id).await.unwrap(),
        Some(sso.clone())
    );
    let other = OrgSso {
        allowed_domains: vec!["shared.test".into()],
        ..OrgSso::default()
    };
    store
        .set_org_sso(
            &globex.id,
            &other,
            &fx.event(&globex.id, "org:sso", "org/globex"),
        )
        .await
        .unwrap();
    let mut shared: Vec<_> = store
        .orgs_admitting_domain("shared.test")
        .await
        .unwrap()
        .into_iter()
        .map(|(org, _)| org)
        .collect();
    shared.sort();
    let mut both = vec![acme.id.clone(), globex.id.clone()];
    both.sort();
    assert_eq!(shared, both);
    assert_eq!(
        store.orgs_admitting_domain("nowhere.test").await.unwrap(),
        vec![]
    );

    // Replacing the settings replaces the domains.
    let fewer = OrgSso {
        allowed_domains: vec![],
        ..sso
    };
    store
        .set_org_sso(&acme.id, &fewer, &fx.event(&acme.id, "org:sso", "org/acme"))
        .await
        .unwrap();
    assert_eq!(store.get_org_sso(&acme.id).await.unwrap(), Some(fewer));
    let found = store.orgs_admitting_domain("acme.test").await.unwrap();
    assert!(found.is_empty(), "{found:?}");
    fx.assert_actions(&acme.id, "org:create org:sso org:sso")
        .await;
}

pub async fn members_are_found_by_external_id_in_every_org(store: &dyn Store) {
    let (fx, [(acme, _), (globex, _)]) = Fx::with_two_orgs(store).await;
    let sub = ExternalId::parse("idp|7").unwrap();
    let mut found = Vec::new();
    for org in [&acme, &globex] {
        let mut m = member_record(&org.id, ADA, BuiltinRole::Reader);
        m.external_id = Some(sub.clone());
        store
            .create_member(&m, &fx.event(&org.id, "member:create", "m"))
            .await
            .unwrap();
        found.push(m);
    }
    let mut by_sub = store.members_by_external_id(&sub).await.unwrap();
    by_sub.sort_by(|a, b| a.org_id.cmp(&b.org_id));
    found.sort_by(|a, b| a.org_id.cmp(&b.org_id));
    assert_eq!(by_sub, found);
    let none = ExternalId::parse("idp|8").unwrap();
    assert!(store
        .members_by_external_id(&none)
        .await
        .unwrap()
        .is_empty());
}

pub async fn sign_in_steps_are_taken_once_before_they_expire(store: &dyn Store) {
    let now = time::OffsetDateTime::now_utc();
    let (a, b) = (hash("flow-a"), hash("flow-b"));
    store
        .put_sso_flow(&a, "{\"a\":1}", now, now + hours(1))
        .await
        .unwrap();
    assert_eq!(
        store.take_sso_flow(&a, now).await.unwrap().as_deref(),
        Some("{\"a\":1}")
    );
    assert_eq!(store.take_sso_flow(&a, now).await.unwrap(), None, "once");
    store
        .put_sso_flow(&b, "b", now, now + hours(1))
        .await
        .unwrap();
    assert_eq!(
        store.take_sso_flow(&b, now + hours(2)).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.take_sso_flow(&b, now).await.unwrap(),
        None,
        "and gone"
    );
    assert_eq!(
        store.take_sso_flow(&hash("never"), now).await.unwrap(),
        None
    );
}
