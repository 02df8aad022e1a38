"""Command line: ``fieldtool run | demo | eval | sql``."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fieldtool.config import DEMO_MODEL, Config, load_config, parse_override
from fieldtool.types import FieldtoolError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO_ROOT / "data" / "demo"
DEMO_RANGES = REPO_ROOT / "data" / "ranges" / "demo_ranges.geojson"
DEMO_REGIONS = ("west", "east")


def _log(message: str) -> None:
    print(f"fieldtool: {message}", file=sys.stderr, flush=True)


class ProgressPrinter:
    """One status line per report; rewritten in place on a terminal."""

    def __init__(self, label: str, stream=sys.stderr) -> None:
        self.label = label
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, p) -> None:
        done = f"{p.t:7.1f} s"
        if p.duration_s:
            done += f" / {p.duration_s:.1f} s ({100 * min(p.t / p.duration_s, 1):3.0f}%)"
        line = (
            f"{self.label}: {done}  analysed {p.frames_analysed} frames "
            f"({p.analysis_fps:.1f}/s)  sightings {p.closed_sightings} closed, {p.open_sightings} open"
        )
        end = "\r" if self.tty else "\n"
        print(line.ljust(100) if self.tty else line, end=end, file=self.stream, flush=True)

    def done(self) -> None:
        if self.tty:
            print(file=self.stream)


def _session_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("session settings (override the config file)")
    g.add_argument("--config", type=Path, help="TOML config file")
    g.add_argument("--model", type=Path, help="model folder (default models/demo)")
    g.add_argument("--gallery", type=Path, help="few-shot gallery folder (see 'fieldtool gallery')")
    g.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    g.add_argument("--batch-size", type=int)
    g.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="auto: bf16/fp16 on CUDA, bf16 on CPUs with AVX512-BF16 or AMX, else fp32",
    )
    g.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="torch.compile the model (slower start, faster for long videos)",
    )
    g.add_argument("--tiles", type=int, help="cut frames into N x N tiles")
    g.add_argument("--sample-fps", type=float, help="analysed frames per second")
    g.add_argument(
        "--start-time",
        help="time of the video's first frame (ISO 8601; without an offset: in --tz, else UTC)",
    )
    g.add_argument(
        "--tz",
        help="zone of local camera clocks (DJI SRT, EXIF): IANA name or +HH:MM; "
        "default: the zone at the track's position",
    )
    g.add_argument("--lat", type=float, help="fixed latitude (degrees)")
    g.add_argument("--lon", type=float, help="fixed longitude (degrees)")
    g.add_argument(
        "--track",
        "--gpx",
        dest="track",
        type=Path,
        help="GPS track: GPX, NMEA, GoPro MP4/MOV, DJI SRT, photo EXIF",
    )
    g.add_argument(
        "--gpsd",
        nargs="?",
        const="localhost:2947",
        metavar="HOST[:PORT]",
        help="live positions from a gpsd daemon (default localhost:2947)",
    )
    g.add_argument("--track-format", choices=["auto", "gpx", "nmea", "srt", "gpmf", "exif"])
    g.add_argument("--time-offset", type=float, help="seconds added to frame times for the track")
    g.add_argument(
        "--ranges",
        type=Path,
        nargs="+",
        help="range polygons (shp, geojson, gpkg) or occurrence tables (GBIF csv/tsv)",
    )
    g.add_argument("--ranges-crs", help="CRS for range files that carry none, e.g. EPSG:4267")
    g.add_argument("--species-field", help="range attribute holding the species name")
    g.add_argument("--presence-field", help="range attribute: 1 range, 0 absence")
    g.add_argument("--prior-weight", type=float, help="0 turns the range prior off")
    g.add_argument(
        "--prior-mode",
        choices=["soft", "filter"],
        help="soft reweighting, or keep only species expected here",
    )
    g.add_argument(
        "--ignore-location",
        action="store_true",
        help="no range prior for this session (gardens, planted collections)",
    )
    g.add_argument("--db", type=Path, help="DuckDB sightings file")
    g.add_argument("--no-snapshots", action="store_true", help="do not save snapshot JPEGs")
    g.add_argument("--preview", type=Path, help="also write the annotated frames to this MP4")
    g.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="any config value, e.g. --set smoothing.enter=0.6")  # fmt: skip


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "model.path": args.model,
        "model.gallery": args.gallery,
        "model.device": args.device,
        "model.batch_size": args.batch_size,
        "model.precision": args.precision,
        "model.compile": args.compile,
        "model.tiles": args.tiles,
        "source.sample_fps": args.sample_fps,
        "source.start_time": args.start_time,
        "source.tz": args.tz,
        "position.lat": args.lat,
        "position.lon": args.lon,
        "position.track": args.track,
        "position.track_format": args.track_format,
        "position.gpsd": args.gpsd,
        "position.time_offset_s": args.time_offset,
        "prior.ranges": [str(p) for p in args.ranges] if args.ranges else None,
        "prior.crs": args.ranges_crs,
        "prior.species_field": args.species_field,
        "prior.presence_field": args.presence_field,
        "prior.weight": 0.0 if args.ignore_location else args.prior_weight,
        "prior.mode": args.prior_mode,
        "store.db": args.db,
        "store.snapshots": False if args.no_snapshots else None,
        "store.preview": args.preview,
    }
    pairs = {k: (str(v) if isinstance(v, Path) else v) for k, v in pairs.items()}
    for text in args.set:
        key, value = parse_override(text)
        pairs[key] = value
    return pairs


def _run_one(config: Config, label: str, quiet: bool, replace_earlier: bool = False):
    from fieldtool.pipeline import run_from_config

    printer = None if quiet else ProgressPrinter(label)
    try:
        result = run_from_config(
            config, log=_log, progress=printer, replace_earlier=replace_earlier
        )
    finally:
        if printer:
            printer.done()
    s = result.session
    placed = (
        f"{s.frames_positioned} of {s.frames_analysed} positioned "
        f"({100 * s.frames_positioned / s.frames_analysed:.0f}%)"
        if s.frames_analysed
        else "none positioned"
    )
    _log(
        f"{label}: {s.status}; {s.frames_analysed} frames analysed of {s.frames_read} read, "
        f"{placed}; {len(result.sightings)} sightings written to {config.store.db} "
        f"(session {s.session_id})"
    )
    if result.unwritten_rows:
        _log(f"{result.unwritten_rows} rows could not be written: {config.store.db} stayed locked")
    return result


def cmd_run(args: argparse.Namespace) -> int:
    overrides = _overrides(args)
    overrides["source.uri"] = args.source
    config = load_config(args.config, overrides)
    result = _run_one(config, Path(args.source).name or args.source, args.quiet)
    for s in result.sightings:
        print(
            f"{s.species:<28} {s.first_t:7.1f}-{s.last_t:7.1f} s  peak {s.peak_score:.2f}  "
            f"frames {s.frames}"
        )
    return 130 if result.session.status == "interrupted" else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fieldtool.evaluate import evaluate_session, format_scores, read_truth

    overrides = _overrides(args)
    db = Path(overrides.get("store.db") or "demo.duckdb")
    overrides["store.db"] = str(db)
    overrides["model.path"] = overrides.get("model.path") or str(DEMO_MODEL)
    if not overrides.get("prior.ranges"):
        overrides["prior.ranges"] = [str(DEMO_RANGES)]
    needed = [Path(overrides["model.path"]) / "model.safetensors", DEMO_RANGES]
    needed += [DEMO_DATA / f"walk_{r}.{ext}" for r in DEMO_REGIONS for ext in ("mp4", "gpx")]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise FieldtoolError(
            f"demo files missing ({', '.join(missing)}); rebuild them with "
            "'python -m fieldtool.demo.world' and 'python -m fieldtool.demo.train'"
        )
    for region in DEMO_REGIONS:
        walk = dict(overrides)
        walk["source.uri"] = str(DEMO_DATA / f"walk_{region}.mp4")
        walk["position.track"] = str(DEMO_DATA / f"walk_{region}.gpx")
        config = load_config(args.config, walk)
        result = _run_one(config, f"walk_{region}", args.quiet, replace_earlier=True)
        truth = read_truth(DEMO_DATA / f"walk_{region}_truth.csv")
        print(f"\nwalk_{region} ({len(result.sightings)} sightings):")
        for s in result.sightings:
            print(
                f"  {s.species:<26} {s.first_t:6.1f}-{s.last_t:6.1f} s  peak {s.peak_score:.2f}  "
                f"at {s.latitude:.5f}, {s.longitude:.5f}"
                if s.latitude is not None
                else f"  {s.species:<26} {s.first_t:6.1f}-{s.last_t:6.1f} s  peak {s.peak_score:.2f}"
            )
        rows = evaluate_session(db, result.session.session_id, truth, config.smoothing)
        print("\n" + format_scores(rows))
    bin_dir = Path(sys.executable).parent  # the environment fieldtool runs in
    print(
        f"\nSightings are in {db}. Look at them with:\n"
        f"  cd {REPO_ROOT} && {bin_dir / 'streamlit'} run streamlit_app.py -- --db {db.resolve()}\n"
        f'  {bin_dir / "fieldtool"} sql --db {db} "SELECT species, count(*) FROM sightings GROUP BY species"'
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from fieldtool.evaluate import evaluate_session, format_scores, read_truth
    from fieldtool.store import query

    truth = read_truth(args.truth)
    session_id = args.session
    if session_id is None:
        rows = query(
            args.db, "SELECT session_id, config_json FROM sessions ORDER BY started_at DESC LIMIT 1"
        )
        if rows.empty:
            raise FieldtoolError(f"{args.db}: no sessions")
        session_id = rows.iloc[0, 0]
    else:
        rows = query(
            args.db,
            "SELECT session_id, config_json FROM sessions WHERE session_id = ?",
            [session_id],
        )
        if rows.empty:
            raise FieldtoolError(f"{args.db}: no session {session_id!r}")
    config = Config.model_validate_json(rows.iloc[0, 1])
    # Scored over the session's own species (evaluate reads them from the store); say
    # which classifier named them, as a gallery's species are not its model's.
    gallery = f" (gallery {config.model.gallery})" if config.model.gallery else ""
    print(f"session {session_id}: {config.source.uri}{gallery}")
    print(format_scores(evaluate_session(args.db, session_id, truth, config.smoothing)))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    """Read-only: one query; writes, ATTACH, file and URL access are refused."""
    import pandas as pd

    from fieldtool.dashboard import run_readonly_sql

    if not Path(args.db).is_file():
        raise FieldtoolError(f"{args.db}: sightings database not found")
    frame, truncated = run_readonly_sql(args.db, args.query, max_rows=args.max_rows,
                                        time_limit_s=args.time_limit)  # fmt: skip
    with pd.option_context("display.max_rows", args.max_rows, "display.width", 200,
                           "display.max_columns", 50):  # fmt: skip
        print(frame.to_string(index=False) if len(frame) else "(no rows)")
    if truncated:
        print(f"(first {args.max_rows} rows; raise --max-rows or use fieldtool export)")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    """Delete old per-frame detections; sightings, sessions, track and reviews stay."""
    from fieldtool.store import prune_detections

    deleted = prune_detections(args.db, args.older_than_days)
    print(f"fieldtool: {deleted} detections older than {args.older_than_days:g} days deleted "
          f"from {args.db}; sightings kept", file=sys.stderr)  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fieldtool", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a session on a video file, camera index or stream URL")
    run.add_argument("source", help="video path, camera index (0) or http/rtsp URL")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    _session_flags(run)
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="run the bundled offline demo walks and score them")
    demo.add_argument("--quiet", action="store_true")
    _session_flags(demo)
    demo.set_defaults(func=cmd_demo)

    ev = sub.add_parser("eval", help="score a stored session against a ground-truth file")
    ev.add_argument("--db", type=Path, default=Path("sightings.duckdb"))
    ev.add_argument("--session", help="session id (default: the latest)")
    ev.add_argument("--truth", type=Path, required=True, help="CSV species,start_s,end_s")
    ev.set_defaults(func=cmd_eval)

    sql = sub.add_parser("sql", help="run a read-only SQL query on the sightings file")
    sql.add_argument("query")
    sql.add_argument("--db", type=Path, default=Path("sightings.duckdb"))
    sql.add_argument("--max-rows", type=int, default=200)
    sql.add_argument(
        "--time-limit", type=float, default=300.0, help="seconds before the query stops"
    )
    sql.set_defaults(func=cmd_sql)

    prune = sub.add_parser(
        "prune", help="delete per-frame detections older than N days (sightings are kept)"
    )
    prune.add_argument("--db", type=Path, default=Path("sightings.duckdb"))
    prune.add_argument("--older-than-days", type=float, required=True, metavar="DAYS")
    prune.set_defaults(func=cmd_prune)

    from fieldtool.atlas import add_species_command
    from fieldtool.export import add_export_command
    from fieldtool.gallery import add_gallery_commands
    from fieldtool.importers import add_model_commands

    add_model_commands(sub)
    add_gallery_commands(sub)
    add_species_command(sub)
    add_export_command(sub)
    return parser


def _terminate(signum, frame) -> None:  # noqa: ARG001
    raise KeyboardInterrupt  # SIGTERM ends the session like Ctrl-C: flush and close


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = args.func(args)
        # Now rather than at interpreter exit, where a reader gone (| head) would only be
        # reported as "Exception ignored ... BrokenPipeError" past this handler.
        sys.stdout.flush()
        return code
    except FieldtoolError as exc:
        print(f"fieldtool: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fieldtool: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout's reader stopped reading (| head): it has all it wanted, so no traceback.
        # Python ignores SIGPIPE and raises this instead; point stdout at devnull so the
        # flush at exit does not raise it again (docs.python.org/3/library/signal.html,
        # "Note on SIGPIPE"). run and demo print a session only once it is in the store.
        import contextlib
        import os

        with contextlib.suppress(OSError, ValueError):  # stdout replaced, e.g. in tests
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader left


if __name__ == "__main__":
    sys.exit(main())
