"""How the API and the workers talk to Valkey: one client factory, JSON on the wire, typed outage errors.

arq pickles jobs and results by default, so anyone able to write to Valkey could run code on every worker
(arq documentation, "Job serialization"; docs/sources.md "Job queue"). Everything here goes through JSON instead.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from avatar_service.config import Settings
from avatar_service.errors import JobFailure
from avatar_service.queue.base import QueueUnavailable

QUEUE_NAME = "avatar:render"
# The arq function name the API enqueues and the workers register.
RENDER_FUNCTION = "render"
# Finished renders (RenderRecord JSON), the content-hash cache; they live CACHE_TTL_SECONDS.
RECORD_KEY_PREFIX = "avatar:record:"
# Published (payload: the render id) whenever a render job ends, so waiters need not poll fast.
DONE_CHANNEL_PREFIX = "avatar:done:"

# Errors that mean "Valkey is not reachable right now", as opposed to a bug in a command.
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)

CONNECT_TIMEOUT_S = 2.0
# Bounds every command, so a hung (not just stopped) Valkey turns into a 503 instead of a hang.
COMMAND_TIMEOUT_S = 5.0


def dumps(data: dict[str, Any]) -> bytes:
    """arq's job and result envelope as JSON; exceptions (failed jobs) become a typed ``JobFailure`` dict."""
    return json.dumps(data, default=_describe, separators=(",", ":")).encode()


def loads(raw: bytes) -> dict[str, Any]:
    return json.loads(raw)


def _describe(value: object) -> dict[str, str | None]:
    if isinstance(value, BaseException):
        return JobFailure.from_exception(value).to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def connect(settings: Settings) -> ArqRedis:
    """A lazily connecting client; nothing touches the network until the first command."""
    return ArqRedis(
        host=settings.valkey_host or "localhost",
        port=settings.valkey_port,
        db=settings.valkey_db,
        password=settings.valkey_password,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
        # A pooled connection that died with a Valkey restart fails once; retrying at once on a fresh
        # connection makes recovery invisible to callers.
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError],
        health_check_interval=30,
        job_serializer=dumps,
        job_deserializer=loads,
        default_queue_name=QUEUE_NAME,
    )


def describe_address(settings: Settings) -> str:
    return f"{settings.valkey_host or 'localhost'}:{settings.valkey_port}"


@asynccontextmanager
async def unavailable_on_outage(settings: Settings) -> AsyncIterator[None]:
    """Turn connection failures into QueueUnavailable naming the server, for the API's 503."""
    try:
        yield
    except OUTAGE_ERRORS as error:
        raise QueueUnavailable(
            f"Valkey at {describe_address(settings)} is unreachable ({error.__class__.__name__}: {error})"
        ) from error
