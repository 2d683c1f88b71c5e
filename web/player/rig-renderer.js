// WebGL2 renderer of a format-2 pack's face rig (docs/rig.md). Per frame it draws, into a renderbuffer with
// alpha that the rig view (rig-view.js) reads back and lays over the picture:
//   1. the moved triangles of the face mesh, textured with the base face (or the idle video's frame) at their
//      deformed positions (the others map the picture onto itself and stay transparent); the inner-lip
//      opening is a hole in the mesh;
//   2. the mouth interior — cavity, teeth, tongue, shaded from the rig's colours — behind the face: drawn
//      first over the box of the opening, then covered by the face triangles everywhere but the inner-lip
//      hole, so it is seen only through the opening (a pixel shows it when its centre lies inside the hole:
//      the rasterisation rule); then, over the lips, a band along each lip edge shades the same interior
//      with an opacity falling from 1 at the edge to 0 at FEATHER_PX outside it: a ~1 px feathered lip edge
//      (sharp edges looked cut out, 1.5 px blurry: docs/rig-player.md).
// Apart from that anti-aliased edge nothing is blended: every pixel comes from one surface in one pose (no
// dissolves). Drawing only the moved triangles, without multisampling, matters on the CPU: SwiftShader
// (headless Chromium, --disable-gpu) fills a whole 512×640 mesh in several ms, the moving mouth in a fraction.
// The geometry (deformed positions, where the interior goes, the lip-edge bands) comes from the pure
// functions of rig.js; this module only owns GL state (WebGL2 API per the Khronos WebGL 2.0 specification;
// which pixels a triangle covers: OpenGL ES 3.0 specification §3.6.1, pixel centres). The feather:
// point-to-segment distance to the band's own lip edge. Why the interior goes behind the face rather than
// testing each pixel against the lip polygon: that test cost ~0.5 ms a frame on SwiftShader
// (docs/rig-player.md "Where a speaking frame's time goes").

import { lipEdgeBands } from "./rig.js";

// Two vertex shaders from one source: the face's and the interior box's (EDGE 0), and the lip-edge bands'
// (EDGE 1), whose second attribute is the lip edge (a, b) each fragment measures its distance to.
const vertexShader = (edge) => `#version 300 es
#define EDGE ${edge ? 1 : 0}
in vec2 a_position;   // where the vertex is drawn, rig pixels (the still base face's)
#if EDGE
in vec4 a_source;     // the lip edge of this band, rig pixels (a.x, a.y, b.x, b.y)
flat out vec4 v_edge;
#else
in vec2 a_source;     // where its texture comes from, picture pixels
uniform vec2 u_sourceScale; // multiplies a_source into v_source (the face: 1 / picture size, texture coordinates)
#endif
uniform mat3 u_place; // rig pixels → canvas pixels (onto the idle video's face, then head motion)
uniform vec2 u_origin; // the picture pixel at the offscreen canvas's top left corner
uniform vec2 u_view;   // the offscreen canvas's size
out vec2 v_source;
void main() {
  vec2 p = (u_place * vec3(a_position, 1.0)).xy - u_origin;
#if EDGE
  v_source = a_position;
  v_edge = a_source;
#else
  // Scaled here, per vertex, not per fragment: on SwiftShader a division per fragment is measurable.
  v_source = a_source * u_sourceScale;
#endif
  // Upside down on purpose: GL's rows start at the bottom, so readPixels then returns rows top-down.
  gl_Position = vec4(p.x / u_view.x * 2.0 - 1.0, p.y / u_view.y * 2.0 - 1.0, 0.0, 1.0);
}`;

const FACE_SHADER = `#version 300 es
precision highp float;
in vec2 v_source;
uniform sampler2D u_texture;
out vec4 color;
void main() {
  color = vec4(texture(u_texture, v_source).rgb, 1.0);
}`;

// The interior in rig pixels (v_source = a_position, before u_place). Shading after the rig
// notes in docs/rig-player.md "Drawing a frame": a red-brown cavity darker towards the back, upper teeth fixed to
// the head, lower teeth and tongue moved with the jaw, teeth darker towards the corners and under the lip.
// The width of the feathered lip edge.
const FEATHER_PX = 0.9;

// EDGE 0: the opening's box, opaque (the face covers all of it but the hole); EDGE 1: a lip-edge band.
const interiorShader = (edge) => `#version 300 es
precision highp float;
#define FEATHER_PX ${FEATHER_PX.toFixed(2)}
#define EDGE ${edge ? 1 : 0}
in vec2 v_source;
#if EDGE
flat in vec4 v_edge;
#endif
uniform vec3 u_cavityNear, u_cavityDeep, u_teeth, u_tongue;
uniform vec4 u_upperTeeth;   // x0, x1, top y, height
uniform vec4 u_lowerTeeth;   // x0, x1, top y (jaw offset applied), height
uniform vec2 u_centre;       // middle of the opening
uniform vec2 u_half;         // half width and height of the opening
uniform vec4 u_marker;       // alpha > 0: draw this flat colour instead (tests locate the interior with it)
out vec4 color;

float teethShade(float x, float x0, float x1) {
  float mid = 0.5 * (x0 + x1);
  float q = clamp((x - mid) / max(1.0, 0.5 * (x1 - x0)), -1.0, 1.0);
  // ~8 visible front teeth; faint gaps between them (about 12 % darker), darker towards the corners.
  float toothWidth = max(2.0, (x1 - x0) / 8.0);
  float f = fract((x - mid) / toothWidth + 0.5);
  float gap = mix(0.88, 1.0, smoothstep(0.0, 0.1, min(f, 1.0 - f)));
  return gap * (1.0 - 0.5 * q * q);
}

void main() {
  vec2 p = v_source;
#if EDGE
  // 1 on the edge, 0 at FEATHER_PX from it. Inside the opening the band repeats the colour already there.
  vec2 a = v_edge.xy;
  vec2 ab = v_edge.zw - a;
  float t = clamp(dot(p - a, ab) / max(dot(ab, ab), 1e-6), 0.0, 1.0);
  float alpha = clamp(1.0 - length(p - a - t * ab) / FEATHER_PX, 0.0, 1.0);
  if (alpha <= 0.0) discard;
#else
  float alpha = 1.0;
#endif
  if (u_marker.a > 0.0) { color = vec4(u_marker.rgb, alpha); return; }
  vec2 d = (p - u_centre) / max(u_half, vec2(1.0));
  float depth = 1.0 - clamp(length(d), 0.0, 1.0);       // 0 at the lips, 1 in the middle (the back)
  vec3 c = mix(u_cavityNear, u_cavityDeep, smoothstep(0.0, 0.8, depth));
  // Tongue: a low dome behind the lower teeth, moving with them.
  float tongueTop = u_lowerTeeth.z + 0.6 * u_lowerTeeth.w;
  float qt = (p.x - u_centre.x) / max(1.0, 0.5 * (u_lowerTeeth.y - u_lowerTeeth.x));
  if (p.y > tongueTop + 0.5 * u_lowerTeeth.w * qt * qt) {
    c = u_tongue * mix(1.0, 0.55, smoothstep(0.0, 1.0, depth));
  }
  float lowerTop = u_lowerTeeth.z;
  if (p.x > u_lowerTeeth.x && p.x < u_lowerTeeth.y && p.y > lowerTop && p.y < lowerTop + u_lowerTeeth.w) {
    c = u_teeth * 0.82 * teethShade(p.x, u_lowerTeeth.x, u_lowerTeeth.y);
  }
  float upperTop = u_upperTeeth.z;
  float qu = (p.x - 0.5 * (u_upperTeeth.x + u_upperTeeth.y)) / max(1.0, 0.5 * (u_upperTeeth.y - u_upperTeeth.x));
  float upperBottom = upperTop + u_upperTeeth.w * sqrt(max(0.0, 1.0 - 0.6 * qu * qu));
  if (p.x > u_upperTeeth.x && p.x < u_upperTeeth.y && p.y < upperBottom) {
    float underLip = smoothstep(upperTop - 0.5 * u_upperTeeth.w, upperTop + 0.6 * u_upperTeeth.w, p.y);
    c = u_teeth * teethShade(p.x, u_upperTeeth.x, u_upperTeeth.y) * mix(0.7, 1.0, underLip);
  }
  color = vec4(c, alpha);
}`;


function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(shader)}`);
  return shader;
}

function program(gl, fragmentSource, vertexSource = vertexShader(false)) {
  const prog = gl.createProgram();
  gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, vertexSource));
  gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, fragmentSource));
  gl.bindAttribLocation(prog, 0, "a_position");
  gl.bindAttribLocation(prog, 1, "a_source");
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(`program: ${gl.getProgramInfoLog(prog)}`);
  const uniforms = {};
  const count = gl.getProgramParameter(prog, gl.ACTIVE_UNIFORMS);
  for (let i = 0; i < count; i += 1) {
    const { name } = gl.getActiveUniform(prog, i);
    uniforms[name] = gl.getUniformLocation(prog, name);
  }
  return { prog, uniforms };
}

/**
 * A vertex array with a position and a source buffer (`sizes`: floats per vertex of each) and optionally an
 * index buffer.
 */
function geometry(gl, usage, indices = null, sizes = [2, 2]) {
  const vao = gl.createVertexArray();
  gl.bindVertexArray(vao);
  const buffers = [gl.createBuffer(), gl.createBuffer()];
  buffers.forEach((buffer, location) => {
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
    gl.enableVertexAttribArray(location);
    gl.vertexAttribPointer(location, sizes[location], gl.FLOAT, false, 0, 0);
  });
  if (indices) {
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, gl.createBuffer());
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, indices, gl.STATIC_DRAW);
  }
  gl.bindVertexArray(null);
  const upload = (location, data) => {
    gl.bindBuffer(gl.ARRAY_BUFFER, buffers[location]);
    gl.bufferData(gl.ARRAY_BUFFER, data, usage);
  };
  return { vao, upload };
}

/** mat3 (column-major, as GLSL wants) of a 2×3 affine matrix [m00, m01, m02, m10, m11, m12]. */
function mat3(m) {
  return new Float32Array([m[0], m[3], 0, m[1], m[4], 0, m[2], m[5], 1]);
}

export class RigRenderer {
  /**
   * @param {object} rig a prepared rig (rig.js prepareRig)
   * @param {HTMLImageElement} base the still base face
   * @returns {RigRenderer|null} null when this browser has no WebGL2
   */
  static create(rig, base) {
    // Frames are drawn into a renderbuffer of the renderer's own (constructor), so the canvas's drawing buffer
    // is never used: 1×1, without depth, stencil or multisampling (the interior pass feathers the only edge
    // that needs smoothing).
    const canvas = document.createElement("canvas");
    canvas.width = 1;
    canvas.height = 1;
    const gl = canvas.getContext("webgl2", { antialias: false, alpha: true, depth: false, stencil: false });
    if (!gl) return null;
    return new RigRenderer(gl, rig, base);
  }

  constructor(gl, rig, base) {
    this.gl = gl;
    this.canvas = gl.canvas;
    this.rig = rig;
    this.marker = null;
    this.face = program(gl, FACE_SHADER);
    this.interior = {
      box: program(gl, interiorShader(false)),
      edge: program(gl, interiorShader(true), vertexShader(true)),
    };
    this.mesh = geometry(gl, gl.DYNAMIC_DRAW, rig.triangles);
    this.mesh.upload(1, rig.rest);
    this.mouth = geometry(gl, gl.DYNAMIC_DRAW);
    this.lipEdges = geometry(gl, gl.DYNAMIC_DRAW, null, [2, 4]);
    this.baseTexture = this.texture(base);
    this.videoTexture = null;
    this.video = null;
    this.lastSources = null;
    // The frame is drawn into this renderbuffer, as large as what the rig can reach (rig.reach), with alpha:
    // what is not drawn stays transparent, so only the moved triangles need drawing. Unlike a canvas's drawing
    // buffer, which WebGL may discard once the canvas is presented, it keeps its pixels until the next frame
    // is drawn, so a frame drawn ahead can be read in the next animation frame.
    const colour = gl.createRenderbuffer();
    gl.bindRenderbuffer(gl.RENDERBUFFER, colour);
    gl.renderbufferStorage(gl.RENDERBUFFER, gl.RGBA8, rig.reach.width, rig.reach.height);
    gl.bindFramebuffer(gl.FRAMEBUFFER, gl.createFramebuffer());
    gl.framebufferRenderbuffer(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.RENDERBUFFER, colour);
    // How many frames render() has drawn: a frame is read back only while it is the last one drawn.
    this.drawn = 0;
  }

  /** A texture holding `source` (an image), or an empty one of `size` {width, height} to fill later. */
  texture(source, size = null) {
    const gl = this.gl;
    const texture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    if (source) gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, source);
    else gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, size.width, size.height, 0, gl.RGBA, gl.UNSIGNED_BYTE, null);
    return texture;
  }

  /**
   * Draw the deformed part of one frame. `frame`: {region {x, y, width, height} (canvas pixels, rig.js
   * trianglesBox), triangles (rig.js movedTriangles: the only ones drawn; the rest stays transparent),
   * positions (deformed, rig pixels, Float32Array), sources (picture pixels of each vertex's
   * texture, Float32Array), video (true: texture from the idle video's frame, filled by uploadVideo; false: the
   * still base), place (2×3
   * rig → canvas matrix: onto the idle video's face, then head motion), mouth (rig.js mouthGeometry, rig
   * pixels)}. Read the result with read(region): outside the moved triangles it is transparent.
   */
  render(frame) {
    const { gl, rig } = this;
    const { reach } = rig;
    const place = mat3(frame.place);
    gl.viewport(0, 0, reach.width, reach.height);
    this.mesh.upload(0, frame.positions);
    gl.bindVertexArray(this.mesh.vao);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, frame.triangles, gl.DYNAMIC_DRAW);
    // The rest positions are uploaded once; sources that follow the idle video change every frame.
    if (frame.sources !== this.rig.rest || this.lastSources !== frame.sources) this.mesh.upload(1, frame.sources);
    this.lastSources = frame.sources;
    const { polygon, box } = frame.mouth;
    const interior = polygon.length >= 3;
    let bands = null;
    if (interior) {
      const quad = new Float32Array([box.x0, box.y0, box.x1, box.y0, box.x0, box.y1, box.x1, box.y1]);
      this.mouth.upload(0, quad);
      this.mouth.upload(1, quad);
      bands = lipEdgeBands(polygon, FEATHER_PX + 1);
      this.lipEdges.upload(0, bands.positions);
      this.lipEdges.upload(1, bands.edges);
    }
    const { region } = frame;
    gl.enable(gl.SCISSOR_TEST);
    gl.scissor(region.x - reach.x, region.y - reach.y, region.width, region.height);
    gl.disable(gl.BLEND);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);

    // 1. The interior, opaque over the box of the opening: the face drawn next leaves only the hole.
    if (interior) {
      this.use(this.interior.box, place);
      this.setInterior(this.interior.box, frame.mouth);
      gl.bindVertexArray(this.mouth.vao);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    }

    // 2. The moved triangles of the face (and those over the interior's box), textured by the still face or
    // the idle video's current frame.
    this.use(this.face, place);
    gl.activeTexture(gl.TEXTURE0);
    gl.uniform1i(this.face.uniforms.u_texture, 0);
    gl.bindTexture(gl.TEXTURE_2D, frame.video ? this.videoTexture : this.baseTexture);
    gl.bindVertexArray(this.mesh.vao);
    gl.drawElements(gl.TRIANGLES, frame.triangles.length, rig.triangles.BYTES_PER_ELEMENT === 2 ? gl.UNSIGNED_SHORT : gl.UNSIGNED_INT, 0);

    // 3. The lip edge feathered over the lips: the same interior, fading out within FEATHER_PX.
    if (interior) {
      gl.enable(gl.BLEND);
      // Over the opaque lips the result stays opaque (alpha: 1·a + 1·(1 − a)).
      gl.blendFuncSeparate(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA, gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
      this.use(this.interior.edge, place);
      this.setInterior(this.interior.edge, frame.mouth);
      gl.bindVertexArray(this.lipEdges.vao);
      gl.drawArrays(gl.TRIANGLES, 0, bands.positions.length / 2);
    }
    gl.disable(gl.BLEND);
    gl.disable(gl.SCISSOR_TEST);
    gl.bindVertexArray(null);
    // Have the frame drawn now, not when it is read: a frame drawn ahead is then drawn while this thread goes
    // on. flush() alone did not do it here (ANGLE submits its work to SwiftShader at a sync point; reading the
    // frame in the next animation frame then took the whole GL pass, not just the copy): a fence after the
    // frame is such a point (WebGL 2.0 fenceSync). Nothing waits on it.
    if (this.submitted) gl.deleteSync(this.submitted);
    this.submitted = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0);
    gl.flush();
    this.drawn += 1;
  }

  /**
   * The pixels of `region` (picture pixels) of the last frame drawn, as ImageData, rows top-down, valid until
   * the next read. Reading back just the box is cheaper than drawImage of a WebGL canvas, which copies its
   * whole drawing buffer out of the GPU process. readPixels waits for the frame to be drawn: right after
   * render() that is the whole GL pass; for a frame drawn one animation frame ago, only the copy.
   */
  read(region) {
    const { gl } = this;
    const { reach } = this.rig;
    // One buffer as large as the reach, reused: a new ~0.5 MB array every frame is garbage for the collector.
    this.pixels ??= new Uint8ClampedArray(reach.width * reach.height * 4);
    const pixels = this.pixels.subarray(0, region.width * region.height * 4);
    const { x, y, width, height } = region;
    gl.readPixels(x - reach.x, y - reach.y, width, height, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    return new ImageData(pixels, width, height);
  }

  /**
   * The number of the idle video's frame now shown, counting from 1 (WICG "HTMLVideoElement.
   * requestVideoFrameCallback()" tells when a new one is presented), or null where the browser lacks it.
   */
  videoFrameNumber(video) {
    if (this.video !== video) {
      this.video = video;
      this.videoTexture ??= this.texture(null, this.rig);
      this.videoShown = 1;
      this.videoUploaded = 0;
      this.videoMediaTime = Infinity;
      this.videoFrameMs = undefined;
      const onFrame = (now, metadata) => {
        if (this.video !== video) return;
        this.videoShown += 1;
        // `now` is the animation frame's time that first shows this video frame; the media time between two
        // frames tells when the next is due (videoFrameDue).
        const step = (metadata.mediaTime - this.videoMediaTime) * 1000 / (video.playbackRate || 1);
        if (step > 0) this.videoFrameMs = step;
        this.videoMediaTime = metadata.mediaTime;
        this.videoShownAt = now;
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback?.(onFrame);
    }
    return video.requestVideoFrameCallback ? this.videoShown : null;
  }

  /**
   * Whether the playing `video` will likely show a new frame by the animation frame at `at`: the last one
   * came at the animation frame videoShownAt, the next is due a frame's media time later.
   */
  videoFrameDue(video, at) {
    if (video !== this.video || video.paused) return false;
    if (this.videoFrameMs === undefined) return true; // not yet known: assume so, nothing is drawn in vain
    return at >= this.videoShownAt + this.videoFrameMs;
  }

  /**
   * Which part of the idle video's current frame the texture still lacks to draw from `box` (picture
   * pixels): null when it has it, else the box to pass to uploadVideo (grown to include what was uploaded
   * of this frame before). New frames are counted with requestVideoFrameCallback (WICG
   * "HTMLVideoElement.requestVideoFrameCallback()"); where the browser lacks it, every call asks for `box`.
   */
  videoBoxNeeded(video, box) {
    const fresh = this.videoFrameNumber(video) === null || this.videoUploaded !== this.videoShown;
    const have = fresh ? null : this.videoBox;
    if (have && box.x >= have.x && box.y >= have.y && box.x + box.width <= have.x + have.width
        && box.y + box.height <= have.y + have.height) return null;
    if (!have) return box;
    const [x0, y0] = [Math.min(box.x, have.x), Math.min(box.y, have.y)];
    const x1 = Math.max(box.x + box.width, have.x + have.width);
    const y1 = Math.max(box.y + box.height, have.y + have.height);
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }

  /**
   * Put `pixels` (ImageData of `box`, picture pixels: the current video frame as the visible canvas drew
   * it) into the video texture. Taking the pixels the 2D canvas drew, rather than texImage2D of the video
   * element, converts each frame once, uploads only the box, and makes the moved triangles match the picture
   * around them to the last bit.
   */
  uploadVideo(box, pixels) {
    const { gl } = this;
    gl.bindTexture(gl.TEXTURE_2D, this.videoTexture);
    gl.texSubImage2D(gl.TEXTURE_2D, 0, box.x, box.y, box.width, box.height, gl.RGBA, gl.UNSIGNED_BYTE, pixels.data);
    this.videoBox = box;
    this.videoUploaded = this.videoShown;
  }

  use({ prog, uniforms }, place) {
    const gl = this.gl;
    gl.useProgram(prog);
    const { reach, width, height } = this.rig;
    // The face samples its texture at normalised coordinates; the interior shades in rig pixels.
    if (prog === this.face.prog) gl.uniform2f(uniforms.u_sourceScale, 1 / width, 1 / height);
    else if (uniforms.u_sourceScale) gl.uniform2f(uniforms.u_sourceScale, 1, 1);
    gl.uniform2f(uniforms.u_origin, reach.x, reach.y);
    gl.uniform2f(uniforms.u_view, reach.width, reach.height);
    gl.uniformMatrix3fv(uniforms.u_place, false, place);
  }

  setInterior({ uniforms: u }, mouth) {
    const { gl } = this;
    const interior = this.rig.interior;
    gl.uniform3fv(u.u_cavityNear, interior.cavity_near);
    gl.uniform3fv(u.u_cavityDeep, interior.cavity_deep);
    gl.uniform3fv(u.u_teeth, interior.teeth);
    gl.uniform3fv(u.u_tongue, interior.tongue);
    const upper = interior.upper_teeth;
    const lower = interior.lower_teeth;
    const [dx, dy] = mouth.lowerTeethShift;
    gl.uniform4f(u.u_upperTeeth, upper.x0, upper.x1, upper.y, upper.height);
    gl.uniform4f(u.u_lowerTeeth, lower.x0 + dx, lower.x1 + dx, lower.y + dy, lower.height);
    gl.uniform2fv(u.u_centre, mouth.centre);
    gl.uniform2fv(u.u_half, mouth.half);
    gl.uniform4fv(u.u_marker, this.marker ? [...this.marker, 1] : [0, 0, 0, 0]);
  }
}
