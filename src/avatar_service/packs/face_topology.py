"""MediaPipe Face Mesh's own surface: its triangles and its outer ring, as index arrays.

The canonical face model ships only as an edge list (`face_mesh_connections.FACEMESH_TESSELATION`,
2,556 edges of 852 triangles; https://github.com/google-ai-edge/mediapipe, canonical_face_model.obj).
Triangles are recovered as the 3-cycles of that graph. Two 3-cycles at the nose wings are not faces:
each of their three edges already borders two real triangles, which is how they are told apart.
"""

from collections import Counter
from functools import cache

import numpy as np

from avatar_service.tracking.facemesh import require_mediapipe


def _connections():  # noqa: ANN202 - a mediapipe module
    require_mediapipe()  # registers mediapipe's packages without their slow __init__
    from mediapipe.python.solutions import face_mesh_connections

    return face_mesh_connections


@cache
def face_mesh_triangles() -> np.ndarray:
    """(852, 3) vertex indices of the Face Mesh surface (holes at the eyes and between the lips)."""
    edges = {tuple(sorted(edge)) for edge in _connections().FACEMESH_TESSELATION}
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    cycles = sorted({tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]})
    uses = Counter(edge for tri in cycles for edge in _tri_edges(tri))
    faces = [tri for tri in cycles if not all(uses[edge] > 2 for edge in _tri_edges(tri))]
    return np.array(faces, dtype=np.int64)


@cache
def face_oval_ring() -> tuple[int, ...]:
    """The mesh's outer boundary (36 landmarks) in walking order."""
    edges = _connections().FACEMESH_FACE_OVAL
    following = dict(edges)
    start = min(following)
    ring = [start]
    while (step := following[ring[-1]]) != start:
        ring.append(step)
    return tuple(ring)


def _tri_edges(tri: tuple[int, int, int]) -> tuple[tuple[int, int], ...]:
    a, b, c = tri
    return ((a, b), (a, c), (b, c))
