//! The org's webhook endpoints and their latest deliveries, read-only:
//! endpoints are made with the API or the CLI, whose answer shows the
//! signing secret once.

use askama::Template;
use axum::http::StatusCode;

use crate::service::webhooks;
use crate::web::forms::PageResult;
use crate::web::render::{page, when, Layout};
use crate::web::session::WebUser;

/// Deliveries shown per endpoint.
const SHOWN: usize = 10;

struct DeliveryRow {
    event_type: String,
    status: String,
    attempts: u32,
    /// The last answer's status, or why there was none.
    last: String,
    next: String,
}

struct HookView {
    id: String,
    url: String,
    events: String,
    description: Option<String>,
    deliveries: Vec<DeliveryRow>,
}

#[derive(Template)]
#[template(path = "admin_webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    hooks: Vec<HookView>,
}

pub(super) async fn webhooks(user: WebUser) -> PageResult {
    let list = webhooks::list(&user.call).await?.items;
    let mut hooks = Vec::with_capacity(list.len());
    for w in list {
        let deliveries = webhooks::deliveries(&user.call, &w.id).await?.items;
        hooks.push(HookView {
            deliveries: deliveries
                .into_iter()
                .take(SHOWN)
                .map(|d| DeliveryRow {
                    last: match (d.last_response_code, d.last_error) {
                        (Some(code), _) => code.to_string(),
                        (None, Some(error)) => error,
                        (None, None) => "—".into(),
                    },
                    next: d.next_attempt_at.map_or_else(|| "—".into(), when),
                    event_type: d.event_type,
                    status: d.status,
                    attempts: d.attempts,
                })
                .collect(),
            id: w.id,
            url: w.url,
            events: w.events.join(", "),
            description: w.description,
        });
    }
    Ok(page(
        StatusCode::OK,
        &WebhooksPage {
            layout: user.layout("Webhooks", "webhooks"),
            hooks,
        },
    ))
}
