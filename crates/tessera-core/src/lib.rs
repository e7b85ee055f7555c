//! Tessera's domain core: what a token is, what it may do, and the rules of
//! its lifecycle.
//!
//! This crate does no I/O and never reads the clock: every rule that depends
//! on time takes `now` as a parameter, so expiry, grace windows and the
//! once-an-hour rotation rule are tested exactly, without sleeping. The
//! storage layer, the server and the CLI all depend on it; it depends on
//! none of them.

pub mod controls;
pub mod error;
pub mod external_id;
pub mod ids;
pub mod lifecycle;
pub mod model;
pub mod notices;
pub mod permission;
pub mod platform;
pub mod policy;
pub mod resource;
pub mod role;
pub mod sso;
pub mod token;
pub mod webhook;

pub use error::Error;
pub use external_id::ExternalId;
pub use ids::{MemberId, OrgId, OrgKey, ProjectKey, RoleKey, ServiceAccountId, TokenId, WebhookId};
pub use lifecycle::{InactiveAction, TokenPolicy};
pub use model::TokenOwner;
pub use notices::ExpiryWarnings;
pub use permission::{Grantor, MemberPermissions, TokenScope};
pub use policy::{CompiledPolicy, Effect, Policy, Statement};
pub use role::BuiltinRole;
pub use token::{ParsedToken, SecretHash, TokenFormat};
