//! The credentials file `tessera login` writes, and which server and token
//! a command uses.
//!
//! Invariants:
//! - the file is `{"url", "token"}` with mode 0600 in a 0700 directory,
//!   replaced atomically so a crash never leaves half a token;
//! - precedence is `--token` > `TESSERA_TOKEN` > the file; a saved token is
//!   sent only to the URL it was saved with, never to another server named
//!   by `--url` or `TESSERA_URL`.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tessera_client::{Client, DEFAULT_URL};

use crate::error::CliError;

const FILE_NAME: &str = "credentials.json";

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    pub url: String,
    pub token: String,
}

/// Leaves the token out, as `tessera_core::model::Member` leaves out its
/// password hash: a credential must not reach a log through `{:?}`.
impl fmt::Debug for Saved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Saved")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Where the server and credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--token` or `TESSERA_TOKEN` (clap already ranks the flag first).
    Given,
    Saved,
    None,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Resolved {
    pub url: String,
    pub token: Option<String>,
    pub source: Source,
}

impl Resolved {
    /// A client for this server and credential.
    pub fn client(&self) -> Result<Client, CliError> {
        Ok(Client::new(self.url.clone(), self.token.clone())?)
    }
}

/// Picks the server and token from what was given (`--url`/`TESSERA_URL`,
/// `--token`/`TESSERA_TOKEN`) and what `tessera login` saved.
///
/// A given token with no server is refused rather than sent to the
/// default address: it belongs to some server, and guessing which one
/// either fails confusingly or hands the token to the wrong one.
pub fn resolve(
    url: Option<String>,
    token: Option<String>,
    saved: Option<Saved>,
) -> Result<Resolved, CliError> {
    let url = url.filter(|u| !u.trim().is_empty());
    match (token.filter(|t| !t.trim().is_empty()), saved) {
        (Some(token), _) => {
            let url = url.ok_or_else(|| {
                CliError::Input(format!(
                    "a token is given (TESSERA_TOKEN or --token) but no server: set TESSERA_URL \
                     too, e.g. `export TESSERA_URL={DEFAULT_URL}`, or pass --url"
                ))
            })?;
            Ok(Resolved {
                url,
                token: Some(token),
                source: Source::Given,
            })
        }
        (None, Some(saved)) if url.as_deref().is_none_or(|u| same_server(u, &saved.url)) => {
            Ok(Resolved {
                url: saved.url,
                token: Some(saved.token),
                source: Source::Saved,
            })
        }
        (None, saved) => {
            let url = url.unwrap_or_else(|| DEFAULT_URL.into());
            if let Some(saved) = saved {
                note_login_elsewhere(&url, &saved.url);
            }
            Ok(Resolved {
                url,
                token: None,
                source: Source::None,
            })
        }
    }
}

/// Why there is no credential, when a saved login was left unused because
/// it is for another server. Kept here for [`missing_credential`]: the
/// client reports a missing credential only when a command needs one,
/// long after the resolution that knows why, and every command's error
/// passes through `From<tessera_client::Error>`, which asks here.
static LOGIN_ELSEWHERE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn note_login_elsewhere(url: &str, saved_url: &str) {
    let _ = LOGIN_ELSEWHERE.set(login_elsewhere_message(url, saved_url));
}

fn login_elsewhere_message(url: &str, saved_url: &str) -> String {
    format!(
        "no API token for {url}: the saved login is for {saved_url}, and a saved token \
         is only sent to its own server. To use it, drop --url and TESSERA_URL (or give \
         --url {saved_url}); to use {url}, log in there: `tessera login --url {url} --email EMAIL`"
    )
}

/// The message for a missing credential when a saved login was left
/// unused (see [`resolve`]), if one was.
pub fn missing_credential() -> Option<&'static str> {
    LOGIN_ELSEWHERE.get().map(String::as_str)
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
}

/// `$TESSERA_CONFIG_DIR/credentials.json`, else
/// `$XDG_CONFIG_HOME/tessera/credentials.json`, else
/// `~/.config/tessera/credentials.json`.
pub fn path_from(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("TESSERA_CONFIG_DIR") {
        return Some(dir.join(FILE_NAME));
    }
    if let Some(dir) = var("XDG_CONFIG_HOME") {
        return Some(dir.join("tessera").join(FILE_NAME));
    }
    var("HOME").map(|home| home.join(".config").join("tessera").join(FILE_NAME))
}

pub fn path() -> Option<PathBuf> {
    path_from(&|name| std::env::var(name).ok())
}

/// The saved credentials, if any. A file that exists but cannot be used is
/// an error that says how to get rid of it.
pub fn load() -> Result<Option<Saved>, CliError> {
    match path() {
        Some(path) => load_from(&path),
        None => Ok(None),
    }
}

pub fn load_from(path: &Path) -> Result<Option<Saved>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CliError::io(
                format!("cannot read saved credentials {}", path.display()),
                e,
            ))
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        CliError::Input(format!(
            "saved credentials {} are unreadable ({e}); delete the file or run `tessera login` again",
            path.display()
        ))
    })
}

/// Writes the file with owner-only permissions, via a temporary file and
/// a rename.
pub fn save_to(path: &Path, saved: &Saved) -> Result<(), CliError> {
    let dir = path
        .parent()
        .ok_or_else(|| CliError::Input(format!("{} has no directory", path.display())))?;
    create_private_dir(dir)?;
    let tmp = path.with_extension("json.tmp");
    let context = || format!("cannot write saved credentials {}", tmp.display());
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(|e| CliError::io(context(), e))?;
    let mut text = serde_json::to_string_pretty(saved)
        .map_err(|e| CliError::Input(format!("cannot encode credentials: {e}")))?;
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::io(context(), e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::io(
            format!("cannot write saved credentials {}", path.display()),
            e,
        )
    })
}

fn create_private_dir(dir: &Path) -> Result<(), CliError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| CliError::io(format!("cannot create {}", dir.display()), e))
}

/// Removes the file; `Ok(false)` if there was none.
pub fn remove(path: &Path) -> Result<bool, CliError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CliError::io(format!("cannot remove {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(url: &str) -> Saved {
        Saved {
            url: url.into(),
            token: "tsr_saved".into(),
        }
    }

    #[test]
    fn a_given_token_wins_over_the_saved_one() {
        let r = resolve(
            Some("https://b.example".into()),
            Some("tsr_given".into()),
            Some(saved("https://a.example")),
        )
        .expect("resolves");
        assert_eq!(r.token.as_deref(), Some("tsr_given"));
        assert_eq!(r.source, Source::Given);
        assert_eq!(r.url, "https://b.example");
    }

    #[test]
    fn a_given_token_needs_a_server() {
        // The saved URL belongs to the saved token, not to this one, and
        // the default is a guess: the command says to set TESSERA_URL.
        for saved in [None, Some(saved("https://a.example"))] {
            let err = resolve(None, Some("tsr_given".into()), saved).expect_err("no server");
            let err = err.to_string();
            assert!(
                err.contains("export TESSERA_URL=http://127.0.0.1:8080"),
                "{err}"
            );
            assert!(!err.contains("tsr_given"), "{err}");
        }
    }

    #[test]
    fn a_login_for_another_server_is_named_with_the_way_to_use_it() {
        let err = login_elsewhere_message("http://b:1", "http://a:8080");
        assert!(
            err.contains("the saved login is for http://a:8080"),
            "{err}"
        );
        assert!(err.contains("--url http://a:8080"), "{err}");
        assert!(
            err.contains("`tessera login --url http://b:1 --email EMAIL`"),
            "{err}"
        );
    }

    #[test]
    fn the_saved_token_goes_only_to_its_own_server() {
        let r = resolve(None, None, Some(saved("https://a.example"))).expect("resolves");
        assert_eq!(
            r,
            Resolved {
                url: "https://a.example".into(),
                token: Some("tsr_saved".into()),
                source: Source::Saved,
            }
        );
        let r = resolve(
            Some("https://a.example/".into()),
            None,
            Some(saved("https://a.example")),
        )
        .expect("resolves");
        assert_eq!(r.source, Source::Saved);
        let r = resolve(
            Some("https://evil.example".into()),
            None,
            Some(saved("https://a.example")),
        )
        .expect("resolves");
        assert_eq!(r.token, None);
        assert_eq!(r.url, "https://evil.example");
    }

    #[test]
    fn nothing_given_nothing_saved() {
        let r = resolve(Some(String::new()), Some(" ".into()), None).expect("resolves");
        assert_eq!(r.url, DEFAULT_URL);
        assert_eq!(r.token, None);
        assert_eq!(r.source, Source::None);
    }

    #[test]
    fn the_file_location_follows_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let all = env(&[
            ("TESSERA_CONFIG_DIR", "/c"),
            ("XDG_CONFIG_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(path_from(&all), Some(PathBuf::from("/c/credentials.json")));
        let xdg = env(&[
            ("TESSERA_CONFIG_DIR", ""),
            ("XDG_CONFIG_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            path_from(&xdg),
            Some(PathBuf::from("/x/tessera/credentials.json"))
        );
        let home = env(&[("HOME", "/h")]);
        assert_eq!(
            path_from(&home),
            Some(PathBuf::from("/h/.config/tessera/credentials.json"))
        );
        assert_eq!(path_from(&env(&[])), None);
    }

    #[test]
    fn save_load_remove_round_trip_with_private_modes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join(FILE_NAME);
        assert_eq!(load_from(&path).expect("absent"), None);
        save_to(&path, &saved("https://a.example")).expect("save");
        save_to(&path, &saved("https://b.example")).expect("overwrite");
        assert_eq!(
            load_from(&path).expect("load"),
            Some(saved("https://b.example"))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().expect("dir")), 0o700);
        }
        assert!(remove(&path).expect("remove"));
        assert!(!remove(&path).expect("already gone"));
    }

    #[test]
    fn a_corrupt_file_says_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "not json").expect("write");
        let err = load_from(&path).expect_err("corrupt");
        assert!(err.to_string().contains("tessera login"), "{err}");
    }

    #[test]
    fn debug_hides_the_token() {
        assert!(!format!("{:?}", saved("https://a.example")).contains("tsr_saved"));
    }
}
