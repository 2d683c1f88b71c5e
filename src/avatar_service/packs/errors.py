"""Errors of pack validation and creation."""

from avatar_service.errors import AvatarServiceError


class InvalidPack(AvatarServiceError):
    """A pack directory that the player could not show; the message lists every problem found."""

    def __init__(self, pack_dir: str, problems: list[str]) -> None:
        super().__init__(f"invalid pack {pack_dir}: " + "; ".join(problems))
        self.pack_dir = pack_dir
        self.problems = problems


class PackExists(AvatarServiceError):
    def __init__(self, pack_dir: str) -> None:
        super().__init__(f"pack {pack_dir} already exists (use --force to replace it)")
