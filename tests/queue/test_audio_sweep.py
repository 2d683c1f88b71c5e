"""The worker's hourly sweep: audio whose record Valkey has expired is deleted from the shared DATA_DIR."""

import asyncio
import os
import time

import pytest
import redis.asyncio

from avatar_service.config import Settings
from avatar_service.queue.connections import RECORD_KEY_PREFIX
from avatar_service.queue.worker import remove_expired_audio

pytestmark = pytest.mark.valkey


def test_only_old_audio_without_a_record_is_removed(valkey, tmp_path):
    settings = Settings(data_dir=tmp_path, cache_ttl_seconds=3600)
    settings.audio_dir.mkdir()
    long_ago = time.time() - 2 * 3600
    expired, still_cached, fresh = (settings.audio_dir / f"{letter * 32}.ogg" for letter in "abc")
    for path in (expired, still_cached, fresh):
        path.write_bytes(b"OggS")
    for path in (expired, still_cached):
        os.utime(path, (long_ago, long_ago))
    valkey.client().set(RECORD_KEY_PREFIX + "b" * 32, "{}")

    async def sweep():
        client = redis.asyncio.Redis(port=valkey.port)
        try:
            return await remove_expired_audio({"settings": settings, "redis": client})
        finally:
            await client.aclose()

    assert asyncio.run(sweep()) == 1
    assert not expired.exists()
    assert still_cached.exists() and fresh.exists()
