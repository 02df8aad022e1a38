"""After the model, per file in time order: position, prior, smoothing, tracker, store.

A ``groupby("batch_key").map_groups`` step. The stages are ``fieldtool run``'s own:
:func:`fieldtool.pipeline.start_session` and :class:`fieldtool.pipeline.FrameStep` (which
holds the :class:`~fieldtool.smoothing.TemporalSmoother` and
:class:`~fieldtool.smoothing.SightingTracker`) writing through a
:class:`~fieldtool.store.SightingStore`, here into a scratch DuckDB file of the file's
own, whose tables are then written out as Parquet parts::

    <parts>/<batch_key>/<table>.parquet     sessions, sightings, track, detections, ...
    <parts>/<batch_key>/<db stem>_snapshots/<session>/<sighting>.jpg
    <parts>/<batch_key>/_SUCCESS.json       written last: the part is complete

:mod:`fieldtool.scale.merge` moves them into the batch's DuckDB file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fieldtool.colour import YuvImage
from fieldtool.config import Config
from fieldtool.scale.decode import file_config, local_file, open_unit
from fieldtool.types import Frame, LabelSet, SessionStatus

SUCCESS = "_SUCCESS.json"


@dataclass
class ModelInfo:
    """What a session row needs of the classifier (it ran in the actors): satisfies
    :class:`fieldtool.types.Classifier` for :func:`fieldtool.pipeline.start_session`."""

    labels: LabelSet
    model_id: str
    model_sha256: str
    settings: dict[str, str] = field(default_factory=dict)

    takes_yuv: bool = False

    def prepare(self, image: np.ndarray | YuvImage) -> np.ndarray | None:
        return None

    def predict(
        self,
        images: Sequence[np.ndarray | YuvImage],
        prepared: Sequence[np.ndarray | None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError("the model runs in the classify actors")

    def run_settings(self) -> Mapping[str, str]:
        return self.settings


def part_dir(parts: Path, key: str) -> Path:
    return parts / key


def finished_part(parts: Path, key: str) -> dict[str, Any] | None:
    """The summary of a complete part, None when there is none (or it is incomplete)."""
    marker = part_dir(parts, key) / SUCCESS
    try:
        return dict(json.loads(marker.read_text()))
    except (OSError, ValueError):
        return None


def _image(thumb: bytes) -> np.ndarray:
    if thumb:
        image = cv2.imdecode(np.frombuffer(thumb, np.uint8), cv2.IMREAD_COLOR)
        if image is not None:
            return image
    return np.zeros((1, 1, 3), np.uint8)  # snapshots off: no picture travels


def post_file(
    group: dict[str, np.ndarray],
    *,
    plans: Mapping[str, dict[str, Any]],
    config_json: str,
    model: ModelInfo,
    parts: str,
    db_stem: str,
) -> dict[str, list[Any]]:
    """One file's classified frames (a numpy batch, any order) -> its Parquet parts and a
    one-row summary: batch_key, status (done / failed), error, session_id, frames,
    sightings, duration_s, gaps and gap_s (stretches not decoded, their media seconds),
    positioned (frames that got a position), time_source (the session's) and warnings
    (JSON list: the lines ``fieldtool run`` would print as warnings for this file)."""
    key = str(group["batch_key"][0])
    errors = [str(e) for e in group["error"] if e]
    summary: dict[str, Any] = {"batch_key": key, "status": "failed", "error": "",
                               "session_id": "", "frames": 0, "sightings": 0,
                               "duration_s": 0.0, "gaps": 0, "gap_s": 0.0, "positioned": 0,
                               "time_source": "", "warnings": "[]"}  # fmt: skip
    if errors:
        summary["error"] = errors[0]
        return {k: [v] for k, v in summary.items()}
    target = part_dir(Path(parts), key)
    shutil.rmtree(target, ignore_errors=True)  # a retried task starts clean
    target.mkdir(parents=True)
    try:
        summary.update(_run_stages(group, plans[key], Config.model_validate_json(config_json),
                                   model, target, db_stem))  # fmt: skip
    except Exception as exc:  # the file fails alone
        summary["error"] = " ".join(str(exc).split())[:1000] or type(exc).__name__
        shutil.rmtree(target, ignore_errors=True)
        return {k: [v] for k, v in summary.items()}
    tmp = target / (SUCCESS + ".tmp")
    tmp.write_text(json.dumps(summary))
    os.replace(tmp, target / SUCCESS)
    return {k: [v] for k, v in summary.items()}


def _run_stages(
    group: dict[str, np.ndarray], plan: dict[str, Any], config: Config, model: ModelInfo,
    target: Path, db_stem: str,
) -> dict[str, Any]:  # fmt: skip
    from fieldtool.photos import PhotoSource, PhotoSteps
    from fieldtool.pipeline import FrameStep, finish_session, start_session
    from fieldtool.priors import RangePriorStage, range_prior_from_config
    from fieldtool.sources import Gap, SourceStats
    from fieldtool.store import TABLES, SightingStore, connect

    notes: list[str] = []
    kind = plan.get("kind")
    unit = nullcontext(plan["path"]) if kind == "photos" else local_file(plan["path"])
    with unit as local, local_file(plan["track"] or "") as track:
        file_cfg = file_config(config, plan, local, track or None)
        # Photos: the catalog again (EXIF only, no pixels): each photo's place, time, event.
        source, positions, basis = open_unit(file_cfg, plan, notes.append)
    source.uri = plan["path"]  # the session names the file as the batch was given it
    if plan.get("camera_id") and not source.name:  # a package's deployment names its own
        source.name = plan["camera_id"]  # the session's source_name, as a station's camera
    start = basis.start
    assert start is not None  # a file always gets a start time (docs/time.md)
    photos = None
    if isinstance(source, PhotoSource):  # as run_session sets up a photo session
        # each photo's picture hash, read when the plan was hashed: its media row's
        hashed = json.loads(plan.get("photo_sha256") or "[]")
        source.hashes.update((path, picture) for path, *_, picture in hashed)
        photos = PhotoSteps(source, model.labels, file_cfg)
        file_cfg = photos.session_config(file_cfg)
    scratch = target / f"{db_stem}.duckdb"
    store = SightingStore(scratch, flush_interval_s=3600.0)
    ran = json.loads(str(group["model_settings"][0]))  # what the actor resolved "auto" to
    model = dataclasses.replace(model, settings=ran)
    session = start_session(source, model, store, file_cfg, time_basis=basis,
                            session_id=plan["batch_key"][:32])  # fmt: skip
    ranges = range_prior_from_config(file_cfg.prior)
    prior = (RangePriorStage(ranges, model.labels, file_cfg.prior, log=notes.append)
             if ranges else None)  # fmt: skip
    step = FrameStep.for_session(session, store, file_cfg, model.labels, positions=positions,
                                 prior=prior, photos=photos, flush_closed=False,
                                 log=notes.append)  # fmt: skip
    result = step.result
    order = np.argsort(group["index"], kind="stable")
    end: dict[str, Any] = {}
    for i in order:
        index, t = int(group["index"][i]), float(group["t"][i])
        # A photo's time is its own (t is seconds after the earliest, rounded to a float).
        when = photos.media.photo(index).captured_at if photos else start + timedelta(seconds=t)
        frame = Frame(index, t, when, _image(group["thumb"][i]),
                      str(group["photo"][i]) or None, str(group["segment"][i]) or None)  # fmt: skip
        step.step(frame, group["probs"][i], group["tile_probs"][i])
        session.frames_read = max(session.frames_read, int(group["frames_read"][i]))
        if group["end"][i]:
            end = json.loads(str(group["end"][i]))
    if end.get("skipped"):  # photos skipped, in the session's end summary as run puts it
        session.end_reason = session.end_reason or end["skipped"]
    session.status = SessionStatus.FINISHED
    # the decoding task's counters and damage gaps, as the source kept them in one process
    gaps = [Gap(start_t, end_t, start + timedelta(seconds=start_t),
                start + timedelta(seconds=end_t), reason)
            for start_t, end_t, reason in end.get("gaps", [])]  # fmt: skip
    finish_session(step, SourceStats(frames_read=session.frames_read, gaps=gaps))
    flushed = store.close()
    if not flushed.written:
        raise OSError(f"{scratch}: rows not written ({flushed.error})")
    with connect(scratch, read_only=True) as con:
        for table in TABLES:
            path = (target / f"{table}.parquet").as_posix().replace("'", "''")
            con.execute(f"COPY (SELECT * FROM {table}) TO '{path}' (FORMAT parquet)")
    for leftover in target.glob(f"{db_stem}.duckdb*"):
        leftover.unlink()
    said = [*notes, *end.get("notes", [])]  # placement's (here and in decode), decoding's
    return {"status": "done", "session_id": session.session_id,
            "frames": session.frames_analysed, "sightings": len(result.sightings),
            "duration_s": float(end.get("duration_s", 0.0)), "gaps": len(gaps),
            "gap_s": float(sum(g.end_t - g.start_t for g in gaps)),
            "positioned": session.frames_positioned, "time_source": basis.source,
            "warnings": json.dumps(warning_lines(said))}  # fmt: skip


def warning_lines(notes: Sequence[str]) -> list[str]:
    """The warnings among a file's notes, each once, in order: lines that start with
    "warning" and lines that carry one after their first part ("...; warning: ...")."""
    out: list[str] = []
    for note in notes:
        if (note.startswith("warning") or "warning:" in note) and note not in out:
            out.append(note)
    return out
