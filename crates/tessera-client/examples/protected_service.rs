//! A small axum service protected by Tessera tokens with [`TesseraLayer`]:
//! each route names the permission it needs, and handlers read the
//! caller's identity from the request.
//!
//! ```sh
//! export TESSERA_URL=http://127.0.0.1:8080   # a running `tessera serve`
//! cargo run -p tessera-client --example protected_service
//! curl -s localhost:3000/flags -H "Authorization: Bearer $TOKEN"
//! ```
//!
//! Routes:
//! - `GET /healthz`: open;
//! - `GET /whoami`: any valid token of the deployment;
//! - `GET /flags`: needs `flag:read` on `proj/web`;
//! - `PUT /flags/{key}`: needs `flag:update` on `proj/web:flag/{key}`, the
//!   resource taken from the path, so a token can be allowed some flags
//!   and not others.

use axum::http::request::Parts;
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use tessera_client::api::VerifiedToken;
use tessera_client::{Client, TesseraLayer};

/// The service. `tessera` only needs the server's URL: verification sends
/// no credential of the service's own.
fn app(tessera: Client) -> Router {
    let authenticated = TesseraLayer::new(tessera);
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // TESSERA_URL names the Tessera server (default http://127.0.0.1:8080).
    let tessera = Client::from_env()?;
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!(
        "protected service on http://{listen}, verifying tokens with {}",
        tessera.base_url()
    );
    axum::serve(listener, app(tessera)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The example against a real Tessera server (in-process, SQLite).

    use super::*;
    use tessera_client::api::{BuiltinRole, CreateTokenRequest};

    async fn start_tessera() -> (tessera_server::RunningServer, String, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = tessera_server::Config {
            database_url: format!("sqlite://{}", dir.path().join("t.db").display()),
            ..Default::default()
        };
        let state = tessera_server::open(config).await.expect("open");
        let created = tessera_server::setup::create_org(&state, "acme", "o@acme.test", None)
            .await
            .expect("org");
        let owner = tessera_server::setup::create_owner_token(&state, &created, "owner")
            .await
            .expect("owner token");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = tessera_server::start(state, listener, std::future::pending()).expect("start");
        (server, owner, dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn routes_require_their_permissions_and_see_the_caller() {
        let (server, owner, _dir) = start_tessera().await;
        let tessera_url = format!("http://{}", server.addr);
        let as_owner = Client::new(&tessera_url, Some(owner.clone())).expect("client");
        let reader = as_owner
            .create_token(&CreateTokenRequest {
                name: "reader".into(),
                role: Some(BuiltinRole::Reader),
                ..Default::default()
            })
            .await
            .expect("reader token");
        let me = as_owner.me().await.expect("me");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let service = app(Client::new(&tessera_url, None).expect("client"));
        tokio::spawn(async move { axum::serve(listener, service).await });

        let http = reqwest::Client::new();
        let send = |method: reqwest::Method, path: &str, token: Option<&str>| {
            let mut request = http.request(method, format!("{base}{path}"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            async move {
                let response = request.send().await.expect("send");
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (status, body)
            }
        };
        use reqwest::Method as M;

        // The handler sees who called.
        let (status, body) = send(M::GET, "/whoami", Some(&owner)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["member"], me.member.id.as_str());
        assert_eq!(body["org"], "acme");

        // Per-route permissions: a reader token reads but cannot update.
        let (status, body) = send(M::GET, "/flags", Some(&reader.token)).await;
        assert_eq!((status, &body["read_by"]), (200, &json!(me.member.id)));
        let (status, body) = send(M::PUT, "/flags/checkout", Some(&reader.token)).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("flag:update on proj/web:flag/checkout")),
            "{body}"
        );
        let (status, body) = send(M::PUT, "/flags/checkout", Some(&owner)).await;
        assert_eq!((status, &body["updated"]), (200, &json!("checkout")));

        // A path that makes no valid resource: 400, not an outage.
        let (status, body) = send(M::PUT, "/flags/a:b", Some(&owner)).await;
        assert_eq!(status, 400, "{body}");

        // No token, a bad token, a revoked token: 401. Open route: open.
        assert_eq!(send(M::GET, "/flags", None).await.0, 401);
        assert_eq!(send(M::GET, "/flags", Some("tsr_nope")).await.0, 401);
        as_owner
            .delete_token(&reader.metadata.id)
            .await
            .expect("revoke");
        let (status, body) = send(M::GET, "/flags", Some(&reader.token)).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (401, &json!("invalid_token"))
        );
        assert_eq!(send(M::GET, "/healthz", None).await.0, 200);

        // Tessera gone: the layer fails closed.
        server.shutdown().await;
        let (status, body) = send(M::GET, "/flags", Some(&owner)).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (503, &json!("unavailable"))
        );
    }
}
