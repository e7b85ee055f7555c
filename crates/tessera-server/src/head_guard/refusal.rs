//! A refusal, and the guard's own answer to it: the bytes of that answer
//! ([`answer`]) and how they are written before the connection is closed
//! ([`Finish`]: write, flush, shut down, then linger).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::http::StatusCode;
use tessera_api::{ErrorBody, ErrorDetail};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::{arm, LINGER, LINGER_BYTES};
use crate::error::ApiError;

/// Why a request is refused: the answer's status and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: &'static str,
    /// Found inside a body (hyper has the request's head), not in a head.
    pub mid_body: bool,
}

impl Refusal {
    pub(super) const fn head(status: StatusCode, message: &'static str) -> Self {
        Self {
            status,
            message,
            mid_body: false,
        }
    }

    pub(super) const fn bad(message: &'static str) -> Self {
        Self::head(StatusCode::BAD_REQUEST, message)
    }

    pub(super) const fn too_large(message: &'static str) -> Self {
        Self::head(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, message)
    }
}
/// The answer the guard writes itself: Tessera's JSON error body (code
/// `bad_request`, as for other malformed requests), the security headers
/// every answer carries, and `Connection: close`.
pub fn answer(status: StatusCode, message: &str) -> Vec<u8> {
    let code = ApiError::bad_request("").code();
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorDetail {
            code,
            message: message.to_owned(),
        },
    })
    .unwrap_or_default();
    let mut out = Vec::with_capacity(512 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in crate::headers::secured_headers(true).iter() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&body);
    out
}
/// The guard's own end of a connection: its answer (if any), a flush, a
/// shutdown of its side, then reading and dropping what the client still
/// sends, for at most [`LINGER`] and [`LINGER_BYTES`].
pub(super) struct Finish {
    answer: Vec<u8>,
    written: usize,
    stage: Stage,
    drained: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Write,
    Flush,
    Shutdown,
    Linger,
    Done,
}

impl Finish {
    pub(super) fn new(answer: Vec<u8>) -> Self {
        Self {
            answer,
            written: 0,
            stage: Stage::Write,
            drained: 0,
        }
    }

    /// Any failure ends it: the client is gone.
    pub(super) fn poll<T: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut T,
        timer: &mut Option<Pin<Box<Sleep>>>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        loop {
            self.stage = match self.stage {
                Stage::Write => {
                    let rest = self.answer.get(self.written..).unwrap_or_default();
                    if rest.is_empty() {
                        Stage::Flush
                    } else {
                        match ready!(Pin::new(&mut *io).poll_write(cx, rest)) {
                            Ok(n) if n > 0 => {
                                self.written += n;
                                Stage::Write
                            }
                            _ => Stage::Done,
                        }
                    }
                }
                Stage::Flush => match ready!(Pin::new(&mut *io).poll_flush(cx)) {
                    Ok(()) => Stage::Shutdown,
                    Err(_) => Stage::Done,
                },
                Stage::Shutdown => match ready!(Pin::new(&mut *io).poll_shutdown(cx)) {
                    Ok(()) => {
                        arm(timer, LINGER);
                        Stage::Linger
                    }
                    Err(_) => Stage::Done,
                },
                Stage::Linger => {
                    let mut scratch = [0u8; 2048];
                    let mut read = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut *io).poll_read(cx, &mut read) {
                        Poll::Ready(Ok(())) if !read.filled().is_empty() => {
                            self.drained += read.filled().len();
                            if self.drained >= LINGER_BYTES {
                                Stage::Done
                            } else {
                                Stage::Linger
                            }
                        }
                        Poll::Ready(_) => Stage::Done,
                        Poll::Pending => {
                            let expired = timer
                                .as_mut()
                                .is_none_or(|timer| timer.as_mut().poll(cx).is_ready());
                            if !expired {
                                return Poll::Pending;
                            }
                            Stage::Done
                        }
                    }
                }
                Stage::Done => return Poll::Ready(()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_a_json_error_with_the_security_headers() {
        let bytes = answer(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "too \"big\"");
        let text = String::from_utf8(bytes).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("\r\ncontent-type: application/json\r\n"));
        assert!(head.contains("\r\nconnection: close"));
        assert!(head.contains("\r\nx-frame-options: DENY"));
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(body["error"]["code"], "bad_request");
        assert_eq!(body["error"]["message"], "too \"big\"");
    }
}
