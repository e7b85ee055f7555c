//! `TesseraLayer` verifying in process with the server's `EmbeddedVerifier`.
//! It lives with the client, not the server, because it needs both and the
//! server must not depend on the client (nor link its HTTP stack).
#![cfg(feature = "tower")]
// Test code: a failed unwrap is a failed test (helpers are not `#[test]`,
// so clippy.toml's allow-*-in-tests does not reach them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Router};
use tessera_client::api::VerifiedToken;
use tessera_client::TesseraLayer;
use tessera_server::embedded::EmbeddedVerifier;
use tower::ServiceExt;

mod support;

async fn status_and_body(app: &Router, token: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::builder().uri("/flags");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_layer_verifies_in_process() {
    let (state, created, owner, _dir) = support::acme().await;

    let layer = TesseraLayer::with_verifier(EmbeddedVerifier::new(state.clone()));
    let app =
        Router::new()
            .route(
                "/flags",
                get(|Extension(t): Extension<VerifiedToken>| async move {
                    t.member.unwrap_or_default()
                }),
            )
            .layer(layer.clone().require("flag:read", "proj/web"));
    let (status, body) = status_and_body(&app, Some(&owner)).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, created.owner.id.to_string())
    );
    let (status, body) = status_and_body(&app, Some("tsr_unknown")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        status_and_body(&app, None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A reader token (made through the API) may read, not update: 403.
    let create = Request::post("/api/v1/tokens")
        .header("authorization", format!("Bearer {owner}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name":"r","role":"reader"}"#))
        .expect("request");
    let response = tessera_server::router(state.clone())
        .oneshot(create)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::CREATED);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("body");
    let created: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    let reader = created["token"].as_str().expect("token");
    assert_eq!(status_and_body(&app, Some(reader)).await.0, StatusCode::OK);
    let update = Router::new()
        .route("/flags", get(|| async { "updated" }))
        .layer(layer.clone().require("flag:update", "proj/web"));
    assert_eq!(
        status_and_body(&update, Some(reader)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_and_body(&update, Some(&owner)).await.0,
        StatusCode::OK
    );

    let malformed = Router::new()
        .route("/flags", get(|| async { "no" }))
        .layer(layer.require("flag:read", "not a resource"));
    assert_eq!(
        status_and_body(&malformed, Some(&owner)).await.0,
        StatusCode::BAD_REQUEST
    );
}
