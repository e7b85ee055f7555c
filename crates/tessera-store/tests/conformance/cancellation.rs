//! A write whose caller goes away midway (a client that hung up, a
//! timeout) must not leave its connection inside a transaction: the
//! store's next writes would wait for, or fail on, that transaction.

use std::future::{poll_fn, Future};
use std::task::Poll;
use std::time::Duration;

use crate::fixtures::*;
use tessera_store::Store;

pub async fn writes_cancelled_midway_leave_no_transaction_open(store: &dyn Store) {
    let (fx, _org, owner) = Fx::with_org(store, "acme").await;
    // Each write is polled a few times, the database given a moment to
    // answer after each poll (so that each stops at another step: the
    // `BEGIN` sent, answered, …), then dropped unfinished, as a server
    // drops a request whose client hung up.
    for i in 0..40 {
        let token = token_record(&owner, &format!("t{i}"), T0);
        let event = fx.event(&owner.org_id, "token:create", "token");
        let mut create = std::pin::pin!(store.create_token(&token, &event));
        let mut done = false;
        for _ in 0..i % 8 {
            if done {
                break;
            }
            poll_fn(|cx| {
                done = create.as_mut().poll(cx).is_ready();
                Poll::Ready(())
            })
            .await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    // Every connection is usable again: each of these writes opens a
    // transaction, and none waits for one left open.
    for i in 0..20 {
        let token = token_record(&owner, &format!("after{i}"), T0);
        let event = fx.event(&owner.org_id, "token:create", "token");
        tokio::time::timeout(Duration::from_secs(3), store.create_token(&token, &event))
            .await
            .unwrap_or_else(|_| panic!("write {i} waited for a transaction left open"))
            .unwrap_or_else(|e| panic!("write {i}: {e}"));
    }
}
