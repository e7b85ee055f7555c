//! What the user types or pipes in: durations, times, policy files,
//! secrets on stdin, and yes/no confirmations.
//!
//! Secrets (passwords, tokens to verify) are read from stdin rather than
//! arguments so they stay out of shell history and `ps`.

use std::io::{BufRead, IsTerminal, Read, Write};

use serde::Deserialize;
use tessera_api::Policy;
use time::format_description::well_known::Rfc3339;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};

use crate::error::CliError;

/// Parses `30d`, `12h`, `45m` or `3600s` into a positive duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let usage = || {
        format!("{text:?} is not a duration: use a number and d, h, m or s (30d, 12h, 45m, 3600s)")
    };
    let text = text.trim();
    let unit = text.chars().last().ok_or_else(usage)?;
    let seconds_per_unit: i64 = match unit {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        's' => 1,
        _ => return Err(usage()),
    };
    let number: i64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| usage())?;
    if number <= 0 {
        return Err(format!("{text:?}: the duration must be positive"));
    }
    number
        .checked_mul(seconds_per_unit)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .map(Duration::seconds)
        .ok_or_else(|| format!("{text:?}: the duration is too long"))
}

/// Parses an RFC 3339 time such as `2026-12-31T00:00:00Z`, or a bare date
/// `2026-12-31`, taken as midnight UTC: a date is what people type for an
/// expiry, and refusing it only sends them to look up the format.
pub fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    let trimmed = text.trim();
    if let Ok(date) = Date::parse(trimmed, DATE) {
        return Ok(date.midnight().assume_utc());
    }
    OffsetDateTime::parse(trimmed, &Rfc3339).map_err(|e| {
        format!(
            "{text:?} is not a time ({e}): use a date like 2026-12-31 (midnight UTC) or an \
             RFC 3339 time like 2026-12-31T15:00:00Z"
        )
    })
}

/// `YYYY-MM-DD`.
const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// Checks a server URL (`--url`, `TESSERA_URL`) for the two mistakes people
/// make: no scheme (`127.0.0.1:8080`) and the API's path included
/// (`http://host/api/v1`). The message names what to type instead. Other
/// problems are left to the client, which names them. Empty stays empty:
/// it counts as not given.
pub fn parse_url(text: &str) -> Result<String, String> {
    let url = text.trim();
    if url.is_empty() {
        return Ok(String::new());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "invalid server URL {url:?}: it has no scheme; type http://{url} (or https://{url} \
             if the server is behind TLS)"
        ));
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = path.trim_end_matches('/');
    // The client adds /api/v1 itself; a base path before it (a reverse
    // proxy's prefix) is kept.
    for api in ["/api/v1", "/api"] {
        if let Some(prefix) = path.strip_suffix(api) {
            return Err(format!(
                "invalid server URL {url:?}: it includes the API path {api}; give the server's \
                 address without it, {scheme}://{authority}{prefix}"
            ));
        }
    }
    Ok(url.to_owned())
}

/// The first line of stdin without its line ending: a password or a token
/// piped in. Spaces inside are kept; they may be part of a password.
pub fn read_secret_line(what: &str) -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::io(format!("cannot read the {what} from stdin"), e))?;
    let secret = line.trim_end_matches(['\n', '\r']).to_owned();
    if secret.is_empty() {
        return Err(CliError::Input(format!("no {what} on stdin")));
    }
    Ok(secret)
}

/// The password for `email`: asked on the terminal without echo, or, when
/// there is no terminal to ask on, refused with the flag that pipes it in
/// (a script must not hang waiting for a prompt nobody sees).
pub fn prompt_password(email: &str, usage: &str) -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Input(format!(
            "no password: standard input is not a terminal, so there is no one to ask; \
             pipe it in with --password-stdin, e.g. `{usage} --password-stdin < pw.txt`"
        )));
    }
    let password = rpassword::prompt_password(format!("Password for {email}: "))
        .map_err(|e| CliError::io("cannot read the password from the terminal", e))?;
    if password.is_empty() {
        return Err(CliError::Input("no password typed".into()));
    }
    Ok(password)
}

/// Reads a policy from `path`, or from stdin when it is `-`: a JSON list of
/// statements, or an object with a `policy` list (as `role show --json`
/// prints it, so a role can be edited and sent back).
pub fn read_policy_file(path: &str) -> Result<Policy, CliError> {
    let text = if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::io("cannot read the policy from stdin", e))?;
        text
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::io(format!("cannot read the policy file {path}"), e))?
    };
    parse_policy(&text).map_err(|e| CliError::Input(format!("policy file {path}: {e}")))
}

fn parse_policy(text: &str) -> Result<Policy, String> {
    #[derive(Deserialize)]
    struct Wrapped {
        policy: Policy,
    }
    if text.trim_start().starts_with('{') {
        serde_json::from_str::<Wrapped>(text)
            .map(|w| w.policy)
            .map_err(|e| format!("not an object with a \"policy\" list: {e}"))
    } else {
        serde_json::from_str::<Policy>(text)
            .map_err(|e| format!("not a JSON list of policy statements: {e}"))
    }
}

/// Asks before something that cannot be undone. With `--yes` it does not
/// ask; without a terminal to ask on it refuses, so a script never deletes
/// by accident.
pub fn confirm(yes: bool, question: &str) -> Result<bool, CliError> {
    if yes {
        return Ok(true);
    }
    check_can_confirm(false)?;
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::io("cannot read the answer", e))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Fails early, before any request, when confirmation would be needed but
/// stdin is not a terminal.
pub fn check_can_confirm(yes: bool) -> Result<(), CliError> {
    if yes || std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(CliError::Input(
        "refusing to delete without confirmation: stdin is not a terminal; pass --yes".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d"), Ok(Duration::days(30)));
        assert_eq!(parse_duration("12h"), Ok(Duration::hours(12)));
        assert_eq!(parse_duration("45m"), Ok(Duration::minutes(45)));
        assert_eq!(parse_duration("3600s"), Ok(Duration::hours(1)));
        assert_eq!(parse_duration(" 90d "), Ok(Duration::days(90)));
        for bad in [
            "",
            "d",
            "30",
            "30x",
            "-1d",
            "0h",
            "1.5h",
            "h30",
            "30 d",
            "99999999999999d",
            "3€",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.contains(bad.trim()), "{bad}: {err}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2026-12-31T00:00:00Z"),
            Ok(datetime!(2026-12-31 0:00 UTC))
        );
        assert_eq!(
            parse_time("2026-12-31T02:00:00+02:00"),
            Ok(datetime!(2026-12-31 0:00 UTC))
        );
        // A bare date is midnight UTC.
        assert_eq!(parse_time("2027-01-01"), Ok(datetime!(2027-01-01 0:00 UTC)));
        for bad in ["tomorrow", "2027-13-01", "2027-01-01 10:00"] {
            let err = parse_time(bad).expect_err(bad);
            assert!(err.contains("2026-12-31T15:00:00Z"), "{err}");
        }
    }

    #[test]
    fn urls_without_scheme_or_with_the_api_path_say_what_to_type() {
        for good in ["http://127.0.0.1:8080", "https://t.example/tessera/", ""] {
            assert_eq!(parse_url(good).as_deref(), Ok(good), "{good}");
        }
        // What to type comes whole at the end of the API-path message.
        let cases = [
            ("127.0.0.1:8080", "type http://127.0.0.1:8080 (or"),
            ("localhost", "type http://localhost (or"),
            ("http://h:8080/api/v1", "without it, http://h:8080"),
            ("https://h/tessera/api/v1/", "without it, https://h/tessera"),
            ("http://h/api", "without it, http://h"),
        ];
        for (url, fix) in cases {
            let err = parse_url(url).expect_err(url);
            assert!(err.contains(fix), "{url}: {err}");
            assert!(!fix.starts_with("without") || err.ends_with(fix), "{err}");
        }
    }

    #[test]
    fn policies_as_a_list_or_wrapped() {
        let list = r#"[{"effect":"allow","actions":["flag:*"],"resources":["proj/web:*"]}]"#;
        let policy = parse_policy(list).expect("list");
        assert_eq!(policy.0.len(), 1);
        let wrapped = format!(r#"{{"key":"ops","name":"Ops","policy":{list}}}"#);
        assert_eq!(parse_policy(&wrapped).expect("wrapped"), policy);
        let err = parse_policy(r#"[{"effect":"maybe"}]"#).expect_err("bad effect");
        assert!(err.contains("policy statements"), "{err}");
        assert!(parse_policy("{}").is_err());
    }

    #[test]
    fn yes_skips_the_question() {
        assert!(confirm(true, "Delete?").expect("no prompt"));
        assert!(check_can_confirm(true).is_ok());
    }
}
