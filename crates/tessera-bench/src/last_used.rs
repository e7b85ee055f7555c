//! `last-used`: times one last-used flush on its own.

use std::time::Instant;

use tessera_core::TokenFormat;
use tessera_store::LastUsed;

use crate::{read_tokens, wall_clock};

/// Times `Store::record_last_used` for `count` tokens, as the flush calls it.
pub async fn last_used(
    database_url: &str,
    tokens: &std::path::Path,
    count: usize,
) -> Result<(), String> {
    let store = tessera_store::connect(database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let format = TokenFormat::default();
    let now = wall_clock();
    let batch: Vec<LastUsed> = read_tokens(tokens)?
        .iter()
        .take(count)
        .filter_map(|t| format.parse(t).ok().map(|p| p.id()))
        .map(|token| LastUsed {
            token,
            at: now,
            ip: Some("127.0.0.1".into()),
        })
        .collect();
    let started = Instant::now();
    store
        .record_last_used(&batch)
        .await
        .map_err(|e| format!("record_last_used: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "record_last_used of {} tokens: {:.0} ms ({:.1} us per token)",
        batch.len(),
        secs * 1000.0,
        secs * 1e6 / batch.len().max(1) as f64
    );
    Ok(())
}
