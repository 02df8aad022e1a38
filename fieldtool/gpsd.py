"""Transitional shim: moved to :mod:`fieldtool.tracks.gpsd`. Import from there; this
module goes once the last importer is rewritten."""

from fieldtool.tracks.gpsd import GpsdPositions as GpsdPositions
from fieldtool.tracks.gpsd import parse_address as parse_address
from fieldtool.tracks.gpsd import parse_tpv as parse_tpv
