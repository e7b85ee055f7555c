//! `GET /admin/tokens`: every token of the org, for admins, with the
//! filters of `GET /api/v1/tokens?all=true` as a GET form (member,
//! service account, expiring before, unused since, name), sortable by last use, a page at a
//! time. The query goes to the same operation as the API's
//! ([`inventory::list_all`]), so one parser checks both; a date from the
//! form's date fields (`2026-01-31`) means midnight UTC.

use askama::Template;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use tessera_api::TokenResponse;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::super::forms::{friendly, PageResult};
use super::super::render::{page, Layout, TokenView};
use super::super::scope::Choice;
use super::super::session::WebUser;
use super::query_of;
use crate::error::ApiError;
use crate::service::inventory::{self, TokenListParams, TokenSort};
use crate::service::{members, service_accounts};

/// The form's fields, in the order links repeat them.
const FIELDS: [&str; 7] = [
    "member",
    "service_account",
    "expires_before",
    "unused_since",
    "q",
    "sort",
    "before",
];

struct Row {
    token: TokenView,
    owner: String,
    /// The owner's admin page: a member's or a service account's.
    owner_href: String,
    disabled: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct InventoryPage {
    layout: Layout,
    members: Vec<Choice>,
    accounts: Vec<Choice>,
    expires_before: String,
    unused_since: String,
    q: String,
    last_used: bool,
    rows: Vec<Row>,
    next: Option<String>,
    problem: Option<String>,
}

/// `GET /admin/tokens?member=&service_account=&expires_before=&unused_since=&q=&sort=&before=`.
pub(super) async fn tokens(user: WebUser, RawQuery(raw): RawQuery) -> PageResult {
    let query = query_of(raw);
    let kept: Vec<(&str, String)> = FIELDS
        .into_iter()
        .filter_map(|k| query.opt(k).filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
    // Who may not see the inventory sees neither it nor the member list
    // (nor the service accounts, of which only those readable are offered).
    let allowed = inventory::may_list_all(&user.call.caller);
    let (people, accounts) = if allowed {
        (
            members::list(&user.call).await?.items,
            service_accounts::list(&user.call).await?.items,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let params = params_of(&kept);
    let last_used = params.sort == Some(TokenSort::LastUsed);
    let (status, rows, next, problem) = match inventory::list_all(&user.call, params).await {
        Ok(found) => (
            StatusCode::OK,
            found.items,
            found
                .next_cursor
                .map(|c| super::next_page_link("/admin/tokens", &kept, &c)),
            None,
        ),
        Err(e) => {
            let e = ApiError::from(e);
            (e.status_and_code().0, Vec::new(), None, Some(friendly(&e)))
        }
    };
    let email = |id: &str| {
        people
            .iter()
            .find(|m| m.id == id)
            .map_or_else(|| id.to_owned(), |m| m.email.clone())
    };
    let account_name = |id: &str| {
        accounts
            .iter()
            .find(|a| a.id == id)
            .map_or_else(|| id.to_owned(), |a| a.name.clone())
    };
    let now = user.call.now;
    let rows = rows
        .iter()
        .map(|t: &TokenResponse| Row {
            token: TokenView::new(t, now),
            owner: match (&t.member_id, &t.service_account_id) {
                (Some(member), _) => email(member),
                (None, Some(account)) => format!("service account {}", account_name(account)),
                (None, None) => String::new(),
            },
            owner_href: match (&t.member_id, &t.service_account_id) {
                (Some(member), _) => format!("/admin/members/{member}"),
                (None, Some(account)) => format!("/admin/service-accounts/{account}"),
                (None, None) => String::new(),
            },
            disabled: t.disabled_at.map(super::super::render::when),
        })
        .collect();
    let member = query.get("member");
    let mut choices = vec![Choice {
        value: String::new(),
        label: "Anyone".into(),
        checked: member.is_empty(),
    }];
    choices.extend(people.iter().map(|m| Choice {
        checked: m.id == member,
        value: m.id.clone(),
        label: m.email.clone(),
    }));
    let account = query.get("service_account");
    let mut account_choices = vec![Choice {
        value: String::new(),
        label: "Any".into(),
        checked: account.is_empty(),
    }];
    account_choices.extend(accounts.iter().map(|a| Choice {
        checked: a.id == account,
        value: a.id.clone(),
        label: a.name.clone(),
    }));
    Ok(page(
        status,
        &InventoryPage {
            layout: user.layout("All tokens", "inventory"),
            members: choices,
            accounts: account_choices,
            expires_before: query.get("expires_before").to_owned(),
            unused_since: query.get("unused_since").to_owned(),
            q: query.get("q").to_owned(),
            last_used,
            rows,
            next,
            problem,
        },
    ))
}

/// The API's query from the form's: dates become RFC 3339 (midnight UTC),
/// a sort that is not `last_used` is the default.
fn params_of(kept: &[(&str, String)]) -> TokenListParams {
    let value = |name: &str| {
        kept.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    TokenListParams {
        all: Some(true),
        member: value("member"),
        service_account: value("service_account"),
        expires_before: value("expires_before").map(|v| as_time(&v)),
        unused_since: value("unused_since").map(|v| as_time(&v)),
        q: value("q"),
        sort: (value("sort").as_deref() == Some("last_used")).then_some(TokenSort::LastUsed),
        limit: None,
        before: value("before"),
    }
}

/// `2026-01-31` as `2026-01-31T00:00:00Z`; anything else as it is (the
/// service says what is wrong with it).
fn as_time(v: &str) -> String {
    Date::parse(v, format_description!("[year]-[month]-[day]"))
        .ok()
        .and_then(|d| {
            OffsetDateTime::new_utc(d, time::Time::MIDNIGHT)
                .format(&Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_dates_mean_midnight_utc() {
        assert_eq!(as_time("2026-01-31"), "2026-01-31T00:00:00Z");
        assert_eq!(as_time("2026-01-31T10:00:00Z"), "2026-01-31T10:00:00Z");
        assert_eq!(as_time("yesterday"), "yesterday");
    }
}
