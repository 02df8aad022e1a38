"""``python -m fieldtool.config``: where ``docs/config.md`` comes from."""

import sys

# docs/config.md holds a station file's sections too, which this layer cannot import
print("docs/config.md: python -m fieldtool.station.config > docs/config.md", file=sys.stderr)
sys.exit(2)
