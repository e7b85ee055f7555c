//! The web page offers only what the viewer can use (issue 15): a token
//! without an expiry is offered an expiry before rotation, admin pages
//! show readers and writers no form they cannot send and no name they
//! cannot read, unknown pages answer browsers in HTML, and the policy
//! editor lists what a policy can name and says what one allows.

use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use serde_json::Value;

use crate::harness::start;
use crate::web::client;

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
