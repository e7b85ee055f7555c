//! My tokens: the list, the create form, the page of one token (edit,
//! rotate, clone, delete), and the page that shows a new value once.
//!
//! Each action builds the API's request type from the form and calls the
//! same operation in [`crate::service::tokens`] as `/api/v1/tokens`, so the
//! page obeys exactly the API's permission checks and lifecycle rules.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_api::{
    CloneTokenRequest, CreateTokenRequest, CreatedTokenResponse, RotateTokenRequest, TokenResponse,
    UpdateTokenRequest,
};
use tessera_core::lifecycle::validate_name;
use time::OffsetDateTime;

use super::forms::{
    done_or_again, expiry_from, query_of, redirect, required_expiry, FormData, PageResult,
    Problems, WebForm,
};
use super::minted::mint_once;
use super::render::{page, Layout, TokenView};
use super::session::WebUser;
use super::{scope, scope::ExpiryFields, scope::ScopeFields, token_access};
use crate::service::{service_accounts, token_controls, tokens, ServiceError};
use crate::state::AppState;

/// Form fields an API error may be about.
pub(super) const TOKEN_FIELDS: &[&str] = &[
    "name",
    "scope",
    "custom_roles",
    "policy",
    "projects",
    "expires_at",
];

#[derive(Template)]
#[template(path = "tokens.html")]
struct ListPage {
    layout: Layout,
    tokens: Vec<TokenView>,
    notice: Option<&'static str>,
}

/// Messages a redirect may ask for by name (never with user data in the URL).
fn notice(query: &FormData) -> Option<&'static str> {
    match query.get("done") {
        "deleted" => Some("The token was deleted. Anything still using it is refused from now on."),
        "saved" => Some("Your changes were saved."),
        "expiry" => Some("The expiry was set. The token can be rotated now."),
        "disabled" => {
            Some("The token was disabled. Anything using it is refused until you enable it.")
        }
        "enabled" => Some("The token was enabled. It works again."),
        _ => None,
    }
}

/// `GET /tokens`: my tokens, newest first.
pub async fn list(user: WebUser, RawQuery(raw): RawQuery) -> PageResult {
    let now = user.call.now;
    let list = tokens::list(&user.call).await?;
    Ok(page(
        StatusCode::OK,
        &ListPage {
            layout: user.layout("My tokens", "tokens"),
            tokens: list.items.iter().map(|t| TokenView::new(t, now)).collect(),
            notice: notice(&query_of(raw)),
        },
    ))
}

#[derive(Template)]
#[template(path = "token_new.html")]
struct NewPage {
    layout: Layout,
    name: String,
    scope: ScopeFields,
    expiry: ExpiryFields,
    problems: Problems,
}

async fn new_page(user: &WebUser, form: &FormData, problems: Problems) -> Response {
    let scope = ScopeFields::build(&user.call, form, &problems).await;
    let expiry = ExpiryFields::build(&user.call, form, &problems, true);
    let status = problems.page_status();
    page(
        status,
        &NewPage {
            layout: user.layout("Create a token", "tokens"),
            name: form.get("name").to_owned(),
            scope,
            expiry,
            problems,
        },
    )
}

/// `GET /tokens/new`.
pub async fn new_form(user: WebUser) -> Response {
    new_page(&user, &FormData::default(), Problems::default()).await
}

/// `POST /tokens`: create, and show the value this once.
pub async fn create(user: WebUser, headers: HeaderMap, WebForm(form): WebForm) -> Response {
    // "Check the policy": the form again, the policy read, nothing minted.
    if let Some(checked) = scope::policy_checked(&form, TOKEN_FIELDS) {
        return new_page(&user, &form, checked).await;
    }
    let request = match create_request(&form, user.call.now) {
        Ok(r) => r,
        Err(problems) => return new_page(&user, &form, problems).await,
    };
    let call = tokens::create(&user.call, request);
    match mint_once(&user, &headers, &form, "created", call).await {
        Ok(page) => page,
        Err(e) => new_page(&user, &form, Problems::from_api(e, TOKEN_FIELDS)).await,
    }
}

/// The API's request from the form, or every problem the form's shape
/// shows at once (the name by the domain's own rule, so that an empty name
/// is not hidden behind a policy that does not parse).
pub(super) fn create_request(
    form: &FormData,
    now: OffsetDateTime,
) -> Result<CreateTokenRequest, Problems> {
    let name =
        validate_name("name", form.get("name")).map_err(|e| Problems::from_api(e, TOKEN_FIELDS));
    match (name, scope::chosen(form), expiry_from(form, now)) {
        (Ok(()), Ok(chosen), Ok(expires_at)) => Ok(CreateTokenRequest {
            name: form.get("name").to_owned(),
            role: chosen.role,
            custom_roles: chosen.custom_roles,
            policy: chosen.policy,
            projects: Some(form.all("projects")),
            expires_at,
            ..Default::default()
        }),
        (name, chosen, expiry) => {
            let mut problems = Problems::default();
            for p in [name.err(), chosen.err(), expiry.err()]
                .into_iter()
                .flatten()
            {
                problems.merge(p);
            }
            Err(problems)
        }
    }
}

/// A value-minting form of a token's page: as sent, which one it is, and
/// the fields an API error may be about.
struct MintForm<'a> {
    form: &'a FormData,
    which: Form,
    fields: &'static [&'static str],
}

/// [`mint_once`] from a token's page, which shows again with the problem
/// next to its field when the service refuses.
async fn mint_or_show(
    user: &WebUser,
    id: &str,
    headers: &HeaderMap,
    sent: MintForm<'_>,
    verb: &'static str,
    mint: impl std::future::Future<Output = Result<CreatedTokenResponse, ServiceError>>,
) -> PageResult {
    match mint_once(user, headers, sent.form, verb, mint).await {
        Ok(page) => Ok(page),
        Err(e) => {
            let p = Problems::from_api(e, sent.fields);
            show_page(user, id, None, Some((sent.which, sent.form, p))).await
        }
    }
}

#[derive(Template)]
#[template(path = "token_show.html")]
struct ShowPage {
    layout: Layout,
    token: TokenView,
    own: bool,
    /// May the caller rename, re-scope, rotate and clone it: their own
    /// token, or a service account's whose tokens they manage.
    manage: bool,
    /// May the caller disable (or enable) it: the button is offered.
    toggle: bool,
    /// Rotate, or (a token that never expires) set an expiry first: the
    /// page offers the one form that can succeed.
    rotatable: bool,
    /// Where "back" and a deletion lead: my tokens, or (an admin looking
    /// at someone else's token) that member's or service account's page.
    back: String,
    back_label: &'static str,
    notice: Option<&'static str>,
    name: String,
    scope: ScopeFields,
    problems: Problems,
    expiry: ExpiryFields,
    rotate_problems: Problems,
    clone_name: String,
    clone_problems: Problems,
    access: token_access::AccessView,
}

/// The page's forms.
#[derive(Clone, Copy)]
enum Form {
    Edit,
    Rotate,
    /// Set an expiry, shown instead of Rotate for a token without one.
    Expiry,
    Clone,
    Access,
}

impl Form {
    /// The form's place in `show_page`'s arrays. Rotate and Expiry share
    /// one (the page shows one of them, with the same expiry fields).
    fn slot(self) -> usize {
        match self {
            Self::Edit => 0,
            Self::Rotate | Self::Expiry => 1,
            Self::Clone => 2,
            Self::Access => 3,
        }
    }
}

/// Which of the page's forms was sent, with its input and problems.
type Sent<'a> = Option<(Form, &'a FormData, Problems)>;

async fn show_page(
    user: &WebUser,
    id: &str,
    notice: Option<&'static str>,
    sent: Sent<'_>,
) -> PageResult {
    let token = tokens::show(&user.call, id).await?;
    let empty = FormData::default();
    let current = form_of(&token);
    let current_access = token_access::form_of(&token);
    // The edit and access forms show the token as it is, the others start
    // empty; the one sent shows what was sent.
    let mut forms = [&current, &empty, &empty, &current_access];
    let mut problems: [Problems; 4] = Default::default();
    if let Some((which, form, p)) = sent {
        forms[which.slot()] = form;
        problems[which.slot()] = p;
    }
    let status = problems
        .iter()
        .find(|p| !p.is_empty())
        .map_or(StatusCode::OK, Problems::status);
    let [edit_form, rotate_form, clone_form, access_form] = forms;
    let [problems, rotate_problems, clone_problems, access_problems] = problems;
    let access = token_access::view(&user.call, &token, access_form, access_problems).await;
    let mut scope = ScopeFields::build(&user.call, edit_form, &problems).await;
    if token.service_account_id.is_some() {
        scope = scope.for_account();
    }
    let expiry = ExpiryFields::build(&user.call, rotate_form, &rotate_problems, false);
    let own = token.member_id.as_deref() == Some(user.member_id());
    let (back, back_label) = match (&token.member_id, &token.service_account_id) {
        (Some(member), _) if member != user.member_id() => {
            (format!("/admin/members/{member}"), "Their member page")
        }
        (None, Some(account)) => (
            format!("/admin/service-accounts/{account}"),
            "The service account",
        ),
        _ => ("/tokens".into(), "My tokens"),
    };
    let clone_name = clone_form
        .opt("name")
        .unwrap_or_else(|| format!("{} (copy)", token.name));
    Ok(page(
        status,
        &ShowPage {
            layout: user.layout(format!("Token “{}”", token.name), "tokens"),
            own,
            manage: own || service_accounts::may_change_token(&user.call.caller, &token),
            toggle: token_controls::may_toggle(&user.call.caller, &token),
            rotatable: tokens::rotatable(&token),
            back,
            back_label,
            token: TokenView::new(&token, user.call.now),
            notice,
            name: edit_form.get("name").to_owned(),
            scope,
            problems,
            expiry,
            rotate_problems,
            clone_name,
            clone_problems,
            access,
        },
    ))
}

/// `POST /tokens/{id}/access`: allowed addresses, rate limit, quota. The
/// quota is sent only when its fields changed (sending it sets the count
/// anew).
pub async fn set_access(
    user: WebUser,
    Path(id): Path<String>,
    WebForm(form): WebForm,
) -> PageResult {
    let mut request = match token_access::request(&form) {
        Ok(r) => r,
        Err(p) => return show_page(&user, &id, None, Some((Form::Access, &form, p))).await,
    };
    let token = tokens::show(&user.call, &id).await?;
    let current = token_access::form_of(&token);
    if ["quota", "refill_amount", "refill_interval"]
        .iter()
        .all(|f| current.get(f).trim() == form.get(f).trim())
    {
        request.quota = None;
    }
    let saved = tokens::update(&user.call, &id, request).await;
    done_or_again(
        saved,
        &format!("/tokens/{id}?done=saved#access-h"),
        token_access::ACCESS_FIELDS,
        |p| show_page(&user, &id, None, Some((Form::Access, &form, p))),
    )
    .await
}

/// The edit form's fields as the token is now.
fn form_of(token: &TokenResponse) -> FormData {
    let mut pairs = vec![("name".to_owned(), token.name.clone())];
    let kind = if let Some(role) = token.role {
        pairs.push(("role".into(), role.to_string()));
        "role"
    } else if let Some(roles) = &token.custom_roles {
        pairs.extend(roles.iter().map(|r| ("custom_roles".into(), r.clone())));
        "custom"
    } else if let Some(policy) = &token.policy {
        let text = serde_json::to_string_pretty(policy).unwrap_or_default();
        pairs.push(("policy".into(), text));
        "policy"
    } else {
        "inherit"
    };
    pairs.push(("scope".into(), kind.into()));
    pairs.extend(
        token
            .projects
            .iter()
            .map(|p| ("projects".into(), p.clone())),
    );
    FormData::from_pairs(pairs)
}

/// `GET /tokens/{id}`.
pub async fn show(user: WebUser, Path(id): Path<String>, RawQuery(raw): RawQuery) -> PageResult {
    show_page(&user, &id, notice(&query_of(raw)), None).await
}

/// `POST /tokens/{id}`: rename, re-scope, re-restrict.
pub async fn update(user: WebUser, Path(id): Path<String>, WebForm(form): WebForm) -> PageResult {
    if let Some(checked) = scope::policy_checked(&form, TOKEN_FIELDS) {
        return show_page(&user, &id, None, Some((Form::Edit, &form, checked))).await;
    }
    let chosen = match scope::chosen(&form) {
        Ok(c) => c,
        Err(p) => return show_page(&user, &id, None, Some((Form::Edit, &form, p))).await,
    };
    let projects = form.all("projects");
    let request = UpdateTokenRequest {
        name: Some(form.get("name").to_owned()),
        role: Some(chosen.role),
        custom_roles: Some(chosen.custom_roles),
        policy: Some(chosen.policy),
        projects: Some((!projects.is_empty()).then_some(projects)),
        ..Default::default()
    };
    let saved = tokens::update(&user.call, &id, request).await;
    done_or_again(
        saved,
        &format!("/tokens/{id}?done=saved"),
        TOKEN_FIELDS,
        |p| show_page(&user, &id, None, Some((Form::Edit, &form, p))),
    )
    .await
}

/// `POST /tokens/{id}/rotate`: a new value for the same token.
pub async fn rotate(
    user: WebUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    WebForm(form): WebForm,
) -> PageResult {
    let expires_at = required_expiry(&form, user.call.now, "A rotation needs a new expiry date.");
    let grace = form
        .get("grace")
        .parse::<u32>()
        .map_err(|_| Problems::field("grace_period_seconds", "Choose a grace period."));
    let request = match (expires_at, grace) {
        (Ok(expires_at), Ok(grace)) => RotateTokenRequest {
            expires_at,
            grace_period_seconds: Some(grace),
        },
        (Err(p), _) | (_, Err(p)) => {
            return show_page(&user, &id, None, Some((Form::Rotate, &form, p))).await
        }
    };
    let call = tokens::rotate(&user.call, &id, request);
    let sent = MintForm {
        form: &form,
        which: Form::Rotate,
        fields: &["expires_at", "grace_period_seconds"],
    };
    mint_or_show(&user, &id, &headers, sent, "rotated", call).await
}

/// `POST /tokens/{id}/expiry`: give a token that never expires an expiry,
/// as `PATCH /api/v1/tokens/{id}` with `expires_at` does, so that it can be
/// rotated (the page offers this instead of Rotate for such a token).
pub async fn set_expiry(
    user: WebUser,
    Path(id): Path<String>,
    WebForm(form): WebForm,
) -> PageResult {
    let expires_at = match required_expiry(&form, user.call.now, "Choose when the token expires.") {
        Ok(at) => at,
        Err(p) => return show_page(&user, &id, None, Some((Form::Expiry, &form, p))).await,
    };
    let request = UpdateTokenRequest {
        expires_at: Some(Some(expires_at)),
        ..UpdateTokenRequest::default()
    };
    let saved = tokens::update(&user.call, &id, request).await;
    done_or_again(
        saved,
        &format!("/tokens/{id}?done=expiry"),
        &["expires_at"],
        |p| show_page(&user, &id, None, Some((Form::Expiry, &form, p))),
    )
    .await
}

/// `POST /tokens/{id}/clone`: a new token with the same scope.
pub async fn clone(
    user: WebUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    WebForm(form): WebForm,
) -> PageResult {
    let request = CloneTokenRequest {
        name: Some(form.get("name").to_owned()),
    };
    let call = tokens::clone(&user.call, &id, request);
    let sent = MintForm {
        form: &form,
        which: Form::Clone,
        fields: &["name", "expires_at"],
    };
    mint_or_show(&user, &id, &headers, sent, "cloned", call).await
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    pub warning: String,
    pub action: String,
    pub button: String,
    pub cancel: String,
    pub back: String,
}

/// Where to go after deleting: my list, or the admin's page of a member
/// or of a service account.
fn safe_back(back: &str) -> String {
    let ok = ["/admin/members/", "/admin/service-accounts/"]
        .iter()
        .any(|prefix| {
            back.strip_prefix(prefix)
                .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
        });
    if ok {
        back.to_owned()
    } else {
        "/tokens".into()
    }
}

/// `GET /tokens/{id}/delete`: a confirmation that names the token.
pub async fn confirm_delete(
    State(_state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let back = safe_back(query_of(raw).get("back"));
    let token = tokens::show(&user.call, &id).await?;
    Ok(page(
        StatusCode::OK,
        &ConfirmPage {
            layout: user.layout("Delete token", "tokens"),
            heading: format!("Delete the token “{}”?", token.name),
            message: format!(
                "The token {} (“{}”) will stop working at once, everywhere.",
                token.snippet, token.name
            ),
            warning:
                "Anything still using it gets 401 from now on. A deleted token cannot be restored."
                    .into(),
            action: format!("/tokens/{id}/delete"),
            button: format!("Delete “{}”", token.name),
            cancel: if back == "/tokens" {
                format!("/tokens/{id}")
            } else {
                back.clone()
            },
            back,
        },
    ))
}

/// `POST /tokens/{id}/delete`.
pub async fn delete(
    State(_state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    WebForm(form): WebForm,
) -> PageResult {
    let back = safe_back(form.get("back"));
    tokens::delete(&user.call, &id).await?;
    redirect(&format!("{back}?done=deleted"))
}
