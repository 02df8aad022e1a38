"""A station's aggregate throughput and per-source lag for 1, 2, 4, 8 live sources on one
model worker, beside the model alone (no asserts; prints a table and the CPU).

Each source is a loopback MJPEG camera (in this process, 127.0.0.1) replaying the demo
walk's frames at ``--camera-fps``; every offered frame is sampled, so the model is the
bottleneck and live sources drop what it cannot take (newest frame only). Lag: a frame's
age when the model starts on it (p50 / p95 over every source's recent frames); its bound
is one batch plus ``max_wait_ms``. "of model-only" = aggregate / model-only frames/s at
the same batch size.

    python benchmarks/station.py                          # demo model, 1 2 4 8 sources
    python benchmarks/station.py --arch vits14 --image-size 224 --seconds 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import torch
from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)

from fieldtool.classify import DinoClassifier
from fieldtool.model import load_model_folder
from fieldtool.resources import demo_model
from fieldtool.station import Station, StationConfig

ROOT = Path(__file__).resolve().parents[1]
WALK = ROOT / "data" / "demo" / "walk_west.mp4"




def rss_mb() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


class Camera:
    """Loopback MJPEG camera replaying ``jpegs`` at ``fps``."""

    def __init__(self, jpegs: list[bytes], fps: float) -> None:
        self.stop = threading.Event()
        cam = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                i = 0
                try:
                    while not cam.stop.is_set():
                        jpeg = jpegs[i % len(jpegs)]
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                         b"Content-Length: %d\r\n\r\n" % len(jpeg) + jpeg + b"\r\n")
                        i += 1
                        cam.stop.wait(1 / fps)
                except OSError:
                    pass

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/cam.mjpg"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def walk_frames(n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(WALK))
    frames = []
    while len(frames) < n:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    if not frames:
        sys.exit(f"{WALK}: no frames (run python -m fieldtool.demo.world)")
    return frames


def model_only(classifier: DinoClassifier, frames: list[np.ndarray], batch: int,
               seconds: float) -> float:  # fmt: skip
    """Frames/s of ``classifier.predict`` alone on batches of ``batch`` prepared frames."""
    images = [frames[i % len(frames)] for i in range(batch)]
    prepared = [classifier.prepare(im) for im in images]
    classifier.predict(images, prepared)  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        classifier.predict(images, prepared)
        done += batch
    return done / (time.perf_counter() - start)


def run_station(n: int, classifier: DinoClassifier, jpegs: list[bytes], args: argparse.Namespace,
                folder: Path) -> dict[str, float]:  # fmt: skip
    cams = [Camera(jpegs, args.camera_fps) for _ in range(n)]
    cfg = StationConfig.model_validate({
        "station": {"name": f"bench{n}"},
        "worker": {"max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms},
        "source": {"sample_fps": args.camera_fps * 2, "read_timeout_s": 5},
        "store": {"db": str(folder / f"bench{n}.duckdb"), "live_frame_interval_s": 0},
        "sources": [{"name": f"cam{i}", "uri": c.url} for i, c in enumerate(cams)],
    })  # fmt: skip
    station = Station(cfg, classifier=classifier)
    rss0 = rss_mb()
    thread = threading.Thread(target=station.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            f.step is not None and f.step.session.frames_analysed > 0
            for f in station.by_name.values()
        ) or len(station.by_name) < n:
            time.sleep(0.05)
        w = station.worker
        frames0, busy0, batches0 = w.frames, w.model_s, w.batches
        for f in station.by_name.values():
            f.lags.clear()
        t0 = time.perf_counter()
        time.sleep(args.seconds)
        elapsed = time.perf_counter() - t0
        frames = station.worker.frames - frames0
        batches = max(1, station.worker.batches - batches0)
        busy = station.worker.model_s - busy0
        lags = [x for f in station.by_name.values() for x in f.lags]
        per_source = [len(f.lags) for f in station.by_name.values()]
        rss1 = rss_mb()
        dropped = sum(f.slot.dropped for f in station.by_name.values())
    finally:
        station.stop()
        thread.join(60)
        for c in cams:
            c.close()
    q = statistics.quantiles(lags, n=20) if len(lags) >= 20 else [float("nan")] * 19
    return {
        "fps": frames / elapsed, "lag_p50": statistics.median(lags) if lags else float("nan"),
        "lag_p95": q[18], "batch": frames / batches, "batch_s": busy / batches,
        "busy": busy / elapsed, "dropped": dropped, "rss": rss1 - rss0,
        "min_share": min(per_source) / max(1, max(per_source)),
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sources", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row")
    p.add_argument("--camera-fps", type=float, default=25.0)
    p.add_argument("--max-batch", type=int, default=8)
    p.add_argument("--max-wait-ms", type=float, default=20.0)
    p.add_argument("--arch", choices=["demo", "vits14"], default="demo",
                   help="demo: the bundled demo model; vits14: ViT-S/14, random weights")
    p.add_argument("--image-size", type=int, default=224, help="--arch vits14 input size")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.arch == "demo":
        model = load_model_folder(demo_model())
    else:
        sys.path.insert(0, str(Path(__file__).parent))
        from throughput import random_model  # the benchmarks' random ViT-S/14

        model = random_model("vits14", args.image_size)
    classifier = DinoClassifier(model, device=args.device, batch_size=args.max_batch)
    frames = walk_frames(60)
    jpegs = [cv2.imencode(".jpg", f)[1].tobytes() for f in frames]
    h, w = frames[0].shape[:2]
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores, torch threads "
          f"{torch.get_num_threads()}); device {args.device}; model {model.info.model_id} "
          f"({model.info.image_size} px); frames {w}x{h} MJPEG at {args.camera_fps:g} fps "
          f"per camera; max_batch {args.max_batch}, max_wait_ms {args.max_wait_ms:g}; load "
          f"average before {os.getloadavg()[0]:.1f}")  # fmt: skip

    def alone() -> float:
        # On a thread, as the station's worker runs it: on this loaded 2-core machine torch
        # ran about 10x slower from the main thread than from another thread (OpenMP team).
        box: list[float] = []
        worker = threading.Thread(target=lambda: box.append(
            model_only(classifier, frames, args.max_batch, args.seconds / 2)))  # fmt: skip
        worker.start()
        worker.join()
        return box[0]

    print("model-only: measured just before each row (the machine's load drifts)\n")
    print("| sources | analysed frames/s | model-only frames/s | of model-only | mean batch "
          "| batch ms | lag p50 ms "
          "| lag p95 ms | bound ms | model busy | dropped | fairness | RSS +MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sources:
            model_fps = alone()
            r = run_station(n, classifier, jpegs, args, Path(tmp))
            bound = (r["batch_s"] * 1000) + args.max_wait_ms
            print(f"| {n} | {r['fps']:.1f} | {model_fps:.1f} | {r['fps'] / model_fps:.2f} | "
                  f"{r['batch']:.1f} | {r['batch_s'] * 1000:.0f} | {r['lag_p50'] * 1000:.0f} | "
                  f"{r['lag_p95'] * 1000:.0f} | {bound:.0f} | {100 * r['busy']:.0f}% | "
                  f"{r['dropped']:.0f} | {r['min_share']:.2f} | {r['rss']:.0f} |",
                  flush=True)  # fmt: skip
    print("\nfairness: the least-served source's analysed frames / the most-served source's")


if __name__ == "__main__":
    main()
