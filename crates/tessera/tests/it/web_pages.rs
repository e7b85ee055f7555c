//! The web page offers only what the viewer can use (issue 15): a token
//! without an expiry is offered an expiry before rotation, admin pages
//! show readers and writers no form they cannot send and no name they
//! cannot read, unknown pages answer browsers in HTML, and the policy
//! editor lists what a policy can name and says what one allows.

use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use serde_json::Value;

use crate::harness::{start, OWNER_EMAIL, OWNER_PASSWORD};
use crate::web::{client, shown_token, token_named, Browser};

/// The `action` of every form on the page.
fn form_actions(html: &str) -> Vec<String> {
    html.split("<form")
        .skip(1)
        .filter_map(|form| {
            let tag = &form[..form.find('>')?];
            let at = tag.find("action=\"")? + "action=\"".len();
            Some(tag[at..].split('"').next()?.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_token_without_an_expiry_is_offered_an_expiry_then_rotation() {
    let server = start().await;
    let owner = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let created = owner
        .post("/tokens", &[("name", "forever"), ("expiry", "none")])
        .await;
    assert_eq!(created.status, 201, "{}", created.html);
    let id = token_named(&server, "forever").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (rotate, expiry) = (
        format!("/tokens/{id}/rotate"),
        format!("/tokens/{id}/expiry"),
    );

    // No Rotate form that can only be refused: the expiry form instead.
    let page = owner.get(&format!("/tokens/{id}")).await;
    let actions = form_actions(&page.html);
    assert!(actions.contains(&expiry), "{actions:?}");
    assert!(!actions.contains(&rotate), "{actions:?}");
    assert!(!page.html.contains("value=\"none\""), "no Never here");

    // Without the CSRF token, or with a date in the past: nothing changes,
    // and the mistake is next to the expiry.
    let forged = owner
        .post_raw(&expiry, &[("expiry", "30"), ("csrf_token", "forged")])
        .await;
    assert_eq!(forged.status, 403);
    let past = owner
        .post(
            &expiry,
            &[("expiry", "custom"), ("expires_on", "2020-01-01")],
        )
        .await;
    assert_eq!(past.status, 422, "{}", past.html);
    assert!(
        past.html.contains("id=\"expires_at-error\""),
        "{}",
        past.html
    );
    assert!(form_actions(&past.html).contains(&expiry));
    assert_eq!(
        token_named(&server, "forever").await["expires_at"],
        Value::Null
    );

    // Set, as PATCH expires_at does: then the Rotate form shows, and works.
    let set = owner.post(&expiry, &[("expiry", "30")]).await;
    assert_eq!(set.status, 303, "{}", set.html);
    assert_eq!(
        set.headers[LOCATION].to_str().expect("location"),
        format!("/tokens/{id}?done=expiry")
    );
    assert!(token_named(&server, "forever").await["expires_at"].is_string());
    let page = owner.get(&format!("/tokens/{id}?done=expiry")).await;
    assert!(page.html.contains("The expiry was set"), "{}", page.html);
    let actions = form_actions(&page.html);
    assert!(actions.contains(&rotate), "{actions:?}");
    assert!(!actions.contains(&expiry), "{actions:?}");
    let rotated = owner
        .post(&rotate, &[("expiry", "30"), ("grace", "0")])
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.html);
    let value = shown_token(&rotated.html);
    server.get("/api/v1/me", &value).await.expect(200);
}

#[tokio::test]
async fn unknown_pages_answer_browsers_in_html_and_the_api_in_json() {
    let server = start().await;
    let get = |path: &'static str, accept: &'static str| {
        client().get(server.url(path)).header(ACCEPT, accept).send()
    };
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = get("/no/such/page", browser).await.expect("get");
    assert_eq!(page.status(), 404);
    assert!(page.headers()[CONTENT_TYPE]
        .to_str()
        .expect("type")
        .starts_with("text/html"));
    let html = page.text().await.expect("html");
    assert!(html.contains("There is no page at this address"), "{html}");
    assert!(html.contains("<link rel=\"stylesheet\""));
    // The API keeps its JSON error, whatever the client accepts; so does
    // anything that does not ask for HTML.
    for (path, accept) in [
        ("/api/v1/no-such-endpoint", browser),
        ("/api/nowhere", browser),
        ("/no/such/page", "application/json"),
        ("/no/such/page", "*/*"),
    ] {
        let reply = get(path, accept).await.expect("get");
        assert_eq!(reply.status(), 404, "{path}");
        let body: Value = reply.json().await.expect("json");
        assert_eq!(
            body["error"]["code"], "not_found",
            "{path} {accept}: {body}"
        );
    }
}

#[tokio::test]
async fn the_favicon_is_served_from_the_binary_and_cached() {
    let server = start().await;
    let icon = client()
        .get(server.url("/favicon.ico"))
        .send()
        .await
        .expect("icon");
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()[CONTENT_TYPE], "image/svg+xml");
    let cache = icon.headers()[CACHE_CONTROL].to_str().expect("cache");
    assert!(cache.contains("max-age"), "{cache}");
    let body = icon.text().await.expect("svg");
    assert!(body.starts_with("<svg"), "{body}");
    let login = client()
        .get(server.url("/login"))
        .send()
        .await
        .expect("login");
    let html = login.text().await.expect("html");
    assert!(html.contains("<link rel=\"icon\" href=\"/favicon.ico\""));
}
