//! Logging in and out, "who am I", and changing one's password.
//!
//! Every credential check (this API's login, the web page's, a password
//! change) is throttled by the same [`crate::throttle::LoginThrottle`] and
//! costs exactly one argon2 verification, whatever the email.

use serde_json::json;
use tessera_api::{ChangePasswordRequest, LoginRequest, MeResponse, SessionResponse};
use tessera_core::lifecycle::{normalize_email, validate_password};
use tessera_core::model::{Actor, AuditEvent, Member, Session};
use tessera_core::{resource, OrgKey};
use time::{Duration, OffsetDateTime};

use super::members::member_response;
use super::org::org_response;
use super::tokens::token_response;
use super::{event, Call, ServiceError, ServiceResult};
use crate::secrets;
use crate::state::AppState;

/// A session just started. The secret goes to the client (in a cookie)
/// and nowhere else: the store keeps only its hash.
pub struct NewSession {
    pub secret: String,
    /// How long the session lasts, in seconds (the cookie's `Max-Age`).
    pub max_age_seconds: i64,
    pub response: SessionResponse,
}

/// Checks email and password (throttled, see `check_credentials`) and
/// starts a session for the member; `ip` is the client's address.
pub async fn login(
    state: &AppState,
    ip: Option<&str>,
    request: LoginRequest,
    now: OffsetDateTime,
) -> ServiceResult<NewSession> {
    let member = check_credentials(
        state,
        ip,
        &request.email,
        request.password,
        request.org.as_deref(),
        now,
    )
    .await?;
    start(state, &member, ip, now, json!({})).await
}

/// Starts a session for `member` (whose credentials were just checked, by
/// password or by single sign-on: `details` says how), audited as
/// `session:create`.
pub(crate) async fn start(
    state: &AppState,
    member: &Member,
    ip: Option<&str>,
    now: OffsetDateTime,
    details: serde_json::Value,
) -> ServiceResult<NewSession> {
    let org = state
        .store
        .get_org(&member.org_id)
        .await?
        .ok_or_else(|| ServiceError::Internal("member without org".into()))?;
    if org.suspended_at.is_some() {
        return Err(ServiceError::OrgSuspended);
    }
    let (secret, id_hash) = secrets::new_session_secret();
    let ttl = Duration::hours(i64::try_from(state.config.sessions.ttl_hours).unwrap_or(12));
    let session = Session {
        id_hash,
        member_id: member.id.clone(),
        org_id: org.id.clone(),
        created_at: now,
        expires_at: now + ttl,
    };
    let mut event = member_event(state, member, ip, now, "session:create");
    event.details = details;
    state.store.create_session(&session, &event).await?;
    let response = SessionResponse {
        member: member_response(member),
        org: org_response(&org),
        csrf_token: secrets::csrf_token(&secret),
        expires_at: session.expires_at,
    };
    Ok(NewSession {
        secret,
        max_age_seconds: ttl.whole_seconds(),
        response,
    })
}

/// The credential check behind every login form (the API and the web
/// page): throttling, then one argon2 verification whatever the email, then
/// an audit event for a failure on a real account. Every failure is the
/// same `invalid_credentials`, whether or not the email exists; a throttled
/// attempt is `rate_limited` with a retry time, also whether or not it
/// exists; an attempt that finds no free password-hashing slot in time (a
/// login flood) is `Busy`.
async fn check_credentials(
    state: &AppState,
    ip: Option<&str>,
    email: &str,
    password: String,
    org: Option<&str>,
    now: OffsetDateTime,
) -> ServiceResult<Member> {
    let email = normalize_email(email)?;
    let org_key = org.map(OrgKey::parse).transpose()?;
    if let Err(blocked) = state.login_throttle.attempt(&email, ip, now) {
        tracing::info!("login attempt refused by the throttle");
        return Err(ServiceError::TooManyRequests {
            message: "too many failed logins; try again later".into(),
            retry_after_secs: blocked.retry_after_secs,
        });
    }
    let memberships = state.store.members_by_email(&email).await?;
    let mut candidates = memberships.clone();
    if let Some(key) = &org_key {
        let org = state.store.get_org_by_key(key).await?;
        candidates.retain(|m| org.as_ref().is_some_and(|o| o.id == m.org_id));
    }
    // Exactly one argon2 verification per attempt, whatever the number of
    // matching members (none, one, or one per org), so the time taken says
    // nothing about the email. With several (no `org` given), the password
    // is checked against one of them only, always the same one: the first
    // with a password, in the store's order (oldest membership first). Only
    // a right password for it learns that an org must be chosen; anything
    // else is the same 401 as an unknown email.
    let candidate = candidates.iter().find(|m| m.password_hash.is_some());
    let hash = candidate.and_then(|m| m.password_hash.clone()); // None: the dummy hash
    let matched = if secrets::verify_password(password, hash).await? {
        candidate.cloned()
    } else {
        None
    };
    let Some(member) = matched else {
        state.metrics.login_failures.inc();
        audit_failed_login(state, memberships.first(), ip, now);
        return Err(ServiceError::InvalidCredentials);
    };
    state.login_throttle.succeeded(&email, ip);
    if candidates.len() > 1 {
        return Err(ServiceError::BadRequest(SEVERAL_ORGS.into()));
    }
    // Checked after the password, so that the answer says nothing about
    // an account to someone who does not know its password.
    if !super::org_sso::password_login(state, &member.org_id).await? {
        return Err(ServiceError::SsoRequired);
    }
    Ok(member)
}

/// The answer to a right password for an email in several orgs, which
/// the web page recognises to offer the org field.
pub const SEVERAL_ORGS: &str =
    "this email belongs to several organizations; add \"org\": \"<org key>\" to choose one";

/// Audits a failed login on a real account, in its org. Written in the
/// background, so a known email answers as fast as an unknown one.
fn audit_failed_login(
    state: &AppState,
    member: Option<&Member>,
    ip: Option<&str>,
    now: OffsetDateTime,
) {
    let Some(m) = member else { return };
    let event = member_event(state, m, ip, now, "session:login_failed");
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(e) = store.append_audit(&event).await {
            tracing::warn!(error = %e, "could not audit a failed login");
        }
    });
}

/// An event by `member` about themselves, before they have a session.
fn member_event(
    state: &AppState,
    member: &Member,
    ip: Option<&str>,
    now: OffsetDateTime,
    action: &str,
) -> AuditEvent {
    AuditEvent {
        id: state.next_audit_id(),
        org_id: member.org_id.clone(),
        at: now,
        actor: Actor {
            member: Some(member.id.clone()),
            token: None,
        },
        action: action.to_owned(),
        target: resource::member(&member.id),
        ip: ip.map(str::to_owned),
        details: json!({}),
    }
}

/// Ends the caller's session (sessions only: a token cannot log out).
pub async fn logout(call: &Call) -> ServiceResult<()> {
    let (state, caller, now) = call.parts();
    let id_hash = caller.require_session()?;
    let target = resource::member(&caller.require_member()?.id);
    let event = event(state, caller, now, "session:delete", target, json!({}));
    state.store.delete_session(&id_hash, Some(&event)).await?;
    Ok(())
}

/// Who the caller is, and through which token.
pub fn me(call: &Call) -> MeResponse {
    let (state, caller, _) = call.parts();
    MeResponse {
        member: caller.member().map(member_response),
        service_account: caller
            .service_account()
            .map(super::service_accounts::account_response),
        org: org_response(&caller.org),
        authenticated_by: if caller.token().is_some() {
            "token"
        } else {
            "session"
        }
        .into(),
        token: caller.token().map(|t| token_response(state, t)),
    }
}

/// Changes the caller's password (sessions only) after checking the
/// current one; ends the member's other sessions.
pub async fn change_password(call: &Call, request: ChangePasswordRequest) -> ServiceResult<()> {
    let (state, caller, now) = call.parts();
    let keep = caller.require_session()?;
    let member = caller.require_member()?;
    // Guessing the current password from a stolen session is password
    // guessing too: the same throttle as logins, for this account and IP.
    let ip = caller.ip.as_deref();
    if let Err(blocked) = state.login_throttle.attempt(&member.email, ip, now) {
        return Err(ServiceError::TooManyRequests {
            message: "too many wrong passwords; try again later".into(),
            retry_after_secs: blocked.retry_after_secs,
        });
    }
    let current = member.password_hash.clone();
    if !secrets::verify_password(request.current_password, current).await? {
        return Err(ServiceError::NotAllowed(WRONG_PASSWORD.into()));
    }
    state.login_throttle.succeeded(&member.email, ip);
    validate_password(&request.new_password)?;
    let hash = secrets::hash_password(request.new_password).await?;
    let target = resource::member(&member.id);
    let event = event(
        state,
        caller,
        now,
        "member:change_password",
        target,
        json!({}),
    );
    state.store.set_password(&member.id, &hash, &event).await?;
    state
        .store
        .delete_member_sessions(&member.id, Some(&keep))
        .await?;
    Ok(())
}

/// The refusal of a password change whose current password is wrong.
pub const WRONG_PASSWORD: &str = "the current password is wrong";
