"""Who may call the API and how often: optional API keys, per-key and per-IP rate limits, trusted Host names.

All optional (unset = open, as before). Keys come from API_KEYS (comma-separated) and/or API_KEYS_FILE (one a
line); clients send ``Authorization: Bearer <key>`` (RFC 6750 §2.1) or ``X-API-Key``. Rate limits use the
`limits` library's moving window, its notation ("60/minute"; https://limits.readthedocs.io), stored in Valkey
in Valkey mode so every API instance shares the count, in memory otherwise; past a limit the answer is 429
with Retry-After (RFC 6585 §4). TRUSTED_HOSTS refuses other Host headers with 400, since the response URLs
(audio_url, poll_url) are built from the Host unless AUDIO_BASE_URL is set.
"""

import hmac
import json
import math
import time
from urllib.parse import parse_qs

from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from avatar_service.api.errors import error_response
from avatar_service.config import Settings
from avatar_service.errors import InvalidInput


def api_keys(settings: Settings) -> frozenset[str]:
    keys = [key.strip() for key in settings.api_keys.split(",")]
    if settings.api_keys_file is not None:
        keys += [line.strip() for line in settings.api_keys_file.read_text("utf-8").splitlines()]
    return frozenset(key for key in keys if key and not key.startswith("#"))


def rate_limit_storage(settings: Settings) -> Storage:
    if settings.queue_kind == "valkey":
        password = f":{settings.valkey_password}@" if settings.valkey_password else ""
        uri = f"async+redis://{password}{settings.valkey_host or 'localhost'}:{settings.valkey_port}/{settings.valkey_db}"
        return RedisStorage(uri, implementation="redispy")
    return MemoryStorage()


class AccessControl:
    """Pure ASGI middleware for the API paths (``/v1/``); the web player, audio and /health stay open."""

    def __init__(self, app: ASGIApp, settings: Settings, path_prefix: str = "/v1/") -> None:
        self.app = app
        self.path_prefix = path_prefix
        self.keys = api_keys(settings)
        self.trusted_hosts = [host.strip().lower() for host in settings.trusted_hosts.split(",") if host.strip()]
        self.limits = []
        for name, notation in (("key", settings.rate_limit_per_key), ("ip", settings.rate_limit_per_ip)):
            if notation.strip():
                try:
                    self.limits.append((name, parse(notation)))
                except ValueError as error:
                    raise InvalidInput(f"rate_limit_per_{name}", f"{notation!r} is not like '60/minute'") from error
        self.limiter = MovingWindowRateLimiter(rate_limit_storage(settings)) if self.limits else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        refusal = self._host_refusal(headers)
        if refusal is None and scope["path"].startswith(self.path_prefix):
            key = self._presented_key(headers) or _query_key(scope)
            refusal = self._key_refusal(key) or await self._rate_refusal(key, scope)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            # Closing before the handshake is accepted makes the server answer 403 (ASGI spec, WebSocket
            # "Close - send event"); the reason travels in the close frame where the client supports it.
            await send({"type": "websocket.close", "code": 1008, "reason": json.loads(refusal.body)["detail"][:120]})
        else:
            await refusal(scope, receive, send)

    def _host_refusal(self, headers: dict[str, str]):
        if not self.trusted_hosts:
            return None
        host = headers.get("host", "").rsplit(":", 1)[0].strip("[]").lower() if headers.get("host") else ""
        if any(host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:])) for allowed in self.trusted_hosts):
            return None
        return error_response(400, f"host: {host or 'none'!r} is not in TRUSTED_HOSTS", "host")

    @staticmethod
    def _presented_key(headers: dict[str, str]) -> str | None:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        return headers.get("x-api-key") or None

    def _key_refusal(self, key: str | None):
        if not self.keys:
            return None
        # Compared in constant time against every key, so timing tells nothing about how close a guess was.
        if key is not None and any(hmac.compare_digest(key.encode(), known.encode()) for known in self.keys):
            return None
        detail = "authorization: missing API key" if key is None else "authorization: unknown API key"
        return error_response(
            401, f"{detail} (send 'Authorization: Bearer <key>' or 'X-API-Key')", "authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )

    async def _rate_refusal(self, key: str | None, scope: Scope):
        if self.limiter is None:
            return None
        client_ip = scope["client"][0] if scope.get("client") else "unknown"
        for name, limit in self.limits:
            identity = key if name == "key" else client_ip
            if identity is None:
                continue  # no key presented (open mode): the per-IP limit still applies
            if not await self.limiter.hit(limit, name, identity):
                stats = await self.limiter.get_window_stats(limit, name, identity)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                return error_response(
                    429, f"rate limit {limit} per {'API key' if name == 'key' else 'client address'} exceeded; "
                    f"retry after {retry_after} s", None, headers={"Retry-After": str(retry_after)},
                )
        return None


def _query_key(scope: Scope) -> str | None:
    """A WebSocket's key as ``?api_key=``: browsers cannot set headers on a WebSocket handshake."""
    if scope["type"] != "websocket":
        return None
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("api_key")
    return values[0] if values else None
