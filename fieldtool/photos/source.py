"""Pipeline stage "source" for still photos: each photo is a frame, each sequence a segment.

:class:`PhotoSource` reads every photo's EXIF once when built (no pixels), decides its time
and place (``docs/photos.md``), groups the photos into events (:mod:`.sequences`) and then
yields them as frames, event by event, each photo upright (EXIF orientation applied). A
photo that cannot be read is a one-line warning naming it; it is skipped and counted in
:meth:`PhotoSource.skipped_summary`, and the others go on.

Time of a photo, first that exists: a timestamp given with it (:class:`PhotoItem`); EXIF
GPSDateStamp + GPSTimeStamp (``exif-gps``, UTC; a camera clock more than
:data:`CLOCK_DISAGREES_S` off it is said); EXIF DateTimeOriginal (+ SubSecTimeOriginal) with
OffsetTimeOriginal (``exif-offset``, converted from that offset); DateTimeOriginal alone, a
local clock, converted from ``tz`` (``--tz``; a warning where it disagrees with the zone of
the photos' place or the EXIF offsets of the set), else the deployment's zone, else the zone at
the photo's place (its GPS, its deployment, ``--lat/--lon``), else the zone where the
session's track starts (``exif-zone``), else kept local (``exif-local``, zone unknown); no
EXIF time (none, or one that is no time such as ``0000:00:00 00:00:00``): the file's
modification time (``file-mtime``). ``time_offset_s`` (``--time-offset``) is added to the
camera clock's times (DateTimeOriginal), not to the others (:mod:`.clock`).
Place: the photo's EXIF GPS (never 0, 0 nor without its N/S/E/W refs; whatever its
time), else its deployment's coordinates, else whatever the session's positions say at its
time (``--lat/--lon`` or a track).
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fieldtool.photos.clock import Dated, PhotoClock, PhotoTime, first_names
from fieldtool.photos.held import Asked
from fieldtool.photos.same import photo_hashes, picture_key, picture_sha256
from fieldtool.photos.sequences import event_id, sequence_numbers
from fieldtool.sources import FrameStream, SourceStats
from fieldtool.timebase import TimeBasis, ZoneChoice, local_zone
from fieldtool.tracks.exif import PhotoExif, open_image, photo_exif
from fieldtool.types import Deployment, FieldtoolError, Fix, Frame, Position

if TYPE_CHECKING:
    import PIL.Image

CLOCK_DISAGREES_S = 60.0  # s; a camera clock this far from the photo's GPS time is said
# A DCF folder (the camera file system standard): 100-999 and five free characters, in DCIM
_DCF_FOLDER = re.compile(r"[1-9][0-9]{2}[0-9A-Za-z_]{5}")


def camera_folder(path: Path) -> Path:
    """The folder that stands for the camera of the photo at ``path``: the card (the DCIM
    folder's parent) for a photo in a DCF folder (``DCIM/100RECNX``), whose sibling folders
    (``101RECNX`` after 9999 files) are the same camera's; else the photo's own folder."""
    folder = path.parent
    if _DCF_FOLDER.fullmatch(folder.name) and folder.parent.name.upper() == "DCIM":
        return folder.parent.parent
    return folder


@dataclass(frozen=True, slots=True)
class PhotoItem:
    """One photo to run, with what is known about it besides its file (a Camtrap DP media
    row): ``deployment_id`` names one of the source's deployments; ``timestamp`` replaces
    the EXIF time (aware: converted to UTC; naive: taken as UTC)."""

    path: str | Path
    deployment_id: str | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class Photo:
    """One readable photo of a source, as the session sees it."""

    index: int  # frame index in the session: events in time order, photos in time order
    path: Path
    captured_at: datetime  # naive: UTC when ``zone`` is known, else the camera's clock
    time_source: str  # given, exif-gps, exif-offset, exif-zone, exif-local, file-mtime
    zone: str | None  # the zone (IANA, offset, UTC) the time was converted from; None: unknown
    camera: str  # EXIF make/model/serial, else the folder's name (the card's: camera_folder)
    own_position: Position | None  # the photo's EXIF GPS
    position: Position | None  # its own, else its deployment's
    deployment_id: str | None
    size: tuple[int, int]  # (width, height) px, upright
    event_id: str  # the sequence it belongs to
    t: float  # seconds after the session's earliest photo
    offset_s: float = 0.0  # s of --time-offset in ``captured_at`` (a camera clock corrected)


@dataclass(frozen=True, slots=True)
class _Read:
    """A photo's file facts, before sequencing."""

    path: Path
    item: PhotoItem
    exif: PhotoExif
    size: tuple[int, int]
    mtime: datetime


# How PhotoSource says copies of another photo of its set, by what it knows of them
_COPIES = {"byte-identical": "byte-identical copies of another in this set",
           "re-tagged": "copies of another in this set with other metadata (the same picture: "
                        "re-tagged)",
           "": "copies of another in this set (the same picture)"}  # fmt: skip
# A photo's (time, camera, deployment id, own position, position): PhotoSource._place
_Placed = tuple[PhotoTime, str, str | None, Position | None, Position | None]


def _upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def read_upright(path: Path) -> np.ndarray:
    """The photo's pixels, (H, W, 3) uint8 BGR, turned upright by its EXIF orientation.
    OSError / ValueError for a file Pillow cannot decode fully (truncated, not an image)."""
    from PIL import ImageOps  # heavy, optional at import time

    with open_image(path) as image:
        upright = ImageOps.exif_transpose(image) or image
        rgb = np.asarray(upright.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


class PhotoSource:
    """Frames from still photos (see the module doc).

    ``photos``: paths or :class:`PhotoItem` (path, deployment id, timestamp), in any order.
    ``deployments``: where and when photos without GPS were taken (a photo names one, or
    takes the first whose interval covers its time and whose ``camera_id``, when both are
    known, is its serial number). ``sequence_gap_s``: the sequence rule's gap. ``tz``: the
    zone of local camera clocks (``--tz``). ``place``: (lat, lon) of the session's fallback
    position, for the zone of photos that have neither GPS nor a deployment. ``uri``: the
    session's source name (default: the one photo, or the photos' common folder).
    ``track``: the session's track (``--track``), whose first fix gives the zone of local
    clocks that have no other (as for a video, ``docs/time.md``). ``time_offset_s``: s
    added to the times the camera's clock gave (``--time-offset``: a clock that is off).
    ``name`` and ``deployment``: the deployment all the photos are of (None: none, or
    several). Each photo counts once: a copy of another in the set (the same picture:
    :mod:`.same`) is left out, each photo read once for its picture hash (:attr:`hashes`),
    unless ``leave_out`` is given: the photos (paths as given) not to run, told by their
    hashes already (``fieldtool batch``: :mod:`fieldtool.scale.copies`) -> where they were
    run, or the path of the photo of this set they copy. ``held``: asked with the uri and
    the photos once timed, returns those a database holds from another path (path ->
    where), left out as copies (``fieldtool run``: :class:`fieldtool.photos.held.HeldCheck`,
    which says them).
    """

    live = False
    fps: float | None = None  # no frame rate: each photo has its own time

    def __init__(
        self,
        photos: Sequence[str | Path | PhotoItem],
        *,
        deployments: Sequence[Deployment] = (),
        sequence_gap_s: float = 60.0,
        tz: str | None = None,
        place: tuple[float, float] | None = None,
        uri: str | None = None,
        max_frames: int | None = None,
        log: Callable[[str], None] | None = None,
        track: Sequence[Fix] = (),
        time_offset_s: float = 0.0,
        leave_out: Mapping[str, str] | None = None,
        held: Callable[[str, list[Asked]], Mapping[str, str]] | None = None,
    ) -> None:
        items = [p if isinstance(p, PhotoItem) else PhotoItem(p) for p in photos]
        if not items:
            raise FieldtoolError(f"{uri or 'photos'}: no photos given")
        self.uri = uri or _common_uri([Path(i.path) for i in items])
        self.deployments = {d.deployment_id: d for d in deployments}
        self.sequence_gap_s = sequence_gap_s
        self.tz = tz
        self.place = place
        self.max_frames = max_frames
        self.stats = SourceStats(timing="photo times")
        self.skipped: list[tuple[str, str]] = []  # (path, why)
        self._log = log or (lambda message: None)
        # Skip warnings while the source is built: said once a photo decodes; when none
        # does, the error alone says the faults (each once).
        self._held: list[str] | None = []
        self._kept: tuple[int, np.ndarray] | None = None  # the first decoded: (index, pixels)
        self._ran: list[str] = []  # the event of each photo run (classified), in order
        self._stop = threading.Event()
        # path as given -> its picture hash: given (fieldtool batch hashed them) or read once
        self.hashes: dict[str, str] = {}
        self._check = held
        zone = local_zone(None, list(track)) if track else ZoneChoice(None, "unknown")
        self._clock = PhotoClock(tz, place, zone, time_offset_s)
        items = self._without_copies(items) if leave_out is None else self._run_before(items,
                                                                                     leave_out)
        reads = [r for i in items if (r := self._read(i)) is not None]
        self.photos = self._catalog(reads)
        if not self.photos:
            raise FieldtoolError(f"{self.uri}: none of the {len(items)} photos could be read: "
                                 f"{self._faults()}")  # fmt: skip
        # tried and not read: counted as read (copies are not tried)
        self._unread = sum(not _copy(why) for _, why in self.skipped)
        self._undecodable, self._kept = self._first_decodes(len(items))
        for line in self._held:
            self._log(line)
        self._held = None
        self.stats.frames_read = self._unread
        # the photos a run tries (frames_read at its end): those not read when built too
        runs = len(self.photos) if max_frames is None else min(len(self.photos), max_frames)
        self.frame_count: int | None = self._unread + runs
        self.start_time: datetime | None = min(p.captured_at for p in self.photos)
        used = {p.deployment_id for p in self.photos}
        # The session's source name: its deployment, when all the photos are of one.
        self.name: str | None = used.pop() if len(used) == 1 else None
        self.deployment: Deployment | None = self.deployments.get(self.name or "")

    # what the pipeline asks of every source

    def probe(self) -> float | None:
        """Nothing to open ahead: the photos' facts were read when the source was built."""
        return None

    def stop(self) -> None:
        self._stop.set()

    def frames(self) -> FrameStream:
        """The readable photos as frames, event after event; ``frame.segment`` is the event."""
        self._stop.clear()
        return FrameStream(self._frames(), self.stop)

    def photo(self, index: int) -> Photo:
        """The photo that is frame ``index``."""
        return self.photos[index]

    def picture_sha256(self, path: str | Path) -> str:
        """A photo's picture hash (``media.picture_sha256``, :mod:`.same`): from
        :attr:`hashes`, else read once; "" where it cannot be read."""
        if str(path) not in self.hashes:
            try:
                self.hashes[str(path)] = picture_sha256(path)
            except OSError:
                return ""
        return self.hashes[str(path)]

    def time_basis(self) -> TimeBasis:
        """The session's time basis: each photo's own (``media.time_source`` says which)."""
        known = all(p.zone is not None for p in self.photos)
        # the zone the times were converted from: UTC-timed photos (GPS, file times) were
        # not converted; several zones: the stored times are UTC
        converted = {p.zone for p in self.photos if p.zone not in (None, "UTC")}
        zone = (converted.pop() if len(converted) == 1 else "UTC") if known else None
        kinds = Counter(p.time_source for p in self.photos)
        how = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
        added = self._clock.added([p.offset_s for p in self.photos])
        return TimeBasis(self.start_time, "photos", zone, known, f"per photo: {how}{added}")

    def skipped_summary(self) -> str | None:
        """One line naming the photos skipped so far, or None; where one was not read or
        decoded, with the photos run (classified) so far and their events."""
        if not self.skipped:
            return None
        names = ", ".join(f"{Path(p).name} ({why})" for p, why in self.skipped[:5])
        more = f" and {len(self.skipped) - 5} more" if len(self.skipped) > 5 else ""
        ran = ""
        if self._ran and not all(_copy(why) for _, why in self.skipped):
            ran = (f"; {len(self._ran)} photo(s) classified in {len(set(self._ran))} "
                   "event(s)")  # fmt: skip
        return f"{len(self.skipped)} photo(s) skipped: {names}{more}{ran}"

    def photos_line(self) -> str:
        """``photos: N in M event(s) (gap G s), K placed by their EXIF GPS``: the photos to
        run and their events; those found not to decode when the set was read (a truncated
        JPEG, :func:`_cut_short`) are no photo nor event of it, said apart (one found only
        when it runs: :meth:`skipped_summary`)."""
        runs = [p for p in self.photos if p.index not in self._undecodable]
        gps = sum(p.own_position is not None for p in runs)
        bad = sum(why.startswith("cannot be decoded") for _, why in self.skipped)
        return (f"photos: {len(runs)} in {len({p.event_id for p in runs})} event(s) (gap "
                f"{self.sequence_gap_s:g} s), {gps} placed by their EXIF GPS"
                + (f"; {bad} more cannot be decoded (skipped)" if bad else ""))  # fmt: skip

    # reading

    def forget_kept(self) -> None:
        """Let go of the pixels kept from the check that a photo decodes (that photo is
        decoded again when it runs): a source built long before it runs (a package's
        later deployments) holds no photo meanwhile."""
        self._kept = None

    def _skip(self, path: Path, why: str) -> None:
        self.skipped.append((str(path), why))
        line = f"warning: {path}: {why}; skipped"
        if self._held is None:
            self._log(line)
        else:
            self._held.append(line)

    def _faults(self) -> str:
        """The photos skipped (copies aside) and why, the first few, for an error."""
        return first_names([f"{Path(path).name} ({why})" for path, why in self.skipped
                            if not _copy(why)])  # fmt: skip

    def _run_before(self, items: list[PhotoItem], leave_out: Mapping[str, str]) -> list[PhotoItem]:
        """``items`` less those ``leave_out`` names: run before elsewhere, said in one line,
        or copies of a photo of this set that runs (its path), said as :meth:`_without_copies`
        says them; kept in :attr:`skipped` as copies."""
        runs = {str(i.path) for i in items} - set(leave_out)
        gone = [(Path(i.path), leave_out[str(i.path)]) for i in items if str(i.path) in leave_out]
        before = [(path, where) for path, where in gone if where not in runs]
        self.skipped += [(str(path), f"a copy of a photo run in {where}") for path, where in before]
        if before:
            places = Counter(where for _, where in before)
            self._log(f"{len(before)} photo(s) run before in "
                      f"{first_names([f'{w} ({n})' for w, n in places.most_common()])}: left "
                      "out (each photo counts once)")  # fmt: skip
        self._say_copies([(path, Path(of)) for path, of in gone if of in runs], "")
        return [i for i in items if str(i.path) not in leave_out]

    def _without_copies(self, items: list[PhotoItem]) -> list[PhotoItem]:
        """``items`` less copies of an earlier one: the same bytes, whatever the name (a card's
        folder copied twice into the folder run), or the same picture under the same name
        (re-tagged: a tagging tool rewrote its metadata; :func:`.same.picture_key`), each kind said in one warning and kept in
        :attr:`skipped`. Each photo is read once here: its picture hash is kept
        (:attr:`hashes`) for its ``media`` row and the database's check. A package's media
        rows are records of their own: kept."""
        first: dict[str, Path] = {}  # picture and name (same.picture_key) -> its first photo
        wholes: dict[str, Path] = {}  # sha256 of a file's bytes -> its first photo
        same: list[tuple[Path, Path]] = []  # (byte-identical copy, the photo it copies)
        tagged: list[tuple[Path, Path]] = []  # (copy with other metadata, the photo)
        for item in items:
            if item.timestamp is not None or item.deployment_id is not None:
                continue
            try:
                whole, picture = photo_hashes(item.path)
            except OSError:  # not there, unreadable: _read says so
                continue
            self.hashes[str(item.path)] = picture
            path, key = Path(item.path), picture_key(picture, item.path)
            if whole in wholes:
                same.append((path, wholes[whole]))
            elif key in first:
                tagged.append((path, first[key]))
                wholes[whole] = first[key]  # its byte-identical copies, renamed, are copies too
            else:
                first[key] = wholes[whole] = path
        self._say_copies(same, "byte-identical")
        self._say_copies(tagged, "re-tagged")
        copies = {str(path) for path, _ in same + tagged}
        return [i for i in items if str(i.path) not in copies]

    def _say_copies(self, named: list[tuple[Path, Path]], kind: str) -> None:
        """Copies of other photos of this set, of a ``kind`` (byte-identical, re-tagged, ""
        where not told), left out: one warning, each kept in :attr:`skipped`."""
        if not named:
            return
        self.skipped += [(str(path), f"a copy of {of}") for path, of in named]
        self._log(f"warning: {len(named)} photo(s) are {_COPIES[kind]}, left out (each photo "
                  f"counts once): {first_names([f'{path} (of {of})' for path, of in named])}")

    def _not_held(
        self, reads: list[_Read], placed: list[_Placed]
    ) -> tuple[list[_Read], list[_Placed]]:
        """``reads`` (and their ``placed``) less the photos :attr:`_check` finds held from
        another path (which says them, or raises when it holds them all), kept in
        :attr:`skipped` as copies. A package's media rows are records of their own: kept."""
        if self._check is None:  # nothing read to hash (fieldtool batch gives its hashes)
            return reads, placed
        asked = [Asked(str(r.path), self.picture_sha256(r.path), r.path.stat().st_size,
                       None if w.source == "file-mtime" else w.time, camera)
                 for r, (w, camera, *_) in zip(reads, placed, strict=True)
                 if r.item.timestamp is None and r.item.deployment_id is None]  # fmt: skip
        gone = self._check(str(self.uri), asked) if asked else {}
        self.skipped += [(p, f"a copy of a photo run in {where}") for p, where in gone.items()]
        kept = [i for i, r in enumerate(reads) if str(r.path) not in gone]
        return [reads[i] for i in kept], [placed[i] for i in kept]

    def _first_decodes(self, tried: int) -> tuple[set[int], tuple[int, np.ndarray]]:
        """The indices of the photos before the first that decodes (each skipped), and
        that photo's index and pixels, kept for its frame (decoded once), so that a set of
        which not one photo decodes is an error before its session starts (as a video that
        cannot be opened), not a session "finished" with nothing in it."""
        bad: set[int] = set()
        for photo in self.photos:
            try:
                image = read_upright(photo.path)
            except (OSError, ValueError, SyntaxError) as exc:  # truncated, damaged
                self._skip(photo.path, f"cannot be decoded ({str(exc).splitlines()[0][:120]})")
                bad.add(photo.index)
                continue
            return bad, (photo.index, image)
        raise FieldtoolError(f"{self.uri}: none of the {tried} photos can be decoded: "
                             f"{self._faults()}")  # fmt: skip

    def _read(self, item: PhotoItem) -> _Read | None:
        from PIL import UnidentifiedImageError

        path = Path(item.path)
        try:
            with open_image(path) as image:
                exif = photo_exif(image.getexif())
                size = _upright_size(image.size, exif.orientation)
                cut = _cut_short(image, path)
            if cut is not None:
                self._skip(path, f"cannot be decoded ({cut})")
                return None
            mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        except FileNotFoundError:
            self._skip(path, "photo not found")
            return None
        except UnidentifiedImageError:
            self._skip(path, "not an image Pillow can read")
            return None
        except (OSError, ValueError, SyntaxError) as exc:  # PIL raises SyntaxError on bad TIFFs
            self._skip(path, f"unreadable ({str(exc).splitlines()[0][:120]})")
            return None
        except FieldtoolError as exc:  # a HEIC without pillow-heif: what to do, the rest run
            self._skip(path, str(exc).removeprefix(f"{path}: "))
            return None
        if item.deployment_id is not None and item.deployment_id not in self.deployments:
            raise FieldtoolError(
                f"{path}: deployment {item.deployment_id!r} is not one of the deployments given"
            )
        return _Read(path, item, exif, size, mtime.replace(tzinfo=None))

    def _catalog(self, reads: list[_Read]) -> list[Photo]:
        """Time, place and event of every photo, in the order they will run."""
        if not reads:
            return []
        placed = [self._place(r) for r in reads]
        reads, placed = self._not_held(reads, placed)
        if not reads:
            return []
        self._say(reads, placed)
        cameras = [(dep or str(camera_folder(r.path)), camera) for r, (_, camera, dep, *_) in
                   zip(reads, placed, strict=True)]  # fmt: skip
        times = [p[0].time for p in placed]
        numbers = sequence_numbers(cameras, times, self.sequence_gap_s)
        order = sorted(range(len(reads)), key=lambda i: (numbers[i], times[i], str(reads[i].path)))
        first: dict[int, str] = {}
        for i in order:  # an event's id: its camera and first photo
            if numbers[i] not in first:
                first[numbers[i]] = event_id(str(cameras[i]), str(reads[i].path), times[i])
        earliest = min(times)
        photos = []
        for n, i in enumerate(order):
            when, camera, dep, own, position = placed[i]
            photos.append(Photo(n, reads[i].path, when.time, when.source, when.zone, camera, own,
                                position, dep, reads[i].size, first[numbers[i]],
                                (when.time - earliest).total_seconds(), when.offset_s))  # fmt: skip
        return photos

    def _say(self, reads: list[_Read], placed: list[_Placed]) -> None:
        """The log's lines on what the photos' EXIF did not say plainly."""
        by_track = sum(w.how == "track" for w, *_ in placed)
        if by_track:
            choice = self._clock.track_zone
            self._log(f"time: {by_track} photo(s) with a local clock, no GPS and no deployment: "
                      f"zone {choice.zone} ({choice.how})")  # fmt: skip
        off = []
        for r, (w, *_) in zip(reads, placed, strict=True):
            if w.camera_utc is not None:
                ahead = (w.camera_utc - w.time).total_seconds()
                if abs(ahead) > CLOCK_DISAGREES_S:
                    off.append(f"{r.path.name} (camera {w.camera_utc:%Y-%m-%d %H:%M:%S} UTC, "
                               f"GPS {w.time:%H:%M:%S}: camera {abs(ahead):.0f} s "
                               f"{'ahead' if ahead > 0 else 'behind'})")  # fmt: skip
        if off:
            self._log(f"time: {len(off)} photo(s) whose camera clock and EXIF GPS time differ by "
                      f"more than {CLOCK_DISAGREES_S:g} s; GPS time used: {first_names(off)}")  # fmt: skip
        unset = [(r, own) for r, (w, _, _, own, _) in zip(reads, placed, strict=True)
                 if r.exif.taken_text is not None and w.source == "file-mtime"]  # fmt: skip
        if unset:
            kept = sum(own is not None for _, own in unset)
            names = first_names([f"{r.path.name} {r.exif.taken_text!r}" for r, _ in unset])
            self._log(f"warning: {len(unset)} photo(s) whose EXIF DateTimeOriginal is no time "
                      f"(a camera clock never set?): {names}; dated by the file's time; "
                      f"{kept} of them keep their EXIF GPS position")  # fmt: skip
        changed = [r.path.name for r, (w, *_) in zip(reads, placed, strict=True)
                   if r.exif.taken_changed and w.source.startswith("exif-")
                   and w.source != "exif-gps"]  # fmt: skip
        if changed:
            self._log(f"warning: {len(changed)} photo(s) without EXIF DateTimeOriginal are dated "
                      "by EXIF DateTime, when the file was last changed (an editor's export "
                      f"sets it), which may not be when it was taken: {first_names(changed)}")  # fmt: skip
        problems: dict[str, list[str]] = {}
        for r in reads:
            if r.exif.gps_problem is not None:
                problems.setdefault(r.exif.gps_problem, []).append(r.path.name)
        for problem, paths in problems.items():
            self._log(f"warning: {len(paths)} photo(s) with {problem}: no position or zone taken "
                      f"from it: {first_names(paths)}")  # fmt: skip
        dated = [Dated(r.path.name, dep or str(camera_folder(r.path)), r.exif, w,
                       self.deployments.get(dep or ""), own, str(r.path))
                 for r, (w, _, dep, own, _) in zip(reads, placed, strict=True)]  # fmt: skip
        for line in self._clock.warnings(dated):
            self._log(line)

    def _place(self, r: _Read) -> _Placed:
        """(time, camera, deployment id, own position, position)."""
        own = r.exif.place
        camera = r.exif.camera or camera_folder(r.path).name
        deployment = None
        time = self._clock.time
        if r.item.deployment_id is not None:
            deployment = self.deployments[r.item.deployment_id]
            when = time(r.exif, r.mtime, r.item.timestamp, own, deployment)
        else:
            when = time(r.exif, r.mtime, r.item.timestamp, own, None)
            for candidate in self.deployments.values():
                guess = time(r.exif, r.mtime, r.item.timestamp, own, candidate)
                serial = r.exif.serial
                if candidate.covers(guess.time) and not (
                    candidate.camera_id and serial and candidate.camera_id != serial
                ):
                    deployment, when = candidate, guess
                    break
        position = own
        if position is None and deployment is not None:
            position = Position(deployment.lat, deployment.lon, deployment.uncertainty_m,
                                "deployment")  # fmt: skip
        dep_id = deployment.deployment_id if deployment else None
        return when, camera, dep_id, own, position

    def _frames(self) -> Generator[Frame, None, None]:
        # frames_read: every photo tried, those that could not be read when built included
        self.stats.frames_read = self._unread
        self._ran = []
        for n, photo in enumerate(self.photos):
            if self._stop.is_set():
                self.stats.end_reason = "stopped"
                return
            if self.max_frames is not None and n >= self.max_frames:
                return
            self.stats.frames_read += 1
            if photo.index in self._undecodable:  # tried when built: skipped and said then
                continue
            if self._kept is not None and self._kept[0] == photo.index:
                image, self._kept = self._kept[1], None  # decoded when built
            else:
                try:
                    image = read_upright(photo.path)
                except (OSError, ValueError, SyntaxError) as exc:  # truncated, damaged
                    why = str(exc).splitlines()[0][:120]
                    self._skip(photo.path, f"cannot be decoded ({why})")
                    continue
            self.stats.frames_yielded += 1
            self._ran.append(photo.event_id)
            yield Frame(photo.index, photo.t, photo.captured_at, image, str(photo.path),
                        photo.event_id)  # fmt: skip


def _cut_short(image: PIL.Image.Image, path: Path) -> str | None:
    """Why a JPEG cut short (a card pulled while the camera wrote it) cannot be decoded, or
    None. Only a file that does not end in the JPEG end marker is tried, at 1/8 scale (the
    decoder's DCT scaling: a fraction of a decode's time; a photo with data after its end,
    a phone's motion photo, decodes); other damage is found when the photo runs."""
    if image.format != "JPEG":
        return None
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 2))
        if handle.read(2) == b"\xff\xd9":
            return None
    try:
        image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
    except (OSError, ValueError, SyntaxError) as exc:
        return str(exc).splitlines()[0][:120]
    return None


def _copy(why: str) -> bool:
    """Whether a skipped photo's reason says it is a copy of another (not tried)."""
    return why.startswith("a copy of")


def _common_uri(paths: list[Path]) -> str:
    if len(paths) == 1:
        return str(paths[0])
    try:
        return os.path.commonpath([str(p.parent) for p in paths])
    except ValueError:  # relative and absolute, or other drives
        return str(paths[0].parent)
