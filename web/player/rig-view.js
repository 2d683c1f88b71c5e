// RigView: draws a format-2 pack's face rig onto the player's visible 2D canvas (docs/rig-player.md "Drawing
// a frame"), over a kept picture (the base face or the idle video's frame), now or one display frame ahead.
// It is to the rig what compositor.js is to format-1 packs: it draws what it is told. Which pose, when, and
// whether a frame drawn ahead still fits the player's clock is the player's business; the geometry comes from
// the pure functions of rig.js and the GL work from rig-renderer.js.

import { OVERLAY_COLORS, SELECTION_COLOR, strokeBox } from "./compositor.js";
import {
  affineShift,
  composeAffine,
  deform,
  headMotionMatrix,
  IDENTITY,
  mouthGeometry,
  mouthOpening,
  movedTriangles,
  namedWeights,
  STILL_PX,
  transformPoints,
  trianglesBox,
} from "./rig.js";

/** A 2D context as large as `size` (the read-back boxes go through one, the kept picture is one). */
function scratchContext({ width, height }) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas.getContext("2d");
}

export class RigView {
  /**
   * @param {HTMLCanvasElement} canvas the player's visible canvas (2D)
   * @param {object} rig a prepared rig (rig.js prepareRig)
   * @param {RigRenderer} renderer its WebGL2 renderer (rig-renderer.js)
   * @param {HTMLImageElement} base the still base face
   * @param {HTMLVideoElement|null} video the idle video, drawn where the player follows it
   */
  constructor(canvas, rig, renderer, base, video) {
    this.canvas = canvas;
    this.rig = rig;
    this.renderer = renderer;
    this.base = base;
    this.video = video;
    this.positions = new Float32Array(rig.rest.length);
    this.followSources = null;
    this.scratch = scratchContext(rig.reach);
    // The picture under the rig, kept between frames (drawn again only when it changes, pictureState).
    this.under = { ctx: scratchContext(rig), picture: null, frameNumber: null, motion: IDENTITY };
    // The box of the visible canvas the last frame drew over the kept picture.
    this.dirty = null;
    this.ahead = null;
    // How many frames were shown from the frame before (showAhead), for tests and the bench.
    this.aheadShown = 0;
  }

  /**
   * Draw the rig at `weights` (parallel to the rig's controlNames). `follow` maps the rig (made on the still
   * base face) onto the idle video's current frame (a 2×3 matrix), or is null to draw the still face.
   * `frame`: the player's frame (its head `motion`, and the `overlay`, `selection`, `eyes` and `mouth` boxes).
   * Returns what it drew: {controls, opening, region}.
   */
  draw(weights, follow, frame) {
    const plan = this.plan(weights, follow, frame.motion);
    if (plan.stale || plan.videoBox) {
      this.drawPicture(plan.picture, plan.motion, plan.videoBox);
      Object.assign(this.under, { picture: plan.picture, frameNumber: plan.frameNumber, motion: plan.motion });
      this.dirty = this.whole();
    }
    const ctx = this.restoreUnder();
    // Then the moved triangles from the WebGL2 renderer, head motion included, copied pixel for pixel (a
    // transformed copy would resample the whole box again).
    if (plan.region) {
      this.renderer.render(plan.draw);
      this.layOver(ctx, this.renderer.read(plan.region), plan.region);
    }
    this.dirty = plan.region;
    if (frame.overlay) {
      const { motion } = plan;
      ctx.setTransform(motion[0], motion[3], motion[1], motion[4], motion[2], motion[5]);
      this.drawOverlay(ctx, transformPoints(plan.place, plan.draw.positions), frame);
      this.dirty = this.whole();
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    if (frame.selection) {
      strokeBox(ctx, frame[frame.selection], SELECTION_COLOR, 3, [8, 5], null);
      this.dirty = this.whole();
    }
    return { controls: plan.controls, opening: plan.opening, region: plan.region };
  }

  /**
   * Start drawing the frame at `weights` for a later animation frame (see draw for the arguments); `key`
   * is the player's note of what it was drawn for, handed back to showAhead. Not when that frame needs the
   * picture drawn anew (a head-motion step, a video frame not yet in the texture; ask videoFrameDue first
   * for one not yet shown): the picture comes first, so it is drawn whole in its own frame. Returns whether
   * it started one.
   */
  drawAhead(weights, follow, frame, key) {
    this.ahead = null;
    const plan = this.plan(weights, follow, frame.motion);
    if (plan.stale || plan.videoBox || !plan.region) return false;
    this.renderer.render(plan.draw);
    const { picture, frameNumber, motion } = this.under;
    this.ahead = {
      key,
      drawn: this.renderer.drawn,
      under: { picture, frameNumber, motion },
      drew: { controls: plan.controls, opening: plan.opening, region: plan.region },
    };
    return true;
  }

  /**
   * Show the frame drawn ahead if `fits(key)` says it is this frame's, no other frame was drawn since, and
   * it lies over the same kept picture, which this frame (`follow`, `frame` as for draw) would not draw
   * again. Returns the frame drawn ahead ({key, drew: {controls, opening, region}}), or null when the frame
   * is still to be drawn.
   */
  showAhead(follow, frame, fits) {
    const ahead = this.ahead;
    this.ahead = null;
    if (!ahead || ahead.drawn !== this.renderer.drawn || !fits(ahead.key)) return null;
    const { picture, stale } = this.pictureState(follow, frame.motion);
    const samePicture = !stale && ["picture", "frameNumber", "motion"].every((key) => this.under[key] === ahead.under[key])
      && !(follow && this.renderer.videoBoxNeeded(picture, this.rig.reach));
    if (!samePicture) return null;
    const { region } = ahead.drew;
    this.layOver(this.restoreUnder(), this.renderer.read(region), region);
    this.dirty = region;
    this.aheadShown += 1;
    return ahead;
  }

  /** Whether the playing idle video will likely show a new frame by the animation frame at `at`. */
  videoFrameDue(at) {
    return this.video !== null && this.renderer.videoFrameDue(this.video, at);
  }

  whole() {
    return { x: 0, y: 0, width: this.rig.width, height: this.rig.height };
  }

  /**
   * Where the picture under the rig stands for `follow` and the head motion `frameMotion`: the picture (base
   * face or video), its frame number, and whether the kept picture (this.under) must be drawn again.
   */
  pictureState(follow, frameMotion) {
    const { rig, renderer, under } = this;
    const picture = follow ? this.video : this.base;
    // The picture under the rig is kept and drawn again only for a new video frame or when the head has
    // moved by more than STILL_PX somewhere since: smaller steps are what the rig already leaves to the
    // picture (rig.js STILL_PX). The rig is drawn with the same motion, so the two always fit.
    const frameNumber = follow ? renderer.videoFrameNumber(picture) : 0;
    const wanted = frameMotion ? headMotionMatrix(frameMotion, rig.width, rig.height) : IDENTITY;
    const stale = frameNumber === null || under.picture !== picture || under.frameNumber !== frameNumber
      || (wanted === IDENTITY) !== (under.motion === IDENTITY) || affineShift(wanted, under.motion, rig.width, rig.height) > STILL_PX;
    return { picture, frameNumber, stale, motion: stale ? wanted : under.motion };
  }

  /** Everything needed to draw the rig at `weights` (see draw), computed, nothing drawn. */
  plan(weights, follow, frameMotion) {
    const { rig, renderer } = this;
    const place = follow ?? IDENTITY;
    const positions = deform(rig, weights, this.positions);
    const { picture, frameNumber, stale, motion } = this.pictureState(follow, frameMotion);
    const toCanvas = composeAffine(motion, place);
    // The interior is drawn behind the face: the triangles over its box are drawn too, moved or not.
    const mouth = mouthGeometry(rig, positions, weights);
    const triangles = movedTriangles(rig, weights, positions, mouth.box);
    const region = trianglesBox(rig, triangles, positions, toCanvas);
    if (follow) this.followSources ??= new Float32Array(rig.rest.length);
    const sources = follow ? transformPoints(follow, rig.rest, this.followSources) : rig.rest;
    // The idle video's texture comes from the picture as drawn, once per video frame (rig-renderer.js
    // uploadVideo): all the rig can reach, so no later pose of the same frame needs the picture drawn again.
    const videoBox = region && follow ? renderer.videoBoxNeeded(picture, rig.reach) : null;
    return {
      picture, frameNumber, stale, motion, videoBox, region, place,
      draw: { region, triangles, positions, sources, video: Boolean(follow), place: toCanvas, mouth },
      controls: namedWeights(rig, weights),
      opening: mouthOpening(rig, positions),
    };
  }

  /** The visible canvas's 2D context, holding the kept picture again where the last frame drew over it. */
  restoreUnder() {
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    if (this.dirty) {
      const { x, y, width: w, height: h } = this.dirty;
      ctx.drawImage(this.under.ctx.canvas, x, y, w, h, x, y, w, h);
    }
    return ctx;
  }

  /** Lay the renderer's pixels of `region` over the picture on the visible canvas. */
  layOver(ctx, pixels, region) {
    // Through a scratch canvas, so the transparent (unmoved) pixels keep the picture under them.
    const { x, y, width: w, height: h } = region;
    this.scratch.putImageData(pixels, 0, 0);
    ctx.drawImage(this.scratch.canvas, 0, 0, w, h, x, y, w, h);
  }

  /**
   * Draw the picture into this.under as the compositor draws it: unmoved underneath (fills the edge pixels
   * head motion uncovers), then moved with the head. `videoBox` (or null): the box of the idle video's frame
   * to put into the rig's texture, read between the two draws.
   */
  drawPicture(picture, motion, videoBox) {
    const { rig, renderer } = this;
    const { ctx } = this.under;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(picture, 0, 0, rig.width, rig.height);
    if (videoBox) {
      const { x, y, width: w, height: h } = videoBox;
      renderer.uploadVideo(videoBox, ctx.getImageData(x, y, w, h));
    }
    if (motion !== IDENTITY) {
      ctx.setTransform(motion[0], motion[3], motion[1], motion[4], motion[2], motion[5]);
      ctx.drawImage(picture, 0, 0, rig.width, rig.height);
      ctx.setTransform(1, 0, 0, 1, 0, 0);
    }
  }

  /** Overlay (T) for the rig: its mesh at the current pose (`points`), and the frame's mouth and eye boxes. */
  drawOverlay(ctx, points, frame) {
    const { triangles } = this.rig;
    ctx.save();
    ctx.strokeStyle = "rgba(0, 229, 255, 0.55)";
    ctx.lineWidth = 0.6;
    ctx.beginPath();
    for (let t = 0; t < triangles.length; t += 3) {
      const [a, b, c] = [triangles[t], triangles[t + 1], triangles[t + 2]];
      ctx.moveTo(points[2 * a], points[2 * a + 1]);
      ctx.lineTo(points[2 * b], points[2 * b + 1]);
      ctx.lineTo(points[2 * c], points[2 * c + 1]);
      ctx.closePath();
    }
    ctx.stroke();
    ctx.restore();
    strokeBox(ctx, frame.eyes, OVERLAY_COLORS.eyes, 2, [], "eyes");
    strokeBox(ctx, frame.mouth, OVERLAY_COLORS.mouth, 2, [], "mouth");
  }
}
