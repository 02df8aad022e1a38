"""Transitional shim: moved to :mod:`fieldtool.tracks`. Import from there; this module
goes once the last importer is rewritten."""

from fieldtool.tracks.base import TrackRead as TrackRead
from fieldtool.tracks.base import clean_fixes as clean_fixes
from fieldtool.tracks.base import plausible_mask as plausible_mask
from fieldtool.tracks.exif import read_exif_fix as read_exif_fix
from fieldtool.tracks.gpmf import has_gpmf as has_gpmf
from fieldtool.tracks.gpmf import mp4_creation_time as mp4_creation_time
from fieldtool.tracks.gpmf import read_gpmf_samples as read_gpmf_samples
from fieldtool.tracks.nmea import NmeaParser as NmeaParser
from fieldtool.tracks.nmea import nmea_checksum as nmea_checksum
from fieldtool.tracks.nmea import parse_nmea as parse_nmea
from fieldtool.tracks.read import detect_format as detect_format
from fieldtool.tracks.read import read_track as read_track
from fieldtool.tracks.srt import parse_dji_srt_cue as parse_dji_srt_cue
from fieldtool.tracks.srt import read_dji_srt as read_dji_srt
