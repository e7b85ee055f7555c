//! `warm`: verifies every token of a file once, over keep-alive
//! connections.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::read_tokens;

/// Verifies every token once; prints elapsed time, req/s and latency.
pub async fn warm(
    addr: SocketAddr,
    tokens: &std::path::Path,
    connections: usize,
    (action, resource): (String, String),
) -> Result<(), String> {
    if !addr.ip().is_loopback() {
        return Err(format!("{addr}: only loopback addresses are used"));
    }
    let tokens = Arc::new(read_tokens(tokens)?);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections.clamp(1, 1024) {
        let (tokens, next) = (Arc::clone(&tokens), Arc::clone(&next));
        let (action, resource) = (action.clone(), resource.clone());
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect {addr}: {e}"))?;
            let mut stream = tokio::io::BufStream::new(stream);
            let (mut latencies, mut refused) = (Vec::new(), 0u64);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(token) = tokens.get(i) else { break };
                let body =
                    format!(r#"{{"token":"{token}","action":"{action}","resource":"{resource}"}}"#);
                let request = format!(
                    "POST /api/v1/verify HTTP/1.1\r\nHost: {addr}\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let sent = Instant::now();
                stream
                    .write_all(request.as_bytes())
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                stream.flush().await.map_err(|e| format!("send: {e}"))?;
                let (status, answer) = read_response(&mut stream).await?;
                latencies.push(sent.elapsed());
                if status != 200 || !answer.contains("\"valid\":true") {
                    refused += 1;
                }
            }
            Ok::<_, String>((latencies, refused))
        }));
    }
    let (mut latencies, mut refused) = (Vec::new(), 0);
    for task in tasks {
        let (l, r) = task.await.map_err(|e| format!("warm task: {e}"))??;
        latencies.extend(l);
        refused += r;
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .map_or(0, |d| d.as_micros())
    };
    println!(
        "warmed {} tokens in {:.0} ms: {:.0} req/s, p50 {} us, p99 {} us, {refused} not valid",
        latencies.len(),
        secs * 1000.0,
        latencies.len() as f64 / secs.max(1e-9),
        pct(50),
        pct(99)
    );
    if refused > 0 {
        return Err(format!("{refused} tokens were not valid"));
    }
    Ok(())
}

/// Reads one HTTP/1.1 response with a Content-Length body.
async fn read_response<S: tokio::io::AsyncBufRead + Unpin>(
    stream: &mut S,
) -> Result<(u16, String), String> {
    use tokio::io::AsyncBufReadExt;
    let mut line = String::new();
    let (mut status, mut length) = (0u16, 0usize);
    loop {
        line.clear();
        let n = stream
            .read_line(&mut line)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some(rest) = header.strip_prefix("HTTP/1.1 ") {
            status = rest.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0);
        } else if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().map_err(|_| "bad content-length")?;
            }
        }
    }
    let mut body = vec![0u8; length];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| format!("receive: {e}"))?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
