"""``python -m fieldtool.cli``: the same as the ``fieldtool`` command."""

import sys

from fieldtool.cli import main

sys.exit(main())
