"""Pipeline stages "smooth" and "track": temporal smoothing and sightings with hysteresis.

Smoothing is an exponential moving average of the (C,) probability vector whose weight
depends on the time step (``alpha = 1 - exp(-dt / tau)``), so an irregular analysis rate
smooths the same per second. The tracker keeps one state per species:

- idle -> candidate when the smoothed score reaches ``enter``;
- candidate -> open sighting once the score has stayed >= ``enter`` for
  ``min_duration_s`` (the sighting's first_seen is when it first reached ``enter``);
  a drop below ``enter`` before that cancels the candidate;
- an open sighting extends while the score is >= ``exit``; it ends once the score has
  stayed below ``exit`` for more than ``max_gap_s`` (last_seen is the last time at or
  above ``exit``), so shorter dips do not split it.

A sighting's frames are every analysed frame of its span, first_t to last_t: the frames
while it was a candidate, those at or above ``exit``, and those of a dip below ``exit`` it
outlasted (bridged; counted once the score is back at ``exit``). The frames below ``exit``
after last_t, the gap that ended it, are not its frames. ``frames``, ``score_sum`` (so
``mean_score``) and the peak (score, time, place, snapshot frame) are over those frames,
so ``frames`` equals the stored detections in [first_t, last_t] (one per analysed frame).

Events follow a start / update (new peak) / end lifecycle.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fieldtool.config import SmoothingConfig
from fieldtool.types import Frame, FrameResult, LabelSet, Position, Sighting, SightingEvent


class TemporalSmoother:
    """Time-aware EMA over probability vectors."""

    def __init__(self, tau_s: float) -> None:
        self.tau_s = tau_s
        self._state: np.ndarray | None = None
        self._last_t: float | None = None

    def update(self, probs: np.ndarray, t: float) -> np.ndarray:
        """(C,) probabilities at media time t (s) -> (C,) smoothed probabilities."""
        if self._state is None or self.tau_s <= 0 or self._last_t is None:
            self._state = probs.astype(np.float64, copy=True)
        else:
            dt = max(t - self._last_t, 0.0)
            alpha = 1.0 - math.exp(-dt / self.tau_s)
            self._state += alpha * (probs - self._state)
        self._last_t = t
        return self._state.astype(np.float32)

    def update_batch(self, probs: np.ndarray, ts: Sequence[float]) -> np.ndarray:
        """(N, C) probabilities at media times ``ts`` (s, N of them) -> (N, C) float32
        smoothed: row for row what N calls of :meth:`update` give (the same operations in
        the same order: each row's EMA step depends on the row before it)."""
        out = np.empty(probs.shape, dtype=np.float32)
        for i, t in enumerate(ts):
            row = probs[i]
            if self._state is None or self.tau_s <= 0 or self._last_t is None:
                self._state = row.astype(np.float64, copy=True)
            else:
                alpha = 1.0 - math.exp(-max(t - self._last_t, 0.0) / self.tau_s)
                self._state += alpha * (row - self._state)
            self._last_t = t
            out[i] = self._state  # cast to float32 as update's astype does
        return out

    def reset(self) -> None:
        self._state = None
        self._last_t = None


@dataclass
class _Track:
    """One species' (or genus') sighting from its first frame at or above ``enter``:
    a candidate until ``opened``."""

    sighting: Sighting
    opened: bool = False
    last_above_t: float = 0.0  # media s of the last frame at or above exit
    peak: FrameResult | None = None  # the peak frame's result (kept with keep_frames)
    dip_frames: int = 0  # frames below exit since last_above_t: its frames if it goes on
    dip_sum: float = 0.0  # their smoothed scores' sum


class SightingTracker:
    """Turns smoothed per-frame scores into sightings.

    With ``cfg.genus_level``, a genus with several species in the label set is tracked
    too, on the sum of its species' scores: when congeners split the score so that no
    species reaches ``enter``, the genus can still open a sighting (``rank`` "genus",
    species "Acer sp."). It never starts while one of its species is at or above ``enter``
    (a candidate or open), and it ends as soon as one is.
    """

    def __init__(
        self,
        labels: LabelSet,
        cfg: SmoothingConfig,
        *,
        session_id: str = "",
        model_id: str = "",
        keep_frames: bool = True,
    ) -> None:
        self.labels = labels
        self.cfg = cfg
        self.session_id = session_id
        self.model_id = model_id
        self.keep_frames = keep_frames
        self._tracks: dict[int | str, _Track] = {}  # species index, or genus name
        self._species = [i for i, label in enumerate(labels.labels) if not label.is_background]
        self._genera: dict[str, list[int]] = {}
        if cfg.genus_level:
            for i in self._species:
                genus = labels.labels[i].species.split(" ", 1)[0]
                self._genera.setdefault(genus, []).append(i)
            self._genera = {g: members for g, members in self._genera.items() if len(members) > 1}
        self.closed: list[Sighting] = []

    @property
    def open_sightings(self) -> list[Sighting]:
        return [tr.sighting for tr in self._tracks.values() if tr.opened]

    def peak_result(self, sighting: Sighting) -> FrameResult | None:
        """The frame result at the peak of ``sighting`` while it is open (its raw and fused
        scores there); None once closed, or when frames are not kept (``keep_frames``)."""
        for track in self._tracks.values():
            if track.opened and track.sighting is sighting:
                return track.peak
        return None

    def update(self, result: FrameResult) -> list[SightingEvent]:
        """Advance every species' (and genus') state with one analysed frame's smoothed scores."""
        scores = result.smoothed
        if scores is None:
            raise ValueError("frame result has no smoothed scores")
        species = [float(scores[i]) for i in self._species]
        genera: list[tuple[str, list[int], float | None]] = [
            (g, members, None) for g, members in self._genera.items()
        ]
        return self._advance(result, list(zip(self._species, species, strict=True)), genera)

    def update_batch(
        self, results: Sequence[FrameResult], smoothed: np.ndarray
    ) -> Iterator[list[SightingEvent]]:
        """Each frame's events, in order, as :meth:`update` of each result in turn gives them
        (the same sightings, events and state); ``smoothed``: (N, C), the results' smoothed
        scores. Lazy: frame n's state is advanced when its events are asked for.

        Only the species (and genera) that can change state in the batch are stepped frame
        by frame: those with a candidate or open sighting, and those that reach ``enter``
        in some frame. A species below ``enter`` all batch long without a track stays idle.
        """
        if len(results) != len(smoothed):
            raise ValueError(f"{len(results)} frame results but {len(smoothed)} score rows")
        near = ~(smoothed < self.cfg.enter)  # (N, C): at or above enter (NaN too, as _step)
        active = np.asarray(near.any(axis=0))
        active[[k for k in self._tracks if isinstance(k, int)]] = True
        keys = np.asarray(self._species, dtype=np.int64)
        species = keys[active[keys]].tolist()
        scores = smoothed[:, species].tolist()  # (N, S') Python floats, as float(scores[i])
        genera: list[tuple[str, list[int], list[float]]] = []
        for genus, members in self._genera.items():
            total = np.zeros(len(smoothed), dtype=smoothed.dtype)
            for m in members:  # in member order, as update's sum() adds them
                total += smoothed[:, m]
            if genus in self._tracks or not (total < self.cfg.enter).all():
                genera.append((genus, members, total.tolist()))
        for n, result in enumerate(results):
            pairs = list(zip(species, scores[n], strict=True))
            yield self._advance(result, pairs, [(g, m, s[n]) for g, m, s in genera])

    def _advance(
        self,
        result: FrameResult,
        species: list[tuple[int, float]],
        genera: list[tuple[str, list[int], float | None]],
    ) -> list[SightingEvent]:
        """One frame: ``species`` as (index, score), then ``genera`` as (genus, members,
        score; None: the sum of the members' scores in ``result.smoothed``)."""
        events: list[SightingEvent] = []
        for i, score in species:
            events += self._step(i, score, result)
        for genus, members, total in genera:
            if any(m in self._tracks for m in members):  # a species of it is seen or rising
                track = self._tracks.get(genus)
                if track is not None and track.opened:
                    events.append(self._close(genus))
                else:
                    self._tracks.pop(genus, None)
                continue
            if total is None:
                scores = result.smoothed
                assert scores is not None  # update checked it
                total = float(sum(scores[m] for m in members))
            events += self._step(genus, total, result)
        return events

    def _step(self, key: int | str, score: float, result: FrameResult) -> list[SightingEvent]:
        frame = result.frame
        t = frame.t
        track = self._tracks.get(key)
        if track is None:
            if score < self.cfg.enter:
                return []
            track = self._tracks[key] = _Track(self._new(key, frame))
        if not track.opened:
            if score < self.cfg.enter:
                del self._tracks[key]
                return []
            track.last_above_t = t
            self._extend(track, score, result)  # a candidate's frames are the sighting's
            if t - track.sighting.first_t + 1e-9 >= self.cfg.min_duration_s:
                track.opened = True
                # the snapshot at the start: the peak so far, else this frame
                shown = track.peak.frame if track.peak is not None else frame
                return [SightingEvent("start", track.sighting, shown)]
            return []
        if score >= self.cfg.exit:
            track.last_above_t = t
            if self._extend(track, score, result):
                return [SightingEvent("update", track.sighting, frame)]
        elif t - track.last_above_t > self.cfg.max_gap_s:
            return [self._close(key)]
        else:  # a dip: its frames count if the score comes back to exit before the gap ends
            track.dip_frames += 1
            track.dip_sum += score
        return []

    def finish(self) -> list[SightingEvent]:
        """End every open sighting (end of source, or shutdown)."""
        return [self._close(i) for i, tr in list(self._tracks.items()) if tr.opened]

    def _new(self, key: int | str, frame: Frame) -> Sighting:
        """The sighting a candidate becomes, from its first frame (``frame``) on."""
        rank: Literal["species", "genus"]
        if isinstance(key, str):  # a genus
            name, common, rank = f"{key} sp.", "", "genus"
        else:
            label = self.labels.labels[key]
            name, common, rank = label.species, label.common_name, "species"
        return Sighting(
            sighting_id=uuid.uuid4().hex,
            session_id=self.session_id,
            species=name,
            common_name=common,
            rank=rank,
            first_seen=frame.wall_time,
            last_seen=frame.wall_time,
            first_t=frame.t,
            last_t=frame.t,
            model_id=self.model_id,
        )

    def _extend(self, track: _Track, score: float, result: FrameResult) -> bool:
        """Add one frame at or above exit (a candidate's: at or above enter), and a dip
        before it, to the sighting; True if it is a new peak."""
        sighting = track.sighting
        frame = result.frame
        sighting.last_seen = frame.wall_time
        sighting.last_t = frame.t
        sighting.frames += track.dip_frames + 1
        sighting.score_sum += track.dip_sum + score
        track.dip_frames, track.dip_sum = 0, 0.0
        if score <= sighting.peak_score:
            return False
        sighting.peak_score = score
        sighting.peak_t = frame.t
        _set_place(sighting, result.position)
        if self.keep_frames:
            track.peak = result
        return True

    def _close(self, key: int | str) -> SightingEvent:
        track = self._tracks.pop(key)
        sighting = track.sighting
        assert track.opened
        sighting.status = "closed"
        self.closed.append(sighting)
        return SightingEvent("end", sighting, track.peak.frame if track.peak is not None else None)


def _set_place(sighting: Sighting, position: Position | None) -> None:
    if position is not None:
        sighting.latitude = position.lat
        sighting.longitude = position.lon
