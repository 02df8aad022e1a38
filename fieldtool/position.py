"""Transitional shim: moved to :mod:`fieldtool.tracks`. Import from there; this module
goes once the last importer is rewritten."""

from fieldtool.tracks.gpx import parse_gpx_time as parse_gpx_time
from fieldtool.tracks.gpx import read_gpx as read_gpx
from fieldtool.tracks.positions import FixedPosition as FixedPosition
from fieldtool.tracks.positions import PositionProvider as PositionProvider
from fieldtool.tracks.positions import TrackPositions as TrackPositions
from fieldtool.tracks.read import positions_from_config as positions_from_config
