"""`avatar-service pack validate|idle|create|upgrade` and `avatar-service anchors`. Heavy imports happen inside
the handlers."""

import argparse
import sys
from pathlib import Path


def default_packs_dir() -> Path:
    from avatar_service.config import get_settings

    return get_settings().resolved_packs_dir


def pack_dir(args: argparse.Namespace) -> Path:
    """The pack folder the command works on: the id is checked before any work (see ``pack_dir_for``)."""
    from avatar_service.packs.files import pack_dir_for

    return pack_dir_for(args.packs_dir or default_packs_dir(), args.avatar_id)


def register(subparsers: argparse._SubParsersAction) -> None:
    pack = subparsers.add_parser("pack", help="validate, animate and create avatar packs")
    actions = pack.add_subparsers(dest="pack_command", required=True, metavar="{validate,idle,create,upgrade}")

    validate = actions.add_parser("validate", help="check a pack directory against the pack format v1")
    validate.add_argument("directory", type=Path, metavar="PACK", help="a pack directory, or the id of a pack in PACKS_DIR")
    validate.set_defaults(handler=run_validate)

    idle = actions.add_parser("idle", help="make the pack's seamless idle_loop.webm from its base face")
    idle.add_argument("--avatar-id", required=True)
    idle.add_argument("--packs-dir", type=Path, default=None, help="default: PACKS_DIR ($DATA_DIR/avatars)")
    idle.add_argument("--seconds", type=float, default=4.0, help="loop length (default 4)")
    idle.add_argument("--crf", type=int, default=40, help="VP9 quality, lower = better and bigger (default 40)")
    idle.set_defaults(handler=run_idle)

    create = actions.add_parser("create", help="make a complete pack from one frontal photo")
    create.add_argument("--photo", required=True, type=Path)
    create.add_argument("--id", required=True, dest="avatar_id", help="letters, digits, _ and - (the folder name)")
    create.add_argument("--name", default=None, help="display name (default: from the id)")
    create.add_argument("--attribution", default=None, help="source and licence of the photo")
    create.add_argument("--packs-dir", type=Path, default=None, help="default: PACKS_DIR ($DATA_DIR/avatars)")
    create.add_argument("--force", action="store_true", help="replace an existing pack of that id")
    create.set_defaults(handler=run_create)

    upgrade = actions.add_parser("upgrade", help="give a format-1 pack the face rig of format 2 (from its base face)")
    upgrade.add_argument("directory", type=Path)
    upgrade.set_defaults(handler=run_upgrade)

    anchors = subparsers.add_parser("anchors", help="track the face in an idle video -> anchor_timeline.json")
    anchors.add_argument("--avatar-id", required=True)
    anchors.add_argument("--input", required=True, type=Path, help="the pack's idle video, e.g. idle_loop.webm")
    anchors.add_argument("--packs-dir", type=Path, default=None, help="default: PACKS_DIR ($DATA_DIR/avatars)")
    anchors.set_defaults(handler=run_anchors)


def run_validate(args: argparse.Namespace) -> int:
    from avatar_service.packs.validate import validate_pack

    directory = args.directory
    if not directory.is_dir() and len(directory.parts) == 1:  # a bare id: the pack in PACKS_DIR
        directory = default_packs_dir() / directory
    manifest = validate_pack(directory)
    print(f"ok: {manifest.id} ({directory})")
    return 0


def run_idle(args: argparse.Namespace) -> int:
    from avatar_service.packs.idle import IdleMotion, add_idle_loop
    from avatar_service.packs.validate import validate_pack

    folder = pack_dir(args)
    validate_pack(folder)
    video = add_idle_loop(folder, IdleMotion(seconds=args.seconds, crf=args.crf))
    print(f"wrote {video} ({video.stat().st_size / 1000:.0f} kB)")
    print(f"next: avatar-service anchors --avatar-id {args.avatar_id} --input {video}", file=sys.stderr)
    return 0


def run_create(args: argparse.Namespace) -> int:
    from avatar_service.packs.create import create_pack

    folder = pack_dir(args)
    manifest = create_pack(args.photo, folder, name=args.name, attribution=args.attribution, replace=args.force)
    size = sum((folder / name).stat().st_size for name in set(manifest.files().values()))
    print(f"created {folder} ({size / 1000:.0f} kB of assets)")
    return 0


def run_upgrade(args: argparse.Namespace) -> int:
    from avatar_service.packs.upgrade import upgrade_pack

    manifest = upgrade_pack(args.directory)
    print(f"ok: {manifest.id} is format {manifest.format_version} ({args.directory})")
    return 0


def run_anchors(args: argparse.Namespace) -> int:
    from avatar_service.packs.anchors import TIMELINE_NAME, track_pack_video
    from avatar_service.packs.validate import validate_pack

    folder = pack_dir(args)
    validate_pack(folder)
    timeline = track_pack_video(folder, args.input)
    print(f"wrote {folder / TIMELINE_NAME} ({timeline.frame_count} frames at {timeline.fps:g} fps)")
    return 0
