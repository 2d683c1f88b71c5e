"""`pack validate`: every check the player relies on, reported together in one line."""

from pathlib import Path

from pydantic import ValidationError

from avatar_service.packs.errors import InvalidPack
from avatar_service.packs.files import describe_validation_error, load_manifest
from avatar_service.packs.manifest import AnchorTimeline, PackManifest, Size

MAX_PACK_BYTES = 1_000_000  # the seed design's budget per avatar, idle video included


def validate_pack(pack_dir: Path) -> PackManifest:
    """The pack's manifest if the pack is usable; otherwise `InvalidPack` listing every problem."""
    manifest = load_manifest(pack_dir)
    problems = check_files(pack_dir, manifest)
    if not problems:
        problems = check_images(pack_dir, manifest) + check_anchors(manifest) + check_extras(pack_dir, manifest)
        problems += check_rig(pack_dir, manifest)
    if problems:
        raise InvalidPack(str(pack_dir), problems)
    return manifest


def check_files(pack_dir: Path, manifest: PackManifest) -> list[str]:
    problems = []
    for field, name in manifest.files().items():
        path = pack_dir / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            problems.append(f"{field} {name!r} must be a file name inside the pack")
        elif not path.is_file():
            problems.append(f"missing file {name} ({field})")
    if not problems:
        total = sum((pack_dir / name).stat().st_size for name in set(manifest.files().values()))
        if total > MAX_PACK_BYTES:
            problems.append(f"assets take {total / 1e6:.2f} MB, over the {MAX_PACK_BYTES / 1e6:.0f} MB budget")
    return problems


def check_images(pack_dir: Path, manifest: PackManifest) -> list[str]:
    mouth, eyes = manifest.mouth, manifest.eyes
    expected = {
        ("base_face", manifest.base_face): manifest.canvas,
        ("mouth.sprites", mouth.sprites): Size(width=mouth.frame.width * len(mouth.visemes), height=mouth.frame.height),
        ("mouth.mask", mouth.mask): mouth.frame,
        ("eyes.open", eyes.open): eyes.frame,
        ("eyes.half", eyes.half): eyes.frame,
        ("eyes.closed", eyes.closed): eyes.frame,
        ("eyes.mask", eyes.mask): eyes.frame,
    }
    problems = []
    for (field, name), size in expected.items():
        actual = _image_size(pack_dir / name)
        if actual is None:
            problems.append(f"cannot read image {name} ({field})")
        elif actual != (size.width, size.height):
            problems.append(
                f"{name} is {actual[0]}x{actual[1]}, expected {size.width}x{size.height} ({field}"
                + (f": {len(mouth.visemes)} frames of {mouth.frame.width}x{mouth.frame.height})" if field == "mouth.sprites" else ")")
            )
    return problems


def _image_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError):
        return None


def check_anchors(manifest: PackManifest) -> list[str]:
    """Each layer must sit on the canvas, and the mouth below the eyes (anything else is not on a face)."""
    canvas = manifest.canvas
    problems = []
    for layer_name, layer in (("mouth", manifest.mouth), ("eyes", manifest.eyes)):
        anchor, size = layer.anchor, layer.drawn_size
        if not (0 <= anchor.x <= canvas.width and 0 <= anchor.y <= canvas.height):
            problems.append(
                f"{layer_name}.anchor ({anchor.x:g}, {anchor.y:g}) is outside the {canvas.width}x{canvas.height} canvas"
            )
            continue
        left, top = anchor.x - size.width / 2, anchor.y - size.height / 2
        if left < 0 or top < 0 or left + size.width > canvas.width or top + size.height > canvas.height:
            problems.append(
                f"{layer_name} layer ({left:g},{top:g})-({left + size.width:g},{top + size.height:g}) reaches "
                f"outside the {canvas.width}x{canvas.height} canvas; move {layer_name}.anchor or shrink its size"
            )
    if not problems and manifest.mouth.anchor.y <= manifest.eyes.anchor.y:
        problems.append(
            f"mouth.anchor y={manifest.mouth.anchor.y:g} is not below eyes.anchor y={manifest.eyes.anchor.y:g}: "
            "the anchors are not on the face"
        )
    return problems


def check_extras(pack_dir: Path, manifest: PackManifest) -> list[str]:
    problems = []
    if manifest.anchor_timeline:
        try:
            timeline = AnchorTimeline.model_validate_json((pack_dir / manifest.anchor_timeline).read_bytes())
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "document"
            problems.append(f"{manifest.anchor_timeline} {where}: {first['msg']}")
        else:
            if timeline.canvas != manifest.canvas:
                problems.append(f"{manifest.anchor_timeline} canvas differs from the manifest's canvas")
    if manifest.idle_video:
        problems += _check_video(pack_dir / manifest.idle_video, manifest.canvas)
    return problems


def check_rig(pack_dir: Path, manifest: PackManifest) -> list[str]:
    """Format 2: rig.json parses, fits the canvas, references only existing vertices and never folds."""
    from avatar_service.packs.manifest import RigFile
    from avatar_service.packs.rig_check import rig_problems

    if manifest.rig is None:
        return []
    try:
        rig = RigFile.model_validate_json((pack_dir / manifest.rig).read_bytes())
    except ValidationError as error:
        return [describe_validation_error(manifest.rig, error)]
    if (rig.image.width, rig.image.height) != (manifest.canvas.width, manifest.canvas.height):
        return [
            f"{manifest.rig} image is {rig.image.width}x{rig.image.height}, not the canvas's "
            f"{manifest.canvas.width}x{manifest.canvas.height}"
        ]
    return rig_problems(rig, manifest.rig)


def _check_video(path: Path, canvas: Size) -> list[str]:
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            width, height = stream.width, stream.height
    except (av.FFmpegError, IndexError, OSError):
        return [f"cannot read video {path.name} (idle_video)"]
    if width * canvas.height != height * canvas.width:
        return [f"{path.name} is {width}x{height}, not the canvas's {canvas.width}x{canvas.height} shape"]
    return []
