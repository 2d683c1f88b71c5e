"""`pack create`: one frontal photo -> a complete avatar pack (format 2: images plus a face rig), built in
a staging directory and renamed into place only when every file is written, so a failure leaves nothing
half-made."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar_service.packs.eyes import EyeSprites, make_eye_sprites
from avatar_service.packs.face_topology import face_mesh_triangles, face_oval_ring
from avatar_service.packs.files import MANIFEST_NAME, manifest_json, staged_pack_dir
from avatar_service.packs.framing import CANVAS, check_face_size, crop_face
from avatar_service.packs.idle import IDLE_NAME, IdleMotion, render_idle_loop
from avatar_service.packs.imaging import decoded, lossless_webp_bytes, photo_bytes, png_bytes
from avatar_service.packs.manifest import (
    PACK_FORMAT_VERSION,
    EyesLayer,
    Motion,
    MouthLayer,
    PackManifest,
    Point,
    Size,
)
from avatar_service.packs.mouth import MouthSprites, make_mouth_sprites, sample_colours
from avatar_service.packs.rig import derive_rig, rig_document
from avatar_service.packs.validate import validate_pack
from avatar_service.schemas import VISEMES
from avatar_service.tracking.errors import UnusableFace
from avatar_service.tracking.facemesh import FaceMesh, require_mediapipe
from avatar_service.tracking.video import read_image

RIG_NAME = "rig.json"


@dataclass
class PackImages:
    base: np.ndarray  # as stored (decoded from base_data), so sprites can copy it pixel-exactly
    base_data: bytes
    base_format: str  # "webp" or "jpg"
    mouth: MouthSprites
    eyes: EyeSprites


def find_face(photo: np.ndarray, source: str) -> np.ndarray:
    """Landmarks of the one face in a photo, or a one-line reason why the photo cannot be used."""
    with FaceMesh(static=True, max_faces=2) as mesh:
        faces = mesh.faces(photo)
    if not faces:
        raise UnusableFace(
            f"no face found in {source}: use a frontal, evenly lit photo of one face "
            "(a face under ~15% of the image width is not found either: crop the photo first)"
        )
    if len(faces) > 1:
        raise UnusableFace(f"{len(faces)} faces found in {source}: crop the photo to the one person to use")
    check_face_size(faces[0], photo.shape[1], source)
    return faces[0]


def make_images(photo: np.ndarray, points: np.ndarray) -> PackImages:
    """Crop, then the mouth frames; the base face gets the REST mouth baked in (so an open-mouthed photo
    rests closed) and the eyes are cut from that base."""
    portrait, canvas_points = crop_face(photo, points)
    mouth = make_mouth_sprites(portrait, canvas_points)
    left, top, width, height = mouth.box
    alpha = mouth.mask[..., None] / 255.0
    region = portrait[top : top + height, left : left + width]
    rest = mouth.frames[VISEMES.index("REST")]
    base = portrait.copy()
    base[top : top + height, left : left + width] = (region * (1 - alpha) + rest * alpha).round().astype(np.uint8)
    # True colour (the palette PNG of format 1 banded on skin); WebP or JPEG, whichever is smaller.
    base_format, base_data = photo_bytes(base)
    base = decoded(base_data)
    for frame in mouth.frames:
        outside = mouth.mask == 0
        frame[outside] = base[top : top + height, left : left + width][outside]
    return PackImages(
        base=base, base_data=base_data, base_format=base_format, mouth=mouth, eyes=make_eye_sprites(base, canvas_points)
    )


def make_rig(base: np.ndarray, source: str) -> dict:
    """rig.json for the stored base face: landmarks are found again on it, because the base has the REST
    mouth baked in and the rig must fit the pixels the player draws."""
    points = find_face(base, f"the base face made from {source}")
    height, width = base.shape[:2]
    rig = derive_rig(points, face_mesh_triangles(), face_oval_ring(), width, height)
    colours = sample_colours(base, points)
    interior = {
        "cavity_near": colours.cavity_lit,
        "cavity_deep": colours.cavity_back,
        "teeth": colours.teeth,
        "tongue": colours.tongue,
    }
    return rig_document(rig, interior)


def rig_json(rig: dict) -> bytes:
    return json.dumps(rig, separators=(",", ":")).encode()


def build_manifest(pack_id: str, name: str, images: PackImages, attribution: str | None) -> PackManifest:
    mx, my, mw, mh = images.mouth.box
    ex, ey, ew, eh = images.eyes.box
    return PackManifest(
        format_version=PACK_FORMAT_VERSION,
        id=pack_id,
        name=name,
        canvas=Size(width=CANVAS[0], height=CANVAS[1]),
        base_face=f"base_face.{images.base_format}",
        idle_video=IDLE_NAME,
        mouth=MouthLayer(
            sprites="mouth_sprites.webp",
            mask="mouth_mask.png",
            frame=Size(width=mw, height=mh),
            visemes=list(VISEMES),
            anchor=Point(x=mx + mw / 2, y=my + mh / 2),
        ),
        eyes=EyesLayer(
            open="eyes_open.webp",
            half="eyes_half.webp",
            closed="eyes_closed.webp",
            mask="eyes_mask.png",
            frame=Size(width=ew, height=eh),
            anchor=Point(x=ex + ew / 2, y=ey + eh / 2),
            # A photographed eye layer shifts lids and all: keep saccades small.
            saccade_px=1.5,
        ),
        # The idle video carries the head motion; the player's own micro-motion stays gentle on top.
        motion=Motion(head_bob_px=1.0, tilt_deg=0.3, breathing_scale=0.002, idle_blink_interval_s=(3, 6)),
        attribution=attribution,
        rig=RIG_NAME,
    )


def write_pack(staging: Path, manifest: PackManifest, images: PackImages, rig: dict, idle: IdleMotion) -> None:
    from PIL import Image

    files = {
        manifest.base_face: images.base_data,
        manifest.mouth.sprites: lossless_webp_bytes(np.concatenate(images.mouth.frames, axis=1)),
        manifest.mouth.mask: png_bytes(images.mouth.mask),
        manifest.eyes.open: lossless_webp_bytes(images.eyes.frames["open"]),
        manifest.eyes.half: lossless_webp_bytes(images.eyes.frames["half"]),
        manifest.eyes.closed: lossless_webp_bytes(images.eyes.frames["closed"]),
        manifest.eyes.mask: png_bytes(images.eyes.mask),
        RIG_NAME: rig_json(rig),
        IDLE_NAME: render_idle_loop(Image.fromarray(images.base), manifest, idle),
    }
    for name, data in files.items():
        (staging / name).write_bytes(data)
    (staging / MANIFEST_NAME).write_text(manifest_json(manifest), encoding="utf-8")


def create_pack(
    photo_path: Path, pack_dir: Path, *, name: str | None = None, attribution: str | None = None,
    replace: bool = False, idle: IdleMotion | None = None, track: bool = True,
) -> PackManifest:
    """Make the pack `pack_dir` (its name is the pack id) from one photo; returns its manifest."""
    require_mediapipe()
    photo = read_image(photo_path)
    points = find_face(photo, photo_path.name)
    images = make_images(photo, points)
    rig = make_rig(images.base, photo_path.name)
    manifest = build_manifest(pack_dir.name, name or pack_dir.name.replace("_", " ").title(), images, attribution)
    with staged_pack_dir(pack_dir, replace=replace) as staging:
        write_pack(staging, manifest, images, rig, idle or IdleMotion())
        if track:
            from avatar_service.packs.anchors import track_pack_video

            track_pack_video(staging, staging / IDLE_NAME, show_progress=False)
        validate_pack(staging)
    return validate_pack(pack_dir)
