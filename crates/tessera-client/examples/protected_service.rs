//! A small axum service protected by Tessera tokens with [`TesseraLayer`]:
//! each route names the permission it needs, and handlers read the
//! caller's identity from the request.
//!
//! Two ways to verify, one set of routes:
//!
//! - **remote** (the default): asks the Tessera server at `TESSERA_URL`
//!   (`POST /verify`) and remembers each positive answer for
//!   [`REMOTE_CACHE`], so a busy route costs one round trip per token every
//!   few seconds. The price: a revoked token keeps working here for up to
//!   that long. Refusals are never cached.
//!
//!   ```sh
//!   export TESSERA_URL=http://127.0.0.1:8080   # a running `tessera serve`
//!   cargo run -p tessera-client --example protected_service
//!   ```
//!
//! - **embedded** (`--embedded`): the service embeds Tessera. It opens
//!   Tessera's database itself (`TESSERA_DATABASE_URL` and the other
//!   `TESSERA_*` settings of `tessera serve`) and verifies in process with
//!   the same engine `tessera serve` runs, so a revocation is refused on the
//!   next request and nothing crosses the network. It also serves Tessera's
//!   own API and web page on `TESSERA_LISTEN`, to create and revoke tokens.
//!
//!   ```sh
//!   export TESSERA_DATABASE_URL=sqlite://tessera.db
//!   tessera init --org acme --email you@acme.test --print-token   # once
//!   cargo run -p tessera-client --example protected_service -- --embedded
//!   ```
//!
//! Then `curl -s localhost:3000/flags -H "Authorization: Bearer $TOKEN"`.
//!
//! Routes:
//! - `GET /healthz`: open;
//! - `GET /whoami`: any valid token of the deployment;
//! - `GET /flags`: needs `flag:read` on `proj/web`;
//! - `PUT /flags/{key}`: needs `flag:update` on `proj/web:flag/{key}`, the
//!   resource taken from the path, so a token can be allowed some flags
//!   and not others.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::request::Parts;
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use tessera_client::api::VerifiedToken;
use tessera_client::{Client, TesseraLayer};
use tessera_server::embedded::EmbeddedVerifier;
use tessera_server::AppState;

/// How long the remote mode trusts a positive answer: short, because a
/// revoked token keeps working here for up to this long.
const REMOTE_CACHE: Duration = Duration::from_secs(5);

/// Verifies with a Tessera server over HTTP. `tessera` only needs the
/// server's URL: verification sends no credential of the service's own.
fn remote_layer(tessera: Client) -> TesseraLayer {
    TesseraLayer::new(tessera).cache_for(REMOTE_CACHE)
}

/// Verifies in process, from the engine and store in `state`.
fn embedded_layer(state: AppState) -> TesseraLayer {
    TesseraLayer::with_verifier(EmbeddedVerifier::new(state))
}

/// The service, protected by `authenticated` (which only authenticates)
/// and per-route permissions derived from it.
fn app(authenticated: TesseraLayer) -> Router {
    let read_flags = authenticated.clone().require("flag:read", "proj/web");
    let update_flag = authenticated.clone().require_with(flag_from_path);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/whoami", get(whoami).layer(authenticated))
        .route("/flags", get(list_flags).layer(read_flags))
        .route("/flags/{key}", put(update_flag_handler).layer(update_flag))
}

/// `PUT /flags/checkout` needs `flag:update` on `proj/web:flag/checkout`.
fn flag_from_path(parts: &Parts) -> Option<(String, String)> {
    let key = parts.uri.path().trim_start_matches("/flags/");
    Some(("flag:update".into(), format!("proj/web:flag/{key}")))
}

/// The layer put the verified identity in the request's extensions.
async fn whoami(Extension(token): Extension<VerifiedToken>) -> Json<Value> {
    Json(json!({
        "member": token.member,
        "org": token.org,
        "token": { "id": token.id, "name": token.name },
    }))
}

async fn list_flags(Extension(token): Extension<VerifiedToken>) -> Json<Value> {
    Json(json!({ "flags": ["checkout", "search"], "read_by": token.member }))
}

async fn update_flag_handler(
    Extension(token): Extension<VerifiedToken>,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> Json<Value> {
    Json(json!({ "updated": key, "by": token.member }))
}

/// Opens Tessera's database as `tessera serve` would (the `TESSERA_*`
/// variables) and serves Tessera's API beside the service.
async fn embed_tessera() -> Result<tessera_server::RunningServer, Box<dyn std::error::Error>> {
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(name, _)| name.starts_with("TESSERA_"))
        .collect();
    let (config, warnings) = tessera_server::Config::load(None, &env)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let listen = config.http.listen;
    let state = tessera_server::open(config).await?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    Ok(tessera_server::start(
        state,
        listener,
        std::future::pending(),
    )?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let embedded = std::env::args().skip(1).any(|arg| arg == "--embedded");
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    if embedded {
        let tessera = embed_tessera().await?;
        eprintln!(
            "protected service on http://{listen}, verifying tokens in process; \
             Tessera's API on http://{}",
            tessera.addr
        );
        axum::serve(listener, app(embedded_layer(tessera.state.clone()))).await?;
        tessera.shutdown().await;
    } else {
        // TESSERA_URL names the Tessera server (default http://127.0.0.1:8080).
        let tessera = Client::from_env()?;
        eprintln!(
            "protected service on http://{listen}, verifying tokens with {}",
            tessera.base_url()
        );
        axum::serve(listener, app(remote_layer(tessera))).await?;
    }
    Ok(())
}

// The test's Tessera server: the setup `tests/embedded.rs` uses too.
#[cfg(test)]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(test)]
mod tests {
    //! The example against a real Tessera server (in-process, SQLite), in
    //! both modes.

    use super::*;
    use reqwest::Method as M;
    use tessera_client::api::{BuiltinRole, CreateTokenRequest, ErrorBody, ErrorCode, ErrorDetail};

    async fn start_tessera() -> (tessera_server::RunningServer, String, tempfile::TempDir) {
        let (state, _, owner, dir) = super::support::acme().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = tessera_server::start(state, listener, std::future::pending()).expect("start");
        (server, owner, dir)
    }

    /// The example service, running on a free port.
    struct Service {
        http: reqwest::Client,
        base: String,
    }

    impl Service {
        async fn start(layer: TesseraLayer) -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let base = format!("http://{}", listener.local_addr().expect("addr"));
            tokio::spawn(async move { axum::serve(listener, app(layer)).await });
            Self {
                http: reqwest::Client::new(),
                base,
            }
        }

        async fn send(&self, method: M, path: &str, token: Option<&str>) -> (u16, Value) {
            let mut request = self.http.request(method, format!("{}{path}", self.base));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("send");
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body)
        }

        /// The status of a refused request and the error in its answer.
        async fn error(&self, method: M, path: &str, token: Option<&str>) -> (u16, ErrorDetail) {
            let (status, body) = self.send(method, path, token).await;
            let body: ErrorBody = serde_json::from_value(body).expect("an error answer");
            (status, body.error)
        }

        async fn error_code(&self, method: M, path: &str, token: Option<&str>) -> (u16, ErrorCode) {
            let (status, error) = self.error(method, path, token).await;
            (status, error.code)
        }
    }

    /// A reader token of the owner's: (id, value, the owner's member id).
    async fn reader_token(as_owner: &Client) -> (String, String, String) {
        let reader = as_owner
            .create_token(&CreateTokenRequest {
                name: "reader".into(),
                role: Some(BuiltinRole::Reader),
                ..Default::default()
            })
            .await
            .expect("reader token");
        let me = as_owner.me().await.expect("me");
        let member = me.member.expect("a member's token");
        (reader.metadata.id, reader.token, member.id)
    }

    /// What both modes do alike. The owner token is never sent to
    /// `GET /flags` here, so that question is still unasked afterwards.
    async fn check_routes(service: &Service, owner: &str, reader: &str, member: &str) {
        // The handler sees who called.
        let (status, body) = service.send(M::GET, "/whoami", Some(owner)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["member"], member);
        assert_eq!(body["org"], "acme");

        // Per-route permissions: a reader token reads but cannot update.
        let (status, body) = service.send(M::GET, "/flags", Some(reader)).await;
        assert_eq!((status, &body["read_by"]), (200, &json!(member)));
        let (status, error) = service.error(M::PUT, "/flags/checkout", Some(reader)).await;
        assert_eq!(
            (status, error.code),
            (403, ErrorCode::Forbidden),
            "{error:?}"
        );
        assert!(
            error
                .message
                .contains("flag:update on proj/web:flag/checkout"),
            "{error:?}"
        );
        let (status, body) = service.send(M::PUT, "/flags/checkout", Some(owner)).await;
        assert_eq!((status, &body["updated"]), (200, &json!("checkout")));

        // A path that makes no valid resource: 400, not an outage.
        let (status, body) = service.send(M::PUT, "/flags/a:b", Some(owner)).await;
        assert_eq!(status, 400, "{body}");

        // No token, a malformed one, an unknown one: 401. Open route: open.
        assert_eq!(
            service.error_code(M::GET, "/flags", None).await,
            (401, ErrorCode::Unauthenticated)
        );
        for bad in ["tsr_nope", "not a token at all"] {
            assert_eq!(
                service.error_code(M::GET, "/flags", Some(bad)).await,
                (401, ErrorCode::InvalidToken)
            );
        }
        assert_eq!(service.send(M::GET, "/healthz", None).await.0, 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn remote_mode_checks_permissions_and_caches_briefly() {
        let (server, owner, _dir) = start_tessera().await;
        let tessera_url = format!("http://{}", server.addr);
        let as_owner = Client::new(&tessera_url, Some(owner.clone())).expect("client");
        let (reader_id, reader, member) = reader_token(&as_owner).await;
        let service = Service::start(remote_layer(
            Client::new(&tessera_url, None).expect("client"),
        ))
        .await;
        check_routes(&service, &owner, &reader, &member).await;

        // Revoked: a question the short cache already answered keeps its
        // answer for up to REMOTE_CACHE; any other is refused at once.
        as_owner.delete_token(&reader_id).await.expect("revoke");
        let (status, _) = service.send(M::GET, "/flags", Some(&reader)).await;
        assert_eq!(status, 200, "answered from the cache");
        assert_eq!(
            service.error_code(M::GET, "/whoami", Some(&reader)).await,
            (401, ErrorCode::InvalidToken)
        );

        // Tessera gone: the layer fails closed for anything not cached.
        server.shutdown().await;
        assert_eq!(
            service.error_code(M::GET, "/flags", Some(&owner)).await,
            (503, ErrorCode::Unavailable)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded_mode_verifies_in_process() {
        let (server, owner, _dir) = start_tessera().await;
        let as_owner =
            Client::new(format!("http://{}", server.addr), Some(owner.clone())).expect("client");
        let (reader_id, reader, member) = reader_token(&as_owner).await;
        let service = Service::start(embedded_layer(server.state.clone())).await;
        check_routes(&service, &owner, &reader, &member).await;

        // The same engine: a revocation is refused on the next request,
        // even for a question answered a moment ago.
        as_owner.delete_token(&reader_id).await.expect("revoke");
        assert_eq!(
            service.error_code(M::GET, "/flags", Some(&reader)).await,
            (401, ErrorCode::InvalidToken)
        );

        // No HTTP is involved: with Tessera's listener gone, the service
        // still verifies.
        server.shutdown().await;
        let (status, _) = service.send(M::GET, "/flags", Some(&owner)).await;
        assert_eq!(status, 200);
    }
}
