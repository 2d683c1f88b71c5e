"""`pack upgrade`: a format-1 pack gets the face rig of format 2, derived from its own base face, so packs
made before format 2 animate in the WebGL player without their original photo. The images stay as
they are (a palette base keeps its palette; `pack create` from the photo gives true colour)."""

from pathlib import Path

from avatar_service.packs.create import RIG_NAME, make_rig, rig_json
from avatar_service.packs.errors import InvalidPack
from avatar_service.packs.files import add_to_pack
from avatar_service.packs.imaging import decoded
from avatar_service.packs.manifest import PACK_FORMAT_VERSION, PackManifest, RigFile
from avatar_service.packs.rig_check import rig_problems
from avatar_service.packs.validate import validate_pack
from avatar_service.tracking.facemesh import require_mediapipe


def upgrade_pack(pack_dir: Path) -> PackManifest:
    """The pack's manifest after the upgrade; a pack already in format 2 is left untouched. The rig is
    checked before anything is written, so a refused rig leaves the pack as it was."""
    manifest = validate_pack(pack_dir)
    if manifest.format_version == PACK_FORMAT_VERSION:
        return manifest
    require_mediapipe()
    base = decoded((pack_dir / manifest.base_face).read_bytes())
    rig = make_rig(base, f"{pack_dir.name}/{manifest.base_face}")
    problems = rig_problems(RigFile.model_validate(rig), RIG_NAME)
    if problems:
        raise InvalidPack(str(pack_dir), problems)
    upgraded = manifest.model_copy(update={"format_version": PACK_FORMAT_VERSION, "rig": RIG_NAME})
    add_to_pack(pack_dir, {RIG_NAME: rig_json(rig)}, upgraded)
    return validate_pack(pack_dir)
