"""A contact sheet of a pack: every mouth frame and eye state composited on the base face the way the
player does it (sprite x mask over the base). `python -m avatar_service.packs.contact_sheet PACK OUT.png`"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from avatar_service.packs.manifest import PackManifest
from avatar_service.packs.validate import validate_pack


def _layer(base: np.ndarray, sprite: np.ndarray, mask: np.ndarray, anchor: tuple[float, float]) -> np.ndarray:
    height, width = mask.shape
    left, top = round(anchor[0] - width / 2), round(anchor[1] - height / 2)
    out = base.astype(np.float32).copy()
    alpha = mask[..., None] / 255.0
    region = out[top : top + height, left : left + width]
    out[top : top + height, left : left + width] = region * (1 - alpha) + sprite * alpha
    return out.round().astype(np.uint8)


def composites(pack_dir: Path, manifest: PackManifest) -> list[tuple[str, np.ndarray]]:
    def load(name: str, mode: str = "RGB") -> np.ndarray:
        with Image.open(pack_dir / name) as image:
            return np.asarray(image.convert(mode))

    base = load(manifest.base_face)
    mouth, eyes = manifest.mouth, manifest.eyes
    strip, mouth_mask = load(mouth.sprites), load(mouth.mask, "L")
    width = mouth.frame.width
    shots = [
        (viseme, _layer(base, strip[:, i * width : (i + 1) * width], mouth_mask, (mouth.anchor.x, mouth.anchor.y)))
        for i, viseme in enumerate(mouth.visemes)
    ]
    eyes_mask = load(eyes.mask, "L")
    for state in ("open", "half", "closed"):
        shots.append((f"eyes {state}", _layer(base, load(getattr(eyes, state)), eyes_mask, (eyes.anchor.x, eyes.anchor.y))))
    return shots


def contact_sheet(pack_dir: Path, columns: int = 5, tile_width: int = 256) -> Image.Image:
    manifest = validate_pack(pack_dir)
    shots = composites(pack_dir, manifest)
    # Crop to the face: from above the eyes layer to below the mouth layer.
    top = int(manifest.eyes.anchor.y - manifest.eyes.frame.height)
    bottom = int(manifest.mouth.anchor.y + manifest.mouth.frame.height / 2)
    half = (bottom - top) * 0.4
    left, right = int(manifest.mouth.anchor.x - half), int(manifest.mouth.anchor.x + half)
    tile_height = round(tile_width * (bottom - top) / (right - left))
    rows = -(-len(shots) // columns)
    sheet = Image.new("RGB", (columns * tile_width, rows * (tile_height + 22)), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (label, image) in enumerate(shots):
        x, y = (index % columns) * tile_width, (index // columns) * (tile_height + 22)
        tile = Image.fromarray(image[top:bottom, left:right]).resize((tile_width, tile_height), Image.Resampling.LANCZOS)
        sheet.paste(tile, (x, y))
        draw.text((x + 6, y + tile_height + 5), label, fill="black")
    return sheet


if __name__ == "__main__":
    contact_sheet(Path(sys.argv[1])).save(sys.argv[2], optimize=True)
