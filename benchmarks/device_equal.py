"""Does a device give the CPU's sightings? The demo walks (demo model, its ranges, the
walks' tracks) run once on the CPU in fp32, the reference, and once on ``--device`` at
``--precision``; their sightings must match: the same species in the same order, first and
last times within one analysed frame (1 / sample_fps), peak scores within ``--score-tol``.
Prints PASS or FAIL with every difference and what it ran on; exit status 1 on FAIL.

    python benchmarks/device_equal.py --device cuda --precision bf16   # the GPU machine
    python benchmarks/device_equal.py --device cpu --precision fp32    # the check, on itself
    python benchmarks/device_equal.py --decoder nvdec --h264 --regions west   # NVDEC's path

``--h264``: the walks (MPEG-4 Part 2, which NVDEC may not decode) are first re-encoded to
H.264 by PyAV's libx264, and both runs read the re-encoded files: with ``--decoder nvdec``
on CUDA the checked run's frames stay on the GPU as NVDEC's planes, converted there.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe  # noqa: E402  (benchmarks/machine.py)

from fieldtool.config import load_config  # noqa: E402
from fieldtool.pipeline import run_from_config  # noqa: E402
from fieldtool.resources import demo_model, shipped  # noqa: E402

REGIONS = ("west", "east")  # the demo walks (fieldtool demo)
Row = tuple[str, float, float, float]  # species, first_t, last_t, peak_score


def as_h264(video: Path, out_path: Path) -> Path:
    """``video`` re-encoded to H.264 (libx264, yuv420p, CRF 18) with its frame rate, frame
    times and container metadata (the walk's start time)."""
    import av

    with av.open(str(video)) as source, av.open(str(out_path), "w") as out:
        out.metadata.update(source.metadata)
        given = source.streams.video[0]
        stream = out.add_stream("libx264", rate=given.average_rate)
        stream.width, stream.height, stream.pix_fmt = given.width, given.height, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for frame in source.decode(given):
            out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode(None))
    return out_path


def sightings(region: str, device: str, precision: str, decoder: str,
              folder: Path, video: Path) -> tuple[list[Row], float, float]:  # fmt: skip
    """The walk's sightings on ``device``, its sample interval (s) and the run's seconds."""
    demo = shipped("data", "demo")
    config = load_config(None, {
        "source.uri": str(video), "source.decoder": decoder,
        "position.track": str(demo / f"walk_{region}.gpx"), "model.path": str(demo_model()),
        "prior.ranges": [str(shipped("data", "ranges", "demo_ranges.geojson"))],
        "model.device": device, "model.precision": precision,
        "store.db": str(folder / f"{region}-{device}-{precision}.duckdb"),
        "store.snapshots": False,
    })  # fmt: skip
    start = time.perf_counter()
    result = run_from_config(config, log=lambda message: None)
    rows = [(s.species, s.first_t, s.last_t, s.peak_score) for s in result.sightings]
    return rows, 1.0 / config.source.sample_fps, time.perf_counter() - start


def differences(reference: list[Row], other: list[Row], sample_s: float,
                score_tol: float) -> list[str]:  # fmt: skip
    """What differs between two runs' sightings, one line each (empty: they agree)."""
    if [r[0] for r in reference] != [o[0] for o in other]:
        return [f"species differ: cpu {[r[0] for r in reference]} vs {[o[0] for o in other]}"]
    found = []
    for (species, first, last, peak), (_, first2, last2, peak2) in zip(reference, other,
                                                                         strict=True):  # fmt: skip
        if abs(first - first2) > sample_s + 1e-6 or abs(last - last2) > sample_s + 1e-6:
            found.append(f"{species}: span {first:.2f}-{last:.2f} s vs {first2:.2f}-{last2:.2f} s")
        if abs(peak - peak2) > score_tol:
            found.append(f"{species}: peak {peak:.3f} vs {peak2:.3f}")
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda", help="device to check against the CPU")
    p.add_argument("--precision", default="bf16", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--decoder", default="opencv", choices=["opencv", "pyav", "nvdec", "auto"],
                   help="source.decoder of the checked run (the CPU reference: opencv)")
    p.add_argument("--score-tol", type=float, default=0.02)
    p.add_argument("--regions", nargs="+", default=list(REGIONS), choices=REGIONS)
    p.add_argument("--h264", action="store_true", help="both runs read the walks re-encoded "
                   "to H.264 (what NVDEC decodes everywhere)")  # fmt: skip
    args = p.parse_args()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    print(f"CPU: {describe()}; torch {torch.__version__}; checked: {args.device} "
          f"{args.precision} (GPU: {gpu}), decoder {args.decoder}; reference: cpu fp32 opencv; "
          f"walks {'re-encoded to H.264' if args.h264 else 'as shipped'}")  # fmt: skip
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for region in args.regions:
            video = shipped("data", "demo") / f"walk_{region}.mp4"
            if args.h264:
                video = as_h264(video, Path(tmp) / f"walk_{region}_h264.mp4")
            ref, sample_s, ref_s = sightings(region, "cpu", "fp32", "opencv", Path(tmp), video)
            got, _, got_s = sightings(region, args.device, args.precision, args.decoder,
                                      Path(tmp), video)  # fmt: skip
            found = differences(ref, got, sample_s, args.score_tol)
            failed |= bool(found)
            worst = max((abs(a[3] - b[3]) for a, b in zip(ref, got, strict=False)), default=0.0)
            print(f"walk_{region}: {'FAIL' if found else 'PASS'}: {len(ref)} sightings on the "
                  f"CPU ({ref_s:.1f} s), {len(got)} on {args.device} ({got_s:.1f} s); largest "
                  f"peak difference {worst:.4f}")  # fmt: skip
            for line in found:
                print(f"  {line}")
    print("FAIL" if failed else "PASS")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
