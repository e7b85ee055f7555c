"""What the sync and async clients share: every API call, described once.

An API call is a `Call`: method, path, JSON body, whether it needs the
client's token, and how to parse the answer. Building the HTTP request and
turning the response into a typed result or a `TesseraError` happen here,
without any I/O, so `Tessera` and `AsyncTessera` differ only in how they
send a request (`httpx.Client.send` or `await httpx.AsyncClient.send`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from ._version import __version__
from ._config import Config
from ._errors import TesseraError, bad_response, error_from_response
from ._models import JSON, CreatedToken, Token, VerifyResult, format_time

__all__ = ["Call", "verify", "list_tokens", "get_token", "create_token", "rotate_token",
           "delete_token", "build_request", "handle_response", "USER_AGENT"]

T = TypeVar("T")

API = "/api/v1"
USER_AGENT = f"tessera-client-python/{__version__}"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API call, not yet sent.

    `body` may hold a token (for `/verify`), so it is left out of `repr`.
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    body: JSON | None = None
    authenticated: bool = True

    def __repr__(self) -> str:
        return f"Call({self.method} {self.path})"


def build_request(config: Config, call: Call[Any]) -> httpx.Request:
    """The HTTP request for `call`, with the client's token only where needed.

    `/verify` never carries the client's own token: it needs no credential,
    and not sending one keeps it away from where it is not required.
    """
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if call.authenticated:
        headers["Authorization"] = f"Bearer {config.require_token()}"
    return httpx.Request(call.method, config.url + API + call.path, json=call.body, headers=headers)


def handle_response(call: Call[T], response: httpx.Response) -> T:
    """The parsed answer, or the API's error as a `TesseraError`."""
    if not response.is_success:
        raise error_from_response(response)
    try:
        return call.parse(response)
    except TesseraError as error:  # a bad_response from the field readers
        if error.status is None:
            error.status = response.status_code
        raise


# -- parsers


def _json(response: httpx.Response) -> JSON:
    try:
        data = response.json()
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        raise bad_response("not JSON", response.status_code) from None
    except RecursionError:  # absurdly deep nesting
        raise bad_response("JSON nested too deeply", response.status_code) from None
    if not isinstance(data, dict):
        raise bad_response("not a JSON object", response.status_code)
    return data


def _verify_result(response: httpx.Response) -> VerifyResult:
    return VerifyResult.from_json(_json(response))


def _verify_result_allowed(response: httpx.Response) -> VerifyResult:
    """The answer to a question about an action: it must say whether it is allowed."""
    result = _verify_result(response)
    if result.allowed is None:
        raise bad_response("field 'allowed' missing or of the wrong type", response.status_code)
    return result


def _token(response: httpx.Response) -> Token:
    return Token.from_json(_json(response))


def _created(response: httpx.Response) -> CreatedToken:
    return CreatedToken.from_json(_json(response))


def _token_list(response: httpx.Response) -> list[Token]:
    items = _json(response).get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise bad_response("no 'items' list of objects", response.status_code)
    return [Token.from_json(item) for item in items]


def _nothing(response: httpx.Response) -> None:
    return None


# -- calls


def _id(token_id: str) -> str:
    """A token id (or `self`) as one path segment: nothing in it can change the path."""
    if not isinstance(token_id, str) or not token_id:
        raise ValueError("a token id must be a non-empty string (or 'self')")
    return quote(token_id, safe="")


def verify(token: str, action: str | None, resource: str | None, ip: str | None) -> Call[VerifyResult]:
    """`POST /verify`: needs no credential; the token asked about is the subject."""
    body: JSON = {"token": token}
    if action is not None:
        body["action"] = action
    if resource is not None:
        body["resource"] = resource
    if ip is not None:
        body["ip"] = ip
    parse = _verify_result if action is None else _verify_result_allowed
    return Call("POST", "/verify", parse, body, authenticated=False)


def list_tokens() -> Call[list[Token]]:
    return Call("GET", "/tokens", _token_list)


def get_token(token_id: str) -> Call[Token]:
    return Call("GET", f"/tokens/{_id(token_id)}", _token)


def create_token(
    name: str,
    *,
    role: str | None,
    custom_roles: Sequence[str] | None,
    policy: Sequence[JSON] | None,
    projects: Sequence[str] | None,
    expires_at: datetime | str | None,
    allowed_ips: Sequence[str] | None = None,
    rate_limit: JSON | None = None,
    quota: JSON | None = None,
) -> Call[CreatedToken]:
    """`POST /tokens`; only the fields given are sent, so server defaults apply.

    `rate_limit` is `{"requests", "per_seconds"}`, `quota` is
    `{"remaining", "refill"?: {"amount", "interval": "day"|"month"}}`.
    """
    body: JSON = {"name": name}
    if role is not None:
        body["role"] = role
    if custom_roles is not None:
        body["custom_roles"] = list(custom_roles)
    if policy is not None:
        body["policy"] = list(policy)
    if projects is not None:
        body["projects"] = list(projects)
    if expires_at is not None:
        body["expires_at"] = format_time(expires_at)
    if allowed_ips is not None:
        body["allowed_ips"] = list(allowed_ips)
    if rate_limit is not None:
        body["rate_limit"] = dict(rate_limit)
    if quota is not None:
        body["quota"] = dict(quota)
    return Call("POST", "/tokens", _created, body)


def rotate_token(
    token_id: str, *, expires_at: datetime | str, grace_period_seconds: int | None
) -> Call[CreatedToken]:
    body: JSON = {"expires_at": format_time(expires_at)}
    if grace_period_seconds is not None:
        body["grace_period_seconds"] = grace_period_seconds
    return Call("POST", f"/tokens/{_id(token_id)}/rotate", _created, body)


def delete_token(token_id: str) -> Call[None]:
    return Call("DELETE", f"/tokens/{_id(token_id)}", _nothing)
