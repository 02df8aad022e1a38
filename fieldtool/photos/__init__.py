"""Still photos as a source: camera-trap bursts, plot (quadrat) photos, phone photos.

Modules: ``files`` (which files a photo, folder or glob names), ``sequences`` (the
sequence rule: photos of one camera closer than ``photos.sequence_gap_s`` are one event),
``source`` (:class:`PhotoSource`: time, place and event of every photo; its frames),
``plot`` (plot mode's species sets), ``session`` (the pipeline's per-photo work). See
``docs/photos.md``.
"""

from fieldtool.photos.files import PHOTO_SUFFIXES, expand_photos, is_photo_input
from fieldtool.photos.plot import plot_scores, species_set, stored_set
from fieldtool.photos.sequences import event_id, sequence_numbers
from fieldtool.photos.session import (
    PhotoMedia,
    PhotoSteps,
    config_track,
    deployment_name,
    is_photos,
    only_deployment,
    package_deployments,
    photo_source_from_config,
    photo_sources_from_config,
)
from fieldtool.photos.source import Photo, PhotoItem, PhotoSource, read_upright

__all__ = [
    "PHOTO_SUFFIXES",
    "Photo",
    "PhotoItem",
    "PhotoMedia",
    "PhotoSource",
    "PhotoSteps",
    "config_track",
    "deployment_name",
    "event_id",
    "expand_photos",
    "is_photo_input",
    "is_photos",
    "only_deployment",
    "package_deployments",
    "photo_source_from_config",
    "photo_sources_from_config",
    "plot_scores",
    "read_upright",
    "sequence_numbers",
    "species_set",
    "stored_set",
]
