// AvatarPlayer: loads an avatar pack, plays render results from the avatar service and animates the face
// in sync. Import it from any page:
//
//   import { AvatarPlayer } from "/player/avatar-player.js";
//   const player = new AvatarPlayer(document.querySelector("canvas"), { apiBase: "https://avatar.example" });
//   await player.loadPack("https://avatar.example/avatars/grace_hopper_v1/manifest.json");
//   await player.say("Hello there!", { voiceId: "en_US-joe-medium", speed: 1.0 });
//
// The mouth and eyes follow the audio clock (audio.currentTime), not wall time, so a dropped or late frame
// never puts the face out of sync with the sound.

import { Compositor, maskToAlpha } from "./compositor.js";
import { IDENTITY, prepareRig, similarityFromPairs } from "./rig.js";
import { RigRenderer } from "./rig-renderer.js";
import { RigView } from "./rig-view.js";
import { AvatarStream } from "./stream.js";
import {
  ATTACK_MS,
  RELEASE_MS,
  anchorFrameAt,
  easeInOutSine,
  eyeStateAt,
  eyeWeightsForClosure,
  microMotionAt,
  mouthWeightsAt,
  nextIdleBlinkDelay,
  placeLayer,
} from "./timeline.js";
import { SETTLE_MS, controlWeightsAt } from "./trajectory.js";

// Browsers advance audio.currentTime in coarse steps (Chromium ~every 10–30 ms, Firefox coarser); between
// steps the clock is extrapolated by wall time, but never by more than this, so a stalled stream stalls the face.
const MAX_CLOCK_EXTRAPOLATION_MS = 120;
// Many spontaneous blinks are partial (docs/sources.md "Human eye behaviour"); idle blinks last 150–300 ms.
const IDLE_BLINK_MS = [150, 300];
// A gaze shift of a few degrees takes ~50–150 ms (docs/sources.md "Human eye behaviour": 20–200 ms saccades).
const GAZE_RETURN_MS = 150;
// The animation loop draws each rig frame one display frame ahead (animationFrame). A frame drawn ahead is
// shown only when it was made for this frame's time and speech time to within this: a quarter of a 60 Hz
// frame, below the audio clock's own steps and far below what viewers notice (ITU-R BT.1359: sound leading
// the picture by > 45 ms). Otherwise the frame is drawn as renderFrame() draws it.
const AHEAD_TOLERANCE_MS = 4;
// Frame intervals to draw ahead for: a display's (240 Hz … 20 Hz); longer gaps are a hidden tab or a stall.
const AHEAD_INTERVAL_MS = [4, 50];

/** An error from the avatar service's HTTP API, carrying its status and message. */
export class AvatarApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = "AvatarApiError";
    this.status = status;
    this.body = body;
  }
}

/** The readable message of an API error body (FastAPI's `detail` string or list, or `error`/`message`). */
export function apiErrorMessage(status, body) {
  const detail = body?.detail ?? body?.error ?? body?.message;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail
      .map((item) => {
        const field = (item.loc ?? []).filter((part) => part !== "body").join(".");
        return field ? `${field}: ${item.msg}` : item.msg;
      })
      .join("; ");
  }
  if (detail && typeof detail === "object" && typeof detail.message === "string") return detail.message;
  return `request failed with HTTP ${status}`;
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.crossOrigin = "anonymous"; // masks are read back with getImageData, which needs CORS off-origin
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`could not load image ${url}`));
    image.src = url;
  });
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load ${url}: HTTP ${response.status}`);
  return response.json();
}

function checkSize(what, image, width, height) {
  const w = image.naturalWidth ?? image.width;
  const h = image.naturalHeight ?? image.height;
  if (w !== width || h !== height) throw new Error(`${what} is ${w}×${h}, the manifest says ${width}×${height}`);
}

/** Why a pack is drawn by the Canvas 2D compositor rather than its rig (for the console). */
function fallbackReason(manifest, rig, forced) {
  if (!rig) return `pack ${manifest.id} is format ${manifest.format_version} without a face rig`;
  if (forced === "canvas") return `pack ${manifest.id}: the Canvas renderer was asked for`;
  return "WebGL2 is not available in this browser, so the face rig cannot be drawn";
}

/** The mouth sprites, eye images and masks the Canvas 2D compositor draws (format 1; optional in format 2). */
async function loadCompositorAssets(manifest, asset, base) {
  const { mouth, eyes } = manifest;
  if (!mouth.sprites || !eyes.open) throw new Error(`pack ${manifest.id} has no mouth sprites to draw without WebGL2`);
  const [sprites, mouthMask, open, half, closed, eyesMask] = await Promise.all(
    [mouth.sprites, mouth.mask, eyes.open, eyes.half, eyes.closed, eyes.mask].map((name) => loadImage(asset(name))),
  );
  checkSize("mouth.sprites", sprites, mouth.frame.width * mouth.visemes.length, mouth.frame.height);
  for (const [name, image] of [["eyes.open", open], ["eyes.half", half], ["eyes.closed", closed]]) {
    checkSize(name, image, eyes.frame.width, eyes.frame.height);
  }
  return {
    manifest,
    base,
    mouthSprites: sprites,
    mouthMask: maskToAlpha(mouthMask, mouth.frame.width, mouth.frame.height),
    eyes: { open, half, closed },
    eyesMask: maskToAlpha(eyesMask, eyes.frame.width, eyes.frame.height),
  };
}

function withDefaults(manifest) {
  const mouth = { ...manifest.mouth, size: manifest.mouth.size ?? manifest.mouth.frame };
  const eyes = { saccade_px: 3, ...manifest.eyes, size: manifest.eyes.size ?? manifest.eyes.frame };
  // A manifest without format_version is format 1 (docs/packs.md).
  return { ...manifest, format_version: manifest.format_version ?? 1, mouth, eyes };
}

export class AvatarPlayer extends EventTarget {
  /**
   * @param {HTMLCanvasElement} canvas where the avatar is drawn (resized to the pack's canvas)
   * @param {object} [options]
   * @param {string} [options.apiBase] base URL of the avatar service ("" = this page's origin)
   * @param {boolean} [options.motion] head bob, tilt and breathing (default: on unless the user prefers
   *   reduced motion)
   * @param {boolean} [options.idleBlinks] blink every few seconds while not speaking (default true)
   * @param {boolean} [options.idleVideo] play the pack's idle loop where it has one (default true; false
   *   draws the still base face)
   * @param {string} [options.renderer] "canvas" draws format-2 packs with the Canvas 2D compositor too
   *   (default: their face rig with WebGL2 where the browser has it)
   */
  constructor(canvas, options = {}) {
    super();
    this.canvas = canvas;
    this.options = options;
    this.apiBase = options.apiBase ?? "";
    const reduced = globalThis.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
    this.motionEnabled = options.motion ?? !reduced;
    this.idleBlinks = options.idleBlinks ?? true;
    this.overlay = false;
    this.selection = null;
    this.pack = null;
    this.compositor = null;
    this.rig = null;
    this.audio = new Audio();
    this.audio.preload = "auto";
    this.speech = null;
    this.idleEvents = [];
    this.nextIdleBlinkAt = null;
    this.lastGaze = [0, 0];
    this.gazeReturn = { from: [0, 0], startMs: 0 };
    this.clock = { audioMs: -1, wallMs: 0 };
    this.startedAt = performance.now();
    this.frameRequest = null;
    this.lastTick = null;
    this.tick = (now) => {
      this.frameRequest = requestAnimationFrame(this.tick);
      this.animationFrame(now);
    };
  }

  /**
   * Load a pack from its manifest URL (asset paths resolve relative to it); starts drawing. A format-2 pack's
   * face rig is drawn with WebGL2; format-1 packs, and format-2 packs where WebGL2 is missing, are drawn by the
   * Canvas 2D compositor from the mouth sprites and eye images (the console says which and why).
   */
  async loadPack(manifestUrl) {
    const url = new URL(manifestUrl, document.baseURI).href;
    const manifest = withDefaults(await fetchJson(url));
    if (![1, 2].includes(manifest.format_version)) {
      throw new Error(`unsupported pack format_version ${manifest.format_version}`);
    }
    const asset = (name) => new URL(name, url).href;
    const [base, timeline, rigJson] = await Promise.all([
      loadImage(asset(manifest.base_face)),
      manifest.anchor_timeline ? fetchJson(asset(manifest.anchor_timeline)) : null,
      manifest.format_version === 2 && manifest.rig ? fetchJson(asset(manifest.rig)) : null,
    ]);
    checkSize("base_face", base, manifest.canvas.width, manifest.canvas.height);
    const rig = rigJson ? prepareRig(rigJson) : null;
    const renderer = this.options.renderer === "canvas" || !rig ? null : RigRenderer.create(rig, base);
    if (!renderer) console.info(`AvatarPlayer: ${fallbackReason(manifest, rig, this.options.renderer)}; drawing with the Canvas 2D compositor`);
    const compositorAssets = renderer ? null : await loadCompositorAssets(manifest, asset, base);
    const video = manifest.idle_video && this.options.idleVideo !== false ? this.startIdleVideo(asset(manifest.idle_video)) : null;

    this.stop();
    this.pack?.video?.pause();
    const { mouth, eyes } = manifest;
    this.pack = {
      url,
      manifest,
      timeline,
      video,
      // Layout = where the layers go; calibration edits these, the manifest keeps the originals.
      layout: {
        mouth: { anchor: { ...mouth.anchor }, size: { ...mouth.size } },
        eyes: { anchor: { ...eyes.anchor }, size: { ...eyes.size } },
      },
      // The idle video already moves the head; synthetic motion on top of it would double it.
      motion: manifest.motion ?? (video ? null : { head_bob_px: 2.5, tilt_deg: 0.6, breathing_scale: 0.004 }),
    };
    this.canvas.width = manifest.canvas.width;
    this.canvas.height = manifest.canvas.height;
    this.compositor = compositorAssets ? new Compositor(this.canvas, { ...compositorAssets, video }) : null;
    this.rig = renderer ? new RigView(this.canvas, rig, renderer, base, video) : null;
    this.idleEvents = [];
    this.nextIdleBlinkAt = null;
    this.renderFrame();
    if (this.frameRequest === null) this.frameRequest = requestAnimationFrame(this.tick);
    this.dispatchEvent(new CustomEvent("packloaded", { detail: { id: manifest.id, manifest } }));
    return manifest;
  }

  /** Which renderer draws the loaded pack: "webgl2-rig" or "canvas2d" (null before a pack is loaded). */
  get rendererName() {
    if (this.rig) return "webgl2-rig";
    return this.compositor ? "canvas2d" : null;
  }

  startIdleVideo(src) {
    const video = document.createElement("video");
    video.muted = true; // muted videos may autoplay; the voice comes from the audio element
    video.loop = true;
    video.playsInline = true;
    video.crossOrigin = "anonymous";
    video.src = src;
    // The still base face is drawn until the video has a frame, so a failed video just means no idle loop.
    video.play().catch(() => {});
    return video;
  }

  /** Where the mouth and eye layers sit (centre + drawn size, base-face pixels). */
  getLayout(part) {
    const { anchor, size } = this.pack.layout[part];
    return { anchor: { ...anchor }, size: { ...size } };
  }

  setLayout(part, { anchor, size }) {
    const layout = this.pack.layout[part];
    if (anchor) layout.anchor = { x: anchor.x, y: anchor.y };
    if (size) layout.size = { width: Math.max(4, size.width), height: Math.max(4, size.height) };
    this.dispatchEvent(new CustomEvent("layoutchange", { detail: { part, ...this.getLayout(part) } }));
  }

  /** Ask the service for a render (POST /v1/avatar/render) without playing it. Throws AvatarApiError. */
  async render(text, { voiceId = null, speed = 1.0 } = {}) {
    const response = await fetch(new URL("v1/avatar/render", this.apiBaseUrl()), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, voice_id: voiceId || null, speed }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new AvatarApiError(response.status, apiErrorMessage(response.status, body), body);
    return body;
  }

  /** Render `text` and speak it; resolves with the render result when the speech has finished. */
  async say(text, options = {}) {
    const result = await this.render(text, options);
    await this.speak(result);
    return result;
  }

  /**
   * Play a render result (`audio_url`, `mouth_cues`, `eye_events`) and animate it. Resolves when the audio
   * has ended (or is stopped); rejects if the audio cannot be played.
   */
  async speak(result) {
    if (!this.pack) throw new Error("load a pack first (player.loadPack)");
    this.stop();
    const audio = this.audio;
    audio.src = new URL(result.audio_url, this.apiBaseUrl()).href;
    const speech = {
      cues: result.mouth_cues ?? [],
      events: result.eye_events ?? [],
      endedAt: null,
      endMs: 0,
      finish: null,
    };
    const done = new Promise((resolve, reject) => {
      const finish = (error) => {
        if (speech.endedAt !== null) return;
        audio.removeEventListener("ended", onEnded);
        audio.removeEventListener("error", onError);
        // The last shape releases smoothly from where the audio stopped.
        speech.endMs = this.audioClockMs();
        // Cues past where the audio stopped were never heard: the rig's mouth goes to rest from here.
        speech.cues = [...speech.cues.filter((cue) => cue.t_ms < speech.endMs), { t_ms: speech.endMs, viseme: "REST", weight: 0 }];
        speech.endedAt = performance.now();
        this.dispatchEvent(new CustomEvent("speechend", { detail: { result, error } }));
        if (error) reject(error);
        else resolve(result);
      };
      const onEnded = () => finish(null);
      const onError = () => finish(new Error(`could not play audio ${audio.src}`));
      audio.addEventListener("ended", onEnded);
      audio.addEventListener("error", onError);
      speech.finish = finish;
    });
    this.speech = speech;
    this.clock = { audioMs: -1, wallMs: 0 };
    try {
      await audio.play();
      this.dispatchEvent(new CustomEvent("speechstart", { detail: { result } }));
    } catch (error) {
      speech.finish(error);
    }
    return done;
  }

  /**
   * Speak text while it is being written (WebSocket stream, see stream.js): returns an AvatarStream with
   * `write(text)`, `end()`, `interrupt()` and `finished`; the face follows the stream's audio clock.
   */
  stream({ voiceId = null, speed = 1.0 } = {}) {
    if (!this.pack) throw new Error("load a pack first (player.loadPack)");
    return new AvatarStream(this, { voiceId, speed });
  }

  /** Stop speaking at once (the mouth still relaxes smoothly). */
  stop() {
    if (this.speech && this.speech.endedAt === null) {
      this.audio.pause();
      this.speech.finish(null);
    }
  }

  get speaking() {
    return this.speech !== null && this.speech.endedAt === null;
  }

  /** Blink now (also used by the idle behaviour): duration in ms, amplitude 0..1 (1 = fully closed). */
  blink({ durationMs = 220, amplitude = 1 } = {}) {
    this.idleEvents.push({ t_ms: this.idleMs(), event_type: "blink", duration_ms: durationMs, amplitude });
  }

  toggleOverlay(on = !this.overlay) {
    this.overlay = on;
    return on;
  }

  /** The service's base URL, ending in "/" so API paths resolve under it (it may sit below a path prefix). */
  apiBaseUrl() {
    const base = new URL(this.apiBase || "/", document.baseURI).href;
    return base.endsWith("/") ? base : `${base}/`;
  }

  idleMs(now = performance.now()) {
    return now - this.startedAt;
  }

  /** Milliseconds into the current speech, from the audio element's clock. */
  audioClockMs(now = performance.now()) {
    const audioMs = this.audio.currentTime * 1000;
    if (audioMs !== this.clock.audioMs) {
      this.clock = { audioMs, wallMs: now };
      return audioMs;
    }
    if (this.audio.paused) return audioMs;
    return audioMs + Math.min(now - this.clock.wallMs, MAX_CLOCK_EXTRAPOLATION_MS);
  }

  /** Where the speech timeline is at `now`, or null when not speaking (including the release tail). */
  speechTimeMs(now) {
    const speech = this.speech;
    if (!speech) return null;
    // A stream's speech brings its own clock (its AudioContext's); a render's plays on the <audio> element.
    if (speech.endedAt === null) return speech.clockMs ? speech.clockMs(now) : this.audioClockMs(now);
    const sinceEnd = now - speech.endedAt;
    // The rig's springs need SETTLE_MS to come to rest; the sprite cross-fade is done after its release.
    if (sinceEnd > (this.rig ? SETTLE_MS : ATTACK_MS + RELEASE_MS)) {
      this.speech = null;
      this.gazeReturn = { from: this.lastGaze, startMs: this.idleMs(now) };
      return null;
    }
    return speech.endMs + sinceEnd;
  }

  /** After speech the eyes glide back to the listener from wherever the last saccade left them. */
  returningGaze(idleMs) {
    const { from, startMs } = this.gazeReturn;
    const left = 1 - easeInOutSine(Math.min(1, (idleMs - startMs) / GAZE_RETURN_MS));
    return [from[0] * left, from[1] * left];
  }

  scheduleIdleBlinks(now) {
    const idleMs = this.idleMs(now);
    const interval = this.pack.manifest.motion?.idle_blink_interval_s;
    if (this.nextIdleBlinkAt === null) this.nextIdleBlinkAt = idleMs + nextIdleBlinkDelay(interval) * 1000;
    if (idleMs < this.nextIdleBlinkAt) return;
    const [shortest, longest] = IDLE_BLINK_MS;
    this.blink({
      durationMs: shortest + Math.random() * (longest - shortest),
      amplitude: Math.random() < 0.5 ? 1 : 0.55 + Math.random() * 0.35,
    });
    this.nextIdleBlinkAt = idleMs + nextIdleBlinkDelay(interval) * 1000;
  }

  /**
   * Compute and draw the frame for time `now` (performance.now() milliseconds). The mouth and the speech's eye
   * events follow the audio clock, so a test can pause the audio, set `audio.currentTime` and call this to
   * draw any instant of a speech. It always draws that instant itself, never a frame the animation loop drew
   * ahead (animationFrame).
   */
  renderFrame(now = performance.now()) {
    this.drawFrame(now, false);
  }

  /**
   * One frame of the player's own requestAnimationFrame loop (benchmarks call it to time what users run).
   * It draws the frame for `now` and, with the face rig, starts the next display frame's, so that its GL work
   * (SwiftShader's threads, or the GPU) runs between frames instead of stalling this one: the next call shows
   * it if it still fits (docs/rig-player.md "Drawing one frame ahead").
   */
  animationFrame(now) {
    const interval = this.lastTick === null ? null : now - this.lastTick;
    this.lastTick = now;
    const scene = this.drawFrame(now, true);
    if (scene && this.rig && interval >= AHEAD_INTERVAL_MS[0] && interval <= AHEAD_INTERVAL_MS[1]) {
      this.drawAhead(now + interval, scene);
    }
  }

  /**
   * Advance the player's state to `now`, then draw its scene (`useAhead`: show the rig frame the last
   * animation frame drew ahead, if it fits).
   */
  drawFrame(now, useAhead) {
    if (!this.compositor && !this.rig) return null;
    const speechMs = this.speechTimeMs(now);
    // Idle blinks pause while speaking: the render's own eye events take over (blinks at phrase ends).
    if (speechMs === null && this.idleBlinks) this.scheduleIdleBlinks(now);
    const idleMs = this.idleMs(now);
    this.idleEvents = this.idleEvents.filter((event) => idleMs - event.t_ms < event.duration_ms + 1000);
    const scene = this.sceneAt(now, speechMs);
    this.lastGaze = scene.gaze;
    this.lastFrame = scene.frame;
    if (!this.rig) {
      this.compositor.render(scene.frame);
      return scene;
    }
    const shown = useAhead ? this.rig.showAhead(scene.follow, scene.frame, (key) => this.aheadFits(key, scene)) : null;
    // Shown: lastFrame is the frame it was drawn for, with what it drew.
    if (shown) this.lastFrame = { ...shown.key.frame, ...shown.drew };
    else this.drawRig(scene.weights, scene.follow);
    return scene;
  }

  /**
   * What the frame at `now` shows with the speech at `speechMs` (null: silent), from the player's state as it
   * is; changes nothing. `aheadMs`: how far `now` lies beyond the present (the idle video plays on meanwhile).
   */
  sceneAt(now, speechMs, aheadMs = 0) {
    const { manifest, layout, timeline, video } = this.pack;
    const idleMs = this.idleMs(now);
    const cues = speechMs === null ? [] : this.speech.cues;
    const mouthWeights = mouthWeightsAt(cues, speechMs ?? 0, manifest.mouth.visemes);
    const idleEyes = eyeStateAt(this.idleEvents, idleMs);
    const speechEyes = speechMs === null ? null : eyeStateAt(this.speech.events, speechMs);
    const closure = Math.max(idleEyes.closure, speechEyes?.closure ?? 0);
    const gaze = speechEyes ? speechEyes.gaze : this.returningGaze(idleMs);
    const saccadePx = manifest.eyes.saccade_px;

    // The tracked anchors describe the video's frames: follow them only while the video is what is drawn.
    const videoLeadS = video && !video.paused ? aheadMs / 1000 * video.playbackRate : 0;
    const trackedFrame = timeline && video?.readyState >= 2 ? anchorFrameAt(timeline, video.currentTime + videoLeadS) : null;
    const reference = timeline?.reference;
    const frame = {
      mouthWeights,
      eyeWeights: eyeWeightsForClosure(closure),
      gazeShift: [gaze[0] * saccadePx, gaze[1] * saccadePx],
      mouth: placeLayer(layout.mouth.anchor, layout.mouth.size, "mouth", trackedFrame, reference),
      eyes: placeLayer(layout.eyes.anchor, layout.eyes.size, "eyes", trackedFrame, reference),
      motion: this.motionEnabled && this.pack.motion ? microMotionAt(this.pack.motion, idleMs / 1000) : null,
      overlay: this.overlay,
      selection: this.selection,
    };
    if (!this.rig) return { now, speechMs, gaze, frame };
    const weights = this.rigWeights(cues, speechMs ?? 0, closure, gaze);
    // On the idle video the rig follows the tracked face (eye and mouth anchors) frame by frame.
    let follow = null;
    if (trackedFrame) follow = similarityFromPairs(reference.eyes, reference.mouth, trackedFrame.eyes, trackedFrame.mouth);
    else if (video?.readyState >= 2) follow = IDENTITY;
    return { now, speechMs, gaze, frame, weights, follow };
  }

  /** The rig's control weights (parallel to its controlNames): mouth trajectories, lids and gaze. */
  rigWeights(cues, speechMs, closure, gaze) {
    const { rig } = this.rig;
    const weights = controlWeightsAt(cues, speechMs, rig.visemes, rig.controlNames);
    const eyes = { blink_left: closure, blink_right: closure, gaze_x: gaze[0], gaze_y: gaze[1] };
    rig.controlNames.forEach((name, i) => {
      if (name in eyes) weights[i] = eyes[name];
    });
    return weights;
  }

  /**
   * Draw the rig at `weights` (parallel to the rig's controlNames) onto the visible canvas. `follow` maps the
   * rig (made on the still base face) onto the idle video's current frame (a 2×3 matrix), or is null to draw
   * the still face.
   * Also usable directly, e.g. to show a pose: player.drawRig(weights).
   */
  drawRig(weights, follow = null) {
    this.lastFrame = { ...this.lastFrame, ...this.rig.draw(weights, follow, this.lastFrame) };
  }

  /**
   * Start drawing the rig frame for `at` (the next display frame) from this frame's `scene`; the next
   * animationFrame() shows it if it still fits (aheadFits, RigView.showAhead). Not for a frame that will
   * bring a new idle-video frame: that frame draws the picture first, then the rig.
   */
  drawAhead(at, scene) {
    const { speech } = this;
    if (scene.frame.overlay || scene.frame.selection) return;
    // The speech time the next frame will have: the clock runs on from this frame's (a paused <audio> stays).
    let speechMs = null;
    if (speech && speech.endedAt !== null) {
      if (at - speech.endedAt > SETTLE_MS) return; // the speech is over by then and the eyes turn back
      speechMs = speech.endMs + (at - speech.endedAt);
    } else if (speech) {
      speechMs = !speech.clockMs && this.audio.paused ? scene.speechMs : scene.speechMs + (at - scene.now);
    }
    if (scene.follow && this.rig.videoFrameDue(at)) return;
    const next = this.sceneAt(at, speechMs, at - scene.now);
    const key = { at, speechMs, speech, idleEvent: this.idleEvents.at(-1), frame: next.frame };
    this.rig.drawAhead(next.weights, next.follow, next.frame, key);
  }

  /**
   * Whether the rig frame drawn ahead for `key` is this `scene`'s: drawn for its time and speech time (to
   * within AHEAD_TOLERANCE_MS), for the same speech and idle blinks, and without the overlay or a selection.
   */
  aheadFits(key, scene) {
    const near = (a, b) => Math.abs(a - b) <= AHEAD_TOLERANCE_MS;
    const sameSpeech = key.speechMs === null ? scene.speechMs === null
      : scene.speechMs !== null && near(key.speechMs, scene.speechMs);
    return near(key.at, scene.now) && sameSpeech && key.speech === this.speech
      && key.idleEvent === this.idleEvents.at(-1) && !scene.frame.overlay && !scene.frame.selection;
  }

  /** Stop drawing and release the media elements. */
  destroy() {
    this.stop();
    if (this.frameRequest !== null) cancelAnimationFrame(this.frameRequest);
    this.frameRequest = null;
    this.pack?.video?.pause();
    this.audio.removeAttribute("src");
  }
}
