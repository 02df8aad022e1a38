"""The ``[photos]`` section: still photos as a source (``docs/photos.md``)."""

from __future__ import annotations

from pydantic import Field

from fieldtool.config.base import Section, flag


class PhotosConfig(Section):
    """Still photos (a photo, a folder or a glob of JPEG/PNG/TIFF): sequences and plot mode."""

    sequence_gap_s: float = Field(
        60.0, ge=0,
        description="seconds; photos of one camera at most this far apart form one event "
        "(sequence): a species' photos of an event are one sighting",
        json_schema_extra=flag("--sequence-gap"),
    )  # fmt: skip
    plot: bool = Field(
        False,
        description="plot mode (multi-label, PlantCLEF style): each photo's species set is "
        "every species scoring at least `plot_threshold` in any tile (`--tiles N`), at most "
        "`plot_top_n`, printed per photo and kept as its detections",
        json_schema_extra=flag("--plot"),
    )
    plot_threshold: float = Field(
        0.5, gt=0, le=1, description="plot mode: a species' score in a tile that puts it in the set",
        json_schema_extra=flag("--plot-threshold"),
    )  # fmt: skip
    plot_top_n: int = Field(
        10, ge=1, description="plot mode: the most species one photo's set holds",
        json_schema_extra=flag("--plot-top-n"),
    )  # fmt: skip
    deployment: str | None = Field(
        None, min_length=1,
        description="a Camtrap DP package: run only the deployment with this deploymentID "
        "(one session; `--replace` then replaces only its earlier sessions); default: every "
        "deployment with local photos, one session each",
        json_schema_extra=flag("--deployment"),
    )  # fmt: skip
    package_reviews: bool = Field(
        True,
        description="a Camtrap DP package: its observations classified by people "
        "(classificationMethod human) become reviews of the sightings they overlap in its "
        "deployment (the same species: confirm; one other: relabel; blank, human or vehicle: "
        "reject), reviewer their classifiedBy (docs/camtrap.md)",
        json_schema_extra=flag(switch={"--no-package-reviews": (
            False, "do not take a Camtrap DP package's observations by people as reviews")}),
    )  # fmt: skip
