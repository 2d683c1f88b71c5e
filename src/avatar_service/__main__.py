import sys

from avatar_service.cli import main

sys.exit(main())
