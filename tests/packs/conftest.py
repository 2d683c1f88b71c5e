"""Packs made once per session from the two bundled real photos (each ~2-4 s on 2 cores)."""

import importlib.util
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

from tests.support import require

GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="session")
def astronaut_face(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """skimage's astronaut, cropped around the face: the whole picture's face is under the 15 % limit."""
    from skimage.data import astronaut

    path = tmp_path_factory.mktemp("photos") / "astronaut_face.png"
    Image.fromarray(astronaut()[0:260, 110:340]).save(path)
    return path


def _make_pack(tmp_path_factory: pytest.TempPathFactory, photo: Path, pack_id: str) -> Path:
    require(importlib.util.find_spec("mediapipe") is not None, "mediapipe (the [tracking] extra)")
    from avatar_service.packs.create import create_pack

    pack_dir = tmp_path_factory.mktemp("packs") / pack_id
    create_pack(photo, pack_dir, attribution="test")
    return pack_dir


@pytest.fixture(scope="session")
def grace_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_pack(tmp_path_factory, GRACE_HOPPER, "grace_test")


@pytest.fixture(scope="session")
def astronaut_pack(tmp_path_factory: pytest.TempPathFactory, astronaut_face: Path) -> Path:
    return _make_pack(tmp_path_factory, astronaut_face, "astronaut_test")


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def load_grey(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))
