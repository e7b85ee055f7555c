//! How the API shows a stored token, member or service account. One
//! conversion each, used by the API's answers and by webhook events, whose
//! `data` holds the same metadata (the store renders it inside the change's
//! transaction), so the two cannot drift apart.

use tessera_core::controls::{RefillInterval as CoreInterval, TokenControls};
use tessera_core::model::{Member, ServiceAccount, Token};
use tessera_core::TokenScope;

use crate::{
    MemberResponse, Quota, QuotaRefill, RateLimit, RefillInterval, ServiceAccountResponse,
    TokenResponse,
};

impl From<&Token> for TokenResponse {
    /// The stored metadata (the server overlays last uses not yet flushed).
    fn from(token: &Token) -> Self {
        let (role, custom_roles, policy) = match &token.scope {
            TokenScope::Inherit => (None, None, None),
            TokenScope::Role(r) => (Some(*r), None, None),
            TokenScope::CustomRoles(keys) => (
                None,
                Some(keys.iter().map(|k| k.to_string()).collect()),
                None,
            ),
            TokenScope::Policy(p) => (None, None, Some(p.clone())),
        };
        TokenResponse {
            id: token.id.to_string(),
            name: token.name.clone(),
            snippet: token.snippet.clone(),
            member_id: token.owner.member().map(|m| m.to_string()),
            service_account_id: token.owner.service_account().map(|a| a.to_string()),
            role,
            custom_roles,
            policy,
            projects: token.projects.iter().map(|p| p.to_string()).collect(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            last_used_ip: token.last_used_ip.clone(),
            rotated_at: token.rotated_at,
            disabled_at: token.disabled_at,
            allowed_ips: token.controls.as_deref().and_then(allowed_ips),
            rate_limit: token.controls.as_deref().and_then(rate_limit),
            quota: token.controls.as_deref().and_then(quota),
        }
    }
}

fn allowed_ips(c: &TokenControls) -> Option<Vec<String>> {
    (!c.allowed_ips.is_empty()).then(|| c.allowed_ips.iter().map(ToString::to_string).collect())
}

fn rate_limit(c: &TokenControls) -> Option<RateLimit> {
    c.rate_limit.map(|r| RateLimit {
        requests: r.requests,
        per_seconds: r.per_seconds,
    })
}

/// The stored count; the server adds what its node holds reserved.
fn quota(c: &TokenControls) -> Option<Quota> {
    c.quota.map(|q| Quota {
        remaining: q.remaining,
        refill: q.refill.map(|r| QuotaRefill {
            amount: r.amount,
            interval: match r.interval {
                CoreInterval::Day => RefillInterval::Day,
                CoreInterval::Month => RefillInterval::Month,
            },
        }),
    })
}

impl From<&Member> for MemberResponse {
    fn from(m: &Member) -> Self {
        MemberResponse {
            id: m.id.to_string(),
            email: m.email.clone(),
            name: m.name.clone(),
            role: m.role,
            custom_roles: m.custom_roles.iter().map(|k| k.to_string()).collect(),
            external_id: m.external_id.as_ref().map(|e| e.to_string()),
            created_at: m.created_at,
        }
    }
}

impl From<&ServiceAccount> for ServiceAccountResponse {
    fn from(a: &ServiceAccount) -> Self {
        ServiceAccountResponse {
            id: a.id.to_string(),
            name: a.name.clone(),
            description: a.description.clone(),
            role: a.role,
            custom_roles: a.custom_roles.iter().map(|k| k.to_string()).collect(),
            created_at: a.created_at,
            created_by: a.created_by.as_ref().map(|m| m.to_string()),
        }
    }
}
