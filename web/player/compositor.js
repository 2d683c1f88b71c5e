// Canvas 2D compositor: base face (or idle video frame) → eye layer → mouth layer, each layer built in an
// offscreen canvas (frames cross-faded, then cut by its feathered mask with destination-in) and drawn at its
// anchor. It only draws what it is told; timing lives in the player and the pure functions of timeline.js.

export const OVERLAY_COLORS = { mouth: "#00ff66", eyes: "#00e5ff" };
export const SELECTION_COLOR = "#ff9800";
const MIN_WEIGHT = 1 / 512; // below one 8-bit step: not worth a drawImage

function offscreen(width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

/**
 * A mask as an alpha channel. Packs may ship a greyscale PNG (white = sprite shows) or an alpha PNG;
 * destination-in only reads alpha, so luminance × alpha becomes the alpha once, at load time.
 */
export function maskToAlpha(image, width, height) {
  const canvas = offscreen(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(image, 0, 0, width, height);
  const pixels = ctx.getImageData(0, 0, width, height);
  const data = pixels.data;
  for (let i = 0; i < data.length; i += 4) {
    const luminance = 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2];
    data[i + 3] = Math.round((luminance * data[i + 3]) / 255);
    data[i] = data[i + 1] = data[i + 2] = 255;
  }
  ctx.putImageData(pixels, 0, 0);
  return canvas;
}

/** Stroke a layer's box (rotated with it), optionally with a centre cross and a label: overlay and selection. */
export function strokeBox(ctx, place, color, lineWidth, dash, label) {
  ctx.save();
  ctx.translate(place.x, place.y);
  if (place.rotation) ctx.rotate(place.rotation);
  ctx.strokeStyle = color;
  ctx.lineWidth = lineWidth;
  ctx.setLineDash(dash);
  ctx.strokeRect(-place.width / 2, -place.height / 2, place.width, place.height);
  if (label) {
    ctx.beginPath();
    ctx.moveTo(-6, 0);
    ctx.lineTo(6, 0);
    ctx.moveTo(0, -6);
    ctx.lineTo(0, 6);
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(`${label} ${Math.round(place.x)},${Math.round(place.y)}`, -place.width / 2, -place.height / 2 - 4);
  }
  ctx.restore();
}

/**
 * Draw `sources` (each {image, sx, sy}) into ctx as their weighted average. Drawing source k with alpha
 * w_k / (w_1 + … + w_k) over the previous result leaves exactly Σ w_i·frame_i / Σ w_i — a true cross-fade.
 */
function drawWeighted(ctx, sources, weights, width, height, dx = 0, dy = 0) {
  let cumulative = 0;
  for (let i = 0; i < sources.length; i += 1) {
    const weight = weights[i];
    if (weight < MIN_WEIGHT) continue;
    cumulative += weight;
    ctx.globalAlpha = weight / cumulative;
    const { image, sx, sy } = sources[i];
    ctx.drawImage(image, sx, sy, width, height, dx, dy, width, height);
  }
  ctx.globalAlpha = 1;
}

export class Compositor {
  /**
   * @param {HTMLCanvasElement} canvas the visible canvas, sized to the pack's canvas
   * @param {object} assets loaded pack: {manifest, base, video, mouthSprites, mouthMask, eyes: {open, half,
   *   closed}, eyesMask} (masks already converted by maskToAlpha)
   */
  constructor(canvas, assets) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.assets = assets;
    const { mouth, eyes } = assets.manifest;
    this.mouthFrame = mouth.frame;
    this.eyesFrame = eyes.frame;
    this.mouthLayer = offscreen(mouth.frame.width, mouth.frame.height);
    this.eyesLayer = offscreen(eyes.frame.width, eyes.frame.height);
    this.mouthSources = mouth.visemes.map((_, i) => ({ image: assets.mouthSprites, sx: i * mouth.frame.width, sy: 0 }));
    this.eyeSources = ["open", "half", "closed"].map((state) => ({ image: assets.eyes[state], sx: 0, sy: 0 }));
  }

  /**
   * Draw one frame.
   * @param {object} frame {mouthWeights: number[] (parallel to visemes), eyeWeights: {open, half, closed},
   *   gazeShift: [dx, dy] px, mouth/eyes: placements {x, y, width, height, rotation} from placeLayer(),
   *   motion: {dy, tilt, scale}, overlay: bool, selection: "mouth" | "eyes" | null}
   */
  render(frame) {
    const { ctx, canvas } = this;
    const base = this.baseImage();
    this.buildMouth(frame.mouthWeights);
    this.buildEyes(frame.eyeWeights, frame.gazeShift);

    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalAlpha = 1;
    // The untransformed base underneath fills the few pixels that head motion uncovers at the edges.
    ctx.drawImage(base, 0, 0, canvas.width, canvas.height);
    this.applyHeadMotion(frame.motion);
    if (frame.motion) ctx.drawImage(base, 0, 0, canvas.width, canvas.height);
    this.drawLayer(this.eyesLayer, frame.eyes);
    this.drawLayer(this.mouthLayer, frame.mouth);
    if (frame.overlay) {
      strokeBox(this.ctx, frame.eyes, OVERLAY_COLORS.eyes, 2, [], "eyes");
      strokeBox(this.ctx, frame.mouth, OVERLAY_COLORS.mouth, 2, [], "mouth");
    }
    if (frame.selection) strokeBox(this.ctx, frame[frame.selection], SELECTION_COLOR, 3, [8, 5], null);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  }

  baseImage() {
    const { video, base } = this.assets;
    // HAVE_CURRENT_DATA: the video has a frame to draw; until then (or without a video) the still face.
    return video && video.readyState >= 2 ? video : base;
  }

  buildMouth(weights) {
    const ctx = this.mouthLayer.getContext("2d");
    const { width, height } = this.mouthFrame;
    ctx.globalCompositeOperation = "source-over";
    ctx.clearRect(0, 0, width, height);
    drawWeighted(ctx, this.mouthSources, weights, width, height);
    ctx.globalCompositeOperation = "destination-in";
    ctx.drawImage(this.assets.mouthMask, 0, 0);
    ctx.globalCompositeOperation = "source-over";
  }

  buildEyes(weights, gazeShift) {
    const ctx = this.eyesLayer.getContext("2d");
    const { width, height } = this.eyesFrame;
    ctx.globalCompositeOperation = "source-over";
    ctx.clearRect(0, 0, width, height);
    // Gaze moves the eyes under a fixed mask: the mask marks where the eyes sit on the face, which stays put.
    const [dx, dy] = gazeShift ?? [0, 0];
    drawWeighted(ctx, this.eyeSources, [weights.open, weights.half, weights.closed], width, height, dx, dy);
    ctx.globalCompositeOperation = "destination-in";
    ctx.drawImage(this.assets.eyesMask, 0, 0);
    ctx.globalCompositeOperation = "source-over";
  }

  applyHeadMotion(motion) {
    if (!motion) return;
    const { ctx, canvas } = this;
    // Pivot at the neck so a tilt swings the head, not the whole picture.
    const pivotX = canvas.width / 2;
    const pivotY = canvas.height * 0.82;
    ctx.translate(pivotX, pivotY + motion.dy);
    ctx.rotate(motion.tilt);
    ctx.scale(motion.scale, motion.scale);
    ctx.translate(-pivotX, -pivotY);
  }

  drawLayer(layer, place) {
    const { ctx } = this;
    ctx.save();
    ctx.translate(place.x, place.y);
    if (place.rotation) ctx.rotate(place.rotation);
    ctx.drawImage(layer, -place.width / 2, -place.height / 2, place.width, place.height);
    ctx.restore();
  }
}
