//! Single sign-on's rules: an org's SSO settings (`"sso"` on `/org`), and
//! who a person the deployment's OpenID provider vouches for is here.
//!
//! Matching a person (SPEC, "Single sign-on"): a member whose
//! `external_id` is the provider's `sub`; else, when the provider says
//! the email is verified, a member with that email (who then records
//! `sub`); else, someone unknown joins an org whose settings admit their
//! verified email's domain, as its `default_role`. A member's email and
//! name are never changed from the provider's claims. The protocol itself
//! (discovery, the ID token's checks) is the web front end's
//! (`crate::sso`); this module only ever sees a verified identity.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_core::lifecycle::validate_name;
use tessera_core::model::{Actor, AuditEvent, Member, Org};
use tessera_core::sso::email_domain;
use tessera_core::{resource, BuiltinRole, ExternalId, MemberId, OrgId};
use time::OffsetDateTime;

use super::sessions::{self, NewSession};
use super::{ServiceError, ServiceResult};
use crate::state::AppState;

// ------------------------------------------------------------ sign-in

pub use tessera_core::sso::Identity;

/// One way in for the person: as a member, or joining an org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// An existing member; `link` records `sub` as their `external_id`.
    Member {
        org_id: String,
        member_id: String,
        link: bool,
    },
    /// Join the org (its domains admit the verified email) as `role`.
    Join { org_id: String, role: BuiltinRole },
}

/// An [`Entry`] with its org, for the org picker.
#[derive(Debug, Clone)]
pub struct Door {
    pub entry: Entry,
    pub org: Org,
}

/// Every way in for `identity`, in a stable order; empty when nobody
/// here knows them and no org admits them.
pub async fn doors(state: &AppState, identity: &Identity) -> ServiceResult<Vec<Door>> {
    let mut doors = Vec::new();
    for member in by_sub(state, &identity.sub).await? {
        doors.push((member_entry(&member, false), member.org_id));
    }
    let verified = identity.verified_email();
    if doors.is_empty() {
        if let Some(email) = &verified {
            for member in state.store.members_by_email(email).await? {
                if linkable(&member) {
                    doors.push((member_entry(&member, true), member.org_id));
                }
            }
        }
    }
    if doors.is_empty() {
        if let Some(email) = &verified {
            let domain = email_domain(email).unwrap_or_default();
            for (org_id, sso) in state.store.orgs_admitting_domain(domain).await? {
                let entry = Entry::Join {
                    org_id: org_id.to_string(),
                    role: sso.default_role,
                };
                doors.push((entry, org_id));
            }
        }
    }
    let mut out = Vec::with_capacity(doors.len());
    for (entry, org_id) in doors {
        // A suspended org lets nobody in (its sessions are refused too).
        match state.store.get_org(&org_id).await? {
            Some(org) if org.suspended_at.is_none() => out.push(Door { entry, org }),
            _ => {}
        }
    }
    out.sort_by(|a, b| a.org.name.cmp(&b.org.name).then(a.org.key.cmp(&b.org.key)));
    Ok(out)
}

fn member_entry(member: &Member, link: bool) -> Entry {
    Entry::Member {
        org_id: member.org_id.to_string(),
        member_id: member.id.to_string(),
        link,
    }
}

/// Members whose `external_id` is `sub`, in every org (none when `sub`
/// cannot be an external id: empty, over 255 bytes, control characters).
async fn by_sub(state: &AppState, sub: &str) -> ServiceResult<Vec<Member>> {
    match ExternalId::parse(sub) {
        Ok(id) => Ok(state.store.members_by_external_id(&id).await?),
        Err(_) => Ok(Vec::new()),
    }
}

/// May a member found by email record the provider's `sub`? Only one
/// with no external id yet: a member the host product tied to another of
/// its users is not taken over by whoever has the same email at the
/// provider.
fn linkable(member: &Member) -> bool {
    member.external_id.is_none()
}

/// Signs the person in through `entry` (which [`doors`] offered, and
/// which is checked again: the org may have changed since), and starts a
/// session.
pub async fn enter(
    state: &AppState,
    identity: &Identity,
    entry: &Entry,
    ip: Option<&str>,
    now: OffsetDateTime,
) -> ServiceResult<NewSession> {
    let still_open = doors(state, identity).await?;
    if !still_open.iter().any(|d| &d.entry == entry) {
        return Err(ServiceError::NotAllowed(
            "this way in is no longer open; sign in again".into(),
        ));
    }
    let member = match entry {
        Entry::Member {
            org_id,
            member_id,
            link,
        } => {
            let org_id = OrgId::from_trusted(org_id.clone());
            let id = MemberId::from_trusted(member_id.clone());
            let mut member = state
                .store
                .get_member(&org_id, &id)
                .await?
                .ok_or_else(|| ServiceError::not_found("member"))?;
            if *link {
                record_sub(state, &mut member, &identity.sub, ip, now).await?;
            }
            member
        }
        Entry::Join { org_id, role } => {
            join(
                state,
                identity,
                &OrgId::from_trusted(org_id.clone()),
                *role,
                ip,
                now,
            )
            .await?
        }
    };
    let details = json!({ "via": "sso", "sub": identity.sub });
    sessions::start(state, &member, ip, now, details).await
}

/// Records `sub` as the member's `external_id`, audited as
/// `member:update` by the member (`"via": "sso"`).
async fn record_sub(
    state: &AppState,
    member: &mut Member,
    sub: &str,
    ip: Option<&str>,
    now: OffsetDateTime,
) -> ServiceResult<()> {
    let external_id = ExternalId::parse(sub).map_err(|_| {
        ServiceError::NotAllowed("the provider's user id cannot be recorded".into())
    })?;
    let event = AuditEvent {
        id: state.next_audit_id(),
        org_id: member.org_id.clone(),
        at: now,
        actor: Actor {
            member: Some(member.id.clone()),
            token: None,
        },
        action: "member:update".into(),
        target: resource::member(&member.id),
        ip: ip.map(str::to_owned),
        details: json!({ "external_id": external_id.as_str(), "via": "sso" }),
    };
    state
        .store
        .set_external_id(&member.org_id, &member.id, Some(&external_id), &event)
        .await?;
    member.external_id = Some(external_id);
    Ok(())
}

/// Makes someone the org's domains admit a member, as `role`, with the
/// provider's email and name (the name only as a start: it is theirs to
/// change).
async fn join(
    state: &AppState,
    identity: &Identity,
    org: &OrgId,
    role: BuiltinRole,
    ip: Option<&str>,
    now: OffsetDateTime,
) -> ServiceResult<Member> {
    let email = identity
        .verified_email()
        .ok_or_else(|| ServiceError::NotAllowed("the provider did not verify the email".into()))?;
    let local = email.split('@').next().unwrap_or_default().to_owned();
    let name = identity
        .name
        .clone()
        .filter(|n| validate_name("name", n).is_ok())
        .unwrap_or(local);
    let mut member = Member::new(org, email.clone(), name, role, now);
    member.external_id = ExternalId::parse(&identity.sub).ok();
    let event = AuditEvent {
        id: state.next_audit_id(),
        org_id: org.clone(),
        at: now,
        actor: Actor {
            member: Some(member.id.clone()),
            token: None,
        },
        action: "member:create".into(),
        target: resource::member(&member.id),
        ip: ip.map(str::to_owned),
        details: json!({ "email": email, "role": role, "via": "sso", "sub": identity.sub }),
    };
    state.store.create_member(&member, &event).await?;
    Ok(member)
}
