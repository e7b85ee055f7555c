"""The one exception type the SDK raises, so callers need a single `except`."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["TesseraError", "TesseraConfigError"]


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


def error_from_response(response: httpx.Response) -> TesseraError:
    """Builds the error for a non-2xx answer from its `{"error": {...}}` body.

    A body that is not Tessera's (a proxy's HTML error page, say) still gives
    an error with the status, and the code `http_<status>`.
    """
    status = response.status_code
    code = f"http_{status}"
    message = response.reason_phrase or "error"
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            if isinstance(error.get("code"), str):
                code = error["code"]
            if isinstance(error.get("message"), str):
                message = error["message"]
    return TesseraError(code, message, status, _retry_after(response))


def unavailable(url: str, exc: Exception) -> TesseraError:
    """No answer at all: connection refused, DNS, TLS, timeout.

    The message names the server and the kind of failure, never the request
    (whose body or headers may carry a token).
    """
    kind = type(exc).__name__
    return TesseraError("unavailable", f"cannot reach Tessera at {url} ({kind})")


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
