//! Token controls at verification time: `allowed_ips`, `rate_limit`,
//! `quota` (with `cost` and refill) on Tessera's API, `/verify` and
//! `/auth`; usage per token; bad input; and two nodes on PostgreSQL
//! sharing one rate limit and one quota.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::harness::{metrics_of, postgres_schema, send, start, start_node, start_on, start_with};

fn verify_code(reply: &crate::harness::Reply) -> (bool, String) {
    (
        reply.body["valid"].as_bool().unwrap_or(false),
        reply.body["code"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn controls_are_set_shown_changed_cleared_and_cloned() {
    let s = start().await;
    let (id, _, created) = s
        .owner_creates_token_with(json!({
            "name": "limited",
            "allowed_ips": ["10.1.2.3/8", "2001:db8::/32", "::ffff:192.168.0.0/112"],
            "rate_limit": { "requests": 100, "per_seconds": 60 },
            "quota": { "remaining": 1000, "refill": { "amount": 1000, "interval": "month" } },
        }))
        .await;
    // Host bits cleared; IPv4-mapped ranges shown as IPv4.
    assert_eq!(
        created["allowed_ips"],
        json!(["10.0.0.0/8", "2001:db8::/32", "192.168.0.0/16"])
    );
    assert_eq!(
        created["rate_limit"],
        json!({ "requests": 100, "per_seconds": 60 })
    );
    assert_eq!(
        created["quota"],
        json!({ "remaining": 1000, "refill": { "amount": 1000, "interval": "month" } })
    );

    // A PATCH changes only what it sends; null removes a control.
    let path = format!("/api/v1/tokens/{id}");
    let changed = s
        .owner_patch(
            &path,
            json!({ "rate_limit": { "requests": 5, "per_seconds": 1 } }),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["rate_limit"]["requests"], 5);
    assert_eq!(changed.body["quota"]["remaining"], 1000);
    assert_eq!(
        changed.body["allowed_ips"].as_array().map(Vec::len),
        Some(3)
    );
    let cleared = s
        .owner_patch(&path, json!({ "allowed_ips": null, "quota": null }))
        .await
        .expect(200);
    assert!(cleared.body["allowed_ips"].is_null(), "{}", cleared.text);
    assert!(cleared.body["quota"].is_null());
    assert_eq!(cleared.body["rate_limit"]["per_seconds"], 1);

    // A clone keeps them.
    let clone = s
        .owner_post(&format!("/api/v1/tokens/{id}/clone"), json!({}))
        .await
        .expect(201);
    assert_eq!(clone.body["rate_limit"], cleared.body["rate_limit"]);
    let none = s
        .owner_patch(&path, json!({ "rate_limit": null }))
        .await
        .expect(200);
    assert!(none.body["rate_limit"].is_null());

    // A plain token shows all three as null.
    let (_, _, plain) = s.owner_creates_token("plain").await;
    for field in ["allowed_ips", "rate_limit", "quota"] {
        assert!(plain[field].is_null(), "{field}: {plain}");
    }

    // A service account's token takes them too.
    let account = s
        .owner_post(
            "/api/v1/service-accounts",
            json!({ "name": "ci", "role": "reader" }),
        )
        .await
        .expect(201);
    let account_id = account.string("id");
    let sa_token = s
        .owner_post(
            &format!("/api/v1/service-accounts/{account_id}/tokens"),
            json!({ "name": "deploy", "quota": { "remaining": 3 } }),
        )
        .await
        .expect(201);
    assert_eq!(sa_token.body["quota"], json!({ "remaining": 3 }));
}

#[tokio::test]
async fn bad_control_input_is_a_clear_4xx() {
    let s = start().await;
    let many: Vec<String> = (0..101).map(|i| format!("10.0.{i}.0/24")).collect();
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({ "allowed_ips": ["10.0.0.0/33"] }),
            400,
            "bad_request",
        ),
        (json!({ "allowed_ips": ["not-an-ip"] }), 400, "bad_request"),
        (json!({ "allowed_ips": ["10.0.0/8"] }), 400, "bad_request"),
        (json!({ "allowed_ips": [""] }), 400, "bad_request"),
        (json!({ "allowed_ips": "10.0.0.0/8" }), 400, "bad_request"),
        (json!({ "allowed_ips": many }), 422, "validation_failed"),
        (
            json!({ "rate_limit": { "requests": 0, "per_seconds": 60 } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "rate_limit": { "requests": -5, "per_seconds": 60 } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "rate_limit": { "requests": 10, "per_seconds": 0 } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "rate_limit": { "requests": 10, "per_seconds": 86401 } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "rate_limit": { "requests": 10_000_000_000_i64, "per_seconds": 1 } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "rate_limit": { "requests": 10 } }),
            400,
            "bad_request",
        ),
        (
            json!({ "quota": { "remaining": -1 } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "quota": { "remaining": 10_000_000_000_000_i64 } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "quota": { "remaining": 5, "refill": { "amount": 0, "interval": "day" } } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "quota": { "remaining": 5, "refill": { "amount": 5, "interval": "week" } } }),
            400,
            "bad_request",
        ),
    ];
    for (i, (extra, status, code)) in cases.into_iter().enumerate() {
        let mut body = json!({ "name": format!("bad {i}") });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        s.owner_post("/api/v1/tokens", body.clone())
            .await
            .expect_error(status, code);
    }
    // Every address is accepted, and says so.
    let (id, token, any) = s
        .owner_creates_token_with(json!({ "name": "any", "allowed_ips": ["0.0.0.0/0", "::/0"] }))
        .await;
    assert_eq!(any["allowed_ips"], json!(["0.0.0.0/0", "::/0"]));
    s.get("/api/v1/me", &token).await.expect(200);
    // The same rules on PATCH.
    s.owner_patch(
        &format!("/api/v1/tokens/{id}"),
        json!({ "rate_limit": { "requests": 0, "per_seconds": 1 } }),
    )
    .await
    .expect_error(422, "validation_failed");

    // `cost` must be 1 to 1000000.
    for cost in [
        json!(0),
        json!(-1),
        json!(1_000_001),
        json!("3"),
        json!(1.5),
    ] {
        s.post(
            "/api/v1/verify",
            "",
            json!({ "token": token, "cost": cost }),
        )
        .await
        .expect_error(400, "bad_request");
    }
    // `days` of the usage: 1 to 90.
    for days in ["0", "91", "x", "-1"] {
        s.owner_get(&format!("/api/v1/tokens/{id}/usage?days={days}"))
            .await
            .expect_error(400, "bad_request");
    }
    s.owner_get("/api/v1/tokens/not-an-id/usage")
        .await
        .expect_error(400, "bad_request");
}

#[tokio::test]
async fn an_address_list_holds_on_the_api_verify_and_auth() {
    let s = start().await;
    let (_, token, _) = s
        .owner_creates_token_with(json!({ "name": "office", "allowed_ips": ["10.0.0.0/8"] }))
        .await;
    // Tessera's own API sees the caller, 127.0.0.1: outside the list.
    let refused = s
        .get("/api/v1/me", &token)
        .await
        .expect_error(401, "ip_not_allowed");
    assert!(refused.headers.get("www-authenticate").is_some());

    // /verify checks the body's `ip` (IPv4-mapped IPv6 counts as IPv4),
    // else the caller's address.
    for (ip, valid) in [
        (Some("10.20.30.40"), true),
        (Some("::ffff:10.1.1.1"), true),
        (Some("192.168.1.1"), false),
        (Some("2001:db8::1"), false),
        (None, false),
    ] {
        let mut question = json!({ "token": token });
        if let Some(ip) = ip {
            question["ip"] = json!(ip);
        }
        let answer = s.verify(question).await;
        let expected = if valid { "valid" } else { "ip_not_allowed" };
        assert_eq!(verify_code(&answer), (valid, expected.into()), "{ip:?}");
        assert_eq!(answer.body.get("token").is_some(), valid);
    }

    // /auth: X-Forwarded-For from an untrusted peer is ignored.
    let auth = |xff: &'static str| {
        s.http
            .get(s.url("/api/v1/auth"))
            .bearer_auth(&token)
            .header("x-forwarded-for", xff)
    };
    let spoofed = send(auth("10.9.9.9")).await;
    assert_eq!(spoofed.status.as_u16(), 401, "{}", spoofed.text);
    assert_eq!(spoofed.code(), "ip_not_allowed");
    assert!(spoofed.headers.get("www-authenticate").is_some());

    // Behind a trusted proxy, its X-Forwarded-For (or X-Real-IP) counts.
    let p = start_with(|c| c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let (_, token, _) = p
        .owner_creates_token_with(json!({ "name": "office", "allowed_ips": ["10.0.0.0/8"] }))
        .await;
    let through = |name: &'static str, value: &'static str| {
        p.http
            .get(p.url("/api/v1/auth"))
            .bearer_auth(&token)
            .header(name, value)
    };
    send(through("x-forwarded-for", "10.9.9.9"))
        .await
        .expect(200);
    send(through("x-real-ip", "10.9.9.9")).await.expect(200);
    send(through("x-forwarded-for", "8.8.8.8"))
        .await
        .expect_error(401, "ip_not_allowed");
    send(
        p.http
            .get(p.url("/api/v1/me"))
            .bearer_auth(&token)
            .header("x-forwarded-for", "10.1.1.1"),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn a_rate_limit_holds_on_verify_auth_and_the_api_and_resets() {
    let s = start().await;
    let (_, token, _) = s
        .owner_creates_token_with(json!({
            "name": "limited",
            "rate_limit": { "requests": 3, "per_seconds": 60 },
        }))
        .await;
    // Start at the beginning of a window, so that it does not roll over.
    let now = s.clock.now().unix_timestamp();
    s.clock
        .advance(time::Duration::seconds(60 - now.rem_euclid(60)));
    for remaining in [2, 1, 0] {
        let answer = s.verify(json!({ "token": token })).await;
        assert_eq!(verify_code(&answer), (true, "valid".into()));
        assert_eq!(answer.body["ratelimit"]["limit"], 3);
        assert_eq!(answer.body["ratelimit"]["remaining"], remaining);
        let reset = answer.body["ratelimit"]["reset"].as_i64().unwrap();
        assert!((50..=60).contains(&reset), "{reset}");
    }
    let limited = s.verify(json!({ "token": token })).await;
    assert_eq!(verify_code(&limited), (false, "rate_limited".into()));
    assert_eq!(limited.body["ratelimit"]["remaining"], 0);
    let auth = s.get("/api/v1/auth", &token).await;
    assert_eq!(auth.status.as_u16(), 429, "{}", auth.text);
    assert_eq!(auth.code(), "rate_limited");
    let retry: i64 = auth.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((50..=60).contains(&retry), "{retry}");
    assert_eq!(auth.headers["ratelimit-limit"], "3");
    assert_eq!(auth.headers["ratelimit-remaining"], "0");
    let refused = s.get("/api/v1/me", &token).await;
    assert_eq!(refused.code(), "rate_limited");
    assert_eq!(refused.headers["ratelimit-remaining"], "0");

    // The next window.
    s.clock.advance(time::Duration::seconds(61));
    let ok = s.get("/api/v1/auth", &token).await.expect(200);
    assert_eq!(ok.headers["ratelimit-limit"], "3");
    assert_eq!(ok.headers["ratelimit-remaining"], "2");
    assert!(ok.headers.get("ratelimit-reset").is_some());
    // Tessera's own API tells the window on its answers too.
    let me = s.get("/api/v1/me", &token).await.expect(200);
    assert_eq!(me.headers["ratelimit-limit"], "3");
    assert_eq!(me.headers["ratelimit-remaining"], "1");
    let answer = s.verify(json!({ "token": token })).await;
    assert_eq!(answer.body["ratelimit"]["remaining"], 0);
    // A token without a rate limit gets no such headers.
    let (_, plain, _) = s.owner_creates_token_with(json!({ "name": "plain" })).await;
    let me = s.get("/api/v1/me", &plain).await.expect(200);
    assert!(me.headers.get("ratelimit-limit").is_none());

    // Counted in the metrics.
    let metrics = metrics_of(&s.http, &s.base).await;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("tessera_verify_denials_total{code=\"rate_limited\"}"))
        .unwrap_or_else(|| panic!("no denial counter in\n{metrics}"));
    let n: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 3.0, "{line}");
}

#[tokio::test]
async fn a_quota_is_spent_by_cost_refused_at_zero_reset_and_refilled() {
    let s = start().await;
    let (id, token, _) = s
        .owner_creates_token_with(json!({ "name": "metered", "quota": { "remaining": 5 } }))
        .await;
    let spend = |cost: i64| s.verify(json!({ "token": token, "cost": cost }));
    let a = spend(2).await;
    assert_eq!(verify_code(&a), (true, "valid".into()));
    assert_eq!(a.body["quota"]["remaining"], 3);
    // More than is left: refused, nothing spent.
    let b = spend(4).await;
    assert_eq!(verify_code(&b), (false, "quota_exhausted".into()));
    assert_eq!(b.body["quota"]["remaining"], 3);
    assert_eq!(spend(3).await.body["quota"]["remaining"], 0);
    let path = format!("/api/v1/tokens/{id}");
    assert_eq!(
        s.owner_get(&path).await.expect(200).body["quota"]["remaining"],
        0
    );
    assert_eq!(verify_code(&spend(1).await).1, "quota_exhausted");
    s.get("/api/v1/me", &token)
        .await
        .expect_error(429, "quota_exhausted");
    assert_eq!(s.get("/api/v1/auth", &token).await.status.as_u16(), 429);

    // Setting the quota again starts it over.
    s.owner_patch(&path, json!({ "quota": { "remaining": 2 } }))
        .await
        .expect(200);
    assert_eq!(spend(1).await.body["quota"]["remaining"], 1);
    s.get("/api/v1/me", &token).await.expect(200);
    assert_eq!(verify_code(&spend(1).await).1, "quota_exhausted");

    // A daily refill, at the next UTC day.
    let (_, daily, _) = s
        .owner_creates_token_with(json!({
            "name": "daily",
            "quota": { "remaining": 1, "refill": { "amount": 2, "interval": "day" } },
        }))
        .await;
    let use_daily = || s.verify(json!({ "token": daily }));
    assert_eq!(verify_code(&use_daily().await).1, "valid");
    assert_eq!(verify_code(&use_daily().await).1, "quota_exhausted");
    s.clock.advance(time::Duration::days(1));
    let refilled = use_daily().await;
    assert_eq!(verify_code(&refilled).1, "valid");
    assert_eq!(refilled.body["quota"]["remaining"], 1);
}

#[tokio::test]
async fn usage_is_counted_per_day_with_recent_addresses() {
    let s = start().await;
    let (id, token, _) = s
        .owner_creates_token_with(json!({
            "name": "counted",
            "allowed_ips": ["10.0.0.0/8"],
            "quota": { "remaining": 4 },
        }))
        .await;
    for i in 1..=7 {
        s.verify(json!({ "token": token, "ip": format!("10.0.0.{i}") }))
            .await;
    }
    s.verify(json!({ "token": token, "ip": "192.168.0.1" }))
        .await;
    s.verify(json!({
        "token": token, "ip": "10.0.0.9",
        "action": "flag:read", "resource": "proj/web"
    }))
    .await;
    let path = format!("/api/v1/tokens/{id}/usage?days=3");
    let check = |usage: &Value| {
        let days = usage["days"].as_array().unwrap();
        assert_eq!(days.len(), 3, "{usage}");
        let today = &days[2];
        assert_eq!(today["valid"], 4, "{usage}");
        assert_eq!(today["quota_exhausted"], 4, "{usage}");
        assert_eq!(today["ip_not_allowed"], 1, "{usage}");
        assert_eq!(days[0]["valid"], 0);
        assert!(days[0]["date"].as_str().unwrap() < today["date"].as_str().unwrap());
        let ips: Vec<&str> = usage["recent_ips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ip"].as_str().unwrap())
            .collect();
        assert_eq!(ips.len(), 5, "{usage}");
        assert!(
            ips.contains(&"192.168.0.1") && ips.contains(&"10.0.0.9"),
            "{ips:?}"
        );
    };
    // Before the flush (this node's pending counts) and after it.
    check(&s.owner_get(&path).await.expect(200).body);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    check(&s.owner_get(&path).await.expect(200).body);
    let month = s
        .owner_get(&format!("/api/v1/tokens/{id}/usage"))
        .await
        .expect(200);
    assert_eq!(month.body["days"].as_array().map(Vec::len), Some(30));
    // Someone who may not read the token may not read its usage either:
    // the same answer as reading the token.
    let (_, writer) = s.member_with_token("w@acme.test", "writer").await;
    let read = s.get(&format!("/api/v1/tokens/{id}"), &writer).await;
    assert!(read.status.is_client_error(), "{}", read.text);
    s.get(&format!("/api/v1/tokens/{id}/usage"), &writer)
        .await
        .expect_error(read.status.as_u16(), read.code());
}

/// Two nodes on one PostgreSQL database verify the same tokens at once:
/// a 100-per-60-seconds rate limit grants 90 to 110 uses in a window, and
/// a 200-use quota is never overspent. Prints the counts.
#[tokio::test]
async fn two_nodes_share_a_rate_limit_and_never_overspend_a_quota() {
    let url = postgres_schema().await;
    let s = start_on(&url).await;
    let (other, _node) = start_node(&url).await;
    let bases = [s.base.clone(), other];
    let (_, quota_token, _) = s
        .owner_creates_token_with(json!({ "name": "q", "quota": { "remaining": 200 } }))
        .await;
    let (_, rate_token, _) = s
        .owner_creates_token_with(json!({
            "name": "r",
            "rate_limit": { "requests": 100, "per_seconds": 60 },
        }))
        .await;

    let burst = |token: String, total: u32| {
        let allowed = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for worker in 0..16u32 {
            let (http, base) = (s.http.clone(), bases[(worker % 2) as usize].clone());
            let (token, allowed) = (token.clone(), Arc::clone(&allowed));
            tasks.push(tokio::spawn(async move {
                for _ in 0..total / 16 {
                    let reply = send(
                        http.post(format!("{base}/api/v1/verify"))
                            .json(&json!({ "token": token })),
                    )
                    .await;
                    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
                    if reply.body["valid"] == true {
                        allowed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        async move {
            for t in tasks {
                t.await.unwrap();
            }
            allowed.load(Ordering::Relaxed)
        }
    };

    let quota_allowed = burst(quota_token, 640).await;
    println!("two nodes, quota of 200, 640 concurrent uses: {quota_allowed} allowed");
    assert!(quota_allowed <= 200, "quota overspent: {quota_allowed}");
    assert!(
        quota_allowed >= 190,
        "more than 5% stranded: {quota_allowed}"
    );

    // One window: start well inside a minute (the nodes' clocks are real).
    loop {
        let second = time::OffsetDateTime::now_utc()
            .unix_timestamp()
            .rem_euclid(60);
        if (2..40).contains(&second) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let rate_allowed = burst(rate_token, 320).await;
    println!("two nodes, 100 per 60 s, 320 concurrent uses in one window: {rate_allowed} allowed");
    assert!(
        (90..=110).contains(&rate_allowed),
        "rate limit outside 90%..110%: {rate_allowed}"
    );
}
