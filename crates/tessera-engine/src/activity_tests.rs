use super::*;
use crate::cache::OrgRoles;
use tessera_core::model::{Member, Token};
use tessera_core::{BuiltinRole, OrgId, TokenFormat, TokenScope};
use time::macros::datetime;

fn cached(id: &TokenId) -> Arc<CachedToken> {
    let now = datetime!(2026-01-01 0:00 UTC);
    let owner = Member::new(
        &OrgId::generate(now),
        "a@b.test",
        "A",
        BuiltinRole::Owner,
        now,
    );
    let minted = TokenFormat::default().generate_for(id.clone());
    let token = Token::minted(&minted, &owner, "t", TokenScope::Inherit, now);
    let scope = OrgRoles::default().resolve_scope(&token);
    Arc::new(CachedToken::new(token, scope))
}

fn new_id() -> TokenId {
    TokenId::generate(datetime!(2026-01-01 0:00 UTC))
}

#[test]
fn counts_by_day_and_keeps_five_addresses() {
    let t = ActivityTracker::default();
    let id = new_id();
    let token = cached(&id);
    let at = datetime!(2026-01-01 23:59:59 UTC);
    for i in 0..7u8 {
        t.record(&token, Outcome::Valid, Some([10, 0, 0, i].into()), at);
    }
    t.record(&token, Outcome::RateLimited, None, at);
    t.record(&token, Outcome::Valid, None, datetime!(2026-01-02 0:00 UTC));
    let (days, ips) = t.usage(&id);
    assert_eq!(days.len(), 2);
    assert_eq!((days[0].1.valid, days[0].1.rate_limited), (7, 1));
    assert_eq!(days[1].1.valid, 1);
    assert_eq!(ips.len(), 5);
    assert_eq!(ips[0].0, IpAddr::from([10, 0, 0, 6]));
}

#[test]
fn keeps_the_newest_admitted_use() {
    let t = ActivityTracker::default();
    let id = new_id();
    let token = cached(&id);
    let (ip1, ip2) = (Some([10, 0, 0, 1].into()), Some([10, 0, 0, 2].into()));
    t.record(
        &token,
        Outcome::Valid,
        ip1,
        datetime!(2026-01-01 0:00:05 UTC),
    );
    t.record(
        &token,
        Outcome::Denied,
        ip2,
        datetime!(2026-01-01 0:00:03 UTC),
    );
    let p = t.last_used(&id).expect("pending");
    assert_eq!(p.at, datetime!(2026-01-01 0:00:05 UTC));
    assert_eq!(p.ip.as_deref(), Some("10.0.0.1"));
    // A refused attempt is counted but is not a use.
    t.record(
        &token,
        Outcome::RateLimited,
        ip2,
        datetime!(2026-01-01 0:00:07 UTC),
    );
    assert_eq!(t.last_used(&id).expect("pending").at, p.at);
    t.record(
        &token,
        Outcome::Valid,
        None,
        datetime!(2026-01-01 0:00:09 UTC),
    );
    assert_eq!(t.last_used(&id).expect("pending").ip, None);
    assert_eq!(t.pending_count(), 1);

    let refused_id = new_id();
    let refused = cached(&refused_id);
    t.record(
        &refused,
        Outcome::IpNotAllowed,
        ip1,
        datetime!(2026-01-01 0:00:09 UTC),
    );
    assert_eq!(t.last_used(&refused_id), None);
    assert_eq!(t.usage(&refused_id).0[0].1.ip_not_allowed, 1);
}

/// A token reloaded into the cache (after a change) while its old entry
/// has uses not yet written: the new entry's uses join the old one's,
/// shown and taken as one token's.
#[test]
fn a_reloaded_token_s_two_entries_count_as_one() {
    let t = ActivityTracker::default();
    let id = new_id();
    let (old, new) = (cached(&id), cached(&id));
    let at = datetime!(2026-01-01 12:00 UTC);
    t.record(&old, Outcome::Valid, Some([10, 0, 0, 1].into()), at);
    t.record(
        &new,
        Outcome::Denied,
        Some([10, 0, 0, 2].into()),
        at + time::Duration::SECOND,
    );
    assert_eq!(t.pending_count(), 1, "listed under one id");
    let (days, ips) = t.usage(&id);
    assert_eq!((days[0].1.valid, days[0].1.denied), (1, 1));
    assert_eq!(ips.len(), 2);
    assert_eq!(
        t.last_used(&id).expect("pending").ip.as_deref(),
        Some("10.0.0.2")
    );

    let taken = t.take();
    let (_, pending) = &taken[&id];
    assert_eq!(pending.days[0].1.valid + pending.days[0].1.denied, 2);
    assert_eq!(t.pending_count(), 0);
    assert!(old.activity.lock().is_none() && new.activity.lock().is_none());
    // The next use lists the token again, by its current entry.
    t.record(&new, Outcome::Valid, None, at);
    assert_eq!(t.pending_count(), 1);
    assert!(new.activity.lock().is_some());
}

/// While the change feed is down every verification loads its token
/// afresh: thousands of entries of one token, whose uses all go to one
/// listed entry (no list growing per use).
#[test]
fn a_fresh_entry_per_use_still_lists_one() {
    let t = ActivityTracker::default();
    let id = new_id();
    let at = datetime!(2026-01-01 12:00 UTC);
    let first = cached(&id);
    t.record(&first, Outcome::Valid, None, at);
    let mut later = Vec::new();
    for _ in 0..2_000 {
        let entry = cached(&id);
        t.record(&entry, Outcome::Valid, None, at);
        later.push(Arc::downgrade(&entry));
    }
    assert_eq!(t.pending_count(), 1);
    assert!(
        later.iter().all(|entry| entry.upgrade().is_none()),
        "only the first entry is held"
    );
    assert_eq!(t.usage(&id).0[0].1.valid, 2_001);
}

/// Uses recorded on several threads while flushes take what is pending:
/// every use is taken by exactly one flush or still pending at the end,
/// including those of a token with two cache entries.
#[test]
fn no_use_is_lost_or_counted_twice_across_flushes() {
    const THREADS: u64 = 4;
    const USES: u64 = 20_000;
    let t = Arc::new(ActivityTracker::default());
    // Two entries of one token (a reload) and one of another.
    let ids: Vec<TokenId> = (0..2).map(|_| new_id()).collect();
    let tokens = vec![cached(&ids[0]), cached(&ids[0]), cached(&ids[1])];
    let at = datetime!(2026-01-01 12:00 UTC);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let taker = {
        let (t, done) = (Arc::clone(&t), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut total = 0i64;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                total += counted(&t.take());
            }
            total
        })
    };
    let users: Vec<_> = (0..THREADS)
        .map(|n| {
            let (t, tokens) = (Arc::clone(&t), tokens.clone());
            std::thread::spawn(move || {
                for i in 0..USES {
                    let token = &tokens[usize::try_from((i + n) % 3).expect("small")];
                    t.record(token, Outcome::Valid, None, at);
                }
            })
        })
        .collect();
    for user in users {
        user.join().expect("user thread");
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let taken = taker.join().expect("taker thread") + counted(&t.take());
    assert_eq!(taken, i64::try_from(THREADS * USES).expect("small"));
    assert_eq!(t.pending_count(), 0);
}

fn counted(taken: &HashMap<TokenId, (Arc<CachedToken>, Pending)>) -> i64 {
    taken
        .values()
        .flat_map(|(_, p)| p.days.iter().map(|(_, c)| c.valid))
        .sum()
}
