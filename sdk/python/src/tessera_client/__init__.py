"""Python client for Tessera, the self-hosted API-token service.

    from tessera_client import Tessera

    tessera = Tessera()                      # TESSERA_URL, TESSERA_TOKEN
    answer = tessera.verify(presented, "flag:read", "proj/web")
    if answer.valid and answer.allowed:
        ...

`AsyncTessera` is the same with `await`. Middleware lives in
`tessera_client.fastapi` (needs the `fastapi` extra) and `tessera_client.wsgi`.
"""

from ._async_client import AsyncTessera, AsyncTokens
from ._cache import DEFAULT_CACHE_TTL, MAX_CACHE_TTL
from ._client import Tessera, Tokens
from ._errors import TesseraConfigError, TesseraError
from ._models import CreatedToken, Token, VerifiedServiceAccount, VerifiedToken, VerifyResult
from ._version import __version__

__all__ = [
    "AsyncTessera",
    "AsyncTokens",
    "CreatedToken",
    "DEFAULT_CACHE_TTL",
    "MAX_CACHE_TTL",
    "Tessera",
    "TesseraConfigError",
    "TesseraError",
    "Token",
    "Tokens",
    "VerifiedServiceAccount",
    "VerifiedToken",
    "VerifyResult",
    "__version__",
]
