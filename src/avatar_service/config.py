"""Configuration from environment variables (see the README's configuration table)."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Path("./data")
    voices_dir: Path | None = None
    default_voice: str | None = None
    # PIPER_MODEL: a path to one .onnx voice, used as the default voice (older setups configure it this way).
    piper_model: Path | None = None
    # Where `voices download` fetches from; tests point it at a local server.
    piper_voices_url: str = "https://huggingface.co/rhasspy/piper-voices/resolve/main"
    # Alignment-patched copies of the voice models (made once, ~60 MB each).
    voice_cache_dir: Path | None = None

    audio_base_url: str | None = None
    sync_timeout_seconds: float = 60.0
    max_concurrent_requests: int = 10
    cache_ttl_seconds: int = 7 * 24 * 3600
    # Renders that run at once in this process (embedded queue) and onnxruntime threads per render (0 = one
    # per core). Two threads make a lone render as fast as Piper's defaults on two cores and lose nothing
    # under load; the count is part of what makes a render repeatable (see tts/engine.py).
    render_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    onnx_threads: int = Field(default=2, ge=0)
    cors_origins: str = ""
    log_level: str = "INFO"

    # "auto" uses Valkey when VALKEY_HOST is set, the embedded in-process queue otherwise.
    queue: Literal["auto", "embedded", "valkey"] = "auto"
    valkey_host: str | None = None
    valkey_port: int = 6379
    valkey_db: int = 0
    valkey_password: str | None = None
    job_timeout_seconds: int = 120

    web_dir: Path | None = None

    @property
    def queue_kind(self) -> Literal["embedded", "valkey"]:
        if self.queue == "auto":
            return "valkey" if self.valkey_host else "embedded"
        return self.queue

    @property
    def resolved_voices_dir(self) -> Path:
        return self.voices_dir if self.voices_dir is not None else self.data_dir / "voices"

    @property
    def resolved_voice_cache_dir(self) -> Path:
        return self.voice_cache_dir if self.voice_cache_dir is not None else self.data_dir / "voice-cache"

    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"


@lru_cache
def get_settings() -> Settings:
    return Settings()
