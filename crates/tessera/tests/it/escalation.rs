//! The permission-escalation property, over the real API: random sequences
//! of role edits, member edits and token operations, each by a random
//! member, never let anyone end up able to do something that neither they
//! nor the member who acted could do before.
//!
//! After every step by actor X, for every member M:
//! `can(M) ⊆ could(M) ∪ could(X)` — permissions can be passed on, never
//! made. A member X adds is bounded by `could(X)`, and a token X creates
//! by X. "Can" is measured with `/verify` on a fixed list of probes
//! through each member's inheriting token, so it is exactly the member's
//! permission; the member's own id reads as `SELF`, so a member's own
//! tokens compare with another member's own tokens.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{start, TestServer};

const PASSWORD: &str = "member-password-1";

/// A small deterministic generator (the sequence is printed on failure
/// with its seed, so a failing case can be replayed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn subset(&mut self, items: &[&'static str]) -> Vec<&'static str> {
        items
            .iter()
            .copied()
            .filter(|_| self.below(3) == 0)
            .collect()
    }
}

const ROLES: [&str; 6] = [
    "role-keeper",
    "member-keeper",
    "no-tokens",
    "no-audit",
    "flags",
    "everything",
];

fn policy(kind: usize) -> Value {
    let statement = |effect: &str, actions: &[&str], resources: &[&str]| json!([{ "effect": effect, "actions": actions, "resources": resources }]);
    match kind % 7 {
        0 => statement("allow", &["role:*"], &["role/*"]),
        1 => statement("allow", &["member:*"], &["member/*"]),
        2 => statement("deny", &["token:create"], &["*"]),
        3 => statement("deny", &["audit:read"], &["*"]),
        4 => statement("allow", &["flag:*"], &["proj/*"]),
        5 => statement("allow", &["*"], &["*"]),
        _ => statement("allow", &["audit:read", "org:update"], &["*"]),
    }
}

/// Someone whose permissions are tracked: a member and their token.
#[derive(Clone)]
struct Member {
    id: String,
    email: String,
    token: String,
}

struct World<'a> {
    s: &'a TestServer,
    members: Vec<Member>,
    probes: Vec<(String, String)>,
    log: Vec<String>,
}

impl World<'_> {
    /// What `token` (owned by member `id`) may do, as probe keys with the
    /// member's own id written `SELF`.
    async fn can(&self, id: &str, token: &str) -> BTreeSet<String> {
        let mut allowed = BTreeSet::new();
        for (action, template) in &self.probes {
            let resource = template.replace("SELF", id);
            if self.s.verify_allows(token, action, &resource).await {
                allowed.insert(format!("{action} {template}"));
            }
        }
        allowed
    }

    async fn everyone(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut all = BTreeMap::new();
        for m in &self.members {
            all.insert(m.id.clone(), self.can(&m.id, &m.token).await);
        }
        all
    }

    fn fail(&self, seed: u64, what: String) -> ! {
        panic!("seed {seed}: {what}\nsteps:\n{}", self.log.join("\n"));
    }

    /// Adds a member (by the owner), with a token of their own.
    async fn add(&mut self, email: &str, role: &str, custom_roles: &[&str]) -> Member {
        let id = self.s.add_member(email, role, PASSWORD).await;
        let member = self.member_from(id.clone(), email).await;
        self.owner_sets_custom_roles(&id, json!(custom_roles)).await;
        member
    }

    async fn owner_sets_custom_roles(&self, id: &str, roles: Value) {
        self.s
            .owner_updates_member(id, json!({ "custom_roles": roles }))
            .await;
    }

    /// Tracks an existing member, giving them an inheriting token: made
    /// with their custom roles lifted for a moment by the owner (a role
    /// that denies `token:create` would refuse it), then put back.
    async fn member_from(&mut self, id: String, email: &str) -> Member {
        let me = self
            .s
            .get(&format!("/api/v1/members/{id}"), &self.s.owner_token)
            .await
            .expect(200);
        let custom_roles = me.body["custom_roles"].clone();
        self.owner_sets_custom_roles(&id, json!([])).await;
        let token = self.s.token_of(email, PASSWORD, "probe").await;
        self.owner_sets_custom_roles(&id, custom_roles).await;
        let member = Member {
            id,
            email: email.to_owned(),
            token,
        };
        self.members.push(member.clone());
        member
    }
}

async fn run(seed: u64, steps: usize) {
    let s = start().await;
    for (i, key) in ROLES.iter().enumerate() {
        let kind = [0, 1, 2, 3, 4, 5][i];
        s.add_role(json!({ "key": key, "policy": policy(kind) }))
            .await;
    }
    let owner = s.owner_id.clone();
    let probes = [
        ("audit:read", "audit/log".to_owned()),
        ("org:update", "org/acme".to_owned()),
        ("member:create", format!("member/{owner}")),
        ("member:update", format!("member/{owner}")),
        ("role:update", "role/role-keeper".to_owned()),
        ("role:create", "role/new".to_owned()),
        ("project:create", "proj/p".to_owned()),
        ("flag:update", "proj/web:flag/x".to_owned()),
        ("flag:delete", "proj/web:flag/x".to_owned()),
        ("token:create", "member/SELF:token/x".to_owned()),
        ("token:delete", "member/SELF:token/x".to_owned()),
        ("token:create", format!("member/{owner}:token/x")),
        ("token:read", format!("member/{owner}:token/x")),
    ]
    .into_iter()
    .map(|(a, r)| (a.to_owned(), r))
    .collect();
    let mut world = World {
        s: &s,
        members: Vec::new(),
        probes,
        log: Vec::new(),
    };
    let mut rng = Rng(seed);
    for (i, role) in ["reader", "writer", "writer", "admin"].iter().enumerate() {
        let custom = rng.subset(&ROLES);
        world.add(&format!("m{i}@acme.test"), role, &custom).await;
    }

    for step in 0..steps {
        let before = world.everyone().await;
        let actor = rng.pick(&world.members).clone();
        let target = rng.pick(&world.members).clone();
        let could_actor = before[&actor.id].clone();
        let (method, path, body) = match rng.below(7) {
            0 => (
                Method::PUT,
                format!("/api/v1/roles/{}", rng.pick(&ROLES)),
                Some(json!({ "policy": policy(rng.below(7)) })),
            ),
            1 => (
                Method::POST,
                "/api/v1/roles".to_owned(),
                Some(json!({ "key": format!("r{step}"), "policy": policy(rng.below(7)) })),
            ),
            2 => (
                Method::PATCH,
                format!("/api/v1/members/{}", target.id),
                Some(json!({ "custom_roles": rng.subset(&ROLES) })),
            ),
            3 => (
                Method::PATCH,
                format!("/api/v1/members/{}", target.id),
                Some(json!({ "role": rng.pick(&["reader", "writer", "admin", "owner"]) })),
            ),
            4 => (
                Method::POST,
                "/api/v1/members".to_owned(),
                Some(json!({
                    "email": format!("new{step}@acme.test"),
                    "role": rng.pick(&["reader", "writer", "admin", "owner"]),
                    "custom_roles": rng.subset(&ROLES),
                    "password": PASSWORD,
                })),
            ),
            5 => {
                let scope = match rng.below(3) {
                    0 => {
                        json!({ "name": format!("t{step}"), "role": rng.pick(&["reader", "writer", "admin"]) })
                    }
                    1 => json!({ "name": format!("t{step}"), "custom_roles": [rng.pick(&ROLES)] }),
                    _ => json!({ "name": format!("t{step}"), "policy": policy(rng.below(7)) }),
                };
                (Method::POST, "/api/v1/tokens".to_owned(), Some(scope))
            }
            _ => (
                Method::DELETE,
                format!("/api/v1/roles/{}", rng.pick(&ROLES)),
                None,
            ),
        };
        let reply = s
            .call(method.clone(), &path, Some(&actor.token), body.clone())
            .await;
        assert!(
            reply.status.as_u16() < 500,
            "seed {seed}: {method} {path}: {}",
            reply.text
        );
        world.log.push(format!(
            "{step}: {} {method} {path} {} -> {}",
            actor.email,
            body.map(|b| b.to_string()).unwrap_or_default(),
            reply.status
        ));

        // A member or token the actor made is bounded by the actor.
        if reply.status.is_success() && path == "/api/v1/members" && method == Method::POST {
            let id = reply.string("id");
            let email = reply.string("email");
            let added = world.member_from(id.clone(), &email).await;
            let can = world.can(&id, &added.token).await;
            if let Some(extra) = can.difference(&could_actor).next() {
                world.fail(
                    seed,
                    format!("{} added {email}, who can `{extra}`", actor.email),
                );
            }
        }
        if reply.status.is_success() && path == "/api/v1/tokens" {
            let token = reply.body["token"].as_str().expect("token");
            let can = world.can(&actor.id, token).await;
            if let Some(extra) = can.difference(&could_actor).next() {
                world.fail(seed, format!("{}'s new token can `{extra}`", actor.email));
            }
        }
        let after = world.everyone().await;
        for m in &world.members {
            let (Some(could), Some(can)) = (before.get(&m.id), after.get(&m.id)) else {
                continue;
            };
            if let Some(extra) = can
                .iter()
                .find(|p| !could.contains(*p) && !could_actor.contains(*p))
            {
                world.fail(
                    seed,
                    format!("after {}'s step, {} can `{extra}`", actor.email, m.email),
                );
            }
        }
    }
}

#[tokio::test]
async fn no_sequence_of_changes_lets_anyone_exceed_what_was_passed_on() {
    // Seeds chosen once at random; each run is the same sequence.
    for seed in [0x5EED_0001, 0x7E55_E7A0, 0xC0FF_EE42] {
        run(seed, 30).await;
    }
}
