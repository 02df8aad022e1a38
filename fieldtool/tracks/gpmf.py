"""GoPro telemetry (GPMF, the ``gpmd`` track) inside an MP4/MOV, parsed in pure Python.

GPS5 (HERO5..HERO10, MAX) or GPS9 (HERO11+) samples, GPSU (UTC), GPSF (fix), GPSP (DOP).
Also the ISO BMFF box walking this needs, which gives :func:`mp4_creation_time` (the
``mvhd`` time of any MP4/MOV) and :func:`has_gpmf` (is this a GoPro's file).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

import numpy as np

from fieldtool.tracks.base import DEFAULT_MAX_SPEED_MPS, UERE_M, TrackRead, finish_track
from fieldtool.types import FieldtoolError, Fix

_MP4_EPOCH = datetime(1904, 1, 1)
# QuickTime 1.0 (December 1991), the first of these files: an earlier creation time is a
# camera whose clock was never set (1970-01-01, the Unix epoch, is the usual one).
EARLIEST_VIDEO = datetime(1991, 12, 1)


def _boxes(data: bytes, off: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the ISO BMFF boxes in ``data[off:end]``."""
    while off + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, off)
        head = 8
        if size == 1:
            if off + 16 > end:
                return
            size = struct.unpack_from(">Q", data, off + 8)[0]
            head = 16
        elif size == 0:
            size = end - off
        if size < head or off + size > end:
            return
        yield kind, off + head, off + size
        off += size


def _read_moov(fh: BinaryIO, path: Path) -> bytes:
    """The ``moov`` box of an MP4/MOV file (seeking over ``mdat``)."""
    fh.seek(0, 2)
    file_end = fh.tell()
    off = 0
    while off + 8 <= file_end:
        fh.seek(off)
        head = fh.read(16)
        size, kind = struct.unpack_from(">I4s", head, 0)
        if size == 1:
            size = struct.unpack_from(">Q", head, 8)[0]
        elif size == 0:
            size = file_end - off
        if size < 8:
            break
        if kind == b"moov":
            fh.seek(off)
            return fh.read(size)
        off += size
    raise FieldtoolError(f"{path}: not an MP4/MOV file with a 'moov' box")


@dataclass(frozen=True, slots=True)
class _Samples:
    """Sample table of one track: file offsets, sizes, start times and durations (s)."""

    offsets: list[int]
    sizes: list[int]
    starts: list[float]
    durations: list[float]


def _sample_table(stbl: bytes, timescale: int) -> _Samples:
    boxes = {kind: (s, e) for kind, s, e in _boxes(stbl, 0, len(stbl))}

    def body(kind: bytes) -> bytes:
        s, e = boxes[kind]
        return stbl[s:e]

    stsz = body(b"stsz")
    fixed, count = struct.unpack_from(">II", stsz, 4)
    sizes = [fixed] * count if fixed else list(struct.unpack_from(f">{count}I", stsz, 12))
    if b"stco" in boxes:
        b = body(b"stco")
        n = struct.unpack_from(">I", b, 4)[0]
        chunks = list(struct.unpack_from(f">{n}I", b, 8))
    else:
        b = body(b"co64")
        n = struct.unpack_from(">I", b, 4)[0]
        chunks = list(struct.unpack_from(f">{n}Q", b, 8))
    b = body(b"stsc")
    n = struct.unpack_from(">I", b, 4)[0]
    runs = [struct.unpack_from(">III", b, 8 + 12 * i)[:2] for i in range(n)]
    offsets: list[int] = []
    for r, (first, per_chunk) in enumerate(runs):
        last = runs[r + 1][0] - 1 if r + 1 < len(runs) else len(chunks)
        for chunk in range(first, last + 1):
            pos = chunks[chunk - 1]
            for _ in range(per_chunk):
                if len(offsets) >= count:
                    break
                offsets.append(pos)
                pos += sizes[len(offsets) - 1]
    b = body(b"stts")
    n = struct.unpack_from(">I", b, 4)[0]
    durations: list[float] = []
    for i in range(n):
        repeat, delta = struct.unpack_from(">II", b, 8 + 8 * i)
        durations.extend([delta / timescale] * repeat)
    durations = (durations + [durations[-1] if durations else 1.0] * count)[:count]
    starts = list(np.concatenate([[0.0], np.cumsum(durations)[:-1]])) if count else []
    return _Samples(offsets[:count], sizes[:count], [float(s) for s in starts], durations)


def _find_gpmd(moov: bytes) -> tuple[_Samples, datetime | None] | None:
    """The sample table of the GPMF ('gpmd') track and the movie's creation time."""
    created = None
    head = 16 if struct.unpack_from(">I", moov, 0)[0] == 1 else 8
    for kind, s, e in _boxes(moov, head, len(moov)):
        if kind == b"mvhd":
            created = _mvhd_created(moov, s)
        if kind != b"trak":
            continue
        for k2, s2, e2 in _boxes(moov, s, e):
            if k2 != b"mdia":
                continue
            parts = {k: (a, b) for k, a, b in _boxes(moov, s2, e2)}
            if b"hdlr" not in parts or b"mdhd" not in parts or b"minf" not in parts:
                continue
            ha = parts[b"hdlr"][0]
            if moov[ha + 8 : ha + 12] != b"meta":
                continue
            ma = parts[b"mdhd"][0]
            timescale = struct.unpack_from(">I", moov, ma + (12 if moov[ma] == 0 else 20))[0]
            for k3, s3, e3 in _boxes(moov, *parts[b"minf"]):
                if k3 != b"stbl":
                    continue
                stbl = moov[s3:e3]
                stsd = next((a, b) for k, a, b in _boxes(stbl, 0, len(stbl)) if k == b"stsd")
                if stbl[stsd[0] + 12 : stsd[0] + 16] == b"gpmd":
                    return _sample_table(stbl, max(1, timescale)), created
    return None


# KLV value types of GPMF → struct codes
_GPMF_TYPES = MappingProxyType(
    {
        ord("b"): "b",
        ord("B"): "B",
        ord("s"): "h",
        ord("S"): "H",
        ord("l"): "i",
        ord("L"): "I",
        ord("f"): "f",
        ord("d"): "d",
        ord("j"): "q",
        ord("J"): "Q",
    }
)


def _klv(buf: bytes, off: int, end: int) -> Iterator[tuple[bytes, int, int, int, int]]:
    """(key, type, struct size, repeat, data offset) of the GPMF KLV items in a range."""
    while off + 8 <= end:
        key = buf[off : off + 4]
        if key == b"\0\0\0\0":
            return
        typ, ssize = buf[off + 4], buf[off + 5]
        repeat = int.from_bytes(buf[off + 6 : off + 8], "big")
        size = ssize * repeat
        if off + 8 + size > end:
            return
        yield key, typ, ssize, repeat, off + 8
        off += 8 + ((size + 3) & ~3)


def _values(buf: bytes, typ: int, ssize: int, repeat: int, at: int) -> list[float]:
    code = _GPMF_TYPES.get(typ)
    if code is None:
        return []
    n = ssize * repeat // struct.calcsize(code)
    return list(struct.unpack_from(f">{n}{code}", buf, at))


def _parse_gpsu(raw: bytes) -> datetime | None:
    """GPSU ``yymmddhhmmss.sss`` → datetime (UTC)."""
    try:
        text = raw[:16].decode("ascii")
        stamp = datetime.strptime(text[:12], "%y%m%d%H%M%S")
        return stamp + timedelta(seconds=float(text[12:16] or 0))
    except (UnicodeDecodeError, ValueError):
        return None


@dataclass(slots=True)
class _GpsBlock:
    """GPS samples of one STRM of one payload."""

    rows: np.ndarray  # (n, k) scaled values
    kind: str  # "GPS5" or "GPS9"
    utc: datetime | None = None  # GPSU
    fix: int | None = None  # GPSF: 0 none, 2 2D, 3 3D
    dop: float | None = None  # GPSP / 100


def _gps_blocks(payload: bytes) -> list[_GpsBlock]:
    blocks: list[_GpsBlock] = []
    for key, typ, _, _, at in _klv(payload, 0, len(payload)):
        if key != b"DEVC" or typ != 0:
            continue
        end = at + int.from_bytes(payload[at - 2 : at], "big") * payload[at - 3]
        for k2, t2, _, _, at2 in _klv(payload, at, end):
            if k2 != b"STRM" or t2 != 0:
                continue
            size2 = int.from_bytes(payload[at2 - 2 : at2], "big") * payload[at2 - 3]
            block = _strm_gps(payload, at2, at2 + size2)
            if block is not None:
                blocks.append(block)
    return blocks


def _strm_gps(buf: bytes, start: int, end: int) -> _GpsBlock | None:
    scale: list[float] = [1.0]
    utc = fix = dop = None
    type_desc = b""
    found: _GpsBlock | None = None
    for key, typ, ssize, repeat, at in _klv(buf, start, end):
        if key == b"SCAL":
            scale = [float(v) or 1.0 for v in _values(buf, typ, ssize, repeat, at)] or [1.0]
        elif key == b"GPSU":
            utc = _parse_gpsu(buf[at : at + ssize])
        elif key == b"GPSF":
            vals = _values(buf, typ, ssize, repeat, at)
            fix = int(vals[0]) if vals else None
        elif key == b"GPSP":
            vals = _values(buf, typ, ssize, repeat, at)
            dop = vals[0] / 100.0 if vals else None
        elif key == b"TYPE":
            type_desc = buf[at : at + ssize * repeat].rstrip(b"\0")
        elif key == b"GPS5" and typ == ord("l") and ssize == 20:
            rows = np.frombuffer(buf, dtype=">i4", count=5 * repeat, offset=at)
            found = _GpsBlock(_scaled(rows.reshape(repeat, 5), scale), "GPS5")
        elif key == b"GPS9" and typ == ord("?") and type_desc:
            codes = "".join(_GPMF_TYPES.get(c, "x") for c in type_desc)
            if "x" in codes or struct.calcsize(f">{codes}") != ssize:
                continue
            rows9 = np.array(
                [struct.unpack_from(f">{codes}", buf, at + i * ssize) for i in range(repeat)],
                dtype=np.float64,
            ).reshape(repeat, len(codes))
            found = _GpsBlock(_scaled(rows9, scale), "GPS9")
    if found is None:
        return None
    found.utc, found.fix, found.dop = utc, fix, dop
    return found


def _scaled(rows: np.ndarray, scale: list[float]) -> np.ndarray:
    k = rows.shape[1]
    s = np.array(scale if len(scale) == k else [scale[0]] * k, dtype=np.float64)
    return rows.astype(np.float64) / s


@dataclass(frozen=True, slots=True)
class GpmfSample:
    """One GPS sample of a GoPro clip."""

    media_t: float  # seconds from media t=0
    utc: datetime | None  # GPS time (GPSU + spread; GPS9 carries its own)
    lat: float
    lon: float
    alt_m: float
    speed_mps: float  # 2D ground speed
    fix: int | None  # GPSF / GPS9 fix: 0 none, 2 2D, 3 3D
    dop: float | None


def read_gpmf_samples(path: str | Path) -> tuple[list[GpmfSample], datetime | None]:
    """All GPS samples of a GoPro MP4 and the file's creation time (camera clock).

    Each payload of the 'gpmd' track covers [start, start + duration) of media time; its
    n GPS5 samples are spread evenly over it, and GPSU (the payload's UTC time) plus the
    same spread gives each one's UTC time. GPS9 samples carry their own time.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            moov = _read_moov(fh, path)
            found = _find_gpmd(moov)
            if found is None:
                raise FieldtoolError(f"{path}: no GoPro GPMF ('gpmd') telemetry track")
            table, created = found
            samples: list[GpmfSample] = []
            for off, size, start, dur in zip(
                table.offsets, table.sizes, table.starts, table.durations, strict=True
            ):
                fh.seek(off)
                payload = fh.read(size)
                for block in _gps_blocks(payload):
                    samples.extend(_block_samples(block, start, dur))
    except FileNotFoundError:
        raise FieldtoolError(f"{path}: video file not found") from None
    except OSError as exc:
        raise FieldtoolError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (struct.error, KeyError, StopIteration, IndexError, ValueError) as exc:
        raise FieldtoolError(f"{path}: damaged MP4/GPMF structure ({exc})") from None
    return samples, created


def moov_box(path: str | Path) -> tuple[bytes, int] | None:
    """The ``moov`` box of an MP4/MOV file and where its children start (its header's
    size), reading the box headers and ``moov`` only; None where there is none to read
    (not an MP4/MOV, cut short, unreadable)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return read_moov(fh, path)
    except OSError:
        return None


def read_moov(fh: BinaryIO, name: str | Path) -> tuple[bytes, int] | None:
    """:func:`moov_box` of a file open for reading (``name``: its path, for errors): a local
    file, or a remote one (a pyarrow file: seekable). OSError where it cannot be read."""
    try:
        moov = _read_moov(fh, Path(name))
        return moov, 16 if struct.unpack_from(">I", moov, 0)[0] == 1 else 8
    except (FieldtoolError, struct.error):
        return None


def mp4_creation_time(path: str | Path) -> datetime | None:
    """The ``mvhd`` creation time of an MP4/MOV file (naive, as written), None if unset.

    Reads the box headers and the ``moov`` box only. Zero (unset: encoders that do not
    know the time write it) and times before :data:`EARLIEST_VIDEO` (a clock never set)
    are None.
    """
    found = moov_box(path)
    return None if found is None else moov_creation_time(*found)


def moov_creation_time(moov: bytes, head: int) -> datetime | None:
    """:func:`mp4_creation_time` of a ``moov`` box read (:func:`moov_box`)."""
    for kind, s, _ in _boxes(moov, head, len(moov)):
        if kind == b"mvhd":
            return _mvhd_created(moov, s)
    return None


def _mvhd_created(moov: bytes, at: int) -> datetime | None:
    """The creation time in the ``mvhd`` box whose payload starts at ``at``; None when
    unset (0) or before :data:`EARLIEST_VIDEO` (a camera whose clock was never set)."""
    secs = struct.unpack_from(">I" if moov[at] == 0 else ">Q", moov, at + 4)[0]
    when = _MP4_EPOCH + timedelta(seconds=secs)
    return when if secs and when >= EARLIEST_VIDEO else None


def has_gpmf(path: str | Path) -> bool:
    """Whether an MP4/MOV file carries a GoPro GPMF ('gpmd') track (a GoPro camera's file)."""
    found = moov_box(path)
    return found is not None and moov_has_gpmf(found[0])


def moov_has_gpmf(moov: bytes) -> bool:
    """:func:`has_gpmf` of a ``moov`` box read (:func:`moov_box`)."""
    try:
        return _find_gpmd(moov) is not None
    except (struct.error, KeyError, StopIteration, IndexError, ValueError):
        return False


def gps_timed(fh: BinaryIO, moov: bytes) -> bool:
    """Whether :func:`read_gpmf` times the clip by GPS (``clock`` "utc"): its GPMF track
    holds a sample with a fix (or none said) and a GPS time. Its payloads are read in order
    up to the first such one (most clips: the first). ``fh``: the clip, open (a local file,
    a pyarrow one: seekable); ``moov``: its ``moov`` box. False without a GPMF track, or
    with one damaged before such a sample (its read fails: no GPS time either). One damaged
    after it is not read that far: True, though :func:`read_gpmf` fails on it."""
    try:
        found = _find_gpmd(moov)
        if found is None:
            return False
        table = found[0]
        for off, size, start, dur in zip(table.offsets, table.sizes, table.starts,
                                         table.durations, strict=True):  # fmt: skip
            fh.seek(off)
            for block in _gps_blocks(fh.read(size)):
                if any(s.utc is not None and (s.fix is None or s.fix >= 2)
                       for s in _block_samples(block, start, dur)):  # fmt: skip
                    return True
    except (struct.error, KeyError, StopIteration, IndexError, ValueError):
        return False
    return False


def _block_samples(block: _GpsBlock, start: float, dur: float) -> list[GpmfSample]:
    n = len(block.rows)
    out: list[GpmfSample] = []
    for i, row in enumerate(block.rows):
        step = dur * i / n
        utc: datetime | None
        dop: float | None
        fix: int | None
        if block.kind == "GPS9":
            utc = datetime(2000, 1, 1) + timedelta(days=float(row[5]), seconds=float(row[6]))
            dop, fix = float(row[7]), int(row[8])
        else:
            utc = block.utc + timedelta(seconds=step) if block.utc else None
            dop, fix = block.dop, block.fix
        out.append(
            GpmfSample(
                start + step,
                utc,
                float(row[0]),
                float(row[1]),
                float(row[2]),
                float(row[3]),
                fix,
                dop,
            )
        )
    return out


def read_gpmf(path: str | Path, *, max_speed_mps: float = DEFAULT_MAX_SPEED_MPS) -> TrackRead:
    """Fixes from a GoPro MP4's GPMF track, each at ``media_start + media time``.

    ``media_start`` (UTC of media t=0) is the median over samples of (UTC − media time),
    so a late or jittery GPSU does not shift the track. Samples without a lock (fix 0)
    are skipped; accuracy is DOP × ``UERE_M`` where GPSP is given.
    """
    path = Path(path)
    samples, created = read_gpmf_samples(path)
    if not samples:
        raise FieldtoolError(f"{path}: no GPS samples in its GPMF track")
    locked = [s for s in samples if s.fix is None or s.fix >= 2]
    skipped = {"no_fix": len(samples) - len(locked)}
    if not locked:
        raise FieldtoolError(f"{path}: the GPS had no fix during the clip ({len(samples)} samples)")
    offsets = sorted((s.utc - _MP4_EPOCH).total_seconds() - s.media_t for s in locked if s.utc)
    notes: list[str] = []
    if offsets:
        n = len(offsets)
        mid = offsets[n // 2]
        media_start = _MP4_EPOCH + timedelta(seconds=mid)
        clock = "utc"
        iqr = offsets[(3 * n) // 4] - offsets[n // 4]
        notes.append(f"UTC - media time: median of {n} samples, interquartile range {iqr:.3f} s")
    elif created is not None:
        media_start, clock = created, "local"
        notes.append("no GPSU time: media t=0 taken from the file's creation time")
    else:
        raise FieldtoolError(f"{path}: GPS samples carry no time (no GPSU)")
    raw = [
        Fix(
            media_start + timedelta(seconds=s.media_t),
            float(s.lat),
            float(s.lon),
            elevation_m=float(s.alt_m),
            accuracy_m=None if s.dop is None else s.dop * UERE_M,
        )
        for s in locked
    ]
    return finish_track(
        path,
        "gpmf",
        raw,
        skipped,
        clock=clock,
        media_start=media_start,
        notes=tuple(notes),
        max_speed_mps=max_speed_mps,
    )
