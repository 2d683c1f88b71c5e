"""`avatar-service pack validate|idle|create`. Heavy imports happen inside the handlers."""

import argparse
import sys
from pathlib import Path


def default_packs_dir() -> Path:
    from avatar_service.config import get_settings

    return (get_settings().web_dir or Path("web")) / "avatars"


def register(subparsers: argparse._SubParsersAction) -> None:
    pack = subparsers.add_parser("pack", help="validate, animate and create avatar packs")
    actions = pack.add_subparsers(dest="pack_command", required=True, metavar="{validate,idle,create,upgrade}")

    validate = actions.add_parser("validate", help="check a pack directory against the pack format v1")
    validate.add_argument("directory", type=Path)
    validate.set_defaults(handler=run_validate)

    idle = actions.add_parser("idle", help="make the pack's seamless idle_loop.webm from its base face")
    idle.add_argument("--avatar-id", required=True)
    idle.add_argument("--packs-dir", type=Path, default=None, help="default: $WEB_DIR/avatars or web/avatars")
    idle.add_argument("--seconds", type=float, default=4.0, help="loop length (default 4)")
    idle.add_argument("--crf", type=int, default=40, help="VP9 quality, lower = better and bigger (default 40)")
    idle.set_defaults(handler=run_idle)

    create = actions.add_parser("create", help="make a complete pack from one frontal photo")
    create.add_argument("--photo", required=True, type=Path)
    create.add_argument("--id", required=True, dest="avatar_id")
    create.add_argument("--name", default=None, help="display name (default: from the id)")
    create.add_argument("--attribution", default=None, help="source and licence of the photo")
    create.add_argument("--packs-dir", type=Path, default=None, help="default: $WEB_DIR/avatars or web/avatars")
    create.add_argument("--force", action="store_true", help="replace an existing pack of that id")
    create.set_defaults(handler=run_create)

    upgrade = actions.add_parser("upgrade", help="give a format-1 pack the face rig of format 2 (from its base face)")
    upgrade.add_argument("directory", type=Path)
    upgrade.set_defaults(handler=run_upgrade)


def run_validate(args: argparse.Namespace) -> int:
    from avatar_service.packs.validate import validate_pack

    manifest = validate_pack(args.directory)
    print(f"ok: {manifest.id} ({args.directory})")
    return 0


def run_idle(args: argparse.Namespace) -> int:
    from avatar_service.packs.idle import IdleMotion, add_idle_loop
    from avatar_service.packs.validate import validate_pack

    pack_dir = (args.packs_dir or default_packs_dir()) / args.avatar_id
    validate_pack(pack_dir)
    video = add_idle_loop(pack_dir, IdleMotion(seconds=args.seconds, crf=args.crf))
    print(f"wrote {video} ({video.stat().st_size / 1000:.0f} kB)")
    print(f"next: avatar-service anchors --avatar-id {args.avatar_id} --input {video}", file=sys.stderr)
    return 0


def run_create(args: argparse.Namespace) -> int:
    from avatar_service.packs.create import create_pack

    pack_dir = (args.packs_dir or default_packs_dir()) / args.avatar_id
    manifest = create_pack(args.photo, pack_dir, name=args.name, attribution=args.attribution, replace=args.force)
    size = sum((pack_dir / name).stat().st_size for name in set(manifest.files().values()))
    print(f"created {pack_dir} ({size / 1000:.0f} kB of assets)")
    return 0


def run_upgrade(args: argparse.Namespace) -> int:
    from avatar_service.packs.upgrade import upgrade_pack

    manifest = upgrade_pack(args.directory)
    print(f"ok: {manifest.id} is format {manifest.format_version} ({args.directory})")
    return 0
