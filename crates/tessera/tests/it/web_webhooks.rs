//! The webhooks page (issue 19): admins make an endpoint (its signing
//! secret shown once, in the answer to the form), change it, delete it,
//! ping it and retry a delivery, with the API's checks shown next to the
//! field and nothing typed lost; CSRF and the API's permissions hold.

use reqwest::header::LOCATION;
use serde_json::Value;

use crate::harness::{field_value, start, start_with, TestServer, OWNER_EMAIL, OWNER_PASSWORD};
use crate::web::{Browser, Page};
use crate::webhooks::Receiver;

/// A server that may send to 127.0.0.1 (the test receiver), its owner
/// logged in to the page.
async fn owner_page() -> (TestServer, Browser) {
    let server = start_with(|c| c.webhooks.allow_private = true).await;
    let owner = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    (server, owner)
}

async fn hooks(server: &TestServer) -> Vec<Value> {
    server
        .owner_get("/api/v1/webhooks")
        .await
        .expect(200)
        .items()
        .to_vec()
}

async fn deliveries(server: &TestServer, id: &str) -> Vec<Value> {
    server
        .owner_get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await
        .expect(200)
        .items()
        .to_vec()
}

/// Sends the "Make a webhook" form; the answer.
async fn make(browser: &Browser, url: &str, events: &[&str], description: &str) -> Page {
    let mut fields = vec![("url", url), ("description", description)];
    fields.extend(events.iter().map(|e| ("events", *e)));
    browser.post("/admin/webhooks", &fields).await
}

fn location(page: &Page) -> &str {
    page.headers[LOCATION].to_str().expect("location")
}

#[tokio::test]
async fn a_new_webhook_shows_its_secret_once_then_never() {
    let (server, owner) = owner_page().await;
    let receiver = Receiver::start().await;
    owner
        .get("/admin/webhooks")
        .await
        .expect(200)
        .assert_shows("Make a webhook");

    let form_id = "2CBfVCwGrNDzaJ3jGSjNSr9Q6dM";
    let fields = [
        ("url", receiver.url.as_str()),
        ("events", "token.created"),
        ("events", "member.added"),
        ("description", "Chat notices"),
        ("form_id", form_id),
    ];
    let created = owner.post("/admin/webhooks", &fields).await.expect(201);
    assert!(
        !created.headers.contains_key(LOCATION),
        "the answer itself, no redirect"
    );
    assert_eq!(created.headers["cache-control"], "no-store");
    let secret = field_value(&created.html, "id=\"webhook-secret\"");
    assert!(secret.starts_with("whsec_"), "{secret}");
    created.assert_shows("will not be shown again");

    let listed = hooks(&server).await;
    assert_eq!(listed.len(), 1);
    let id = listed[0]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        listed[0]["events"],
        serde_json::json!(["token.created", "member.added"])
    );
    assert_eq!(listed[0]["description"], "Chat notices");

    // Never again: not on the list, not on its page, not for the form sent
    // twice (which makes nothing more).
    let body = &secret["whsec_".len()..];
    for path in [
        "/admin/webhooks".to_owned(),
        format!("/admin/webhooks/{id}"),
    ] {
        owner
            .get(&path)
            .await
            .expect(200)
            .assert_hides(body)
            .assert_shows(&receiver.url);
    }
    let again = owner.post("/admin/webhooks", &fields).await.expect(409);
    again.assert_hides(body).assert_shows("already sent");
    assert_eq!(hooks(&server).await.len(), 1);

    // The secret shown is the one that signs: a ping arrives signed with it.
    owner
        .post(&format!("/admin/webhooks/{id}/ping"), &[])
        .await
        .expect(303);
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].body.contains("webhook.ping"), "{}", got[0].body);
}

#[tokio::test]
async fn an_admin_edits_pings_retries_and_deletes_a_webhook() {
    let (server, owner) = owner_page().await;
    let receiver = Receiver::start().await;
    make(&owner, &receiver.url, &["token.created"], "first")
        .await
        .expect(201);
    let id = hooks(&server).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let page_path = format!("/admin/webhooks/{id}");

    // Its page shows the stored values in the form.
    let page = owner.get(&page_path).await.expect(200);
    page.assert_shows("value=\"first\"")
        .assert_shows("No deliveries yet")
        .assert_shows(&format!("action=\"{page_path}/ping\""));

    // Edit: every event, a new description, a new URL.
    let other = Receiver::start().await;
    let saved = owner
        .post(
            &page_path,
            &[
                ("url", &other.url),
                ("events", "*"),
                ("description", "second"),
            ],
        )
        .await
        .expect(303);
    assert_eq!(location(&saved), format!("{page_path}?done=saved"));
    let hook = &hooks(&server).await[0];
    assert_eq!(hook["url"], other.url.as_str());
    assert_eq!(hook["events"], serde_json::json!(["*"]));
    assert_eq!(hook["description"], "second");
    owner
        .get(&format!("{page_path}?done=saved"))
        .await
        .expect(200)
        .assert_shows("Your changes were saved");

    // An empty description clears it.
    owner
        .post(
            &page_path,
            &[("url", &other.url), ("events", "*"), ("description", "")],
        )
        .await
        .expect(303);
    assert_eq!(hooks(&server).await[0]["description"], Value::Null);

    // Ping: a delivery, sent at once, listed with a retry button.
    let pinged = owner
        .post(&format!("{page_path}/ping"), &[])
        .await
        .expect(303);
    assert_eq!(location(&pinged), format!("{page_path}?done=pinged"));
    let list = deliveries(&server, &id).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["type"], "webhook.ping");
    assert_eq!(list[0]["status"], "succeeded");
    assert_eq!(other.wait_for(1).await.len(), 1);
    let delivery = list[0]["id"].as_str().expect("delivery id").to_owned();
    let retry = format!("{page_path}/deliveries/{delivery}/retry");
    let page = owner
        .get(&format!("{page_path}?done=pinged"))
        .await
        .expect(200);
    page.assert_shows("A ping was sent")
        .assert_shows("webhook.ping")
        .assert_shows("succeeded")
        .assert_shows(&format!("action=\"{retry}\""));

    // Retry: sent again with the same id, one more attempt.
    let retried = owner.post(&retry, &[]).await.expect(303);
    assert_eq!(location(&retried), format!("{page_path}?done=retried"));
    assert_eq!(deliveries(&server, &id).await[0]["attempts"], 2);
    let got = other.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    owner
        .post(&format!("{page_path}/deliveries/msg_nope/retry"), &[])
        .await
        .expect(404);

    // Delete: a confirmation first, then gone.
    let confirm = owner.get(&format!("{page_path}/delete")).await.expect(200);
    confirm
        .assert_shows(&format!("action=\"{page_path}/delete\""))
        .assert_shows("This cannot be undone");
    assert_eq!(hooks(&server).await.len(), 1, "asking deletes nothing");
    let deleted = owner
        .post(&format!("{page_path}/delete"), &[])
        .await
        .expect(303);
    assert_eq!(location(&deleted), "/admin/webhooks?done=deleted");
    assert!(hooks(&server).await.is_empty());
    owner.get(&page_path).await.expect(404);
}

#[tokio::test]
async fn bad_input_is_shown_next_to_its_field_with_the_form_kept() {
    // Private addresses refused: the default configuration.
    let server = start().await;
    let owner = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let long = "d".repeat(1001);
    // (url, events, description, the field in error, the status)
    let cases: [(&str, &[&str], &str, &str, u16); 6] = [
        (
            "http://127.0.0.1:9/hook",
            &["token.created"],
            "kept text",
            "url",
            422,
        ),
        ("http://10.1.2.3/hook", &["*"], "kept text", "url", 422),
        (
            "ftp://hooks.example.com/x",
            &["token.created"],
            "kept text",
            "url",
            400,
        ),
        (
            "https://hooks.example.com/x",
            &["token.created", "token.bogus"],
            "kept text",
            "events",
            400,
        ),
        (
            "https://hooks.example.com/x",
            &[],
            "kept text",
            "events",
            400,
        ),
        (
            "https://hooks.example.com/x",
            &["token.created"],
            &long,
            "description",
            422,
        ),
    ];
    for (url, events, description, field, status) in cases {
        let page = make(&owner, url, events, description).await.expect(status);
        page.assert_field_error(field);
        // Nothing lost: the URL, the description and the boxes checked.
        page.assert_shows(&format!("value=\"{url}\""))
            .assert_shows(&format!("value=\"{description}\""))
            .assert_hides("whsec_");
        if events.contains(&"token.created") {
            page.assert_shows("value=\"token.created\" checked");
        }
    }
    assert!(hooks(&server).await.is_empty(), "nothing was made");

    // The same checks when changing one (on a server that may send to
    // 127.0.0.1, where the test receiver is), with what was sent kept.
    let (server, owner) = owner_page().await;
    let receiver = Receiver::start().await;
    make(&owner, &receiver.url, &["*"], "").await.expect(201);
    let id = hooks(&server).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let page_path = format!("/admin/webhooks/{id}");
    let cases: [(&str, &str, &str, &str, u16); 3] = [
        ("ftp://hooks.example.com/x", "*", "new", "url", 400),
        (&receiver.url, "token.bogus", "new", "events", 400),
        (&receiver.url, "*", &long, "description", 422),
    ];
    for (url, event, description, field, status) in cases {
        let fields = [
            ("url", url),
            ("events", event),
            ("description", description),
        ];
        let page = owner.post(&page_path, &fields).await.expect(status);
        page.assert_field_error(field);
        page.assert_shows(&format!("value=\"{url}\""))
            .assert_shows(&format!("value=\"{description}\""));
    }
    let hook = &hooks(&server).await[0];
    assert_eq!(hook["url"], receiver.url.as_str());
    assert_eq!(hook["description"], Value::Null);
}

#[tokio::test]
async fn forms_need_the_csrf_token_and_the_permission() {
    let (server, owner) = owner_page().await;
    let receiver = Receiver::start().await;

    // Without the session's CSRF token: refused, nothing made.
    owner
        .post_raw(
            "/admin/webhooks",
            &[
                ("url", &receiver.url),
                ("events", "*"),
                ("csrf_token", "forged"),
            ],
        )
        .await
        .expect(403);
    assert!(hooks(&server).await.is_empty());
    // (token events only: adding members below queues nothing)
    make(&owner, &receiver.url, &["token.created"], "")
        .await
        .expect(201);
    let id = hooks(&server).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let page_path = format!("/admin/webhooks/{id}");
    for path in [
        page_path.clone(),
        format!("{page_path}/ping"),
        format!("{page_path}/delete"),
    ] {
        owner
            .post_raw(&path, &[("url", "http://x.test/"), ("events", "*")])
            .await
            .expect(403);
    }
    assert_eq!(hooks(&server).await.len(), 1);
    assert!(deliveries(&server, &id).await.is_empty());

    // Readers and writers: the API's 403, on every page and form; no link.
    for role in ["reader", "writer"] {
        let member = Browser::new_member(&server, role).await;
        member
            .get("/tokens")
            .await
            .expect(200)
            .assert_hides("href=\"/admin/webhooks\"");
        for path in [
            "/admin/webhooks".to_owned(),
            page_path.clone(),
            format!("{page_path}/delete"),
        ] {
            member
                .get(&path)
                .await
                .expect(403)
                .assert_hides(&receiver.url);
        }
        make(&member, &receiver.url, &["*"], "").await.expect(403);
        for path in [
            page_path.clone(),
            format!("{page_path}/ping"),
            format!("{page_path}/delete"),
        ] {
            member
                .post(&path, &[("url", "http://x.test/"), ("events", "*")])
                .await
                .expect(403);
        }
    }
    assert_eq!(hooks(&server).await.len(), 1);
    assert!(deliveries(&server, &id).await.is_empty());

    // An admin may.
    let admin = Browser::new_member(&server, "admin").await;
    admin
        .get(&page_path)
        .await
        .expect(200)
        .assert_shows("Send a ping");
}
