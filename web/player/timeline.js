// Pure functions from a render's timelines (mouth cues, eye events) and a pack's anchor timeline to what
// the compositor draws at one instant. No DOM, no clocks: the player passes the time in.

// Mouth cues are step keys (a cue holds until the next one). Drawing them as steps snaps the mouth, so each
// cue's shape fades in over ATTACK_MS and out over RELEASE_MS after the next cue starts. The mouth "pops"
// open fast and closes slower, as Rhubarb Lip Sync's tweens do (docs/sources.md "Mouth animation").
export const ATTACK_MS = 55;
export const RELEASE_MS = 95;

// Blink shape (docs/sources.md "Human eye behaviour"): ~100 ms closing, a hold, a slightly slower opening.
const BLINK_CLOSE_MS = 100;
const BLINK_OPEN_MS = 130;

const GAZE_DIRECTIONS = {
  center: [0, 0],
  left: [-1, 0],
  right: [1, 0],
  up: [0, -1],
  down: [0, 1],
  "up-left": [-Math.SQRT1_2, -Math.SQRT1_2],
  "up-right": [Math.SQRT1_2, -Math.SQRT1_2],
  "down-left": [-Math.SQRT1_2, Math.SQRT1_2],
  "down-right": [Math.SQRT1_2, Math.SQRT1_2],
};

export const easeOutCubic = (x) => 1 - (1 - x) ** 3;
export const easeInOutSine = (x) => -(Math.cos(Math.PI * x) - 1) / 2;
const clamp01 = (x) => Math.min(1, Math.max(0, x));

/** Index of the last item whose `t_ms` is ≤ tMs, or -1 (items sorted by t_ms). */
export function lastIndexAtOrBefore(items, tMs) {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].t_ms <= tMs) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/**
 * How much of each sprite frame the mouth shows at tMs: an array parallel to `visemes`, summing to 1.
 * Each non-REST cue contributes weight × attack envelope × release envelope; REST takes what is left.
 * When cross-fading shapes overlap to more than 1, they are scaled down so the sum stays 1.
 */
export function mouthWeightsAt(cues, tMs, visemes) {
  const weights = new Array(visemes.length).fill(0);
  const restIndex = Math.max(0, visemes.indexOf("REST"));
  let total = 0;
  for (let i = lastIndexAtOrBefore(cues, tMs); i >= 0; i -= 1) {
    const cue = cues[i];
    const end = i + 1 < cues.length ? cues[i + 1].t_ms : Infinity;
    if (end + RELEASE_MS <= tMs) break; // cues are ≥ 50 ms long, so earlier ones have faded out too
    const index = visemes.indexOf(cue.viseme);
    if (cue.viseme === "REST" || index < 0) continue;
    const attack = easeOutCubic(clamp01((tMs - cue.t_ms) / ATTACK_MS));
    const release = tMs <= end ? 1 : 1 - easeInOutSine(clamp01((tMs - end) / RELEASE_MS));
    const amount = clamp01(cue.weight) * attack * release;
    weights[index] += amount;
    total += amount;
  }
  if (total > 1) {
    for (let i = 0; i < weights.length; i += 1) weights[i] /= total;
    total = 1;
  }
  weights[restIndex] += 1 - total;
  return weights;
}

/** Lid closure 0 (open) … 1 (closed) of one blink `elapsed` ms after it started. */
export function blinkClosure(event, elapsed) {
  const duration = Math.max(1, event.duration_ms);
  if (elapsed < 0 || elapsed >= duration) return 0;
  // Short blinks shrink both ramps in proportion, keeping a closing phase faster than the opening.
  const scale = Math.min(1, duration / (BLINK_CLOSE_MS + BLINK_OPEN_MS));
  const close = BLINK_CLOSE_MS * scale;
  const open = BLINK_OPEN_MS * scale;
  let closure;
  if (elapsed < close) closure = easeInOutSine(elapsed / close);
  else if (elapsed > duration - open) closure = easeInOutSine((duration - elapsed) / open);
  else closure = 1;
  return closure * clamp01(event.amplitude ?? 1);
}

/** Eye-frame weights for a lid closure: open → half → closed, cross-faded in two halves. */
export function eyeWeightsForClosure(closure) {
  const c = clamp01(closure);
  if (c <= 0.5) return { open: 1 - c / 0.5, half: c / 0.5, closed: 0 };
  return { open: 0, half: 1 - (c - 0.5) / 0.5, closed: (c - 0.5) / 0.5 };
}

/**
 * Eye state at tMs from a list of eye events (blinks and saccades, sorted by t_ms):
 * `closure` 0..1 and `gaze` [x, y] in units of the pack's saccade_px (−1..1 on each axis).
 */
export function eyeStateAt(events, tMs) {
  let closure = 0;
  let gaze = [0, 0];
  let from = [0, 0];
  const last = lastIndexAtOrBefore(events, tMs);
  for (let i = 0; i <= last; i += 1) {
    const event = events[i];
    const elapsed = tMs - event.t_ms;
    if (event.event_type === "blink") {
      closure = Math.max(closure, blinkClosure(event, elapsed));
    } else if (event.event_type === "saccade") {
      const unit = GAZE_DIRECTIONS[event.direction ?? "center"] ?? GAZE_DIRECTIONS.center;
      const amplitude = event.direction === "center" ? 0 : clamp01(event.amplitude ?? 1);
      const target = [unit[0] * amplitude, unit[1] * amplitude];
      const progress = easeInOutSine(clamp01(elapsed / Math.max(1, event.duration_ms)));
      from = gaze;
      gaze = [from[0] + (target[0] - from[0]) * progress, from[1] + (target[1] - from[1]) * progress];
    }
  }
  return { closure, gaze };
}

/** Seconds until the next idle blink, uniform in the pack's interval (default 3–6 s). */
export function nextIdleBlinkDelay(interval, random = Math.random) {
  const [low, high] = interval ?? [3, 6];
  return low + (high - low) * random();
}

/**
 * The anchor-timeline frame at `timeSec` of the (looping) idle video, linearly interpolated between the two
 * nearest tracked frames; past the last frame it blends into frame 0, as the loop does.
 */
export function anchorFrameAt(timeline, timeSec) {
  const count = timeline.frames.length;
  const position = (((timeSec * timeline.fps) % count) + count) % count;
  const index = Math.floor(position);
  const mix = position - index;
  const a = timeline.frames[index];
  const b = timeline.frames[(index + 1) % count];
  const lerp = (x, y) => x + (y - x) * mix;
  return {
    mouth: [lerp(a.mouth[0], b.mouth[0]), lerp(a.mouth[1], b.mouth[1])],
    eyes: [lerp(a.eyes[0], b.eyes[0]), lerp(a.eyes[1], b.eyes[1])],
    face_size: lerp(a.face_size, b.face_size),
    roll_deg: lerp(a.roll_deg, b.roll_deg),
  };
}

/**
 * Where a layer goes in this frame: its calibrated anchor moved by the tracked offset from the reference
 * pose, its size scaled with the face, rotated with the head. `part` is "mouth" or "eyes".
 */
export function placeLayer(anchor, size, part, frame, reference) {
  if (!frame) return { x: anchor.x, y: anchor.y, width: size.width, height: size.height, rotation: 0 };
  const scale = frame.face_size / reference.face_size;
  return {
    x: anchor.x + (frame[part][0] - reference[part][0]),
    y: anchor.y + (frame[part][1] - reference[part][1]),
    width: size.width * scale,
    height: size.height * scale,
    rotation: (frame.roll_deg * Math.PI) / 180,
  };
}

// Incommensurate periods so the idle motion never visibly repeats; a breath every ~4 s (15/min at rest).
const BOB_PERIOD_S = 3.7;
const TILT_PERIOD_S = 6.3;
const BREATH_PERIOD_S = 4.1;

/** Whole-head micro-motion at `timeSec`: vertical bob (px), tilt (radians) and breathing scale factor. */
export function microMotionAt(motion, timeSec) {
  if (!motion) return { dy: 0, tilt: 0, scale: 1 };
  const phase = (period) => Math.sin((2 * Math.PI * timeSec) / period);
  return {
    dy: motion.head_bob_px * phase(BOB_PERIOD_S),
    tilt: ((motion.tilt_deg * Math.PI) / 180) * Math.sin((2 * Math.PI * timeSec) / TILT_PERIOD_S + 1.3),
    scale: 1 + motion.breathing_scale * (0.5 + 0.5 * phase(BREATH_PERIOD_S)),
  };
}
