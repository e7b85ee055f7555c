//! Single sign-on's pages: `GET /sso/start` (the login page's "Sign in
//! with …" button), `GET /sso/callback` (where the provider sends the
//! browser back), the org picker (`POST /sso/pick`) and a page for every
//! way a sign-in fails. The protocol is [`crate::sso`]'s, who the person
//! is here [`crate::service::sso`]'s; this only translates.
//!
//! Two cookies, both `HttpOnly`, `SameSite=Lax`, on `/sso` only, for
//! [`crate::sso::FLOW_SECONDS`]: `tessera_sso` ties a sign-in to the
//! browser that started it (its hash is kept with the flow), and
//! `tessera_sso_pick` holds the key of the org choice a person with
//! several orgs is making (kept in the store, taken once).

use askama::Template;
use axum::extract::{RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tessera_core::SecretHash;

use super::forms::{query_of, read_form};
use super::render::{page, Layout};
use crate::auth::{cookie, session_cookie};
use crate::headers::{is_https, Https};
use crate::peer::client_ip;
use crate::secrets::{hex, new_session_secret};
use crate::service::sso::{self as rules, Entry, Identity};
use crate::service::ServiceError;
use crate::sso::checks::Check;
use crate::sso::{Failure, Flow, FLOW_SECONDS};
use crate::state::AppState;

const FLOW_COOKIE: &str = "tessera_sso";
const PICK_COOKIE: &str = "tessera_sso_pick";

/// What the store keeps between two requests of a sign-in.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Step {
    Flow(Flow),
    Pick(Pick),
}

/// A signed-in person choosing an org.
#[derive(Debug, Serialize, Deserialize)]
struct Pick {
    identity: Identity,
    entries: Vec<Entry>,
    next: String,
}

fn flow_key(state: &str) -> SecretHash {
    SecretHash::of(&format!("sso-flow:{state}"))
}

fn pick_key(secret: &str) -> SecretHash {
    SecretHash::of(&format!("sso-pick:{secret}"))
}

fn browser_hash(secret: &str) -> String {
    hex(&SecretHash::of(&format!("sso-browser:{secret}")).0)
}

fn step_cookie(name: &str, value: &str, max_age: i64, https: bool) -> Option<HeaderValue> {
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/sso; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(value) = cookie {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Template)]
#[template(path = "sso_failed.html")]
struct FailedPage {
    layout: Layout,
    check: Option<&'static str>,
    message: String,
}

/// The page of a failed sign-in; `check` names the check that failed.
fn failed_page(status: StatusCode, check: Option<Check>, message: String) -> Response {
    page(
        status,
        &FailedPage {
            layout: Layout::anonymous("Sign-in failed"),
            check: check.map(Check::as_str),
            message,
        },
    )
}

fn failure_page(failure: Failure) -> Response {
    match failure {
        Failure::Check(check) => failed_page(
            StatusCode::UNAUTHORIZED,
            Some(check),
            check.explain().to_owned(),
        ),
        Failure::Provider(why) => failed_page(
            StatusCode::BAD_GATEWAY,
            None,
            format!("Sign-in with the identity provider failed: {why}."),
        ),
    }
}

fn service_failure(err: ServiceError) -> Response {
    match err {
        ServiceError::Internal(detail) => {
            tracing::error!(%detail, "single sign-on failed");
            failed_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "Something went wrong on the server. Try again.".into(),
            )
        }
        ServiceError::Unavailable => failed_page(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "The service is temporarily unavailable. Try again in a moment.".into(),
        ),
        other => failed_page(StatusCode::FORBIDDEN, None, format!("{other}.")),
    }
}

fn sso_off() -> Response {
    failed_page(
        StatusCode::NOT_FOUND,
        None,
        "Single sign-on is not set up on this server: log in with your password.".into(),
    )
}

/// `GET /sso/start`: to the provider, with a fresh state, nonce and PKCE
/// challenge; the flow is kept in the store until the browser is back.
pub async fn start(
    State(state): State<AppState>,
    https: Https,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(provider) = state.sso.clone() else {
        return sso_off();
    };
    let next = super::session::safe_next(query_of(query).get("next")).to_owned();
    let (browser, _) = new_session_secret();
    let (url, flow_state, flow) = match provider.begin(browser_hash(&browser), next).await {
        Ok(started) => started,
        Err(failure) => return failure_page(failure),
    };
    let now = state.now();
    let data = match serde_json::to_string(&Step::Flow(flow)) {
        Ok(data) => data,
        Err(e) => return service_failure(ServiceError::Internal(e.to_string())),
    };
    let expires = now + time::Duration::seconds(FLOW_SECONDS);
    if let Err(e) = state
        .store
        .put_sso_flow(&flow_key(&flow_state), &data, now, expires)
        .await
    {
        return service_failure(e.into());
    }
    let response = Redirect::to(&url).into_response();
    with_cookie(
        response,
        step_cookie(FLOW_COOKIE, &browser, FLOW_SECONDS, https.0),
    )
}

/// `GET /sso/callback`: checks the state, redeems the code, checks the ID
/// token, finds the person, and signs them in (or offers their orgs).
pub async fn callback(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let https = is_https(&parts, &state);
    let forget_flow = step_cookie(FLOW_COOKIE, "", 0, https);
    let response = match callback_inner(&state, &parts, https).await {
        Ok(response) => response,
        Err(response) => response,
    };
    with_cookie(response, forget_flow)
}

async fn callback_inner(
    state: &AppState,
    parts: &Parts,
    https: bool,
) -> Result<Response, Response> {
    let provider = state.sso.clone().ok_or_else(sso_off)?;
    let query = query_of(parts.uri.query().map(str::to_owned));
    let state_param = query.get("state");
    if state_param.is_empty() {
        return Err(failure_page(Check::State.into()));
    }
    let now = state.now();
    let taken = state
        .store
        .take_sso_flow(&flow_key(state_param), now)
        .await
        .map_err(|e| service_failure(e.into()))?;
    let flow = match taken.map(|data| serde_json::from_str::<Step>(&data)) {
        Some(Ok(Step::Flow(flow))) => flow,
        _ => return Err(failure_page(Check::State.into())),
    };
    let browser = cookie(&parts.headers, FLOW_COOKIE).unwrap_or_default();
    if browser.is_empty() || browser_hash(&browser) != flow.browser {
        return Err(failure_page(Check::State.into()));
    }
    if let Some(error) = query.opt("error") {
        let detail = query.opt("error_description").unwrap_or_default();
        let text: String = format!("{error} {detail}").chars().take(300).collect();
        return Err(failure_page(Failure::Provider(format!(
            "the provider refused the sign-in: {}",
            text.trim()
        ))));
    }
    let code = query.opt("code").ok_or_else(|| {
        failure_page(Failure::Provider(
            "the provider sent no authorization code".into(),
        ))
    })?;
    let identity = provider.finish(code, &flow).await.map_err(failure_page)?;
    let doors = rules::doors(state, &identity)
        .await
        .map_err(service_failure)?;
    match doors.as_slice() {
        [] => Err(nobody_page(&identity)),
        [only] => enter(state, parts, &identity, &only.entry, &flow.next, https).await,
        several => pick_page(state, identity, several, flow.next, https).await,
    }
}

fn nobody_page(identity: &Identity) -> Response {
    let who = identity
        .email
        .clone()
        .unwrap_or_else(|| "this account".into());
    failed_page(
        StatusCode::FORBIDDEN,
        None,
        format!(
            "You signed in as {who}, but no organization here has you as a member or \
             admits your email's domain. Ask an admin of your organization to add you."
        ),
    )
}

/// Signs in through `entry`: the session cookie, then `next`.
async fn enter(
    state: &AppState,
    parts: &Parts,
    identity: &Identity,
    entry: &Entry,
    next: &str,
    https: bool,
) -> Result<Response, Response> {
    let ip = client_ip(parts, state);
    let started = rules::enter(state, identity, entry, ip.as_deref(), state.now())
        .await
        .map_err(service_failure)?;
    let mut response = Redirect::to(next).into_response();
    let cookie = session_cookie(Https(https), &started.secret, started.max_age_seconds);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// One org on the picker.
struct DoorView {
    name: String,
    key: String,
    joins_as: Option<String>,
}

#[derive(Template)]
#[template(path = "sso_pick.html")]
struct PickPage {
    layout: Layout,
    who: String,
    doors: Vec<DoorView>,
}

async fn pick_page(
    state: &AppState,
    identity: Identity,
    doors: &[rules::Door],
    next: String,
    https: bool,
) -> Result<Response, Response> {
    let view = PickPage {
        layout: Layout::anonymous("Choose an organization"),
        who: identity
            .email
            .clone()
            .unwrap_or_else(|| identity.sub.clone()),
        doors: doors
            .iter()
            .map(|d| DoorView {
                name: d.org.name.clone(),
                key: d.org.key.to_string(),
                joins_as: match &d.entry {
                    Entry::Join { role, .. } => Some(role.to_string()),
                    Entry::Member { .. } => None,
                },
            })
            .collect(),
    };
    let pick = Pick {
        identity,
        entries: doors.iter().map(|d| d.entry.clone()).collect(),
        next,
    };
    let data = serde_json::to_string(&Step::Pick(pick))
        .map_err(|e| service_failure(ServiceError::Internal(e.to_string())))?;
    let (secret, _) = new_session_secret();
    let now = state.now();
    let expires = now + time::Duration::seconds(FLOW_SECONDS);
    state
        .store
        .put_sso_flow(&pick_key(&secret), &data, now, expires)
        .await
        .map_err(|e| service_failure(e.into()))?;
    let response = page(StatusCode::OK, &view);
    Ok(with_cookie(
        response,
        step_cookie(PICK_COOKIE, &secret, FLOW_SECONDS, https),
    ))
}

/// `POST /sso/pick`: the org chosen on the picker (once).
pub async fn pick(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let https = is_https(&parts, &state);
    let secret = cookie(&parts.headers, PICK_COOKIE).unwrap_or_default();
    let form = match read_form(Request::from_parts(parts.clone(), body), &state).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let forget = step_cookie(PICK_COOKIE, "", 0, https);
    let taken = if secret.is_empty() {
        Ok(None)
    } else {
        state
            .store
            .take_sso_flow(&pick_key(&secret), state.now())
            .await
    };
    let pick = match taken.map(|t| t.map(|data| serde_json::from_str::<Step>(&data))) {
        Ok(Some(Ok(Step::Pick(pick)))) => pick,
        Ok(_) => {
            return with_cookie(
                failed_page(
                    StatusCode::BAD_REQUEST,
                    None,
                    "This choice expired or was already made. Sign in again.".into(),
                ),
                forget,
            )
        }
        Err(e) => return service_failure(e.into()),
    };
    let chosen = form
        .get("choice")
        .parse::<usize>()
        .ok()
        .and_then(|i| pick.entries.get(i));
    let Some(entry) = chosen else {
        return with_cookie(
            failed_page(
                StatusCode::BAD_REQUEST,
                None,
                "No organization was chosen. Sign in again.".into(),
            ),
            forget,
        );
    };
    let response = match enter(&state, &parts, &pick.identity, entry, &pick.next, https).await {
        Ok(response) | Err(response) => response,
    };
    with_cookie(response, forget)
}
