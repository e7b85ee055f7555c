//! Who is on the other end: the client's address, directly or behind a
//! trusted proxy, and the extractor that hands it to handlers which run
//! without a [`crate::auth::Caller`].
//!
//! Kept apart from `auth` so that the verification path (which `auth`
//! itself calls) can use it without a module cycle.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::state::AppState;

/// The client's address: the peer, or — when the peer is a trusted proxy —
/// the nearest untrusted address in `X-Forwarded-For`.
pub fn client_ip(parts: &Parts, state: &AppState) -> Option<String> {
    client_addr(parts, state).map(|addr| addr.to_string())
}

/// [`client_ip`] as an address (no allocation, for the verification path).
pub fn client_addr(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())?;
    Some(client_behind(peer, &parts.headers, state))
}

/// The client's address, given the connection's `peer`: the peer itself,
/// or, when the peer is a trusted proxy, the nearest untrusted address it
/// forwarded.
pub fn client_behind(peer: IpAddr, headers: &HeaderMap, state: &AppState) -> IpAddr {
    let trusted = &state.config.http.trusted_proxies;
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    if forwarded.is_empty() {
        // A proxy that sends only `X-Real-IP` (nginx's `real_ip` style).
        if let Some(real) = headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
        {
            return real;
        }
    }
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .copied()
        .unwrap_or(peer)
}

/// The client's address, for handlers that run without a `Caller`; as an
/// address, unformatted (the verification path records it without
/// allocating).
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_addr(parts, state)))
    }
}
