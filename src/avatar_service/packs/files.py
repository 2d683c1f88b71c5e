"""Reading and writing pack files so a failure never leaves a half-written pack behind."""

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from avatar_service.errors import InvalidInput
from avatar_service.packs.errors import InvalidPack, PackExists
from avatar_service.packs.manifest import MAX_PACK_ID_CHARS, PACK_ID_PATTERN, PackManifest
from avatar_service.schemas import VISEMES

MANIFEST_NAME = "manifest.json"


def pack_dir_for(packs_dir: Path, pack_id: str) -> Path:
    """The folder of pack ``pack_id`` inside ``packs_dir``; an id that is not a plain folder name ("", "..",
    "a/b", "Bad Id!") is refused here, before any work, so nothing outside that folder is ever touched."""
    if len(pack_id) > MAX_PACK_ID_CHARS or not re.fullmatch(PACK_ID_PATTERN, pack_id):
        raise InvalidInput(
            "id",
            f"{pack_id!r} is not a pack id: use 1-{MAX_PACK_ID_CHARS} letters, digits, '_' or '-' "
            "(it names the pack's folder and URL)",
        )
    return packs_dir / pack_id


def load_manifest(pack_dir: Path) -> PackManifest:
    path = pack_dir / MANIFEST_NAME
    if not pack_dir.is_dir():
        raise InvalidPack(str(pack_dir), ["not a directory"])
    if not path.is_file():
        raise InvalidPack(str(pack_dir), [f"missing file {MANIFEST_NAME}"])
    try:
        return PackManifest.model_validate_json(path.read_bytes())
    except ValidationError as error:
        raise InvalidPack(str(pack_dir), [describe_validation_error(MANIFEST_NAME, error)]) from None


def describe_validation_error(file_name: str, error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(part) for part in item["loc"]) or "document"
        if item["loc"][:2] == ("mouth", "visemes") and item["type"] == "literal_error":
            parts.append(f"{file_name} {where}: unknown viseme {item['input']!r} (known: {', '.join(VISEMES)})")
        else:
            parts.append(f"{file_name} {where}: {item['msg']}")
    more = len(error.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def manifest_json(manifest: PackManifest) -> str:
    return json.dumps(manifest.model_dump(mode="json", exclude_none=True), indent=2) + "\n"


def replace_file(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path` (atomic on POSIX)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; the web server must read pack files
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def add_to_pack(pack_dir: Path, files: dict[str, bytes], manifest: PackManifest) -> None:
    """Put new files into an existing pack, then the manifest that names them (last, so a reader never
    sees a manifest pointing at a file that is not there yet)."""
    for name, data in files.items():
        replace_file(pack_dir / name, data)
    replace_file(pack_dir / MANIFEST_NAME, manifest_json(manifest).encode())


@contextmanager
def staged_pack_dir(pack_dir: Path, *, replace: bool) -> Iterator[Path]:
    """Yield an empty directory next to `pack_dir` to build a whole pack in; on success it becomes
    `pack_dir` by rename, on failure it is removed and `pack_dir` is untouched."""
    pack_dir_for(pack_dir.parent, pack_dir.name)  # never "" or "..": only this one folder is replaced
    if pack_dir.exists() and not replace:
        raise PackExists(str(pack_dir))
    pack_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{pack_dir.name}.", suffix=".partial", dir=pack_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes 0700; the web server must read the pack
    try:
        yield staging
        _swap_into_place(staging, pack_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_into_place(staging: Path, pack_dir: Path) -> None:
    """Rename the finished pack over the old one: the old pack stays whole until the new one is complete,
    is gone for only the instant between two renames, and comes back if the second rename fails."""
    if not pack_dir.exists():
        staging.rename(pack_dir)
        return
    retired = staging.with_suffix(".old")
    pack_dir.rename(retired)
    try:
        staging.rename(pack_dir)
    except BaseException:
        retired.rename(pack_dir)
        raise
    shutil.rmtree(retired)
