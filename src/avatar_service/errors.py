"""Typed errors raised by the library; the CLI and the API turn them into one-line messages and 4xx codes."""


class AvatarServiceError(Exception):
    """Base class for every error this package raises on purpose."""


class InvalidInput(AvatarServiceError, ValueError):
    """A request field is outside its limits. ``field`` names it so callers can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownVoice(InvalidInput):
    def __init__(self, voice_id: str, available: list[str]) -> None:
        super().__init__(
            "voice_id",
            f"unknown voice {voice_id!r}; installed voices: {', '.join(available) or 'none'}",
        )
        self.voice_id = voice_id
        self.available = available


class InvalidVoiceModel(AvatarServiceError):
    """A voice file exists but is not a usable Piper model (corrupt ONNX, bad JSON config)."""


class RenderFailed(AvatarServiceError):
    """The pipeline could not produce a result for a valid request."""
