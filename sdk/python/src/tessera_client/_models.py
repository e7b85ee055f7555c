"""Typed answers of the API, parsed from its JSON.

Each class declares exactly the fields of its OpenAPI schema (the test suite
checks this against a running server). Fields a newer server adds are
ignored rather than refused, so an older SDK keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ._errors import TesseraError, bad_response

__all__ = ["VerifiedServiceAccount", "VerifiedToken", "VerifyResult", "Token", "CreatedToken"]

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class VerifiedServiceAccount:
    """The service account a valid token belongs to."""

    id: str
    name: str

    @classmethod
    def from_json(cls, data: JSON) -> VerifiedServiceAccount:
        return cls(id=_str(data, "id"), name=_str(data, "name"))


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """Who a valid token belongs to, as `/verify` tells it: a member, or a
    service account (then `member` is `None`)."""

    id: str
    name: str
    member: str | None
    """The owner's member id; `None` for a service account's token."""
    external_id: str | None
    """The member's id in the host product; `None` for a member made in
    Tessera and for a service account's token."""
    service_account: VerifiedServiceAccount | None
    """The owning service account; `None` for a member's token."""
    org: str
    """The org's key."""
    projects: list[str]
    """The projects the token is restricted to; empty: not restricted."""
    expires_at: datetime | None

    @classmethod
    def from_json(cls, data: JSON) -> VerifiedToken:
        return cls(
            id=_str(data, "id"),
            name=_str(data, "name"),
            member=_opt_str(data, "member"),
            external_id=_opt_str(data, "external_id"),
            service_account=_service_account(data),
            org=_str(data, "org"),
            projects=_str_list(data, "projects"),
            expires_at=_time(data, "expires_at"),
        )


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The answer of `verify`.

    `code` is `valid`, or why not: `malformed_token`, `invalid_token`,
    `token_expired` (`token_disabled` and others on newer servers).
    `allowed` is `None` when no action was asked about, and `False` whenever
    the token is not valid. `token` is set only for a valid token.
    """

    valid: bool
    code: str
    allowed: bool | None = None
    token: VerifiedToken | None = None

    @property
    def ok(self) -> bool:
        """Valid, and allowed if an action was asked about: let the request in."""
        return self.valid and self.allowed is not False

    @classmethod
    def from_json(cls, data: JSON) -> VerifyResult:
        allowed = data.get("allowed")
        if allowed is not None and not isinstance(allowed, bool):
            raise _decode("allowed")
        token = data.get("token")
        valid = _bool(data, "valid")
        if valid and token is None:
            raise _decode("token")  # a valid answer always says whose token it is
        return cls(
            valid=valid,
            code=_str(data, "code"),
            allowed=allowed,
            token=VerifiedToken.from_json(_obj(token, "token")) if token is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Token:
    """A token's metadata: everything but its value.

    At most one of `role`, `custom_roles`, `policy` is set; none means the
    token has its owner's permissions.
    """

    id: str
    name: str
    snippet: str
    """Prefix and last four characters (`tsr_...mbL7`), to tell tokens apart."""
    member_id: str | None
    """The owner's member id; `None` for a service account's token."""
    service_account_id: str | None
    """The owning service account's id; `None` for a member's token."""
    role: str | None
    custom_roles: list[str] | None
    policy: list[JSON] | None
    projects: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None
    rotated_at: datetime | None
    disabled_at: datetime | None
    """When the token was disabled; `None` while it is enabled."""

    @classmethod
    def from_json(cls, data: JSON) -> Token:
        return cls(**_token_fields(data))


@dataclass(frozen=True, slots=True)
class CreatedToken(Token):
    """The answer to create and rotate: the metadata plus, this once, the token.

    `token` is the full token string. Tessera never shows it again, so store
    it now. It is left out of `repr`, so printing the answer does not leak it.
    """

    token: str = field(repr=False, kw_only=True)

    @classmethod
    def from_json(cls, data: JSON) -> CreatedToken:
        return cls(**_token_fields(data), token=_str(data, "token"))


def _token_fields(data: JSON) -> dict[str, Any]:
    policy = data.get("policy")
    if policy is not None and not (
        isinstance(policy, list) and all(isinstance(s, dict) for s in policy)
    ):
        raise _decode("policy")
    custom_roles = data.get("custom_roles")
    return {
        "id": _str(data, "id"),
        "name": _str(data, "name"),
        "snippet": _str(data, "snippet"),
        "member_id": _opt_str(data, "member_id"),
        "service_account_id": _opt_str(data, "service_account_id"),
        "role": _opt_str(data, "role"),
        "custom_roles": _str_list(data, "custom_roles") if custom_roles is not None else None,
        "policy": policy,
        "projects": _str_list(data, "projects"),
        "created_at": _required_time(data, "created_at"),
        "expires_at": _time(data, "expires_at"),
        "last_used_at": _time(data, "last_used_at"),
        "last_used_ip": _opt_str(data, "last_used_ip"),
        "rotated_at": _time(data, "rotated_at"),
        "disabled_at": _time(data, "disabled_at"),
    }


def parse_time(value: str) -> datetime:
    """RFC 3339 as Tessera writes it (`2027-02-01T00:00:00Z`), always aware."""
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def format_time(value: datetime | str) -> str:
    """A time to send: an aware `datetime`, or a string passed on as it is.

    A naive `datetime` is refused: guessing its zone would move the expiry.
    """
    if isinstance(value, str):
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("expires_at must be timezone-aware (e.g. datetime.now(timezone.utc))")
    return value.isoformat()


# -- strict field readers: a malformed answer is a TesseraError, not a KeyError


def _service_account(data: JSON) -> VerifiedServiceAccount | None:
    value = data.get("service_account")
    if value is None:
        return None
    return VerifiedServiceAccount.from_json(_obj(value, "service_account"))


def _decode(name: str) -> TesseraError:
    # The status is filled in by `_core.handle_response`, which knows it.
    return bad_response(f"field {name!r} missing or of the wrong type")


def _obj(value: Any, name: str) -> JSON:
    if not isinstance(value, dict):
        raise _decode(name)
    return value


def _str(data: JSON, name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise _decode(name)
    return value


def _opt_str(data: JSON, name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise _decode(name)
    return value


def _bool(data: JSON, name: str) -> bool:
    value = data.get(name)
    if not isinstance(value, bool):
        raise _decode(name)
    return value


def _str_list(data: JSON, name: str) -> list[str]:
    value = data.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _decode(name)
    return list(value)


def _time(data: JSON, name: str) -> datetime | None:
    value = _opt_str(data, name)
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise _decode(name) from None


def _required_time(data: JSON, name: str) -> datetime:
    value = _time(data, name)
    if value is None:
        raise _decode(name)
    return value
