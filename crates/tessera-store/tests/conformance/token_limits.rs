//! Token controls that are spent: the controls column round trip, quota
//! and rate-limit reservations (never beyond the budget, refills applied
//! once, returns only into the same count), and usage counts.

use tessera_core::controls::{Quota, RateLimit, Refill, RefillInterval, TokenControls};
use tessera_core::model::Token;
use tessera_store::{SeenIp, Store, TokenChanges, UsageCounts, UsageDelta};

use crate::fixtures::{hours, token_record, Fx, T0};

fn controlled(quota: i64, refill: Option<Refill>) -> Option<Box<TokenControls>> {
    Some(Box::new(TokenControls {
        allowed_ips: vec!["10.0.0.0/8".parse().unwrap()],
        rate_limit: Some(RateLimit {
            requests: 10,
            per_seconds: 60,
        }),
        quota: Some(Quota {
            remaining: quota,
            refill,
        }),
    }))
}

pub async fn quota_reservations_never_overspend_and_refill_once(store: &dyn Store) {
    let (fx, org, ada) = Fx::with_org(store, "acme").await;
    let token = Token {
        controls: controlled(5, None),
        ..token_record(&ada, "metered", T0)
    };
    fx.save_token(&token).await;
    assert_eq!(
        store.get_token(&token.id).await.unwrap().unwrap().controls,
        token.controls
    );

    let a = store
        .reserve_quota(&token.id, 3, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.granted, a.remaining), (3, 2));
    let b = store
        .reserve_quota(&token.id, 3, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((b.granted, b.remaining), (2, 0), "only what is left");
    let c = store
        .reserve_quota(&token.id, 1, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.granted, c.remaining), (0, 0));
    store.return_quota(&token.id, 2, b.version).await.unwrap();
    let live = store.get_token(&token.id).await.unwrap().unwrap();
    assert_eq!(live.controls.unwrap().quota.unwrap().remaining, 2);

    // Setting the quota anew moves the version: an old slice is not
    // given back into the new count.
    let changes = TokenChanges {
        controls: Some(controlled(7, None).map(|c| *c)),
        quota_reset: Some(None),
        ..TokenChanges::default()
    };
    let event = fx.event(&org.id, "token:update", "t");
    store
        .update_token(&token.id, &changes, &event)
        .await
        .unwrap();
    store.return_quota(&token.id, 2, b.version).await.unwrap();
    let d = store
        .reserve_quota(&token.id, 100, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.granted, d.remaining), (7, 0));
    assert_ne!(d.version, b.version);

    // A refill: the first reservation in a later period sets the count to
    // the amount, once.
    let refill = Refill {
        amount: 4,
        interval: RefillInterval::Day,
    };
    let daily = Token {
        controls: controlled(1, Some(refill)),
        ..token_record(&ada, "daily", T0)
    };
    fx.save_token(&daily).await;
    let today = refill.period(T0);
    let e = store
        .reserve_quota(&daily.id, 1, Some((4, today)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (e.granted, e.remaining),
        (1, 0),
        "no refill within the period"
    );
    let f = store
        .reserve_quota(&daily.id, 1, Some((4, today + 1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (f.granted, f.remaining),
        (1, 3),
        "refilled to 4, then 1 taken"
    );
    let g = store
        .reserve_quota(&daily.id, 1, Some((4, today + 1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((g.granted, g.remaining), (1, 2), "refilled only once");

    // No quota: nothing to reserve.
    let plain = fx.token(&ada, "plain", T0).await;
    assert_eq!(store.reserve_quota(&plain.id, 1, None).await.unwrap(), None);
}

pub async fn rate_reservations_share_a_windows_budget(store: &dyn Store) {
    let (fx, _org, ada) = Fx::with_org(store, "acme").await;
    let token = Token {
        controls: controlled(1, None),
        ..token_record(&ada, "limited", T0)
    };
    fx.save_token(&token).await;
    let w = T0.unix_timestamp();
    let a = store
        .reserve_rate(&token.id, w, 6, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.granted, a.used), (6, 6));
    let b = store
        .reserve_rate(&token.id, w, 6, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((b.granted, b.used), (4, 10), "only the rest of the window");
    let c = store
        .reserve_rate(&token.id, w, 1, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.granted, 0);
    // The next window starts at 0; an older one gets nothing.
    let d = store
        .reserve_rate(&token.id, w + 60, 3, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.granted, d.used), (3, 3));
    let old = store
        .reserve_rate(&token.id, w, 3, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.granted, 0);
}

pub async fn usage_is_added_and_five_addresses_kept(store: &dyn Store) {
    let (fx, _org, ada) = Fx::with_org(store, "acme").await;
    let token = fx.token(&ada, "counted", T0).await;
    let gone = token_record(&ada, "never saved", T0);
    let day = T0.unix_timestamp().div_euclid(86_400);
    let delta = |token: &Token, valid| UsageDelta {
        token: token.id.clone(),
        day,
        counts: UsageCounts {
            valid,
            rate_limited: 1,
            ..UsageCounts::default()
        },
    };
    let seen = |i: i64| SeenIp {
        token: token.id.clone(),
        ip: format!("10.0.0.{i}"),
        at: T0 + hours(i),
    };
    store
        .record_usage(
            &[delta(&token, 2), delta(&gone, 9)],
            &[seen(1), seen(2), seen(3)],
        )
        .await
        .unwrap();
    store
        .record_usage(&[delta(&token, 3)], &[seen(4), seen(5), seen(6), seen(7)])
        .await
        .unwrap();
    let usage = store.token_usage(&token.id, day - 1, day).await.unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].0, day);
    assert_eq!((usage[0].1.valid, usage[0].1.rate_limited), (5, 2));
    let ips = store.recent_ips(&token.id).await.unwrap();
    let names: Vec<&str> = ips.iter().map(|(ip, _)| ip.as_str()).collect();
    assert_eq!(
        names,
        ["10.0.0.7", "10.0.0.6", "10.0.0.5", "10.0.0.4", "10.0.0.3"]
    );
    assert!(store
        .token_usage(&gone.id, day, day)
        .await
        .unwrap()
        .is_empty());
}
