"""The ``avatar-service`` command. Each area registers its own subcommands; this module only assembles them."""

import argparse
import logging
import os
import sys
from pathlib import Path

from avatar_service import __version__
from avatar_service.api import cli as api_cli
from avatar_service.errors import AvatarServiceError
from avatar_service.packs import cli as packs_cli
from avatar_service.queue import cli as queue_cli
from avatar_service.recordings import cli as recordings_cli

DESCRIPTION = (
    "Offline talking avatar: text in, Piper speech plus a timeline of mouth shapes and eye events out. "
    "Settings come from environment variables (DATA_DIR, PACKS_DIR, VOICES_DIR, ...; see the README)."
)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(args, "log_level", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except AvatarServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a path the user gave that cannot be read or written: one line, no traceback
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avatar-service", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"avatar-service {__version__}")
    parser.set_defaults(handler=lambda _args: parser.print_help() or 1)
    subparsers = parser.add_subparsers(title="commands")
    _register_render(subparsers)
    _register_voices(subparsers)
    queue_cli.register(subparsers)
    api_cli.register(subparsers)
    packs_cli.register(subparsers)
    recordings_cli.register(subparsers)
    return parser


def _register_render(subparsers: argparse._SubParsersAction) -> None:
    render = subparsers.add_parser("render", help="render TEXT to audio + a cue timeline (JSON on stdout)")
    render.add_argument("text")
    render.add_argument("--voice", default=None, help="voice id (default: DEFAULT_VOICE or the bundled voice)")
    render.add_argument("--speed", type=float, default=1.0, help="0.5-2.0; 2.0 is twice as fast")
    render.add_argument("--out", type=Path, default=Path("."), help="directory for the audio and JSON")
    render.add_argument("--format", choices=("ogg", "wav"), default="ogg")
    render.set_defaults(handler=_render)


def _render(args: argparse.Namespace) -> int:
    from avatar_service.config import Settings
    from avatar_service.pipeline import Renderer
    from avatar_service.schemas import RenderResult, parse_request

    request = parse_request(text=args.text, voice_id=args.voice, speed=args.speed)
    _check_writable_dir(args.out)
    renderer = Renderer(Settings())
    record = renderer.render(request, audio_format=args.format, audio_dir=args.out)
    audio_path = (args.out / record.audio_file).resolve()
    result = RenderResult.from_record(record, audio_url=audio_path.as_uri(), cached=False)
    payload = result.model_dump_json(indent=2)
    (args.out / f"{record.render_id}.json").write_text(payload + "\n", encoding="utf-8")
    print(payload)
    return 0


def _check_writable_dir(directory: Path) -> None:
    """Refuse an output directory that cannot be made or written before rendering anything into it."""
    from avatar_service.errors import InvalidInput

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput("out", f"cannot create directory {directory}: {error.strerror}") from None
    if not os.access(directory, os.W_OK):
        raise InvalidInput("out", f"directory {directory} is not writable")


def _register_voices(subparsers: argparse._SubParsersAction) -> None:
    voices = subparsers.add_parser("voices", help="list or download Piper voices")
    voice_commands = voices.add_subparsers(title="voices commands", required=True)
    listing = voice_commands.add_parser("list", help="installed voice ids (the default is marked)")
    listing.set_defaults(handler=_voices_list)
    download = voice_commands.add_parser("download", help="download a Piper voice into VOICES_DIR")
    download.add_argument("voice_id", help="e.g. en_US-lessac-medium")
    download.set_defaults(handler=_voices_download)


def _voices_list(_args: argparse.Namespace) -> int:
    from avatar_service.config import Settings
    from avatar_service.tts import VoiceCatalog

    settings = Settings()
    catalog = VoiceCatalog(settings.resolved_voices_dir, settings.default_voice, settings.piper_model)
    default = catalog.default_id()
    for voice_id, files in sorted(catalog.all().items()):
        marker = "*" if voice_id == default else " "
        print(f"{marker} {voice_id}\t{files.model_path}")
    return 0


def _voices_download(args: argparse.Namespace) -> int:
    from avatar_service.config import Settings
    from avatar_service.errors import InvalidVoiceModel
    from avatar_service.pipeline import Renderer
    from avatar_service.tts import VoiceFiles
    from avatar_service.tts.download import download_voice

    settings = Settings()
    model = download_voice(args.voice_id, settings.resolved_voices_dir, settings.piper_voices_url)
    files = VoiceFiles(args.voice_id, model, model.with_name(model.name + ".json"))
    try:
        Renderer(settings).engine.load(files)  # a download that is not a working model is removed
    except InvalidVoiceModel:
        model.unlink(missing_ok=True)
        files.config_path.unlink(missing_ok=True)
        raise
    print(f"downloaded {args.voice_id} to {model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
