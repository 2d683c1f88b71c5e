"""Configuration from environment variables (see the README's configuration table)."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_path
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Per user (~/.local/share/avatar-service on Linux, platformdirs' user data dir), so the CLI run from any
    # folder shares one voice cache, one audio cache and one packs folder.
    data_dir: Path = Field(default_factory=lambda: user_data_path("avatar-service", appauthor=False))
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
    # Limits on what one connection may send (api/connections.py, api/limits.py). The body bound fits the
    # largest valid request: 5000 astral characters escaped as JSON surrogate pairs are 60,000 bytes.
    max_header_bytes: int = Field(default=16384, ge=1024)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=65536, ge=1024)
    body_timeout_seconds: float = Field(default=10.0, gt=0)
    cache_ttl_seconds: int = 7 * 24 * 3600
    # Below this much free space in DATA_DIR, /health answers "degraded" (renders would fail to write).
    min_free_disk_mb: float = Field(default=64.0, ge=0)
    # Renders that run at once in this process (embedded queue), which is also the number of cores a lone
    # render spreads its decoding over; and the onnxruntime threads of the voice's front part (0 = one per
    # core), part of what makes a render repeatable. See tts/engine.py and docs/pipeline.md, "Threads".
    render_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    onnx_threads: int = Field(default=2, ge=0)
    cors_origins: str = ""
    # Access (api/access.py), all optional: API keys (comma-separated, and/or a file with one a line), rate
    # limits in the `limits` notation ("60/minute"), and the Host names the API answers to.
    api_keys: str = ""
    api_keys_file: Path | None = None
    rate_limit_per_key: str = ""
    rate_limit_per_ip: str = ""
    trusted_hosts: str = ""
    log_level: str = "INFO"

    # "auto" uses Valkey when VALKEY_HOST is set, the embedded in-process queue otherwise.
    queue: Literal["auto", "embedded", "valkey"] = "auto"
    valkey_host: str | None = None
    valkey_port: int = 6379
    valkey_db: int = 0
    valkey_password: str | None = None
    job_timeout_seconds: int = 120
    # Valkey mode: a running job's lease, renewed every third of it while its worker lives; a killed
    # worker's job is re-run by another worker this long after the last renewal (queue/worker.py).
    job_lease_seconds: float = Field(default=10.0, ge=1.0)
    # Render jobs queued or running (per API process when embedded, across the fleet with Valkey); a new
    # render past it answers 503 + Retry-After instead of queueing work no client will wait for.
    max_pending_jobs: int = Field(default=50, ge=1)
    # Work one request may ask for, checked before synthesis (workload.py): ~20 phonemes per second of
    # speech, so 8000 is ~6.5 minutes; 5000 characters of English prose are ~5700 phonemes.
    max_phonemes_per_request: int = Field(default=8000, ge=1)

    web_dir: Path | None = None
    # Where `pack create|idle` and `anchors` write packs and where /v1/avatars and /avatars/ find them first
    # (the packs shipped with the player are served too).
    packs_dir: Path | None = None

    # WebSocket streams (docs/streaming.md): open at once before new ones are closed with 1013, and how long
    # a stream may sit with nothing to say before the server closes it.
    max_streams: int = Field(default=20, ge=1)
    stream_idle_timeout_seconds: float = Field(default=30.0, gt=0)

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
    def resolved_packs_dir(self) -> Path:
        return self.packs_dir if self.packs_dir is not None else self.data_dir / "avatars"

    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"


@lru_cache
def get_settings() -> Settings:
    return Settings()
