"""`avatar-service anchors` (also `python -m avatar_service.tracking`): the anchor timeline of a pack."""

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--avatar-id", required=True)
    parser.add_argument("--input", required=True, type=Path, help="the pack's idle video, e.g. idle_loop.webm")
    parser.add_argument("--packs-dir", type=Path, default=None, help="default: PACKS_DIR ($DATA_DIR/avatars)")
    parser.set_defaults(handler=run_anchors)


def register(subparsers: argparse._SubParsersAction) -> None:
    add_arguments(subparsers.add_parser("anchors", help="track the face in an idle video -> anchor_timeline.json"))


def run_anchors(args: argparse.Namespace) -> int:
    from avatar_service.packs.cli import pack_dir
    from avatar_service.packs.validate import validate_pack
    from avatar_service.tracking.timeline import track_pack_video

    folder = pack_dir(args)
    validate_pack(folder)
    timeline = track_pack_video(folder, args.input)
    print(f"wrote {folder / 'anchor_timeline.json'} ({timeline.frame_count} frames at {timeline.fps:g} fps)")
    return 0
