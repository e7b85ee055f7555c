"""The SDK's types against the running server's OpenAPI document.

Each SDK class must declare exactly the properties of the schema the API
documents for the same answer, and every field the SDK sends must exist in
the request schema. Schemas are found through the operations (path, method,
status), not by name, so a renamed schema does not hide a drift.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import httpx
import pytest
from conftest import Server

from tessera_client import (
    AsyncTokens,
    CreatedToken,
    Token,
    Tokens,
    VerifiedToken,
    VerifyResult,
    _core,
)

API = "/api/v1"


@pytest.fixture(scope="module")
def spec(server: Server) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}{API}/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follows `$ref`, and the `oneOf: [null, X]` of a nullable reference."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return resolve(spec, spec["components"]["schemas"][name])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            if len(options) == 1:
                return resolve(spec, options[0])
    return schema


def properties(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """Property names of an object schema, `allOf` parts merged."""
    schema = resolve(spec, schema)
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= properties(spec, part)
    return names


def property_schema(spec: dict[str, Any], schema: dict[str, Any], name: str) -> dict[str, Any]:
    schema = resolve(spec, schema)
    if name in schema.get("properties", {}):
        return resolve(spec, schema["properties"][name])
    for part in schema.get("allOf", []):
        try:
            return property_schema(spec, part, name)
        except KeyError:
            pass
    raise KeyError(name)


def response(spec: dict[str, Any], method: str, path: str, status: str) -> dict[str, Any]:
    operation = spec["paths"][API + path][method]
    schema: dict[str, Any] = operation["responses"][status]["content"]["application/json"]["schema"]
    return schema


def request(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation = spec["paths"][API + path][method]
    schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
    return schema


def fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def keyword_arguments(method: Any) -> set[str]:
    return {
        name for name, p in inspect.signature(method).parameters.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def test_verify_answer(spec: dict[str, Any]) -> None:
    answer = response(spec, "post", "/verify", "200")
    assert fields(VerifyResult) == properties(spec, answer)
    assert fields(VerifiedToken) == properties(spec, property_schema(spec, answer, "token"))


def test_token_metadata(spec: dict[str, Any]) -> None:
    listed = property_schema(spec, response(spec, "get", "/tokens", "200"), "items")
    assert listed["type"] == "array"
    assert fields(Token) == properties(spec, listed["items"])
    assert fields(Token) == properties(spec, response(spec, "get", "/tokens/{id}", "200"))


def test_created_and_rotated_token(spec: dict[str, Any]) -> None:
    assert fields(CreatedToken) == properties(spec, response(spec, "post", "/tokens", "201"))
    assert fields(CreatedToken) == properties(spec, response(spec, "post", "/tokens/{id}/rotate", "200"))


def test_verify_request(spec: dict[str, Any]) -> None:
    sent = set(_core.verify("t", "a:b", "c/d", "203.0.113.7").body or {})
    assert sent == {"token", "action", "resource", "ip"}
    assert sent <= properties(spec, request(spec, "post", "/verify"))


def test_create_request(spec: dict[str, Any]) -> None:
    documented = properties(spec, request(spec, "post", "/tokens"))
    for method in (Tokens.create, AsyncTokens.create):
        assert keyword_arguments(method) == documented
    sent = _core.create_token(
        "n", role="reader", custom_roles=["r"], policy=[], projects=["p"],
        expires_at="2099-01-01T00:00:00Z", allowed_ips=["10.0.0.0/8"],
        rate_limit={"requests": 1, "per_seconds": 1}, quota={"remaining": 1},
    ).body
    assert set(sent or {}) == documented


def test_rotate_request(spec: dict[str, Any]) -> None:
    documented = properties(spec, request(spec, "post", "/tokens/{id}/rotate"))
    for method in (Tokens.rotate, AsyncTokens.rotate):
        assert keyword_arguments(method) - {"id"} == documented
    sent = _core.rotate_token("x", expires_at="2099-01-01T00:00:00Z", grace_period_seconds=5).body
    assert set(sent or {}) == documented


def test_paths_the_sdk_calls_exist(spec: dict[str, Any]) -> None:
    calls: list[_core.Call[Any]] = [
        _core.verify("t", None, None, None), _core.list_tokens(), _core.get_token("x"),
        _core.create_token("n", role=None, custom_roles=None, policy=None, projects=None,
                           expires_at=None),
        _core.rotate_token("x", expires_at="2099-01-01T00:00:00Z", grace_period_seconds=None),
        _core.delete_token("x"),
    ]
    templates = {"/tokens/x": "/tokens/{id}", "/tokens/x/rotate": "/tokens/{id}/rotate"}
    for call in calls:
        path = API + templates.get(call.path, call.path)
        assert call.method.lower() in spec["paths"][path], f"{call.method} {path}"
