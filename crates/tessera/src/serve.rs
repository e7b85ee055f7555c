//! `tessera serve` and `tessera init`: the commands that run against the
//! database directly rather than through the API.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tessera_server::{setup, AppState, Config};
use tokio::net::TcpListener;

use crate::error::CliError;

mod listen;

/// Flags shared by `serve` and `init`; each overrides its file and
/// environment setting.
#[derive(Debug, Args)]
pub struct ConfigFlags {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: `sqlite://FILE` (default `sqlite://tessera.db`) or
    /// `postgres://USER@HOST/DB` for several nodes.
    #[arg(long)]
    database_url: Option<String>,
    /// Prefix of every token this deployment issues (default `tsr`).
    #[arg(long)]
    token_prefix: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    flags: ConfigFlags,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    flags: ConfigFlags,
    /// The new org's key: lowercase letters, digits, '.', '_', '-'.
    #[arg(long)]
    org: String,
    /// The owner's email.
    #[arg(long)]
    email: String,
    /// Read the owner's password from standard input (otherwise one is
    /// generated and printed on stderr).
    #[arg(long)]
    password_stdin: bool,
    /// Print a token with the owner's permissions on stdout, for scripts.
    #[arg(long)]
    print_token: bool,
}

pub(crate) fn load_config(
    flags: &ConfigFlags,
    listen: Option<&str>,
) -> Result<(Config, Vec<String>), CliError> {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    let mut notes = Vec::new();
    // The address as people type it (a host name, `:8080`) is made an IP
    // address, or refused with what to type, before the configuration
    // reads it.
    let mut listen = listen.map(str::to_owned);
    for (flag, value) in [
        ("--listen", listen.as_mut()),
        ("TESSERA_LISTEN", env.get_mut("TESSERA_LISTEN")),
    ] {
        if let Some(value) = value {
            let (addr, note) = listen::normalize(flag, value).map_err(CliError::Input)?;
            *value = addr;
            notes.extend(note);
        }
    }
    let (mut config, mut warnings) =
        Config::load(flags.config.as_deref(), &env).map_err(|e| CliError::Setup(e.to_string()))?;
    warnings.extend(notes);
    // Each flag is named after the setting it overrides (see
    // tessera_server::config); a value it cannot take is a usage error.
    let given = [
        ("database_url", flags.database_url.as_deref()),
        ("token_prefix", flags.token_prefix.as_deref()),
        ("listen", listen.as_deref()),
    ];
    for (setting, value) in given {
        if let Some(value) = value {
            config
                .apply_flag(setting, value)
                .map_err(|e| CliError::Input(e.to_string()))?;
        }
    }
    config
        .validate()
        .map_err(|e| CliError::Setup(e.to_string()))?;
    Ok((config, warnings))
}

pub(crate) fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only on a terminal: log files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

pub async fn serve(args: ServeArgs) -> Result<ExitCode, CliError> {
    let (config, warnings) = load_config(&args.flags, args.listen.as_deref())?;
    init_logging(&config.log.filter);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let listen = config.http.listen;
    let state = tessera_server::open(config)
        .await
        .map_err(|e| CliError::Setup(e.to_string()))?;
    let listener = TcpListener::bind(listen).await.map_err(|e| {
        CliError::Setup(format!(
            "cannot listen on {listen}: {e} (use --listen or TESSERA_LISTEN)"
        ))
    })?;
    // Bound first: the one-time login message must not print for a
    // server that then fails to start.
    bootstrap(&state, listen).await?;
    let server = tessera_server::start(state, listener, shutdown_signal())
        .map_err(|e| CliError::Setup(e.to_string()))?;
    tracing::info!(addr = %server.addr, "tessera is listening on http://{}", server.addr);
    server.wait().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// On an empty database: create the default org and its owner, and say how
/// to log in. Shown once, because the next start finds the org; when
/// several nodes start together on an empty database, by the one that
/// created it.
async fn bootstrap(state: &AppState, listen: SocketAddr) -> Result<(), CliError> {
    let org = state.config.bootstrap.org.clone();
    let email = state.config.bootstrap.email.clone();
    let Some(created) = setup::create_first_org(state, &org, &email)
        .await
        .map_err(|e| CliError::Setup(format!("cannot create the first org: {e}")))?
    else {
        return Ok(());
    };
    let password = created.generated_password.unwrap_or_default();
    println!("{}", first_start_message(&org, &email, &password, listen));
    Ok(())
}

/// What the first start prints. The password appears once, on its own
/// line, and not in the login command: a command line lands in shell
/// history and `ps`, so `tessera login` asks for it instead.
fn first_start_message(org: &str, email: &str, password: &str, listen: SocketAddr) -> String {
    // A server listening on every interface is reached locally through
    // the loopback address.
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = format!("http://{}", SocketAddr::new(ip, listen.port()));
    format!(
        "\nTessera created the organization \"{org}\" and its owner. This is shown once.\n\n  \
         email:    {email}\n  password: {password}\n\n\
         Log in from the CLI (it asks for the password and saves a token for later commands):\n\n  \
         tessera login --url {url} --email {email}\n\n\
         Then: tessera token create --name \"my first token\" --expires-in 90d\n\
         Change the password at {url}/account (or PUT /api/v1/me/password).\n"
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests and flushing last-used times");
}

/// The first line of standard input (at most 4 KiB read), for
/// `--password-stdin`: a password never goes on a command line, where shell
/// history and `ps` would keep it.
pub(crate) fn password_from_stdin() -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut text)
        .map_err(|e| CliError::io("cannot read the password from stdin", e))?;
    let line = text.lines().next().unwrap_or("").to_owned();
    if line.is_empty() {
        return Err(CliError::Input(
            "--password-stdin: standard input was empty".into(),
        ));
    }
    Ok(line)
}

pub async fn init(args: InitArgs) -> Result<ExitCode, CliError> {
    let (config, _) = load_config(&args.flags, None)?;
    init_logging("warn");
    let password = if args.password_stdin {
        Some(crate::serve::password_from_stdin()?)
    } else {
        None
    };
    let state = tessera_server::open(config)
        .await
        .map_err(|e| CliError::Setup(e.to_string()))?;
    let created = setup::create_org(&state, &args.org, &args.email, password)
        .await
        .map_err(|e| CliError::Setup(format!("cannot create org {:?}: {e}", args.org)))?;
    if let Some(password) = &created.generated_password {
        eprintln!("Generated password for {}: {password}", created.owner.email);
    }
    if args.print_token {
        let token = setup::create_owner_token(&state, &created, "created by tessera init")
            .await
            .map_err(|e| CliError::Setup(format!("cannot create the owner token: {e}")))?;
        println!("{token}");
    } else {
        eprintln!(
            "Created org {} with owner {}.",
            created.org.key, created.owner.email
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_start_message_keeps_the_password_off_the_command_line() {
        let listen = "0.0.0.0:9000".parse().expect("addr");
        let text = first_start_message("default", "admin@example.com", "pw-123", listen);
        assert_eq!(text.matches("pw-123").count(), 1, "{text}");
        assert!(text.contains("  password: pw-123\n"), "{text}");
        assert!(
            text.contains(
                "  tessera login --url http://127.0.0.1:9000 --email admin@example.com\n"
            ),
            "{text}"
        );
        let v6 = first_start_message("o", "e@x.y", "p", "[::]:1".parse().expect("addr"));
        assert!(v6.contains("--url http://[::1]:1 "), "{v6}");
        let v6 = first_start_message("o", "e@x.y", "p", "[::1]:1".parse().expect("addr"));
        assert!(v6.contains("--url http://[::1]:1 "), "{v6}");
    }
}
