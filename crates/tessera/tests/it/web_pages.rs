//! The web page offers only what the viewer can use (issue 15): a token
//! without an expiry is offered an expiry before rotation, admin pages
//! show readers and writers no form they cannot send and no name they
//! cannot read, unknown pages answer browsers in HTML, and the policy
//! editor lists what a policy can name and says what one allows.

use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use serde_json::{json, Value};

use crate::harness::{start, TestServer, OWNER_EMAIL};
use crate::web::{
    client, fetch, owner_with_token_that_never_expires, shown_token, start_as_owner, token_named,
    Browser,
};

const PASSWORD: &str = "member-password-1";

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
    let (server, owner, id) = owner_with_token_that_never_expires().await;
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
    owner
        .post_raw(&expiry, &[("expiry", "30"), ("csrf_token", "forged")])
        .await
        .expect(403);
    let past = owner
        .post(
            &expiry,
            &[("expiry", "custom"), ("expires_on", "2020-01-01")],
        )
        .await
        .expect(422);
    past.assert_field_error("expires_at");
    assert!(form_actions(&past.html).contains(&expiry));
    assert_eq!(
        token_named(&server, "forever").await["expires_at"],
        Value::Null
    );

    // Set, as PATCH expires_at does: then the Rotate form shows, and works.
    let set = owner.post(&expiry, &[("expiry", "30")]).await.expect(303);
    assert_eq!(
        set.headers[LOCATION].to_str().expect("location"),
        format!("/tokens/{id}?done=expiry")
    );
    assert!(token_named(&server, "forever").await["expires_at"].is_string());
    let page = owner.get(&format!("/tokens/{id}?done=expiry")).await;
    page.assert_shows("The expiry was set");
    let actions = form_actions(&page.html);
    assert!(actions.contains(&rotate), "{actions:?}");
    assert!(!actions.contains(&expiry), "{actions:?}");
    let rotated = owner
        .post(&rotate, &[("expiry", "30"), ("grace", "0")])
        .await
        .expect(200);
    let value = shown_token(&rotated.html);
    server.get("/api/v1/me", &value).await.expect(200);
}

/// Members every test below sees: a reader, a writer, an admin; a role and
/// a project to look at.
async fn org_with_members(server: &TestServer) -> Vec<String> {
    server
        .add_role(json!({ "key": "ops", "policy": [{ "effect": "allow", "actions": ["flag:read"], "resources": ["proj/*"] }] }))
        .await
        .expect(201);
    server
        .add_project(json!({ "key": "web" }))
        .await
        .expect(201);
    let mut ids = Vec::new();
    for (email, role) in [
        ("reader@acme.test", "reader"),
        ("writer@acme.test", "writer"),
        ("admin@acme.test", "admin"),
    ] {
        ids.push(server.add_member(email, role, PASSWORD).await);
    }
    ids
}

const ADMIN_PAGES: [&str; 6] = [
    "/admin/members",
    "/admin/roles",
    "/admin/roles/ops",
    "/admin/projects",
    "/admin/policy",
    "/admin/audit",
];

#[tokio::test]
async fn readers_and_writers_see_no_admin_form_they_cannot_use() {
    let server = start().await;
    let ids = org_with_members(&server).await;
    let writer_id = &ids[1];
    // (who, the forms their admin pages may hold besides "Log out")
    for (email, usable) in [
        ("reader@acme.test", vec![]),
        ("writer@acme.test", vec!["/admin/projects".to_owned()]),
    ] {
        let browser = Browser::login(&server, email, PASSWORD).await;
        let member_page = format!("/admin/members/{writer_id}");
        for path in ADMIN_PAGES.iter().copied().chain([member_page.as_str()]) {
            let page = browser.get(path).await;
            let extra: Vec<String> = form_actions(&page.html)
                .into_iter()
                .filter(|a| a != "/logout" && !usable.contains(a))
                .collect();
            assert!(extra.is_empty(), "{email} on {path}: {extra:?}");
            if usable.iter().any(|u| u == path) {
                continue;
            }
            for link in ["/remove\"", "/delete\"", "Add a member", "Create a role"] {
                assert!(!page.html.contains(link), "{email} on {path}: {link}");
            }
        }
        // The audit log: the API's refusal, and no filter naming members.
        let audit = browser.get("/admin/audit").await;
        assert_eq!(audit.status, 403, "{}", audit.html);
        audit.assert_hides("id=\"actor\"");
        for other in [OWNER_EMAIL, "admin@acme.test"] {
            assert!(!audit.html.contains(other), "{email} sees {other}");
        }
        // Another member's page: their roles as text, no token list.
        let member = browser.get(&format!("/admin/members/{}", ids[2])).await;
        assert_eq!(member.status, 200);
        member.assert_hides("Their tokens");
        assert!(
            !member.html.contains("id=\"locked\""),
            "no rank talk for them"
        );
    }
    // Confirmation pages for what they cannot do are refused too (and a
    // form sent anyway says why: web.rs, the page enforces the API's rules).
    let reader = Browser::login(&server, "reader@acme.test", PASSWORD).await;
    for path in [
        format!("/admin/members/{writer_id}/remove"),
        "/admin/roles/ops/delete".to_owned(),
        "/admin/projects/web/delete".to_owned(),
    ] {
        assert_eq!(reader.get(&path).await.status, 403, "{path}");
    }
    // A writer manages projects: the form and the delete link.
    let writer = Browser::login(&server, "writer@acme.test", PASSWORD).await;
    let projects = writer.get("/admin/projects").await;
    assert!(projects.html.contains("/admin/projects/web/delete\""));
    assert_eq!(writer.get("/admin/projects/web/delete").await.status, 200);
    // The policy is shown to a reader as text.
    let policy = reader.get("/admin/policy").await;
    policy.assert_shows("Longest lifetime");
}

#[tokio::test]
async fn admins_still_see_every_form_and_name() {
    let server = start().await;
    let ids = org_with_members(&server).await;
    let admin = Browser::login(&server, "admin@acme.test", PASSWORD).await;
    let forms = |html: &str| form_actions(html);
    let members = admin.get("/admin/members").await;
    assert!(forms(&members.html).contains(&"/admin/members".to_owned()));
    assert!(members
        .html
        .contains(&format!("/admin/members/{}/remove\"", ids[0])));
    let roles = admin.get("/admin/roles").await;
    assert!(forms(&roles.html).contains(&"/admin/roles".to_owned()));
    let role = admin.get("/admin/roles/ops").await;
    assert!(forms(&role.html).contains(&"/admin/roles/ops".to_owned()));
    assert!(role.html.contains("/admin/roles/ops/delete\""));
    let projects = admin.get("/admin/projects").await;
    assert!(forms(&projects.html).contains(&"/admin/projects".to_owned()));
    assert!(projects.html.contains("/admin/projects/web/delete\""));
    let policy = admin.get("/admin/policy").await;
    assert!(forms(&policy.html).contains(&"/admin/policy".to_owned()));
    let audit = admin.get("/admin/audit").await.expect(200);
    assert!(audit.html.contains("id=\"actor\""));
    for email in [OWNER_EMAIL, "reader@acme.test", "writer@acme.test"] {
        assert!(audit.html.contains(email), "the actor filter names {email}");
    }
    // A reader's page: the roles form and their tokens; an owner's: why not.
    let reader = admin.get(&format!("/admin/members/{}", ids[0])).await;
    assert!(forms(&reader.html).contains(&format!("/admin/members/{}", ids[0])));
    assert!(reader.html.contains("Their tokens"));
    let owner_id = server.owner_get("/api/v1/me").await.body["member"]["id"]
        .as_str()
        .expect("owner id")
        .to_owned();
    let owner = admin.get(&format!("/admin/members/{owner_id}")).await;
    owner.assert_shows("id=\"locked\"");
    assert!(!forms(&owner.html).contains(&format!("/admin/members/{owner_id}")));
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
    let icon = fetch(&server, "/favicon.ico").await;
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()[CONTENT_TYPE], "image/svg+xml");
    let cache = icon.headers()[CACHE_CONTROL].to_str().expect("cache");
    assert!(cache.contains("max-age"), "{cache}");
    let body = icon.text().await.expect("svg");
    assert!(body.starts_with("<svg"), "{body}");
    let login = fetch(&server, "/login").await;
    let html = login.text().await.expect("html");
    assert!(html.contains("<link rel=\"icon\" href=\"/favicon.ico\""));
}

#[tokio::test]
async fn the_policy_editor_lists_what_a_policy_names_and_says_what_it_allows() {
    let (server, owner) = start_as_owner().await;
    // The reference, from tessera-core's list, beside every policy field.
    for path in ["/admin/roles", "/tokens/new"] {
        let page = owner.get(path).await;
        for known in [
            "member/&#60;member id&#62;:token/&#60;token id&#62;",
            "token:rotate",
            "project:delete",
            "audit:read",
        ] {
            assert!(page.html.contains(known), "{path}: {known}");
        }
    }
    let policy = r#"[{"effect": "allow", "actions": ["token:read"], "resources": ["proj/web:*"]},
                     {"effect": "deny", "actions": ["token:delete"], "resources": ["*"]}]"#;
    let in_words = [
        "Allows token:read on proj/web:*",
        "Denies token:delete on everything",
    ];
    // "Check the policy": read and described, nothing saved.
    let check = |policy: &'static str| {
        let owner = &owner;
        async move {
            let fields = [("key", "ops"), ("policy", policy), ("check", "policy")];
            owner.post("/admin/roles", &fields).await
        }
    };
    let checked = check(policy).await.expect(200);
    for line in in_words {
        assert!(checked.html.contains(line), "{line}: {}", checked.html);
    }
    assert!(checked.html.contains("value=\"ops\""), "the form is kept");
    let roles = server.owner_get("/api/v1/roles").await;
    assert_eq!(roles.body["items"], json!([]), "nothing saved");
    // A policy that does not validate: its error next to it, no summary.
    let bad = r#"[{"effect": "allow", "actions": ["read"], "resources": ["proj/web"]}]"#;
    let refused = check(bad).await.expect(422);
    refused.assert_field_error("policy");
    assert!(!refused.html.contains("id=\"policy-summary\""));
    // Saved, the role's page says it in words too.
    owner
        .post("/admin/roles", &[("key", "ops"), ("policy", policy)])
        .await
        .expect(303);
    let role = owner.get("/admin/roles/ops").await;
    for line in in_words {
        assert!(role.html.contains(line), "{line}");
    }
    let check_edit = owner
        .post("/admin/roles/ops", &[("policy", bad), ("check", "policy")])
        .await
        .expect(422);
    check_edit.assert_field_error("policy");

    // An inline token policy: checked on the create form, nothing minted;
    // the token's page describes the policy it holds.
    let fields = [
        ("name", "scoped"),
        ("scope", "policy"),
        ("policy", policy),
        ("expiry", "30"),
    ];
    let mut check = fields.to_vec();
    check.push(("check", "policy"));
    let checked = owner.post("/tokens", &check).await.expect(200);
    checked.assert_shows(in_words[1]);
    assert!(!checked.html.contains("id=\"token-value\""));
    let tokens = server.owner_get("/api/v1/tokens").await;
    assert!(tokens.items().iter().all(|t| t["name"] != "scoped"));
    let id = owner.create_token(&server, &fields).await;
    let page = owner.get(&format!("/tokens/{id}")).await;
    page.assert_shows(in_words[0]);
}
