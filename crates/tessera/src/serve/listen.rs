//! The address `serve` listens on, as people type it (`--listen`,
//! `TESSERA_LISTEN`): an IP and port is taken as is, a host name is
//! resolved, and the common mistakes are refused with what to type.

use std::net::{SocketAddr, ToSocketAddrs};

/// What `--listen VALUE` means: the address to give the configuration,
/// and a note when a name was resolved (so the log says which address it
/// became). `flag` names where the value came from, for the messages.
pub fn normalize(flag: &str, value: &str) -> Result<(String, Option<String>), String> {
    let value = value.trim();
    if value.parse::<SocketAddr>().is_ok() {
        return Ok((value.to_owned(), None));
    }
    let fix = "127.0.0.1:8080 (this machine only) or 0.0.0.0:8080 (every network interface)";
    // `:8080` (Go's "every interface") and a bare `8080`: which interface
    // is a choice the user must make, so both are spelled out.
    let port_only = value.strip_prefix(':').unwrap_or(value);
    if let Ok(port) = port_only.parse::<u16>() {
        return Err(format!(
            "{flag} {value}: no address before the port; type {flag} 127.0.0.1:{port} \
             (this machine only) or {flag} 0.0.0.0:{port} (every network interface)"
        ));
    }
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err(format!(
            "{flag} {value}: no port; type an address and a port, e.g. {fix}"
        ));
    };
    let Ok(port) = port.parse::<u16>() else {
        return Err(format!(
            "{flag} {value}: {port:?} is not a port; type an address and a port, e.g. {fix}"
        ));
    };
    if host.is_empty() || host.contains(':') {
        return Err(format!(
            "{flag} {value}: not an address and port; type e.g. {fix}, or an IPv6 address \
             in brackets, [::1]:{port}"
        ));
    }
    // Resolved once, at start-up, like any listener: binding needs an IP.
    // IPv4 first, as `localhost` usually means 127.0.0.1 to the clients
    // that will connect.
    let addrs: Vec<SocketAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| {
            format!(
                "{flag} {value}: cannot resolve the host name {host:?} ({e}); type an IP \
                 address instead, e.g. {fix}"
            )
        })?
        .collect();
    let Some(ip) = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .map(SocketAddr::ip)
    else {
        return Err(format!(
            "{flag} {value}: {host:?} resolves to no address; type an IP address instead, \
             e.g. {fix}"
        ));
    };
    let addr = SocketAddr::new(ip, port).to_string();
    let note = format!("{flag} {value}: {host} resolved to {ip}, listening on {addr}");
    Ok((addr, Some(note)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_pass_names_resolve() {
        assert_eq!(
            normalize("--listen", "0.0.0.0:9000"),
            Ok(("0.0.0.0:9000".into(), None))
        );
        assert_eq!(
            normalize("--listen", "[::1]:9000"),
            Ok(("[::1]:9000".into(), None))
        );
        let (addr, note) = normalize("--listen", "localhost:9000").expect("resolves");
        assert_eq!(addr, "127.0.0.1:9000");
        assert!(note.is_some_and(|n| n.contains("127.0.0.1:9000")));
    }

    #[test]
    fn mistakes_say_what_to_type() {
        let cases = [
            (":8080", "type --listen 127.0.0.1:8080 (this machine only)"),
            ("8080", "no address before the port"),
            ("localhost", "no port"),
            ("localhost:http", "\"http\" is not a port"),
            ("::1:8080", "in brackets, [::1]:8080"),
            ("no-such-host.invalid:8080", "cannot resolve the host name"),
        ];
        for (value, says) in cases {
            let err = normalize("--listen", value).expect_err(value);
            assert!(err.contains(says), "{value}: {err}");
            assert!(err.contains("127.0.0.1:"), "{value}: {err}");
        }
    }
}
