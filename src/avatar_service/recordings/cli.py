"""`avatar-service lipsync AUDIO`: mouth cues for a recording, as our render JSON or in Rhubarb's formats."""

import argparse
import sys
from pathlib import Path

from avatar_service.errors import InvalidInput

OUTPUT_FORMATS = ("json", "rhubarb-tsv", "rhubarb-json", "rhubarb-xml", "dat")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lipsync",
        help="mouth cues for an audio recording (our JSON, or Rhubarb Lip Sync's tsv/json/xml/dat)",
        description=(
            "Lip-sync a recording: WAV, MP3, OGG/Opus, FLAC, M4A/AAC or WebM, up to 10 minutes and 50 MB. "
            "With a transcript the words are force-aligned; without one they are recognised first (English)."
        ),
    )
    parser.add_argument("audio", type=Path, help="the recording")
    transcript = parser.add_mutually_exclusive_group()
    transcript.add_argument("--transcript", type=Path, help="a UTF-8 text file with what is said")
    transcript.add_argument("--text", help="what is said, given inline")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="json", help="output format (default: json)")
    parser.add_argument("--out", type=Path, help="output file (default: stdout)")
    parser.add_argument(
        "--dat-frame-rate", type=float, default=24.0, help="frames per second for --format dat (10-100, default 24)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from avatar_service.lipsync import rhubarb

    transcript = _read_transcript(args.transcript) if args.transcript is not None else args.text
    if not rhubarb.MIN_DAT_FRAME_RATE <= args.dat_frame_rate <= rhubarb.MAX_DAT_FRAME_RATE:
        raise InvalidInput(
            "dat_frame_rate",
            f"{args.dat_frame_rate:g} is outside {rhubarb.MIN_DAT_FRAME_RATE:g}-{rhubarb.MAX_DAT_FRAME_RATE:g} fps",
        )
    if args.format == "json":
        payload = _render_json(args.audio, transcript, (args.out or Path("x")).resolve().parent)
    else:
        from avatar_service.recordings.pipeline import time_recording

        timed = time_recording(args.audio, transcript)
        payload = rhubarb.export(
            args.format, timed.cues, timed.recording.duration_ms, str(args.audio), args.dat_frame_rate
        )
    if args.out is None:
        sys.stdout.write(payload)
    else:
        args.out.write_text(payload, encoding="utf-8")
    return 0


def _render_json(audio: Path, transcript: str | None, audio_dir: Path) -> str:
    """Our render result; the audio is stored as OGG/Opus next to the output file (or in the current directory)."""
    from avatar_service.recordings.pipeline import lipsync
    from avatar_service.schemas import RenderResult

    record = lipsync(audio, transcript, audio_dir)
    result = RenderResult.from_record(record, (audio_dir / record.audio_file).as_uri(), cached=False)
    return result.model_dump_json(indent=2) + "\n"


def _read_transcript(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput("transcript", f"no such file: {path}") from None
    except UnicodeDecodeError:
        raise InvalidInput("transcript", f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise InvalidInput("transcript", f"cannot read {path}: {error.strerror}") from None
