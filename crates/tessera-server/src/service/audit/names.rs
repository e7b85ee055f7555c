//! Names for the ids the audit log records: members by email, tokens by
//! name, so that people read "alice@acme.test" rather than a KSUID. The
//! log keeps ids (they never change); names are looked up when a page is
//! read, from the org as it is now and, for what has been removed since,
//! from the log itself (a member's `member:delete` event holds their
//! email; every token event holds the token's name).

use std::collections::{BTreeSet, HashMap};

use tessera_core::model::AuditEvent;
use tessera_core::{MemberId, TokenId};
use tessera_store::AuditQuery;

use super::super::{Call, ServiceResult};

/// Emails by member id and names by token id, for one page of the log.
#[derive(Default)]
pub struct Names {
    members: HashMap<String, String>,
    /// Service accounts by id (those deleted since: from their events).
    accounts: HashMap<String, String>,
    tokens: HashMap<String, String>,
}

impl Names {
    /// The names of everyone and everything `events` mention.
    pub async fn of(call: &Call, events: &[AuditEvent]) -> ServiceResult<Self> {
        let (state, caller, _) = call.parts();
        let mut names = Self::default();
        for member in state.store.list_members(&caller.org.id).await? {
            names.members.insert(member.id.to_string(), member.email);
        }
        for account in state.store.list_service_accounts(&caller.org.id).await? {
            names.accounts.insert(account.id.to_string(), account.name);
        }
        // Newest first: the first name seen for a token is its latest.
        for event in events {
            names.learn_from(event);
        }
        // Each id still unnamed is looked up once.
        let mut members = BTreeSet::new();
        let mut tokens = BTreeSet::new();
        for event in events {
            let (member, token) = ids_in(event);
            members.extend(member.filter(|id| !names.members.contains_key(*id)));
            tokens.extend(token.filter(|id| !names.tokens.contains_key(*id)));
        }
        for id in members {
            if let Some(email) = removed_member_email(call, id).await? {
                names.members.insert(id.to_owned(), email);
            }
        }
        for id in tokens {
            let Ok(token_id) = TokenId::parse(id) else {
                continue;
            };
            if let Some(t) = state.store.get_token(&token_id).await? {
                names.tokens.insert(id.to_owned(), t.name);
            }
        }
        Ok(names)
    }

    /// What an event itself says of the names of its target.
    fn learn_from(&mut self, event: &AuditEvent) {
        let detail = |key: &str| event.details.get(key).and_then(|v| v.as_str());
        match parse_target(&event.target) {
            Target::Token { token, .. } => {
                if let Some(name) = detail("name") {
                    self.tokens
                        .entry(token.to_owned())
                        .or_insert_with(|| name.to_owned());
                }
            }
            Target::Member(member) => {
                if let Some(email) = detail("email") {
                    self.members
                        .entry(member.to_owned())
                        .or_insert_with(|| email.to_owned());
                }
            }
            Target::Account(account) => {
                let name = detail("name").or_else(|| {
                    event
                        .details
                        .get("to")
                        .and_then(|to| to.get("name"))
                        .and_then(|v| v.as_str())
                });
                if let Some(name) = name {
                    self.accounts
                        .entry(account.to_owned())
                        .or_insert_with(|| name.to_owned());
                }
            }
            Target::Other => {}
        }
    }

    fn account(&self, id: &str) -> Option<String> {
        self.accounts
            .get(id)
            .map(|name| format!("service account \u{201c}{name}\u{201d}"))
    }

    pub fn member(&self, id: &str) -> Option<String> {
        self.members.get(id).cloned()
    }

    pub fn token(&self, id: &str) -> Option<String> {
        self.tokens.get(id).cloned()
    }

    /// The target in words: a member's email, a token's name and owner.
    pub fn target(&self, target: &str) -> Option<String> {
        match parse_target(target) {
            Target::Member(member) => self.member(member),
            Target::Account(account) => self.account(account),
            Target::Token { owner, token } => {
                let name = self.token(token)?;
                let owner = match owner {
                    Owner::Member(id) => self.members.get(id).cloned(),
                    Owner::Account(id) => self.account(id),
                };
                Some(match owner {
                    Some(owner) => format!("token \u{201c}{name}\u{201d} of {owner}"),
                    None => format!("token \u{201c}{name}\u{201d}"),
                })
            }
            Target::Other => None,
        }
    }
}

enum Target<'a> {
    Member(&'a str),
    Account(&'a str),
    Token { owner: Owner<'a>, token: &'a str },
    Other,
}

enum Owner<'a> {
    Member(&'a str),
    Account(&'a str),
}

/// `member/<id>`, `service_account/<id>`, or either's `:token/<id>`;
/// anything else is `Other`.
fn parse_target(target: &str) -> Target<'_> {
    let (rest, account) = match (
        target.strip_prefix("member/"),
        target.strip_prefix("service_account/"),
    ) {
        (Some(rest), _) => (rest, false),
        (None, Some(rest)) => (rest, true),
        (None, None) => return Target::Other,
    };
    match rest.split_once(":token/") {
        Some((id, token)) => Target::Token {
            owner: if account {
                Owner::Account(id)
            } else {
                Owner::Member(id)
            },
            token,
        },
        None if rest.contains(':') => Target::Other,
        None if account => Target::Account(rest),
        None => Target::Member(rest),
    }
}

/// The member and token ids an event names, as actor or target.
fn ids_in(event: &AuditEvent) -> (Option<&str>, Option<&str>) {
    let actor_member = event.actor.member.as_ref().map(MemberId::as_str);
    let actor_token = event.actor.token.as_ref().map(TokenId::as_str);
    match parse_target(&event.target) {
        Target::Token { token, .. } => (actor_member, Some(token)),
        Target::Member(member) if actor_member.is_none() => (Some(member), actor_token),
        _ => (actor_member, actor_token),
    }
}

/// A removed member's email, from the event that removed them.
async fn removed_member_email(call: &Call, id: &str) -> ServiceResult<Option<String>> {
    let query = AuditQuery {
        actor: None,
        action: Some("member:delete".into()),
        target: Some(format!("member/{id}")),
        before: None,
        limit: 1,
    };
    let events = call
        .state
        .store
        .list_audit(&call.caller.org.id, &query)
        .await?;
    Ok(events.into_iter().find_map(|e| {
        e.details
            .get("email")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    }))
}
