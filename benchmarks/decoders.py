"""Frames/s of each video decoder (``source.decoder``: opencv, pyav, nvdec) on an H.264
file: decode only and the whole session, for one file and for N files at once (N reader
threads; the session as a station of N files on one model, as ``fieldtool run a b c d``).
Prints a table and what it ran on; no asserts. The clip is made here with PyAV's libx264
(benchmarks/make_clip.py) unless ``--video`` names one.

    python benchmarks/decoders.py --size 320x240 --frames 60           # demo model, CPU
    python benchmarks/decoders.py --arch vitb14reg4 --image-size 518 --device cuda \\
        --precision bf16 --batch-size 128 --frames 300 --files 4        # the GPU machine
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import torch

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe  # noqa: E402  (benchmarks/machine.py)
from make_clip import make_clip, parse_size  # noqa: E402
from throughput import ARCHS, model_only, random_model  # noqa: E402

from fieldtool.classify import DinoClassifier  # noqa: E402
from fieldtool.config import Config  # noqa: E402
from fieldtool.decode import segmented_source, video_source  # noqa: E402
from fieldtool.model import load_model_folder  # noqa: E402
from fieldtool.pipeline import run_session  # noqa: E402
from fieldtool.resources import demo_model  # noqa: E402
from fieldtool.sources import VideoSource  # noqa: E402
from fieldtool.station import Station, StationConfig  # noqa: E402
from fieldtool.store import SightingStore  # noqa: E402
from fieldtool.tracks import FixedPosition  # noqa: E402
from fieldtool.types import FieldtoolError  # noqa: E402

EVERY_FRAME = 1000.0  # sample_fps above any video rate: every frame is analysed


def open_source(decoder: str, video: Path, args: argparse.Namespace) -> VideoSource:
    """The source a session would read ``video`` with: ``--pixels``, and ``--decode-workers``
    processes for PyAV (the other decoders' rows stay theirs: one decoder each)."""
    workers = args.decode_workers if decoder == "pyav" else 1
    return segmented_source(str(video), workers=workers, decoder=decoder,  # type: ignore[arg-type]
                            pixels=args.pixels, sample_fps=EVERY_FRAME, max_frames=args.frames)  # fmt: skip


def decode_only(
    decoder: str, videos: list[Path], args: argparse.Namespace
) -> tuple[float, bool]:
    """Frames/s of ``len(videos)`` sources read at once, each on its own thread, and whether
    every source's frames stayed on the GPU to the end (NVDEC with YUV planes; a source that
    could not keep them there says so in the session's log, which this leaves out)."""
    counts = [0] * len(videos)
    sources = [open_source(decoder, v, args) for v in videos]

    def read(i: int) -> None:
        for _ in sources[i].frames():
            counts[i] += 1

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(videos))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = sum(counts) / (time.perf_counter() - start)
    return rate, all(getattr(s, "device_planes", False) for s in sources)


def one_session(decoder: str, video: Path, classifier: DinoClassifier, args: argparse.Namespace,
                folder: Path) -> tuple[float, float]:  # fmt: skip
    """Frames/s of ``fieldtool run`` on one file, and the model thread's busy share."""
    config = Config()
    config.source.sample_fps = EVERY_FRAME
    config.source.decoder = decoder  # type: ignore[assignment]
    config.model.batch_size = args.batch_size
    config.store.db = folder / f"one-{decoder}.duckdb"
    config.store.snapshots = False
    source = open_source(decoder, video, args)
    start = time.perf_counter()
    result = run_session(source, classifier, SightingStore(config.store.db), config,
                         positions=FixedPosition(44.5, -123.3))  # fmt: skip
    return result.session.frames_analysed / (time.perf_counter() - start), (
        result.model_busy_s / result.wall_s
    )


def station_of_files(decoder: str, videos: list[Path], classifier: DinoClassifier,
                     args: argparse.Namespace, folder: Path) -> tuple[float, float]:  # fmt: skip
    """Frames/s of one station running ``videos`` to their ends on one model, and the
    model worker's busy share of the wall time."""
    config = StationConfig.model_validate({
        "station": {"name": f"files-{decoder}"},
        "worker": {"max_batch": args.batch_size},
        "source": {"sample_fps": EVERY_FRAME, "decoder": decoder, "max_frames": args.frames,
                   "pixels": args.pixels,
                   "decode_workers": args.decode_workers if decoder == "pyav" else 1},
        "store": {"db": str(folder / f"files-{decoder}.duckdb"), "snapshots": False,
                  "live_frame_interval_s": 0},
        "sources": [{"name": f"file{i}", "uri": str(v)} for i, v in enumerate(videos)],
    })  # fmt: skip
    station = Station(config, classifier=classifier)
    start = time.perf_counter()
    results = station.run()
    wall = time.perf_counter() - start
    frames = sum(r.session.frames_analysed for r in results)
    return frames / wall, station.worker.model_s / wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--video", type=Path, help="an H.264 file (default: one made here)")
    p.add_argument("--size", type=parse_size, default=(1920, 1080), help="WxH of the made clip")
    p.add_argument("--frames", type=int, default=300, help="frames of the clip / read per file")
    p.add_argument("--files", type=int, default=4, help="files at once (copies of the clip)")
    p.add_argument("--decoders", nargs="+", default=["opencv", "pyav", "nvdec"],
                   choices=["opencv", "pyav", "nvdec", "auto"])  # fmt: skip
    p.add_argument("--arch", choices=sorted(ARCHS), help="random-weight model (default: demo)")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--tiles", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--skip", nargs="*", default=[], choices=["session", "station"],
                   help="measurements to leave out")  # fmt: skip
    p.add_argument("--pixels", default="auto", choices=["auto", "bgr", "yuv"],
                   help="frames as BGR or as the decoder's YUV planes (auto: yuv on CUDA, "
                        "where NVDEC's stay on the GPU)")  # fmt: skip
    p.add_argument("--decode-workers", type=int, default=1,
                   help="processes decoding one file for the pyav rows (source.decode_workers)")
    args = p.parse_args()

    model = random_model(args.arch, args.image_size) if args.arch else load_model_folder(
        demo_model())  # fmt: skip
    classifier = DinoClassifier(model, device=args.device, batch_size=args.batch_size,
                                tiles=args.tiles, precision=args.precision)  # fmt: skip
    gpu = torch.cuda.get_device_name() if classifier.device.type == "cuda" else "none"
    if args.pixels == "auto":  # as the session resolves it (fieldtool.pipeline.inputs)
        args.pixels = "yuv" if classifier.device.type == "cuda" else "bgr"
    try:
        import av

        pyav = f"PyAV {av.__version__}"
    except ImportError:
        pyav = "no PyAV"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        video = args.video
        if video is None:
            start = time.perf_counter()
            video = make_clip(folder / "clip.mp4", *args.size, frames=args.frames)
            made = f"made in {time.perf_counter() - start:.1f} s"
        else:
            made = "given"
        cap = cv2.VideoCapture(str(video))
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.release()
        videos = [video]
        for i in range(1, args.files):
            videos.append(Path(shutil.copy(video, folder / f"copy{i}{video.suffix}")))
        print(f"CPU: {describe()}; torch {torch.__version__} ({torch.get_num_threads()} "
              f"threads); OpenCV {cv2.__version__}; {pyav}; device {classifier.device} "
              f"(GPU: {gpu}); model {model.info.model_id} at {model.info.image_size} px, "
              f"tiles {args.tiles}x{args.tiles}, precision {classifier.precision}, batch "
              f"{args.batch_size}; video {video.name} {w}x{h}, {args.frames} frames ({made}); "
              f"{args.files} files at once; pixels {args.pixels}; pyav with {args.decode_workers} "
              "decoding process(es) a file")  # fmt: skip
        frames = [f.image for f in video_source(str(video), sample_fps=EVERY_FRAME,
                                                max_frames=args.batch_size).frames()]  # fmt: skip
        classifier.predict(frames)  # warm-up
        model_fps = model_only(classifier, frames)
        print(f"(b) model only (pre-made tensors): {model_fps:.1f} frames/s\n")
        n = args.files
        print(f"| decoder | (a) decode 1 file | (a) decode {n} files | (c) session 1 file "
              f"| (c)/(b) | model busy | (c) station {n} files | (c)/(b) | model busy |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for decoder in args.decoders:
            try:
                one, one_on_gpu = decode_only(decoder, videos[:1], args)
            except FieldtoolError as exc:
                print(f"| {decoder} | unavailable: {exc} |||||||", flush=True)
                continue
            many, many_on_gpu = decode_only(decoder, videos, args)
            where = ""
            if decoder == "nvdec" and args.pixels == "yuv":
                where = (" (frames kept on the GPU)" if one_on_gpu and many_on_gpu else
                         " (frames copied to host: they could not stay on the GPU)")  # fmt: skip
            row = f"| {decoder}{where} | {one:.1f} | {many:.1f} |"
            if "session" not in args.skip:
                fps, busy = one_session(decoder, video, classifier, args, folder)
                row += f" {fps:.1f} | {fps / model_fps:.2f} | {100 * busy:.0f}% |"
            else:
                row += " - | - | - |"
            if "station" not in args.skip:
                fps, busy = station_of_files(decoder, videos, classifier, args, folder)
                row += f" {fps:.1f} | {fps / model_fps:.2f} | {100 * busy:.0f}% |"
            else:
                row += " - | - | - |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
