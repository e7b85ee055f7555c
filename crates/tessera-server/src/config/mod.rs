//! Configuration: one typed struct in sections, read in layers — built-in
//! defaults, then an optional TOML file, then `TESSERA_*` environment
//! variables, then command-line flags (applied by the binary through
//! [`Config::apply_flag`]). Later layers win.
//!
//! Every setting is declared once, in the `settings!` table below: its
//! section, key, type, default and doc line. The file key
//! (`http.listen`, or `listen` under `[http]`), the environment variable
//! (`TESSERA_LISTEN`), the flag (`--listen`, where the binary offers one)
//! and the docs entry all come from that line; a test checks
//! docs/configuration.md against it.
//!
//! Before sections the file was flat (`listen = ...`). Flat keys still
//! load, each with a warning naming its new place, so existing files keep
//! working while they are updated.

mod embedding;
mod table;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::Path;

use tessera_core::TokenFormat;

use crate::github_scanning::ScanningKeys;
use crate::verify::rules::{RuleSpec, Rules};
pub use embedding::{is_loopback_host, ClientSecret, FrameAncestors, LogoUrl};
use table::settings;
pub use table::{redact_url, DatabaseUrl, Raw, Setting, Value};

settings! {
    /// Where data lives, and how this node uses the database.
    [database] DatabaseConfig {
        /// Where data lives: `sqlite://FILE`, `sqlite::memory:` or `postgres://…`.
        url: DatabaseUrl = DatabaseUrl::from("sqlite://tessera.db"), flat "database_url";
        /// PostgreSQL pool size per node.
        max_connections: u32 = 10, flat "database_max_connections";
        /// Longest wait for a PostgreSQL connection (bounds a request during an outage).
        acquire_timeout_seconds: u64 = 5, flat "database_acquire_timeout_seconds";
        /// How long cached verifications keep answering while PostgreSQL is unreachable.
        outage_grace_seconds: u64 = 30, flat "outage_grace_seconds";
    }
    /// The HTTP listener and the limits it puts on clients.
    [http] HttpConfig {
        /// Address and port to serve on.
        listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080)), flat "listen";
        /// Largest accepted request body.
        max_body_bytes: usize = 64 * 1024, flat "max_body_bytes";
        /// Longest a request may take.
        request_timeout_seconds: u64 = 30, flat "request_timeout_seconds";
        /// Longest a client may take to send a request's headers (also the
        /// idle keep-alive limit, and how long a client may read nothing).
        header_timeout_seconds: u64 = 20, flat "header_timeout_seconds";
        /// Largest accepted request head (request line + headers).
        max_header_bytes: usize = 16 * 1024, flat "max_header_bytes";
        // Each open connection costs a file descriptor, a task and its
        // buffers; a few thousand is far more than a proxy in front needs,
        // and few enough to stay under common `ulimit -n` settings.
        /// Most client connections open at once.
        max_connections: usize = 2048, flat "max_connections";
        /// Proxy IPs whose `X-Forwarded-For` is believed.
        trusted_proxies: Vec<IpAddr> = Vec::new(), flat "trusted_proxies";
        /// The URL people and services reach Tessera at (`https://tessera.example.com`):
        /// the issuer in introspection answers, login links, SSO redirects.
        public_url: String = String::new(), flat "public_url";
    }
    /// The tokens this deployment issues.
    [tokens] TokensConfig {
        /// Prefix of every token.
        prefix: String = "tsr".into(), flat "token_prefix";
        /// How far "last used" may lag in storage.
        last_used_flush_seconds: u64 = 5, flat "last_used_flush_seconds";
    }
    /// The platform API: the host product's backend (docs/platform.md).
    [platform] PlatformConfig {
        /// Prefix of every platform key (`tessera platform-key create`);
        /// must differ from `token_prefix`.
        key_prefix: String = "tsp".into(), flat "platform_key_prefix";
    }
    /// Login sessions (the web page and `POST /session`).
    [sessions] SessionsConfig {
        /// Login session lifetime.
        ttl_hours: u64 = 12, flat "session_ttl_hours";
        /// Mark the session cookie `Secure` (set behind TLS).
        cookie_secure: bool = false, flat "cookie_secure";
    }
    /// Login throttling: how many failed logins before `429`.
    [login] LoginConfig {
        /// Failed logins per email per window before `429` (0: off).
        failures_per_account: u32 = 10, flat "login_failures_per_account";
        /// Failed logins per client IP per window before `429` (0: off).
        failures_per_ip: u32 = 50, flat "login_failures_per_ip";
        /// The throttling window.
        window_seconds: u64 = 900, flat "login_throttle_window_seconds";
    }
    // Legitimate reporters (a scanner in CI, a secret-scanning service)
    // send a report per find, not a stream; each report costs up to 1000
    // storage reads.
    /// `POST /leaks`: its rate limit, and the keys GitHub's reports are
    /// signed with.
    [leaks] LeaksConfig {
        /// `POST /leaks` requests per client IP per window before `429` (0: off).
        reports_per_ip: u32 = 30, flat "leak_reports_per_ip";
        /// The leak-report window.
        window_seconds: u64 = 60, flat "leak_report_window_seconds";
        /// GitHub's secret-scanning public keys: a JSON file as
        /// `https://api.github.com/meta/public_keys/secret_scanning` serves it.
        github_scanning_keys: Option<ScanningKeys> = None, flat "github_scanning_keys";
    }
    /// Webhooks (see docs/webhooks.md).
    [webhooks] WebhooksConfig {
        /// Allow webhook URLs on private, loopback and link-local addresses.
        allow_private: bool = false, flat "webhook_allow_private";
    }
    /// Single sign-on: the deployment's OpenID provider (see docs/sso.md).
    [oidc] OidcConfig {
        /// The OpenID provider's issuer URL (https://, or http:// on a loopback
        /// address); single sign-on is off without it.
        issuer: String = String::new(), flat "oidc_issuer";
        /// The client id the provider gave Tessera.
        client_id: String = String::new(), flat "oidc_client_id";
        /// The client secret the provider gave Tessera (never shown or logged).
        client_secret: ClientSecret = ClientSecret::default(), flat "oidc_client_secret";
        /// The provider's name on the login page's button.
        name: String = "single sign-on".into(), flat "oidc_name";
    }
    /// The web page inside a host product: framing and branding.
    [web] WebConfig {
        /// Origins allowed to frame the web page (CSP `frame-ancestors`); none by default.
        frame_ancestors: FrameAncestors = FrameAncestors::default(), flat "frame_ancestors";
        /// The product's name on the web page.
        brand_name: String = "Tessera".into(), flat "brand_name";
        /// The product's logo: a same-origin path or an https:// URL.
        brand_logo_url: Option<LogoUrl> = None, flat "brand_logo_url";
    }
    /// Notice emails (expiry warnings, leak and inactivity revocations; see
    /// docs/webhooks.md).
    [email] EmailConfig {
        /// `smtp://host:port` (plain, for a local relay) or `smtps://…`
        /// (TLS); email is off without it. May carry `user:password@`.
        smtp_url: Option<DatabaseUrl> = None, flat "smtp_url";
        /// The sender address of notice emails.
        smtp_from: String = String::new(), flat "smtp_from";
    }
    /// The org `serve` creates on an empty database.
    [bootstrap] BootstrapConfig {
        /// Key of the org created on an empty database.
        org: String = "default".into(), flat "bootstrap_org";
        /// Its owner's email.
        email: String = "admin@example.com".into(), flat "bootstrap_email";
    }
    /// Logging.
    [log] LogConfig {
        /// Log filter (`tessera=debug,info`).
        filter: String = "info".into(), flat "log";
        /// Log each request at `info`: method, route template, status, time.
        requests: bool = true, flat "log_requests";
        /// Log `/verify` and `/auth` requests too (they come at the rate of
        /// the product's own traffic; they are always counted in `/metrics`).
        verify_requests: bool = false, flat "log_verify_requests";
    }
    file only {
        /// `[[forward_auth.rules]]`: how `/auth` maps a proxy's original
        /// request to a question (see docs/forward-auth.md).
        forward_auth: ForwardAuthConfig,
    }
}

/// The `[forward_auth]` section: file only, since its rules are a list of
/// tables.
#[derive(Debug, Clone, Default)]
pub struct ForwardAuthConfig {
    pub rules: Rules,
}

/// Part 2's settings are named by their flat keys in the product's
/// contract (SPEC, "Configuration names for Part 2"), so in the file these
/// are first-class top-level keys, as good as their place in a section,
/// not deprecated spellings.
const TOP_LEVEL_KEYS: &[&str] = &[
    "public_url",
    "github_scanning_keys",
    "webhook_allow_private",
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_name",
    "frame_ancestors",
    "brand_name",
    "brand_logo_url",
    "platform_key_prefix",
    "smtp_url",
    "smtp_from",
];

/// Environment variables that belong to the client side, not the server.
const CLIENT_ENV: &[&str] = &[
    "TESSERA_TOKEN",
    "TESSERA_URL",
    "TESSERA_CONFIG_DIR",
    "TESSERA_CONFIG",
];

/// A configuration problem, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{name}: {reason}")]
    Value { name: String, reason: String },
}

impl ConfigError {
    fn value(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Value {
            name: name.into(),
            reason: reason.into(),
        }
    }
}

/// The setting called `flat` before sections (also its variable's name).
fn by_flat_name(flat: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.flat == flat)
}

fn by_path(section: &str, key: &str) -> Option<&'static Setting> {
    SETTINGS
        .iter()
        .find(|s| s.section == section && s.key == key)
}

impl Config {
    /// The defaults, on the database `url`: what tests and embedding
    /// services start from.
    pub fn with_database_url(url: impl Into<String>) -> Self {
        let mut config = Self::default();
        config.database.url = DatabaseUrl::from(url.into());
        config
    }

    /// Defaults, then `file` (if any), then the `TESSERA_*` variables in
    /// `env`. Returns warnings: for variables that look like Tessera's but
    /// are not known (a misspelling would otherwise be silently ignored),
    /// and for flat file keys from before sections.
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut config = Self::default();
        let mut warnings = Vec::new();
        if let Some(path) = file {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::File {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
            warnings.extend(config.apply_file(&shown, table)?);
        }
        warnings.extend(config.apply_env(env)?);
        config.validate()?;
        Ok((config, warnings))
    }

    /// The file layer: sections of known keys, or flat keys from before
    /// sections (with a warning). Anything else is an error, so that a
    /// misspelt key is not silently ignored.
    fn apply_file(&mut self, path: &str, table: toml::Table) -> Result<Vec<String>, ConfigError> {
        let unknown = |name: &str| ConfigError::File {
            path: path.to_owned(),
            reason: format!("unknown key `{name}` (see docs/configuration.md)"),
        };
        let mut warnings = Vec::new();
        for (name, value) in table {
            if name == "forward_auth" {
                self.forward_auth = forward_auth(path, value)?;
                continue;
            }
            // `log` is both a section and an old flat key: a table is the
            // section, a string the old key.
            let section_keys = match value {
                toml::Value::Table(keys) if SETTINGS.iter().any(|s| s.section == name) => keys,
                value => {
                    let setting = by_flat_name(&name).ok_or_else(|| unknown(&name))?;
                    self.set(setting, Raw::Toml(value))
                        .map_err(|reason| ConfigError::value(&name, reason))?;
                    if TOP_LEVEL_KEYS.contains(&name.as_str()) {
                        continue;
                    }
                    warnings.push(format!(
                        "{path}: the key `{name}` is deprecated: write `{}` under `[{}]` \
                         (see docs/configuration.md)",
                        setting.key, setting.section
                    ));
                    continue;
                }
            };
            for (key, value) in section_keys {
                let setting =
                    by_path(&name, &key).ok_or_else(|| unknown(&format!("{name}.{key}")))?;
                self.set(setting, Raw::Toml(value))
                    .map_err(|reason| ConfigError::value(setting.path(), reason))?;
            }
        }
        Ok(warnings)
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        for (name, value) in env.iter().filter(|(k, _)| k.starts_with("TESSERA_")) {
            if let Some(setting) = SETTINGS.iter().find(|s| s.env() == *name) {
                self.set(setting, Raw::Text(value))
                    .map_err(|reason| ConfigError::value(name, reason))?;
            } else if !CLIENT_ENV.contains(&name.as_str()) {
                warnings.push(format!(
                    "ignoring unknown environment variable {name} (misspelt? see docs/configuration.md)"
                ));
            }
        }
        Ok(warnings)
    }

    /// The flag layer: sets the setting whose flag is `--<flat name>`
    /// (`--database-url`, `--listen`, ...). Errors name the flag.
    pub fn apply_flag(&mut self, flat: &str, value: &str) -> Result<(), ConfigError> {
        let setting = by_flat_name(flat)
            .ok_or_else(|| ConfigError::value(format!("--{flat}"), "no such setting"))?;
        self.set(setting, Raw::Text(value))
            .map_err(|reason| ConfigError::value(setting.flag(), reason))
    }

    /// Checks values that parse but make no sense, with how to fix them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |section: &str, key: &str, reason: &str| {
            let name = by_path(section, key).map_or_else(
                || format!("{section}.{key}"),
                |s| format!("{} ({})", s.path(), s.env()),
            );
            Err(ConfigError::value(name, reason))
        };
        let (db, http) = (&self.database, &self.http);
        if let Err(e) = TokenFormat::new(&self.tokens.prefix) {
            return bad("tokens", "prefix", &e.to_string());
        }
        if let Err(e) = TokenFormat::new(&self.platform.key_prefix) {
            return bad("platform", "key_prefix", &e.to_string());
        }
        if self.platform.key_prefix == self.tokens.prefix {
            return bad(
                "platform",
                "key_prefix",
                "must differ from token_prefix, so that a platform key and a token are told apart",
            );
        }
        // Each number's bounds, in the order they are checked; what follows
        // the upper bound in the message says what it means.
        let wide = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let (tokens, login, leaks) = (&self.tokens, &self.login, &self.leaks);
        #[rustfmt::skip]
        let bounds: [(&str, &str, u64, RangeInclusive<u64>, &str); 12] = [
            ("tokens", "last_used_flush_seconds", tokens.last_used_flush_seconds, 1..=3600, ""),
            ("sessions", "ttl_hours", self.sessions.ttl_hours, 1..=24 * 90, ""),
            ("http", "max_body_bytes", wide(http.max_body_bytes), 1024..=16 * 1024 * 1024, ""),
            ("http", "request_timeout_seconds", http.request_timeout_seconds, 1..=600, ""),
            ("database", "max_connections", db.max_connections.into(), 1..=1000, ""),
            ("database", "acquire_timeout_seconds", db.acquire_timeout_seconds, 1..=300, ""),
            ("database", "outage_grace_seconds", db.outage_grace_seconds, 0..=3600, ""),
            ("login", "window_seconds", login.window_seconds, 1..=7 * 24 * 3600, " (a week)"),
            ("http", "header_timeout_seconds", http.header_timeout_seconds, 1..=600, ""),
            ("http", "max_header_bytes", wide(http.max_header_bytes), 8192..=1024 * 1024, ""),
            ("http", "max_connections", wide(http.max_connections), 1..=1_000_000, ""),
            ("leaks", "window_seconds", leaks.window_seconds, 1..=24 * 3600, " (a day)"),
        ];
        for (section, key, value, range, means) in bounds {
            if !range.contains(&value) {
                let reason = match range.start() {
                    0 => format!("must be at most {}", range.end()),
                    low => format!("must be between {low} and {}{means}", range.end()),
                };
                return bad(section, key, &reason);
            }
        }
        if let Err(reason) = check_public_url(&self.http.public_url) {
            return bad("http", "public_url", reason);
        }
        if let Err((key, reason)) = embedding::check_oidc(self) {
            return bad("oidc", key, &reason);
        }
        if self.web.brand_name.trim().is_empty() || self.web.brand_name.chars().count() > 64 {
            return bad("web", "brand_name", "must be 1 to 64 characters");
        }
        if let Some(url) = &self.email.smtp_url {
            let url = url.as_str();
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return bad("email", "smtp_url", "must start with smtp:// or smtps://");
            }
            if self
                .email
                .smtp_from
                .parse::<lettre::message::Mailbox>()
                .is_err()
            {
                return bad(
                    "email",
                    "smtp_from",
                    "must be the sender's email address when smtp_url is set",
                );
            }
        }
        if tessera_core::OrgKey::parse(&self.bootstrap.org).is_err() {
            return bad(
                "bootstrap",
                "org",
                "must be a key: lowercase letters, digits, '.', '_', '-'",
            );
        }
        if tessera_core::lifecycle::normalize_email(&self.bootstrap.email).is_err() {
            return bad("bootstrap", "email", "must be an email address");
        }
        Ok(())
    }

    /// The login throttle's limits.
    pub fn login_limits(&self) -> crate::throttle::Limits {
        crate::throttle::Limits {
            per_account: self.login.failures_per_account,
            per_ip: self.login.failures_per_ip,
            window: time::Duration::seconds(
                i64::try_from(self.login.window_seconds).unwrap_or(900),
            ),
        }
    }

    /// The leak-report rate limit (reports per client IP per window).
    pub fn leak_report_limit(&self) -> crate::throttle::RateLimit {
        crate::throttle::RateLimit::new(
            self.leaks.reports_per_ip,
            time::Duration::seconds(i64::try_from(self.leaks.window_seconds).unwrap_or(60)),
        )
    }

    pub fn token_format(&self) -> TokenFormat {
        // validate() has checked the prefix; fall back to the default rather
        // than panic if a caller skipped it.
        TokenFormat::new(&self.tokens.prefix).unwrap_or_default()
    }

    /// The platform keys' format: a token's, with their own prefix.
    pub fn platform_key_format(&self) -> TokenFormat {
        // validate() has checked the prefix; the default's is valid.
        TokenFormat::new(&self.platform.key_prefix)
            .or_else(|_| TokenFormat::new("tsp"))
            .unwrap_or_default()
    }
}

/// `[forward_auth]` from the file: its `rules`, each checked.
fn forward_auth(path: &str, value: toml::Value) -> Result<ForwardAuthConfig, ConfigError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Section {
        #[serde(default)]
        rules: Vec<RuleSpec>,
    }
    let file_error = |reason: String| ConfigError::File {
        path: path.to_owned(),
        reason: format!("forward_auth: {reason} (see docs/forward-auth.md)"),
    };
    let section: Section = value
        .try_into()
        .map_err(|e: toml::de::Error| file_error(e.message().to_owned()))?;
    let rules = Rules::parse(section.rules).map_err(|e| file_error(format!("rules: {e}")))?;
    Ok(ForwardAuthConfig { rules })
}

/// `public_url` is empty (not set) or an `http(s)://host[:port][/path]`
/// URL without query or fragment.
fn check_public_url(url: &str) -> Result<(), &'static str> {
    if url.is_empty() {
        return Ok(());
    }
    let reason = "must be an http:// or https:// URL with a host, and no query or fragment";
    let uri: axum::http::Uri = url.parse().map_err(|_| reason)?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.host().is_some_and(|h| !h.is_empty());
    if !scheme_ok || !host_ok || uri.query().is_some() || url.contains('#') || url.contains('@') {
        return Err(reason);
    }
    Ok(())
}
