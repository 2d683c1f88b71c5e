"""`python -m avatar_service.tracking --avatar-id ID --input idle_loop.webm`"""

import argparse
import sys

from avatar_service.errors import AvatarServiceError
from avatar_service.tracking.cli import add_arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m avatar_service.tracking", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except AvatarServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
