"""The WebGL2 face rig (pack format 2) in real headless Chromium (SwiftShader), against the real
`avatar-service serve` and Piper: a spoken sentence drawn frame by frame through the player's own API and
checked with Face Mesh, rest == base image, no dissolves, and the Canvas 2D fallback."""

import base64
import io
import json
import urllib.parse
import urllib.request

import numpy as np
import pytest
from PIL import Image

from avatar_service.audio import decode_mono
from tests.web.conftest import PHOTOREAL, PLACEHOLDER, WEB_DIR

pytestmark = pytest.mark.browser

SENTENCE = "Good morning! How are you today? I hope you are well."
FPS = 25
# A page of our own with a player that draws the still base face (no idle video), no head motion and no idle
# blinks, so a frame depends only on the audio clock.
RIG_PAGE = """<!doctype html><html><body><canvas id="avatar"></canvas>
<script type="module">
  import { AvatarPlayer } from "/player/avatar-player.js";
  const pack = new URLSearchParams(location.search).get("pack");
  const renderer = new URLSearchParams(location.search).get("renderer") ?? undefined;
  const player = new AvatarPlayer(document.getElementById("avatar"),
                                  { motion: false, idleBlinks: false, idleVideo: false, renderer });
  window.rigPage = { player, ready: player.loadPack(`/avatars/${pack}/manifest.json`).then(() => player.destroy()) };
</script></body></html>"""

# Page-side helpers: the canvas as PNG, the base image's own pixels, frames on the audio clock.
HELPERS = """
window.rigTools = {
  png() { return document.getElementById('avatar').toDataURL('image/png'); },
  async basePng() {
    const player = window.rigPage.player;
    const image = new Image();
    image.src = new URL(player.pack.manifest.base_face, player.pack.url).href;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
    canvas.getContext('2d').drawImage(image, 0, 0);
    return canvas.toDataURL('image/png');
  },
  // Start a speech, pause it at once: from then on the test moves the audio clock itself.
  async holdSpeech(result) {
    const player = window.rigPage.player;
    player.speak(result);
    await new Promise((resolve) => player.addEventListener('speechstart', resolve, { once: true }));
    player.audio.pause();
  },
  // The frame at audio time tMs, drawn by the player's renderFrame() on the audio clock.
  frameAt(tMs) {
    const player = window.rigPage.player;
    player.audio.currentTime = tMs / 1000;
    player.renderFrame();
    return { png: this.png(), opening: player.lastFrame.opening, controls: player.lastFrame.controls };
  },
};
"""


def open_rig_page(demo, pack: str, renderer: str | None = None) -> None:
    """The rig page for `pack` in the demo's browser page (also used by take_rig_contact_sheets.py)."""
    page = demo.page
    page.route(f"{demo.base_url}/rig-page.html*", lambda route: route.fulfill(body=RIG_PAGE, content_type="text/html"))
    page.add_init_script(HELPERS)
    query = f"pack={pack}" + (f"&renderer={renderer}" if renderer else "")
    page.goto(f"{demo.base_url}/rig-page.html?{query}")
    page.wait_for_function("window.rigPage !== undefined")
    page.evaluate("window.rigPage.ready")


def decode_png(data_url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB"), dtype=np.int16)


def rig_json(pack: str) -> dict:
    manifest = json.loads((WEB_DIR / "avatars" / pack / "manifest.json").read_text())
    assert manifest["format_version"] == 2, f"{pack} should ship as a format-2 pack with a face rig"
    return json.loads((WEB_DIR / "avatars" / pack / manifest["rig"]).read_text())


def edge_distance(shape: tuple[int, int], polygon: list[list[float]]) -> np.ndarray:
    """Signed distance of every pixel centre to the polygon's edge: negative inside, positive outside
    (inside by the crossing-number rule, as the renderer's shader decides it)."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]] + 0.5
    points = np.asarray(polygon, dtype=float)
    nearest = np.full(shape, np.inf)
    inside = np.zeros(shape, bool)
    for a, b in zip(points, np.roll(points, -1, axis=0), strict=True):
        crosses = (a[1] > ys) != (b[1] > ys)
        with np.errstate(divide="ignore", invalid="ignore"):
            inside ^= crosses & (xs < a[0] + (ys - a[1]) * (b[0] - a[0]) / (b[1] - a[1]))
        ab = b - a
        t = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / max(ab @ ab, 1e-12), 0, 1)
        nearest = np.minimum(nearest, np.hypot(xs - a[0] - t * ab[0], ys - a[1] - t * ab[1]))
    return np.where(inside, -nearest, nearest)


def loudness_envelope(samples: np.ndarray, rate: int, times_ms: np.ndarray, window_ms: float = 40) -> np.ndarray:
    """Level in dBFS (RMS over a window centred on each time, floored at −60 dBFS): loudness grows with the
    logarithm of intensity (Fechner; ITU-R BS.1770 measures loudness as a level in dB too)."""
    half = int(rate * window_ms / 2000)
    centres = (times_ms * rate / 1000).astype(int)
    rms = np.array([np.sqrt(np.mean(samples[max(0, c - half):c + half] ** 2)) if c - half < len(samples) else 0.0
                    for c in centres])
    return 20 * np.log10(np.maximum(rms, 1e-3))


@pytest.fixture(scope="module")
def sentence(api_url: str) -> dict:
    """One real render of SENTENCE (Piper audio, mouth cues, eye events) and its decoded audio."""
    request = urllib.request.Request(f"{api_url}/v1/avatar/render", data=json.dumps({"text": SENTENCE}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        result = json.load(response)
    with urllib.request.urlopen(urllib.parse.urljoin(f"{api_url}/", result["audio_url"]), timeout=30) as response:
        audio = response.read()
    return {"result": result, "audio": audio}


def test_rig_maths_in_the_browser(demo):
    """The pure modules the renderer draws from: spring trajectories and mesh deformation."""
    demo.page.goto(f"{demo.base_url}/")
    checks = demo.evaluate("""async () => {
        const t = await import('/player/trajectory.js');
        const r = await import('/player/rig.js');
        const visemes = {REST: {}, AA: {jaw_open: 0.8}};
        const controls = ['jaw_open'];
        const cues = [{t_ms: 0, viseme: 'REST', weight: 1}, {t_ms: 200, viseme: 'AA', weight: 1},
                      {t_ms: 600, viseme: 'REST', weight: 1}];
        const at = (ms) => t.controlWeightsAt(cues, ms, visemes, controls)[0];
        let largestStep = 0;
        for (let ms = 0; ms < 1200; ms += 1) largestStep = Math.max(largestStep, Math.abs(at(ms + 1) - at(ms)));
        const crossing = (from, to, level) => { for (let ms = from; ms < to; ms += 1) {
            if ((at(ms) - level) * (at(ms + 1) - level) <= 0) return ms; } return null; };
        const rise = crossing(100, 600, 0.4) - (200 - t.ANTICIPATION_MS);
        const fall = crossing(500, 1200, 0.4) - (600 - t.ANTICIPATION_MS);
        const json = {image: {width: 10, height: 10}, vertices: [[0, 0], [10, 0], [0, 10], [10, 10]],
                      triangles: [[0, 1, 2], [1, 3, 2]], controls: {jaw_open: {indices: [3], offsets: [[0, 4]]},
                      lip_spread: {indices: [3, 1], offsets: [[2, 0], [1, 1]]}}, visemes: {}, mouth: {inner_lip: []}};
        const rig = r.prepareRig(json);
        const both = Array.from(r.deform(rig, [0.5, 1]));
        let missing = null;
        try { r.prepareRig({...json, triangles: [[0, 1, 7]]}); } catch (error) { missing = {name: error.name, field: error.field}; }
        const m = r.similarityFromPairs([0, 0], [10, 0], [5, 5], [5, 15]);
        return {
            before: t.controlWeightsAt(cues, -100, visemes, controls)[0], rest: at(150 - t.ANTICIPATION_MS),
            held: at(590 - t.ANTICIPATION_MS), settled: at(600 - t.ANTICIPATION_MS + t.SETTLE_MS), largestStep, rise, fall,
            zero: Array.from(r.deform(rig, [0, 0])), both, missing,
            mapped: Array.from(r.transformPoints(m, [0, 0, 10, 0])),
        };
    }""")
    assert checks["before"] == 0 and checks["rest"] == 0
    assert checks["held"] == pytest.approx(0.8, abs=0.01)  # a held viseme reaches its pose
    assert checks["settled"] < 1 / 255  # and rest comes back within SETTLE_MS
    assert checks["largestStep"] < 0.02  # per ms: continuous, never a jump between poses
    assert checks["rise"] < checks["fall"]  # the mouth opens faster than it closes
    assert checks["zero"] == [0, 0, 10, 0, 0, 10, 10, 10]
    assert checks["both"] == [0, 0, 11, 1, 0, 10, 12, 12]  # rest + 0.5·jaw + 1·spread, per vertex
    assert checks["missing"] == {"name": "RigError", "field": "triangles"}
    assert checks["mapped"] == pytest.approx([5, 5, 5, 15])


@pytest.mark.tracking
def test_sentence_frames_move_the_mouth_with_the_rig_and_the_sound(demo, sentence, tmp_path):
    """Every 40 ms frame of one sentence, drawn by renderFrame() on the audio clock, checked by Face Mesh."""
    from avatar_service.tracking.facemesh import FaceMesh

    open_rig_page(demo, PHOTOREAL)
    assert demo.evaluate("window.rigPage.player.rendererName") == "webgl2-rig"
    result = sentence["result"]
    demo.evaluate("result => rigTools.holdSpeech(result)", result)
    times = np.arange(0, result["duration_ms"], 1000 / FPS)
    frames = [demo.evaluate("t => rigTools.frameAt(t)", float(t)) for t in times]
    demo.evaluate("window.rigPage.player.stop()")

    apertures = []
    with FaceMesh(static=True, iris=True) as mesh:
        for index, frame in enumerate(frames):
            faces = mesh.faces(decode_png(frame["png"]).astype(np.uint8))
            assert faces, f"Face Mesh found no face in frame {index} (t = {times[index]:.0f} ms)"
            points = faces[0]
            face_height = np.hypot(*(points[152] - points[10]))
            apertures.append(np.hypot(*(points[14] - points[13])) / face_height)
    apertures = np.array(apertures)
    intended = np.array([frame["opening"] for frame in frames])
    assert intended.max() > 5  # the sentence opens the mouth by several pixels
    r_rig = np.corrcoef(apertures, intended)[0, 1]
    assert r_rig >= 0.9, r_rig

    audio_path = tmp_path / "speech.ogg"
    audio_path.write_bytes(sentence["audio"])
    samples, rate = decode_mono(audio_path)
    # The mouth leads by `lag`: the frame at t shows what is heard at t + lag.
    by_lag = {lag: np.corrcoef(apertures, loudness_envelope(samples, rate, times + lag))[0, 1] for lag in range(0, 61, 10)}
    print(f"aperture vs rig opening r = {r_rig:.3f}; vs loudness by mouth lead (ms): "
          + ", ".join(f"{lag}: {r:.3f}" for lag, r in by_lag.items()))
    assert max(by_lag.values()) >= 0.5, by_lag


def test_at_rest_the_rig_draws_the_base_image(demo):
    open_rig_page(demo, PHOTOREAL)
    frame = decode_png(demo.evaluate("() => { window.rigPage.player.renderFrame(); return rigTools.png(); }"))
    base = decode_png(demo.evaluate("rigTools.basePng()"))
    rig = rig_json(PHOTOREAL)
    vertices = rig["vertices"]
    # Outside 2 px of the mesh's edges: its outer border and the (closed) inner-lip hole.
    near_edges = edge_distance(frame.shape[:2], [vertices[i] for i in rig["mouth"]["inner_lip"]]) <= 2
    border = np.ones(frame.shape[:2], bool)
    border[2:-2, 2:-2] = False
    keep = ~(near_edges | border)
    difference = np.abs(frame - base)[keep].mean()
    assert difference <= 1.0, difference  # ≤ 1/255 on average: the rig adds nothing at rest


def test_head_motion_below_a_quarter_pixel_keeps_the_drawn_picture(demo):
    """The picture under the rig is drawn again only when head motion moved it by more than 0.25 px (rig.js
    STILL_PX); in between, picture and rig stay at the motion last drawn, and the box the rig drew over it is
    restored from the kept picture."""
    open_rig_page(demo, PHOTOREAL)
    frames = demo.evaluate("""() => {
        const player = window.rigPage.player;
        const names = player.rig.rig.controlNames;
        const pose = (jaw) => names.map((name) => (name === 'jaw_open' ? jaw : 0));
        const draw = (dy, jaw) => {
            player.lastFrame = { ...player.lastFrame, motion: { dy, tilt: 0.001, scale: 1 } };
            player.drawRig(pose(jaw));
            return rigTools.png();
        };
        const first = draw(0.5, 0.6);
        const small = draw(0.6, 0.6);     // 0.1 px further: the picture and the rig stay where they were
        const closed = draw(0.6, 0);      // the rig's box goes back to the kept picture
        const large = draw(0.9, 0.6);     // 0.4 px from what was drawn: drawn again
        draw(5, 0);
        const closedFresh = draw(0.5, 0);
        draw(5, 0);
        return { first, small, closed, closedFresh, large, largeFresh: draw(0.9, 0.6) };
    }""")
    first, small, closed, closed_fresh, large, large_fresh = (decode_png(frames[key]) for key in (
        "first", "small", "closed", "closedFresh", "large", "largeFresh"))
    assert np.array_equal(small, first)
    assert np.array_equal(closed, closed_fresh)
    assert not np.array_equal(large, first)
    assert np.array_equal(large, large_fresh)


def test_mid_transition_frame_is_one_mouth_in_one_pose(demo, sentence):
    """No dissolves: half-way through an opening, the frame is exactly the rig drawn at the blended weights,
    and the interior shows only through the inner-lip opening."""
    open_rig_page(demo, PHOTOREAL)
    result = sentence["result"]
    demo.evaluate("result => rigTools.holdSpeech(result)", result)
    checked = demo.evaluate("""async (duration) => {
        const player = window.rigPage.player;
        const { controlWeightsAt } = await import('/player/trajectory.js');
        const { deform, innerLipPolygon } = await import('/player/rig.js');
        const rig = player.rig.rig;
        const jaw = rig.controlNames.indexOf('jaw_open');
        const jawAt = (ms) => controlWeightsAt(player.speech.cues, ms, rig.visemes, rig.controlNames)[jaw];
        // The steepest opening of the sentence: the middle of a transition between two poses.
        let mid = 0, steepest = 0;
        for (let ms = 5; ms < duration - 5; ms += 5) {
            const slope = jawAt(ms + 5) - jawAt(ms - 5);
            if (slope > steepest) { steepest = slope; mid = ms; }
        }
        const during = rigTools.frameAt(mid);
        const weights = rig.controlNames.map((name) => during.controls[name]);
        player.drawRig(weights);
        const direct = rigTools.png();
        player.rig.renderer.marker = [0, 1, 0];
        player.drawRig(weights);
        const marked = rigTools.png();
        player.rig.renderer.marker = null;
        const polygon = innerLipPolygon(rig, deform(rig, weights));
        return {mid, jaw: weights[jaw], before: jawAt(mid - 60), after: jawAt(mid + 60), during: during.png,
                direct, marked, polygon};
    }""", result["duration_ms"])
    assert checked["before"] < checked["jaw"] < checked["after"], checked["jaw"]
    during, direct, marked = (decode_png(checked[key]) for key in ("during", "direct", "marked"))
    assert np.array_equal(during, direct)  # the frame is a function of the blended weights alone
    green = (marked[..., 1] > 200) & (marked[..., 0] < 60) & (marked[..., 2] < 60)
    distance = edge_distance(green.shape, checked["polygon"])
    assert (distance < 0).sum() > 50  # a real opening half-way through the transition
    assert not (green & (distance > 1)).any()  # never over the lips (beyond the ≤ 1 px feathered edge)
    inner = distance <= -1
    assert green[inner].mean() > 0.95  # and it fills the opening


def test_animation_loop_shows_frames_drawn_ahead_that_equal_renderframe(demo, sentence):
    """The player's loop starts each rig frame one display frame early, so its GL work runs between frames
    (avatar-player.js animationFrame): the frames it shows are byte for byte those renderFrame() draws at
    the same times, and a frame that comes late (here 50 ms instead of 16) is drawn anew, not taken ahead."""
    open_rig_page(demo, PHOTOREAL)
    shots = demo.evaluate("""(result) => {
        const player = window.rigPage.player;
        const speak = () => {
            player.speech = { cues: result.mouth_cues, events: result.eye_events, endedAt: null, endMs: 0,
                              clockMs: (now) => now - 1000 };
        };
        // Whole milliseconds at 16 ms steps, so predicted and actual times are the same floats.
        const times = Array.from({ length: 40 }, (_, i) => 1000 + 16 * i + (i >= 30 ? 34 : 0));
        speak();
        const loop = times.map((t) => {
            const before = player.rig.aheadShown;
            player.animationFrame(t);
            return { png: rigTools.png(), ahead: player.rig.aheadShown - before, region: player.lastFrame.region };
        });
        speak();
        const direct = times.map((t) => { player.renderFrame(t); return rigTools.png(); });
        return { loop, direct };
    }""", sentence["result"])
    loop, direct = shots["loop"], shots["direct"]
    shown_ahead = [frame["ahead"] for frame in loop]
    assert sum(frame["region"] is not None for frame in loop) > 30  # the mouth moves in these frames
    assert sum(shown_ahead[1:30]) >= 25, shown_ahead  # steady 16 ms frames come from the frame before
    assert shown_ahead[30] == 0  # 50 ms after the last: drawn anew
    assert sum(shown_ahead[32:]) >= 6, shown_ahead  # and the next ones are drawn ahead again
    for index, (shown, drawn) in enumerate(zip(loop, direct, strict=True)):
        assert np.array_equal(decode_png(shown["png"]), decode_png(drawn)), f"frame {index} differs"


def test_speaking_on_the_audio_clock_most_frames_come_from_the_frame_before(demo, sentence):
    """With the real <audio> clock, whose steps the loop foresees from one frame to the next, the frames a
    spoken sentence shows are nearly all drawn ahead (the rest are drawn in their own frame)."""
    open_rig_page(demo, PHOTOREAL)
    counts = demo.evaluate("""async (result) => {
        const player = window.rigPage.player;
        const done = player.speak(result);
        await new Promise((resolve) => player.addEventListener('speechstart', resolve, { once: true }));
        const before = player.rig.aheadShown;
        let frames = 0;
        while (player.speaking) {  // what the player's own requestAnimationFrame loop does
            player.animationFrame(await new Promise(requestAnimationFrame));
            frames += 1;
        }
        await done;
        return { frames, ahead: player.rig.aheadShown - before };
    }""", sentence["result"])
    assert counts["frames"] > 60, counts  # seconds of speech at the display's frame rate
    assert counts["ahead"] >= 0.8 * counts["frames"], counts


def test_blink_and_gaze_deform_the_eyes(demo):
    open_rig_page(demo, PHOTOREAL)
    rig = rig_json(PHOTOREAL)

    def box_around(indices: list[int]) -> tuple[slice, slice]:
        xs, ys = zip(*(rig["vertices"][i] for i in indices), strict=True)
        return slice(int(min(ys)) - 4, int(max(ys)) + 5), slice(int(min(xs)) - 4, int(max(xs)) + 5)

    lids = box_around(rig["controls"]["blink_left"]["indices"] + rig["controls"]["blink_right"]["indices"])
    irises = box_around(rig["controls"]["gaze_x"]["indices"])
    shots = demo.evaluate("""() => {
        const player = window.rigPage.player;
        const names = player.rig.rig.controlNames;
        const shot = (pose) => { player.drawRig(names.map((name) => pose[name] ?? 0)); return rigTools.png(); };
        return {open: shot({}), closed: shot({blink_left: 1, blink_right: 1}), right: shot({gaze_x: 1}),
                again: shot({})};
    }""")
    open_, closed, right, again = (decode_png(shots[key]) for key in ("open", "closed", "right", "again"))
    assert np.abs(closed - open_)[lids].mean() > 4  # the lids close over the eyes
    assert np.abs(right - open_)[irises].max() > 20  # the irises move (an iris edge shifts by ~2 px)
    assert np.array_equal(again, open_)  # and everything comes back


BLOCK_WEBGL2 = """
const original = HTMLCanvasElement.prototype.getContext;
HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
  return type === 'webgl2' ? null : original.call(this, type, ...rest);
};
"""


def test_without_webgl2_the_player_says_so_and_uses_the_canvas_compositor(demo):
    messages = []
    demo.page.on("console", lambda message: messages.append(message.text))
    demo.page.add_init_script(BLOCK_WEBGL2)
    manifest = json.loads((WEB_DIR / "avatars" / PHOTOREAL / "manifest.json").read_text())
    open_rig_page(demo, PHOTOREAL)
    if manifest.get("mouth", {}).get("sprites"):
        assert demo.evaluate("window.rigPage.player.rendererName") == "canvas2d"
    assert any("WebGL2 is not available" in message for message in messages), messages


def test_format_1_packs_play_with_the_canvas_compositor(demo):
    messages = []
    demo.page.on("console", lambda message: messages.append(message.text))
    open_rig_page(demo, PLACEHOLDER)
    assert demo.evaluate("window.rigPage.player.rendererName") == "canvas2d"
    assert any("format 1" in message for message in messages), messages


def test_demo_draws_the_default_pack_with_its_rig_and_t_shows_the_mesh(demo):
    demo.open(motion="0")
    assert demo.evaluate("window.avatarDemo.player.rendererName") == "webgl2-rig"
    # The overlay draws the mesh in translucent cyan and the anchor boxes in #00ff66 / #00e5ff.
    count = """() => {
        const canvas = document.getElementById('avatar');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let boxes = 0, mesh = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (data[i] < 40 && data[i + 1] > 200) boxes += 1;
            else if (data[i + 2] > data[i] + 60 && data[i + 1] > data[i] + 40) mesh += 1;
        }
        return {boxes, mesh};
    }"""
    next_frame = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    before = demo.evaluate(count)
    demo.page.keyboard.press("t")
    demo.evaluate(next_frame)
    shown = demo.evaluate(count)
    assert shown["boxes"] > before["boxes"] + 500
    assert shown["mesh"] > before["mesh"] + 2000  # the mesh's edges over the face
    assert demo.errors == []
