//! Crash safety: `tessera serve` is killed with SIGKILL in the middle of a
//! create/rotate/delete load, restarted on the same database, and every
//! answer the clients got before the kill must still hold:
//! - an acknowledged creation verifies;
//! - an acknowledged delete stays deleted;
//! - an acknowledged rotation took whole: without grace the new string
//!   works and the old does not; with grace both work;
//! - a rotation or delete that was in flight is either done or not, never
//!   half: its token's state agrees with its `rotated_at` / existence.
//!
//! Runs on SQLite, or PostgreSQL with `TESSERA_TEST_BACKEND=postgres`.
//! `TESSERA_CRASH_ITERATIONS` sets the number of kills (default 3).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Client;
use serde_json::{json, Value};

use crate::process::{init, ServeProcess};

const EXPIRES: &str = "2099-01-01T00:00:00Z";
const WORKERS: usize = 4;

/// What the clients were told (or not told, for ops cut off by the kill).
#[derive(Debug, Clone)]
enum Outcome {
    Created {
        token: String,
    },
    Rotated {
        old: String,
        new: String,
        grace: bool,
    },
    Deleted {
        id: String,
        token: String,
    },
    RotateInFlight {
        id: String,
        old: String,
        grace: bool,
    },
    DeleteInFlight {
        id: String,
        token: String,
    },
}

#[derive(Default)]
struct Ledger {
    outcomes: Vec<Outcome>,
    /// Live tokens nobody is rotating or deleting: (id, token, rotated).
    pool: Vec<(String, String, bool)>,
}

struct Load {
    http: Client,
    base: String,
    owner: String,
    ledger: Arc<Mutex<Ledger>>,
    /// Which run of the load this is: token names are unique per member,
    /// and every run's workers count their steps from zero again.
    round: usize,
}

impl Load {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), ()> {
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.owner);
        if let Some(body) = body {
            request = request.json(&body);
        }
        // A transport error means the server died before answering.
        let response = request.send().await.map_err(|_| ())?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|_| ())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    fn record(&self, outcome: Outcome) {
        self.ledger.lock().expect("ledger").outcomes.push(outcome);
    }

    fn take(&self, unrotated_only: bool) -> Option<(String, String, bool)> {
        let mut ledger = self.ledger.lock().expect("ledger");
        let at = ledger
            .pool
            .iter()
            .position(|(_, _, rotated)| !(unrotated_only && *rotated))?;
        Some(ledger.pool.swap_remove(at))
    }

    /// One worker: create, rotate and delete until the server dies.
    async fn run(self: Arc<Self>, worker: usize) {
        for step in 0usize.. {
            let alive = match step % 4 {
                1 => self.rotate(step % 8 == 1).await,
                3 => self.delete().await,
                _ => self.create(worker, step).await,
            };
            if !alive {
                return;
            }
        }
    }

    async fn create(&self, worker: usize, step: usize) -> bool {
        let name = format!("r{}-w{worker}-{step}", self.round);
        let body = json!({ "name": name, "expires_at": EXPIRES });
        let Ok((status, body)) = self
            .send(reqwest::Method::POST, "/tokens", Some(body))
            .await
        else {
            return false;
        };
        assert_eq!(status, 201, "create: {body}");
        let id = body["id"].as_str().expect("id").to_owned();
        let token = body["token"].as_str().expect("token").to_owned();
        self.record(Outcome::Created {
            token: token.clone(),
        });
        self.ledger
            .lock()
            .expect("ledger")
            .pool
            .push((id, token, false));
        true
    }

    async fn rotate(&self, grace: bool) -> bool {
        let Some((id, old, _)) = self.take(true) else {
            return true;
        };
        let mut body = json!({ "expires_at": EXPIRES });
        if grace {
            body["grace_period_seconds"] = json!(3600);
        }
        let path = format!("/tokens/{id}/rotate");
        let Ok((status, answer)) = self.send(reqwest::Method::POST, &path, Some(body)).await else {
            self.record(Outcome::RotateInFlight { id, old, grace });
            return false;
        };
        assert_eq!(status, 200, "rotate: {answer}");
        let new = answer["token"].as_str().expect("token").to_owned();
        self.record(Outcome::Rotated {
            old,
            new: new.clone(),
            grace,
        });
        self.ledger
            .lock()
            .expect("ledger")
            .pool
            .push((id, new, true));
        true
    }

    async fn delete(&self) -> bool {
        let Some((id, token, _)) = self.take(false) else {
            return true;
        };
        let path = format!("/tokens/{id}");
        let Ok((status, answer)) = self.send(reqwest::Method::DELETE, &path, None).await else {
            self.record(Outcome::DeleteInFlight { id, token });
            return false;
        };
        assert_eq!(status, 204, "delete: {answer}");
        self.record(Outcome::Deleted { id, token });
        true
    }
}

/// Whether `token` verifies, and the metadata of token `id` (None: gone).
struct Checker {
    http: Client,
    base: String,
    owner: String,
}

impl Checker {
    async fn valid(&self, token: &str) -> bool {
        let reply: Value = self
            .http
            .post(format!("{}/api/v1/verify", self.base))
            .json(&json!({ "token": token }))
            .send()
            .await
            .expect("verify")
            .json()
            .await
            .expect("json");
        reply["valid"].as_bool().expect("valid")
    }

    async fn metadata(&self, id: &str) -> Option<Value> {
        let reply = self
            .http
            .get(format!("{}/api/v1/tokens/{id}", self.base))
            .bearer_auth(&self.owner)
            .send()
            .await
            .expect("get token");
        match reply.status().as_u16() {
            200 => Some(reply.json().await.expect("json")),
            404 => None,
            other => panic!("GET /tokens/{id}: {other}"),
        }
    }

    /// Later outcomes for the same token supersede earlier ones, so only a
    /// token's last known state is checked.
    async fn check(&self, outcomes: &[Outcome]) {
        let superseded = |i: usize, token: &str| {
            outcomes[i + 1..].iter().any(|o| match o {
                Outcome::Rotated { old, .. } | Outcome::RotateInFlight { old, .. } => old == token,
                Outcome::Deleted { token: t, .. } | Outcome::DeleteInFlight { token: t, .. } => {
                    t == token
                }
                Outcome::Created { .. } => false,
            })
        };
        for (i, outcome) in outcomes.iter().enumerate() {
            match outcome {
                Outcome::Created { token, .. } if !superseded(i, token) => {
                    assert!(
                        self.valid(token).await,
                        "an acknowledged creation does not verify"
                    );
                }
                Outcome::Rotated { old, new, grace } if !superseded(i, new) => {
                    assert!(
                        self.valid(new).await,
                        "an acknowledged rotation's new string fails"
                    );
                    assert_eq!(
                        self.valid(old).await,
                        *grace,
                        "the old string after an acknowledged rotation (grace: {grace})"
                    );
                }
                Outcome::Deleted { id, token } => {
                    assert!(!self.valid(token).await, "an acknowledged delete came back");
                    assert!(
                        self.metadata(id).await.is_none(),
                        "a deleted token is listed"
                    );
                }
                Outcome::RotateInFlight { id, old, grace } if !superseded(i, old) => {
                    let meta = self
                        .metadata(id)
                        .await
                        .expect("a token vanished during rotation");
                    let rotated = !meta["rotated_at"].is_null();
                    let old_works = self.valid(old).await;
                    // Done: old works only with grace. Not done: old works.
                    assert_eq!(old_works, !rotated || *grace, "half-done rotation: {meta}");
                }
                Outcome::DeleteInFlight { id, token } => {
                    let exists = self.metadata(id).await.is_some();
                    assert_eq!(self.valid(token).await, exists, "half-done delete");
                }
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn acknowledged_changes_survive_kill_9_under_load() {
    let iterations: usize = std::env::var("TESSERA_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = crate::harness::database_url(dir.path()).await;
    let owner = init(
        dir.path(),
        &database_url,
        "owner@acme.test",
        "owner-password-1",
    );
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let http = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    for iteration in 0..=iterations {
        let mut server =
            ServeProcess::start(dir.path(), &database_url, &format!("run{iteration}"), &[]).await;
        // Everything acknowledged so far, across all earlier kills.
        let outcomes = ledger.lock().expect("ledger").outcomes.clone();
        let checker = Checker {
            http: http.clone(),
            base: server.base.clone(),
            owner: owner.clone(),
        };
        checker.check(&outcomes).await;
        if iteration == iterations {
            break;
        }
        let load = Arc::new(Load {
            http: http.clone(),
            base: server.base.clone(),
            owner: owner.clone(),
            ledger: Arc::clone(&ledger),
            round: iteration,
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| tokio::spawn(Arc::clone(&load).run(w)))
            .collect();
        // Kill at a different moment each time, 0.5–1.5 s into the load.
        let mut random = [0u8; 2];
        getrandom::fill(&mut random).expect("random");
        let delay = 500 + u64::from(u16::from_le_bytes(random)) % 1000;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill9();
        for worker in workers {
            worker.await.expect("worker");
        }
    }
    let outcomes = ledger.lock().expect("ledger").outcomes.clone();
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let created = count(|o| matches!(o, Outcome::Created { .. }));
    let rotated = count(|o| matches!(o, Outcome::Rotated { .. }));
    let deleted = count(|o| matches!(o, Outcome::Deleted { .. }));
    let in_flight = count(|o| {
        matches!(
            o,
            Outcome::RotateInFlight { .. } | Outcome::DeleteInFlight { .. }
        )
    });
    eprintln!("crash test: {iterations} kills; {created} creations, {rotated} rotations, {deleted} deletes acknowledged; {in_flight} cut off");
    assert!(
        created > 0 && rotated > 0 && deleted > 0,
        "the load did too little to test anything"
    );
}
