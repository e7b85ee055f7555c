//! How answers are shown: aligned tables and key/value blocks for people,
//! pretty JSON for scripts.
//!
//! Every string from the server passes through [`clean`] before it reaches
//! a terminal: a token or member name is chosen by a user, and an admin
//! listing someone's tokens must not get their terminal driven by escape
//! sequences hidden in a name.

use std::io::{ErrorKind, Write};

use serde::Serialize;
use tessera_api::TokenResponse;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::error::CliError;

/// Columns separated by two spaces, each as wide as its widest cell.
#[derive(Debug)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| clean(c)).collect());
    }

    pub fn render(&self) -> String {
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        let lines: Vec<&Vec<String>> = std::iter::once(&header).chain(&self.rows).collect();
        let columns = lines.iter().map(|l| l.len()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                lines
                    .iter()
                    .filter_map(|l| l.get(i))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for line in lines {
            let mut text = String::new();
            for (cell, width) in line.iter().zip(&widths) {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key  value` lines with the values aligned, for one object.
pub fn pairs(items: &[(&str, String)]) -> String {
    let width = items
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    items
        .iter()
        .map(|(k, v)| format!("{k:<width$}  {}\n", clean(v)))
        .collect()
}

/// Replaces control characters (escape sequences, newlines) so one value
/// stays one cell on one line.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// RFC 3339 in UTC, to the second.
pub fn time(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// A time, or `never` when absent (an expiry, a last use).
pub fn time_or_never(t: Option<OffsetDateTime>) -> String {
    t.map(time).unwrap_or_else(|| "never".into())
}

/// Whose a token is: `member <id>` or `service account <id>`.
pub fn owner(token: &TokenResponse) -> String {
    match (&token.member_id, &token.service_account_id) {
        (Some(member), _) => member.clone(),
        (None, Some(account)) => format!("service account {account}"),
        (None, None) => "-".to_owned(),
    }
}

/// A token's scope in one word: `role:writer`, `custom:a,b`, `policy`, or
/// `inherit` (the owner's permissions).
pub fn scope(token: &TokenResponse) -> String {
    if let Some(role) = token.role {
        return format!("role:{role}");
    }
    match (&token.custom_roles, &token.policy) {
        (Some(keys), _) if !keys.is_empty() => format!("custom:{}", keys.join(",")),
        (_, Some(_)) => "policy".into(),
        _ => "inherit".into(),
    }
}

/// `all` for an unrestricted token, else the project keys.
pub fn projects(keys: &[String]) -> String {
    if keys.is_empty() {
        "all".into()
    } else {
        keys.join(",")
    }
}

/// When and from where a token was last used.
pub fn last_used(token: &TokenResponse) -> String {
    match (token.last_used_at, &token.last_used_ip) {
        (Some(at), Some(ip)) => format!("{} from {ip}", time(at)),
        (at, _) => time_or_never(at),
    }
}

pub fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

/// The tokens table shared by `token list` and `member tokens`; `empty`
/// when there are none, since a header alone reads like a glitch.
pub fn token_table(tokens: &[TokenResponse], empty: &str) -> String {
    if tokens.is_empty() {
        return format!("{}\n", clean(empty));
    }
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "SNIPPET",
        "SCOPE",
        "PROJECTS",
        "CREATED",
        "EXPIRES",
        "LAST USED",
    ]);
    for t in tokens {
        table.row(vec![
            t.id.clone(),
            t.name.clone(),
            t.snippet.clone(),
            scope(t),
            projects(&t.projects),
            time(t.created_at),
            time_or_never(t.expires_at),
            last_used(t),
        ]);
    }
    table.render()
}

/// Writes to stdout. A closed pipe (`tessera token list | head -1`) is
/// not an error worth a message.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => {
            Err(CliError::io("cannot write to stdout", e))
        }
        _ => Ok(()),
    }
}

pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Input(format!("cannot render the answer as JSON: {e}")))?;
    text.push('\n');
    print(&text)
}

/// `--json`: the value as JSON; otherwise what `human` renders.
pub fn emit<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce(&T) -> String,
) -> Result<(), CliError> {
    if json {
        print_json(value)
    } else {
        print(&human(value))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tessera_api::{BuiltinRole, Policy};
    use tessera_core::Statement;
    use time::macros::datetime;

    pub fn token() -> TokenResponse {
        TokenResponse {
            id: "2GdXMflhJ".into(),
            name: "ci".into(),
            snippet: "tsr_2GdX…wxyz".into(),
            member_id: Some("m1".into()),
            service_account_id: None,
            role: None,
            custom_roles: None,
            policy: None,
            projects: vec![],
            created_at: datetime!(2026-01-01 0:00:00.123 UTC),
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            rotated_at: None,
            disabled_at: None,
            allowed_ips: None,
            rate_limit: None,
            quota: None,
        }
    }

    #[test]
    fn scopes() {
        let mut t = token();
        assert_eq!(scope(&t), "inherit");
        t.role = Some(BuiltinRole::Writer);
        assert_eq!(scope(&t), "role:writer");
        t.role = None;
        t.custom_roles = Some(vec!["a".into(), "b".into()]);
        assert_eq!(scope(&t), "custom:a,b");
        t.custom_roles = None;
        t.policy = Some(Policy(vec![Statement::allow(&["*"], &["*"])]));
        assert_eq!(scope(&t), "policy");
    }

    #[test]
    fn tables_align_columns_and_trim_line_ends() {
        let mut table = Table::new(&["ID", "NAME", "EXPIRES"]);
        table.row(vec![
            "t1".into(),
            "a much longer name".into(),
            "never".into(),
        ]);
        table.row(vec!["token-2".into(), "ci".into(), "".into()]);
        assert_eq!(
            table.render(),
            "ID       NAME                EXPIRES\n\
             t1       a much longer name  never\n\
             token-2  ci\n"
        );
    }

    #[test]
    fn tables_count_characters_not_bytes_and_clean_controls() {
        let mut table = Table::new(&["A", "B"]);
        table.row(vec!["é…".into(), "x".into()]);
        table.row(vec!["\u{1b}[31mred\n".into(), "y".into()]);
        assert_eq!(table.render(), "A          B\né…         x\n?[31mred?  y\n");
    }

    #[test]
    fn times_and_tokens() {
        let mut t = token();
        assert_eq!(time(t.created_at), "2026-01-01T00:00:00Z");
        assert_eq!(
            time(datetime!(2026-01-01 2:00 +02:00)),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(time_or_never(None), "never");
        assert_eq!(last_used(&t), "never");
        t.last_used_at = Some(datetime!(2026-02-01 0:00 UTC));
        t.last_used_ip = Some("10.0.0.1".into());
        assert_eq!(last_used(&t), "2026-02-01T00:00:00Z from 10.0.0.1");
        assert_eq!(projects(&[]), "all");
        assert_eq!(token_table(&[], "No tokens."), "No tokens.\n");
        let rendered = token_table(&[t], "No tokens.");
        assert!(
            rendered.starts_with("ID         NAME  SNIPPET"),
            "{rendered}"
        );
        assert!(rendered.contains("inherit"));
    }

    #[test]
    fn pairs_align_values() {
        assert_eq!(
            pairs(&[("id", "t1".into()), ("expires", "never".into())]),
            "id       t1\nexpires  never\n"
        );
    }
}
