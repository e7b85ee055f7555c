"""A short-lived cache of `/verify` answers.

A service that verifies every request would otherwise make one round trip
to Tessera per request. Remembering an answer for a few seconds removes
most of them, at an explicit price: a token revoked (or re-scoped) in
Tessera keeps its cached answer on this client for at most the TTL.

Keys are SHA-256 digests of the question, so the cache never holds a token
string; only answers (which never contain the token) are stored.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone

from ._models import VerifyResult

__all__ = ["VerifyCache", "DEFAULT_CACHE_TTL", "MAX_CACHE_TTL", "DEFAULT_CACHE_SIZE"]

DEFAULT_CACHE_TTL = 10.0
"""Seconds an answer is reused by default."""
MAX_CACHE_TTL = 60.0
"""The longest TTL allowed, which bounds how long a revoked token can pass."""
DEFAULT_CACHE_SIZE = 10_000


class VerifyCache:
    """Answers by question, each kept `ttl` seconds (never past the token's expiry).

    Thread-safe (one lock, held only for dictionary operations), so one
    client can serve every thread of a WSGI server; the async client uses it
    from its event loop, where the lock is never contended for long.
    """

    def __init__(self, ttl: float = DEFAULT_CACHE_TTL, max_entries: int = DEFAULT_CACHE_SIZE):
        if not 0 <= ttl <= MAX_CACHE_TTL:
            raise ValueError(f"cache_ttl must be between 0 (off) and {MAX_CACHE_TTL:g} seconds")
        if max_entries < 1:
            raise ValueError("cache_max_entries must be at least 1")
        self.ttl = float(ttl)
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[float, VerifyResult]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(token: str, action: str | None, resource: str | None, ip: str | None) -> bytes:
        """The SHA-256 of the whole question; JSON keeps the parts apart unambiguously."""
        question = json.dumps([token, action, resource, ip], separators=(",", ":"))
        return hashlib.sha256(question.encode()).digest()

    def get(self, key: bytes) -> VerifyResult | None:
        if self.ttl == 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, answer = entry
            if time.monotonic() >= expires:
                del self._entries[key]
                return None
            return answer

    def put(self, key: bytes, answer: VerifyResult) -> None:
        if self.ttl == 0:
            return
        ttl = self.ttl
        if answer.token is not None and answer.token.expires_at is not None:
            # A cached "valid" must not outlive the token itself.
            left = (answer.token.expires_at - datetime.now(timezone.utc)).total_seconds()
            ttl = min(ttl, left)
        if ttl <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self._entries.pop(key, None)
            if len(self._entries) >= self.max_entries:
                self._evict(now)
            self._entries[key] = (now + ttl, answer)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _evict(self, now: float) -> None:
        """Drops expired answers, then the oldest ones, to make room for one more."""
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)
