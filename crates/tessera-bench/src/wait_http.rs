//! `wait-http`: polls a loopback server until it answers 200.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::wall_clock;

/// Polls `GET path` on `addr` every millisecond until a 200.
pub async fn wait_http(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(), String> {
    if !addr.ip().is_loopback() {
        return Err(format!("{addr}: only loopback addresses are polled"));
    }
    let deadline = Instant::now() + timeout;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    loop {
        if answers_200(addr, &request).await {
            let at = wall_clock().unix_timestamp_nanos();
            println!("{at}");
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "http://{addr}{path} did not answer 200 within {timeout:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn answers_200(addr: SocketAddr, request: &str) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200"))
    };
    tokio::time::timeout(Duration::from_secs(1), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}
