//! A Rust client for Tessera's REST API (`/api/v1`).
//!
//! Like Groundlight's SDK, it finds the token in `TESSERA_TOKEN` and the
//! server in `TESSERA_URL` when none is passed, so the token stays out of
//! code:
//!
//! ```no_run
//! # async fn demo() -> Result<(), tessera_client::Error> {
//! use tessera_client::{api::CreateTokenRequest, Client};
//!
//! let client = Client::from_env()?;
//! let created = client
//!     .create_token(&CreateTokenRequest { name: "ci".into(), ..Default::default() })
//!     .await?;
//! // `created.token` is the full token: shown only in this answer.
//! # let _ = created;
//! # Ok(())
//! # }
//! ```
//!
//! Every route has one method named after its verb and noun
//! (`create_token`, `list_members`, `rotate_token`, ...); request and answer
//! types are the server's own, re-exported as [`api`]. Errors keep the
//! API's stable code ([`Error::Api`]), and no error or `Debug` output ever
//! shows a token.
//!
//! With the `tower` feature (on by default), `TesseraLayer` protects an
//! axum or other tower service with Tessera tokens.

mod client;
mod endpoints;
mod error;
#[cfg(feature = "tower")]
mod layer;
mod platform;

#[cfg(test)]
mod tests;

pub use client::{Client, ClientBuilder, DEFAULT_URL, SESSION_COOKIE, TOKEN_ENV, URL_ENV};
pub use endpoints::{AuditExport, AuditFilter, ForwardAuthIdentity, TokenFilter};
pub use error::Error;
#[cfg(feature = "tower")]
pub use layer::{TesseraLayer, TesseraService, MAX_CACHE_TTL};
pub use platform::{PageQuery, PutMember};
/// The API's wire types, shared with the server.
pub use tessera_api as api;
/// The layer's verification question; defined with the wire types so that
/// the server can answer it in process without depending on this crate.
#[cfg(feature = "tower")]
pub use tessera_api::{Verifier, VerifyError, VerifyFuture};
