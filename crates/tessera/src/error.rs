//! The binary's one error type: everything a command can fail with,
//! printed as one line on stderr with exit code 1.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CliError {
    /// The API answered with an error, or could not be reached.
    #[error(transparent)]
    Client(tessera_client::Error),
    /// A flag, file or input the user gave is not usable.
    #[error("{0}")]
    Input(String),
    /// Starting or setting up the service failed.
    #[error("{0}")]
    Setup(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl From<tessera_client::Error> for CliError {
    /// A missing credential is explained by what the CLI knows and the
    /// client does not: a saved login for another server.
    fn from(error: tessera_client::Error) -> Self {
        match (&error, crate::remote::missing_credential()) {
            (tessera_client::Error::MissingCredential, Some(why)) => Self::Input(why.to_owned()),
            _ => Self::Client(error),
        }
    }
}

impl CliError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
