//! The platform API (`/api/v1/platform/*`), for the host product's
//! backend. Make the client with a platform key as its credential
//! (`Client::new(url, Some(platform_key))`): the platform API takes
//! nothing else, and a platform key works nowhere else.

use reqwest::{Method, StatusCode};
use tessera_api::{
    CreateLoginLinkRequest, CreatePlatformOrgRequest, CreatedPlatformOrg, LoginLinkResponse,
    MemberResponse, PlatformAuditPage, PlatformOrg, PlatformOrgPage, PutMemberRequest,
    UpdatePlatformOrgRequest,
};

use crate::client::{Auth, Call};
use crate::{Client, Error};

/// Which page of a platform list (`GET /platform/orgs`, `/platform/audit`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageQuery {
    /// The `next_cursor` of the previous page.
    pub before: Option<String>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<u32>,
}

/// What `PUT …/members/{external_id}` did.
#[derive(Debug, Clone, PartialEq)]
pub struct PutMember {
    pub member: MemberResponse,
    /// `true` when the member was made now (201), `false` when they
    /// existed (200).
    pub created: bool,
}

impl Client {
    fn platform(&self, method: Method, path: &[&str]) -> Result<Call, Error> {
        let mut all = Vec::with_capacity(path.len() + 1);
        all.push("platform");
        all.extend_from_slice(path);
        Ok(Call::new(method, self.api_url(&all)?, Auth::Required))
    }

    fn paged(&self, path: &[&str], page: &PageQuery) -> Result<Call, Error> {
        let mut all = vec!["platform"];
        all.extend_from_slice(path);
        let mut url = self.api_url(&all)?;
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(before) = &page.before {
                pairs.append_pair("before", before);
            }
            if let Some(limit) = page.limit {
                pairs.append_pair("limit", &limit.to_string());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(Call::new(Method::GET, url, Auth::Required))
    }

    /// `POST /platform/orgs`: a new org with its first owner.
    pub async fn platform_create_org(
        &self,
        request: &CreatePlatformOrgRequest,
    ) -> Result<CreatedPlatformOrg, Error> {
        self.call(self.platform(Method::POST, &["orgs"])?.json(request)?)
            .await
    }

    /// `GET /platform/orgs`: a page of every org, newest first.
    pub async fn platform_list_orgs(&self, page: &PageQuery) -> Result<PlatformOrgPage, Error> {
        self.call(self.paged(&["orgs"], page)?).await
    }

    /// `GET /platform/orgs/{key}`.
    pub async fn platform_get_org(&self, key: &str) -> Result<PlatformOrg, Error> {
        self.call(self.platform(Method::GET, &["orgs", key])?).await
    }

    /// `PATCH /platform/orgs/{key}`: rename, suspend or lift it, change
    /// its token policy.
    pub async fn platform_update_org(
        &self,
        key: &str,
        request: &UpdatePlatformOrgRequest,
    ) -> Result<PlatformOrg, Error> {
        let call = self.platform(Method::PATCH, &["orgs", key])?;
        self.call(call.json(request)?).await
    }

    /// `DELETE /platform/orgs/{key}`: the org and everything in it, for
    /// good.
    pub async fn platform_delete_org(&self, key: &str) -> Result<(), Error> {
        self.call_empty(self.platform(Method::DELETE, &["orgs", key])?)
            .await
    }

    /// `PUT /platform/orgs/{key}/members/{external_id}`: makes the member
    /// match `request`, creating them if needed.
    pub async fn platform_put_member(
        &self,
        key: &str,
        external_id: &str,
        request: &PutMemberRequest,
    ) -> Result<PutMember, Error> {
        let call = self.platform(Method::PUT, &["orgs", key, "members", external_id])?;
        let (status, member) = self.call_with_status(call.json(request)?).await?;
        Ok(PutMember {
            member,
            created: status == StatusCode::CREATED,
        })
    }

    /// `GET /platform/orgs/{key}/members/{external_id}`.
    pub async fn platform_get_member(
        &self,
        key: &str,
        external_id: &str,
    ) -> Result<MemberResponse, Error> {
        self.call(self.platform(Method::GET, &["orgs", key, "members", external_id])?)
            .await
    }

    /// `DELETE /platform/orgs/{key}/members/{external_id}`: their tokens
    /// stop working at once.
    pub async fn platform_delete_member(&self, key: &str, external_id: &str) -> Result<(), Error> {
        self.call_empty(self.platform(Method::DELETE, &["orgs", key, "members", external_id])?)
            .await
    }

    /// `POST /platform/orgs/{key}/members/{external_id}/login-links`: a
    /// one-time link that opens a web session as the member.
    pub async fn platform_login_link(
        &self,
        key: &str,
        external_id: &str,
        request: &CreateLoginLinkRequest,
    ) -> Result<LoginLinkResponse, Error> {
        let path = ["orgs", key, "members", external_id, "login-links"];
        self.call(self.platform(Method::POST, &path)?.json(request)?)
            .await
    }

    /// `GET /platform/audit`: a page of the platform audit log, newest
    /// first.
    pub async fn platform_audit(&self, page: &PageQuery) -> Result<PlatformAuditPage, Error> {
        self.call(self.paged(&["audit"], page)?).await
    }
}
