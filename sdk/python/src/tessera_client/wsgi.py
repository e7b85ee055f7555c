"""WSGI middleware: every request needs a good Tessera token.

    from tessera_client.wsgi import TesseraMiddleware

    app = TesseraMiddleware(app, action="flag:read", resource="proj/web")

The verified token (a `VerifiedToken`: id, name, member, org, projects,
expires_at) is put in `environ["tessera.token"]`, the whole answer in
`environ["tessera.verify"]`. Refusals are JSON in Tessera's error shape.
Works with any WSGI framework (Flask, Django, Pyramid, ...) and needs no
extra package.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ._client import Tessera
from ._errors import TesseraError
from ._middleware import (
    MISSING,
    Refusal,
    bearer_token,
    check_question,
    client_ip,
    refusal_for_answer,
    refusal_for_error,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["TesseraMiddleware", "TOKEN_KEY", "VERIFY_KEY"]

TOKEN_KEY = "tessera.token"
VERIFY_KEY = "tessera.verify"

_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable"}


class TesseraMiddleware:
    """Wraps a WSGI app; lets a request in only with a valid (and allowed) token.

    - no `Authorization: Bearer` token: `401 unauthenticated`;
    - token not valid: `401` (`invalid_token`, `token_expired`, ...);
      both carry `WWW-Authenticate: Bearer realm="tessera"`;
    - not allowed to do `action` on `resource`: `403 forbidden`;
    - Tessera unreachable or failing: `503 unavailable` (fails closed).

    `action` and `resource` are strings, or functions of the WSGI environ
    (to derive the resource from the path, say); without them any valid
    token passes. `client` defaults to `Tessera()` from the environment;
    its answer cache is shared by every request. With `forward_ip`,
    `REMOTE_ADDR` is sent as `ip` for Tessera to record.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        action: str | Callable[[WSGIEnvironment], str] | None = None,
        resource: str | Callable[[WSGIEnvironment], str] | None = None,
        client: Tessera | None = None,
        forward_ip: bool = False,
    ) -> None:
        check_question(action, resource)
        self.app = app
        self.action = action
        self.resource = resource
        self.client = client if client is not None else Tessera()
        self.forward_ip = forward_ip

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        if token is None:
            return _refuse(MISSING, start_response)
        action = self.action(environ) if callable(self.action) else self.action
        resource = self.resource(environ) if callable(self.resource) else self.resource
        ip = client_ip(environ.get("REMOTE_ADDR")) if self.forward_ip else None
        try:
            answer = self.client.verify(token, action, resource, ip)
        except TesseraError as error:
            return _refuse(refusal_for_error(error), start_response)
        refusal = refusal_for_answer(answer, action, resource)
        if refusal is not None:
            return _refuse(refusal, start_response)
        environ[TOKEN_KEY] = answer.token
        environ[VERIFY_KEY] = answer
        return self.app(environ, start_response)


def _refuse(refusal: Refusal, start_response: StartResponse) -> list[bytes]:
    body = json.dumps(refusal.body()).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        *refusal.headers.items(),
    ]
    start_response(f"{refusal.status} {_REASONS[refusal.status]}", headers)
    return [body]
