//! Notice emails: rendering (plain text and HTML, never a token's value)
//! and sending the outbox through SMTP (`smtp_url`, `smtp_from`).
//!
//! The store writes each email in the transaction of what it tells (see
//! `tessera_store::NoticeStore`); every node with `smtp_url` runs
//! [`send_due`] each second, which claims due emails with a lease (one node
//! sends a given email at a time; a node that dies mid-send leaves a lease
//! that runs out, and the email is sent again then: at least once) and
//! records each attempt. A failed attempt is retried on the webhook
//! schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), then given up.
//! Sending never runs on a request's path.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;
use tessera_store::{ClaimedEmail, EmailOutcome, EMAIL_EXPIRING, EMAIL_INACTIVE, EMAIL_LEAKED};

use crate::config::Config;
use crate::state::AppState;

/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a claimed email stays this node's before others may take it.
const LEASE: time::Duration = time::Duration::minutes(2);
/// Most emails one pass claims.
const CLAIM_BATCH: u32 = 20;

/// The SMTP connection settings and the sender.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
}

impl Mailer {
    /// The mailer `smtp_url` and `smtp_from` describe; `None` when
    /// `smtp_url` is not set (email off).
    pub fn from_config(config: &Config) -> Result<Option<Self>, String> {
        let Some(url) = &config.email.smtp_url else {
            return Ok(None);
        };
        // The URL may hold a password: errors never repeat it.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())
            .map_err(|e| format!("smtp_url is not a usable SMTP URL: {e}"))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = config
            .email
            .smtp_from
            .parse()
            .map_err(|e| format!("smtp_from is not an email address: {e}"))?;
        Ok(Some(Self {
            transport,
            from,
            public_url: config.http.public_url.trim_end_matches('/').to_owned(),
        }))
    }

    async fn send(&self, email: &ClaimedEmail) -> Result<(), String> {
        let data: Value = serde_json::from_str(&email.data).map_err(|e| e.to_string())?;
        let rendered = render(&email.kind, &data, &self.public_url)
            .ok_or_else(|| format!("unknown email kind {:?}", email.kind))?;
        let to: Mailbox = email
            .recipient
            .parse()
            .map_err(|e| format!("recipient is not an address: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(rendered.text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(rendered.html),
                    ),
            )
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Sends the due emails this node can claim; how many it attempted.
pub async fn send_due(
    state: &AppState,
    mailer: &Mailer,
) -> Result<usize, tessera_store::StoreError> {
    let now = state.now();
    let claimed = state
        .store
        .claim_emails(now, now + LEASE, CLAIM_BATCH)
        .await?;
    for email in &claimed {
        let outcome = match mailer.send(email).await {
            Ok(()) => EmailOutcome {
                sent: true,
                error: None,
                next_attempt_at: None,
            },
            Err(error) => {
                tracing::warn!(email = %email.id, kind = %email.kind, %error, "could not send a notice email");
                EmailOutcome {
                    sent: false,
                    error: Some(error),
                    next_attempt_at: tessera_core::webhook::next_attempt(
                        email.attempts + 1,
                        state.now(),
                    ),
                }
            }
        };
        state
            .store
            .record_email_attempt(&email.id, &outcome)
            .await?;
    }
    Ok(claimed.len())
}

/// An email's subject and bodies.
#[derive(Debug)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders an email of `kind` from its `data` (the token's metadata as the
/// API shows it, plus `days`, `reason`, `action`, `url`, `inactive_days`).
/// Names the token by name and snippet; the data never holds its value.
pub fn render(kind: &str, data: &Value, public_url: &str) -> Option<Rendered> {
    let field = |key: &str| data.get(key).and_then(Value::as_str).unwrap_or_default();
    let name = one_line(field("name"));
    let snippet = one_line(field("snippet"));
    let owner = match (field("member_id"), field("service_account_id")) {
        ("", "") => String::new(),
        (m, "") => format!("member {m}"),
        (_, s) => format!("service account {s}"),
    };
    let link = if public_url.is_empty() {
        String::new()
    } else {
        format!("{public_url}/tokens")
    };
    let (subject, lines): (String, Vec<String>) = match kind {
        EMAIL_EXPIRING => {
            let days = data.get("days").and_then(Value::as_u64).unwrap_or(0);
            let when = if days == 1 {
                "1 day".to_owned()
            } else {
                format!("{days} days")
            };
            (
                format!("Your token \"{name}\" expires in {when}"),
                vec![
                    format!(
                        "The API token \"{name}\" ({snippet}) expires in {when}, at {}.",
                        field("expires_at")
                    ),
                    "Rotate it, or create a new one and update what uses it, before then: \
                     requests made with it will be refused once it has expired."
                        .into(),
                ],
            )
        }
        EMAIL_LEAKED => {
            let mut lines = vec![
                format!("The API token \"{name}\" ({snippet}) was reported as leaked and has been revoked: it no longer works."),
            ];
            if !field("url").is_empty() {
                lines.push(format!("It was found at: {}", one_line(field("url"))));
            }
            lines.push(
                "Create a new token for what used it, and remove the leaked one from where it was found."
                    .into(),
            );
            (
                format!("Your token \"{name}\" was revoked: it was reported as leaked"),
                lines,
            )
        }
        EMAIL_INACTIVE => {
            let done = if field("action") == "token:delete" {
                "revoked"
            } else {
                "disabled"
            };
            let days = data
                .get("inactive_days")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let mut lines = vec![format!(
                "The API token \"{name}\" ({snippet}) of {owner} was {done} by the organization's \
                 inactivity rule: it was unused for {days} days."
            )];
            if done == "disabled" {
                lines.push("An admin or its owner can enable it again.".into());
            }
            (format!("Token \"{name}\" was {done} for inactivity"), lines)
        }
        _ => return None,
    };
    let mut text = lines.join("\n\n");
    let mut html: String = lines
        .iter()
        .map(|l| format!("<p>{}</p>\n", escape(l)))
        .collect();
    if !link.is_empty() {
        text.push_str(&format!("\n\nYour tokens: {link}"));
        html.push_str(&format!(
            "<p><a href=\"{0}\">Your tokens</a></p>\n",
            escape(&link)
        ));
    }
    text.push_str("\n\n-- \nTessera\n");
    let html = format!(
        "<!doctype html>\n<html><body>\n{html}<p style=\"color:#666\">Tessera</p>\n</body></html>\n"
    );
    Some(Rendered {
        subject,
        text,
        html,
    })
}

/// User-given text on one line (no header or paragraph can be forged).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails_name_the_token_and_escape_it() {
        let data = json!({"name": "ci <b>\r\nBcc: x", "snippet": "tsr_…abcd", "days": 1,
            "expires_at": "2026-12-08T00:00:00Z", "member_id": "m"});
        let r = render(EMAIL_EXPIRING, &data, "https://t.example").expect("known kind");
        assert!(
            !r.subject.contains('\n') && r.subject.contains("1 day"),
            "{}",
            r.subject
        );
        assert!(r.text.contains("tsr_…abcd") && r.text.contains("https://t.example/tokens"));
        assert!(r.html.contains("ci &lt;b&gt;") && !r.html.contains("<b>"));
        assert!(render("nope", &data, "").is_none());
        let leaked = render(
            EMAIL_LEAKED,
            &json!({"name": "a", "snippet": "s", "url": "https://x"}),
            "",
        )
        .expect("known kind");
        assert!(leaked.text.contains("https://x") && leaked.subject.contains("leaked"));
        let idle = render(
            EMAIL_INACTIVE,
            &json!({"name": "a", "snippet": "s", "action": "token:delete", "inactive_days": 30,
                "service_account_id": "sa"}),
            "",
        )
        .expect("known kind");
        assert!(idle.subject.contains("revoked") && idle.text.contains("service account sa"));
    }
}
