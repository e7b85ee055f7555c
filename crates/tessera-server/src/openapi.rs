//! The OpenAPI document, generated from the handlers' annotations and the
//! wire types, served at `/api/v1/openapi.json`.

use axum::Json;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera", description = "API tokens and personal access tokens, self-hosted."),
    paths(
        api::session::login, api::session::logout, api::session::me,
        api::session::change_password,
        api::member_password::set_member_password,
        api::members::list_members, api::members::create_member, api::members::get_member,
        api::members::update_member, api::members::delete_member, api::members::list_member_tokens,
        api::service_accounts::list_service_accounts,
        api::service_accounts::create_service_account,
        api::service_accounts::get_service_account,
        api::service_accounts::update_service_account,
        api::service_accounts::delete_service_account,
        api::service_accounts::list_service_account_tokens,
        api::service_accounts::create_service_account_token,
        api::webhooks::list_webhooks,
        api::webhooks::create_webhook,
        api::webhooks::get_webhook,
        api::webhooks::update_webhook,
        api::webhooks::delete_webhook,
        api::webhooks::list_deliveries,
        api::webhooks::retry_delivery,
        api::webhooks::ping_webhook,
        api::admin::list_roles, api::admin::create_role, api::admin::get_role,
        api::admin::update_role, api::admin::delete_role,
        api::admin::list_projects, api::admin::create_project, api::admin::get_project,
        api::admin::delete_project,
        api::admin::get_org, api::admin::update_org, api::audit::list_audit,
        api::tokens::list_tokens, api::tokens::create_token, api::tokens::get_token,
        api::tokens::update_token, api::tokens::delete_token, api::tokens::clone_token,
        api::tokens::rotate_token, api::tokens::disable_token, api::tokens::enable_token,
        api::tokens::token_usage,
        crate::verify::routes::verify, crate::verify::forward_auth::forward_auth,
        crate::verify::forward_auth::envoy_auth, api::introspect::introspect_token,
        crate::verify::leaks::report_leaks,
        crate::platform::orgs::create_org, crate::platform::orgs::list_orgs,
        crate::platform::orgs::get_org, crate::platform::orgs::update_org,
        crate::platform::orgs::delete_org, crate::platform::members::put_member,
        crate::platform::members::get_member, crate::platform::members::delete_member,
        crate::platform::links::create_link, crate::platform::audit::list_audit,
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
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("an OAuth client's credentials: any client id, your token as the secret (introspection only)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apikey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`ApiKey <token>`",
            ))),
        );
        components.add_security_scheme(
            "platform_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a platform key (`tessera platform-key create`): the only credential `/api/v1/platform/*` takes"))
                    .build(),
            ),
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
/// - the clone body is optional;
/// - path and query parameters carry the shapes the server checks (ids,
///   keys, `/auth`'s question);
/// - the rules across fields that the wire types cannot state: at most one
///   of a token's `role`, `custom_roles` and `policy`, and `/verify`'s
///   `action` and `resource` together or not at all.
///
/// The shapes of single fields are on the wire types
/// (`tessera_api::schema`).
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

/// The schema of parameter `name` of `path`, where the server checks more
/// than "a string".
fn parameter_schema(path: &str, name: &str) -> Option<Object> {
    use tessera_api::schema;
    let string = |description: &str, pattern: String, min: usize, max: usize| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
            .pattern(Some(pattern))
            .min_length(Some(min))
            .max_length(Some(max))
            .build()
    };
    let ksuid = || {
        string(
            "a KSUID: 27 base62 characters",
            schema::ksuid_pattern(),
            27,
            27,
        )
    };
    match name {
        "id" if path.starts_with("/api/v1/members/")
            || path.starts_with("/api/v1/service-accounts/") =>
        {
            Some(ksuid())
        }
        "actor" if path == "/api/v1/audit" => Some(ksuid()),
        "member" if path == "/api/v1/tokens" => Some(ksuid()),
        "id" if path.starts_with("/api/v1/tokens/") => Some(string(
            "a token id (a KSUID), or `self`: the token making the call",
            format!("^(?:self|{})$", schema::ksuid_regex()),
            4,
            27,
        )),
        "key" if path.starts_with("/api/v1/roles/") || path.starts_with("/api/v1/projects/") => {
            Some(string(
                "a key",
                schema::KEY_PATTERN.to_owned(),
                1,
                schema::KEY_MAX_LENGTH,
            ))
        }
        "key" if path.starts_with("/api/v1/platform/orgs/") => Some(string(
            "an org key",
            schema::KEY_PATTERN.to_owned(),
            1,
            schema::KEY_MAX_LENGTH,
        )),
        "external_id" if path.starts_with("/api/v1/platform/orgs/") => Some(string(
            "the person's id in the host product: 1 to 255 bytes (percent-encoded here), no control characters",
            r"^[^\x00-\x1f\x7f]+$".to_owned(),
            1,
            255,
        )),
        "action" if path == "/api/v1/auth" => Some(string(
            "`type:verb`, at most 1024 bytes (the document: 256 characters)",
            schema::CHECK_ACTION_PATTERN.to_owned(),
            1,
            schema::CHECK_MAX_LENGTH,
        )),
        "resource" if path == "/api/v1/auth" => Some(string(
            "`:`-separated `type/name` segments, at most 1024 bytes (the document: 256 characters)",
            schema::CHECK_RESOURCE_PATTERN.to_owned(),
            3,
            schema::CHECK_MAX_LENGTH,
        )),
        _ => None,
    }
}

/// What `/auth`'s `action` and `resource` parameters must say that a
/// parameter's schema cannot.
const AUTH_QUESTION: &str = "Give `action` and `resource` both, or neither (each as this query \
     parameter or as its header, `X-Tessera-Action`/`X-Tessera-Resource`); one alone is a 400. \
     OpenAPI cannot state a rule across parameters, so generated requests may break it.";

/// Adds JSON Schema keywords utoipa 5 does not model (`not`,
/// `dependentRequired`) to component `name`. Its extension map is
/// flattened into the schema, so it carries them as they are.
fn add_keyword(
    components: &mut utoipa::openapi::Components,
    name: &str,
    keyword: &str,
    value: serde_json::Value,
) {
    if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) {
        object
            .extensions
            .get_or_insert_with(Default::default)
            .insert(keyword.to_owned(), value);
    }
}

/// "At most one of `role`, `custom_roles` and `policy` is given and not
/// `null`", as the server's `scope_from` requires.
fn at_most_one_scope() -> serde_json::Value {
    let given = serde_json::json!({ "not": { "type": "null" } });
    let pair = |a: &str, b: &str| {
        serde_json::json!({
            "required": [a, b],
            "properties": { a: given.clone(), b: given.clone() },
        })
    };
    serde_json::json!({
        "anyOf": [
            pair("role", "custom_roles"),
            pair("role", "policy"),
            pair("custom_roles", "policy"),
        ]
    })
}

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
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["CreateTokenRequest", "UpdateTokenRequest"] {
            add_keyword(components, name, "not", at_most_one_scope());
        }
        add_keyword(
            components,
            "VerifyRequest",
            "dependentRequired",
            serde_json::json!({ "action": ["resource"], "resource": ["action"] }),
        );
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
                for param in params.iter_mut() {
                    if let Some(schema) = parameter_schema(path, &param.name) {
                        param.schema = Some(schema.into());
                    }
                    if path == "/api/v1/auth" {
                        param.description = Some(AUTH_QUESTION.to_owned());
                    }
                }
                if NO_CREDENTIAL.contains(&(path.as_str(), method)) {
                    op.security = Some(vec![SecurityRequirement::default()]);
                }
                if path.starts_with("/api/v1/platform/") {
                    op.security = Some(vec![SecurityRequirement::new(
                        "platform_key",
                        Vec::<String>::new(),
                    )]);
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

    /// `/leaks` takes and answers two shapes: the plain report and
    /// GitHub's signed array, each with its own answer, and says that an
    /// unsigned array is a 401.
    #[test]
    fn leaks_documents_both_report_shapes_and_answers() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let op = &doc["paths"]["/api/v1/leaks"]["post"];
        let schema = |name: &str| &schemas[name];
        let refs = |value: &serde_json::Value| -> Vec<String> {
            value["oneOf"]
                .as_array()
                .expect("oneOf")
                .iter()
                .map(|s| {
                    s["$ref"]
                        .as_str()
                        .or(s["items"]["$ref"].as_str())
                        .expect("a ref")
                        .to_owned()
                })
                .collect()
        };
        let body = &op["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(body, "#/components/schemas/AnyLeakReport");
        assert_eq!(
            refs(schema("AnyLeakReport")),
            [
                "#/components/schemas/LeakReport",
                "#/components/schemas/GithubLeakReport"
            ]
        );
        assert_eq!(schema("GithubLeakReport")["type"], "array");
        assert_eq!(schema("GithubLeakReport")["maxItems"], 1000);
        assert_eq!(
            schema("GithubLeak")["required"],
            serde_json::json!(["token", "type"])
        );
        let ok = &op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(ok, "#/components/schemas/LeakReportAnswer");
        assert_eq!(
            refs(schema("LeakReportAnswer")),
            [
                "#/components/schemas/LeakReportResponse",
                "#/components/schemas/GithubLeakLabel"
            ]
        );
        assert_eq!(
            schema("LeakLabel")["enum"],
            serde_json::json!(["true_positive", "false_positive"])
        );
        for status in ["400", "401", "413", "415", "429"] {
            assert!(op["responses"].get(status).is_some(), "{status}");
        }
        for name in [
            "Github-Public-Key-Identifier",
            "Github-Public-Key-Signature",
        ] {
            let param = parameter(&doc, "/api/v1/leaks", "post", name);
            assert_eq!(param["type"], "string", "{name}");
        }
        assert_eq!(op["security"], serde_json::json!([{}]));
    }

    fn document() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).expect("json")
    }

    /// The schema of parameter `name` of `method path`.
    fn parameter<'a>(
        doc: &'a serde_json::Value,
        path: &str,
        method: &str,
        name: &str,
    ) -> &'a serde_json::Value {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .map(|p| &p["schema"])
            .unwrap_or_else(|| panic!("{method} {path}: no parameter {name}"))
    }

    /// Does `value` pass `schema`'s `pattern`, `minLength`, `maxLength`
    /// (JSON Schema counts characters), `allOf` and `anyOf`?
    fn fits(schema: &serde_json::Value, value: &str) -> bool {
        let each = |key: &str| schema[key].as_array().cloned().unwrap_or_default();
        let matches = schema["pattern"].as_str().is_none_or(|pattern| {
            regex::Regex::new(pattern)
                .expect("the pattern compiles")
                .is_match(value)
        });
        let chars = value.chars().count() as u64;
        let any_of = each("anyOf");
        matches
            && schema["minLength"].as_u64().is_none_or(|min| chars >= min)
            && schema["maxLength"].as_u64().is_none_or(|max| chars <= max)
            && each("allOf").iter().all(|s| fits(s, value))
            && (any_of.is_empty() || any_of.iter().any(|s| fits(s, value)))
    }

    /// For every sample the document allows, the server agrees: what
    /// `positive_data_acceptance` needs where JSON Schema cannot be exact
    /// (limits in bytes).
    #[track_caller]
    fn allowed_is_accepted(
        schema: &serde_json::Value,
        samples: &[&str],
        server: impl Fn(&str) -> bool,
    ) {
        for sample in samples {
            if fits(schema, sample) {
                assert!(server(sample), "{sample:?} against {schema}");
            }
        }
    }

    /// For every sample, the document and the server's own check agree.
    #[track_caller]
    fn agree(schema: &serde_json::Value, samples: &[&str], server: impl Fn(&str) -> bool) {
        for sample in samples {
            assert_eq!(
                fits(schema, sample),
                server(sample),
                "{sample:?} against {schema}"
            );
        }
    }

    /// What schemathesis' `positive_data_acceptance` found: a request the
    /// document allowed and the server refused. The document now states
    /// the server's rules.
    #[test]
    fn the_document_states_the_servers_rules() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["BuiltinRole"]["enum"],
            serde_json::json!(["reader", "writer", "admin", "owner"])
        );
        for (schema, field) in [("CreateMemberRequest", "role"), ("MemberResponse", "role")] {
            assert_eq!(
                schemas[schema]["properties"][field]["$ref"], "#/components/schemas/BuiltinRole",
                "{schema}.{field}"
            );
        }
        let lifetime = &schemas["TokenPolicyPatch"]["properties"]["max_lifetime_days"];
        assert_eq!(
            (&lifetime["minimum"], &lifetime["maximum"]),
            (&1.into(), &3650.into())
        );
        assert_eq!(lifetime["type"], serde_json::json!(["integer", "null"]));
        let statement = &schemas["Statement"]["allOf"];
        assert_eq!(statement[0]["required"], serde_json::json!(["effect"]));
        assert_eq!(
            statement[0]["properties"]["effect"]["enum"],
            serde_json::json!(["allow", "deny"])
        );
        assert_eq!(
            statement[1]["oneOf"][1]["required"],
            serde_json::json!(["notActions"])
        );
        assert_eq!(schemas["Policy"]["minItems"], 1);
        assert_eq!(
            schemas["CreateRoleRequest"]["properties"]["policy"]["$ref"],
            "#/components/schemas/Policy"
        );
        assert_eq!(
            schemas["VerifyRequest"]["dependentRequired"],
            serde_json::json!({ "action": ["resource"], "resource": ["action"] })
        );
        assert_eq!(
            schemas["CreateTokenRequest"]["not"]["anyOf"][1]["required"],
            serde_json::json!(["role", "policy"])
        );
        for (path, method, name) in [
            ("/api/v1/members/{id}", "get", "id"),
            ("/api/v1/members/{id}/tokens", "get", "id"),
            ("/api/v1/tokens/{id}", "patch", "id"),
            ("/api/v1/tokens/{id}/clone", "post", "id"),
            ("/api/v1/roles/{key}", "put", "key"),
            ("/api/v1/projects/{key}", "delete", "key"),
            ("/api/v1/audit", "get", "before"),
            ("/api/v1/audit", "get", "actor"),
            ("/api/v1/auth", "get", "resource"),
        ] {
            let schema = parameter(&doc, path, method, name);
            assert!(schema["pattern"].is_string(), "{method} {path} {name}");
        }
    }

    #[test]
    fn the_documents_ids_and_keys_agree_with_the_server() {
        use tessera_core::ids::{is_ksuid, new_ksuid, validate_key, KSUID_MAX};
        let doc = document();
        let member_id = parameter(&doc, "/api/v1/members/{id}", "get", "id");
        let fresh = new_ksuid(crate::clock::wall_clock());
        let mut samples: Vec<String> = vec![
            fresh,
            KSUID_MAX.into(),
            "0".repeat(27),
            "z".repeat(27),
            "0".repeat(26),
            "0".repeat(28),
            format!("{}-", "0".repeat(26)),
        ];
        // Each character of the largest KSUID one step up (too large) and
        // one step down (fine): every branch of the spelt-out comparison.
        const BASE62: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for (i, c) in KSUID_MAX.char_indices() {
            let at = BASE62.find(c).expect("base62");
            for other in [at.checked_sub(1), Some(at + 1)].into_iter().flatten() {
                if let Some(replacement) = BASE62.get(other..=other) {
                    let mut s = KSUID_MAX.to_owned();
                    s.replace_range(i..=i, replacement);
                    samples.push(s);
                }
            }
        }
        let samples: Vec<&str> = samples.iter().map(String::as_str).collect();
        agree(member_id, &samples, is_ksuid);
        let token_id = parameter(&doc, "/api/v1/tokens/{id}", "get", "id");
        let mut with_self = samples.clone();
        with_self.extend(["self", "Self", "selfself", ""]);
        agree(token_id, &with_self, |s| s == "self" || is_ksuid(s));
        agree(
            parameter(&doc, "/api/v1/audit", "get", "actor"),
            &samples,
            is_ksuid,
        );

        let key = &doc["components"]["schemas"]["Key"];
        let long = "a".repeat(64);
        let too_long = "a".repeat(65);
        let keys = [
            "a", "0", "web", "a.b_c-d", "9-x", "", "A", "-a", ".a", "a b", "aB", "é", "a/b", &long,
            &too_long,
        ];
        agree(key, &keys, |s| validate_key("key", s).is_ok());
        agree(
            parameter(&doc, "/api/v1/roles/{key}", "get", "key"),
            &keys,
            |s| validate_key("key", s).is_ok(),
        );

        let cursor = crate::state::AuditIds::default().next();
        agree(
            parameter(&doc, "/api/v1/audit", "get", "before"),
            &[
                &cursor,
                &cursor.to_uppercase(),
                &cursor[1..],
                "g".repeat(24).as_str(),
                "",
            ],
            crate::state::AuditIds::is_valid,
        );
    }

    #[test]
    fn the_documents_names_and_emails_agree_with_the_server() {
        use tessera_core::lifecycle::{normalize_email, validate_name};
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let hundred = "é".repeat(100);
        let too_long = "x".repeat(101);
        agree(
            &schemas["Name"],
            &[
                "x",
                " x ",
                "Ünïcødé",
                "a b",
                "\u{3000}x",
                &hundred,
                "",
                " ",
                "\u{3000}",
                "\u{a0}\u{2003}",
                "a\tb",
                "a\nb",
                "a\u{7f}",
                "a\u{85}",
                &too_long,
            ],
            |s| validate_name("name", s).is_ok(),
        );
        agree(
            &schemas["Email"],
            &[
                "a@b",
                "a.b+c@d.example",
                "josé@exämple.de",
                "a@b@c",
                "@b",
                "a@",
                "ab",
                "a b@c",
                "a@b\u{a0}c",
                "a\u{1}@b",
                "",
            ],
            |s| normalize_email(s).is_ok(),
        );
        // 254 bytes: all of them when ASCII, 63 characters otherwise.
        let ascii = format!("{}@b.c", "a".repeat(250));
        let ascii_too_long = format!("{}@b.c", "a".repeat(251));
        let wide = format!("{}@b", "é".repeat(61));
        let wider = format!("{}@b", "é".repeat(62));
        let widest = format!("{}@b", "😍".repeat(70));
        assert!(fits(&schemas["Email"], &ascii) && fits(&schemas["Email"], &wide));
        assert!(!fits(&schemas["Email"], &wider) && !fits(&schemas["Email"], &ascii_too_long));
        allowed_is_accepted(
            &schemas["Email"],
            &[&ascii, &ascii_too_long, &wide, &wider, &widest],
            |s| normalize_email(s).is_ok(),
        );
    }

    #[test]
    fn the_documents_policy_and_questions_agree_with_the_server() {
        use tessera_core::{Policy, Statement};
        let doc = document();
        let statement = &doc["components"]["schemas"]["Statement"]["allOf"][0]["properties"];
        let action = &statement["actions"]["items"];
        let resource = &statement["resources"]["items"];
        let long = format!("a:{}", "b".repeat(254));
        let too_long = format!("a:{}", "b".repeat(255));
        agree(
            action,
            &[
                "*",
                "token:create",
                "token:*",
                "*:read",
                ":",
                "a:b:c",
                "",
                "token",
                "to*ken",
                "token: create",
                "token:\u{3000}",
                "token:\u{1}",
                &long,
                &too_long,
            ],
            |a| {
                Policy(vec![Statement::allow(&[a], &["*"])])
                    .validate()
                    .is_ok()
            },
        );
        agree(
            resource,
            &[
                "*",
                "proj/web",
                "proj/web:env/prod",
                "proj/web:*",
                "proj/*",
                "*/x",
                "proj/a/b",
                "proj/web:env/prod:*",
                "proj",
                "proj/",
                "/web",
                "proj/web:",
                ":proj/web",
                "proj/web:*:env/x",
                "*:*",
                "*:proj/web",
                "pr oj/web",
                "proj/w\u{3000}",
                "",
            ],
            |r| {
                Policy(vec![Statement::allow(&["*"], &[r])])
                    .validate()
                    .is_ok()
            },
        );
        // 256 bytes: what schemathesis found with three-byte characters.
        let wide = format!("a/{}", "ĳ".repeat(62));
        let wider = format!("a/{}", "€".repeat(100));
        let ascii = format!("a/{}", "b".repeat(254));
        assert!(fits(resource, &wide) && fits(resource, &ascii) && !fits(resource, &wider));
        allowed_is_accepted(resource, &[&wide, &wider, &ascii], |r| {
            Policy(vec![Statement::allow(&["*"], &[r])])
                .validate()
                .is_ok()
        });

        let question = |action: Option<&str>, resource: Option<&str>| {
            crate::verify::check_question(action, resource).is_ok()
        };
        let schemas = &doc["components"]["schemas"];
        agree(
            &schemas["CheckAction"],
            &[
                "token:read",
                ":",
                "a b:c",
                "*:*",
                "",
                "token",
                "token/read",
                &"€:".repeat(128),
            ],
            |a| question(Some(a), Some("proj/web")),
        );
        agree(
            &schemas["CheckResource"],
            &[
                "proj/web",
                "proj/web:env/prod",
                "proj/a b",
                "p/*",
                "*",
                "proj",
                "proj/web:*",
                "proj/web:",
                "/web",
                "",
            ],
            |r| question(Some("token:read"), Some(r)),
        );
        for name in ["action", "resource"] {
            let schema = parameter(&doc, "/api/v1/auth", "get", name);
            assert_eq!(
                schema["pattern"],
                schemas[if name == "action" {
                    "CheckAction"
                } else {
                    "CheckResource"
                }]["pattern"]
            );
        }
    }
}
