//! Token controls: disable and enable, the org-wide inventory, and what
//! the inactivity rule reads and changes.
//!
//! - Every change is one conditional statement (`... WHERE disabled_at IS
//!   NULL`, `... AND COALESCE(last_used_at, created_at) < $n`). When it
//!   matches no row, the transaction is dropped, so nothing is written and
//!   nothing audited. On PostgreSQL a second node's statement waits for
//!   the first one's row lock and then re-checks its condition against the
//!   new row (READ COMMITTED), so of several nodes acting on one token at
//!   once exactly one changes it and writes the audit event.
//! - The inventory pages by keyset: `(sort key, id)` strictly after the
//!   previous page's last token, so pages neither repeat nor skip a token
//!   as tokens are created meanwhile.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use tessera_core::model::{AuditEvent, Token};
use tessera_core::{InactiveAction, OrgId, TokenId};

use super::rows::{corrupt, get, text};
use super::tokens::{from_row, token_columns, token_select};
use super::{all, secs, Run, SqlStore, Statement};
use crate::{Change, InactiveToken, Result, StoreError, TokenControlStore, TokenOrder, TokenQuery};

/// Most tokens one inventory page may hold (callers page at most 500 and
/// ask for one more to learn whether another page exists).
const MAX_PAGE: u32 = 1000;

/// "Inactive since before $n": not used, created or enabled by hand since
/// (`enabled_at` is only ever set by [`TokenControlStore::enable_token`]).
/// Followed by the bound value.
const INACTIVE_BEFORE: &str =
    "COALESCE(last_used_at, created_at) < $n AND (enabled_at IS NULL OR enabled_at < $n)";

#[async_trait]
impl TokenControlStore for SqlStore {
    async fn query_tokens(&self, org: &OrgId, query: &TokenQuery) -> Result<Vec<Token>> {
        let mut sql = Statement::new(format!("{} WHERE t.org_id = ", token_select(&self.dialect)));
        sql.bind(org.as_str())?;
        if let Some(member) = &query.member {
            sql.push(" AND t.member_id = ").bind(member.as_str())?;
        }
        if let Some(account) = &query.service_account {
            sql.push(" AND t.service_account_id = ")
                .bind(account.as_str())?;
        }
        if let Some(before) = query.expires_before {
            sql.push(" AND t.expires_at < ").bind(secs(before))?;
        }
        if let Some(since) = query.unused_since {
            sql.push(" AND COALESCE(t.last_used_at, t.created_at) < ")
                .bind(secs(since))?;
        }
        if let Some(part) = &query.name_contains {
            sql.push(&format!(
                " AND {} LIKE ",
                self.dialect.ascii_lower("t.name")
            ))
            .bind(contains_pattern(part))?
            .push(" ESCAPE '\\'");
        }
        match query.disabled {
            Some(true) => {
                sql.push(" AND t.disabled_at IS NOT NULL");
            }
            Some(false) => {
                sql.push(" AND t.disabled_at IS NULL");
            }
            None => {}
        }
        let key = match query.order {
            TokenOrder::Newest => "t.created_at",
            TokenOrder::LastUsed => "t.last_used_at",
        };
        if let Some(after) = &query.after {
            match after.key {
                Some(at) => {
                    let at = secs(at);
                    sql.push(" AND (");
                    if query.order == TokenOrder::LastUsed {
                        sql.push("t.last_used_at IS NULL OR ");
                    }
                    sql.push(&format!("{key} < "))
                        .bind(at)?
                        .push(&format!(" OR ({key} = "))
                        .bind(at)?
                        .push(" AND t.id < ")
                        .bind(after.id.as_str())?
                        .push("))");
                }
                None => {
                    sql.push(&format!(" AND {key} IS NULL AND t.id < "))
                        .bind(after.id.as_str())?;
                }
            }
        }
        sql.push(&format!(
            " ORDER BY CASE WHEN {key} IS NULL THEN 1 ELSE 0 END, {key} DESC, t.id DESC LIMIT "
        ))
        .bind(i64::from(query.limit.clamp(1, MAX_PAGE)))?;
        let (sql, args) = sql.into_parts();
        all(sqlx::query_with(&sql, args), &self.pool, from_row).await
    }

    async fn disable_token(
        &self,
        id: &TokenId,
        at: OffsetDateTime,
        unused_before: Option<OffsetDateTime>,
        audit: &AuditEvent,
    ) -> Result<Option<Token>> {
        let mut tx = self.begin().await?;
        let mut sql = Statement::new("UPDATE tokens SET disabled_at = ");
        sql.bind(secs(at))?.push(" WHERE id = ").bind(id.as_str())?;
        sql.push(" AND disabled_at IS NULL");
        if let Some(before) = unused_before {
            let before = secs(before);
            sql.push(" AND COALESCE(last_used_at, created_at) < ")
                .bind(before)?
                .push(" AND (enabled_at IS NULL OR enabled_at < ")
                .bind(before)?
                .push(")");
        }
        let (sql, args) = sql.into_parts();
        let changed = sqlx::query_with(&sql, args).run(&mut *tx).await?;
        if changed == 0 {
            return match self.fetch_token(&mut tx, id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Ok(None),
            };
        }
        self.commit_token(tx, id, audit).await.map(Some)
    }

    async fn enable_token(
        &self,
        id: &TokenId,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<Option<Token>> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE tokens SET disabled_at = NULL, enabled_at = $1 \
             WHERE id = $2 AND disabled_at IS NOT NULL",
        )
        .bind(secs(at))
        .bind(id.as_str())
        .run(&mut *tx)
        .await?;
        if changed == 0 {
            return match self.fetch_token(&mut tx, id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Ok(None),
            };
        }
        self.commit_token(tx, id, audit).await.map(Some)
    }

    async fn revoke_inactive_token(
        &self,
        id: &TokenId,
        unused_before: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let gone = super::webhooks::subject_of(&mut tx, &self.dialect, audit).await?;
        let deleted = sqlx::query(&format!(
            "DELETE FROM tokens WHERE id = $1 AND {}",
            INACTIVE_BEFORE.replace("$n", "$2")
        ))
        .bind(id.as_str())
        .bind(secs(unused_before))
        .run(&mut *tx)
        .await?;
        if deleted == 0 {
            return Ok(false);
        }
        self.commit_with(tx, audit, Some(Change::Token(id.clone())), gone)
            .await?;
        Ok(true)
    }

    async fn inactive_tokens(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<InactiveToken>> {
        let sql = format!(
            "{}, o.inactive_days AS org_inactive_days, o.inactive_action AS org_inactive_action \
             FROM tokens t JOIN orgs o ON o.id = t.org_id \
             WHERE o.inactive_days IS NOT NULL \
             AND COALESCE(t.last_used_at, t.created_at) < $1 - o.inactive_days * 86400 \
             AND (t.enabled_at IS NULL OR t.enabled_at < $1 - o.inactive_days * 86400) \
             AND (o.inactive_action = 'revoke' OR t.disabled_at IS NULL) \
             ORDER BY COALESCE(t.last_used_at, t.created_at), t.id LIMIT $2",
            token_columns(&self.dialect)
        );
        let query = sqlx::query(&sql)
            .bind(secs(now))
            .bind(i64::from(limit.clamp(1, MAX_PAGE)));
        let rows = all(query, &self.pool, inactive_row).await?;
        Ok(rows
            .into_iter()
            .map(|(token, days, action)| InactiveToken {
                token,
                days,
                action,
                unused_before: now - time::Duration::days(i64::from(days)),
            })
            .collect())
    }
}

fn inactive_row(row: &AnyRow) -> Result<(Token, u32, InactiveAction)> {
    let days: i64 = get(row, "org_inactive_days")?;
    let days = u32::try_from(days).map_err(|e| corrupt("inactive_days", e))?;
    let action = text(row, "org_inactive_action")?;
    let action =
        InactiveAction::parse(&action).ok_or_else(|| corrupt("inactive_action", &action))?;
    Ok((from_row(row)?, days, action))
}

/// `%part%` for `LIKE ... ESCAPE '\'`, with `part`'s ASCII letters
/// lowercased and its `%`, `_` and `\` matching only themselves.
fn contains_pattern(part: &str) -> String {
    let mut pattern = String::with_capacity(part.len() + 2);
    pattern.push('%');
    for c in part.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c.to_ascii_lowercase());
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn patterns_match_wildcards_literally() {
        assert_eq!(contains_pattern("CI_Deploy%"), "%ci\\_deploy\\%%");
        assert_eq!(contains_pattern("a\\b"), "%a\\\\b%");
        assert_eq!(contains_pattern("É"), "%É%");
    }
}
