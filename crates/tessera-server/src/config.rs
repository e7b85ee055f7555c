//! Configuration: one typed struct, read in layers — built-in defaults, then
//! an optional TOML file, then `TESSERA_*` environment variables, then
//! command-line flags (applied by the binary). Later layers win.
//!
//! | file key / env var | default | meaning |
//! | --- | --- | --- |
//! | `database_url` / `TESSERA_DATABASE_URL` | `sqlite://tessera.db` | where data lives |
//! | `listen` / `TESSERA_LISTEN` | `127.0.0.1:8080` | address to serve on |
//! | `token_prefix` / `TESSERA_TOKEN_PREFIX` | `tsr` | prefix of every token |
//! | `last_used_flush_seconds` / `TESSERA_LAST_USED_FLUSH_SECONDS` | `5` | how far "last used" may lag in storage |
//! | `session_ttl_hours` / `TESSERA_SESSION_TTL_HOURS` | `12` | login session lifetime |
//! | `cookie_secure` / `TESSERA_COOKIE_SECURE` | `false` | mark the session cookie `Secure` (set behind TLS) |
//! | `max_body_bytes` / `TESSERA_MAX_BODY_BYTES` | `65536` | largest accepted request body |
//! | `request_timeout_seconds` / `TESSERA_REQUEST_TIMEOUT_SECONDS` | `30` | longest a request may take |
//! | `trusted_proxies` / `TESSERA_TRUSTED_PROXIES` | none | proxy IPs whose `X-Forwarded-For` is believed |
//! | `bootstrap_org` / `TESSERA_BOOTSTRAP_ORG` | `default` | org created on an empty database |
//! | `bootstrap_email` / `TESSERA_BOOTSTRAP_EMAIL` | `admin@example.com` | its owner's email |
//! | `log` / `TESSERA_LOG` | `info` | log filter (`tessera=debug,info`) |
//! | `database_max_connections` / `TESSERA_DATABASE_MAX_CONNECTIONS` | `10` | PostgreSQL pool size per node |
//! | `database_acquire_timeout_seconds` / `TESSERA_DATABASE_ACQUIRE_TIMEOUT_SECONDS` | `5` | longest wait for a PostgreSQL connection (bounds a request during an outage) |
//! | `outage_grace_seconds` / `TESSERA_OUTAGE_GRACE_SECONDS` | `30` | how long cached verifications keep answering while PostgreSQL is unreachable |
//! | `login_failures_per_account` / `TESSERA_LOGIN_FAILURES_PER_ACCOUNT` | `10` | failed logins per email per window before `429` (0: off) |
//! | `login_failures_per_ip` / `TESSERA_LOGIN_FAILURES_PER_IP` | `50` | failed logins per client IP per window before `429` (0: off) |
//! | `login_throttle_window_seconds` / `TESSERA_LOGIN_THROTTLE_WINDOW_SECONDS` | `900` | the throttling window |
//! | `header_timeout_seconds` / `TESSERA_HEADER_TIMEOUT_SECONDS` | `20` | longest a client may take to send a request's headers (also the idle keep-alive limit, and how long a client may read nothing of an answer) |
//! | `max_header_bytes` / `TESSERA_MAX_HEADER_BYTES` | `16384` | largest accepted request head (request line + headers); larger is `431` |
//! | `max_connections` / `TESSERA_MAX_CONNECTIONS` | `2048` | most client connections open at once; more wait in the kernel's backlog |
//! | `leak_reports_per_ip` / `TESSERA_LEAK_REPORTS_PER_IP` | `30` | `POST /leaks` requests per client IP per window before `429` (0: off) |
//! | `leak_report_window_seconds` / `TESSERA_LEAK_REPORT_WINDOW_SECONDS` | `60` | the leak-report window |

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;
use tessera_core::TokenFormat;

/// Environment variables that belong to the client side, not the server.
const CLIENT_ENV: &[&str] = &[
    "TESSERA_TOKEN",
    "TESSERA_URL",
    "TESSERA_CONFIG_DIR",
    "TESSERA_CONFIG",
];

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub token_prefix: String,
    pub last_used_flush_seconds: u64,
    pub session_ttl_hours: u64,
    pub cookie_secure: bool,
    pub max_body_bytes: usize,
    pub request_timeout_seconds: u64,
    pub trusted_proxies: Vec<IpAddr>,
    pub bootstrap_org: String,
    pub bootstrap_email: String,
    pub log: String,
    pub database_max_connections: u32,
    pub database_acquire_timeout_seconds: u64,
    pub outage_grace_seconds: u64,
    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub login_throttle_window_seconds: u64,
    pub header_timeout_seconds: u64,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub leak_reports_per_ip: u32,
    pub leak_report_window_seconds: u64,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("token_prefix", &self.token_prefix)
            .field("last_used_flush_seconds", &self.last_used_flush_seconds)
            .field("session_ttl_hours", &self.session_ttl_hours)
            .field("cookie_secure", &self.cookie_secure)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout_seconds", &self.request_timeout_seconds)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("bootstrap_org", &self.bootstrap_org)
            .field("bootstrap_email", &self.bootstrap_email)
            .field("log", &self.log)
            .field("database_max_connections", &self.database_max_connections)
            .field(
                "database_acquire_timeout_seconds",
                &self.database_acquire_timeout_seconds,
            )
            .field("outage_grace_seconds", &self.outage_grace_seconds)
            .field(
                "login_failures_per_account",
                &self.login_failures_per_account,
            )
            .field("login_failures_per_ip", &self.login_failures_per_ip)
            .field(
                "login_throttle_window_seconds",
                &self.login_throttle_window_seconds,
            )
            .field("header_timeout_seconds", &self.header_timeout_seconds)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("max_connections", &self.max_connections)
            .field("leak_reports_per_ip", &self.leak_reports_per_ip)
            .field(
                "leak_report_window_seconds",
                &self.leak_report_window_seconds,
            )
            .finish()
    }
}

/// Hides a password in a database URL (`postgres://user:secret@host`).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://tessera.db".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token_prefix: "tsr".into(),
            last_used_flush_seconds: 5,
            session_ttl_hours: 12,
            cookie_secure: false,
            max_body_bytes: 64 * 1024,
            request_timeout_seconds: 30,
            trusted_proxies: Vec::new(),
            bootstrap_org: "default".into(),
            bootstrap_email: "admin@example.com".into(),
            log: "info".into(),
            database_max_connections: 10,
            database_acquire_timeout_seconds: 5,
            outage_grace_seconds: 30,
            login_failures_per_account: 10,
            login_failures_per_ip: 50,
            login_throttle_window_seconds: 900,
            header_timeout_seconds: 20,
            max_header_bytes: 16 * 1024,
            // Each open connection costs a file descriptor, a task and its
            // buffers; a few thousand is far more than a proxy in front
            // needs, and few enough to stay under common `ulimit -n`
            // settings (see docs/configuration.md).
            max_connections: 2048,
            // Legitimate reporters (a scanner in CI, a secret-scanning
            // service) send a report per find, not a stream; each report
            // costs up to 1000 storage reads.
            leak_reports_per_ip: 30,
            leak_report_window_seconds: 60,
        }
    }
}

/// A configuration problem, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{name}: {reason}")]
    Value { name: String, reason: String },
}

/// The file layer: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<String>,
    token_prefix: Option<String>,
    last_used_flush_seconds: Option<u64>,
    session_ttl_hours: Option<u64>,
    cookie_secure: Option<bool>,
    max_body_bytes: Option<usize>,
    request_timeout_seconds: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    bootstrap_org: Option<String>,
    bootstrap_email: Option<String>,
    log: Option<String>,
    database_max_connections: Option<u32>,
    database_acquire_timeout_seconds: Option<u64>,
    outage_grace_seconds: Option<u64>,
    login_failures_per_account: Option<u32>,
    login_failures_per_ip: Option<u32>,
    login_throttle_window_seconds: Option<u64>,
    header_timeout_seconds: Option<u64>,
    max_header_bytes: Option<usize>,
    max_connections: Option<usize>,
    leak_reports_per_ip: Option<u32>,
    leak_report_window_seconds: Option<u64>,
}

fn parse<T: FromStr>(name: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| ConfigError::Value {
            name: name.to_owned(),
            reason: format!("{value:?} is not valid: {e}"),
        })
}

fn parse_proxies(name: &str, values: &[String]) -> Result<Vec<IpAddr>, ConfigError> {
    values
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| parse(name, s))
        .collect()
}

impl Config {
    /// Defaults, then `file` (if any), then the `TESSERA_*` variables in
    /// `env`. Returns warnings for variables that look like Tessera's but
    /// are not known (a misspelling would otherwise be silently ignored).
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut config = Self::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            let parsed: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            config.apply_file(parsed)?;
        }
        let warnings = config.apply_env(env)?;
        config.validate()?;
        Ok((config, warnings))
    }

    fn apply_file(&mut self, f: FileConfig) -> Result<(), ConfigError> {
        self.apply_file_hardening(&f);
        let set = |target: &mut String, v: Option<String>| {
            if let Some(v) = v {
                *target = v;
            }
        };
        set(&mut self.database_url, f.database_url);
        set(&mut self.token_prefix, f.token_prefix);
        set(&mut self.bootstrap_org, f.bootstrap_org);
        set(&mut self.bootstrap_email, f.bootstrap_email);
        set(&mut self.log, f.log);
        if let Some(v) = f.listen {
            self.listen = parse("listen", &v)?;
        }
        if let Some(v) = f.trusted_proxies {
            self.trusted_proxies = parse_proxies("trusted_proxies", &v)?;
        }
        self.last_used_flush_seconds = f
            .last_used_flush_seconds
            .unwrap_or(self.last_used_flush_seconds);
        self.session_ttl_hours = f.session_ttl_hours.unwrap_or(self.session_ttl_hours);
        self.cookie_secure = f.cookie_secure.unwrap_or(self.cookie_secure);
        self.max_body_bytes = f.max_body_bytes.unwrap_or(self.max_body_bytes);
        self.request_timeout_seconds = f
            .request_timeout_seconds
            .unwrap_or(self.request_timeout_seconds);
        self.database_max_connections = f
            .database_max_connections
            .unwrap_or(self.database_max_connections);
        self.database_acquire_timeout_seconds = f
            .database_acquire_timeout_seconds
            .unwrap_or(self.database_acquire_timeout_seconds);
        self.outage_grace_seconds = f.outage_grace_seconds.unwrap_or(self.outage_grace_seconds);
        Ok(())
    }

    /// The abuse-resistance settings of the file layer.
    fn apply_file_hardening(&mut self, f: &FileConfig) {
        self.login_failures_per_account = f
            .login_failures_per_account
            .unwrap_or(self.login_failures_per_account);
        self.login_failures_per_ip = f
            .login_failures_per_ip
            .unwrap_or(self.login_failures_per_ip);
        self.login_throttle_window_seconds = f
            .login_throttle_window_seconds
            .unwrap_or(self.login_throttle_window_seconds);
        self.header_timeout_seconds = f
            .header_timeout_seconds
            .unwrap_or(self.header_timeout_seconds);
        self.max_header_bytes = f.max_header_bytes.unwrap_or(self.max_header_bytes);
        self.max_connections = f.max_connections.unwrap_or(self.max_connections);
        self.leak_reports_per_ip = f.leak_reports_per_ip.unwrap_or(self.leak_reports_per_ip);
        self.leak_report_window_seconds = f
            .leak_report_window_seconds
            .unwrap_or(self.leak_report_window_seconds);
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        for (name, value) in env.iter().filter(|(k, _)| k.starts_with("TESSERA_")) {
            match name.as_str() {
                "TESSERA_DATABASE_URL" => self.database_url = value.clone(),
                "TESSERA_LISTEN" => self.listen = parse(name, value)?,
                "TESSERA_TOKEN_PREFIX" => self.token_prefix = value.clone(),
                "TESSERA_LAST_USED_FLUSH_SECONDS" => self.last_used_flush_seconds = parse(name, value)?,
                "TESSERA_SESSION_TTL_HOURS" => self.session_ttl_hours = parse(name, value)?,
                "TESSERA_COOKIE_SECURE" => self.cookie_secure = parse(name, value)?,
                "TESSERA_MAX_BODY_BYTES" => self.max_body_bytes = parse(name, value)?,
                "TESSERA_REQUEST_TIMEOUT_SECONDS" => self.request_timeout_seconds = parse(name, value)?,
                "TESSERA_TRUSTED_PROXIES" => {
                    let list: Vec<String> = value.split(',').map(str::to_owned).collect();
                    self.trusted_proxies = parse_proxies(name, &list)?;
                }
                "TESSERA_BOOTSTRAP_ORG" => self.bootstrap_org = value.clone(),
                "TESSERA_BOOTSTRAP_EMAIL" => self.bootstrap_email = value.clone(),
                "TESSERA_LOG" => self.log = value.clone(),
                "TESSERA_DATABASE_MAX_CONNECTIONS" => self.database_max_connections = parse(name, value)?,
                "TESSERA_DATABASE_ACQUIRE_TIMEOUT_SECONDS" => {
                    self.database_acquire_timeout_seconds = parse(name, value)?
                }
                "TESSERA_OUTAGE_GRACE_SECONDS" => self.outage_grace_seconds = parse(name, value)?,
                "TESSERA_LOGIN_FAILURES_PER_ACCOUNT" => {
                    self.login_failures_per_account = parse(name, value)?
                }
                "TESSERA_LOGIN_FAILURES_PER_IP" => self.login_failures_per_ip = parse(name, value)?,
                "TESSERA_LOGIN_THROTTLE_WINDOW_SECONDS" => {
                    self.login_throttle_window_seconds = parse(name, value)?
                }
                "TESSERA_HEADER_TIMEOUT_SECONDS" => self.header_timeout_seconds = parse(name, value)?,
                "TESSERA_MAX_HEADER_BYTES" => self.max_header_bytes = parse(name, value)?,
                "TESSERA_MAX_CONNECTIONS" => self.max_connections = parse(name, value)?,
                "TESSERA_LEAK_REPORTS_PER_IP" => self.leak_reports_per_ip = parse(name, value)?,
                "TESSERA_LEAK_REPORT_WINDOW_SECONDS" => {
                    self.leak_report_window_seconds = parse(name, value)?
                }
                known if CLIENT_ENV.contains(&known) => {}
                unknown => warnings.push(format!(
                    "ignoring unknown environment variable {unknown} (misspelt? see docs/configuration.md)"
                )),
            }
        }
        Ok(warnings)
    }

    /// Checks values that parse but make no sense, with how to fix them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |name: &str, reason: &str| {
            Err(ConfigError::Value {
                name: name.to_owned(),
                reason: reason.to_owned(),
            })
        };
        if let Err(e) = TokenFormat::new(&self.token_prefix) {
            return bad("token_prefix", &e.to_string());
        }
        if !(1..=3600).contains(&self.last_used_flush_seconds) {
            return bad("last_used_flush_seconds", "must be between 1 and 3600");
        }
        if !(1..=24 * 90).contains(&self.session_ttl_hours) {
            return bad("session_ttl_hours", "must be between 1 and 2160");
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_body_bytes) {
            return bad("max_body_bytes", "must be between 1024 and 16777216");
        }
        if !(1..=600).contains(&self.request_timeout_seconds) {
            return bad("request_timeout_seconds", "must be between 1 and 600");
        }
        if !(1..=1000).contains(&self.database_max_connections) {
            return bad("database_max_connections", "must be between 1 and 1000");
        }
        if !(1..=300).contains(&self.database_acquire_timeout_seconds) {
            return bad(
                "database_acquire_timeout_seconds",
                "must be between 1 and 300",
            );
        }
        if self.outage_grace_seconds > 3600 {
            return bad("outage_grace_seconds", "must be at most 3600");
        }
        if !(1..=7 * 24 * 3600).contains(&self.login_throttle_window_seconds) {
            return bad(
                "login_throttle_window_seconds",
                "must be between 1 and 604800 (a week)",
            );
        }
        if !(1..=600).contains(&self.header_timeout_seconds) {
            return bad("header_timeout_seconds", "must be between 1 and 600");
        }
        if !(8192..=1024 * 1024).contains(&self.max_header_bytes) {
            return bad("max_header_bytes", "must be between 8192 and 1048576");
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return bad("max_connections", "must be between 1 and 1000000");
        }
        if !(1..=24 * 3600).contains(&self.leak_report_window_seconds) {
            return bad(
                "leak_report_window_seconds",
                "must be between 1 and 86400 (a day)",
            );
        }
        if tessera_core::OrgKey::parse(&self.bootstrap_org).is_err() {
            return bad(
                "bootstrap_org",
                "must be a key: lowercase letters, digits, '.', '_', '-'",
            );
        }
        if tessera_core::lifecycle::normalize_email(&self.bootstrap_email).is_err() {
            return bad("bootstrap_email", "must be an email address");
        }
        Ok(())
    }

    /// The login throttle's limits.
    pub fn login_limits(&self) -> crate::throttle::Limits {
        crate::throttle::Limits {
            per_account: self.login_failures_per_account,
            per_ip: self.login_failures_per_ip,
            window: time::Duration::seconds(
                i64::try_from(self.login_throttle_window_seconds).unwrap_or(900),
            ),
        }
    }

    /// The leak-report rate limit (reports per client IP per window).
    pub fn leak_report_limit(&self) -> crate::throttle::RateLimit {
        crate::throttle::RateLimit::new(
            self.leak_reports_per_ip,
            time::Duration::seconds(i64::try_from(self.leak_report_window_seconds).unwrap_or(60)),
        )
    }

    pub fn token_format(&self) -> TokenFormat {
        // validate() has checked the prefix; fall back to the default rather
        // than panic if a caller skipped it.
        TokenFormat::new(&self.token_prefix).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_documented_values() {
        let (c, warnings) = Config::load(None, &env(&[])).expect("defaults load");
        assert_eq!(c.database_url, "sqlite://tessera.db");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.token_prefix, "tsr");
        assert!(warnings.is_empty());
    }

    #[test]
    fn env_overrides_file_and_warns_on_typos() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tessera.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\ntoken_prefix = \"acme\"\n",
        )
        .expect("write");
        let (c, warnings) = Config::load(
            Some(&path),
            &env(&[
                ("TESSERA_LISTEN", "127.0.0.1:9100"),
                ("TESSERA_LISTNE", "x"),
                ("TESSERA_TOKEN", "t"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(c.token_prefix, "acme");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("TESSERA_LISTNE"));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = Config::load(None, &env(&[("TESSERA_LISTEN", "nowhere")])).expect_err("bad");
        assert!(err.to_string().contains("TESSERA_LISTEN"), "{err}");
        let err =
            Config::load(None, &env(&[("TESSERA_TOKEN_PREFIX", "Bad_Prefix")])).expect_err("bad");
        assert!(err.to_string().contains("token_prefix"), "{err}");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "lsten = 1\n").expect("write");
        let err = Config::load(Some(&path), &env(&[])).expect_err("unknown key");
        assert!(err.to_string().contains("lsten"), "{err}");
    }

    #[test]
    fn abuse_limits_come_from_file_and_env_and_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tessera.toml");
        std::fs::write(
            &path,
            "max_connections = 10\nleak_reports_per_ip = 0\nleak_report_window_seconds = 30\n",
        )
        .expect("write");
        let (c, _) = Config::load(Some(&path), &env(&[])).expect("loads");
        assert_eq!(
            (
                c.max_connections,
                c.leak_reports_per_ip,
                c.leak_report_window_seconds
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
                c.max_connections,
                c.leak_reports_per_ip,
                c.leak_report_window_seconds
            ),
            (5, 7, 120)
        );
        let err = Config::load(None, &env(&[("TESSERA_MAX_CONNECTIONS", "0")])).expect_err("0");
        assert!(err.to_string().contains("max_connections"), "{err}");
        let err = Config::load(None, &env(&[("TESSERA_LEAK_REPORT_WINDOW_SECONDS", "0")]))
            .expect_err("0");
        assert!(
            err.to_string().contains("leak_report_window_seconds"),
            "{err}"
        );
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite://tessera.db"), "sqlite://tessera.db");
        let c = Config {
            database_url: "postgres://u:secret@h/db".into(),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("secret"));
    }
}
