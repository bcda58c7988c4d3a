"""``python3 -m rmc``: the rmc command line (see rmc/cli.py)."""

import sys

from .cli import main

sys.exit(main())
