"""The audio behind audio_url: decodes to duration_ms, right content type, Range requests, immutable caching."""

from avatar_service.audio import decode_mono


def test_served_audio_decodes_to_duration_ms(live, tmp_path):
    result = live.render("Listen to how long this is.").json()

    response = live.client.get(result["audio_url"])

    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/ogg"
    downloaded = tmp_path / "speech.ogg"
    downloaded.write_bytes(response.content)
    samples, rate = decode_mono(downloaded)
    assert abs(len(samples) * 1000 / rate - result["duration_ms"]) <= 5


def test_audio_supports_range_requests_and_long_lived_caching(live):
    url = live.render("Seek into the middle of me.").json()["audio_url"]
    whole = live.client.get(url)

    partial = live.client.get(url, headers={"Range": "bytes=100-199"})
    tail = live.client.get(url, headers={"Range": "bytes=-50"})
    head = live.client.head(url)

    assert partial.status_code == 206
    assert partial.content == whole.content[100:200]
    assert partial.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert tail.status_code == 206 and tail.content == whole.content[-50:]
    assert whole.headers["accept-ranges"] == "bytes"
    for response in (whole, partial, head):
        assert "immutable" in response.headers["cache-control"]
        assert "max-age=31536000" in response.headers["cache-control"]
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(whole.content)


def test_wav_files_get_the_wav_content_type(live):
    # The pipeline falls back to WAV when Opus fails; such a file must be served as audio/wav.
    name = "f" * 32 + ".wav"
    (live.settings.audio_dir / name).write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")

    response = live.client.get(f"/audio/{name}")

    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"


def test_missing_audio_is_404(live):
    response = live.client.get("/audio/" + "e" * 32 + ".ogg")
    assert response.status_code == 404 and response.json()["field"] == "file_name"
