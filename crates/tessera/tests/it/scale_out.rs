//! Several nodes on one PostgreSQL database: what one node changes, the
//! others see at once. These always run on PostgreSQL (SQLite cannot be
//! shared between nodes).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{in_days, postgres_schema, send, start_node, start_on, TestServer};

/// How long a change may take to reach another node before the test
/// calls it lost. The target (p99 ≤ 100 ms) is measured by the benchmark;
/// this bound only catches a change that never arrives.
const PROPAGATION_BOUND: Duration = Duration::from_secs(3);

async fn verify_on(
    s: &TestServer,
    base: &str,
    token: &str,
    question: Option<(&str, &str)>,
) -> serde_json::Value {
    let mut body = json!({ "token": token });
    if let Some((action, resource)) = question {
        body["action"] = json!(action);
        body["resource"] = json!(resource);
    }
    send(s.http.post(format!("{base}/api/v1/verify")).json(&body))
        .await
        .expect(200)
        .body
}

/// Polls node `base` until `done` holds; returns how long it took.
async fn until(
    s: &TestServer,
    base: &str,
    token: &str,
    question: Option<(&str, &str)>,
    done: impl Fn(&serde_json::Value) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let answer = verify_on(s, base, token, question).await;
        if done(&answer) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < PROPAGATION_BOUND,
            "the change never reached the other node: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Several replicas deployed at once on an empty database all run the
/// first start's set-up. Each checks for an org, then hashes a password
/// (tens of milliseconds) before inserting, so all of them see none: one
/// must create it and the others must start as plain nodes, not fail.
#[tokio::test]
async fn nodes_starting_together_on_an_empty_database_create_one_org() {
    let url = postgres_schema().await;
    let mut nodes = Vec::new();
    for _ in 0..4 {
        let config = tessera_server::Config::with_database_url(url.clone());
        nodes.push(tessera_server::open(config).await.expect("open store"));
    }
    let mut starts = tokio::task::JoinSet::new();
    for state in &nodes {
        let state = state.clone();
        starts.spawn(async move {
            tessera_server::setup::create_first_org(&state, "acme", "a@example.com").await
        });
    }
    let mut created = Vec::new();
    while let Some(outcome) = starts.join_next().await {
        match outcome.expect("no panic") {
            Ok(Some(org)) => created.push(org),
            Ok(None) => {}
            Err(e) => panic!("a node failed its first start: {e}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one node creates the org");
    assert!(created[0].generated_password.is_some());
    assert_eq!(nodes[0].store.count_orgs().await.expect("count"), 1);
    // A later start finds the org and creates nothing.
    let again = tessera_server::setup::create_first_org(&nodes[1], "acme", "a@example.com")
        .await
        .expect("second start");
    assert!(again.is_none());
}

#[tokio::test]
async fn changes_on_one_node_reach_the_other() {
    let url = postgres_schema().await;
    let a = start_on(&url).await;
    let (b, _b_server) = start_node(&url).await;
    let write = Some(("flag:update", "proj/web:flag/x"));

    // Revocation.
    let (id, token, _) = a.owner_creates_token("shared").await;
    assert_eq!(
        verify_on(&a, &b, &token, None).await["valid"],
        true,
        "node B caches it"
    );
    a.owner_delete(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(204);
    until(&a, &b, &token, None, |v| v["valid"] == false).await;

    // A member's downgrade shrinks their token on the other node.
    let (member_id, member_token) = a.member_with_token("dev@acme.test", "writer").await;
    assert_eq!(
        verify_on(&a, &b, &member_token, write).await["allowed"],
        true
    );
    a.owner_updates_member(&member_id, json!({ "role": "reader" }))
        .await;
    until(&a, &b, &member_token, write, |v| v["allowed"] == false).await;

    // A custom role's edit.
    let policy = |actions: &str| json!([{ "effect": "allow", "actions": [actions], "resources": ["proj/*:*"] }]);
    a.add_role(json!({ "key": "flags", "policy": policy("flag:read") }))
        .await;
    let (_, scoped, _) = a
        .owner_creates_token_with(json!({ "name": "c", "custom_roles": ["flags"] }))
        .await;
    assert_eq!(verify_on(&a, &b, &scoped, write).await["allowed"], false);
    a.call(
        reqwest::Method::PUT,
        "/api/v1/roles/flags",
        Some(&a.owner_token),
        Some(json!({ "policy": policy("flag:*") })),
    )
    .await
    .expect(200);
    until(&a, &b, &scoped, write, |v| v["allowed"] == true).await;

    // Rotation: the old string stops working on B too.
    let (rid, old, _) = a.owner_creates_expiring_token("r", 5).await;
    assert_eq!(verify_on(&a, &b, &old, None).await["valid"], true);
    a.owner_post(
        &format!("/api/v1/tokens/{rid}/rotate"),
        json!({ "expires_at": in_days(10) }),
    )
    .await
    .expect(200);
    until(&a, &b, &old, None, |v| v["valid"] == false).await;

    // Removing a member kills their tokens everywhere.
    a.owner_delete(&format!("/api/v1/members/{member_id}"))
        .await
        .expect(204);
    until(&a, &b, &member_token, None, |v| v["valid"] == false).await;
}

/// Two nodes rotating one token at the same moment: exactly one wins.
#[tokio::test]
async fn concurrent_rotation_across_nodes_has_one_winner() {
    let url = postgres_schema().await;
    let a = start_on(&url).await;
    let (b, _b_server) = start_node(&url).await;
    let expires = in_days(30);
    for round in 0..5 {
        let (id, _, _) = a
            .owner_creates_token_with(
                json!({ "name": format!("raced {round}"), "expires_at": expires }),
            )
            .await;
        let body = json!({ "expires_at": expires });
        let on_a = send(
            a.http
                .post(a.url(&format!("/api/v1/tokens/{id}/rotate")))
                .bearer_auth(&a.owner_token)
                .json(&body),
        );
        let on_b = send(
            a.http
                .post(format!("{b}/api/v1/tokens/{id}/rotate"))
                .bearer_auth(&a.owner_token)
                .json(&body),
        );
        let (ra, rb) = tokio::join!(on_a, on_b);
        let mut statuses = [ra.status.as_u16(), rb.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 429], "a: {} b: {}", ra.text, rb.text);
    }
}

/// Measures revoke-to-401 across two nodes over many trials and prints
/// p50/p99 (for docs/benchmarks.md). Not a pass/fail timing test; run with
/// `cargo test --release -p tessera --test it propagation -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, run by hand"]
async fn propagation_latency() {
    let url = postgres_schema().await;
    let a = start_on(&url).await;
    let (b, _b_server) = start_node(&url).await;
    let trials = 200;
    let mut samples = Vec::with_capacity(trials);
    for _ in 0..trials {
        let (id, token, _) = a.owner_creates_token("m").await;
        assert_eq!(verify_on(&a, &b, &token, None).await["valid"], true);
        // Time from the delete's acknowledgement to node B refusing the token.
        a.owner_delete(&format!("/api/v1/tokens/{id}"))
            .await
            .expect(204);
        let started = Instant::now();
        loop {
            if verify_on(&a, &b, &token, None).await["valid"] == false {
                break;
            }
            assert!(started.elapsed() < PROPAGATION_BOUND, "never propagated");
        }
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "propagation over {trials} trials: p50 {:?}, p99 {:?}, max {:?}",
        pick(0.50),
        pick(0.99),
        samples[samples.len() - 1]
    );
}

/// Restarts PostgreSQL under load: acknowledged writes survive, failures
/// during the outage are 503s (never 500s), cached verifications keep
/// answering, and both nodes recover without a restart. Needs root and
/// `pg_ctlcluster`; scripts/test runs it on its own at the end.
#[tokio::test]
#[ignore = "restarts the machine's PostgreSQL; run alone (scripts/test does)"]
async fn postgres_restart_under_load() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let url = postgres_schema().await;
    let a = Arc::new(start_on(&url).await);
    let (b, _b_server) = start_node(&url).await;
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let (_, token, _) = a
            .owner_creates_token_with(json!({ "name": format!("before {i}") }))
            .await;
        assert_eq!(verify_on(&a, &b, &token, None).await["valid"], true);
        acknowledged.push(token);
    }
    let cached = acknowledged[0].clone();

    // Load: node B verifies a cached token; node A keeps creating tokens.
    let stop = Arc::new(AtomicBool::new(false));
    let (valid, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let verifier = {
        let (stop, valid, errors, a, b) = (
            stop.clone(),
            valid.clone(),
            errors.clone(),
            a.clone(),
            b.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let r = send(
                    a.http
                        .post(format!("{b}/api/v1/verify"))
                        .json(&json!({ "token": cached })),
                )
                .await;
                match (r.status.as_u16(), r.body["valid"].as_bool()) {
                    (200, Some(true)) => valid.fetch_add(1, Ordering::SeqCst),
                    (200, Some(false)) => {
                        panic!("a valid token was refused during the outage: {}", r.text)
                    }
                    (503, _) => errors.fetch_add(1, Ordering::SeqCst),
                    _ => panic!(
                        "unexpected answer during the outage: {} {}",
                        r.status, r.text
                    ),
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let writer = {
        let (stop, a) = (stop.clone(), a.clone());
        tokio::spawn(async move {
            let mut created = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let r = a
                    .owner_post("/api/v1/tokens", json!({ "name": format!("during {i}") }))
                    .await;
                match r.status.as_u16() {
                    201 => created.push(r.string("token")),
                    503 => {}
                    other => panic!("a write during the outage answered {other}: {}", r.text),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            created
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("/etc/postgresql")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .max()
        .expect("a cluster");
    let status = std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .status()
        .expect("pg_ctlcluster");
    assert!(status.success(), "could not restart PostgreSQL");

    // Both nodes recover by themselves: writes on A, fresh reads on B.
    let recovered = Instant::now();
    loop {
        let r = a
            .owner_post("/api/v1/tokens", json!({ "name": "after" }))
            .await;
        if r.status == 201 {
            acknowledged.push(r.string("token"));
            break;
        }
        assert!(
            recovered.elapsed() < Duration::from_secs(30),
            "node A did not recover: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    verifier.await.expect("verifier");
    acknowledged.extend(writer.await.expect("writer"));
    assert!(valid.load(Ordering::SeqCst) > 0);

    // Every acknowledged token verifies on both nodes.
    for token in &acknowledged {
        for node in [a.base.as_str(), b.as_str()] {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let r = send(
                    a.http
                        .post(format!("{node}/api/v1/verify"))
                        .json(&json!({ "token": token })),
                )
                .await;
                if r.status == 200 {
                    assert_eq!(
                        r.body["valid"], true,
                        "an acknowledged token was lost: {}",
                        r.text
                    );
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "node {node} did not recover: {}",
                    r.text
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    // And changes propagate again (the feed resumed).
    let (id, token, _) = a.owner_creates_token("last").await;
    assert_eq!(verify_on(&a, &b, &token, None).await["valid"], true);
    a.owner_delete(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(204);
    until(&a, &b, &token, None, |v| v["valid"] == false).await;
    println!(
        "restart: {} acknowledged tokens verified; node B answered {} valid and {} 503 during the outage",
        acknowledged.len(),
        valid.load(Ordering::SeqCst),
        errors.load(Ordering::SeqCst)
    );
}

/// A service account's role change and its deletion reach another node's
/// cache through the same change feed as a revocation.
#[tokio::test]
async fn service_accounts_role_and_deletion_reach_the_other_node() {
    let url = postgres_schema().await;
    let a = start_on(&url).await;
    let (b, _b_server) = start_node(&url).await;
    let write = Some(("flag:update", "proj/web:flag/x"));
    let id = a
        .owner_post(
            "/api/v1/service-accounts",
            json!({ "name": "ci", "role": "writer" }),
        )
        .await
        .expect(201)
        .string("id");
    let account = format!("/api/v1/service-accounts/{id}");
    let token = a
        .owner_post(&format!("{account}/tokens"), json!({ "name": "deploy" }))
        .await
        .expect(201)
        .string("token");
    assert_eq!(
        verify_on(&a, &b, &token, write).await["allowed"],
        true,
        "node B caches the account"
    );
    a.owner_patch(&account, json!({ "role": "reader" }))
        .await
        .expect(200);
    until(&a, &b, &token, write, |v| v["allowed"] == false).await;
    a.owner_delete(&account).await.expect(204);
    until(&a, &b, &token, None, |v| v["valid"] == false).await;
}
