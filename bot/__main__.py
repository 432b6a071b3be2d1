"""`python -m bot SUBCOMMAND ...` is `arena bot SUBCOMMAND ...`."""

import sys

from arena.cli import main

raise SystemExit(main(["bot", *sys.argv[1:]]))
