"""A format-1 placeholder pack for tests: flat coloured blocks at the pack format's default sizes, no face.

Tests that need a format-1 pack (the Canvas 2D compositor, sprite cross-fades, calibration, `pack upgrade`
refusing a face-less pack) write it into a temporary PACKS_DIR with `write_placeholder_pack`; no shipped pack
is a placeholder (docs/packs.md).
"""

import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

PLACEHOLDER_ID = "placeholder_v1"
CANVAS = (512, 640)
MOUTH_FRAME = (160, 120)
EYES_FRAME = (232, 80)
MOUTH_ANCHOR = (256, 470)
EYES_ANCHOR = (256, 300)
VISEMES = ("REST", "AA", "EE", "OH", "OO", "FF", "TH")

BACKGROUND = (58, 74, 96)
SKIN = (226, 178, 150)
HAIR = (92, 56, 38)
LIPS = (178, 84, 88)
MOUTH_INSIDE = (60, 18, 24)
TEETH = (238, 232, 220)
TONGUE = (206, 104, 110)
SCLERA = (245, 243, 238)
IRIS = (70, 110, 150)
PUPIL = (20, 20, 24)
LID = (204, 152, 128)

# Each viseme as (lip ellipse half-width, half-height, opening half-width, half-height): what matters here is
# that every frame is visibly different, so the browser tests can see the mouth move.
MOUTH_SHAPES = {
    "REST": (40, 9, 0, 0),
    "AA": (38, 30, 30, 23),
    "EE": (52, 12, 45, 6),
    "OH": (30, 26, 21, 18),
    "OO": (20, 20, 11, 11),
    "FF": (42, 12, 36, 5),
    "TH": (40, 16, 32, 9),
}


def bare_face() -> Image.Image:
    """The face without eyes and mouth: sprites are cut from it, so their backgrounds match the base."""
    image = Image.new("RGB", CANVAS, BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((96, 560, 416, 640), fill=(120, 60, 80))  # shoulders
    draw.rectangle((206, 500, 306, 580), fill=SKIN)  # neck
    draw.ellipse((96, 110, 416, 470), fill=HAIR)  # hair behind the face
    draw.ellipse((136, 170, 376, 540), fill=SKIN)
    draw.rectangle((136, 150, 376, 230), fill=HAIR)  # fringe
    draw.polygon([(256, 340), (240, 410), (272, 410)], fill=(210, 160, 134))  # nose
    return image


def box(anchor: tuple[int, int], frame: tuple[int, int]) -> tuple[int, int, int, int]:
    left, top = anchor[0] - frame[0] // 2, anchor[1] - frame[1] // 2
    return left, top, left + frame[0], top + frame[1]


def base_face() -> Image.Image:
    image = bare_face()
    draw = ImageDraw.Draw(image)
    draw_eyes(draw, box(EYES_ANCHOR, EYES_FRAME)[:2], closure=0.0)
    draw_mouth(draw, box(MOUTH_ANCHOR, MOUTH_FRAME)[:2], "REST")
    return image


def draw_mouth(draw: ImageDraw.ImageDraw, origin: tuple[int, int], viseme: str) -> None:
    cx, cy = origin[0] + MOUTH_FRAME[0] // 2, origin[1] + MOUTH_FRAME[1] // 2
    lip_w, lip_h, open_w, open_h = MOUTH_SHAPES[viseme]
    draw.ellipse((cx - lip_w, cy - lip_h, cx + lip_w, cy + lip_h), fill=LIPS)
    if open_h == 0:
        draw.line((cx - lip_w + 6, cy, cx + lip_w - 6, cy), fill=MOUTH_INSIDE, width=3)
        return
    draw.ellipse((cx - open_w, cy - open_h, cx + open_w, cy + open_h), fill=MOUTH_INSIDE)
    if viseme in ("AA", "EE", "FF", "TH"):
        draw.rectangle((cx - open_w + 6, cy - open_h, cx + open_w - 6, cy - open_h + max(4, open_h // 2)), fill=TEETH)
    if viseme == "TH":
        draw.ellipse((cx - 14, cy - 4, cx + 14, cy + 12), fill=TONGUE)
    if viseme == "FF":
        draw.rectangle((cx - open_w, cy + 1, cx + open_w, cy + lip_h), fill=LIPS)


def draw_eyes(draw: ImageDraw.ImageDraw, origin: tuple[int, int], closure: float) -> None:
    for centre_x in (origin[0] + 58, origin[0] + EYES_FRAME[0] - 58):
        cy = origin[1] + EYES_FRAME[1] // 2
        draw.ellipse((centre_x - 34, cy - 16, centre_x + 34, cy + 16), fill=SCLERA)
        draw.ellipse((centre_x - 14, cy - 14, centre_x + 14, cy + 14), fill=IRIS)
        draw.ellipse((centre_x - 6, cy - 6, centre_x + 6, cy + 6), fill=PUPIL)
        if closure > 0:
            lid_bottom = cy - 18 + int(36 * closure)
            draw.rectangle((centre_x - 38, cy - 22, centre_x + 38, lid_bottom), fill=LID)
            draw.line((centre_x - 36, lid_bottom, centre_x + 36, lid_bottom), fill=(90, 50, 40), width=3)
        draw.line((centre_x - 34, cy - 30, centre_x + 34, cy - 30), fill=HAIR, width=6)  # brow


def mouth_sprites() -> Image.Image:
    background = bare_face().crop(box(MOUTH_ANCHOR, MOUTH_FRAME))
    strip = Image.new("RGB", (MOUTH_FRAME[0] * len(VISEMES), MOUTH_FRAME[1]))
    for index in range(len(VISEMES)):
        strip.paste(background, (index * MOUTH_FRAME[0], 0))
    draw = ImageDraw.Draw(strip)
    for index, viseme in enumerate(VISEMES):
        draw_mouth(draw, (index * MOUTH_FRAME[0], 0), viseme)
    return strip


def eyes(closure: float) -> Image.Image:
    image = bare_face().crop(box(EYES_ANCHOR, EYES_FRAME))
    draw_eyes(ImageDraw.Draw(image), (0, 0), closure)
    return image


def feather_mask(size: tuple[int, int], inset: int, radius: int, blur: float) -> Image.Image:
    """White rounded box inside a black border, blurred: the sprite shows in the middle, fades out at the edge."""
    mask = Image.new("L", size, 0)
    box = (inset, inset, size[0] - inset, size[1] - inset)
    ImageDraw.Draw(mask).rounded_rectangle(box, radius=radius, fill=255)
    return mask.filter(ImageFilter.GaussianBlur(blur))


def manifest(pack_id: str = PLACEHOLDER_ID) -> dict:
    return {
        "format_version": 1,
        "id": pack_id,
        "name": "Placeholder (coloured blocks)",
        "canvas": {"width": CANVAS[0], "height": CANVAS[1]},
        "base_face": "base_face.png",
        "mouth": {
            "sprites": "mouth_sprites.png",
            "mask": "mouth_mask.png",
            "frame": {"width": MOUTH_FRAME[0], "height": MOUTH_FRAME[1]},
            "visemes": list(VISEMES),
            "anchor": {"x": MOUTH_ANCHOR[0], "y": MOUTH_ANCHOR[1]},
            "size": {"width": MOUTH_FRAME[0], "height": MOUTH_FRAME[1]},
        },
        "eyes": {
            "open": "eyes_open.png",
            "half": "eyes_half.png",
            "closed": "eyes_closed.png",
            "mask": "eyes_mask.png",
            "frame": {"width": EYES_FRAME[0], "height": EYES_FRAME[1]},
            "anchor": {"x": EYES_ANCHOR[0], "y": EYES_ANCHOR[1]},
            "size": {"width": EYES_FRAME[0], "height": EYES_FRAME[1]},
            "saccade_px": 3,
        },
        "motion": {"head_bob_px": 2.5, "tilt_deg": 0.6, "breathing_scale": 0.004, "idle_blink_interval_s": [3, 6]},
        "attribution": "Placeholder drawn by tests/support/placeholder_pack.py; public domain (CC0).",
    }


def write_placeholder_pack(packs_dir: Path, pack_id: str = PLACEHOLDER_ID) -> Path:
    """Write the placeholder pack into `packs_dir/pack_id` (created) and return that directory."""
    pack_dir = packs_dir / pack_id
    pack_dir.mkdir(parents=True, exist_ok=True)
    images = {
        "base_face.png": base_face(),
        "mouth_sprites.png": mouth_sprites(),
        "mouth_mask.png": feather_mask(MOUTH_FRAME, inset=12, radius=40, blur=6),
        "eyes_open.png": eyes(0.0),
        "eyes_half.png": eyes(0.5),
        "eyes_closed.png": eyes(1.0),
        "eyes_mask.png": feather_mask(EYES_FRAME, inset=5, radius=20, blur=3),
    }
    for name, image in images.items():
        image.save(pack_dir / name, optimize=True)
    (pack_dir / "manifest.json").write_text(json.dumps(manifest(pack_id), indent=2) + "\n")
    return pack_dir
