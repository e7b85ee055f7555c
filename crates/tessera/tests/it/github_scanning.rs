//! GitHub secret scanning's partner reports on `POST /leaks`, as GitHub
//! sends them: a JSON array signed with ECDSA P-256 by a key of the
//! configured keys file. The test plays GitHub with key pairs of its own,
//! listed in a keys file in the shape of GitHub's API.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{json, Value};
use tessera_server::github_scanning::ScanningKeys;

use crate::cli::{tessera, text};
use crate::harness::{send, start, start_with, Reply, TestServer};

const ID_HEADER: &str = "Github-Public-Key-Identifier";
const SIGNATURE_HEADER: &str = "Github-Public-Key-Signature";

/// One of GitHub's signing keys, and the identifier the file lists it by.
struct GithubKey {
    id: &'static str,
    key: SigningKey,
}

impl GithubKey {
    fn new(id: &'static str) -> Self {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("random");
            // Nearly every 32 bytes are a valid scalar.
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                return Self { id, key };
            }
        }
    }

    /// What GitHub sends in `Github-Public-Key-Signature` for `body`.
    fn sign(&self, body: &str) -> String {
        let signature: Signature = self.key.sign(body.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }

    fn headers(&self, signature: String) -> Headers {
        vec![
            (ID_HEADER, self.id.to_owned()),
            (SIGNATURE_HEADER, signature),
        ]
    }
}

/// The keys file, as `api.github.com/meta/public_keys/secret_scanning`
/// serves it.
fn keys_file(keys: &[&GithubKey]) -> String {
    let listed: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let pem = k
                .key
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("pem");
            json!({ "key_identifier": k.id, "key": pem, "is_current": i == 0 })
        })
        .collect();
    json!({ "public_keys": listed }).to_string()
}

/// A server whose GitHub keys are `keys` (read from a file, as at start-up).
async fn start_trusting(
    keys: &[&GithubKey],
    tweak: impl FnOnce(&mut tessera_server::Config),
) -> TestServer {
    start_with_keys_file(&keys_file(keys), tweak).await
}

/// A server whose keys file holds `text`.
async fn start_with_keys_file(
    text: &str,
    tweak: impl FnOnce(&mut tessera_server::Config),
) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("github-keys.json");
    std::fs::write(&path, text).expect("write keys");
    let loaded = ScanningKeys::load(&path).expect("keys load");
    start_with(move |c| {
        c.leaks.github_scanning_keys = Some(loaded);
        tweak(c);
    })
    .await
}

/// Request headers: names and values.
type Headers = Vec<(&'static str, String)>;

/// POSTs `body` to `/leaks` as JSON, with `headers`.
async fn report(s: &TestServer, body: &str, headers: &[(&'static str, String)]) -> Reply {
    let mut request = s
        .http
        .post(s.url("/api/v1/leaks"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    send(request).await
}

/// GitHub's report of `matches`, signed by `github`: the body and the answer.
async fn github_reports(s: &TestServer, github: &GithubKey, matches: &Value) -> Reply {
    let body = matches.to_string();
    report(s, &body, &github.headers(github.sign(&body))).await
}

fn found(token: &str, kind: &str) -> Value {
    json!({
        "token": token,
        "type": kind,
        "url": "https://github.com/octo/app/blob/1a2b3c/config.env",
        "source": "content",
    })
}

/// A string in a token's format whose checksum is wrong.
fn lookalike() -> String {
    format!("tsr_{}", "A1b2C3".repeat(11).get(..65).expect("65"))
}

async fn is_valid(s: &TestServer, token: &str) -> bool {
    s.verify(json!({ "token": token })).await.body["valid"] == true
}

#[tokio::test]
async fn a_signed_report_revokes_the_live_token_and_labels_each_match() {
    let (current, older) = (GithubKey::new("key-2026"), GithubKey::new("key-2025"));
    let s = start_trusting(&[&current, &older], |_| {}).await;
    let (id, leaked, _) = s.owner_creates_token("committed by mistake").await;
    let (_, bystander, _) = s.owner_creates_token("bystander").await;
    let fake = lookalike();
    let matches = json!([
        found(&leaked, "acme_tessera_token"),
        found(&fake, "acme_tessera_token"),
        found("hello", "other_type"),
        // GitHub found the same token twice (two files of one commit).
        found(&leaked, "acme_tessera_token"),
    ]);
    let answer = github_reports(&s, &current, &matches).await.expect(200);
    assert_eq!(
        answer.body,
        json!([
            { "token_raw": leaked, "token_type": "acme_tessera_token", "label": "true_positive" },
            { "token_raw": fake, "token_type": "acme_tessera_token", "label": "false_positive" },
            { "token_raw": "hello", "token_type": "other_type", "label": "false_positive" },
            { "token_raw": leaked, "token_type": "acme_tessera_token", "label": "true_positive" },
        ])
    );
    s.assert_token_refused(&leaked).await;
    assert!(!is_valid(&s, &leaked).await);
    assert!(
        is_valid(&s, &bystander).await,
        "only the reported token goes"
    );

    // The same code path as a plain report: one audit event, with where
    // GitHub found it, and never the token.
    let audit = s
        .owner_get("/api/v1/audit?action=token:delete")
        .await
        .expect(200);
    let events = audit.items();
    assert_eq!(events.len(), 1, "{}", audit.text);
    let details = &events[0]["details"];
    assert_eq!(details["reason"], "leak_report");
    assert_eq!(
        details["url"],
        "https://github.com/octo/app/blob/1a2b3c/config.env"
    );
    assert_eq!(details["source"], "content");
    assert_eq!(details["name"], "committed by mistake");
    assert!(events[0]["target"].as_str().expect("target").ends_with(&id));
    assert!(
        !audit.text.contains(&leaked[4..]),
        "the audit log holds a token"
    );

    // GitHub sends it again (a retry): the token is gone, so there is no
    // live token to call a true positive.
    let again = github_reports(&s, &current, &json!([found(&leaked, "t")]))
        .await
        .expect(200);
    assert_eq!(again.body[0]["label"], "false_positive");

    // A report signed with the file's older key verifies too (sent before
    // a rotation).
    let (_, second, _) = s.owner_creates_token("second").await;
    let by_older = github_reports(&s, &older, &json!([found(&second, "t")]))
        .await
        .expect(200);
    assert_eq!(by_older.body[0]["label"], "true_positive");
    assert!(!is_valid(&s, &second).await);
}

/// The request GitHub's partner-programme documentation shows, signed by
/// GitHub's real key, against a keys file as GitHub's API serves it: the
/// server takes GitHub's own signature.
#[tokio::test]
async fn githubs_own_documented_request_is_accepted() {
    let keys = json!({ "public_keys": [
        { "key_identifier": "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a",
          "key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9MJJHnMfn2+H4xL4YaPDA4RpJqUq\nkCmRCBnYERxZanmcpzQSXs1X/AljlKkbJ8qpVIW4clayyef9gWhFbNHWAA==\n-----END PUBLIC KEY-----\n",
          "is_current": false },
        { "key_identifier": "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c",
          "key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n",
          "is_current": true },
    ]});
    let s = start_with_keys_file(&keys.to_string(), |_| {}).await;
    let body = r#"[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]"#;
    let headers = vec![
        (ID_HEADER, "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c".to_owned()),
        (SIGNATURE_HEADER, "MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/AO1RtBY66YcAdjxji410VQV4xg==".to_owned()),
    ];
    let answer = report(&s, body, &headers).await.expect(200);
    assert_eq!(
        answer.body,
        json!([{ "token_raw": "some_token", "token_type": "some_type", "label": "false_positive" }])
    );
    // The same signature on a body with a byte changed is refused.
    report(&s, &body.replace("commit", "commiT"), &headers)
        .await
        .expect_error(401, "invalid_signature");
}

#[tokio::test]
async fn reports_not_signed_by_a_configured_key_are_refused_and_revoke_nothing() {
    let (github, forger) = (GithubKey::new("github"), GithubKey::new("forger"));
    let s = start_trusting(&[&github], |_| {}).await;
    let (_, victim, _) = s.owner_creates_token("victim").await;
    let body = json!([found(&victim, "acme_tessera_token")]).to_string();
    let other_body = json!([found("tsr_something_else", "acme_tessera_token")]).to_string();
    // The same JSON, spaced differently: what is signed is the bytes.
    let reformatted =
        serde_json::to_string_pretty(&json!([found(&victim, "acme_tessera_token")])).expect("json");
    let cases: Vec<(&str, &str, Headers)> = vec![
        ("no headers", &body, vec![]),
        (
            "only the key id",
            &body,
            vec![(ID_HEADER, github.id.into())],
        ),
        (
            "only the signature",
            &body,
            vec![(SIGNATURE_HEADER, github.sign(&body))],
        ),
        (
            "signed by another key",
            &body,
            vec![
                (ID_HEADER, github.id.into()),
                (SIGNATURE_HEADER, forger.sign(&body)),
            ],
        ),
        (
            "an unknown key id",
            &body,
            vec![
                (ID_HEADER, "forger".into()),
                (SIGNATURE_HEADER, forger.sign(&body)),
            ],
        ),
        (
            "a signature replayed over another body",
            &body,
            github.headers(github.sign(&other_body)),
        ),
        (
            "a signed body reformatted",
            &reformatted,
            github.headers(github.sign(&body)),
        ),
        (
            "a signature that is not base64 DER",
            &body,
            github.headers("bm90IGEgc2lnbmF0dXJl".into()),
        ),
    ];
    for (what, sent, headers) in cases {
        let refused = report(&s, sent, &headers)
            .await
            .expect_error(401, "invalid_signature");
        assert!(
            refused.headers.get("www-authenticate").is_some(),
            "{what}: a 401 names its scheme"
        );
        assert!(
            !refused.text.contains(&victim[4..]),
            "{what}: {}",
            refused.text
        );
    }
    assert!(
        is_valid(&s, &victim).await,
        "a refused report revoked a token"
    );

    // Even signed, a report over 1000 matches is refused whole...
    let mut many: Vec<Value> = (0..1000)
        .map(|_| json!({ "token": "x", "type": "t" }))
        .collect();
    many.push(found(&victim, "t"));
    github_reports(&s, &github, &Value::Array(many))
        .await
        .expect_error(400, "bad_request");
    // ...and 10,000 do not fit in a request body.
    let huge: Vec<Value> = (0..10_000)
        .map(|_| json!({ "token": "x", "type": "t" }))
        .collect();
    github_reports(&s, &github, &Value::Array(huge))
        .await
        .expect_error(413, "payload_too_large");
    // A field over its length, a match without its type: 400s.
    for bad in [
        json!([found(&victim, &"t".repeat(257))]),
        json!([found(&"x".repeat(1025), "t")]),
        json!([{ "token": victim }]),
        json!([1, 2]),
    ] {
        github_reports(&s, &github, &bad)
            .await
            .expect_error(400, "bad_request");
    }
    assert!(
        is_valid(&s, &victim).await,
        "a refused report revoked a token"
    );
}

#[tokio::test]
async fn without_keys_github_reports_are_refused_and_plain_reports_still_work() {
    let github = GithubKey::new("github");
    let s = start().await;
    let (_, leaked, _) = s.owner_creates_token("leaked").await;
    let refused = github_reports(&s, &github, &json!([found(&leaked, "t")]))
        .await
        .expect_error(401, "invalid_signature");
    assert!(
        refused.text.contains("github_scanning_keys"),
        "the message says what to configure: {}",
        refused.text
    );
    assert!(is_valid(&s, &leaked).await);
    // The plain report: unchanged, in shape and in effect.
    let plain = s
        .post("/api/v1/leaks", "", json!({ "tokens": [leaked, "hello"] }))
        .await
        .expect(200);
    assert_eq!(plain.body, json!({ "revoked": 1, "ignored": 1 }));
    assert!(!is_valid(&s, &leaked).await);
}

#[tokio::test]
async fn the_rate_limit_counts_both_kinds_of_report_before_looking_at_them() {
    let github = GithubKey::new("github");
    let s = start_trusting(&[&github], |c| {
        c.leaks.reports_per_ip = 2;
        c.leaks.window_seconds = 600;
    })
    .await;
    let (_, victim, _) = s.owner_creates_token("victim").await;
    github_reports(&s, &github, &json!([found("hello", "t")]))
        .await
        .expect(200);
    s.post("/api/v1/leaks", "", json!({ "tokens": ["hello"] }))
        .await
        .expect(200);
    // The third report in the window, signed or not, is refused unread.
    let refused = github_reports(&s, &github, &json!([found(&victim, "t")]))
        .await
        .expect_error(429, "rate_limited");
    assert!(refused.headers.get("retry-after").is_some());
    report(&s, "[]", &[])
        .await
        .expect_error(429, "rate_limited");
    assert!(
        is_valid(&s, &victim).await,
        "a refused report revoked a token"
    );
    s.clock.advance(time::Duration::seconds(601));
    let answer = github_reports(&s, &github, &json!([found(&victim, "t")]))
        .await
        .expect(200);
    assert_eq!(answer.body[0]["label"], "true_positive");
}

/// `tessera serve` with `TESSERA_GITHUB_SCANNING_KEYS=keys`: it must stop
/// at once with an error; its stderr.
fn serve_refuses(dir: &Path, keys: &Path) -> String {
    let mut cmd: Command = tessera(dir);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("TESSERA_GITHUB_SCANNING_KEYS", keys)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            child.kill().expect("kill");
            panic!(
                "tessera serve started with the keys file {}",
                keys.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "exited 0");
    text(&out.stderr)
}

#[test]
fn a_bad_keys_file_stops_the_server_naming_the_file_and_the_fault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let github = GithubKey::new("github");
    let not_p256 = json!({ "public_keys": [{
        "key_identifier": "k", "is_current": true,
        "key": "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAK7lzgxAvrGjCB2PWkmNlXSkhQ/VXihu\nbCc4vDwmUsG4z72ernqEK5YT6hR39PPiGBYrdi2UsO2IwM4Sxld0Xh8CAwEAAQ==\n-----END PUBLIC KEY-----\n",
    }]});
    let cases = [
        ("missing.json", None, "cannot read"),
        (
            "truncated.json",
            Some(keys_file(&[&github])[..40].to_owned()),
            "not GitHub's secret-scanning keys",
        ),
        (
            "empty.json",
            Some(r#"{"public_keys": []}"#.to_owned()),
            "`public_keys` is empty",
        ),
        (
            "rsa.json",
            Some(not_p256.to_string()),
            "is not an ECDSA P-256 public key",
        ),
    ];
    for (name, contents, says) in cases {
        let path = d.join(name);
        if let Some(contents) = contents {
            std::fs::write(&path, contents).expect("write");
        }
        let stderr = serve_refuses(d, &path);
        for needle in [
            "TESSERA_GITHUB_SCANNING_KEYS",
            &path.display().to_string(),
            says,
        ] {
            assert!(
                stderr.contains(needle),
                "{name}: {needle:?} not in: {stderr}"
            );
        }
    }
}
