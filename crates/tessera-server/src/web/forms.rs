//! HTML form bodies: the CSRF-checked [`WebForm`] extractor, field access,
//! and [`Problems`], which places an API error next to the field it is
//! about.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;
use tessera_api::ErrorCode;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, Time};

use super::render::error_page;
use crate::auth::{cookie, SESSION_COOKIE};
use crate::error::ApiError;
use crate::secrets::csrf_token;
use crate::service::ServiceError;
use crate::state::AppState;

/// The hidden field every form carries.
pub const CSRF_FIELD: &str = "csrf_token";

/// The fields of a urlencoded form, in order (a name may repeat, as
/// checkboxes do).
#[derive(Debug, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        serde_urlencoded::from_bytes(bytes).ok().map(Self)
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The field's value, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The trimmed value, `None` when absent or blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        let v = self.get(name).trim();
        (!v.is_empty()).then(|| v.to_owned())
    }

    /// Every value of a repeated field (checkboxes), blanks left out.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }
}

/// A form posted by a logged-in member, whose CSRF field matches their
/// session. A form from another site (or a stale one after logging out)
/// is refused before any of it is read.
pub struct WebForm(pub FormData);

impl FromRequest<AppState> for WebForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let session = cookie(req.headers(), SESSION_COOKIE);
        let form = read_form(req, state).await?;
        let expected = session.map(|s| csrf_token(&s));
        let sent = form.get(CSRF_FIELD);
        let ok = expected.is_some_and(|e| bool::from(e.as_bytes().ct_eq(sent.as_bytes())));
        if !ok {
            return Err(csrf_rejected());
        }
        Ok(Self(form))
    }
}

/// Reads and parses a urlencoded body, answering bad ones with a page.
pub async fn read_form(req: Request, state: &AppState) -> Result<FormData, Response> {
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        let message = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "The form is too large."
        } else {
            "The form could not be read."
        };
        error_page(e.status(), message)
    })?;
    FormData::parse(&bytes)
        .ok_or_else(|| error_page(StatusCode::BAD_REQUEST, "The form could not be read."))
}

pub fn csrf_rejected() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "This form has expired or was sent from another site, so nothing was changed. \
         Go back, reload the page and try again.",
    )
}

/// What was wrong with a submitted form: messages by field name, and one
/// for the form as a whole.
#[derive(Debug, Default)]
pub struct Problems {
    fields: BTreeMap<&'static str, String>,
    pub general: Option<String>,
    pub status: Option<StatusCode>,
}

impl Problems {
    /// One problem with one field (a 422).
    pub fn field(name: &'static str, message: impl Into<String>) -> Self {
        let mut p = Self {
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            ..Self::default()
        };
        p.fields.insert(name, message.into());
        p
    }

    /// An error, next to whichever of `fields` it is about (with the
    /// status the API answers it with).
    pub fn from_api(err: impl Into<ApiError>, fields: &[&'static str]) -> Self {
        let err = err.into();
        let (status, _) = err.status_and_code();
        let message = friendly(&err);
        let mut p = Self {
            status: Some(status),
            ..Self::default()
        };
        match field_of(&err, fields) {
            Some((field, text)) => {
                p.fields.insert(field, text);
            }
            None => p.general = Some(message),
        }
        p
    }

    /// Adds `other`'s messages, keeping any already here for the same
    /// field, so a form can say everything wrong with it at once.
    pub fn merge(&mut self, other: Problems) {
        for (field, message) in other.fields {
            self.fields.entry(field).or_insert(message);
        }
        if self.general.is_none() {
            self.general = other.general;
        }
        if self.status.is_none() {
            self.status = other.status;
        }
    }

    /// The message for `name`, if any (templates call this).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_none()
    }

    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
    }

    /// The status of a page showing these: 200 when there are none.
    pub fn page_status(&self) -> StatusCode {
        if self.is_empty() {
            StatusCode::OK
        } else {
            self.status()
        }
    }
}

/// No fields: a form not sent yet.
static EMPTY: FormData = FormData(Vec::new());

/// What a page's form shows: the form as sent with its problems, or (not
/// sent) an empty one.
pub fn shown(sent: Option<(&FormData, Problems)>) -> (&FormData, Problems) {
    sent.unwrap_or_else(|| (&EMPTY, Problems::default()))
}

/// A page, or the page for an error the member cannot correct in a form:
/// the pages' handlers use `?` on the service's answers.
pub type PageResult = Result<Response, Failed>;

/// An error shown as a page of its own (see [`failed`]).
#[derive(Debug)]
pub struct Failed(ApiError);

impl From<ApiError> for Failed {
    fn from(err: ApiError) -> Self {
        Self(err)
    }
}

impl From<ServiceError> for Failed {
    fn from(err: ServiceError) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for Failed {
    fn into_response(self) -> Response {
        failed(self.0)
    }
}

/// A redirect, after a change was made.
pub fn redirect(to: &str) -> PageResult {
    Ok(Redirect::to(to).into_response())
}

/// The answer to a form that changes something: a redirect to `done` when
/// the change was made, else `again`, the form's page showing the problem
/// next to whichever of `fields` it is about.
pub async fn done_or_again<T, E, F>(
    result: Result<T, E>,
    done: &str,
    fields: &[&'static str],
    again: impl FnOnce(Problems) -> F,
) -> PageResult
where
    E: Into<ApiError>,
    F: std::future::Future<Output = PageResult>,
{
    match result {
        Ok(_) => redirect(done),
        Err(e) => again(Problems::from_api(e, fields)).await,
    }
}

/// The page for an error the member cannot correct in a form (not found,
/// not allowed, ...): the API's status for it and its message for people.
pub fn failed(err: impl Into<ApiError>) -> Response {
    let err = err.into();
    error_page(err.status_and_code().0, &friendly(&err))
}

/// A page's query string as fields (a bad one reads as empty).
pub fn query_of(raw: Option<String>) -> FormData {
    FormData::parse(raw.unwrap_or_default().as_bytes()).unwrap_or_default()
}

/// An error's message for people; internal failures stay generic.
pub fn friendly(err: &ApiError) -> String {
    match err.service() {
        Some(ServiceError::Internal(_)) => {
            "Something went wrong on the server; nothing was saved. Try again.".into()
        }
        Some(ServiceError::Unavailable) => {
            "The service is temporarily unavailable; nothing was saved. Try again shortly.".into()
        }
        _ => sentence(&crate::redact::redact(&err.to_string())),
    }
}

/// Which field an error is about, and its message without the field name.
fn field_of(err: &ApiError, fields: &[&'static str]) -> Option<(&'static str, String)> {
    let pick = |candidates: &[&str]| {
        candidates
            .iter()
            .find_map(|c| fields.iter().find(|f| *f == c).copied())
    };
    let message = crate::redact::redact(&err.to_string());
    let field = match err.service()? {
        ServiceError::Unprocessable { code, .. } => match code {
            ErrorCode::InvalidPolicy => pick(&["policy"]),
            ErrorCode::ExpirationRequired
            | ErrorCode::LifetimeExceeded
            | ErrorCode::NotRotatable => pick(&["expires_at"]),
            ErrorCode::UnknownProject => pick(&["projects"]),
            ErrorCode::UnknownReference => pick(&["custom_roles"]),
            _ if message.starts_with("expires_at") => pick(&["expires_at"]),
            _ => {
                let (name, reason) = message.split_once(": ")?;
                let field = fields.iter().find(|f| **f == name).copied()?;
                return Some((field, sentence(reason)));
            }
        },
        ServiceError::NotAllowed(_) => pick(&["scope", "role"]),
        ServiceError::Conflict { .. } => pick(&["key", "email"]),
        ServiceError::TooManyRequests { .. } => pick(&["expires_at"]),
        _ => None,
    }?;
    // The API names fields as in JSON; people read "the expiry".
    Some((
        field,
        sentence(&message.replace("expires_at", "the expiry")),
    ))
}

/// Capital first letter and a final full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut out: String = first.to_uppercase().chain(chars).collect();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The expiry chosen in a form: a preset number of days, a custom date
/// (valid to the end of that day, UTC), or none. Whether it is allowed
/// (future, within the org's policy) is for the service to say.
pub fn expiry_from(
    form: &FormData,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, Problems> {
    match form.get("expiry") {
        "none" => Ok(None),
        "custom" => {
            let text = form.get("expires_on").trim();
            if text.is_empty() {
                return Err(Problems::field("expires_at", "Choose a date."));
            }
            let date = Date::parse(text, format_description!("[year]-[month]-[day]"))
                .map_err(|_| Problems::field("expires_at", "Not a date: use YYYY-MM-DD."))?;
            let end_of_day = Time::from_hms(23, 59, 59).unwrap_or(Time::MIDNIGHT);
            Ok(Some(date.with_time(end_of_day).assume_utc()))
        }
        days => match days.parse::<i64>() {
            Ok(n @ 1..=3650) => Ok(Some(now + Duration::days(n))),
            _ => Err(Problems::field(
                "expires_at",
                "Choose when the token expires.",
            )),
        },
    }
}

/// [`expiry_from`] where "never" is not an answer (a rotation, setting a
/// missing expiry): `missing` is the problem shown when none was chosen.
pub fn required_expiry(
    form: &FormData,
    now: OffsetDateTime,
    missing: &str,
) -> Result<OffsetDateTime, Problems> {
    expiry_from(form, now)?.ok_or_else(|| Problems::field("expires_at", missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_and_blanks() {
        let f = FormData::parse(b"a=1&p=x&p=&p=y&name=+hi+").expect("form");
        assert_eq!(f.get("a"), "1");
        assert_eq!(f.get("missing"), "");
        assert_eq!(f.all("p"), vec!["x", "y"]);
        assert_eq!(f.opt("name").as_deref(), Some("hi"));
    }

    #[test]
    fn errors_land_next_to_their_field() {
        let err: ApiError = tessera_core::Error::invalid("name", "must not be empty").into();
        let p = Problems::from_api(err, &["name", "policy"]);
        assert_eq!(p.get("name"), Some("Must not be empty."));
        assert!(p.general.is_none());
        let err: ApiError = tessera_core::Error::ExpiryInPast.into();
        let p = Problems::from_api(err, &["name", "expires_at"]);
        assert!(p.get("expires_at").is_some());
        let err = crate::service::ServiceError::forbidden("token:create", "member/x:token/y");
        let p = Problems::from_api(err, &["name"]);
        assert!(p.general.is_some());
    }

    #[test]
    fn merged_problems_keep_every_field_and_the_first_message() {
        let mut p = Problems::field("name", "first");
        p.merge(Problems::field("name", "second"));
        p.merge(Problems::field("policy", "bad"));
        assert_eq!(p.get("name"), Some("first"));
        assert_eq!(p.get("policy"), Some("bad"));
        assert_eq!(p.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn expiry_choices() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let form = |s: &str| FormData::parse(s.as_bytes()).expect("form");
        assert_eq!(
            expiry_from(&form("expiry=30"), now).ok().flatten(),
            Some(now + Duration::days(30))
        );
        assert_eq!(expiry_from(&form("expiry=none"), now).ok(), Some(None));
        assert!(expiry_from(&form("expiry=custom&expires_on="), now).is_err());
        assert!(expiry_from(&form("expiry=custom&expires_on=tomorrow"), now).is_err());
        assert!(
            expiry_from(&form("expiry=custom&expires_on=1970-01-02"), now)
                .is_ok_and(|e| e.is_some())
        );
        assert!(expiry_from(&form("expiry=-3"), now).is_err());
    }
}
