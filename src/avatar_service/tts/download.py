"""Download a Piper voice (model + config) into VOICES_DIR from the piper-voices repository layout."""

import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from avatar_service.errors import AvatarServiceError, InvalidInput

# en_US-lessac-medium → language family "en", code "en_US", name "lessac", quality "medium".
VOICE_ID = re.compile(r"^(?P<family>[a-z]{2,3})_(?P<region>[A-Za-z0-9]+)-(?P<name>[\w]+)-(?P<quality>[\w]+)$")
TIMEOUT_SECONDS = 60


class DownloadFailed(AvatarServiceError):
    pass


def voice_urls(voice_id: str, base_url: str) -> tuple[str, str]:
    match = VOICE_ID.match(voice_id)
    if not match:
        raise InvalidInput(
            "voice_id", f"{voice_id!r} is not a Piper voice id like en_US-lessac-medium"
        )
    family, region, name, quality = match.group("family", "region", "name", "quality")
    folder = f"{base_url.rstrip('/')}/{family}/{family}_{region}/{name}/{quality}/{voice_id}"
    return f"{folder}.onnx", f"{folder}.onnx.json"


def download_voice(voice_id: str, voices_dir: Path, base_url: str) -> Path:
    """Fetch both files; nothing is left in ``voices_dir`` unless both arrived whole. Returns the model path."""
    model_url, config_url = voice_urls(voice_id, base_url)
    voices_dir.mkdir(parents=True, exist_ok=True)
    model = voices_dir / f"{voice_id}.onnx"
    config = voices_dir / f"{voice_id}.onnx.json"
    partial_model = _fetch(model_url, model)
    try:
        partial_config = _fetch(config_url, config)
    except DownloadFailed:
        partial_model.unlink(missing_ok=True)
        raise
    partial_config.replace(config)
    partial_model.replace(model)
    return model


def _fetch(url: str, target: Path) -> Path:
    partial = target.with_name(f".{target.name}.partial")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise DownloadFailed(f"could not download {url}: {reason}") from None
    return partial
