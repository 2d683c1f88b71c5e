"""The HTTP API: FastAPI routes over a render queue, plus the web demo and the audio files."""

__all__ = ["create_app"]


def __getattr__(name: str):
    # Lazy, so `avatar-service --help` (which imports api.cli) does not pay for importing FastAPI.
    if name == "create_app":
        from avatar_service.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
