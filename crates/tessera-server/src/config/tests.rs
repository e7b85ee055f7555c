use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tessera.toml");
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

#[test]
fn defaults_are_documented_values() {
    let (c, warnings) = Config::load(None, &env(&[])).expect("defaults load");
    assert_eq!(c.database.url.as_str(), "sqlite://tessera.db");
    assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.tokens.prefix, "tsr");
    assert!(warnings.is_empty());
}

#[test]
fn env_overrides_file_and_warns_on_typos() {
    let (_dir, path) = file("[http]\nlisten = \"0.0.0.0:9000\"\n[tokens]\nprefix = \"acme\"\n");
    let (c, warnings) = Config::load(
        Some(&path),
        &env(&[
            ("TESSERA_LISTEN", "127.0.0.1:9100"),
            ("TESSERA_LISTNE", "x"),
            ("TESSERA_TOKEN", "t"),
        ]),
    )
    .expect("loads");
    assert_eq!(c.http.listen.to_string(), "127.0.0.1:9100");
    assert_eq!(c.tokens.prefix, "acme");
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("TESSERA_LISTNE"));
}

#[test]
fn dotted_keys_are_the_same_as_sections() {
    let (_dir, path) = file("http.listen = \"0.0.0.0:9000\"\nlog.filter = \"debug\"\n");
    let (c, warnings) = Config::load(Some(&path), &env(&[])).expect("loads");
    assert_eq!(c.http.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(c.log.filter, "debug");
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn flat_keys_from_before_sections_still_load_with_a_warning() {
    let (_dir, path) = file(
        "listen = \"0.0.0.0:9000\"\ntoken_prefix = \"acme\"\nlog = \"debug\"\n\
         trusted_proxies = [\"10.0.0.5\"]\nlogin_throttle_window_seconds = 60\n",
    );
    let (c, warnings) = Config::load(Some(&path), &env(&[])).expect("loads");
    assert_eq!(c.http.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(c.tokens.prefix, "acme");
    assert_eq!(c.log.filter, "debug");
    assert_eq!(
        c.http.trusted_proxies,
        vec!["10.0.0.5".parse::<IpAddr>().expect("ip")]
    );
    assert_eq!(c.login.window_seconds, 60);
    assert_eq!(warnings.len(), 5, "{warnings:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("`token_prefix` is deprecated")
                && w.contains("`prefix` under `[tokens]`")),
        "{warnings:?}"
    );
}

#[test]
fn bad_values_name_the_setting() {
    let err = Config::load(None, &env(&[("TESSERA_LISTEN", "nowhere")])).expect_err("bad");
    assert!(err.to_string().contains("TESSERA_LISTEN"), "{err}");
    let err = Config::load(None, &env(&[("TESSERA_TOKEN_PREFIX", "Bad_Prefix")])).expect_err("bad");
    let text = err.to_string();
    assert!(
        text.contains("tokens.prefix") && text.contains("TESSERA_TOKEN_PREFIX"),
        "{text}"
    );
    for (text, named) in [
        ("lsten = 1\n", "lsten"),
        ("[http]\nlsten = 1\n", "http.lsten"),
        ("[htp]\nlisten = \"127.0.0.1:1\"\n", "htp"),
        ("[http]\nlisten = \"nowhere\"\n", "http.listen"),
        ("[http]\nmax_body_bytes = \"big\"\n", "http.max_body_bytes"),
        ("max_body_bytes = -1\n", "max_body_bytes"),
    ] {
        let (_dir, path) = file(text);
        let err = Config::load(Some(&path), &env(&[])).expect_err(text);
        assert!(err.to_string().contains(named), "{text}: {err}");
    }
    let mut config = Config::default();
    let err = config
        .apply_flag("listen", "nowhere")
        .expect_err("bad flag");
    assert!(err.to_string().starts_with("--listen: "), "{err}");
    config
        .apply_flag("database_url", "sqlite::memory:")
        .expect("flag");
    assert_eq!(config.database.url.as_str(), "sqlite::memory:");
}

#[test]
fn abuse_limits_come_from_file_and_env_and_are_checked() {
    let (_dir, path) =
        file("[http]\nmax_connections = 10\n[leaks]\nreports_per_ip = 0\nwindow_seconds = 30\n");
    let (c, _) = Config::load(Some(&path), &env(&[])).expect("loads");
    assert_eq!(
        (
            c.http.max_connections,
            c.leaks.reports_per_ip,
            c.leaks.window_seconds
        ),
        (10, 0, 30)
    );
    let (c, warnings) = Config::load(
        Some(&path),
        &env(&[
            ("TESSERA_MAX_CONNECTIONS", "5"),
            ("TESSERA_LEAK_REPORTS_PER_IP", "7"),
            ("TESSERA_LEAK_REPORT_WINDOW_SECONDS", "120"),
        ]),
    )
    .expect("loads");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        (
            c.http.max_connections,
            c.leaks.reports_per_ip,
            c.leaks.window_seconds
        ),
        (5, 7, 120)
    );
    let err = Config::load(None, &env(&[("TESSERA_MAX_CONNECTIONS", "0")])).expect_err("0");
    assert!(err.to_string().contains("http.max_connections"), "{err}");
    let err =
        Config::load(None, &env(&[("TESSERA_LEAK_REPORT_WINDOW_SECONDS", "0")])).expect_err("0");
    assert!(err.to_string().contains("leaks.window_seconds"), "{err}");
}

#[test]
fn every_setting_has_a_unique_file_key_and_variable() {
    let mut paths: Vec<String> = SETTINGS.iter().map(Setting::path).collect();
    let mut flats: Vec<&str> = SETTINGS.iter().map(|s| s.flat).collect();
    paths.sort();
    paths.dedup();
    flats.sort_unstable();
    flats.dedup();
    assert_eq!(paths.len(), SETTINGS.len());
    assert_eq!(flats.len(), SETTINGS.len());
    // Every one can be set from text and from TOML, and shown.
    let defaults = Config::default();
    for setting in SETTINGS {
        assert!(!setting.help.trim().is_empty(), "{setting:?}");
        let shown = defaults.show(setting).expect("known");
        let mut config = Config::default();
        let text = if shown == "none" { "" } else { shown.as_str() };
        config
            .set(setting, Raw::Text(text))
            .expect("its own default parses");
        assert_eq!(config.show(setting), Some(shown));
    }
}

/// The settings table in docs/configuration.md lists exactly the settings
/// of the struct, with their variables and defaults.
#[test]
fn the_docs_settings_table_matches_the_struct() {
    let doc = include_str!("../../../../docs/configuration.md");
    let table = doc
        .split("\n## Settings\n")
        .nth(1)
        .and_then(|rest| rest.split("\n#").next())
        .expect("docs/configuration.md has a `## Settings` section");
    let code = |cell: &str| {
        cell.trim()
            .strip_prefix('`')
            .and_then(|c| c.strip_suffix('`'))
            .map(str::to_owned)
    };
    let mut documented: Vec<(String, String, String)> = table
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').collect();
            // | key | variable | default | meaning |
            let key = code(cells.get(1)?)?;
            let env = code(cells.get(2)?)?;
            let default = cells.get(3)?.trim();
            let default = code(default).unwrap_or_else(|| default.to_owned());
            Some((key, env, default))
        })
        .collect();
    documented.sort();
    let defaults = Config::default();
    let mut declared: Vec<(String, String, String)> = SETTINGS
        .iter()
        .map(|s| (s.path(), s.env(), defaults.show(s).unwrap_or_default()))
        .collect();
    declared.sort();
    assert_eq!(documented, declared);
}

#[test]
fn database_passwords_are_redacted() {
    assert_eq!(
        redact_url("postgres://u:secret@h/db"),
        "postgres://u:***@h/db"
    );
    assert_eq!(redact_url("sqlite://tessera.db"), "sqlite://tessera.db");
    let c = Config::with_database_url("postgres://u:secret@h/db");
    let shown = format!("{c:?}");
    // (`oidc.client_secret` is a field name: look for the value.)
    assert!(!shown.contains(":secret@"), "{shown}");
    assert!(shown.contains("postgres://u:***@h/db"), "{shown}");
}

/// `leaks.github_scanning_keys` names a file that is read and checked as
/// the configuration loads: from the file, from the environment, unset by
/// an empty value, and a bad file is an error naming the setting and the
/// file.
#[test]
fn github_scanning_keys_are_read_when_the_setting_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("github-keys.json");
    std::fs::write(
        &keys,
        r#"{"public_keys": [{"key_identifier": "k1", "is_current": true,
            "key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n"}]}"#,
    )
    .expect("write");
    let shown = keys.display().to_string();
    let (_file_dir, path) = file(&format!("[leaks]\ngithub_scanning_keys = {shown:?}\n"));
    let (c, _) = Config::load(Some(&path), &env(&[])).expect("loads");
    let loaded = c.leaks.github_scanning_keys.as_ref().expect("keys");
    assert_eq!(loaded.path(), keys);
    let setting = by_path("leaks", "github_scanning_keys").expect("setting");
    assert_eq!(c.show(setting), Some(shown.clone()));

    let from_env = |value: &str| {
        Config::load(None, &env(&[("TESSERA_GITHUB_SCANNING_KEYS", value)]))
            .map(|(c, _)| c.leaks.github_scanning_keys)
    };
    assert!(from_env(&shown).expect("loads").is_some());
    assert!(from_env("").expect("loads").is_none());
    assert!(Config::default().leaks.github_scanning_keys.is_none());

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"public_keys": []}"#).expect("write");
    let err = from_env(&bad.display().to_string())
        .expect_err("an empty key list")
        .to_string();
    assert!(err.starts_with("TESSERA_GITHUB_SCANNING_KEYS: "), "{err}");
    assert!(err.contains(&bad.display().to_string()), "{err}");
    let missing = dir.path().join("missing.json").display().to_string();
    let err = from_env(&missing).expect_err("missing").to_string();
    assert!(err.contains(&format!("cannot read {missing}")), "{err}");
}

/// Part 2's names are the SPEC's contract: top-level file keys without a
/// deprecation warning, as good as their place in a section.
#[test]
fn part_two_names_are_top_level_keys_without_a_warning() {
    let (_dir, path) = file("public_url = \"https://tessera.example.com\"\n");
    let (c, warnings) = Config::load(Some(&path), &env(&[])).expect("loads");
    assert_eq!(c.http.public_url, "https://tessera.example.com");
    assert!(warnings.is_empty(), "{warnings:?}");
    let (c, _) = Config::load(
        None,
        &env(&[("TESSERA_PUBLIC_URL", "http://127.0.0.1:8080/t")]),
    )
    .expect("loads");
    assert_eq!(c.http.public_url, "http://127.0.0.1:8080/t");
    for bad in [
        "ftp://x",
        "https://",
        "tessera.example.com",
        "https://h/?q=1",
        "https://u:p@h",
    ] {
        let err = Config::load(None, &env(&[("TESSERA_PUBLIC_URL", bad)]))
            .expect_err(bad)
            .to_string();
        assert!(err.contains("public_url"), "{bad}: {err}");
    }
}

#[test]
fn forward_auth_rules_load_from_the_file_and_bad_ones_name_their_number() {
    let rule = "[[forward_auth.rules]]\nmethod = \"GET\"\npath = \"/p/{p}\"\naction = \"a:b\"\nresource = \"proj/{p}\"\n";
    let (_dir, path) = file(&format!("{rule}{rule}"));
    let (c, warnings) = Config::load(Some(&path), &env(&[])).expect("loads");
    assert_eq!(c.forward_auth.rules.len(), 2);
    assert!(warnings.is_empty(), "{warnings:?}");
    let bad = rule.replace("proj/{p}", "proj/{q}");
    let (_dir, path) = file(&format!("{rule}{bad}"));
    let err = Config::load(Some(&path), &env(&[]))
        .expect_err("bad rule")
        .to_string();
    assert!(err.contains("rule 2") && err.contains("{q}"), "{err}");
    let (_dir, path) = file("[forward_auth]\nrulez = []\n");
    let err = Config::load(Some(&path), &env(&[]))
        .expect_err("unknown key")
        .to_string();
    assert!(err.contains("rulez"), "{err}");
}
