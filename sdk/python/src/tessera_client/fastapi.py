"""A FastAPI/Starlette dependency that lets in only requests with a good Tessera token.

    from fastapi import Depends, FastAPI
    from tessera_client import VerifyResult
    from tessera_client.fastapi import require_token

    app = FastAPI()

    @app.get("/flags")
    async def flags(answer: VerifyResult = Depends(require_token("flag:read", "proj/web"))):
        return {"member": answer.token.member}

Needs Starlette (brought by `pip install "tessera-client[fastapi]"`); the
rest of the SDK does not, which is why this module is imported on its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

try:
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'tessera_client.fastapi needs FastAPI or Starlette: pip install "tessera-client[fastapi]"'
    ) from exc

from ._async_client import AsyncTessera
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
from ._models import VerifyResult

__all__ = ["require_token", "TesseraHTTPException", "tessera_error_handler"]

Question = str | Callable[[Request], str] | None
"""A fixed action or resource, or one derived from the request (e.g. its path)."""


class TesseraHTTPException(HTTPException):
    """A refusal: `detail` is `{"code", "message"}`, `code` the API's error code.

    FastAPI renders it as `{"detail": {"code": ..., "message": ...}}` with its
    status and headers (`WWW-Authenticate` on a 401); an app that prefers
    Tessera's `{"error": ...}` shape installs `tessera_error_handler`.
    """

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(
            refusal.status,
            detail={"code": refusal.code, "message": refusal.message},  # type: ignore[arg-type]
            headers=refusal.headers or None,
        )
        self.refusal = refusal
        self.code = refusal.code


async def tessera_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Renders refusals as Tessera's own errors, `{"error": {"code", "message"}}`.

        app.add_exception_handler(TesseraHTTPException, tessera_error_handler)

    The same body the server and the WSGI middleware use, so clients of
    several services parse one shape.
    """
    if not isinstance(exc, TesseraHTTPException):  # pragma: no cover - registered for it only
        raise exc
    return JSONResponse(exc.refusal.body(), exc.refusal.status, headers=exc.refusal.headers)


def require_token(
    action: Question = None,
    resource: Question = None,
    *,
    client: AsyncTessera | None = None,
    forward_ip: bool = False,
) -> Callable[[Request], Awaitable[VerifyResult]]:
    """A dependency for `Depends(...)`: the verified answer, or an HTTP error.

    - no `Authorization: Bearer` token: `401 unauthenticated`;
    - token not valid: `401` (`invalid_token`, `token_expired`, ...);
      both `401`s carry `WWW-Authenticate: Bearer realm="tessera"`;
    - not allowed to do `action` on `resource`: `403 forbidden`;
    - Tessera unreachable or failing: `503 unavailable` (never let through).

    Without `action`/`resource` any valid token passes. Each may be a string
    or a function of the request. `client` defaults to an `AsyncTessera()`
    made from the environment at the first request (only `TESSERA_URL` is
    needed). With `forward_ip`, the caller's address is sent as `ip`, so
    Tessera records it as the token's last-used IP.
    """
    check_question(action, resource)
    state: dict[str, AsyncTessera] = {}
    if client is not None:
        state["client"] = client

    async def verified(request: Request) -> VerifyResult:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise TesseraHTTPException(MISSING)
        act = action(request) if callable(action) else action
        res = resource(request) if callable(resource) else resource
        ip = client_ip(request.client.host) if forward_ip and request.client else None
        tessera = state.get("client")
        if tessera is None:
            tessera = state.setdefault("client", AsyncTessera())
        try:
            answer = await tessera.verify(token, act, res, ip)
        except TesseraError as error:
            raise TesseraHTTPException(refusal_for_error(error)) from None
        refusal = refusal_for_answer(answer, act, res)
        if refusal is not None:
            raise TesseraHTTPException(refusal)
        return answer

    return verified
