"""The whole render pipeline: audio files, durations, speed, bad input."""

import json
import subprocess
import sys
import wave

import pytest

from avatar_service import audio
from avatar_service.audio import decode_mono
from avatar_service.errors import InvalidInput, InvalidVoiceModel, UnknownVoice
from avatar_service.pipeline import Renderer
from avatar_service.schemas import MAX_TEXT_CHARS, parse_request

TEXT = "The service speaks, and the avatar's mouth follows every word."


def test_ogg_opus_audio_matches_duration_and_bitrate(renderer):
    record = renderer.render(parse_request(text=TEXT))
    path = renderer.settings.audio_dir / record.audio_file
    assert path.suffix == ".ogg"
    assert path.read_bytes()[:4] == b"OggS"
    samples, rate = decode_mono(path)
    assert abs(len(samples) * 1000 / rate - record.duration_ms) <= 5
    bytes_per_second = path.stat().st_size / (record.duration_ms / 1000)
    assert 3_000 <= bytes_per_second <= 9_000  # ~6 KB/s at 48 kbit/s


def test_wav_format(renderer, tmp_path):
    record = renderer.render(parse_request(text="Short and plain."), audio_format="wav", audio_dir=tmp_path)
    with wave.open(str(tmp_path / record.audio_file)) as wav:
        assert abs(wav.getnframes() * 1000 / wav.getframerate() - record.duration_ms) <= 1


def test_wav_fallback_when_opus_encoding_fails(renderer, tmp_path, monkeypatch):
    def broken_encoder(samples, sample_rate):
        raise RuntimeError("libopus missing")

    monkeypatch.setattr(audio, "encode_ogg_opus", broken_encoder)
    record = renderer.render(parse_request(text="Fallback please."), audio_dir=tmp_path)
    assert record.audio_file.endswith(".wav")
    assert (tmp_path / record.audio_file).read_bytes()[:4] == b"RIFF"


def test_speed_two_is_about_half_as_long(renderer):
    text = "Speaking twice as fast should take about half as long as speaking normally."
    normal = renderer.render(parse_request(text=text, speed=1.0)).duration_ms
    fast = renderer.render(parse_request(text=text, speed=2.0)).duration_ms
    slow = renderer.render(parse_request(text=text, speed=0.5)).duration_ms
    assert 0.4 <= fast / normal <= 0.62
    assert 1.6 <= slow / normal <= 2.4


def test_render_id_is_a_content_hash(renderer):
    a = renderer.resolve(parse_request(text="Same text."))
    assert a == renderer.resolve(parse_request(text="Same text."))
    assert a != renderer.resolve(parse_request(text="Same text.", speed=1.5))
    assert a != renderer.resolve(parse_request(text="Other text."))
    voice_id, render_id = a
    assert voice_id == "en_US-joe-medium" and len(render_id) == 32


@pytest.mark.parametrize(
    ("fields", "field", "limit"),
    [
        ({"text": ""}, "text", "1-5000"),
        ({"text": "   \n\t "}, "text", "1-5000"),
        ({"text": "a" * (MAX_TEXT_CHARS + 1)}, "text", "5000"),
        ({"text": "hi", "speed": 2.5}, "speed", "2.0"),
        ({"text": "hi", "speed": 0.1}, "speed", "0.5"),
    ],
)
def test_bad_requests_name_field_and_limit(fields, field, limit):
    with pytest.raises(InvalidInput) as caught:
        parse_request(**fields)
    assert caught.value.field == field
    assert limit in str(caught.value)


def test_unknown_voice_lists_installed_ones(renderer):
    with pytest.raises(UnknownVoice) as caught:
        renderer.resolve(parse_request(text="hi", voice_id="xx_XX-nobody-low"))
    assert "en_US-joe-medium" in str(caught.value)
    assert caught.value.field == "voice_id"


def test_corrupt_voice_model_is_a_clear_error(settings):
    settings.voices_dir.mkdir(parents=True)
    (settings.voices_dir / "en_US-broken-medium.onnx").write_bytes(b"this is not onnx")
    (settings.voices_dir / "en_US-broken-medium.onnx.json").write_text("{}")
    renderer = Renderer(settings)
    assert "en_US-broken-medium" in renderer.voice_ids()
    with pytest.raises(InvalidVoiceModel, match="en_US-broken-medium"):
        renderer.render(parse_request(text="hi", voice_id="en_US-broken-medium"))


def test_same_request_gives_identical_audio_and_timeline_in_one_process_and_in_a_fresh_one(renderer, tmp_path):
    text = "Say it twice. It must sound exactly the same, and the mouth must move the same way!"
    first = renderer.render(parse_request(text=text), audio_dir=tmp_path)
    first_audio = (tmp_path / first.audio_file).read_bytes()
    again_dir = tmp_path / "again"
    again_dir.mkdir()
    again = renderer.render(parse_request(text=text), audio_dir=again_dir)
    assert (again_dir / again.audio_file).read_bytes() == first_audio
    assert (again.duration_ms, again.mouth_cues, again.eye_events) == (
        first.duration_ms, first.mouth_cues, first.eye_events
    )

    fresh_dir = tmp_path / "fresh"
    done = subprocess.run(
        [sys.executable, "-m", "avatar_service", "render", text, "--out", str(fresh_dir)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    fresh = json.loads(done.stdout)
    assert fresh["render_id"] == first.render_id
    assert (fresh_dir / first.audio_file).read_bytes() == first_audio
    assert fresh["duration_ms"] == first.duration_ms
    assert fresh["mouth_cues"] == [cue.model_dump(mode="json") for cue in first.mouth_cues]
    assert fresh["eye_events"] == [event.model_dump(mode="json") for event in first.eye_events]
