//! `GET /tokens`: the caller's own tokens, or with `all=true` the org-wide
//! token inventory for admins, filtered and a page at a time.
//!
//! The inventory needs `token:read` on every member's tokens (the literal
//! resource `member/*:token/*`, which admins and owners have). It pages
//! like `GET /audit`: `limit` (1–500, default 100) and `before`, the
//! previous page's `next_cursor`. A cursor names the last token shown and
//! its sort key, signed with the deployment's key (the same on every
//! node), so one that was altered, or made for another `sort`, is a 400
//! rather than a page that starts somewhere unexpected. The filters are
//! not in the cursor: send them again with it. Sorting by last use, or
//! filtering by it, first saves this node's not-yet-saved uses, so the
//! order agrees with the `last_used_at` shown.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tessera_api::{TokenList, TokenPage};
use tessera_core::lifecycle::MAX_NAME_CHARS;
use tessera_core::model::Token;
use tessera_core::{MemberId, ServiceAccountId, TokenId};
use tessera_store::{TokenOrder, TokenPosition, TokenQuery};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::tokens::{self, token_response};
use super::{Call, Caller, ServiceError, ServiceResult};
use crate::secrets::hex;

/// The resource whose `token:read` the inventory needs: every member's
/// tokens.
pub const EVERY_TOKEN: &str = "member/*:token/*";

/// Tokens a page holds unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 100;
/// Most tokens one page holds.
const MAX_LIMIT: u32 = 500;
/// Longest cursor worth reading (a real one is under 70 bytes).
const MAX_CURSOR_LEN: usize = 128;

/// The query of `GET /tokens`, which the inventory web page's form also
/// sends, so that one parser checks both.
#[derive(Debug, Default, Clone, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenListParams {
    /// `true`: every token of the org (admins), with the filters below;
    /// otherwise your own tokens, and no other parameter is accepted.
    pub all: Option<bool>,
    /// Only this member's tokens (a member id; 404 when it names no
    /// member of the org).
    pub member: Option<String>,
    /// Only this service account's tokens (a service-account id; 404 when
    /// it names no service account of the org, a member's id included).
    pub service_account: Option<String>,
    /// Only tokens that expire before this RFC 3339 time (tokens without
    /// an expiry never match).
    #[param(value_type = Option<String>, format = DateTime)]
    pub expires_before: Option<String>,
    /// Only tokens unused since this RFC 3339 time: last used before it,
    /// or never used and created before it.
    #[param(value_type = Option<String>, format = DateTime)]
    pub unused_since: Option<String>,
    /// Only tokens whose name contains this (ASCII letters in any case);
    /// at most 100 characters.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// `newest` (default): newest first; `last_used`: most recently used
    /// first, never-used tokens last.
    #[param(inline)]
    pub sort: Option<TokenSort>,
    /// 1 to 500; default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor` (with the same `sort`).
    #[param(max_length = 128)]
    pub before: Option<String>,
}

impl TokenListParams {
    /// Does the query ask for anything but the caller's own list?
    fn asks_more(&self) -> bool {
        self.member.is_some()
            || self.service_account.is_some()
            || self.expires_before.is_some()
            || self.unused_since.is_some()
            || self.q.is_some()
            || self.sort.is_some()
            || self.limit.is_some()
            || self.before.is_some()
    }
}

/// How the inventory is ordered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenSort {
    #[default]
    Newest,
    LastUsed,
}

/// What `GET /tokens` answers: the caller's own list, or a page of the
/// inventory.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Listing {
    Own(TokenList),
    All(TokenPage),
}

/// May the caller see the inventory? Front ends ask before offering it.
pub fn may_list_all(caller: &Caller) -> bool {
    caller.allows("token:read", EVERY_TOKEN)
}

/// `GET /tokens`, as `params` asks.
pub async fn list(call: &Call, params: TokenListParams) -> ServiceResult<Listing> {
    if params.all == Some(true) {
        return list_all(call, params).await.map(Listing::All);
    }
    if params.asks_more() {
        return Err(ServiceError::BadRequest(
            "member, service_account, expires_before, unused_since, q, sort, limit and before \
             need all=true"
                .into(),
        ));
    }
    tokens::list(call).await.map(Listing::Own)
}

/// One page of the org's tokens, filtered as `params` says.
pub async fn list_all(call: &Call, params: TokenListParams) -> ServiceResult<TokenPage> {
    let (state, caller, _) = call.parts();
    caller.require("token:read", EVERY_TOKEN)?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ServiceError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let sort = params.sort.unwrap_or_default();
    let key = state.login_csrf_key().await?;
    let after = match params.before.as_deref() {
        Some(cursor) => Some(read_cursor(key, sort, cursor)?),
        None => None,
    };
    let member = match params.member.as_deref() {
        Some(m) => Some(
            MemberId::parse(m)
                .map_err(|_| ServiceError::BadRequest("member must be a member id".into()))?,
        ),
        None => None,
    };
    let service_account = match params.service_account.as_deref() {
        Some(a) => Some(ServiceAccountId::parse(a).map_err(|_| {
            ServiceError::BadRequest("service_account must be a service account id".into())
        })?),
        None => None,
    };
    let name_contains = match params.q {
        Some(q) if q.chars().count() > MAX_NAME_CHARS => {
            return Err(ServiceError::BadRequest(format!(
                "q must be at most {MAX_NAME_CHARS} characters"
            )))
        }
        Some(q) if q.is_empty() => None,
        other => other,
    };
    // A well-formed id that names nothing of its kind here is a 404, not
    // an empty page (a member's id given as a service account's, say).
    if let Some(id) = &member {
        if state.store.get_member(&caller.org.id, id).await?.is_none() {
            return Err(ServiceError::not_found("member"));
        }
    }
    if let Some(id) = &service_account {
        if state
            .store
            .get_service_account(&caller.org.id, id)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found("service account"));
        }
    }
    let query = TokenQuery {
        member,
        service_account,
        expires_before: time_param("expires_before", params.expires_before.as_deref())?,
        unused_since: time_param("unused_since", params.unused_since.as_deref())?,
        name_contains,
        disabled: None,
        order: match sort {
            TokenSort::Newest => TokenOrder::Newest,
            TokenSort::LastUsed => TokenOrder::LastUsed,
        },
        after,
        // One more than asked tells whether another page exists.
        limit: limit + 1,
    };
    if query.order == TokenOrder::LastUsed || query.unused_since.is_some() {
        // The answer shows this node's not-yet-saved uses; so that it
        // also sorts and filters by them, save them first. (Other nodes'
        // are at most one flush interval behind.)
        if let Err(e) = state.engine.activity().flush(state.store.as_ref()).await {
            tracing::warn!(error = %e, "could not save last-used times before listing");
        }
    }
    let mut found = state.store.query_tokens(&caller.org.id, &query).await?;
    let next_cursor = if found.len() > limit as usize {
        found.truncate(limit as usize);
        found.last().map(|t| write_cursor(key, sort, t))
    } else {
        None
    };
    let items = found.iter().map(|t| token_response(state, t)).collect();
    Ok(TokenPage { items, next_cursor })
}

/// An RFC 3339 time from the query; a 400 naming `name` otherwise.
fn time_param(name: &str, value: Option<&str>) -> ServiceResult<Option<OffsetDateTime>> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
                ServiceError::BadRequest(format!(
                    "{name} must be an RFC 3339 time, like 2026-01-31T00:00:00Z"
                ))
            })
        })
        .transpose()
}

/// `<sort>.<key>.<token id>.<signature>`: the key is the token's sort key
/// in Unix seconds (`-` for never used), the signature the first 8 bytes
/// of an HMAC-SHA256 of the rest.
fn write_cursor(key: &[u8], sort: TokenSort, last: &Token) -> String {
    let at = match sort {
        TokenSort::Newest => Some(last.created_at),
        TokenSort::LastUsed => last.last_used_at,
    };
    let body = format!(
        "{}.{}.{}",
        sort_tag(sort),
        at.map_or_else(|| "-".to_owned(), |t| t.unix_timestamp().to_string()),
        last.id
    );
    format!("{body}.{}", hex(&signature(key, &body)))
}

fn read_cursor(key: &[u8], sort: TokenSort, cursor: &str) -> ServiceResult<TokenPosition> {
    let bad = || {
        ServiceError::BadRequest(
            "before must be a next_cursor this listing returned, with the same sort".into(),
        )
    };
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(bad());
    }
    let (body, sent) = cursor.rsplit_once('.').ok_or_else(bad)?;
    let expected = hex(&signature(key, body));
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        sent.as_bytes(),
    )) {
        return Err(bad());
    }
    let mut parts = body.split('.');
    let (Some(tag), Some(at), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if tag != sort_tag(sort) {
        return Err(bad());
    }
    let key = match at {
        "-" if sort == TokenSort::LastUsed => None,
        secs => Some(
            secs.parse::<i64>()
                .ok()
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                .ok_or_else(bad)?,
        ),
    };
    let id = TokenId::parse(id).map_err(|_| bad())?;
    Ok(TokenPosition { key, id })
}

fn sort_tag(sort: TokenSort) -> &'static str {
    match sort {
        TokenSort::Newest => "n",
        TokenSort::LastUsed => "u",
    }
}

fn signature(key: &[u8], body: &str) -> [u8; 8] {
    let mut out = [0u8; 8];
    // HMAC takes a key of any length, so this cannot fail.
    if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) {
        mac.update(b"tessera-token-cursor:");
        mac.update(body.as_bytes());
        out.copy_from_slice(&mac.finalize().into_bytes()[..8]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn cursors_round_trip_and_refuse_changes() {
        let key = b"k".repeat(32);
        let now = datetime!(2026-06-01 0:00 UTC);
        let mut token = tessera_core::model::Token::minted(
            &tessera_core::TokenFormat::default().generate(now),
            &tessera_core::model::Member::new(
                &tessera_core::OrgId::generate(now),
                "a@b.c",
                "A",
                tessera_core::BuiltinRole::Reader,
                now,
            ),
            "t",
            tessera_core::TokenScope::Inherit,
            now,
        );
        let newest = write_cursor(&key, TokenSort::Newest, &token);
        let read = read_cursor(&key, TokenSort::Newest, &newest).expect("reads");
        assert_eq!(read.key, Some(now));
        assert_eq!(read.id, token.id);
        assert!(read_cursor(&key, TokenSort::LastUsed, &newest).is_err());
        let never = write_cursor(&key, TokenSort::LastUsed, &token);
        assert_eq!(
            read_cursor(&key, TokenSort::LastUsed, &never)
                .expect("reads")
                .key,
            None
        );
        token.last_used_at = Some(now);
        let used = write_cursor(&key, TokenSort::LastUsed, &token);
        let tampered = used.replacen(&now.unix_timestamp().to_string(), "1", 1);
        for bad in [&tampered, "x", "", "n.1.2.3.4", &newest[..newest.len() - 1]] {
            assert!(
                read_cursor(&key, TokenSort::LastUsed, bad).is_err(),
                "{bad}"
            );
        }
        assert!(read_cursor(b"other", TokenSort::Newest, &newest).is_err());
    }
}
