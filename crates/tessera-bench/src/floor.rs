//! `floor`: the HTTP floor of the machine.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::Router;
use tokio::net::TcpListener;

/// The HTTP floor: the same axum and tokio as `tessera serve`, no work.
pub async fn floor(listen: SocketAddr) -> Result<(), String> {
    let app = Router::new().fallback(|| async { StatusCode::OK });
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    eprintln!("floor listening on http://{listen}");
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("floor server: {e}"))
}
