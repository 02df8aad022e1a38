"""Whose clock an MP4's ``mvhd`` time is: a phone's UTC, or a camera's local clock.

ISO/IEC 14496-12 writes the ``mvhd`` creation time in UTC, and phones follow it. Cameras
mostly write their own clock there, the local time they were set to, with no zone: GoPro
cameras and DJI drones (told by their own marks: :mod:`fieldtool.tracks.gpmf`,
:mod:`fieldtool.tracks.dji`), the trail cameras that record clips (Browning, Bushnell,
Stealth Cam, ...) and camcorders. A clip is a camera's (:func:`maker_clock`,
:func:`photos_clock`):

* where its own metadata names a maker that is not a phone's: the QuickTime ``udta``
  strings ``©mak``/``©mod`` (or such items in an iTunes-style ``ilst``), or the
  ``moov/meta`` keys ``com.apple.quicktime.make``/``model`` (``make``/``model`` as FFmpeg
  writes them);
* else where it lies in a camera card's DCF folder (``DCIM/100RECNX``, told by
  :func:`fieldtool.photos.source.camera_folder`) beside photos whose EXIF Make/Model
  names one camera, not a phone.

A phone's: a clip with Android's keys (``com.android.*``, ``com.samsung.*``), with Apple's
(``com.apple.quicktime.*``) and no camera maker, or naming a phone's maker, or beside a
phone's photos. Anything else is UTC, as the spec says; where photos lie beside it,
:func:`hours_apart_warning` says when the clip and the photos are whole hours apart.

The MP4 in pure Python (its ``moov`` box only); the photos' EXIF through Pillow.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from fieldtool.timebase import offset_name, to_utc
from fieldtool.tracks.exif import PhotoExif, open_image, photo_exif
from fieldtool.tracks.gpmf import _boxes, moov_box
from fieldtool.tracks.qtmeta import apple_items, meta_boxes
from fieldtool.types import FieldtoolError

# Makers of phones, by the first word of a Make (lower case). Sony is not one: its cameras
# write "Sony" too, and its phones write Android's keys, which tell them.
PHONE_MAKERS = frozenset({
    "apple", "samsung", "google", "xiaomi", "redmi", "poco", "huawei", "honor", "oneplus",
    "oppo", "vivo", "realme", "motorola", "lg", "lge", "nokia", "hmd", "htc", "zte", "asus",
    "lenovo", "fairphone", "nothing", "tecno", "infinix", "meizu",
})  # fmt: skip
_KEYS = {b"com.apple.quicktime.make": "make", b"make": "make",
         b"com.apple.quicktime.model": "model", b"model": "model"}  # fmt: skip
_ATOMS = {b"\xa9mak": "make", b"\xa9mod": "model"}
_PHONE_KEYS = (b"com.android.", b"com.samsung.")
_APPLE_KEYS = b"com.apple.quicktime."
# A clip this far from the photos beside it agrees with them (s); one farther, within
# WHOLE_HOUR_S of a whole number of hours (at most 14: a zone's offset), is said
AGREES_S = 30 * 60
WHOLE_HOUR_S = 10 * 60
# A photo's EXIF, None where it cannot be read (a reader that keeps what it read: a plan's)
ExifRead = Callable[[Path], PhotoExif | None]


@dataclass(frozen=True, slots=True)
class Mp4Maker:
    """What an MP4/MOV says of the device that wrote it (module doc): ``make``/``model``
    ("" where not written); ``phone_key``: a key only phones write (Android's), as found;
    ``apple_key``: one of Apple's keys, as found."""

    make: str = ""
    model: str = ""
    phone_key: str = ""
    apple_key: str = ""

    @property
    def name(self) -> str:
        return _camera(self.make, self.model)


@dataclass(frozen=True, slots=True)
class Beside:
    """A photo beside a clip in its DCF folder, with its EXIF; ``before``: named before the
    clip (the camera's file counter: taken before it)."""

    path: Path
    exif: PhotoExif
    before: bool


@dataclass(frozen=True, slots=True)
class ClipClock:
    """Whose clock a clip's ``mvhd`` is: ``camera`` (its local clock) or a phone's (UTC);
    ``how``: why, for the log."""

    camera: bool
    how: str


def _camera(make: str, model: str) -> str:
    if make and model.lower().startswith(make.lower()):
        model = model[len(make) :].strip()  # "Canon" + "Canon XA11"
    return " ".join(p for p in (make, model) if p)


def is_phone_maker(make: str) -> bool:
    """Whether ``make`` (an EXIF Make, an MP4's ``©mak``) names a maker of phones."""
    words = make.strip().lower().replace(",", " ").split()
    return bool(words) and words[0] in PHONE_MAKERS


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace").replace("\x00", "").strip()


def mp4_maker(path: str | Path) -> Mp4Maker:
    """The :class:`Mp4Maker` of an MP4/MOV; an empty one where it writes none (or has no
    ``moov``, or a damaged one)."""
    found = moov_box(path)
    return Mp4Maker() if found is None else moov_maker(*found)


def moov_maker(moov: bytes, head: int) -> Mp4Maker:
    """:func:`mp4_maker` of a ``moov`` box read (:func:`fieldtool.tracks.gpmf.moov_box`)."""
    tags: dict[str, str] = {}
    phone = apple = ""
    try:
        for s, e in meta_boxes(moov, head, len(moov)):
            for key, value in apple_items(moov, s, e):
                if key in _KEYS and _text(value):
                    tags.setdefault(_KEYS[key], _text(value))
                elif key.startswith(_PHONE_KEYS):
                    phone = phone or key.decode("ascii", "replace")
                elif key.startswith(_APPLE_KEYS):
                    apple = apple or key.decode("ascii", "replace")
            for tag, text in _ilst_atoms(moov, s, e):
                tags.setdefault(tag, text)
        for tag, text in _udta_atoms(moov, head, len(moov)):
            tags.setdefault(tag, text)
    except (struct.error, IndexError, ValueError):
        return Mp4Maker()  # a damaged box: as if none
    return Mp4Maker(tags.get("make", ""), tags.get("model", ""), phone, apple)


def _ilst_atoms(moov: bytes, start: int, end: int) -> list[tuple[str, str]]:
    """``©mak``/``©mod`` items of an iTunes-style ``ilst`` in the ``meta`` box
    ``moov[start:end]`` (each value in a ``data`` box)."""
    if moov[start + 4 : start + 8] != b"hdlr":  # an ISO ``meta`` is a full box
        start += 4
    found = []
    for kind, s, e in _boxes(moov, start, end):
        for item, s2, e2 in _boxes(moov, s, e) if kind == b"ilst" else ():
            for inner, s3, e3 in _boxes(moov, s2, e2) if item in _ATOMS else ():
                if inner == b"data" and _text(moov[s3 + 8 : e3]):
                    found.append((_ATOMS[item], _text(moov[s3 + 8 : e3])))
    return found


def _udta_atoms(moov: bytes, start: int, end: int) -> list[tuple[str, str]]:
    """``©mak``/``©mod`` in the ``udta`` boxes of ``moov[start:end]``: QuickTime strings
    (length, language, text), as cameras write them, or a ``data`` box."""
    found = []
    for kind, s, e in _boxes(moov, start, end):
        if kind == b"udta":
            found += _udta_atoms(moov, s, e)
        elif kind in _ATOMS and e - s >= 4:
            if moov[s + 4 : s + 8] == b"data":  # size, "data", type, locale, value
                text = _text(moov[s + 16 : e])
            else:
                length = struct.unpack_from(">H", moov, s)[0]
                text = _text(moov[s + 4 : min(e, s + 4 + length)])
            found += [(_ATOMS[kind], text)] if text else []
    return found


def maker_clock(maker: Mp4Maker) -> ClipClock | None:
    """Whose clock the clip is by what it says itself (module doc); None where it does not
    tell."""
    if maker.phone_key:
        return ClipClock(False, f"mvhd, UTC: a phone's ({maker.phone_key} in the file)")
    if maker.make and is_phone_maker(maker.make):
        return ClipClock(False, f"mvhd, UTC: a phone's ({maker.name} in the file)")
    if maker.make:
        return ClipClock(True, f"mvhd, the camera's local clock ({maker.name} in the file, "
                               "not a phone)")  # fmt: skip
    if maker.apple_key:
        return ClipClock(False, f"mvhd, UTC: a phone's ({maker.apple_key} in the file)")
    return None


def read_photo_exif(path: Path) -> PhotoExif | None:
    """A photo's EXIF (through Pillow); None where it cannot be read."""
    try:
        with open_image(path) as image:
            return photo_exif(image.getexif())
    except (OSError, ValueError, FieldtoolError):  # Pillow's errors are OSError/ValueError
        return None


def photos_beside(
    paths: Sequence[Path], clip: Path, read: ExifRead = read_photo_exif
) -> list[Beside]:
    """The EXIF of ``paths`` (photos in ``clip``'s folder; ``read``: a photo's, None where
    it cannot be read), in name order; a photo that cannot be read is left out (the clip's
    time does not depend on it)."""
    found = []
    for path in sorted(paths, key=lambda p: p.name):
        if (exif := read(path)) is not None:
            found.append(Beside(path, exif, path.name < clip.name))
    return found


def photos_clock(beside: Sequence[Beside], folder: str) -> ClipClock | None:
    """Whose clock a clip in the DCF folder ``folder`` is by the photos ``beside`` it: one
    camera that is no phone named by their EXIF (Make/Model): its clock; a phone named: a
    phone's; None where they name none, or several cameras."""
    cameras = {(b.exif.make.strip(), b.exif.model.strip()) for b in beside if b.exif.make.strip()}
    phones = [make for make, _ in cameras if is_phone_maker(make)]
    if phones:
        return ClipClock(False, f"mvhd, UTC: beside a phone's photos ({phones[0]}) in {folder}")
    if len(cameras) != 1:
        return None
    (make, model), n = next(iter(cameras)), sum(1 for b in beside if b.exif.make.strip())
    return ClipClock(True, f"mvhd, the camera's local clock (beside {n} photo(s) of "
                           f"{_camera(make, model)} in {folder})")  # fmt: skip


def _photo_time(exif: PhotoExif, zone: str | None) -> tuple[datetime, str] | None:
    """A photo's time as a photo session stores it (UTC, or its clock where the zone is
    unknown; ``docs/photos.md``) and its reading in words; None without a time."""
    if exif.gps_time is not None:
        return exif.gps_time, f"EXIF GPS time {exif.gps_time:%Y-%m-%d %H:%M:%S} UTC"
    if exif.taken is None:
        return None
    taken = f"EXIF {exif.taken:%Y-%m-%d %H:%M:%S}, the camera's clock"
    if exif.taken_utc is not None and exif.offset is not None:
        utc, zone = exif.taken_utc, offset_name(exif.offset)
    elif zone is not None:
        utc = to_utc(exif.taken, zone)
    else:
        return exif.taken, f"{taken}, zone unknown"
    return utc, f"{taken} at {zone}: {utc:%Y-%m-%d %H:%M:%S} UTC"


def hours_apart_warning(
    clip: str, created: datetime, beside: Sequence[Beside], zone: str | None, folder: str,
    offset_s: float = 0.0,
) -> str | None:  # fmt: skip
    """A warning where a clip whose clock nothing tells (read as UTC) lies a near-whole
    number of hours from the photos beside it (``beside``, name order; their local clocks
    in ``zone``, None: unknown): more than :data:`AGREES_S` from the nearer of the photos
    named just before and after it, and within :data:`WHOLE_HOUR_S` of whole hours (1 to
    14). Both readings and the offset that would align them are named; None otherwise.
    ``offset_s``: the --time-offset the run adds to the clip (s): the advice once taken
    is no longer given."""
    timed = [(b, read) for b in beside if (read := _photo_time(b.exif, zone)) is not None]
    nearest = [t for t in timed if t[0].before][-1:] + [t for t in timed if not t[0].before][:1]
    if not nearest:
        return None
    shifted = created + timedelta(seconds=offset_s)
    photo, (when, reading) = min(nearest, key=lambda t: abs(shifted - t[1][0]))
    seconds = (shifted - when).total_seconds()
    hours = round(seconds / 3600)
    if abs(seconds) <= AGREES_S or abs(seconds - 3600 * hours) > WHOLE_HOUR_S or abs(hours) > 14:
        return None
    side = "after" if hours > 0 else "before"
    given = f", --time-offset {offset_s:+g} s added," if offset_s else ""
    return (f"warning: time: {clip}'s mvhd time {created:%Y-%m-%d %H:%M:%S}, read as UTC (as "
            f"the MP4 spec and phones have it){given} is {abs(hours)} h {side} {photo.path.name} "
            f"beside it in {folder} ({reading}); nothing in the clip or its photos names its "
            "camera: if the camera wrote its local clock into mvhd, as camera traps do, "
            f"--time-offset {offset_s - 3600 * hours:+g} puts the clip with its photos (or give "
            "--start-time)")  # fmt: skip
