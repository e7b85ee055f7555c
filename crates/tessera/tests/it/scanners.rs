//! The secret-scanner rules shipped in `docs/scanners/` (gitleaks and
//! trufflehog) find a real Tessera token wherever it sits in text, and skip
//! strings that only look like one: too short, too long, another prefix,
//! a character outside base62. They are prefix aware: with the prefix
//! swapped for a deployment's own, they find that deployment's tokens.

use regex::Regex;
use tessera_core::TokenFormat;

/// The `regex` of gitleaks' `tessera-token` rule.
fn gitleaks_pattern() -> String {
    let file = include_str!("../../../../docs/scanners/gitleaks.toml");
    let doc: toml::Table = file.parse().expect("gitleaks.toml is TOML");
    let rules = doc["rules"].as_array().expect("[[rules]]");
    let rule = rules
        .iter()
        .find(|r| r["id"].as_str() == Some("tessera-token"))
        .expect("the tessera-token rule");
    rule["regex"].as_str().expect("regex").to_owned()
}

/// The `token` regex of trufflehog's custom detector (a single-quoted YAML
/// string, where backslashes are literal).
fn trufflehog_pattern() -> String {
    let file = include_str!("../../../../docs/scanners/trufflehog.yaml");
    let line = file
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("token: '"))
        .expect("a `token:` regex");
    line.trim_start_matches("token: '")
        .trim_end_matches('\'')
        .to_owned()
}

fn token(prefix: &str) -> String {
    let format = TokenFormat::new(prefix).expect("prefix");
    format.generate(time::OffsetDateTime::now_utc()).token
}

#[test]
fn each_scanner_rule_finds_a_real_token_and_skips_lookalikes() {
    for (scanner, pattern) in [
        ("gitleaks", gitleaks_pattern()),
        ("trufflehog", trufflehog_pattern()),
    ] {
        let rule = Regex::new(&pattern).expect("the rule compiles");
        let found = |text: &str| rule.captures(text).map(|c| c[1].to_owned());
        let real = token("tsr");
        for text in [
            real.clone(),
            format!("TESSERA_TOKEN={real}\n"),
            format!("{{\"token\": \"{real}\"}}"),
            format!("curl -H 'Authorization: Bearer {real}' https://x"),
        ] {
            assert_eq!(found(&text), Some(real.clone()), "{scanner} in {text:?}");
        }
        let body = &real["tsr_".len()..];
        for lookalike in [
            format!("tsr_{}", &body[1..]),
            format!("{real}A"),
            format!("tsr-{body}"),
            format!("xtsr_{body}"),
            format!("acme_{body}"),
            format!("tsr_{}-{}", &body[..30], &body[31..]),
        ] {
            assert_eq!(found(&lookalike), None, "{scanner} on {lookalike:?}");
        }
        // Prefix aware: the same rule with a deployment's own prefix.
        let theirs = Regex::new(&pattern.replace("tsr", "acme")).expect("compiles");
        let acme = token("acme");
        assert!(theirs.is_match(&acme), "{scanner}: {acme}");
        assert!(!theirs.is_match(&real), "{scanner}: {real}");
    }
}
