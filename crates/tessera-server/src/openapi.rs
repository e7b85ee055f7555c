//! The OpenAPI document, generated from the handlers' annotations and the
//! wire types, served at `/api/v1/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera", description = "API tokens and personal access tokens, self-hosted."),
    paths(
        api::session::login, api::session::logout, api::session::me,
        api::session::change_password,
        api::members::list_members, api::members::create_member, api::members::get_member,
        api::members::update_member, api::members::delete_member, api::members::list_member_tokens,
        api::admin::list_roles, api::admin::create_role, api::admin::get_role,
        api::admin::update_role, api::admin::delete_role,
        api::admin::list_projects, api::admin::create_project, api::admin::get_project,
        api::admin::delete_project,
        api::admin::get_org, api::admin::update_org, api::admin::list_audit,
        api::tokens::list_tokens, api::tokens::create_token, api::tokens::get_token,
        api::tokens::update_token, api::tokens::delete_token, api::tokens::clone_token,
        api::tokens::rotate_token,
        api::verify::verify, api::verify::forward_auth, api::verify::report_leaks,
    ),
    modifiers(&Security),
    security(("bearer" = []), ("apikey" = []), ("session" = [])),
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "apikey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`ApiKey <token>`",
            ))),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
