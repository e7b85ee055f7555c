//! The machinery behind the settings table in [`super`]: the macro that
//! turns one line per setting into its field, default, file key,
//! environment variable and documentation entry, and how each value type
//! is read from text (environment, flags) and from TOML (the file).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::github_scanning::ScanningKeys;

/// One setting, as the file, the environment and the docs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The file's section (`[http]`).
    pub section: &'static str,
    /// The key within it (`listen`).
    pub key: &'static str,
    /// The name before sections: the file's old top-level key, and, upper
    /// case with `TESSERA_` in front, the environment variable.
    pub flat: &'static str,
    /// One line for people (the field's doc comment).
    pub help: &'static str,
}

impl Setting {
    /// `http.listen`: the TOML dotted key, and how errors and docs name it.
    pub fn path(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }

    /// `TESSERA_LISTEN`.
    pub fn env(&self) -> String {
        format!("TESSERA_{}", self.flat.to_ascii_uppercase())
    }

    /// `--listen`, for the settings that have a command-line flag.
    pub fn flag(&self) -> String {
        format!("--{}", self.flat.replace('_', "-"))
    }
}

/// Declares the configuration from one table: each section becomes a
/// struct and a field of `Config`, each line a field with its default, and
/// every line an entry of `SETTINGS` plus a case of the setters, so that a
/// setting cannot exist without its file key, variable and docs entry.
macro_rules! settings {
    (
        $(
            $(#[doc = $section_doc:literal])*
            [$section:ident] $Section:ident {
                $(
                    $(#[doc = $doc:literal])*
                    $field:ident: $ty:ty = $default:expr, flat $flat:literal;
                )*
            }
        )*
        // Sections that are not `key = value` settings (tables of tables,
        // like `[[forward_auth.rules]]`): file only, read by their own code.
        file only {
            $( $(#[doc = $file_doc:literal])* $file_section:ident: $FileSection:ty, )*
        }
    ) => {
        /// Tessera's configuration: one struct per section of the file.
        #[derive(Debug, Clone, Default)]
        pub struct Config {
            $( $(#[doc = $section_doc])* pub $section: $Section, )*
            $( $(#[doc = $file_doc])* pub $file_section: $FileSection, )*
        }

        $(
            $(#[doc = $section_doc])*
            #[derive(Debug, Clone)]
            pub struct $Section {
                $( $(#[doc = $doc])* pub $field: $ty, )*
            }

            impl Default for $Section {
                fn default() -> Self {
                    Self { $( $field: $default, )* }
                }
            }
        )*

        /// Every setting, in the order of the file's sections.
        pub const SETTINGS: &[$crate::config::Setting] = &[
            $( $( $crate::config::Setting {
                section: stringify!($section),
                key: stringify!($field),
                flat: $flat,
                help: concat!($($doc),*),
            }, )* )*
        ];

        impl Config {
            /// Sets `setting` from what a variable, a flag or the file says.
            fn set(&mut self, setting: &Setting, raw: $crate::config::Raw<'_>) -> Result<(), String> {
                match (setting.section, setting.key) {
                    $( $( (stringify!($section), stringify!($field)) => {
                        self.$section.$field = <$ty as $crate::config::Value>::from_raw(raw)?;
                    } )* )*
                    _ => return Err(format!("no setting {}", setting.path())),
                }
                Ok(())
            }

            /// The current value of `setting`, written as the docs write
            /// defaults.
            pub fn show(&self, setting: &Setting) -> Option<String> {
                match (setting.section, setting.key) {
                    $( $( (stringify!($section), stringify!($field)) => {
                        Some($crate::config::Value::show(&self.$section.$field))
                    } )* )*
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use settings;

/// A type a setting may have: read from text (environment, flags) and
/// from TOML (the file), and shown as the docs show defaults.
pub trait Value: Sized {
    fn from_text(text: &str) -> Result<Self, String>;
    fn from_toml(value: toml::Value) -> Result<Self, String>;
    fn show(&self) -> String;

    /// `raw` read by the one of the two above that fits it.
    fn from_raw(raw: Raw<'_>) -> Result<Self, String> {
        match raw {
            Raw::Text(text) => Self::from_text(text),
            Raw::Toml(value) => Self::from_toml(value),
        }
    }
}

/// A setting's value as written: text (an environment variable, a flag) or
/// a value of the TOML file.
pub enum Raw<'a> {
    Text(&'a str),
    Toml(toml::Value),
}

/// Numbers, booleans and addresses: parsed from trimmed text, taken from
/// TOML as its own type (an integer, a boolean, a string for an address).
macro_rules! parsed_values {
    ($($ty:ty),*) => {$(
        impl Value for $ty {
            fn from_text(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|e| format!("{text:?} is not valid: {e}"))
            }
            fn from_toml(value: toml::Value) -> Result<Self, String> {
                value.try_into().map_err(|e: toml::de::Error| e.message().to_owned())
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
parsed_values!(u32, u64, usize, bool);

impl Value for SocketAddr {
    fn from_text(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|e| format!("{text:?} is not valid: {e}"))
    }
    fn from_toml(value: toml::Value) -> Result<Self, String> {
        Self::from_text(&String::from_toml(value)?)
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Value for String {
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
    fn from_toml(value: toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::String(text) => Ok(text),
            other => Err(format!("expected a string, found {}", other.type_str())),
        }
    }
    fn show(&self) -> String {
        if self.is_empty() {
            "none".into()
        } else {
            self.clone()
        }
    }
}

/// A list of IP addresses: comma-separated in text, an array of strings in
/// TOML; empty entries are skipped.
impl Value for Vec<IpAddr> {
    fn from_text(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|e| format!("{s:?} is not valid: {e}")))
            .collect()
    }
    fn from_toml(value: toml::Value) -> Result<Self, String> {
        let toml::Value::Array(items) = value else {
            return Err(format!(
                "expected an array of strings, found {}",
                value.type_str()
            ));
        };
        let mut addresses = Vec::with_capacity(items.len());
        for item in items {
            addresses.extend(Self::from_text(&String::from_toml(item)?)?);
        }
        Ok(addresses)
    }
    fn show(&self) -> String {
        if self.is_empty() {
            return "none".into();
        }
        let shown: Vec<String> = self.iter().map(IpAddr::to_string).collect();
        shown.join(",")
    }
}

/// A setting that may be left unset: empty text (or an empty string in
/// the file) is unset, shown as `none`.
impl<T: Value> Value for Option<T> {
    fn from_text(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        T::from_text(text).map(Some)
    }
    fn from_toml(value: toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::String(text) if text.trim().is_empty() => Ok(None),
            value => T::from_toml(value).map(Some),
        }
    }
    fn show(&self) -> String {
        self.as_ref().map_or_else(|| "none".into(), T::show)
    }
}

/// A file path: the text as it is (relative to the working directory).
impl Value for PathBuf {
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(Self::from(text))
    }
    fn from_toml(value: toml::Value) -> Result<Self, String> {
        String::from_toml(value).map(Self::from)
    }
    fn show(&self) -> String {
        self.display().to_string()
    }
}

/// GitHub's secret-scanning keys, named by their file's path. The file is
/// read and checked when the setting is, so that a bad one stops the
/// program at start-up, not the first report.
impl Value for ScanningKeys {
    fn from_text(text: &str) -> Result<Self, String> {
        Self::load(&PathBuf::from_text(text)?)
    }
    fn from_toml(value: toml::Value) -> Result<Self, String> {
        Self::load(&PathBuf::from_toml(value)?)
    }
    fn show(&self) -> String {
        self.path().display().to_string()
    }
}

/// A database URL. It may carry a password, so it has no `Display` and its
/// `Debug` hides the password: a logged config never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for DatabaseUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl From<&str> for DatabaseUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact_url(&self.0), f)
    }
}

impl Value for DatabaseUrl {
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(Self(text.to_owned()))
    }
    fn from_toml(value: toml::Value) -> Result<Self, String> {
        String::from_toml(value).map(Self)
    }
    fn show(&self) -> String {
        redact_url(&self.0)
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
