//! In-process verification for `tessera_client::TesseraLayer`: a service
//! that embeds Tessera (its store and engine, through an [`AppState`])
//! verifies presented tokens without a network round trip, with exactly
//! the answers `POST /verify` would give, since both run
//! [`super::routes::answer`].
//!
//! ```no_run
//! # async fn demo(state: tessera_server::AppState) {
//! use tessera_client::TesseraLayer;
//! use tessera_server::embedded::EmbeddedVerifier;
//!
//! let layer = TesseraLayer::with_verifier(EmbeddedVerifier::new(state))
//!     .require("flag:read", "proj/web");
//! # let _ = layer;
//! # }
//! ```
//!
//! Invariant: errors keep the API's status and code; an internal error's
//! detail is logged here and never handed to the layer's caller.

use tessera_api::VerifyRequest;
use tessera_client::{Verifier, VerifyFuture};

use super::routes::answer;
use crate::state::AppState;
use crate::ApiError;

/// Answers verification questions from this process's engine.
#[derive(Clone)]
pub struct EmbeddedVerifier {
    state: AppState,
}

impl EmbeddedVerifier {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl Verifier for EmbeddedVerifier {
    fn verify<'a>(&'a self, request: &'a VerifyRequest) -> VerifyFuture<'a> {
        Box::pin(async move {
            answer(&self.state, request, None)
                .await
                .map_err(client_error)
        })
    }
}

fn client_error(error: ApiError) -> tessera_client::Error {
    let (status, code) = error.status_and_code();
    let message = if status.is_server_error() {
        tracing::error!(%error, "in-process verification failed");
        "verification failed".to_owned()
    } else {
        error.to_string()
    };
    tessera_client::Error::Api {
        status: status.as_u16(),
        code: code.to_owned(),
        message,
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use axum::{Extension, Router};
    use tessera_api::VerifiedToken;
    use tessera_client::TesseraLayer;
    use tower::ServiceExt;

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
        let dir = tempfile::tempdir().expect("tempdir");
        let config = crate::Config {
            database_url: format!("sqlite://{}", dir.path().join("t.db").display()),
            ..Default::default()
        };
        let state = crate::open(config).await.expect("open");
        let created = crate::setup::create_org(&state, "acme", "o@acme.test", None)
            .await
            .expect("org");
        let owner = crate::setup::create_owner_token(&state, &created, "owner")
            .await
            .expect("token");

        let layer = TesseraLayer::with_verifier(EmbeddedVerifier::new(state.clone()));
        let app = Router::new()
            .route(
                "/flags",
                get(|Extension(t): Extension<VerifiedToken>| async move { t.member }),
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
        let response = crate::router(state.clone())
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
}
