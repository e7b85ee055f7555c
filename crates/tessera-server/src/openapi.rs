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
    modifiers(&Security, &Conformance),
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

/// Makes the generated document describe what the server really does, for
/// clients and for schemathesis (`scripts/api-fuzz`):
/// - every `{name}` in a path is declared as a string path parameter;
/// - every operation lists the error statuses any request can get
///   (`400`, `401`, `403`, `404`, `413`, `415`, `422`, `429`, `503`), each
///   with the JSON error body;
/// - the endpoints that need no credential (`POST /session`, `/verify`,
///   `/leaks`) say so;
/// - the clone body is optional.
struct Conformance;

/// Error statuses every operation may answer.
const COMMON_ERRORS: [(&str, &str); 9] = [
    ("400", "malformed request"),
    ("401", "missing, invalid, expired or revoked credential"),
    ("403", "not permitted"),
    ("404", "not found"),
    ("413", "request body too large"),
    ("415", "the body is not `application/json`"),
    ("422", "a rule is broken"),
    ("429", "too many requests; see `Retry-After`"),
    ("503", "temporarily unavailable"),
];

/// Operations that take no credential: holding a token (or a password) is
/// the proof.
const NO_CREDENTIAL: [(&str, &str); 3] = [
    ("/api/v1/session", "post"),
    ("/api/v1/verify", "post"),
    ("/api/v1/leaks", "post"),
];

impl Modify for Conformance {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
        use utoipa::openapi::security::SecurityRequirement;
        use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};

        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let names: Vec<&str> = path
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
                .collect();
            let operations: [(&str, &mut Option<Operation>); 5] = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, operation) in operations {
                let Some(op) = operation.as_mut() else {
                    continue;
                };
                let params = op.parameters.get_or_insert_with(Vec::new);
                for name in &names {
                    if !params.iter().any(|p| p.name == *name) {
                        params.push(
                            ParameterBuilder::new()
                                .name(*name)
                                .parameter_in(ParameterIn::Path)
                                .required(Required::True)
                                .schema(Some(utoipa::openapi::schema::Object::with_type(
                                    utoipa::openapi::schema::Type::String,
                                )))
                                .build(),
                        );
                    }
                }
                for (status, description) in COMMON_ERRORS {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description).into());
                }
                if NO_CREDENTIAL.contains(&(path.as_str(), method)) {
                    op.security = Some(vec![SecurityRequirement::default()]);
                }
                if path.ends_with("/clone") {
                    if let Some(body) = op.request_body.as_mut() {
                        body.required = Some(Required::False);
                    }
                }
            }
        }
    }
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression for what schemathesis found: undeclared path parameters
    /// made nine operations untestable, and error statuses were missing.
    #[test]
    fn every_operation_declares_its_path_parameters_and_errors() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
        let paths = doc["paths"].as_object().expect("paths");
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("item") {
                let declared: Vec<&str> = op["parameters"]
                    .as_array()
                    .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
                    .unwrap_or_default();
                for name in path.split('{').skip(1).filter_map(|r| r.split('}').next()) {
                    assert!(declared.contains(&name), "{method} {path}: {name}");
                }
                for status in ["400", "401", "403", "404", "422", "429", "503"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path}: {status}"
                    );
                }
            }
        }
        assert_eq!(
            doc["paths"]["/api/v1/verify"]["post"]["security"],
            serde_json::json!([{}])
        );
        assert_eq!(
            doc["paths"]["/api/v1/audit"]["get"]["parameters"][0]["in"],
            "query"
        );
    }
}
