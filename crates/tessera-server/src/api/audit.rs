//! `GET /audit`: the org's audit log, a page of JSON at a time, or the
//! whole filtered log as JSON Lines or CSV (`format=jsonl|csv`) for a
//! spreadsheet or a log pipeline.
//!
//! An export streams: it reads the log a page at a time and sends each
//! page as it is read, so a year of events costs one page of memory, and
//! a client that stops reading stops the export.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tessera_api::{AuditEventResponse, AuditPage};
use tokio::sync::mpsc;

use super::ApiQuery;
use crate::error::{ApiError, ApiResult};
use crate::service::audit::{self, AuditFormat, AuditParams};
use crate::service::Call;
use crate::state::AppState;

/// Events read per page of an export.
const EXPORT_PAGE: u32 = 500;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list_audit))
}

/// The audit log, newest first: a page at a time (`next_cursor`), or with
/// `format=jsonl|csv` every event the filters match, from `before` on (at
/// most `limit` when given), as one download.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200,
            description = "a page of JSON; with format=jsonl, one event per line as in `items`; with format=csv, a header row and a record per event",
            content((AuditPage = "application/json"), (String = "application/x-ndjson"), (String = "text/csv"))),
        (status = 400, body = tessera_api::ErrorBody), (status = 403, body = tessera_api::ErrorBody)))]
pub async fn list_audit(
    call: Call,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Response> {
    let format = params.format.unwrap_or_default();
    if format == AuditFormat::Json {
        return Ok(Json(audit::list(&call, params).await?).into_response());
    }
    // The first page is read here, so that a refusal (no permission, a bad
    // filter) is an error status, not a broken download.
    let total = params.limit;
    if total == Some(0) {
        return Err(ApiError::bad_request("limit must be at least 1"));
    }
    let first = audit::list(&call, page_of(&params, None, total)).await?;
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(export(call, params, first, format, sender));
    let (content_type, extension) = match format {
        AuditFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        _ => ("application/x-ndjson", "jsonl"),
    };
    let disposition = format!("attachment; filename=\"tessera-audit.{extension}\"");
    let mut response = Body::new(ChannelBody(receiver)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The query for one page of an export: `before` the cursor, at most what
/// is left of `total`.
fn page_of(params: &AuditParams, before: Option<String>, left: Option<u32>) -> AuditParams {
    AuditParams {
        before: before.or_else(|| params.before.clone()),
        limit: Some(left.map_or(EXPORT_PAGE, |l| l.min(EXPORT_PAGE))),
        format: None,
        ..params.clone()
    }
}

/// Sends `first` and every following page down `sender`, as `format` lays
/// them out, until the log (or `limit`) ends or the client goes away.
async fn export(
    call: Call,
    params: AuditParams,
    first: AuditPage,
    format: AuditFormat,
    sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let mut left = params.limit;
    let mut page = first;
    let mut chunk = match format {
        AuditFormat::Csv => csv_header(),
        _ => String::new(),
    };
    loop {
        for item in &page.items {
            match format {
                AuditFormat::Csv => csv_row(&mut chunk, item),
                _ => json_line(&mut chunk, item),
            }
        }
        left = left.map(|l| l.saturating_sub(page.items.len() as u32));
        if sender
            .send(Ok(Bytes::from(std::mem::take(&mut chunk))))
            .await
            .is_err()
        {
            return; // the client went away
        }
        let more = page.next_cursor.take().filter(|_| left != Some(0));
        let Some(cursor) = more else { return };
        page = match audit::list(&call, page_of(&params, Some(cursor), left)).await {
            Ok(next) => next,
            Err(err) => {
                // Too late for a status: end the download broken, so the
                // client sees it incomplete rather than short.
                tracing::warn!(%err, "audit export stopped");
                let _ = sender
                    .send(Err(std::io::Error::other("export failed")))
                    .await;
                return;
            }
        };
    }
}

fn json_line(out: &mut String, item: &AuditEventResponse) {
    // Serializing owned strings and JSON values cannot fail.
    if let Ok(line) = serde_json::to_string(item) {
        out.push_str(&line);
        out.push('\n');
    }
}

const CSV_COLUMNS: [&str; 11] = [
    "id",
    "at",
    "actor_member",
    "actor_email",
    "actor_token",
    "actor_token_name",
    "action",
    "target",
    "target_name",
    "ip",
    "details",
];

fn csv_header() -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    out
}

/// One event as a CSV record (RFC 4180: every field quoted, CRLF ends).
fn csv_row(out: &mut String, item: &AuditEventResponse) {
    let at = item
        .at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let none = String::new();
    let fields: [&str; 11] = [
        &item.id,
        &at,
        item.actor.member.as_ref().unwrap_or(&none),
        item.actor.email.as_ref().unwrap_or(&none),
        item.actor.token.as_ref().unwrap_or(&none),
        item.actor.token_name.as_ref().unwrap_or(&none),
        &item.action,
        &item.target,
        item.target_name.as_ref().unwrap_or(&none),
        item.ip.as_ref().unwrap_or(&none),
        &item.details.to_string(),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, field);
    }
    out.push_str("\r\n");
}

/// A quoted CSV field. Text a spreadsheet would run as a formula (a token
/// name such as `=HYPERLINK(…)`) gets a leading `'`, so opening an export
/// never runs what a member typed.
fn csv_field(out: &mut String, value: &str) {
    out.push('"');
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        out.push('\'');
    }
    out.push_str(&value.replace('"', "\"\""));
    out.push('"');
}

/// A response body fed by a channel: the export task sends, hyper reads.
struct ChannelBody(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|result| result.map(http_body::Frame::data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        let mut out = String::new();
        for value in ["plain", "say \"hi\"", "=HYPERLINK(\"x\")", "-1+2", "a,b\nc"] {
            csv_field(&mut out, value);
            out.push('|');
        }
        assert_eq!(
            out,
            "\"plain\"|\"say \"\"hi\"\"\"|\"'=HYPERLINK(\"\"x\"\")\"|\"'-1+2\"|\"a,b\nc\"|"
        );
    }
}
