//! Forms that mint a token value (create, clone, rotate) are acted on once.
//!
//! The page that shows a new value is the answer to the form's POST (it is
//! never redirected to, so the value is never in a URL or kept anywhere).
//! Reloading it, or pressing the button twice, sends the same form again;
//! without this guard that would create a second token, or rotate again and
//! so break the value just shown. Each such form carries a random
//! `form_id`; the first POST with it claims it, and a repeat is answered
//! with what happened the first time, changing nothing.
//!
//! Invariants:
//! - The value itself is never kept here: a repeat can say which token was
//!   made, not show its value again.
//! - A claim whose request fails is given back, so the member can correct
//!   the form and send it again.
//! - Claims are per member, in memory and per node, forgotten after
//!   [`FORGET_AFTER`], and bounded ([`MAX_FORMS`] entries of a KSUID each:
//!   an id of any other shape is not remembered); when full, forms are
//!   acted on unguarded rather than refused.
//! - Time is a parameter (`now`), never read here.
//!
//! The state holds the table, so it lives beside the state rather than in
//! `web` (which depends on the state): no module cycle.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tessera_core::ids::is_ksuid;
use time::{Duration, OffsetDateTime};

/// The hidden field that names one rendering of a form.
pub const FORM_ID_FIELD: &str = "form_id";

/// How long a sent form is remembered.
pub const FORGET_AFTER: Duration = Duration::hours(1);

/// Most forms remembered at once.
pub const MAX_FORMS: usize = 10_000;

/// What the first sending of a form did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstSent {
    /// Still being acted on (a double click).
    InProgress,
    /// It made (or rotated) this token.
    Done {
        token_id: String,
        token_name: String,
    },
}

#[derive(Debug)]
struct Entry {
    at: OffsetDateTime,
    outcome: FirstSent,
}

/// The forms sent recently, by member and form id.
#[derive(Debug, Default)]
pub struct SentForms {
    sent: Mutex<HashMap<String, Entry>>,
}

/// The answer to [`SentForms::claim`].
pub enum Claim<'a> {
    /// Act on the form; then call [`Ticket::done`].
    First(Ticket<'a>),
    /// The form was sent before: act on nothing.
    Again(FirstSent),
}

/// A claimed form. Dropped without [`Ticket::done`] (the request failed),
/// it gives the claim back.
pub struct Ticket<'a> {
    forms: &'a SentForms,
    /// `None` when the form is unguarded (no id, or the table is full).
    key: Option<String>,
}

impl SentForms {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims the form whose [`FORM_ID_FIELD`] is `form_id` for `member`,
    /// unless it was sent before.
    pub fn claim(&self, member: &str, form_id: Option<&str>, now: OffsetDateTime) -> Claim<'_> {
        let unguarded = Claim::First(Ticket {
            forms: self,
            key: None,
        });
        // Only ids the page could have made (a KSUID): a posted 60 KB "id"
        // must not become 60 KB of memory.
        let Some(form_id) = form_id.map(str::trim).filter(|id| is_ksuid(id)) else {
            return unguarded;
        };
        let key = format!("{member}\n{form_id}");
        let mut sent = self.table();
        if let Some(entry) = sent.get(&key) {
            if now - entry.at < FORGET_AFTER {
                return Claim::Again(entry.outcome.clone());
            }
        }
        if sent.len() >= MAX_FORMS {
            sent.retain(|_, e| now - e.at < FORGET_AFTER);
            if sent.len() >= MAX_FORMS {
                return unguarded;
            }
        }
        sent.insert(
            key.clone(),
            Entry {
                at: now,
                outcome: FirstSent::InProgress,
            },
        );
        Claim::First(Ticket {
            forms: self,
            key: Some(key),
        })
    }
}

impl Ticket<'_> {
    /// The form made (or rotated) this token: repeats will say so.
    pub fn done(mut self, token_id: &str, token_name: &str) {
        if let Some(key) = self.key.take() {
            if let Some(entry) = self.forms.table().get_mut(&key) {
                entry.outcome = FirstSent::Done {
                    token_id: token_id.to_owned(),
                    token_name: token_name.to_owned(),
                };
            }
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.forms.table().remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

    /// A form carrying a KSUID-shaped id made from `id`, as pages make them.
    fn form(id: &str) -> Option<String> {
        let ksuid = format!(
            "{:0>27}",
            id.replace(|c: char| !c.is_ascii_alphanumeric(), "")
        );
        Some(ksuid)
    }

    fn first(claim: Claim<'_>) -> Ticket<'_> {
        match claim {
            Claim::First(ticket) => ticket,
            Claim::Again(outcome) => panic!("claimed before: {outcome:?}"),
        }
    }

    fn again(claim: Claim<'_>) -> FirstSent {
        match claim {
            Claim::First(_) => panic!("not claimed before"),
            Claim::Again(outcome) => outcome,
        }
    }

    #[test]
    fn a_form_is_acted_on_once_and_a_repeat_says_what_it_did() {
        let forms = SentForms::default();
        let ticket = first(forms.claim("m1", form("f1").as_deref(), NOW));
        // A double click while the first is still running.
        assert_eq!(
            again(forms.claim("m1", form("f1").as_deref(), NOW)),
            FirstSent::InProgress
        );
        ticket.done("tok1", "deploy bot");
        assert_eq!(
            again(forms.claim("m1", form("f1").as_deref(), NOW + Duration::minutes(5))),
            FirstSent::Done {
                token_id: "tok1".into(),
                token_name: "deploy bot".into()
            }
        );
        // Another form, another member: their own.
        first(forms.claim("m1", form("f2").as_deref(), NOW)).done("tok2", "x");
        first(forms.claim("m2", form("f1").as_deref(), NOW)).done("tok3", "y");
        // Forgotten after the hour.
        first(forms.claim("m1", form("f1").as_deref(), NOW + FORGET_AFTER));
    }

    #[test]
    fn a_failed_request_gives_its_claim_back() {
        let forms = SentForms::default();
        drop(first(forms.claim("m1", form("f1").as_deref(), NOW)));
        first(forms.claim("m1", form("f1").as_deref(), NOW)).done("tok1", "t");
        assert!(matches!(
            forms.claim("m1", form("f1").as_deref(), NOW),
            Claim::Again(_)
        ));
    }

    #[test]
    fn forms_without_an_id_or_beyond_the_bound_are_unguarded() {
        let forms = SentForms::default();
        first(forms.claim("m1", None, NOW)).done("t", "t");
        first(forms.claim("m1", None, NOW)).done("t", "t");
        // An id the page cannot have made is not remembered, however long.
        let odd = "x".repeat(60_000);
        first(forms.claim("m1", Some(&odd), NOW)).done("t", "t");
        first(forms.claim("m1", Some(&odd), NOW)).done("t", "t");
        assert!(forms.table().is_empty());
        for i in 0..MAX_FORMS {
            first(forms.claim("m1", form(&i.to_string()).as_deref(), NOW)).done("t", "t");
        }
        // Full of fresh entries: acted on, not refused, and not remembered.
        first(forms.claim("m1", form("late").as_deref(), NOW)).done("t", "t");
        first(forms.claim("m1", form("late").as_deref(), NOW)).done("t", "t");
        // Once the old ones expire there is room again.
        let later = NOW + FORGET_AFTER;
        first(forms.claim("m1", form("later").as_deref(), later)).done("t", "t");
        assert!(matches!(
            forms.claim("m1", form("later").as_deref(), later),
            Claim::Again(_)
        ));
    }
}
