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

// Browsers advance audio.currentTime in coarse steps (Chromium ~every 10–30 ms, Firefox coarser); between
// steps the clock is extrapolated by wall time, but never by more than this, so a stalled stream stalls the face.
const MAX_CLOCK_EXTRAPOLATION_MS = 120;
// Half of spontaneous blinks are partial (field-facts "Human eye behaviour"); idle blinks last 150–300 ms.
const IDLE_BLINK_MS = [150, 300];
// A gaze shift of a few degrees takes ~50–150 ms (field-facts "Human eye behaviour": 20–200 ms saccades).
const GAZE_RETURN_MS = 150;

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

function withDefaults(manifest) {
  const mouth = { ...manifest.mouth, size: manifest.mouth.size ?? manifest.mouth.frame };
  const eyes = { saccade_px: 3, ...manifest.eyes, size: manifest.eyes.size ?? manifest.eyes.frame };
  return { ...manifest, mouth, eyes };
}

export class AvatarPlayer extends EventTarget {
  /**
   * @param {HTMLCanvasElement} canvas where the avatar is drawn (resized to the pack's canvas)
   * @param {object} [options]
   * @param {string} [options.apiBase] base URL of the avatar service ("" = this page's origin)
   * @param {boolean} [options.motion] head bob, tilt and breathing (default: on unless the user prefers
   *   reduced motion)
   * @param {boolean} [options.idleBlinks] blink every few seconds while not speaking (default true)
   */
  constructor(canvas, options = {}) {
    super();
    this.canvas = canvas;
    this.apiBase = options.apiBase ?? "";
    const reduced = globalThis.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
    this.motionEnabled = options.motion ?? !reduced;
    this.idleBlinks = options.idleBlinks ?? true;
    this.overlay = false;
    this.selection = null;
    this.pack = null;
    this.compositor = null;
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
    this.tick = (now) => {
      this.frameRequest = requestAnimationFrame(this.tick);
      this.renderFrame(now);
    };
  }

  /** Load a pack from its manifest URL (asset paths resolve relative to it); starts drawing. */
  async loadPack(manifestUrl) {
    const url = new URL(manifestUrl, document.baseURI).href;
    const manifest = withDefaults(await fetchJson(url));
    if (manifest.format_version !== 1) throw new Error(`unsupported pack format_version ${manifest.format_version}`);
    const asset = (name) => new URL(name, url).href;
    const { mouth, eyes } = manifest;
    const [base, sprites, mouthMask, open, half, closed, eyesMask, timeline] = await Promise.all([
      loadImage(asset(manifest.base_face)),
      loadImage(asset(mouth.sprites)),
      loadImage(asset(mouth.mask)),
      loadImage(asset(eyes.open)),
      loadImage(asset(eyes.half)),
      loadImage(asset(eyes.closed)),
      loadImage(asset(eyes.mask)),
      manifest.anchor_timeline ? fetchJson(asset(manifest.anchor_timeline)) : null,
    ]);
    checkSize("base_face", base, manifest.canvas.width, manifest.canvas.height);
    checkSize("mouth.sprites", sprites, mouth.frame.width * mouth.visemes.length, mouth.frame.height);
    for (const [name, image] of [["eyes.open", open], ["eyes.half", half], ["eyes.closed", closed]]) {
      checkSize(name, image, eyes.frame.width, eyes.frame.height);
    }
    const video = manifest.idle_video ? this.startIdleVideo(asset(manifest.idle_video)) : null;

    this.stop();
    this.pack?.video?.pause();
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
    this.compositor = new Compositor(this.canvas, {
      manifest,
      base,
      video,
      mouthSprites: sprites,
      mouthMask: maskToAlpha(mouthMask, mouth.frame.width, mouth.frame.height),
      eyes: { open, half, closed },
      eyesMask: maskToAlpha(eyesMask, eyes.frame.width, eyes.frame.height),
    });
    this.idleEvents = [];
    this.nextIdleBlinkAt = null;
    this.renderFrame();
    if (this.frameRequest === null) this.frameRequest = requestAnimationFrame(this.tick);
    this.dispatchEvent(new CustomEvent("packloaded", { detail: { id: manifest.id, manifest } }));
    return manifest;
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
    if (sinceEnd > ATTACK_MS + RELEASE_MS) {
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

  /** Compute and draw the frame for time `now` (performance.now() milliseconds). */
  renderFrame(now = performance.now()) {
    if (!this.compositor) return;
    const { manifest, layout, timeline, video } = this.pack;
    const speechMs = this.speechTimeMs(now);
    const idleMs = this.idleMs(now);
    // Idle blinks pause while speaking: the render's own eye events take over (blinks at phrase ends).
    if (speechMs === null && this.idleBlinks) this.scheduleIdleBlinks(now);
    this.idleEvents = this.idleEvents.filter((event) => idleMs - event.t_ms < event.duration_ms + 1000);

    const mouthWeights = mouthWeightsAt(speechMs === null ? [] : this.speech.cues, speechMs ?? 0, manifest.mouth.visemes);
    const idleEyes = eyeStateAt(this.idleEvents, idleMs);
    const speechEyes = speechMs === null ? null : eyeStateAt(this.speech.events, speechMs);
    const closure = Math.max(idleEyes.closure, speechEyes?.closure ?? 0);
    const gaze = speechEyes ? speechEyes.gaze : this.returningGaze(idleMs);
    this.lastGaze = gaze;
    const saccadePx = manifest.eyes.saccade_px;

    // The tracked anchors describe the video's frames: follow them only while the video is what is drawn.
    const trackedFrame = timeline && video?.readyState >= 2 ? anchorFrameAt(timeline, video.currentTime) : null;
    const reference = timeline?.reference;
    this.lastFrame = {
      mouthWeights,
      eyeWeights: eyeWeightsForClosure(closure),
      gazeShift: [gaze[0] * saccadePx, gaze[1] * saccadePx],
      mouth: placeLayer(layout.mouth.anchor, layout.mouth.size, "mouth", trackedFrame, reference),
      eyes: placeLayer(layout.eyes.anchor, layout.eyes.size, "eyes", trackedFrame, reference),
      motion: this.motionEnabled && this.pack.motion ? microMotionAt(this.pack.motion, idleMs / 1000) : null,
      overlay: this.overlay,
      selection: this.selection,
    };
    this.compositor.render(this.lastFrame);
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
