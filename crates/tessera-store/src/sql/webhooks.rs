//! Webhook endpoints, the outbox of events and their deliveries.
//!
//! [`enqueue`] runs inside every mutating call's transaction (from
//! `SqlStore::commit`, beside the audit event): when the audited change
//! maps to a webhook event and at least one of the org's endpoints is
//! subscribed to its type, it writes one pending delivery of the event per
//! such endpoint, each carrying the event. A change and its deliveries
//! therefore exist together or not at all; an org without endpoints pays
//! one indexed read.
//!
//! Workers claim due deliveries with a lease, as [`super::outbox`] does for
//! every outbox: one node at a time per delivery, at least once.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use time::OffsetDateTime;

use serde_json::Value;
use tessera_api::{MemberResponse, ServiceAccountResponse, TokenResponse};
use tessera_core::ids::new_ordered_ksuid;
use tessera_core::model::{AuditEvent, Token};
use tessera_core::resource::Resource;
use tessera_core::webhook::{event_for, target_ids, with_subject, Webhook};
use tessera_core::{OrgId, WebhookId};

use super::dialect::Dialect;
use super::outbox::Outbox;
use super::rows::{corrupt, get, json, opt_time, text, time, to_json};
use super::{all, db, insert_error, optional, secs, Run, SqlStore, Statement};
use crate::{
    AttemptOutcome, ClaimedDelivery, Delivery, DeliveryQueue, DeliveryStatus, Result, Unique,
    WebhookStore,
};

const WEBHOOK_COLUMNS: &str = "id, org_id, url, events, description, secret, created_at";

/// What the caller of [`enqueue`] already knows of the event's subject.
pub(super) enum Known<'a> {
    /// Nothing: it is read inside the transaction, as the change left it.
    Nothing,
    /// Its metadata as the API shows it (read before a deletion).
    Shown(Value),
    /// The token the change just wrote, as written.
    Token(&'a Token),
}

impl From<Option<Value>> for Known<'_> {
    /// What a deletion read before it (`None`: nothing).
    fn from(gone: Option<Value>) -> Self {
        gone.map_or(Known::Nothing, Known::Shown)
    }
}

impl Known<'_> {
    pub(super) fn shown(&self) -> Option<&Value> {
        match self {
            Known::Shown(value) => Some(value),
            _ => None,
        }
    }
}

/// Adds to `writes` the writing of the webhook event `audit` reports, if
/// any endpoint wants it (`writes` is then sent in one round trip, see
/// [`Statement::then`]). Its `data` holds the subject's metadata as the API
/// shows it: from `known`, else read here. Nothing is read or serialised
/// for an org without a subscribed endpoint.
pub(super) async fn enqueue(
    conn: &mut AnyConnection,
    dialect: &Dialect,
    audit: &AuditEvent,
    known: Known<'_>,
    writes: &mut Statement<'_>,
) -> Result<()> {
    let Some((ty, part)) = event_for(audit) else {
        return Ok(());
    };
    let wanting = subscribed(conn, &audit.org_id, ty).await?;
    if wanting.is_empty() {
        return Ok(());
    }
    let subject = match known {
        Known::Shown(subject) => Some(subject),
        Known::Token(token) => Some(to_value(TokenResponse::from(token))),
        Known::Nothing => subject_of(conn, dialect, audit).await?,
    };
    let data = with_subject(part, subject);
    writes.then(dialect);
    write_into(writes, &wanting, ty, audit.at, data.to_string())?;
    Ok(())
}

/// The metadata, as the API shows it, of what `audit` is about (its
/// target's token, else service account, else member), if it exists.
pub(super) async fn subject_of(
    conn: &mut AnyConnection,
    dialect: &Dialect,
    audit: &AuditEvent,
) -> Result<Option<Value>> {
    let ids = target_ids(&audit.target);
    let id_of = |key: &str| ids.iter().find(|(k, _)| *k == key).map(|(_, id)| *id);
    let org = audit.org_id.as_str();
    let shown = if let Some(id) = id_of("token_id") {
        let sql = format!(
            "{} WHERE t.org_id = $1 AND t.id = $2",
            super::tokens::token_select(dialect)
        );
        let query = sqlx::query(&sql).bind(org).bind(id);
        optional(query, &mut *conn, super::tokens::from_row)
            .await?
            .map(|t| to_value(TokenResponse::from(&t)))
    } else if let Some(id) = id_of("service_account_id") {
        let sql = format!(
            "{} WHERE a.org_id = $1 AND a.id = $2",
            super::service_accounts::account_select(dialect)
        );
        let query = sqlx::query(&sql).bind(org).bind(id);
        optional(query, &mut *conn, super::service_accounts::from_row)
            .await?
            .map(|a| to_value(ServiceAccountResponse::from(&a)))
    } else if let Some(id) = id_of("member_id") {
        let sql = format!(
            "{} WHERE m.org_id = $1 AND m.id = $2",
            super::members::member_select(dialect)
        );
        let query = sqlx::query(&sql).bind(org).bind(id);
        optional(query, &mut *conn, super::members::from_row)
            .await?
            .map(|m| to_value(MemberResponse::from(&m)))
    } else {
        None
    };
    Ok(shown)
}

/// A wire type as JSON; these serialise infallibly (no maps with
/// non-string keys), `Null` otherwise.
fn to_value(shown: impl serde::Serialize) -> Value {
    serde_json::to_value(shown).unwrap_or(Value::Null)
}

/// Writes `token.revoked` (with `reason`) for each of `tokens`, which a
/// deletion about to happen in this transaction takes along (an owner's
/// removal, an org's deletion). Call before the deletion.
pub(super) async fn enqueue_revoked(
    conn: &mut AnyConnection,
    audit: &AuditEvent,
    tokens: &[Token],
    reason: &str,
) -> Result<()> {
    let wanting = subscribed(conn, &audit.org_id, "token.revoked").await?;
    if wanting.is_empty() {
        return Ok(());
    }
    for token in tokens {
        let revoked = AuditEvent {
            action: "token:delete".to_owned(),
            target: format!("{}:token/{}", token.owner.resource(), token.id),
            details: serde_json::json!({ "reason": reason }),
            ..audit.clone()
        };
        if let Some((ty, part)) = event_for(&revoked) {
            let data = with_subject(part, Some(to_value(TokenResponse::from(token))));
            write(conn, &wanting, ty, audit.at, data.to_string()).await?;
        }
    }
    Ok(())
}

/// Writes an event no audited change reports (`token.expiring`,
/// `token.expired`), with its `data`, if any endpoint wants it.
pub(super) async fn enqueue_notice(
    conn: &mut AnyConnection,
    org: &OrgId,
    ty: &str,
    at: OffsetDateTime,
    data: &Value,
) -> Result<()> {
    let wanting = subscribed(conn, org, ty).await?;
    write(conn, &wanting, ty, at, data.to_string()).await?;
    Ok(())
}

/// The org's endpoints subscribed to `ty`.
async fn subscribed(conn: &mut AnyConnection, org: &OrgId, ty: &str) -> Result<Vec<Webhook>> {
    let hooks = all(
        sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = $1 ORDER BY id"
        ))
        .bind(org.as_str()),
        &mut *conn,
        from_row,
    )
    .await?;
    Ok(hooks.into_iter().filter(|w| w.wants(ty)).collect())
}

/// Writes one event, as a delivery of it to each of `hooks` (none:
/// nothing), by one statement. The deliveries' ids, in the order of
/// `hooks`.
async fn write(
    conn: &mut AnyConnection,
    hooks: &[Webhook],
    ty: &str,
    at: OffsetDateTime,
    data: String,
) -> Result<Vec<String>> {
    let mut st = Statement::new("");
    let ids = write_into(&mut st, hooks, ty, at, data)?;
    st.execute(conn).await?;
    Ok(ids)
}

/// Pushes onto `st` the `INSERT` of one event as a delivery of it to each
/// of `hooks` (none: nothing). Inside the change's transaction, which
/// holds SQLite's one write lock, every round trip is one that other
/// writers wait for. Each delivery carries the event (its id, type, time
/// and data), so the event costs the outbox no row of its own; and the
/// ids are ordered, so each commit writes at the tables' right edge. The
/// deliveries' ids, in the order of `hooks`.
fn write_into(
    st: &mut Statement<'_>,
    hooks: &[Webhook],
    ty: &str,
    at: OffsetDateTime,
    data: String,
) -> Result<Vec<String>> {
    let Some(first) = hooks.first() else {
        return Ok(Vec::new());
    };
    // The first row binds the event's columns (its id, the org, its type,
    // the time, its data); the other rows name the same placeholders.
    let first_shared = st.binds() + 1;
    let [p_event, p_org, p_type, p_at, p_data] =
        [0, 1, 2, 3, 4].map(|i| format!("${}", first_shared + i));
    st.push(
        "INSERT INTO webhook_deliveries (event_id, org_id, type, at, data, id, webhook_id, \
         status, attempts, next_attempt_at, created_at) VALUES (",
    );
    st.bind(format!("evt_{}", new_ordered_ksuid(at)))?
        .push(", ");
    st.bind(first.org_id.as_str().to_owned())?.push(", ");
    st.bind(ty.to_owned())?.push(", ");
    st.bind(secs(at))?.push(", ");
    st.bind(data)?;
    let mut ids = Vec::with_capacity(hooks.len());
    for (i, hook) in hooks.iter().enumerate() {
        let delivery = format!("msg_{}", new_ordered_ksuid(at));
        if i == 0 {
            st.push(", ");
        } else {
            st.push(&format!(
                ", ({p_event}, {p_org}, {p_type}, {p_at}, {p_data}, "
            ));
        }
        st.bind(delivery.clone())?.push(", ");
        st.bind(hook.id.as_str().to_owned())?
            .push(&format!(", 'pending', 0, {p_at}, {p_at})"));
        ids.push(delivery);
    }
    Ok(ids)
}

const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.event_id, d.type, d.status, d.attempts, \
     d.last_response_code, d.last_error, d.next_attempt_at, d.created_at";

const CLAIMED_COLUMNS: &str = "d.id, d.org_id, d.webhook_id, w.url, w.secret, d.attempts, \
     d.type, d.at, d.data";

const CLAIMED_FROM: &str = "FROM webhook_deliveries d \
     JOIN webhooks w ON w.org_id = d.org_id AND w.id = d.webhook_id";

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_webhook(&self, webhook: &Webhook, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(webhook.id.as_str())
        .bind(webhook.org_id.as_str())
        .bind(&webhook.url)
        .bind(to_json(&webhook.events)?)
        .bind(webhook.description.as_deref())
        .bind(&webhook.secret[..])
        .bind(secs(webhook.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, Unique::WebhookId, || format!("org {}", webhook.org_id)))?;
        self.commit(tx, audit, None).await
    }

    async fn get_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<Option<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = $1 AND id = $2");
        let query = sqlx::query(&sql).bind(org.as_str()).bind(id.as_str());
        optional(query, &self.pool, from_row).await
    }

    async fn list_webhooks(&self, org: &OrgId) -> Result<Vec<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = $1 ORDER BY id");
        all(sqlx::query(&sql).bind(org.as_str()), &self.pool, from_row).await
    }

    async fn update_webhook(&self, webhook: &Webhook, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE webhooks SET url = $1, events = $2, description = $3 \
             WHERE org_id = $4 AND id = $5",
        )
        .bind(&webhook.url)
        .bind(to_json(&webhook.events)?)
        .bind(webhook.description.as_deref())
        .bind(webhook.org_id.as_str())
        .bind(webhook.id.as_str())
        .run_found(&mut *tx)
        .await?;
        self.commit(tx, audit, None).await
    }

    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM webhooks WHERE org_id = $1 AND id = $2")
            .bind(org.as_str())
            .bind(id.as_str())
            .run_found(&mut *tx)
            .await?;
        self.commit(tx, audit, None).await
    }

    async fn ping_webhook(&self, webhook: &Webhook, at: OffsetDateTime) -> Result<String> {
        let mut tx = self.begin().await?;
        let data = serde_json::json!({ "webhook_id": webhook.id.as_str() }).to_string();
        let ids = write(
            &mut tx,
            std::slice::from_ref(webhook),
            "webhook.ping",
            at,
            data,
        )
        .await?;
        tx.commit().await.map_err(db)?;
        ids.into_iter()
            .next()
            .ok_or_else(|| crate::StoreError::Database("no delivery written".into()))
    }

    async fn list_deliveries(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             WHERE d.org_id = $1 AND d.webhook_id = $2 ORDER BY d.id DESC LIMIT $3"
        );
        let query = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(webhook.as_str())
            .bind(i64::from(limit.clamp(1, 1000)));
        all(query, &self.pool, delivery_from_row).await
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>> {
        let mut ids = self
            .claim_due(
                Outbox::WebhookDeliveries,
                "id",
                now,
                lease_until,
                limit,
                |row| text(row, "id"),
            )
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        ids.sort();
        let mut select = Statement::new(format!(
            "SELECT {CLAIMED_COLUMNS} {CLAIMED_FROM} WHERE d.id IN ("
        ));
        for (i, id) in ids.into_iter().enumerate() {
            if i > 0 {
                select.push(", ");
            }
            select.bind(id)?;
        }
        select.push(") ORDER BY d.id");
        let (sql, args) = select.into_parts();
        all(sqlx::query_with(&sql, args), &self.pool, claimed_from_row).await
    }

    async fn claim_delivery(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<ClaimedDelivery>> {
        let mut tx = self.begin().await?;
        let lock = if self.dialect.is_shared() {
            " FOR UPDATE"
        } else {
            ""
        };
        let locked: Option<Option<i64>> = sqlx::query_scalar(&format!(
            "SELECT locked_until FROM webhook_deliveries \
             WHERE org_id = $1 AND webhook_id = $2 AND id = $3{lock}"
        ))
        .bind(org.as_str())
        .bind(webhook.as_str())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        match locked {
            None => return Err(crate::StoreError::NotFound),
            Some(Some(until)) if until > secs(now) => return Ok(None),
            Some(_) => {}
        }
        sqlx::query(
            "UPDATE webhook_deliveries SET locked_until = $1, status = 'pending', \
             next_attempt_at = $2 WHERE id = $3",
        )
        .bind(secs(lease_until))
        .bind(secs(now))
        .bind(id)
        .run(&mut *tx)
        .await?;
        let sql = format!("SELECT {CLAIMED_COLUMNS} {CLAIMED_FROM} WHERE d.id = $1");
        let claimed = optional(sqlx::query(&sql).bind(id), &mut *tx, claimed_from_row).await?;
        tx.commit().await.map_err(db)?;
        Ok(claimed)
    }

    async fn record_attempt(&self, id: &str, outcome: &AttemptOutcome) -> Result<Delivery> {
        let (sql, args) = record(&[id], outcome)?;
        sqlx::query_with(&sql, args).run_found(&self.pool).await?;
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id = $1");
        optional(sqlx::query(&sql).bind(id), &self.pool, delivery_from_row)
            .await?
            .ok_or(crate::StoreError::NotFound)
    }

    async fn record_attempts(&self, attempts: &[(String, AttemptOutcome)]) -> Result<()> {
        if attempts.is_empty() {
            return Ok(());
        }
        // Attempts with the same outcome (nearly all of a batch: answered
        // 200) are recorded by one statement; a delivery deleted meanwhile
        // (its endpoint was) has nothing left to record, which is no error
        // for the others.
        let mut groups: Vec<(&AttemptOutcome, Vec<&str>)> = Vec::new();
        for (id, outcome) in attempts {
            match groups.iter_mut().find(|(o, _)| *o == outcome) {
                Some((_, ids)) => ids.push(id),
                None => groups.push((outcome, vec![id])),
            }
        }
        // One outcome on SQLite: one statement, no transaction (as for the
        // claim, see `outbox.rs`). PostgreSQL always takes the transaction,
        // whose commit need not wait for the log flush.
        if let ([(outcome, ids)], false) = (&groups[..], self.dialect.is_shared()) {
            let (sql, args) = record(ids, outcome)?;
            return sqlx::query_with(&sql, args).run(&self.pool).await.map(drop);
        }
        let mut tx = self.begin_bookkeeping().await?;
        for (outcome, ids) in &groups {
            let (sql, args) = record(ids, outcome)?;
            sqlx::query_with(&sql, args).run(&mut *tx).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn purge_deliveries(&self, before: OffsetDateTime) -> Result<u64> {
        sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1")
            .bind(secs(before))
            .run(&self.pool)
            .await
    }

    async fn delivery_queue(&self) -> Result<DeliveryQueue> {
        let row: (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM webhook_deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(DeliveryQueue {
            pending: u64::try_from(row.0).unwrap_or(0),
            oldest_pending: row
                .1
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()),
        })
    }
}

fn from_row(row: &AnyRow) -> Result<Webhook> {
    Ok(Webhook {
        id: WebhookId::from_trusted(text(row, "id")?),
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        url: text(row, "url")?,
        events: json(row, "events")?,
        description: get(row, "description")?,
        secret: get(row, "secret")?,
        created_at: time(row, "created_at")?,
    })
}

fn count(row: &AnyRow, column: &str) -> Result<u32> {
    let n: i64 = get(row, column)?;
    u32::try_from(n).map_err(|e| corrupt(column, e))
}

fn delivery_from_row(row: &AnyRow) -> Result<Delivery> {
    let status = text(row, "status")?;
    let code: Option<i64> = get(row, "last_response_code")?;
    Ok(Delivery {
        id: text(row, "id")?,
        webhook_id: WebhookId::from_trusted(text(row, "webhook_id")?),
        event_id: text(row, "event_id")?,
        event_type: text(row, "type")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        attempts: count(row, "attempts")?,
        last_response_code: code.and_then(|c| u16::try_from(c).ok()),
        last_error: get(row, "last_error")?,
        next_attempt_at: opt_time(row, "next_attempt_at")?,
        created_at: time(row, "created_at")?,
    })
}

fn claimed_from_row(row: &AnyRow) -> Result<ClaimedDelivery> {
    Ok(ClaimedDelivery {
        id: text(row, "id")?,
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        webhook_id: WebhookId::from_trusted(text(row, "webhook_id")?),
        url: text(row, "url")?,
        secret: get(row, "secret")?,
        attempts: count(row, "attempts")?,
        event_type: text(row, "type")?,
        event_at: time(row, "at")?,
        data: text(row, "data")?,
    })
}

/// The update that records one attempt at each of the deliveries `ids`,
/// all with `outcome`, and releases them.
fn record(
    ids: &[&str],
    outcome: &AttemptOutcome,
) -> Result<(String, sqlx::any::AnyArguments<'static>)> {
    let status = match (outcome.succeeded, outcome.next_attempt_at) {
        (true, _) => DeliveryStatus::Succeeded,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    let next = if outcome.succeeded {
        None
    } else {
        outcome.next_attempt_at.map(secs)
    };
    let mut st = Statement::new("UPDATE webhook_deliveries SET status = ");
    st.bind(status.as_str())?
        .push(", attempts = attempts + 1, last_response_code = ");
    st.bind(outcome.response_code.map(i64::from))?
        .push(", last_error = ");
    st.bind(outcome.error.clone())?.push(", next_attempt_at = ");
    st.bind(next)?.push(", locked_until = NULL WHERE id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            st.push(", ");
        }
        st.bind((*id).to_owned())?;
    }
    st.push(")");
    Ok(st.into_parts())
}
