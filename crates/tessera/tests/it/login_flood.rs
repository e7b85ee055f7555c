//! Login floods (security findings 3 and 13): password hashing is bounded
//! process-wide (a few argon2 computations at once, a short wait for a
//! slot, then `503 unavailable` with `Retry-After`), `/verify` keeps
//! answering during a flood, and every login attempt costs exactly one
//! argon2 computation, however many orgs share the email.
//!
//! The checks read the process-wide hasher's counters
//! (`secrets::password_checks`, `secrets::password_check_high_water`) and
//! one shortens its wait, so each runs alone: the `#[test]` here starts
//! this test binary again with only the matching `#[ignore]`d test, in a
//! process of its own. Other tests running meanwhile neither disturb the
//! counts nor get a `503` from the shortened wait.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tessera_server::{secrets, setup};

use crate::harness::{start_with, Reply, TestServer, OWNER_EMAIL, OWNER_PASSWORD};

/// Set in the child process to the one test it runs.
const ALONE: &str = "IT_RUN_ALONE";

/// Runs the `#[ignore]`d test `name` alone in a child process.
fn run_alone(name: &str) {
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([
            name,
            "--exact",
            "--ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(ALONE, name)
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name}, run alone, failed:\n{stdout}\n{stderr}"
    );
}

/// Whether this process is the child running `name` alone (otherwise the
/// ignored test, run with `--ignored` among others, does nothing).
fn alone(name: &str) -> bool {
    std::env::var(ALONE).as_deref() == Ok(name)
}

/// Login throttling off, so that every attempt reaches the password check.
async fn start_unthrottled() -> TestServer {
    start_with(|c| {
        c.login.failures_per_account = 0;
        c.login.failures_per_ip = 0;
    })
    .await
}

async fn login(s: &TestServer, email: &str, password: &str, org: Option<&str>) -> Reply {
    let mut body = json!({ "email": email, "password": password });
    if let Some(org) = org {
        body["org"] = json!(org);
    }
    s.call(Method::POST, "/api/v1/session", None, Some(body))
        .await
}

/// A login attempt and the argon2 computations it cost.
async fn login_counted(
    s: &TestServer,
    email: &str,
    password: &str,
    org: Option<&str>,
) -> (Reply, u64) {
    let before = secrets::password_checks();
    let reply = login(s, email, password, org).await;
    (reply, secrets::password_checks() - before)
}

// ------------------------------------------------------------ finding 13

#[test]
fn an_email_in_three_orgs_costs_one_password_check_like_an_unknown_one() {
    run_alone("login_flood::email_in_three_orgs_alone");
}

#[tokio::test]
#[ignore = "run alone by an_email_in_three_orgs_costs_one_password_check_like_an_unknown_one"]
async fn email_in_three_orgs_alone() {
    if !alone("login_flood::email_in_three_orgs_alone") {
        return;
    }
    let s = start_unthrottled().await;
    // The owner's email in two more orgs, made later than "acme" (so the
    // store lists acme's membership first: oldest first).
    for key in ["beta", "gamma"] {
        s.clock.advance(time::Duration::minutes(1));
        setup::create_org(
            s.state(),
            key,
            OWNER_EMAIL,
            Some(format!("{key}-password-1")),
        )
        .await
        .expect("another org");
    }

    let (unknown, cost) = login_counted(&s, "ghost@acme.test", "wrong-password", None).await;
    let unknown = unknown.expect_error(401, "invalid_credentials");
    assert_eq!(cost, 1, "an unknown email");

    // Twice over, to see the same member is checked every time.
    for _ in 0..2 {
        let (wrong, cost) = login_counted(&s, OWNER_EMAIL, "wrong-password", None).await;
        assert_eq!(cost, 1, "an email in three orgs, wrong password");
        let wrong = wrong.expect_error(401, "invalid_credentials");
        assert_eq!(wrong.text, unknown.text);

        // A right password for an org other than the one checked: the
        // same 401 as anything else (it was not checked).
        for other in ["beta-password-1", "gamma-password-1"] {
            let (reply, cost) = login_counted(&s, OWNER_EMAIL, other, None).await;
            assert_eq!(cost, 1, "an email in three orgs, another org's password");
            let reply = reply.expect_error(401, "invalid_credentials");
            assert_eq!(reply.text, unknown.text);
        }

        // The right password for the one checked (the oldest membership):
        // told to choose an org.
        let (ambiguous, cost) = login_counted(&s, OWNER_EMAIL, OWNER_PASSWORD, None).await;
        assert_eq!(cost, 1, "an email in three orgs, right password");
        let ambiguous = ambiguous.expect_error(400, "bad_request");
        assert!(ambiguous.text.contains("org"), "{}", ambiguous.text);
    }

    // With the org given, that org's member only: one computation.
    let (chosen, cost) = login_counted(&s, OWNER_EMAIL, "gamma-password-1", Some("gamma")).await;
    assert_eq!(cost, 1, "org given");
    assert_eq!(chosen.expect(200).body["org"]["key"], "gamma");
    let (chosen, cost) = login_counted(&s, OWNER_EMAIL, "wrong-password", Some("beta")).await;
    assert_eq!(cost, 1, "org given, wrong password");
    chosen.expect_error(401, "invalid_credentials");
}

// ------------------------------------------------------------- finding 3

#[test]
fn a_login_flood_runs_a_bounded_number_of_hashes_and_verify_keeps_answering() {
    run_alone("login_flood::login_flood_alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run alone by a_login_flood_runs_a_bounded_number_of_hashes_and_verify_keeps_answering"]
async fn login_flood_alone() {
    if !alone("login_flood::login_flood_alone") {
        return;
    }
    let s = start_unthrottled().await;
    let slots = secrets::password_check_slots();
    assert!(slots >= 1);
    let size = 60.max(8 * slots);

    // With the default wait (a few seconds): the flood queues for the
    // slots; more of it is checked than there are slots, never more at
    // once, and whatever does not fit in the queue is a 503 straight away.
    let queued = flood(&s, size).await;
    queued.print("default wait");
    assert!(
        queued.checked > slots as u64,
        "no attempt waited for a slot"
    );

    // With a short wait, most of the flood overflows: 503 with
    // Retry-After, and no hashing for those.
    secrets::set_password_check_deadline(Duration::from_millis(1));
    let shed = flood(&s, size).await;
    shed.print("1 ms wait");
    assert!(shed.refused > 0, "no attempt overflowed the short wait");

    assert!(
        secrets::password_check_high_water() <= slots,
        "{} argon2 computations ran at once; the bound is {slots}",
        secrets::password_check_high_water()
    );
    // After the flood, with the default wait again, logins work.
    secrets::set_password_check_deadline(Duration::from_secs(3));
    s.login(OWNER_EMAIL, OWNER_PASSWORD).await;
}

/// What a flood of wrong-password logins got.
struct Flood {
    size: usize,
    /// Answered `401`: the password was checked.
    checked: u64,
    /// Answered `503 unavailable` with `Retry-After`.
    refused: u64,
    /// `/verify` answers (all `200`, valid) while the flood ran.
    verified: u32,
}

impl Flood {
    fn print(&self, what: &str) {
        println!(
            "flood of {} ({what}): {} checked (401), {} refused (503), at most {} hashes \
             at once so far ({} slots), {} /verify answered meanwhile",
            self.size,
            self.checked,
            self.refused,
            secrets::password_check_high_water(),
            secrets::password_check_slots(),
            self.verified
        );
    }
}

/// `size` wrong-password logins at once from distinct clients, while the
/// owner's token is verified in a loop; checks every answer.
async fn flood(s: &TestServer, size: usize) -> Flood {
    let checks_before = secrets::password_checks();
    let done = AtomicBool::new(false);
    // A real account and an unknown one: each costs one check.
    let emails = [OWNER_EMAIL, "nobody@acme.test"];
    let logins = async {
        let attempts = (0..size).map(|i| {
            let request = s
                .http
                .post(s.url("/api/v1/session"))
                // Distinct clients, as a botnet's would be (the throttle
                // is off anyway, and no proxy is trusted here).
                .header("x-forwarded-for", format!("203.0.113.{}", i % 250))
                .json(&json!({ "email": emails[i % 2], "password": format!("guess-{i}") }));
            crate::harness::send(request)
        });
        let replies = join_all(attempts).await;
        done.store(true, Ordering::SeqCst);
        replies
    };
    let verifier = async {
        let mut answered = 0u32;
        while !done.load(Ordering::SeqCst) || answered < 3 {
            let r = s
                .call(
                    Method::POST,
                    "/api/v1/verify",
                    None,
                    Some(json!({ "token": s.owner_token })),
                )
                .await
                .expect(200);
            assert_eq!(r.body["valid"], true, "{}", r.text);
            answered += 1;
        }
        answered
    };
    let (replies, verified) = tokio::join!(logins, verifier);

    let mut result = Flood {
        size,
        checked: 0,
        refused: 0,
        verified,
    };
    for r in &replies {
        match r.status.as_u16() {
            401 => {
                assert_eq!(r.code(), "invalid_credentials", "{}", r.text);
                result.checked += 1;
            }
            503 => {
                assert_eq!(r.code(), "unavailable", "{}", r.text);
                let retry: u64 = r
                    .headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("503 without Retry-After: {:?}", r.headers));
                assert!(retry >= 1);
                result.refused += 1;
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    let high_water = secrets::password_check_high_water();
    let slots = secrets::password_check_slots();
    assert!(
        high_water <= slots,
        "{high_water} argon2 computations ran at once; the bound is {slots}"
    );
    assert!(result.checked > 0, "no attempt got a slot");
    // Exactly one computation per checked attempt; none for a refused one.
    assert_eq!(secrets::password_checks() - checks_before, result.checked);
    result
}

/// All the futures at once, answers in order (no `futures` crate here).
async fn join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.expect("task"));
    }
    out
}
