//! The host product's look on every page: its name and logo in the header
//! and titles (`brand_name`, `brand_logo_url`), and who may frame the
//! pages (`frame_ancestors`).
//!
//! The look is the deployment's, fixed at start-up, but pages are built
//! in many places that have no state at hand (error pages, the login
//! form). So [`dress`] runs every non-verification request inside a task
//! local holding it, and [`current`] reads it where a [`super::render::Layout`]
//! is made. Several servers in one process (the tests) each keep their own.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::Config;
use crate::headers::{Framable, CONTENT_SECURITY_POLICY};

tokio::task_local! {
    static LOOK: Arc<Look>;
}

/// The deployment's look, computed once.
#[derive(Debug)]
pub struct Look {
    pub name: String,
    pub logo: Option<String>,
    /// The pages' CSP when it differs from the default one (framing
    /// allowed, or a logo from another origin).
    csp: Option<HeaderValue>,
    framable: bool,
}

impl Default for Look {
    fn default() -> Self {
        Self {
            name: "Tessera".into(),
            logo: None,
            csp: None,
            framable: false,
        }
    }
}

impl Look {
    /// Whether this is Tessera's own look, as [`current`] gives outside
    /// [`dress`].
    pub fn is_default(&self) -> bool {
        let default = Look::default();
        self.name == default.name && self.logo.is_none() && self.csp.is_none() && !self.framable
    }

    pub fn new(config: &Config) -> Self {
        let web = &config.web;
        let logo_origin = web.brand_logo_url.as_ref().and_then(|l| l.origin());
        let framable = !web.frame_ancestors.0.is_empty();
        let csp = (framable || logo_origin.is_some()).then(|| {
            let img = logo_origin.map_or_else(String::new, |o| format!("img-src 'self' {o}; "));
            let policy = CONTENT_SECURITY_POLICY.replace(
                "frame-ancestors 'none'; ",
                &format!("{img}frame-ancestors {}; ", web.frame_ancestors.directive()),
            );
            // The origins were checked at start-up (no control characters).
            HeaderValue::from_str(&policy)
                .unwrap_or_else(|_| HeaderValue::from_static(CONTENT_SECURITY_POLICY))
        });
        Self {
            name: web.brand_name.clone(),
            logo: web.brand_logo_url.as_ref().map(|l| l.as_str().to_owned()),
            csp,
            framable,
        }
    }
}

/// The look of the request being served (the default outside [`dress`]).
pub fn current() -> Arc<Look> {
    LOOK.try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::new(Look::default()))
}

/// Serves `request` with `look` at hand, and gives HTML pages the CSP
/// that lets the configured origins frame them.
pub async fn dress(State(look): State<Arc<Look>>, request: Request, next: Next) -> Response {
    let mut response = LOOK.scope(Arc::clone(&look), next.run(request)).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if let (true, Some(csp)) = (is_page, &look.csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp.clone());
        if look.framable {
            response.extensions_mut().insert(Framable);
        }
    }
    response
}
