//! The Disable / Enable button on a token's page: the same operations as
//! `POST /api/v1/tokens/{id}/disable|enable`, then back to the page with a
//! notice.

use axum::extract::Path;

use super::forms::{redirect, PageResult, WebForm};
use super::session::WebUser;
use crate::service::token_controls;

/// `POST /tokens/{id}/disable`.
pub async fn disable(user: WebUser, Path(id): Path<String>, WebForm(_): WebForm) -> PageResult {
    let token = token_controls::disable(&user.call, &id).await?;
    redirect(&format!("/tokens/{}?done=disabled", token.id))
}

/// `POST /tokens/{id}/enable`.
pub async fn enable(user: WebUser, Path(id): Path<String>, WebForm(_): WebForm) -> PageResult {
    let token = token_controls::enable(&user.call, &id).await?;
    redirect(&format!("/tokens/{}?done=enabled", token.id))
}
