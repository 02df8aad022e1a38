"""``fieldtool batch``: many video files and photo folders on Ray Data into one DuckDB file."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from fieldtool.cli.common import log, overrides, session_flags
from fieldtool.config import load_config
from fieldtool.types import FieldtoolError


def cmd_batch(args: argparse.Namespace) -> int:
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise FieldtoolError("fieldtool batch needs Ray: pip install 'fieldtool[scale]'") from exc
    from fieldtool.scale import BatchOptions, run_batch

    if args.chunk_files < 1:
        raise FieldtoolError(f"--chunk-files {args.chunk_files}: expected 1 or more files")
    if not (math.isfinite(args.chunk_gib) and args.chunk_gib > 0):
        raise FieldtoolError(f"--chunk-gib {args.chunk_gib}: expected a size above 0 GiB")
    config = load_config(args.config, overrides(args))  # --db: the file the batch merges into
    options = BatchOptions(
        address=args.address, actors=args.actors, decode_cpus=args.decode_cpus,
        parts=args.parts, object_store_mb=args.object_store_mb, verbose=args.verbose,
        chunk_files=args.chunk_files, chunk_bytes=int(args.chunk_gib * 2**30),
    )  # fmt: skip
    summary = run_batch(args.input, config.store.db, config, options, log=log)
    for line in summary.lines():
        print(line)
    return 1 if summary.failed else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    batch = sub.add_parser(
        "batch", help="run many video files and photo folders on Ray Data (local cluster or "
        "--address) into one db",
    )  # fmt: skip
    batch.add_argument("input", help="folder (recursive: each video, and each topmost folder "
                       "of photos, is one session), glob, or manifest .csv/.parquet (a row may "
                       "name a photo folder, glob or Camtrap DP package); local paths or URIs "
                       "(s3://, gs://; photos: local only)")  # fmt: skip
    batch.add_argument("--address", help="Ray cluster (ray://host:10001, or auto); "
                       "default: a local cluster sized to this machine")  # fmt: skip
    batch.add_argument("--actors", type=int, help="classify actors (default: one per GPU, else 1)")
    batch.add_argument("--decode-cpus", type=float, default=1.0, help="CPUs per decode task")
    batch.add_argument("--parts", type=Path, help="folder for the Parquet parts "
                       "(default: <db>.parts beside the db; on a cluster a shared folder)")  # fmt: skip
    batch.add_argument("--chunk-files", type=int, default=64, help="files run on Ray at a "
                       "time: each chunk is merged into the db as it ends, so an interrupted "
                       "batch keeps the chunks before (default: 64)")  # fmt: skip
    batch.add_argument("--chunk-gib", type=float, default=8.0, help="and at most about this "
                       "many GiB of input a chunk (a larger file is a chunk of its own; "
                       "default: 8)")  # fmt: skip
    batch.add_argument("--object-store-mb", type=int,
                       help="object store of the local cluster, MiB (default: Ray's)")  # fmt: skip
    batch.add_argument("--verbose", action="store_true", help="Ray's own log lines, its "
                       "workers' output, and progress bars off a terminal too (default: "
                       "fieldtool's lines, Ray's warnings and errors, bars on a terminal)")  # fmt: skip
    session_flags(batch)
    batch.set_defaults(func=cmd_batch)
