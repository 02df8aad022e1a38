"""``python -m fieldtool.config > docs/config.md``: the whole reference, as ``python -m
fieldtool.station.config`` prints it (the file holds a station file's sections too). An
entry point, above the station layer (tests/test_package.py's LAYERS), so it may import it:
refusing would leave the file the shell already emptied empty."""

from fieldtool.station.config import reference_markdown

print(reference_markdown(), end="")
