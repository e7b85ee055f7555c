//! Tokens: every scope kind round-trips, updates touch only what they name,
//! rotation is a compare-and-set, last-used times only move forward.

use tessera_core::model::{PreviousSecret, Token};
use tessera_core::{BuiltinRole, MemberId, TokenId, TokenOwner, TokenScope};
use tessera_store::{LastUsed, Rotation, Store, StoreError, TokenChanges, Unique};

use crate::fixtures::*;

pub async fn tokens_round_trip_every_scope_kind(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    fx.role(&org.id, "alpha").await;
    fx.role(&org.id, "beta").await;

    let inherit = token_record(&owner, "inherit", T0);
    let mut role = token_record(&owner, "role", T0);
    role.scope = TokenScope::Role(BuiltinRole::Writer);
    role.projects = vec![project_key("web"), project_key("api")];
    role.expires_at = Some(T0 + hours(24 * 30));
    let mut custom = token_record(&owner, "custom", T0);
    custom.scope = TokenScope::CustomRoles(vec![role_key("beta"), role_key("alpha")]);
    let mut inline = token_record(&owner, "inline", T0);
    inline.scope = TokenScope::Policy(policy());
    inline.last_used_at = Some(T0 + hours(1));
    inline.last_used_ip = Some("192.0.2.7".into());
    inline.rotated_at = Some(T0 + hours(2));
    inline.expires_at = Some(T0 + hours(48));
    inline.previous_secret = Some(PreviousSecret {
        hash: hash("old secret"),
        valid_until: T0 + hours(3),
    });

    for token in [&inherit, &role, &custom, &inline] {
        fx.save_token(token).await;
    }
    for token in [inherit, role, custom, inline] {
        assert_eq!(store.get_token(&token.id).await.unwrap(), Some(token));
    }
    assert_eq!(store.get_token(&TokenId::generate(T0)).await.unwrap(), None);
    assert_eq!(fx.actions(&org.id).await.len(), 3 + 4);
}

pub async fn create_token_reports_conflicts_and_unknown_references(store: &dyn Store) {
    let (fx, [(org, owner), (globex, globex_owner)]) = Fx::with_two_orgs(store).await;
    fx.role(&globex.id, "theirs").await;
    let first = fx.token(&owner, "first", T0).await;
    let create = |t: &Token| {
        let (t, event) = (t.clone(), fx.event(&org.id, "token:create", "t"));
        async move { store.create_token(&t, &event).await }
    };

    let twin = Token {
        name: "twin".into(),
        ..first.clone()
    };
    assert_fails!(create(&twin).await, StoreError::Conflict(Unique::TokenId));
    assert_eq!(store.get_token(&first.id).await.unwrap(), Some(first));

    for missing in ["nope", "theirs"] {
        let mut scoped = token_record(&owner, "scoped", T0);
        scoped.scope = TokenScope::CustomRoles(vec![role_key(missing)]);
        match create(&scoped).await.unwrap_err() {
            StoreError::UnknownReference(what) => {
                assert_eq!(what, format!("custom role {missing}"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.get_token(&scoped.id).await.unwrap(), None);
    }

    let mut orphan = token_record(&owner, "orphan", T0);
    orphan.owner = TokenOwner::Member(MemberId::generate(T0));
    assert_fails!(create(&orphan).await, StoreError::UnknownReference(_));
    // A member of another org cannot own a token of this one.
    let mut stray = token_record(&globex_owner, "stray", T0);
    stray.org_id = org.id.clone();
    assert_fails!(create(&stray).await, StoreError::UnknownReference(_));
    assert_eq!(store.get_token(&stray.id).await.unwrap(), None);

    fx.assert_actions(&org.id, "org:create token:create").await;
}

pub async fn a_members_token_names_are_distinct(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    let ada = fx.ada(&org.id, BuiltinRole::Writer).await;
    let first = fx.token(&owner, "deploy", T0).await;
    let event = || fx.event(&org.id, "token:create", "t");

    // The same name again, for the same member: refused, nothing stored.
    let again = token_record(&owner, "deploy", T0);
    assert_fails!(
        store.create_token(&again, &event()).await,
        StoreError::Conflict(Unique::TokenName)
    );
    assert_eq!(store.get_token(&again.id).await.unwrap(), None);
    // Another member may use it.
    let theirs = token_record(&ada, "deploy", T0);
    store.create_token(&theirs, &event()).await.unwrap();

    // Renaming into a taken name is refused too, and changes nothing.
    let other = fx.token(&owner, "other", T0).await;
    let rename = TokenChanges {
        name: Some("deploy".into()),
        ..TokenChanges::default()
    };
    let refused = store
        .update_token(&other.id, &rename, &fx.event(&org.id, "token:update", "t"))
        .await;
    assert_fails!(refused, StoreError::Conflict(Unique::TokenName));
    assert_eq!(store.get_token(&other.id).await.unwrap(), Some(other));
    assert_eq!(store.get_token(&first.id).await.unwrap(), Some(first));
}

pub async fn tokens_are_listed_newest_first(store: &dyn Store) {
    let (fx, [(org, owner), (globex, _)]) = Fx::with_two_orgs(store).await;
    let ada = fx.ada(&org.id, BuiltinRole::Reader).await;
    let oldest = fx.token(&owner, "oldest", T0).await;
    let newest = fx.token(&owner, "newest", T0 + hours(3)).await;
    let middle = fx.token(&owner, "middle", T0 + hours(1)).await;
    let tie_a = fx.token(&owner, "tie-a", T0 + hours(2)).await;
    let tie_b = fx.token(&owner, "tie-b", T0 + hours(2)).await;
    fx.token(&ada, "not the owner's", T0 + hours(4)).await;

    let (tie_hi, tie_lo) = if tie_a.id > tie_b.id {
        (tie_a, tie_b)
    } else {
        (tie_b, tie_a)
    };
    let ids: Vec<TokenId> = store
        .list_tokens(&org.id, &owner.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, [newest.id, tie_hi.id, tie_lo.id, middle.id, oldest.id]);
    assert!(store
        .list_tokens(&globex.id, &owner.id)
        .await
        .unwrap()
        .is_empty());
}

pub async fn update_token_changes_only_what_is_given(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    fx.role(&org.id, "alpha").await;
    fx.role(&org.id, "beta").await;
    let mut expected = token_record(&owner, "deploy", T0);
    expected.scope = TokenScope::Role(BuiltinRole::Reader);
    expected.projects = vec![project_key("web")];
    expected.expires_at = Some(T0 + hours(24));
    fx.save_token(&expected).await;
    let id = expected.id.clone();
    let update = |changes: TokenChanges| {
        let (id, event) = (&id, fx.event(&org.id, "token:update", "t"));
        async move { store.update_token(id, &changes, &event).await }
    };

    let saved = update(TokenChanges {
        name: Some("deploy (prod)".into()),
        ..TokenChanges::default()
    })
    .await
    .unwrap();
    expected.name = "deploy (prod)".into();
    assert_eq!(saved, expected);

    let saved = update(TokenChanges {
        projects: Some(vec![project_key("api"), project_key("web")]),
        ..TokenChanges::default()
    })
    .await
    .unwrap();
    expected.projects = vec![project_key("api"), project_key("web")];
    assert_eq!(saved, expected);

    let saved = update(TokenChanges {
        expires_at: Some(Some(T0 + hours(48))),
        ..TokenChanges::default()
    })
    .await
    .unwrap();
    expected.expires_at = Some(T0 + hours(48));
    assert_eq!(saved, expected);

    let saved = update(TokenChanges {
        expires_at: Some(None),
        ..TokenChanges::default()
    })
    .await
    .unwrap();
    expected.expires_at = None;
    assert_eq!(saved, expected);

    for scope in [
        TokenScope::CustomRoles(vec![role_key("beta"), role_key("alpha")]),
        TokenScope::Policy(policy()),
        TokenScope::Inherit,
        TokenScope::CustomRoles(vec![role_key("alpha")]),
        TokenScope::Role(BuiltinRole::Admin),
    ] {
        let saved = update(TokenChanges {
            scope: Some(scope.clone()),
            ..TokenChanges::default()
        })
        .await
        .unwrap();
        expected.scope = scope;
        assert_eq!(saved, expected);
        assert_eq!(
            store.get_token(&expected.id).await.unwrap(),
            Some(expected.clone())
        );
    }

    // All at once, or not at all.
    assert_fails!(
        update(TokenChanges {
            name: Some("renamed".into()),
            scope: Some(TokenScope::CustomRoles(vec![
                role_key("alpha"),
                role_key("nope"),
            ])),
            ..TokenChanges::default()
        })
        .await,
        StoreError::UnknownReference(_)
    );
    assert_eq!(
        store.get_token(&expected.id).await.unwrap(),
        Some(expected.clone())
    );

    assert_fails!(
        fx.update_token(&org.id, &TokenId::generate(T0), &TokenChanges::default())
            .await,
        StoreError::NotFound
    );
    let actions = fx.actions(&org.id).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "token:update").count(),
        4 + 5
    );
}

pub async fn deleted_tokens_are_gone(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    let doomed = fx.token(&owner, "doomed", T0).await;
    let kept = fx.token(&owner, "kept", T0).await;
    fx.delete_token(&org.id, &doomed.id).await.unwrap();
    assert_eq!(store.get_token(&doomed.id).await.unwrap(), None);
    assert_eq!(
        store.list_tokens(&org.id, &owner.id).await.unwrap(),
        vec![kept]
    );
    assert_fails!(
        fx.delete_token(&org.id, &doomed.id).await,
        StoreError::NotFound
    );
    fx.assert_actions(&org.id, "org:create token:create token:create token:delete")
        .await;
}

pub async fn rotation_is_a_compare_and_set(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    let mut token = token_record(&owner, "first", T0);
    token.expires_at = Some(T0 + hours(24));
    token.scope = TokenScope::Role(BuiltinRole::Writer);
    fx.save_token(&token).await;
    let rotate = |r: Rotation| {
        let event = fx.event(&org.id, "token:rotate", "t");
        let id = token.id.clone();
        async move { store.rotate_token(&id, &r, &event).await }
    };

    let t1 = T0 + hours(5);
    let first = rotation("second", t1, true);
    let saved = rotate(first.clone()).await.unwrap();
    let expected = Token {
        secret_hash: first.secret_hash,
        snippet: first.snippet.clone(),
        expires_at: Some(first.expires_at),
        rotated_at: Some(t1),
        previous_secret: first.previous_secret,
        ..token.clone()
    };
    assert_eq!(saved, expected);
    assert_eq!(
        store.get_token(&token.id).await.unwrap(),
        Some(expected.clone())
    );

    // Half an hour later: the bound is before the last rotation.
    assert_fails!(
        rotate(rotation(
            "too-soon",
            t1 + time::Duration::minutes(30),
            false,
        ))
        .await,
        StoreError::RotationRace
    );
    assert_eq!(
        store.get_token(&token.id).await.unwrap(),
        Some(expected.clone())
    );

    // Exactly an hour later the bound equals it, which is allowed; with no
    // grace period the previous secret is cleared.
    let third = rotation("third", t1 + hours(1), false);
    let saved = rotate(third.clone()).await.unwrap();
    assert_eq!(saved.secret_hash, hash("third"));
    assert_eq!(saved.rotated_at, Some(t1 + hours(1)));
    assert_eq!(saved.expires_at, Some(third.expires_at));
    assert_eq!(saved.previous_secret, None);
    assert_eq!((saved.name.as_str(), &saved.scope), ("first", &token.scope));

    assert_fails!(
        store
            .rotate_token(
                &TokenId::generate(T0),
                &rotation("x", t1 + hours(9), false),
                &fx.event(&org.id, "token:rotate", "t"),
            )
            .await,
        StoreError::NotFound
    );
    fx.assert_actions(&org.id, "org:create token:create token:rotate token:rotate")
        .await;
}

pub async fn of_two_concurrent_rotations_one_wins(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    let token = fx.expiring_token(&owner, "raced").await;
    let at = T0 + hours(2);
    let (a, b) = (rotation("a", at, false), rotation("b", at, false));
    let (ev_a, ev_b) = fx.racing_events(&org.id, "token:rotate", "token:rotate");
    let (ra, rb) = tokio::join!(
        store.rotate_token(&token.id, &a, &ev_a),
        store.rotate_token(&token.id, &b, &ev_b)
    );
    let winner = match (ra, rb) {
        (Ok(t), Err(StoreError::RotationRace)) => {
            assert_eq!(t.secret_hash, hash("a"));
            "a"
        }
        (Err(StoreError::RotationRace), Ok(t)) => {
            assert_eq!(t.secret_hash, hash("b"));
            "b"
        }
        other => panic!("expected exactly one winner: {other:?}"),
    };
    let saved = store.get_token(&token.id).await.unwrap().unwrap();
    assert_eq!(saved.secret_hash, hash(winner));
    let events = store
        .list_audit(
            &org.id,
            &tessera_store::AuditQuery {
                action: Some("token:rotate".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].target, winner);
}

pub async fn last_used_only_moves_forward(store: &dyn Store) {
    let (fx, org, owner) = Fx::with_org(store, "acme").await;
    let a = fx.token(&owner, "a", T0).await;
    let b = fx.token(&owner, "b", T0).await;
    let used = |t: &Token, at, ip: &str| LastUsed {
        token: t.id.clone(),
        at,
        ip: Some(ip.to_owned()),
    };
    // When, and from where, `t` was last used, as stored.
    let last_used = |t: &Token| {
        let id = t.id.clone();
        async move {
            let saved = store.get_token(&id).await.unwrap().unwrap();
            (saved.last_used_at, saved.last_used_ip)
        }
    };
    // What `last_used` answers for a use `h` hours after T0 from `ip`.
    let seen = |h: i64, ip: &str| (Some(T0 + hours(h)), Some(ip.to_owned()));

    store.record_last_used(&[]).await.unwrap();
    store
        .record_last_used(&[
            used(&a, T0 + hours(2), "192.0.2.1"),
            used(&b, T0 + hours(1), "192.0.2.2"),
        ])
        .await
        .unwrap();
    assert_eq!(last_used(&a).await, seen(2, "192.0.2.1"));
    assert_eq!(last_used(&b).await, seen(1, "192.0.2.2"));

    // Older news changes nothing; a deleted or unknown token is skipped.
    let gone = LastUsed {
        token: TokenId::generate(T0),
        at: T0 + hours(9),
        ip: None,
    };
    store
        .record_last_used(&[
            used(&a, T0 + hours(1), "198.51.100.1"),
            gone,
            used(&b, T0 + hours(3), "198.51.100.2"),
        ])
        .await
        .unwrap();
    assert_eq!(last_used(&a).await, seen(2, "192.0.2.1"));
    assert_eq!(last_used(&b).await, seen(3, "198.51.100.2"));

    // The IP may be unknown.
    store
        .record_last_used(&[LastUsed {
            token: a.id.clone(),
            at: T0 + hours(4),
            ip: None,
        }])
        .await
        .unwrap();
    assert_eq!(last_used(&a).await, (Some(T0 + hours(4)), None));

    // A large flush: thousands of uses (many of them of tokens storage no
    // longer has), the same token more than once and out of order. The
    // newest use of each known token lands.
    let mut batch: Vec<LastUsed> = (0..2500)
        .map(|i| LastUsed {
            token: TokenId::generate(T0),
            at: T0 + hours(5) + time::Duration::seconds(i),
            ip: None,
        })
        .collect();
    batch.insert(700, used(&a, T0 + hours(7), "203.0.113.7"));
    batch.insert(10, used(&a, T0 + hours(6), "203.0.113.6"));
    batch.push(used(&b, T0 + hours(5), "203.0.113.5"));
    store.record_last_used(&batch).await.unwrap();
    assert_eq!(last_used(&a).await, seen(7, "203.0.113.7"));
    assert_eq!(last_used(&b).await, seen(5, "203.0.113.5"));
    fx.assert_actions(&org.id, "org:create token:create token:create")
        .await;
}
