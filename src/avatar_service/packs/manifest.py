"""The avatar pack format v1: `manifest.json` and `anchor_timeline.json`, as pydantic models.

The web player (`web/`) reads the same files; `manifest.schema.json` next to this module is the published
JSON Schema, generated from these models by `python -m avatar_service.packs.manifest`.
"""

import json
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from avatar_service.schemas import Viseme

FORMAT_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")

# The seed design's sprite sizes; a generated pack may declare a taller mouth frame so the jaw can drop.
DEFAULT_MOUTH_FRAME = (160, 120)
DEFAULT_EYES_FRAME = (232, 80)

# A pack id is also its folder name and URL segment: letters, digits, "_" and "-" only (no dots, slashes or
# spaces), at most 100 characters. `pack create` checks it before any work (docs/packs.md).
PACK_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_PACK_ID_CHARS = 100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Size(_Strict):
    width: int = Field(gt=0, le=4096)
    height: int = Field(gt=0, le=4096)


class Point(_Strict):
    """A layer's centre on the canvas, in base-face pixels."""

    x: float
    y: float


class MouthLayer(_Strict):
    sprites: str = Field(description="Horizontal strip of len(visemes) frames, in `visemes` order.")
    mask: str = Field(description="One frame-sized greyscale/alpha feather mask; white = sprite shows.")
    frame: Size = Field(default_factory=lambda: Size(width=DEFAULT_MOUTH_FRAME[0], height=DEFAULT_MOUTH_FRAME[1]))
    visemes: list[Viseme] = Field(min_length=1)
    anchor: Point
    size: Size | None = Field(default=None, description="Drawn size on the canvas; defaults to `frame`.")

    @property
    def drawn_size(self) -> Size:
        return self.size or self.frame


class EyesLayer(_Strict):
    open: str
    half: str
    closed: str
    mask: str
    frame: Size = Field(default_factory=lambda: Size(width=DEFAULT_EYES_FRAME[0], height=DEFAULT_EYES_FRAME[1]))
    anchor: Point
    size: Size | None = None
    saccade_px: float = Field(default=3, ge=0, le=50)

    @property
    def drawn_size(self) -> Size:
        return self.size or self.frame


class Motion(_Strict):
    head_bob_px: float = Field(default=2.5, ge=0, le=50)
    tilt_deg: float = Field(default=0.6, ge=0, le=20)
    breathing_scale: float = Field(default=0.004, ge=0, le=0.1)
    idle_blink_interval_s: tuple[float, float] = (3, 6)


class PackManifest(_Strict):
    """`manifest.json` of an avatar pack (format v1). File fields are names relative to the pack directory."""

    format_version: Literal[1] = FORMAT_VERSION
    id: str = Field(min_length=1, max_length=MAX_PACK_ID_CHARS, pattern=PACK_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    canvas: Size
    base_face: str
    idle_video: str | None = None
    anchor_timeline: str | None = None
    mouth: MouthLayer
    eyes: EyesLayer
    motion: Motion | None = None
    attribution: str | None = None

    def files(self) -> dict[str, str]:
        """Every file the manifest names, keyed by the manifest field that names it."""
        named = {
            "base_face": self.base_face,
            "idle_video": self.idle_video,
            "anchor_timeline": self.anchor_timeline,
            "mouth.sprites": self.mouth.sprites,
            "mouth.mask": self.mouth.mask,
            "eyes.open": self.eyes.open,
            "eyes.half": self.eyes.half,
            "eyes.closed": self.eyes.closed,
            "eyes.mask": self.eyes.mask,
        }
        return {field: name for field, name in named.items() if name is not None}


class TimelineReference(_Strict):
    """The tracked positions on the still base face; frames move the layers by (frame - reference)."""

    mouth: tuple[float, float]
    eyes: tuple[float, float]
    face_size: float = Field(gt=0)


class TimelineFrame(_Strict):
    mouth: tuple[float, float]
    eyes: tuple[float, float]
    face_size: float = Field(gt=0)
    # Head roll relative to the base face, degrees, clockwise on screen (the sign of canvas rotate()).
    roll_deg: float


class AnchorTimeline(_Strict):
    """`anchor_timeline.json`: per-frame face anchors tracked on the idle video."""

    format_version: Literal[1] = FORMAT_VERSION
    fps: float = Field(gt=0)
    frame_count: int = Field(gt=0)
    canvas: Size
    reference: TimelineReference
    frames: list[TimelineFrame]

    @model_validator(mode="after")
    def _count_matches(self) -> "AnchorTimeline":
        if len(self.frames) != self.frame_count:
            raise ValueError(f"frame_count is {self.frame_count} but {len(self.frames)} frames are listed")
        return self


def manifest_json_schema() -> dict:
    schema = PackManifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "avatar-service/pack-manifest-v1.schema.json"
    return schema


def render_json_schema() -> str:
    return json.dumps(manifest_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    # Regenerate the published schema after changing the models (a test checks it is up to date).
    SCHEMA_PATH.write_text(render_json_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}", file=sys.stderr)
