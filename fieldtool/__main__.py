"""``python -m fieldtool``: the command line (same as the ``fieldtool`` script)."""

from fieldtool.cli import main

raise SystemExit(main())
