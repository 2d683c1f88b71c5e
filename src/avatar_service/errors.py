"""Typed errors raised by the library; the CLI and the API turn them into one-line messages and status codes.

Each error has a ``kind`` (and, for input errors, a ``field``): that pair crosses the queue as data
(``JobFailure``), so the API decides the status code from the kind in one place (``api/errors.py``), never by
reading messages.
"""

from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    INVALID_INPUT = "invalid_input"  # the request cannot be rendered: the client's fault (422)
    VOICE_MODEL = "voice_model"  # an installed voice file is broken: the server's fault (500)
    RENDER_FAILED = "render_failed"  # the pipeline failed on valid input (500)
    INTERNAL = "internal"  # an unexpected exception; details only in the server log (500)
    OVERLOADED = "overloaded"  # too much work already accepted; retry later (503)
    UNAVAILABLE = "unavailable"  # the queue's store cannot be reached; retry later (503)


class AvatarServiceError(Exception):
    """Base class for every error this package raises on purpose."""

    kind: ErrorKind = ErrorKind.RENDER_FAILED
    field: str | None = None


class InvalidInput(AvatarServiceError, ValueError):
    """A request field is outside its limits. ``field`` names it so callers can point at it."""

    kind = ErrorKind.INVALID_INPUT

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

    kind = ErrorKind.VOICE_MODEL


class RenderFailed(AvatarServiceError):
    """The pipeline could not produce a result for a valid request."""


class Overloaded(AvatarServiceError):
    """The service has accepted as much work as it may hold; ``retry_after_s`` says when to try again."""

    kind = ErrorKind.OVERLOADED

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class JobFailure:
    """Why a job failed, as data that survives a queue: kind, the request field at fault, one readable line."""

    kind: ErrorKind
    message: str
    field: str | None = None

    @classmethod
    def from_exception(cls, error: BaseException) -> "JobFailure":
        if isinstance(error, AvatarServiceError):
            return cls(error.kind, str(error), error.field)
        # Tracebacks stay in the server log; clients learn only that it happened.
        return cls(ErrorKind.INTERNAL, f"internal error while rendering ({type(error).__name__}); see the server log")

    def to_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind.value, "message": self.message, "field": self.field}

    @classmethod
    def from_dict(cls, data: object) -> "JobFailure":
        """Read a failure stored by ``to_dict``; anything else (arq's own failures) is an internal error."""
        if isinstance(data, dict) and data.get("kind") in ErrorKind.__members__.values():
            return cls(ErrorKind(data["kind"]), str(data.get("message", "")), data.get("field"))
        return cls(ErrorKind.INTERNAL, str(data))
