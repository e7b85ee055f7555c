//! The org's webhook endpoints: list and make them (the signing secret
//! shown once, in the answer to the form), and each one's page: change its
//! URL, events or description, delete it, send a ping, and its deliveries
//! with a "retry" per delivery. Every action is the API's operation in
//! [`crate::service::webhooks`]; a member without the permission gets its
//! 403 as a page.

use askama::Template;
use axum::extract::{Path, RawQuery};
use axum::http::{header, StatusCode};
use axum::response::Response;
use tessera_api::{CreateWebhookRequest, CreatedWebhookResponse, UpdateWebhookRequest};
use tessera_core::webhook::{ALL_EVENTS, EVENT_TYPES};

use super::{confirm, notice, query_of};
use crate::sent_forms::{Claim, FirstSent, FORM_ID_FIELD};
use crate::service::{webhooks, ServiceError};
use crate::web::forms::{redirect, shown, FormData, PageResult, Problems, WebForm};
use crate::web::render::{member_error_page, page, when, Layout};
use crate::web::session::WebUser;

/// Latest deliveries shown per endpoint on the list.
const SHOWN: usize = 5;
/// The form's fields, as the service's messages name them.
const FIELDS: &[&str] = &["url", "events", "description"];

/// Messages a redirect to a webhook's page may ask for by name.
fn hook_notice(query: &FormData) -> Option<&'static str> {
    match query.get("done") {
        "pinged" => Some("A ping was sent: its delivery is the newest below."),
        "retried" => Some("The delivery was sent again: its new status is below."),
        _ => notice(query),
    }
}

struct DeliveryRow {
    id: String,
    event_type: String,
    status: String,
    attempts: u32,
    /// The last answer's status, or why there was none.
    last: String,
    next: String,
}

fn delivery_rows(items: Vec<tessera_api::DeliveryResponse>, most: usize) -> Vec<DeliveryRow> {
    items
        .into_iter()
        .take(most)
        .map(|d| DeliveryRow {
            last: match (d.last_response_code, d.last_error) {
                (Some(code), _) => code.to_string(),
                (None, Some(error)) => error,
                (None, None) => "—".into(),
            },
            next: d.next_attempt_at.map_or_else(|| "—".into(), when),
            id: d.id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
        })
        .collect()
}

struct HookView {
    id: String,
    url: String,
    events: String,
    description: Option<String>,
    deliveries: Vec<DeliveryRow>,
}

/// One checkbox of the events field.
struct EventChoice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

/// "All events", then every type, checked as `chosen` says.
fn event_choices(chosen: &[String]) -> Vec<EventChoice> {
    let all = std::iter::once((ALL_EVENTS, "All events (also those added later)"));
    all.chain(EVENT_TYPES.iter().map(|e| (*e, *e)))
        .map(|(value, label)| EventChoice {
            value,
            label,
            checked: chosen.iter().any(|c| c == value),
        })
        .collect()
}

/// The URL, events and description fields, as sent or as stored.
struct HookFields {
    url: String,
    events: Vec<EventChoice>,
    description: String,
}

impl HookFields {
    fn sent(form: &FormData) -> Self {
        Self {
            url: form.get("url").to_owned(),
            events: event_choices(&form.all("events")),
            description: form.get("description").to_owned(),
        }
    }
}

/// A service error next to the field it is about. The webhook checks name
/// their field first ("url: ...", "events: ...", "description must ..."),
/// in `400`s as well as `422`s.
fn problems(err: ServiceError) -> Problems {
    let text = match &err {
        ServiceError::BadRequest(m) | ServiceError::Unprocessable { message: m, .. } => {
            Some(m.clone())
        }
        _ => None,
    };
    let general = Problems::from_api(err, FIELDS);
    let Some(text) = text.filter(|_| general.general.is_some()) else {
        return general;
    };
    for field in FIELDS {
        let reason = text
            .strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(": ").or_else(|| rest.strip_prefix(' ')));
        if let Some(reason) = reason {
            let mut p = Problems::field(field, sentence(reason));
            p.status = general.status;
            return p;
        }
    }
    general
}

/// Capital first letter and a final full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[derive(Template)]
#[template(path = "admin_webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    hooks: Vec<HookView>,
    notice: Option<&'static str>,
    can_add: bool,
    fields: HookFields,
    problems: Problems,
}

async fn webhooks_page(
    user: &WebUser,
    sent: Option<(&FormData, Problems)>,
    notice: Option<&'static str>,
) -> PageResult {
    let caller = &user.call.caller;
    if !webhooks::may_read(caller) {
        return Err(ServiceError::forbidden("webhook:read", "webhook/*").into());
    }
    let list = webhooks::list(&user.call).await?.items;
    let mut hooks = Vec::with_capacity(list.len());
    for w in list {
        let deliveries = webhooks::deliveries(&user.call, &w.id).await?.items;
        hooks.push(HookView {
            deliveries: delivery_rows(deliveries, SHOWN),
            id: w.id,
            url: w.url,
            events: w.events.join(", "),
            description: w.description,
        });
    }
    let (form, problems) = shown(sent);
    Ok(page(
        problems.page_status(),
        &WebhooksPage {
            layout: user.layout("Webhooks", "webhooks"),
            hooks,
            notice,
            can_add: webhooks::may_create(caller),
            fields: HookFields::sent(form),
            problems,
        },
    ))
}

pub(super) async fn list(user: WebUser, RawQuery(raw): RawQuery) -> PageResult {
    webhooks_page(&user, None, notice(&query_of(raw))).await
}

#[derive(Template)]
#[template(path = "admin_webhook_created.html")]
struct CreatedPage {
    layout: Layout,
    id: String,
    url: String,
    secret: String,
}

/// `POST /admin/webhooks`: the answer is the page that shows the signing
/// secret, this once (never a redirect, so it is in no URL; `no-store`).
/// The same form sent again (a reload, a double click) makes nothing more
/// and does not show the secret again.
pub(super) async fn create(user: WebUser, WebForm(form): WebForm) -> PageResult {
    let request = CreateWebhookRequest {
        url: form.get("url").trim().to_owned(),
        events: form.all("events"),
        description: form.opt("description"),
    };
    let claim = user.call.state.sent_forms.claim(
        user.member_id(),
        form.opt(FORM_ID_FIELD).as_deref(),
        user.call.now,
    );
    let ticket = match claim {
        Claim::First(ticket) => ticket,
        Claim::Again(first) => return Ok(sent_again(&user, first)),
    };
    match webhooks::create(&user.call, request).await {
        Ok(CreatedWebhookResponse { webhook, secret }) => {
            ticket.done(&webhook.id, &webhook.url);
            Ok(created_page(&user, webhook.id, webhook.url, secret))
        }
        Err(e @ (ServiceError::BadRequest(_) | ServiceError::Unprocessable { .. })) => {
            webhooks_page(&user, Some((&form, problems(e))), None).await
        }
        Err(e) => Err(e.into()),
    }
}

fn created_page(user: &WebUser, id: String, url: String, secret: String) -> Response {
    let mut response = page(
        StatusCode::CREATED,
        &CreatedPage {
            layout: user.layout("Webhook created", "webhooks"),
            id,
            url,
            secret,
        },
    );
    response
        .headers_mut()
        .insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    response
}

fn sent_again(user: &WebUser, first: FirstSent) -> Response {
    let message = match first {
        FirstSent::InProgress => "This form was already sent and is still being handled; \
                                  nothing more was done. Open the webhooks to see the result."
            .to_owned(),
        FirstSent::Done { token_name, .. } => format!(
            "This form was already sent: the webhook for {token_name} was created then, and \
             nothing more was done now. Its signing secret was shown only once, on that page, \
             and is not kept in a form you can read again. If you did not copy it, delete the \
             webhook and make it again."
        ),
    };
    member_error_page(
        user.layout("Already sent", "webhooks"),
        StatusCode::CONFLICT,
        &message,
    )
}

#[derive(Template)]
#[template(path = "admin_webhook.html")]
struct WebhookPage {
    layout: Layout,
    id: String,
    url: String,
    created: String,
    notice: Option<&'static str>,
    can_update: bool,
    can_delete: bool,
    fields: HookFields,
    problems: Problems,
    deliveries: Vec<DeliveryRow>,
}

async fn webhook_page(
    user: &WebUser,
    id: &str,
    sent: Option<(&FormData, Problems)>,
    notice: Option<&'static str>,
) -> PageResult {
    let hook = webhooks::show(&user.call, id).await?;
    let deliveries = webhooks::deliveries(&user.call, id).await?.items;
    let caller = &user.call.caller;
    let fields = match &sent {
        Some((form, _)) => HookFields::sent(form),
        None => HookFields {
            url: hook.url.clone(),
            events: event_choices(&hook.events),
            description: hook.description.clone().unwrap_or_default(),
        },
    };
    let problems = sent.map(|(_, p)| p).unwrap_or_default();
    Ok(page(
        problems.page_status(),
        &WebhookPage {
            layout: user.layout(format!("Webhook {}", hook.url), "webhooks"),
            can_update: webhooks::may(caller, "webhook:update", id),
            can_delete: webhooks::may(caller, "webhook:delete", id),
            id: hook.id,
            url: hook.url,
            created: when(hook.created_at),
            notice,
            fields,
            problems,
            deliveries: delivery_rows(deliveries, usize::MAX),
        },
    ))
}

pub(super) async fn show(
    user: WebUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    webhook_page(&user, &id, None, hook_notice(&query_of(raw))).await
}

/// `POST /admin/webhooks/{id}`: the three fields as the form shows them
/// (an empty description clears it).
pub(super) async fn update(
    user: WebUser,
    Path(id): Path<String>,
    WebForm(form): WebForm,
) -> PageResult {
    let request = UpdateWebhookRequest {
        url: Some(form.get("url").trim().to_owned()),
        events: Some(form.all("events")),
        description: Some(form.get("description").trim().to_owned()),
    };
    match webhooks::update(&user.call, &id, request).await {
        Ok(_) => redirect(&format!("/admin/webhooks/{id}?done=saved")),
        Err(e @ (ServiceError::BadRequest(_) | ServiceError::Unprocessable { .. })) => {
            webhook_page(&user, &id, Some((&form, problems(e))), None).await
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn ping(user: WebUser, Path(id): Path<String>, WebForm(_): WebForm) -> PageResult {
    webhooks::ping(&user.call, &id).await?;
    redirect(&format!("/admin/webhooks/{id}?done=pinged"))
}

pub(super) async fn retry(
    user: WebUser,
    Path((id, delivery)): Path<(String, String)>,
    WebForm(_): WebForm,
) -> PageResult {
    webhooks::retry(&user.call, &id, &delivery).await?;
    redirect(&format!("/admin/webhooks/{id}?done=retried"))
}

pub(super) async fn confirm_delete(user: WebUser, Path(id): Path<String>) -> PageResult {
    let hook = webhooks::show(&user.call, &id).await?;
    Ok(confirm(
        &user,
        "webhooks",
        format!("Delete the webhook for {}?", hook.url),
        "No more events are sent to this URL, and deliveries not yet made are dropped.".into(),
        format!("/admin/webhooks/{id}/delete"),
        "Delete webhook".into(),
        format!("/admin/webhooks/{id}"),
    ))
}

pub(super) async fn delete(
    user: WebUser,
    Path(id): Path<String>,
    WebForm(_): WebForm,
) -> PageResult {
    webhooks::delete(&user.call, &id).await?;
    redirect("/admin/webhooks?done=deleted")
}
