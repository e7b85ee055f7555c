"""The one exception type the SDK raises, so callers need a single `except`."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["TesseraError", "TesseraConfigError", "bad_response", "error_from_response", "unavailable"]


class TesseraError(Exception):
    """An error from Tessera, or from trying to reach it.

    `code` is the API's stable error code (`already_exists`, `forbidden`,
    `invalid_token`, ...), meant for programs; `message` is for people.
    `status` is the HTTP status, or `None` when no answer came (then `code`
    is `unavailable`) or when the SDK refused before sending anything.
    `retry_after` is the `Retry-After` header of a `429`/`503`, in seconds.

    Messages never contain a token: they are built from the server's error
    body, which never repeats one, or from what the SDK itself knows.
    """

    code: str
    status: int | None
    message: str
    retry_after: int | None

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(code, message, status, retry_after)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f"{self.status} " if self.status is not None else ""
        return f"{where}{self.code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"message={self.message!r})"
        )


class TesseraConfigError(TesseraError, ValueError):
    """The client cannot be built or used as configured (no URL, no token).

    Raised before anything is sent; `status` is `None`.
    """

    def __init__(
        self, code: str, message: str, status: None = None, retry_after: None = None
    ) -> None:
        # The last two only so that pickling, which passes every arg back, works.
        super().__init__(code, message)


GATEWAY_STATUSES = frozenset({502, 503, 504})
"""Statuses with which a proxy in front of Tessera says it could not reach it."""


def error_from_response(response: httpx.Response) -> TesseraError:
    """Builds the error for a non-2xx answer from its `{"error": {...}}` body.

    A body that is not Tessera's (a proxy's HTML error page, say) still gives
    an error with the status: code `unavailable` for a gateway's 502/503/504
    (for the caller, the same as no answer), else `bad_response`.
    """
    status = response.status_code
    code = "unavailable" if status in GATEWAY_STATUSES else "bad_response"
    message = f"HTTP {status} without a Tessera error body"
    try:
        body: Any = response.json()
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            if isinstance(error.get("code"), str):
                code = error["code"]
            if isinstance(error.get("message"), str):
                message = error["message"]
    return TesseraError(code, message, status, _retry_after(response))


def unavailable(url: str, exc: Exception, timeout: float | None = None) -> TesseraError:
    """No (whole) answer: connection refused or closed mid-answer, DNS, TLS, timeout.

    The message names the server and the kind of failure, never the request
    (whose body or headers may carry a token) nor httpx's own text.
    """
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException) and timeout is not None:
        return TesseraError("unavailable", f"no answer from Tessera at {url} within {timeout:g} s ({kind})")
    return TesseraError("unavailable", f"cannot reach Tessera at {url} ({kind})")


def bad_response(what: str, status: int | None = None) -> TesseraError:
    """An answer this SDK cannot use: not JSON, or JSON of the wrong shape."""
    return TesseraError("bad_response", f"unexpected answer from Tessera: {what}", status)


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
