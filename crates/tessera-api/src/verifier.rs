//! The question a service asks to protect itself with Tessera tokens, as a
//! trait: `tessera_client::TesseraLayer` asks it, and either a client (over
//! HTTP) or `tessera_server::embedded::EmbeddedVerifier` (in process)
//! answers it.
//!
//! It lives here, with the wire types, rather than in the client so that
//! the server can answer it without depending on the client (and its HTTP
//! stack). Only `std` futures: this crate stays free of tower and reqwest.

use std::future::Future;
use std::pin::Pin;

use crate::{VerifyRequest, VerifyResponse};

/// The future a [`Verifier`] returns.
pub type VerifyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<VerifyResponse, VerifyError>> + Send + 'a>>;

/// Answers `POST /verify` questions. A `tessera_client::Client` asks a
/// Tessera server over HTTP; `tessera_server::embedded::EmbeddedVerifier`
/// answers in process from the same verification engine the server uses.
pub trait Verifier: Send + Sync + 'static {
    fn verify<'a>(&'a self, request: &'a VerifyRequest) -> VerifyFuture<'a>;
}

/// Why a [`Verifier`] gave no answer. Both variants fail closed: the
/// request being checked never passes.
///
/// Invariant: no message contains the presented token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Tessera answered with an error status: `400` when the question is
    /// malformed (say an action that is not `<noun>:<verb>`), `503` when
    /// its database is down, ... `code` is the API's stable code as sent,
    /// kept as text so that a code newer than this crate still shows.
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// Tessera could not be asked, or its answer could not be read.
    Unavailable(String),
}

impl VerifyError {
    /// True when the question itself was refused as malformed (`400`): the
    /// caller's mistake, not an outage.
    pub fn is_bad_question(&self) -> bool {
        matches!(self, Self::Api { status: 400, .. })
    }
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Api { code, message, .. } => write!(f, "{code}: {message}"),
            Self::Unavailable(reason) => write!(f, "cannot verify: {reason}"),
        }
    }
}

impl std::error::Error for VerifyError {}
