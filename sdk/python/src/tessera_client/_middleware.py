"""What the FastAPI dependency and the WSGI middleware decide alike.

Both read the bearer token, ask `verify`, and turn the answer into either
the verified answer or a refusal with Tessera's error shape
(`{"error": {"code", "message"}}`), the status and `WWW-Authenticate` the
server itself would use. They fail closed: when Tessera cannot be asked,
the request is refused with `503`, never let through.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ._errors import TesseraError
from ._models import VerifyResult

__all__ = ["Refusal", "bearer_token", "check_question", "client_ip", "refusal_for_answer",
           "refusal_for_error", "MISSING"]

CHALLENGE = 'Bearer realm="tessera"'
INVALID_CHALLENGE = 'Bearer realm="tessera", error="invalid_token"'


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request turned away: status, API error code and message, extra headers."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


MISSING = Refusal(
    401,
    "unauthenticated",
    "missing credential: send `Authorization: Bearer <token>`",
    {"WWW-Authenticate": CHALLENGE},
)


def bearer_token(header: str | None) -> str | None:
    """The token in `Authorization: Bearer <token>` (or `ApiKey`, any case), else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in ("bearer", "apikey") or not token:
        return None
    return token


def client_ip(address: str | None) -> str | None:
    """The peer address to forward as `ip`, if it is one.

    A test client's `testclient` or a Unix socket path is no IP address;
    sending it would make `/verify` refuse the whole question.
    """
    if not address:
        return None
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def check_question(action: object, resource: object) -> None:
    """Action and resource come together or not at all, as `/verify` wants."""
    if (action is None) != (resource is None):
        raise ValueError("give both action and resource, or neither")


def refusal_for_answer(
    answer: VerifyResult, action: str | None, resource: str | None
) -> Refusal | None:
    """None to let the request in; otherwise why not."""
    if not answer.valid:
        # As the server's own API: a malformed token is an invalid one.
        code = "invalid_token" if answer.code == "malformed_token" else answer.code
        return Refusal(
            401, code, f"the token is not valid ({answer.code})",
            {"WWW-Authenticate": INVALID_CHALLENGE},
        )
    if action is not None and answer.allowed is not True:
        return Refusal(403, "forbidden", f"not permitted: {action} on {resource}")
    return None


def refusal_for_error(error: TesseraError) -> Refusal:
    """A `verify` that failed: Tessera's own `400 bad_request` (a malformed
    question) is `400`; anything else (no answer, a timeout, an error page, an
    answer that is not a verify answer) is `503`, never a pass."""
    if error.status == 400 and error.code == "bad_request":
        return Refusal(400, "bad_request", error.message)
    return Refusal(503, "unavailable", "cannot verify the token now: Tessera is unreachable or failing")
