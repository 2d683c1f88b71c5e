"""The avatar pack format (v1, and v2 which adds a face rig): `manifest.json` and `anchor_timeline.json`,
and `rig.json` (format 2, described in docs/rig.md), as pydantic models.

The web player (`web/`) reads the same files; `manifest.schema.json` next to this module is the published
JSON Schema, generated from these models by `python -m avatar_service.packs.manifest`.
"""

import json
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from avatar_service.schemas import Viseme

FORMAT_VERSION = 1  # of anchor_timeline.json
PACK_FORMAT_VERSION = 2  # what `pack create` writes; format-1 packs still validate and play
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
RIG_SCHEMA_PATH = Path(__file__).with_name("rig.schema.json")

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
    """`manifest.json` of an avatar pack (format 1 or 2). File fields are names relative to the pack directory.
    Format 2 adds `rig` (rig.json, docs/rig.md); its mouth sprites and eye images stay for players without
    WebGL2."""

    format_version: Literal[1, 2] = 1  # a manifest without the field predates format 2
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
    rig: str | None = Field(default=None, description="Format 2: the face rig (rig.json, docs/rig.md).")

    @model_validator(mode="after")
    def _rig_matches_format(self) -> "PackManifest":
        if self.format_version == 2 and self.rig is None:
            raise ValueError("format_version 2 needs a rig file (rig)")
        if self.format_version == 1 and self.rig is not None:
            raise ValueError("rig needs format_version 2")
        return self

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
            "rig": self.rig,
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


class RigControl(_Strict):
    indices: list[int]
    offsets: list[tuple[float, float]]


class TeethBox(_Strict):
    y: float
    x0: float
    x1: float
    height: float = Field(gt=0)


class MouthInterior(_Strict):
    cavity_near: tuple[float, float, float]
    cavity_deep: tuple[float, float, float]
    teeth: tuple[float, float, float]
    tongue: tuple[float, float, float]
    upper_teeth: TeethBox
    lower_teeth: TeethBox
    jaw_vertex: int


class RigMouth(_Strict):
    inner_lip: list[int] = Field(min_length=3)
    interior: MouthInterior


class RigFile(_Strict):
    """`rig.json`, as docs/rig.md specifies it."""

    rig_version: int = Field(ge=1, le=1)
    image: Size
    vertices: list[tuple[float, float]] = Field(min_length=3)
    triangles: list[tuple[int, int, int]] = Field(min_length=1)
    fixed: list[int]
    controls: dict[str, RigControl]
    visemes: dict[str, dict[str, float]]
    mouth: RigMouth


def manifest_json_schema() -> dict:
    return _published(PackManifest, "avatar-service/pack-manifest-v2.schema.json")


def rig_json_schema() -> dict:
    return _published(RigFile, "avatar-service/pack-rig-v1.schema.json")


def _published(model: type[BaseModel], schema_id: str) -> dict:
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = schema_id
    return schema


def render_json_schema(schema: dict | None = None) -> str:
    return json.dumps(manifest_json_schema() if schema is None else schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    # Regenerate the published schemas after changing the models (a test checks they are up to date).
    SCHEMA_PATH.write_text(render_json_schema(), encoding="utf-8")
    RIG_SCHEMA_PATH.write_text(render_json_schema(rig_json_schema()), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH} and {RIG_SCHEMA_PATH}", file=sys.stderr)
