//! In-process verification for `tessera_client::TesseraLayer` (through
//! [`tessera_api::Verifier`], so this crate does not depend on the client): a service
//! that embeds Tessera (its store and engine, through an [`AppState`])
//! verifies presented tokens without a network round trip, with exactly
//! the answers `POST /verify` would give, since both run
//! [`super::routes::answer`].
//!
//! ```ignore
//! // In a crate that depends on both tessera-server and tessera-client
//! // (this one does not depend on the client).
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

use tessera_api::{Verifier, VerifyError, VerifyFuture, VerifyRequest};

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

fn client_error(error: ApiError) -> VerifyError {
    let (status, code) = error.status_and_code();
    let message = if status.is_server_error() {
        tracing::error!(%error, "in-process verification failed");
        "verification failed".to_owned()
    } else {
        error.to_string()
    };
    VerifyError::Api {
        status: status.as_u16(),
        code: code.as_str().to_owned(),
        message,
    }
}
