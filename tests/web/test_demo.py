"""The demo page and the AvatarPlayer in real headless Chromium, against the real `avatar-service serve`."""

import json

import pytest

from tests.support.placeholder_pack import manifest as placeholder_manifest
from tests.web.conftest import PHOTOREAL, PLACEHOLDER

pytestmark = pytest.mark.browser

# Mean per-channel difference (0..255) that counts as "the region changed": far above the zero difference
# of identical frames, far below what a different mouth shape or a closed eyelid makes.
CHANGED = 4.0
# What still counts as "the same picture" (resampling noise is well under one level).
SAME = 0.5


def test_page_loads_without_console_errors(demo):
    demo.open()
    assert demo.page.inner_text("#status") == "Ready"
    voices = demo.page.eval_on_selector_all("#voice option", "options => options.map(o => o.value)")
    assert "en_US-joe-medium" in voices
    avatars = demo.page.eval_on_selector_all("#avatar-select option", "options => options.map(o => o.value)")
    assert PLACEHOLDER in avatars
    assert demo.page.is_hidden("#error")
    assert demo.errors == []


def test_an_unknown_avatar_is_said_not_silently_replaced(demo):
    demo.open(avatar="no_such_pack")
    message = demo.page.inner_text("#error")
    assert 'No avatar pack "no_such_pack"' in message and PHOTOREAL in message, message
    assert demo.evaluate("document.getElementById('avatar-select').value") == PHOTOREAL


def test_speak_plays_audio_moves_the_mouth_and_settles_back_to_rest(demo):
    demo.open(avatar=PLACEHOLDER, motion="0")
    demo.evaluate("window.avatarDemo.player.idleBlinks = false")
    box = demo.evaluate("__pixels.layerBox('mouth')")
    demo.evaluate("box => { window.__rest = __pixels.grab(box); }", box)
    # Record every status the page shows, so a short "Rendering…" is not missed.
    demo.evaluate("""() => {
        window.__statuses = [];
        new MutationObserver(() => __statuses.push(document.getElementById('status').textContent))
            .observe(document.getElementById('status'), {childList: true, characterData: true, subtree: true});
    }""")
    demo.page.fill("#text", "Wow, a talking avatar! Open wide and say ah, oh, and ee.")
    demo.page.click("#speak")
    demo.page.wait_for_function("window.avatarDemo.player.speaking", timeout=30_000)
    during = demo.evaluate("""async box => {
        const audio = window.avatarDemo.player.audio;
        const start = audio.currentTime;
        const largest = await __pixels.maxDiffOver(box, window.__rest, 1500);
        return {start, end: audio.currentTime, paused: audio.paused, largest};
    }""", box)
    assert during["end"] - during["start"] > 1.0, during  # the audio clock runs: the sound is playing
    assert during["largest"] > CHANGED, during

    demo.page.wait_for_function("!window.avatarDemo.player.speaking", timeout=30_000)
    demo.page.wait_for_timeout(400)  # the release tail (ATTACK_MS + RELEASE_MS) has passed
    after = demo.evaluate("box => __pixels.diff(__pixels.grab(box), window.__rest)", box)
    assert after < SAME
    assert demo.evaluate("window.avatarDemo.player.lastFrame.mouthWeights[0]") == 1  # REST only
    statuses = demo.evaluate("window.__statuses")
    assert any(status.startswith("Rendering") for status in statuses), statuses
    assert any(status.startswith("Speaking") for status in statuses), statuses
    assert demo.page.inner_text("#status") == "Ready"
    assert demo.errors == []


def test_mouth_follows_the_audio_clock_not_wall_time(demo):
    demo.open(avatar=PLACEHOLDER, motion="0")
    result = demo.evaluate("window.avatarDemo.player.render('Paused speech keeps its mouth shape.')")
    demo.evaluate("result => { window.avatarDemo.player.speak(result); }", result)
    demo.page.wait_for_function("window.avatarDemo.player.audio.currentTime > 0.6", timeout=20_000)
    demo.evaluate("window.avatarDemo.player.audio.pause()")
    frozen = demo.evaluate("""async () => {
        const player = window.avatarDemo.player;
        await new Promise(r => setTimeout(r, 100));
        const first = [...player.lastFrame.mouthWeights];
        await new Promise(r => setTimeout(r, 500));
        return {first, second: player.lastFrame.mouthWeights, t: player.audio.currentTime};
    }""")
    # Wall time went on for half a second; the audio clock did not, so neither did the mouth.
    assert frozen["first"] == frozen["second"], frozen
    demo.evaluate("window.avatarDemo.player.stop()")


def test_blink_changes_the_eye_region(demo):
    demo.open(avatar=PLACEHOLDER, motion="0")
    demo.evaluate("window.avatarDemo.player.idleBlinks = false")
    demo.page.wait_for_timeout(400)  # any idle blink already under way has finished
    box = demo.evaluate("__pixels.layerBox('eyes')")
    largest = demo.evaluate("""async box => {
        const player = window.avatarDemo.player;
        const open = __pixels.grab(box);
        player.blink({durationMs: 500, amplitude: 1});
        const largest = await __pixels.maxDiffOver(box, open, 450);
        await new Promise(r => setTimeout(r, 300));
        return {largest, after: __pixels.diff(__pixels.grab(box), open)};
    }""", box)
    assert largest["largest"] > CHANGED, largest
    assert largest["after"] < SAME, largest  # the lids open again


def test_idle_blinks_happen_by_themselves(demo):
    demo.open(avatar=PLACEHOLDER, motion="0")
    box = demo.evaluate("__pixels.layerBox('eyes')")
    # The placeholder's manifest asks for an idle blink every 3–6 s.
    seen = demo.evaluate("""async box => {
        const reference = __pixels.grab(box);
        const start = performance.now();
        while (performance.now() - start < 7000) {
            await new Promise(requestAnimationFrame);
            if (__pixels.diff(__pixels.grab(box), reference) > 4) return (performance.now() - start) / 1000;
        }
        return null;
    }""", box)
    assert seen is not None, "no idle blink within 7 s"


def test_head_micro_motion_moves_the_picture_unless_turned_off(demo):
    top = {"x": 96, "y": 100, "width": 320, "height": 80}  # hair outline: moves with the head, no blinking
    demo.open(avatar=PLACEHOLDER)
    moving = demo.evaluate("""async box => {
        const first = __pixels.grab(box);
        return __pixels.maxDiffOver(box, first, 1200);
    }""", top)
    demo.open(avatar=PLACEHOLDER, motion="0")
    still = demo.evaluate("""async box => {
        const first = __pixels.grab(box);
        return __pixels.maxDiffOver(box, first, 1200);
    }""", top)
    assert moving > 0.1  # a 1-2 px bob shifts the hair outline
    assert still == 0


def test_t_toggles_the_anchor_overlay(demo):
    demo.open(avatar=PLACEHOLDER, motion="0")
    # The overlay strokes the mouth box in #00ff66 and the eye box in #00e5ff: count such pixels.
    count = """() => {
        const canvas = document.getElementById('avatar');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] < 40 && data[i + 1] > 200) n += 1;
        return n;
    }"""
    next_frame = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    assert demo.evaluate(count) == 0
    demo.page.keyboard.press("t")
    demo.evaluate(next_frame)
    assert demo.evaluate(count) > 500
    demo.page.keyboard.press("t")
    demo.evaluate(next_frame)
    assert demo.evaluate(count) == 0
    # Typing a "t" into the text box is text, not a shortcut.
    demo.page.click("#text")
    demo.page.keyboard.press("t")
    demo.evaluate(next_frame)
    assert demo.evaluate(count) == 0


def test_calibration_keys_move_the_anchor_and_persist_across_reload(demo):
    demo.open(avatar=PLACEHOLDER, motion="0")
    manifest = placeholder_manifest()
    mouth, eyes = manifest["mouth"], manifest["eyes"]
    layout = "part => window.avatarDemo.player.getLayout(part)"
    selection_pixels = """() => {
        const canvas = document.getElementById('avatar');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;  // the selection rectangle is #ff9800
        for (let i = 0; i < data.length; i += 4) if (data[i] > 240 && Math.abs(data[i + 1] - 152) < 20 && data[i + 2] < 30) n += 1;
        return n;
    }"""
    assert demo.evaluate(selection_pixels) == 0

    demo.page.keyboard.press("c")
    assert demo.page.is_checked("#calibrate")
    demo.page.wait_for_timeout(100)
    assert demo.evaluate(selection_pixels) > 300  # a visible selection rectangle
    for key in ["ArrowRight", "ArrowRight", "ArrowRight", "ArrowDown", "ArrowDown", "Shift+ArrowRight", "Shift+ArrowUp"]:
        demo.page.keyboard.press(key)
    demo.page.keyboard.press("Tab")
    assert demo.page.inner_text("#calibration-part") == "eyes"
    demo.page.keyboard.press("ArrowUp")

    moved_mouth = {"anchor": {"x": mouth["anchor"]["x"] + 3, "y": mouth["anchor"]["y"] + 2},
                   "size": {"width": mouth["size"]["width"] + 2, "height": mouth["size"]["height"] + 2}}
    moved_eyes = {"anchor": {"x": eyes["anchor"]["x"], "y": eyes["anchor"]["y"] - 1}, "size": eyes["size"]}
    assert demo.evaluate(layout, "mouth") == moved_mouth
    assert demo.evaluate(layout, "eyes") == moved_eyes
    assert demo.evaluate("window.avatarDemo.player.lastFrame.mouth.x") == moved_mouth["anchor"]["x"]

    demo.page.reload()
    demo.evaluate("window.avatarDemo.ready")
    assert demo.evaluate(layout, "mouth") == moved_mouth
    assert demo.evaluate(layout, "eyes") == moved_eyes

    demo.page.click("#copy-manifest")
    exported = json.loads(demo.page.input_value("#manifest-json"))
    assert exported["mouth"]["anchor"] == moved_mouth["anchor"]
    assert exported["eyes"]["anchor"] == moved_eyes["anchor"]
    assert exported["id"] == PLACEHOLDER

    demo.page.click("#reset-calibration")
    assert demo.evaluate(layout, "mouth") == {"anchor": mouth["anchor"], "size": mouth["size"]}
    # The checkbox toggles the mode as well (it starts off after the reload).
    demo.page.click("#calibrate")
    assert demo.evaluate("window.avatarDemo.calibration.enabled") is True
    demo.page.click("#calibrate")
    assert demo.evaluate("window.avatarDemo.calibration.enabled") is False
    assert demo.errors == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("x" * 5001, "5000"), ("   ", "text")],
    ids=["too-long", "blank"],
)
def test_api_errors_are_shown_in_the_page(demo, text, expected):
    demo.open(avatar=PLACEHOLDER)
    demo.page.fill("#text", text)
    demo.page.click("#speak")
    demo.page.wait_for_selector("#error:not([hidden])", timeout=10_000)
    message = demo.page.inner_text("#error")
    assert expected in message and "text" in message, message
    assert demo.page.is_enabled("#speak")
    # A failed say() rejects with the API's message too, for pages that embed the player.
    thrown = demo.evaluate("""text => window.avatarDemo.player.say(text).then(
        () => null, error => ({name: error.name, status: error.status, message: error.message}))""", text)
    assert thrown["name"] == "AvatarApiError" and thrown["status"] == 422 and expected in thrown["message"]


def test_timeline_functions(demo):
    """The pure functions behind the animation, run in the browser as the player runs them."""
    demo.open(avatar=PLACEHOLDER, motion="0")
    checks = demo.evaluate("""async () => {
        const t = await import('/player/timeline.js');
        const visemes = ['REST', 'AA', 'EE', 'OH', 'OO', 'FF', 'TH'];
        const cues = [{t_ms: 0, viseme: 'REST', weight: 0}, {t_ms: 100, viseme: 'AA', weight: 1},
                      {t_ms: 300, viseme: 'OO', weight: 0.8}, {t_ms: 450, viseme: 'REST', weight: 0}];
        let maxStep = 0, maxSumError = 0, prev = t.mouthWeightsAt(cues, 0, visemes);
        for (let ms = 1; ms <= 700; ms += 1) {
            const w = t.mouthWeightsAt(cues, ms, visemes);
            maxSumError = Math.max(maxSumError, Math.abs(w.reduce((a, b) => a + b, 0) - 1));
            maxStep = Math.max(maxStep, ...w.map((x, i) => Math.abs(x - prev[i])));
            prev = w;
        }
        const aaOpenAt = ms => t.mouthWeightsAt(cues, ms, visemes)[1];
        const opened = [...Array(300).keys()].find(ms => aaOpenAt(100 + ms) >= 0.9);
        const ooAt = ms => t.mouthWeightsAt(cues, ms, visemes)[4];
        const closed = [...Array(300).keys()].find(ms => ooAt(450 + ms) <= 0.08);
        const timeline = {fps: 10, frames: [
            {mouth: [100, 200], eyes: [100, 100], face_size: 200, roll_deg: 0},
            {mouth: [110, 204], eyes: [102, 100], face_size: 220, roll_deg: 2}]};
        const mid = t.anchorFrameAt(timeline, 0.05);
        const wrap = t.anchorFrameAt(timeline, 0.15);
        const placed = t.placeLayer({x: 256, y: 470}, {width: 160, height: 120}, 'mouth', mid,
                                    {mouth: [100, 200], eyes: [100, 100], face_size: 200});
        const events = [{t_ms: 0, event_type: 'blink', duration_ms: 300, amplitude: 1},
                        {t_ms: 1000, event_type: 'saccade', duration_ms: 40, direction: 'left', amplitude: 1}];
        return {
            maxStep, maxSumError, opened, closed,
            restAtStart: t.mouthWeightsAt(cues, 50, visemes)[0],
            restAtEnd: t.mouthWeightsAt(cues, 700, visemes)[0],
            mid, wrap, placed,
            blinkMid: t.eyeStateAt(events, 150).closure, blinkAfter: t.eyeStateAt(events, 400).closure,
            gazeBefore: t.eyeStateAt(events, 999).gaze, gazeAfter: t.eyeStateAt(events, 1100).gaze,
            halfClosed: t.eyeWeightsForClosure(0.5),
        };
    }""")
    assert checks["maxSumError"] < 1e-9  # frame weights always sum to 1
    assert checks["maxStep"] < 0.1  # no snapping: never more than a tenth of a shape per millisecond
    assert checks["restAtStart"] == 1 and checks["restAtEnd"] == 1
    assert checks["opened"] < checks["closed"]  # pops open fast, closes slower
    assert checks["mid"] == {"mouth": [105, 202], "eyes": [101, 100], "face_size": 210, "roll_deg": 1}
    assert checks["wrap"]["mouth"] == [105, 202]  # past the last frame it blends back into frame 0
    assert checks["placed"]["x"] == 261 and checks["placed"]["y"] == 472
    assert checks["placed"]["width"] == pytest.approx(168) and checks["placed"]["rotation"] == pytest.approx(0.017453, abs=1e-5)
    assert checks["blinkMid"] == 1 and checks["blinkAfter"] == 0
    assert checks["gazeBefore"] == [0, 0] and checks["gazeAfter"] == [-1, 0]
    assert checks["halfClosed"] == {"open": 0, "half": 1, "closed": 0}


def test_photoreal_pack_is_the_default_and_animates(demo):
    demo.open()
    assert demo.page.input_value("#avatar-select") == PHOTOREAL
    assert demo.evaluate("window.avatarDemo.player.pack.manifest.id") == PHOTOREAL
    demo.evaluate("window.avatarDemo.player.idleBlinks = false")
    box = demo.evaluate("__pixels.layerBox('mouth')")
    # The idle video moves the whole face by itself (as much as a small mouth movement inside this box): hold
    # it on one frame, measure what is left, then speech on top of it.
    demo.page.wait_for_function("window.avatarDemo.player.pack.video?.readyState >= 2")
    demo.evaluate("window.avatarDemo.player.pack.video.pause()")
    idle = demo.evaluate("async box => __pixels.maxDiffOver(box, __pixels.grab(box), 1200)", box)
    demo.evaluate("box => { window.__before = __pixels.grab(box); }", box)
    demo.page.fill("#text", "Grace Hopper says: a ship in port is safe, but that is not what ships are built for.")
    demo.page.click("#speak")
    demo.page.wait_for_function("window.avatarDemo.player.speaking", timeout=30_000)
    speaking = demo.evaluate("async box => __pixels.maxDiffOver(box, window.__before, 2000)", box)
    assert speaking > max(CHANGED, 2 * idle), (speaking, idle)
    if demo.evaluate("!!window.avatarDemo.player.pack.timeline"):
        # The overlays follow the tracked face: the mouth layer sits where the timeline puts it.
        offsets = demo.evaluate("""async () => {
            const t = await import('/player/timeline.js');
            const player = window.avatarDemo.player;
            const {timeline, video, layout} = player.pack;
            await new Promise(requestAnimationFrame);
            const frame = t.anchorFrameAt(timeline, video.currentTime);
            return {drawn: player.lastFrame.mouth.x - layout.mouth.anchor.x,
                    tracked: frame.mouth[0] - timeline.reference.mouth[0], ready: video.readyState};
        }""")
        assert offsets["ready"] >= 2
        assert offsets["drawn"] == pytest.approx(offsets["tracked"], abs=0.5)
    demo.evaluate("window.avatarDemo.player.stop()")
    assert demo.errors == []


EMBED_PAGE = """<!doctype html><html><body><canvas id="avatar"></canvas>
<script type="module">
  import { AvatarPlayer } from "/player/avatar-player.js";
  const player = new AvatarPlayer(document.getElementById("avatar"));
  const events = [];
  for (const name of ["packloaded", "speechstart", "speechend"]) player.addEventListener(name, () => events.push(name));
  window.embedded = { player, events, ready: player.loadPack("/avatars/PACK_ID/manifest.json") };
</script></body></html>""".replace("PACK_ID", PLACEHOLDER)


def test_player_embeds_in_another_page(demo):
    """A page of the user's own, not the demo: import the module, load a pack, say() something."""
    page = demo.page
    page.route(f"{demo.base_url}/my-page.html", lambda route: route.fulfill(body=EMBED_PAGE, content_type="text/html"))
    page.goto(f"{demo.base_url}/my-page.html")
    page.wait_for_function("window.embedded !== undefined")
    assert page.evaluate("window.embedded.ready.then(manifest => manifest.id)") == PLACEHOLDER
    result = page.evaluate("window.embedded.player.say('Embedding is easy.', {speed: 1.5})")
    assert result["status"] == "completed" and result["mouth_cues"]
    assert page.evaluate("window.embedded.events") == ["packloaded", "speechstart", "speechend"]
    assert page.evaluate("window.embedded.player.speaking") is False
    assert demo.errors == []


def test_saccades_shift_the_eyes_and_gaze_returns_after_speech(demo):
    demo.open(avatar=PLACEHOLDER, motion="0")
    demo.evaluate("window.avatarDemo.player.idleBlinks = false")
    demo.page.wait_for_timeout(400)
    box = demo.evaluate("__pixels.layerBox('eyes')")
    real = demo.evaluate("window.avatarDemo.player.render('Look to the right, then back at me.')")
    # The real audio with a timeline of our own: one full-size glance to the right at 200 ms, no mouth cues.
    glance = {**real, "mouth_cues": [],
              "eye_events": [{"t_ms": 200, "event_type": "saccade", "duration_ms": 60, "direction": "right", "amplitude": 1}]}
    seen = demo.evaluate("""async ([box, result]) => {
        const player = window.avatarDemo.player;
        const ahead = __pixels.grab(box);
        const done = player.speak(result);
        while (player.audio.currentTime < 0.5) await new Promise(requestAnimationFrame);
        const during = {shift: player.lastFrame.gazeShift, diff: __pixels.diff(__pixels.grab(box), ahead)};
        await done;
        await new Promise(r => setTimeout(r, 600));
        return {during, after: {shift: player.lastFrame.gazeShift, diff: __pixels.diff(__pixels.grab(box), ahead)}};
    }""", [box, glance])
    saccade_px = placeholder_manifest()["eyes"]["saccade_px"]
    assert seen["during"]["shift"] == [saccade_px, 0]
    assert seen["during"]["diff"] > SAME
    assert seen["after"]["shift"] == [0, 0] and seen["after"]["diff"] < SAME
