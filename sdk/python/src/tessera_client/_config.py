"""Where the client finds its server and credential: arguments, else the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ._errors import TesseraConfigError

__all__ = ["Config", "TOKEN_ENV", "URL_ENV"]

TOKEN_ENV = "TESSERA_TOKEN"
URL_ENV = "TESSERA_URL"


@dataclass(frozen=True, slots=True)
class Config:
    """The resolved settings of one client.

    `token` is kept out of `repr` so that logging a client, or a traceback
    showing one, never prints the credential.
    """

    url: str
    token: str | None = field(repr=False)

    @classmethod
    def resolve(cls, token: str | None, url: str | None) -> Config:
        """Explicit arguments win; missing ones come from `TESSERA_TOKEN` / `TESSERA_URL`.

        Empty variables count as unset and surrounding whitespace is dropped
        (the newline that `TESSERA_TOKEN=$(cat file)` leaves behind). The URL
        is required; the token is not, because `verify` needs no credential
        of the caller's own: a service that only verifies needs only the URL.
        """
        resolved_url = _clean(url) or _clean(os.environ.get(URL_ENV))
        if resolved_url is None:
            raise TesseraConfigError(
                "missing_url",
                f"no Tessera URL: pass url=... or set {URL_ENV} (e.g. http://127.0.0.1:8080)",
            )
        resolved_token = _clean(token) or _clean(os.environ.get(TOKEN_ENV))
        return cls(url=_check_url(resolved_url), token=resolved_token)

    def require_token(self) -> str:
        """The client's own token, for the calls that need a credential."""
        if self.token is None:
            raise TesseraConfigError(
                "missing_token",
                f"this call needs a token: pass token=... or set {TOKEN_ENV}",
            )
        return self.token


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _check_url(url: str) -> str:
    """Accepts `http(s)://host[:port][/prefix]`, without credentials, query or fragment.

    A path prefix is kept (`https://example.com/tessera`), the trailing slash
    dropped, so that `url + "/api/v1/..."` is always right.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise TesseraConfigError("invalid_url", "the Tessera URL is malformed") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TesseraConfigError(
            "invalid_url", "the Tessera URL must be http:// or https:// with a host"
        )
    if parts.username is not None or parts.password is not None:
        raise TesseraConfigError(
            "invalid_url", "the Tessera URL must not contain a user name or password"
        )
    if parts.query or parts.fragment:
        raise TesseraConfigError(
            "invalid_url", "the Tessera URL must not contain a query or fragment"
        )
    return url.rstrip("/")
