//! A real Tessera server's state with one org, for the tests that run the
//! client against it: `embedded.rs` and the `protected_service` example's
//! (which includes this file by path).

use tempfile::TempDir;
use tessera_server::setup::{self, Created};
use tessera_server::AppState;

/// The org `acme` in a fresh SQLite database: the state, what setup
/// created, the owner's token, and the directory holding the database
/// (keep it as long as the state).
pub async fn acme() -> (AppState, Created, String, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = tessera_server::Config::with_database_url(format!(
        "sqlite://{}",
        dir.path().join("t.db").display()
    ));
    let state = tessera_server::open(config).await.expect("open");
    let created = setup::create_org(&state, "acme", "o@acme.test", None)
        .await
        .expect("org");
    let owner = setup::create_owner_token(&state, &created, "owner")
        .await
        .expect("owner token");
    (state, created, owner, dir)
}
