"""The player's stream (web/player/stream.js) in real Chromium: gapless audio, the face on its clock, interrupt."""

import pytest

from tests.web.conftest import PLACEHOLDER, Demo

pytestmark = pytest.mark.browser

TEXT = (
    "Hello there, I am a talking avatar. I start speaking as soon as the first clause is complete, "
    "while the rest of the text is still arriving. That is all!"
)

# Writes TEXT word by word like a language model, then samples the face on every animation frame until the
# stream has played: at each sample the clock is read before and after drawing, and kept when unchanged.
STREAM_AND_SAMPLE = """
async ([text, interval]) => {
  const { player } = window.avatarDemo;
  const { mouthWeightsAt } = await import("/player/timeline.js");
  const stream = player.stream({});
  let finished = false;
  stream.finished.then(() => (finished = true));
  for (const word of text.split(" ")) {
    stream.write(word + " ");
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
  stream.end();
  const samples = [];
  const visemes = player.pack.manifest.mouth.visemes;
  const giveUpAt = performance.now() + 90_000;
  while (!finished && performance.now() < giveUpAt) {
    await new Promise(requestAnimationFrame);
    const before = stream.clockMs();
    player.renderFrame(performance.now());
    if (stream.clockMs() !== before || !player.speaking) continue;
    samples.push({
      t: before,
      drawn: player.lastFrame.mouthWeights,
      expected: mouthWeightsAt(player.speech.cues, before, visemes),
      cue: player.speech.cues.filter((cue) => cue.t_ms <= before).at(-1)?.viseme ?? "REST",
    });
  }
  return {
    scheduled: stream.scheduled, samples, rate: stream.sampleRate, contextRate: stream.context.sampleRate,
    underruns: stream.underruns, speaking: player.speaking, finished,
  };
}
"""


@pytest.fixture
def page(demo: Demo) -> Demo:
    demo.open(avatar=PLACEHOLDER, motion="0")
    return demo


def test_segments_play_back_to_back_and_the_mouth_follows_their_clock(page):
    # Written as fast as a fast language model writes, so each segment normally arrives before its turn.
    result = page.evaluate(STREAM_AND_SAMPLE, [TEXT, 10])
    scheduled, rate = result["scheduled"], result["rate"]
    assert result["finished"]
    assert rate == result["contextRate"] == 22050
    assert len(scheduled) >= 4
    for previous, following in zip(scheduled, scheduled[1:]):
        assert following["offsetSamples"] == previous["offsetSamples"] + previous["numSamples"]
        # Each segment starts on the sample where the previous one ends: within one sample, no gap or overlap.
        # Only a segment that came after its start time (a reported underrun, e.g. on an overloaded
        # machine) is moved later, by the delay.
        if not following["underrun"]:
            assert abs(following["startTime"] - previous["endTime"]) < 1 / rate, scheduled
    assert result["underruns"] == sum(entry["underrun"] for entry in scheduled) < len(scheduled) - 1
    assert not result["speaking"]  # the speech ended with the last segment's audio

    samples = result["samples"]
    assert len(samples) > 60  # ~5 s of speech at the frame rate
    for sample in samples:
        assert sample["drawn"] == pytest.approx(sample["expected"], abs=1e-9), sample["t"]
    speaking_shapes = {sample["cue"] for sample in samples} - {"REST"}
    assert len(speaking_shapes) >= 3  # the mouth really moved through the cues
    assert page.errors == []


def test_interrupt_silences_at_once_and_the_stream_takes_new_text(page):
    result = page.evaluate(
        """async (text) => {
          const { player } = window.avatarDemo;
          const stream = player.stream({});
          stream.write(text);
          stream.flush();
          await new Promise((resolve) => stream.addEventListener("segment", resolve, { once: true }));
          await new Promise((resolve) => setTimeout(resolve, 300));
          const before = stream.scheduled.length;
          const interrupted = new Promise((resolve) => stream.addEventListener("interrupted", (e) => resolve(e.detail)));
          stream.interrupt();
          const silenced = { sources: stream.sources.size, speaking: player.speaking };
          const ack = await interrupted;
          const droppedScheduled = stream.scheduled.length - before;
          stream.write("Something new.");
          stream.end();
          await stream.finished;
          return { silenced, ack, droppedScheduled, last: stream.scheduled.at(-1), count: stream.scheduled.length };
        }""",
        TEXT * 3,
    )
    assert result["silenced"] == {"sources": 0, "speaking": False}
    assert result["droppedScheduled"] == 0  # segments already on the wire were not played
    assert result["last"]["offsetSamples"] * 1000 / 22050 == pytest.approx(result["ack"]["offset_ms"], abs=1)
    assert page.errors == []


def test_demo_stream_mode_speaks_word_by_word(page):
    page.page.check("#stream-mode")
    page.page.fill("#text", "Streaming from the demo, one word at a time. Done.")
    page.page.click("#speak")
    page.page.wait_for_function("window.avatarDemo.stream?.scheduled.length >= 2", timeout=30_000)
    page.page.wait_for_function("document.querySelector('#speak').disabled === false", timeout=60_000)
    texts = page.evaluate("window.avatarDemo.stream.scheduled.map((s) => s.seq)")
    assert texts == list(range(len(texts)))
    assert page.page.text_content("#status") == "Ready"
    assert page.page.is_hidden("#error")
    assert page.errors == []
