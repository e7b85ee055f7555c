//! One typed method per API route, named after the route's verb and noun
//! (`POST /tokens` is [`Client::create_token`]), the same names the CLI and
//! the server's handlers use.
//!
//! Wherever a token id is expected, `"self"` stands for the token making
//! the call.

use reqwest::{Method, Url};
use tessera_api::{
    AuditPage, ChangePasswordRequest, CloneTokenRequest, CreateMemberRequest, CreateProjectRequest,
    CreateRoleRequest, CreateServiceAccountRequest, CreateTokenRequest, CreatedMemberResponse,
    CreatedTokenResponse, LeakReport, LeakReportResponse, MeResponse, MemberList, MemberResponse,
    OrgResponse, ProjectList, ProjectResponse, RoleList, RoleResponse, RotateTokenRequest,
    ServiceAccountList, ServiceAccountResponse, TokenList, TokenPage, TokenResponse,
    UpdateMemberRequest, UpdateOrgRequest, UpdateRoleRequest, UpdateServiceAccountRequest,
    UpdateTokenRequest, VerifyRequest, VerifyResponse,
};
use tessera_api::{
    CreateWebhookRequest, CreatedWebhookResponse, DeliveryList, DeliveryResponse,
    UpdateWebhookRequest, WebhookList, WebhookResponse,
};

use crate::client::{Auth, Call};
use crate::{Client, Error};

/// Who a token belongs to, from the headers of a `200` to `GET /auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardAuthIdentity {
    /// `X-Tessera-Member`: the member id (`None` for a service account's
    /// token).
    pub member: Option<String>,
    /// `X-Tessera-Service-Account`: the service account's id, for its
    /// tokens.
    pub service_account: Option<String>,
    /// `X-Tessera-Org`: the org key.
    pub org: String,
    /// `X-Tessera-Token-Id`.
    pub token_id: String,
    /// `X-Tessera-External-Id`: the member's id in the host product, when
    /// it has one.
    pub external_id: Option<String>,
}

/// Filters for `GET /audit`; unset fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// A member id: only events by this member.
    pub actor: Option<String>,
    /// An action such as `token:create`.
    pub action: Option<String>,
    /// A target such as `member/<id>:token/<id>`.
    pub target: Option<String>,
    /// The `next_cursor` of the previous page.
    pub before: Option<String>,
    /// Page size; the server caps it.
    pub limit: Option<u32>,
}

/// Filters for the org-wide token inventory (`GET /tokens?all=true`);
/// unset fields are not sent. Times are RFC 3339.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFilter {
    /// A member id: only this member's tokens.
    pub member: Option<String>,
    /// A service-account id: only this service account's tokens.
    pub service_account: Option<String>,
    /// Only tokens expiring before this time.
    pub expires_before: Option<String>,
    /// Only tokens not used since this time (never-used ones: created
    /// before it).
    pub unused_since: Option<String>,
    /// Only tokens whose name contains this.
    pub q: Option<String>,
    /// `newest` (the server's default) or `last_used`.
    pub sort: Option<String>,
    /// The `next_cursor` of the previous page.
    pub before: Option<String>,
    /// Page size, 1 to 500.
    pub limit: Option<u32>,
}

impl TokenFilter {
    fn apply(&self, url: &mut Url) {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("all", "true");
        for (name, value) in [
            ("member", &self.member),
            ("service_account", &self.service_account),
            ("expires_before", &self.expires_before),
            ("unused_since", &self.unused_since),
            ("q", &self.q),
            ("sort", &self.sort),
            ("before", &self.before),
        ] {
            if let Some(value) = value {
                pairs.append_pair(name, value);
            }
        }
        if let Some(limit) = self.limit {
            pairs.append_pair("limit", &limit.to_string());
        }
    }
}

/// The audit log's export formats (`GET /audit?format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditExport {
    /// JSON Lines: one event per line, as in [`AuditPage::items`].
    Jsonl,
    /// CSV with a header row.
    Csv,
}

impl AuditExport {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
        }
    }
}

impl AuditFilter {
    fn apply(&self, url: &mut Url) {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("before", &self.before),
        ] {
            if let Some(value) = value {
                pairs.append_pair(name, value);
            }
        }
        if let Some(limit) = self.limit {
            pairs.append_pair("limit", &limit.to_string());
        }
        drop(pairs);
        // An empty query would leave a dangling "?".
        if url.query() == Some("") {
            url.set_query(None);
        }
    }
}

impl Client {
    /// A request to `/api/v1/{path...}` with the client's credential.
    fn authed(&self, method: Method, path: &[&str]) -> Result<Call, Error> {
        Ok(Call::new(method, self.api_url(path)?, Auth::Required))
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &[&str]) -> Result<T, Error> {
        self.call(self.authed(Method::GET, path)?).await
    }

    async fn send_json<B, T>(&self, method: Method, path: &[&str], body: &B) -> Result<T, Error>
    where
        B: serde::Serialize + ?Sized,
        T: serde::de::DeserializeOwned,
    {
        self.call(self.authed(method, path)?.json(body)?).await
    }

    async fn delete(&self, path: &[&str]) -> Result<(), Error> {
        self.call_empty(self.authed(Method::DELETE, path)?).await
    }

    // ------------------------------------------------------------ me

    /// `GET /me`: who the credential belongs to, and through which token.
    pub async fn me(&self) -> Result<MeResponse, Error> {
        self.get(&["me"]).await
    }

    /// `PUT /me/password`; only a login session may do this (a token gets
    /// `403 session_required`).
    pub async fn change_password(&self, request: &ChangePasswordRequest) -> Result<(), Error> {
        let call = self.authed(Method::PUT, &["me", "password"])?;
        self.call_empty(call.json(request)?).await
    }

    // ------------------------------------------------------------ tokens

    /// `POST /tokens`: the answer holds the full token, this once.
    pub async fn create_token(
        &self,
        request: &CreateTokenRequest,
    ) -> Result<CreatedTokenResponse, Error> {
        self.send_json(Method::POST, &["tokens"], request).await
    }

    /// `GET /tokens`: the caller's own tokens, newest first.
    pub async fn list_tokens(&self) -> Result<TokenList, Error> {
        self.get(&["tokens"]).await
    }

    /// `GET /tokens/{id}`.
    pub async fn get_token(&self, id: &str) -> Result<TokenResponse, Error> {
        self.get(&["tokens", id]).await
    }

    /// `PATCH /tokens/{id}`.
    pub async fn update_token(
        &self,
        id: &str,
        request: &UpdateTokenRequest,
    ) -> Result<TokenResponse, Error> {
        self.send_json(Method::PATCH, &["tokens", id], request)
            .await
    }

    /// `POST /tokens/{id}/clone`: a new token with the same scope,
    /// projects and expiry.
    pub async fn clone_token(
        &self,
        id: &str,
        request: &CloneTokenRequest,
    ) -> Result<CreatedTokenResponse, Error> {
        self.send_json(Method::POST, &["tokens", id, "clone"], request)
            .await
    }

    /// `POST /tokens/{id}/rotate`: same id, new secret, new expiry; the old
    /// string stops working (after the grace period, if one is asked for).
    pub async fn rotate_token(
        &self,
        id: &str,
        request: &RotateTokenRequest,
    ) -> Result<CreatedTokenResponse, Error> {
        self.send_json(Method::POST, &["tokens", id, "rotate"], request)
            .await
    }

    /// `GET /tokens?all=true`: a page of every token of the org (admins),
    /// filtered; pass `next_cursor` as `before` for the next.
    pub async fn list_all_tokens(&self, filter: &TokenFilter) -> Result<TokenPage, Error> {
        let mut url = self.api_url(&["tokens"])?;
        filter.apply(&mut url);
        self.call(Call::new(Method::GET, url, Auth::Required)).await
    }

    /// `POST /tokens/{id}/disable`: refused (`token_disabled`) until
    /// enabled again.
    pub async fn disable_token(&self, id: &str) -> Result<TokenResponse, Error> {
        self.call(self.authed(Method::POST, &["tokens", id, "disable"])?)
            .await
    }

    /// `POST /tokens/{id}/enable`.
    pub async fn enable_token(&self, id: &str) -> Result<TokenResponse, Error> {
        self.call(self.authed(Method::POST, &["tokens", id, "enable"])?)
            .await
    }

    /// `DELETE /tokens/{id}`: revokes at once; cannot be undone.
    pub async fn delete_token(&self, id: &str) -> Result<(), Error> {
        self.delete(&["tokens", id]).await
    }

    // ------------------------------------------------------------ members

    /// `GET /members`.
    pub async fn list_members(&self) -> Result<MemberList, Error> {
        self.get(&["members"]).await
    }

    /// `POST /members`: a generated initial password, if any, is in the
    /// answer this once.
    pub async fn create_member(
        &self,
        request: &CreateMemberRequest,
    ) -> Result<CreatedMemberResponse, Error> {
        self.send_json(Method::POST, &["members"], request).await
    }

    /// `GET /members/{id}`.
    pub async fn get_member(&self, id: &str) -> Result<MemberResponse, Error> {
        self.get(&["members", id]).await
    }

    /// `PATCH /members/{id}`.
    pub async fn update_member(
        &self,
        id: &str,
        request: &UpdateMemberRequest,
    ) -> Result<MemberResponse, Error> {
        self.send_json(Method::PATCH, &["members", id], request)
            .await
    }

    /// `DELETE /members/{id}`: the member's tokens stop working at once.
    pub async fn delete_member(&self, id: &str) -> Result<(), Error> {
        self.delete(&["members", id]).await
    }

    /// `GET /members/{id}/tokens`: an admin's view (metadata only).
    pub async fn list_member_tokens(&self, id: &str) -> Result<TokenList, Error> {
        self.get(&["members", id, "tokens"]).await
    }

    // --------------------------------------------------- service accounts

    /// `GET /service-accounts`.
    pub async fn list_service_accounts(&self) -> Result<ServiceAccountList, Error> {
        self.get(&["service-accounts"]).await
    }

    /// `POST /service-accounts`.
    pub async fn create_service_account(
        &self,
        request: &CreateServiceAccountRequest,
    ) -> Result<ServiceAccountResponse, Error> {
        self.send_json(Method::POST, &["service-accounts"], request)
            .await
    }

    /// `GET /service-accounts/{id}`.
    pub async fn get_service_account(&self, id: &str) -> Result<ServiceAccountResponse, Error> {
        self.get(&["service-accounts", id]).await
    }

    /// `PATCH /service-accounts/{id}`: its tokens follow a new role at once.
    pub async fn update_service_account(
        &self,
        id: &str,
        request: &UpdateServiceAccountRequest,
    ) -> Result<ServiceAccountResponse, Error> {
        self.send_json(Method::PATCH, &["service-accounts", id], request)
            .await
    }

    /// `DELETE /service-accounts/{id}`: its tokens stop working at once.
    pub async fn delete_service_account(&self, id: &str) -> Result<(), Error> {
        self.delete(&["service-accounts", id]).await
    }

    /// `GET /service-accounts/{id}/tokens` (metadata only).
    pub async fn list_service_account_tokens(&self, id: &str) -> Result<TokenList, Error> {
        self.get(&["service-accounts", id, "tokens"]).await
    }

    /// `POST /service-accounts/{id}/tokens`: the new token's value is in
    /// the answer, this once. The `/tokens/{id}` methods work on it too.
    pub async fn create_service_account_token(
        &self,
        id: &str,
        request: &CreateTokenRequest,
    ) -> Result<CreatedTokenResponse, Error> {
        self.send_json(Method::POST, &["service-accounts", id, "tokens"], request)
            .await
    }

    // ---------------------------------------------------------- webhooks

    /// `GET /webhooks` (admins).
    pub async fn list_webhooks(&self) -> Result<WebhookList, Error> {
        self.get(&["webhooks"]).await
    }

    /// `POST /webhooks`: the answer holds the signing secret, this once.
    pub async fn create_webhook(
        &self,
        request: &CreateWebhookRequest,
    ) -> Result<CreatedWebhookResponse, Error> {
        self.send_json(Method::POST, &["webhooks"], request).await
    }

    /// `GET /webhooks/{id}`.
    pub async fn get_webhook(&self, id: &str) -> Result<WebhookResponse, Error> {
        self.get(&["webhooks", id]).await
    }

    /// `PATCH /webhooks/{id}`.
    pub async fn update_webhook(
        &self,
        id: &str,
        request: &UpdateWebhookRequest,
    ) -> Result<WebhookResponse, Error> {
        self.send_json(Method::PATCH, &["webhooks", id], request)
            .await
    }

    /// `DELETE /webhooks/{id}`.
    pub async fn delete_webhook(&self, id: &str) -> Result<(), Error> {
        self.delete(&["webhooks", id]).await
    }

    /// `GET /webhooks/{id}/deliveries`, newest first.
    pub async fn list_webhook_deliveries(&self, id: &str) -> Result<DeliveryList, Error> {
        self.get(&["webhooks", id, "deliveries"]).await
    }

    /// `POST /webhooks/{id}/deliveries/{delivery_id}/retry`: sent again
    /// now, with the same `webhook-id`.
    pub async fn retry_webhook_delivery(
        &self,
        id: &str,
        delivery_id: &str,
    ) -> Result<DeliveryResponse, Error> {
        let path = ["webhooks", id, "deliveries", delivery_id, "retry"];
        self.call(self.authed(Method::POST, &path)?).await
    }

    /// `POST /webhooks/{id}/ping`: a `webhook.ping`, sent now.
    pub async fn ping_webhook(&self, id: &str) -> Result<DeliveryResponse, Error> {
        self.call(self.authed(Method::POST, &["webhooks", id, "ping"])?)
            .await
    }

    // ------------------------------------------------------------ roles

    /// `GET /roles`: the org's custom roles.
    pub async fn list_roles(&self) -> Result<RoleList, Error> {
        self.get(&["roles"]).await
    }

    /// `POST /roles`.
    pub async fn create_role(&self, request: &CreateRoleRequest) -> Result<RoleResponse, Error> {
        self.send_json(Method::POST, &["roles"], request).await
    }

    /// `GET /roles/{key}`.
    pub async fn get_role(&self, key: &str) -> Result<RoleResponse, Error> {
        self.get(&["roles", key]).await
    }

    /// `PUT /roles/{key}`: replaces the name and the policy.
    pub async fn update_role(
        &self,
        key: &str,
        request: &UpdateRoleRequest,
    ) -> Result<RoleResponse, Error> {
        self.send_json(Method::PUT, &["roles", key], request).await
    }

    /// `DELETE /roles/{key}`.
    pub async fn delete_role(&self, key: &str) -> Result<(), Error> {
        self.delete(&["roles", key]).await
    }

    // ------------------------------------------------------------ projects

    /// `GET /projects`.
    pub async fn list_projects(&self) -> Result<ProjectList, Error> {
        self.get(&["projects"]).await
    }

    /// `POST /projects`.
    pub async fn create_project(
        &self,
        request: &CreateProjectRequest,
    ) -> Result<ProjectResponse, Error> {
        self.send_json(Method::POST, &["projects"], request).await
    }

    /// `GET /projects/{key}`.
    pub async fn get_project(&self, key: &str) -> Result<ProjectResponse, Error> {
        self.get(&["projects", key]).await
    }

    /// `DELETE /projects/{key}`.
    pub async fn delete_project(&self, key: &str) -> Result<(), Error> {
        self.delete(&["projects", key]).await
    }

    // ------------------------------------------------------------ org

    /// `GET /org`: the org and its token policy.
    pub async fn get_org(&self) -> Result<OrgResponse, Error> {
        self.get(&["org"]).await
    }

    /// `PATCH /org`.
    pub async fn update_org(&self, request: &UpdateOrgRequest) -> Result<OrgResponse, Error> {
        self.send_json(Method::PATCH, &["org"], request).await
    }

    // ------------------------------------------------------------ audit

    /// `GET /audit`: one page, newest first; pass `next_cursor` as
    /// `before` for the next.
    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<AuditPage, Error> {
        let mut url = self.api_url(&["audit"])?;
        filter.apply(&mut url);
        self.call(Call::new(Method::GET, url, Auth::Required)).await
    }

    /// `GET /audit?format=jsonl|csv`: every event the filter matches (at
    /// most `filter.limit`), written to `out` as the server streams it.
    /// Returns the bytes written.
    pub async fn export_audit(
        &self,
        filter: &AuditFilter,
        format: AuditExport,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<u64, Error> {
        let mut url = self.api_url(&["audit"])?;
        filter.apply(&mut url);
        url.query_pairs_mut().append_pair("format", format.as_str());
        self.download(Call::new(Method::GET, url, Auth::Required), out)
            .await
    }

    // ------------------------------------------------------------ no credential

    /// `POST /verify`: for services checking a presented token. Needs no
    /// credential; the client's own is not sent.
    pub async fn verify(&self, request: &VerifyRequest) -> Result<VerifyResponse, Error> {
        let url = self.api_url(&["verify"])?;
        self.call(Call::new(Method::POST, url, Auth::None).json(request)?)
            .await
    }

    /// `POST /leaks`: every live token among `tokens` is revoked. Needs no
    /// credential, so a scanner can report what it found.
    pub async fn report_leaks(&self, report: &LeakReport) -> Result<LeakReportResponse, Error> {
        let url = self.api_url(&["leaks"])?;
        self.call(Call::new(Method::POST, url, Auth::None).json(report)?)
            .await
    }

    /// `GET /auth`: forward-auth, as a reverse proxy asks it. Presents
    /// `token` (not the client's own credential), optionally asking whether
    /// it may do `action` on `resource`; a `200` gives the identity headers.
    /// A refused token is [`Error::Api`] with status 401 (`unauthenticated`,
    /// `invalid_token`, `token_expired`) or 403 (`forbidden`).
    pub async fn forward_auth(
        &self,
        token: &str,
        permission: Option<(&str, &str)>,
    ) -> Result<ForwardAuthIdentity, Error> {
        let mut url = self.api_url(&["auth"])?;
        if let Some((action, resource)) = permission {
            url.query_pairs_mut()
                .append_pair("action", action)
                .append_pair("resource", resource);
        }
        let response = self.get_presenting(url, token).await?;
        let header = |name: &str| -> Result<String, Error> {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| Error::Decode(format!("/api/v1/auth: the answer has no {name}")))
        };
        let member = header("x-tessera-member").ok();
        let service_account = header("x-tessera-service-account").ok();
        if member.is_none() && service_account.is_none() {
            header("x-tessera-member")?;
        }
        Ok(ForwardAuthIdentity {
            member,
            service_account,
            org: header("x-tessera-org")?,
            token_id: header("x-tessera-token-id")?,
            external_id: header("x-tessera-external-id").ok(),
        })
    }

    /// `GET /metrics`: the Prometheus (OpenMetrics) text.
    pub async fn metrics(&self) -> Result<String, Error> {
        let url = self.root_url(&["metrics"])?;
        self.get_text(url).await
    }

    /// `GET /healthz`: succeeds when the server process answers.
    pub async fn health(&self) -> Result<(), Error> {
        let url = self.root_url(&["healthz"])?;
        self.call_empty(Call::new(Method::GET, url, Auth::None))
            .await
    }

    /// `GET /readyz`: succeeds when the server can serve requests (its
    /// database is reachable).
    pub async fn ready(&self) -> Result<(), Error> {
        let url = self.root_url(&["readyz"])?;
        self.call_empty(Call::new(Method::GET, url, Auth::None))
            .await
    }

    /// `GET /api/v1/openapi.json`: the API's OpenAPI document.
    pub async fn openapi(&self) -> Result<serde_json::Value, Error> {
        let url = self.api_url(&["openapi.json"])?;
        self.call(Call::new(Method::GET, url, Auth::None)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_filter_builds_the_query() {
        let client = Client::new("http://h.example", None).expect("client");
        let mut url = client.api_url(&["audit"]).expect("url");
        AuditFilter::default().apply(&mut url);
        assert_eq!(url.as_str(), "http://h.example/api/v1/audit");

        let filter = AuditFilter {
            actor: Some("m1".into()),
            action: Some("token:create".into()),
            target: Some("member/m1:token/t 1".into()),
            before: None,
            limit: Some(20),
        };
        let mut url = client.api_url(&["audit"]).expect("url");
        filter.apply(&mut url);
        assert_eq!(
            url.as_str(),
            "http://h.example/api/v1/audit?actor=m1&action=token%3Acreate\
             &target=member%2Fm1%3Atoken%2Ft+1&limit=20"
        );
    }
}
