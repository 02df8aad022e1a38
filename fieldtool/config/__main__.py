"""``python -m fieldtool.config > docs/config.md``."""

from fieldtool.config import reference_markdown

print(reference_markdown(), end="")
