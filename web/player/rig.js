// Face-rig geometry for pack format 2 (docs/rig.md): check a rig.json, deform its mesh by control weights,
// and the shapes derived from the deformed mesh (inner-lip opening, where the lower teeth go, how the whole
// face follows the idle video). Pure functions on plain arrays: no DOM, no GL, so a server-side renderer or
// a test can reuse them.

/** A rig.json that cannot be drawn: `field` names the part of the file that is wrong. */
export class RigError extends Error {
  constructor(field, message) {
    super(`rig.json ${field}: ${message}`);
    this.name = "RigError";
    this.field = field;
  }
}

function checkIndices(field, indices, count) {
  for (const index of indices) {
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new RigError(field, `vertex ${index} does not exist (the rig has ${count} vertices)`);
    }
  }
}

/**
 * The rig in the shape the renderer uses: rest positions as one Float32Array [x0, y0, x1, y1, …], triangles as
 * a Uint16/32 index array, each control as (indices, offsets) typed arrays. Throws RigError on missing vertices.
 */
export function prepareRig(json) {
  const count = json.vertices?.length ?? 0;
  if (count < 3) throw new RigError("vertices", "needs at least 3 vertices");
  const rest = new Float32Array(json.vertices.flat());
  const flatTriangles = (json.triangles ?? []).flat();
  if (!flatTriangles.length) throw new RigError("triangles", "the mesh has no triangles");
  checkIndices("triangles", flatTriangles, count);
  const triangles = count > 65535 ? new Uint32Array(flatTriangles) : new Uint16Array(flatTriangles);
  const controls = {};
  for (const [name, control] of Object.entries(json.controls ?? {})) {
    checkIndices(`controls.${name}`, control.indices, count);
    if (control.offsets.length !== control.indices.length) {
      throw new RigError(`controls.${name}`, "needs one offset per index");
    }
    controls[name] = { indices: Uint32Array.from(control.indices), offsets: new Float32Array(control.offsets.flat()) };
  }
  const neighbours = neighbourhoods(triangles, count);
  const innerLip = json.mouth?.inner_lip ?? [];
  checkIndices("mouth.inner_lip", innerLip, count);
  const interior = json.mouth?.interior ?? null;
  if (interior && interior.jaw_vertex !== undefined) checkIndices("mouth.interior.jaw_vertex", [interior.jaw_vertex], count);
  return {
    width: json.image.width,
    height: json.image.height,
    rest,
    triangles,
    neighbours,
    controlNames: Object.keys(controls),
    controls,
    reach: reachBox(json.image, rest, controls, neighbours),
    visemes: json.visemes ?? {},
    innerLip: Uint32Array.from(innerLip),
    interior,
  };
}

/** For each vertex, the vertices it shares a triangle with (itself included), as CSR arrays. */
function neighbourhoods(triangles, count) {
  const sets = Array.from({ length: count }, (_, v) => new Set([v]));
  for (let t = 0; t < triangles.length; t += 3) {
    const corners = [triangles[t], triangles[t + 1], triangles[t + 2]];
    for (const a of corners) for (const b of corners) sets[a].add(b);
  }
  const starts = new Uint32Array(count + 1);
  sets.forEach((set, v) => (starts[v + 1] = starts[v] + set.size));
  const members = new Uint32Array(starts[count]);
  sets.forEach((set, v) => members.set([...set], starts[v]));
  return { starts, members };
}

// How far the idle video and the head micro-motion may move the face from where the rig was made (both are
// a few pixels; this leaves room for more).
const FOLLOW_MARGIN_PX = 24;

/**
 * The pixel box {x, y, width, height} any pose can change: every triangle around a vertex some control moves,
 * grown by the largest total offset a vertex can take (all controls at ±1) and FOLLOW_MARGIN_PX.
 */
function reachBox(image, rest, controls, { starts, members }) {
  const largest = new Float32Array(rest.length / 2);
  for (const { indices, offsets } of Object.values(controls)) {
    indices.forEach((v, k) => (largest[v] += Math.hypot(offsets[2 * k], offsets[2 * k + 1])));
  }
  let grow = 0;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  largest.forEach((amount, v) => {
    if (!amount) return;
    grow = Math.max(grow, amount);
    for (let k = starts[v]; k < starts[v + 1]; k += 1) {
      const u = members[k];
      [x0, y0, x1, y1] = [Math.min(x0, rest[2 * u]), Math.min(y0, rest[2 * u + 1]), Math.max(x1, rest[2 * u]), Math.max(y1, rest[2 * u + 1])];
    }
  });
  if (x0 === Infinity) return { x: 0, y: 0, width: 1, height: 1 };
  const margin = grow + FOLLOW_MARGIN_PX;
  const left = Math.max(0, Math.floor(x0 - margin));
  const top = Math.max(0, Math.floor(y0 - margin));
  const right = Math.min(image.width, Math.ceil(x1 + margin));
  const bottom = Math.min(image.height, Math.ceil(y1 + margin));
  return { x: left, y: top, width: right - left, height: bottom - top };
}

// Vertices moved by less than this are left to the picture: the error is a quarter-pixel shift at most,
// below what bilinear resampling already blurs, and it keeps the drawn box to where the face really moves.
export const STILL_PX = 0.25;

/**
 * The triangles (a flat index array like rig.triangles) with a vertex that the non-zero controls move by more
 * than STILL_PX at `positions`. The others map the picture onto itself: they need not be drawn at all, so the
 * renderer draws these over a transparent canvas and the player lays that over the picture. With `over` (a
 * box {x0, y0, x1, y1}, rig pixels: the mouth interior's), also every triangle whose bounding box reaches into
 * it, so the face covers all of that box but the inner-lip hole.
 */
export function movedTriangles(rig, weights, positions, over = null) {
  const { rest, triangles } = rig;
  const moved = new Uint8Array(rest.length / 2);
  rig.controlNames.forEach((name, c) => {
    if (!weights[c]) return;
    for (const v of rig.controls[name].indices) {
      moved[v] = Math.hypot(positions[2 * v] - rest[2 * v], positions[2 * v + 1] - rest[2 * v + 1]) > STILL_PX ? 1 : 0;
    }
  });
  const kept = new triangles.constructor(triangles.length);
  let count = 0;
  const reaches = (a, b, c) => over
    && Math.max(positions[2 * a], positions[2 * b], positions[2 * c]) >= over.x0
    && Math.min(positions[2 * a], positions[2 * b], positions[2 * c]) <= over.x1
    && Math.max(positions[2 * a + 1], positions[2 * b + 1], positions[2 * c + 1]) >= over.y0
    && Math.min(positions[2 * a + 1], positions[2 * b + 1], positions[2 * c + 1]) <= over.y1;
  for (let t = 0; t < triangles.length; t += 3) {
    const [a, b, c] = [triangles[t], triangles[t + 1], triangles[t + 2]];
    if (moved[a] || moved[b] || moved[c] || reaches(a, b, c)) {
      kept[count] = triangles[t];
      kept[count + 1] = triangles[t + 1];
      kept[count + 2] = triangles[t + 2];
      count += 3;
    }
  }
  return kept.subarray(0, count);
}

/**
 * The integer pixel box {x, y, width, height} holding `triangles` (flat indices) at `positions` mapped by
 * `matrix` (2×3), grown by `margin` and clipped to the rig's reach (rig.reach); null when there are none.
 */
export function trianglesBox(rig, triangles, positions, matrix = IDENTITY, margin = 2) {
  if (!triangles.length) return null;
  const [m00, m01, m02, m10, m11, m12] = matrix;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const v of triangles) {
    const x = m00 * positions[2 * v] + m01 * positions[2 * v + 1] + m02;
    const y = m10 * positions[2 * v] + m11 * positions[2 * v + 1] + m12;
    [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  }
  const { reach } = rig;
  const left = Math.max(reach.x, Math.floor(x0 - margin));
  const top = Math.max(reach.y, Math.floor(y0 - margin));
  const right = Math.min(reach.x + reach.width, Math.ceil(x1 + margin));
  const bottom = Math.min(reach.y + reach.height, Math.ceil(y1 + margin));
  return right > left && bottom > top ? { x: left, y: top, width: right - left, height: bottom - top } : null;
}

/** Control weights as a name → weight object, from an array parallel to `rig.controlNames`. */
export function namedWeights(rig, weights) {
  return Object.fromEntries(rig.controlNames.map((name, i) => [name, weights[i]]));
}

/**
 * Deformed positions: rest[v] + Σ_c weight_c · offset_c[v] (docs/rig.md), written into `out` (a Float32Array
 * like rig.rest) and returned. `weights` is parallel to rig.controlNames; zero weights cost nothing.
 */
export function deform(rig, weights, out = new Float32Array(rig.rest.length)) {
  out.set(rig.rest);
  rig.controlNames.forEach((name, c) => {
    const weight = weights[c];
    if (!weight) return;
    const { indices, offsets } = rig.controls[name];
    for (let k = 0; k < indices.length; k += 1) {
      out[2 * indices[k]] += weight * offsets[2 * k];
      out[2 * indices[k] + 1] += weight * offsets[2 * k + 1];
    }
  });
  return out;
}

/** How far one vertex moves at these weights: Σ_c weight_c · offset_c[vertex], as [dx, dy]. */
export function vertexOffset(rig, weights, vertex) {
  let dx = 0;
  let dy = 0;
  rig.controlNames.forEach((name, c) => {
    const { indices, offsets } = rig.controls[name];
    const k = indices.indexOf(vertex);
    if (k >= 0 && weights[c]) {
      dx += weights[c] * offsets[2 * k];
      dy += weights[c] * offsets[2 * k + 1];
    }
  });
  return [dx, dy];
}

/** The inner-lip polygon of deformed `positions` as [[x, y], …] (the ring of the mouth opening). */
export function innerLipPolygon(rig, positions) {
  return Array.from(rig.innerLip, (v) => [positions[2 * v], positions[2 * v + 1]]);
}

/** Area of a simple polygon [[x, y], …] by the shoelace formula (always ≥ 0). */
export function polygonArea(points) {
  let twice = 0;
  for (let i = 0; i < points.length; i += 1) {
    const [x0, y0] = points[i];
    const [x1, y1] = points[(i + 1) % points.length];
    twice += x0 * y1 - x1 * y0;
  }
  return Math.abs(twice) / 2;
}

/**
 * The rig's intended mouth opening in pixels: the inner-lip polygon's area over its width at rest, i.e. the
 * mean gap between the lips. Zero for a closed mouth; what a viewer (or Face Mesh) sees as "how open".
 */
export function mouthOpening(rig, positions) {
  const polygon = innerLipPolygon(rig, positions);
  if (polygon.length < 3) return 0;
  const xs = Array.from(rig.innerLip, (v) => rig.rest[2 * v]);
  const width = Math.max(...xs) - Math.min(...xs);
  return width > 0 ? polygonArea(polygon) / width : 0;
}

/**
 * The lip-edge bands of the inner-lip `polygon` ([[x, y], …]) for the interior's feathered edge: one rectangle
 * (two triangles) per edge, reaching `width` px beyond the edge on every side, as `positions` (x, y per
 * vertex) and `edges` (the edge a.x, a.y, b.x, b.y per vertex, which the fragment measures its distance to).
 */
export function lipEdgeBands(polygon, width) {
  const positions = new Float32Array(polygon.length * 12);
  const edges = new Float32Array(polygon.length * 24);
  polygon.forEach(([ax, ay], i) => {
    const [bx, by] = polygon[(i + 1) % polygon.length];
    const length = Math.hypot(bx - ax, by - ay);
    // Along the edge (u) and across it (n), each `width` long; a zero-length edge gets a square.
    const [ux, uy] = length > 0 ? [((bx - ax) / length) * width, ((by - ay) / length) * width] : [width, 0];
    const corners = [
      [ax - ux + uy, ay - uy - ux], [bx + ux + uy, by + uy - ux],
      [bx + ux - uy, by + uy + ux], [ax - ux - uy, ay - uy + ux],
    ];
    [0, 1, 2, 0, 2, 3].forEach((corner, k) => {
      positions.set(corners[corner], 12 * i + 2 * k);
      edges.set([ax, ay, bx, by], 24 * i + 4 * k);
    });
  });
  return { positions, edges };
}

/** Bounding box {x0, y0, x1, y1} of points [[x, y], …], grown by `margin`. */
export function boundingBox(points, margin = 0) {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return {
    x0: Math.min(...xs) - margin,
    y0: Math.min(...ys) - margin,
    x1: Math.max(...xs) + margin,
    y1: Math.max(...ys) + margin,
  };
}

/**
 * The similarity transform (scale, rotation, translation) that takes the two reference points `a0`, `b0` onto
 * `a1`, `b1`, as a 2×3 matrix [m00, m01, m02, m10, m11, m12] (x' = m00·x + m01·y + m02, y' = m10·x + m11·y + m12).
 * The player maps the rig, made on the still base face, onto an idle-video frame with the tracked eye and
 * mouth anchors this way.
 */
export function similarityFromPairs(a0, b0, a1, b1) {
  const u0 = [b0[0] - a0[0], b0[1] - a0[1]];
  const u1 = [b1[0] - a1[0], b1[1] - a1[1]];
  const norm = u0[0] * u0[0] + u0[1] * u0[1];
  if (norm === 0) return [1, 0, a1[0] - a0[0], 0, 1, a1[1] - a0[1]];
  // As complex numbers: z ↦ c·z + t with c = u1 / u0.
  const cr = (u1[0] * u0[0] + u1[1] * u0[1]) / norm;
  const ci = (u1[1] * u0[0] - u1[0] * u0[1]) / norm;
  return [cr, -ci, a1[0] - (cr * a0[0] - ci * a0[1]), ci, cr, a1[1] - (ci * a0[0] + cr * a0[1])];
}

export const IDENTITY = [1, 0, 0, 0, 1, 0];

/** Apply a 2×3 matrix to every [x, y] pair of a flat array, into `out`. */
export function transformPoints(matrix, points, out = new Float32Array(points.length)) {
  const [m00, m01, m02, m10, m11, m12] = matrix;
  for (let i = 0; i < points.length; i += 2) {
    const x = points[i];
    const y = points[i + 1];
    out[i] = m00 * x + m01 * y + m02;
    out[i + 1] = m10 * x + m11 * y + m12;
  }
  return out;
}

/**
 * Head micro-motion ({dy, tilt, scale} from timeline.microMotionAt) as a 2×3 matrix about the same pivot the
 * Canvas compositor uses (the neck: centre, 82 % down), so both renderers move a face alike.
 */
export function headMotionMatrix(motion, width, height) {
  if (!motion) return IDENTITY;
  const px = width / 2;
  const py = height * 0.82;
  const c = Math.cos(motion.tilt) * motion.scale;
  const s = Math.sin(motion.tilt) * motion.scale;
  // translate(px, py + dy) · rotate(tilt) · scale · translate(−px, −py)
  return [c, -s, px - c * px + s * py, s, c, py + motion.dy - s * px - c * py];
}

/**
 * How far apart two 2×3 matrices put any point of a width×height picture: the largest distance at its corners
 * (the difference of two affine maps is affine, so its length is largest at a corner of the box).
 */
export function affineShift(a, b, width, height) {
  let shift = 0;
  for (const [x, y] of [[0, 0], [width, 0], [0, height], [width, height]]) {
    const dx = (a[0] - b[0]) * x + (a[1] - b[1]) * y + a[2] - b[2];
    const dy = (a[3] - b[3]) * x + (a[4] - b[4]) * y + a[5] - b[5];
    shift = Math.max(shift, Math.hypot(dx, dy));
  }
  return shift;
}

/** a∘b: the 2×3 matrix that applies b, then a. */
export function composeAffine(a, b) {
  return [
    a[0] * b[0] + a[1] * b[3],
    a[0] * b[1] + a[1] * b[4],
    a[0] * b[2] + a[1] * b[5] + a[2],
    a[3] * b[0] + a[4] * b[3],
    a[3] * b[1] + a[4] * b[4],
    a[3] * b[2] + a[4] * b[5] + a[5],
  ];
}

// An opening smaller than this (the lips closed at rest, or a sliver) is none: no interior is drawn behind
// it (the same 0.5 px² below which pack validate ignores slivers, docs/rig.md).
export const MIN_OPENING_PX2 = 0.5;

/**
 * The mouth opening of deformed `positions` for the interior pass: the inner-lip polygon, its bounding box
 * (grown by 2 px so the anti-aliased lip edge has interior behind it), centre and half size, and how far the
 * lower teeth and tongue move (the jaw vertex's offset at these weights). With no opening (under
 * MIN_OPENING_PX2) the polygon is empty and the box null.
 */
export function mouthGeometry(rig, positions, weights) {
  const polygon = innerLipPolygon(rig, positions);
  if (polygon.length < 3 || polygonArea(polygon) < MIN_OPENING_PX2) {
    return { polygon: [], box: null, centre: [0, 0], half: [0, 0], lowerTeethShift: [0, 0] };
  }
  const box = boundingBox(polygon, 2);
  const jaw = rig.interior?.jaw_vertex;
  return {
    polygon,
    box,
    centre: [(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2],
    half: [(box.x1 - box.x0) / 2, (box.y1 - box.y0) / 2],
    lowerTeethShift: jaw === undefined ? [0, 0] : vertexOffset(rig, weights, jaw),
  };
}
