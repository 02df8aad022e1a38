"""Command line: ``fieldtool run | demo | eval | sql``."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from fieldtool.config import (
    DEMO_MODEL,
    Config,
    Flags,
    config_fields,
    load_config,
    parse_override,
)
from fieldtool.resources import shipped
from fieldtool.types import FieldtoolError, SessionStatus

DEMO_DATA = shipped("data", "demo")
DEMO_RANGES = shipped("data", "ranges", "demo_ranges.geojson")
DEMO_REGIONS = ("west", "east")


def _log(message: str) -> None:
    print(f"fieldtool: {message}", file=sys.stderr, flush=True)


class ProgressPrinter:
    """One status line per report; rewritten in place on a terminal."""

    def __init__(self, label: str, stream: typing.TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr  # the one in force now, not the one at import
        self.tty = self.stream.isatty()

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
    """The session's config flags, generated from the config's fields (their ``flags``
    metadata and descriptions: :func:`fieldtool.config.config_fields`)."""
    g = parser.add_argument_group("session settings (override the config file)")
    g.add_argument("--config", type=Path, help="TOML config file")
    for dotted, info in config_fields():
        flags = Flags.of(info)
        dest = f"{_CFG}{dotted}"
        if flags.names:
            kind = _argparse_kind(info, flags)
            if "choices" not in kind and kind.get("action") != "store_true":
                kind.setdefault("metavar", dotted.partition(".")[2].upper())
            g.add_argument(*flags.names, dest=dest, help=f"{info.description} [{dotted}]", **kind)
        for option, (value, help_text) in flags.switch.items():
            g.add_argument(option, dest=dest, action="store_const", const=value, help=help_text)
    g.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="any config value, e.g. --set smoothing.enter=0.6")  # fmt: skip


_CFG = "config:"  # argparse dest prefix of flags that set a config field


def _argparse_kind(info: FieldInfo, flags: Flags) -> dict[str, Any]:
    """argparse keywords for a config field: choices, nargs, a numeric type, or a switch."""
    annotation = info.annotation
    args = typing.get_args(annotation)
    if annotation is bool:
        return {"action": "store_true", "default": None}
    if flags.has_const:
        return {"nargs": "?", "const": flags.const, "metavar": "VALUE"}
    if typing.get_origin(annotation) is typing.Literal:
        return {"choices": list(args)}
    if typing.get_origin(annotation) is list:
        return {"nargs": "+", "metavar": "FILE"}
    inner = [a for a in args if a is not type(None)] or [annotation]
    if inner[0] in (int, float):
        return {"type": inner[0]}
    return {}


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted config overrides from the flags given (``--set`` last, so it wins)."""
    pairs: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if dest.startswith(_CFG) and value is not None:
            if isinstance(value, list):
                value = [str(v) for v in value]
            pairs[dest.removeprefix(_CFG)] = str(value) if isinstance(value, Path) else value
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
    why = f" ({s.end_reason})" if s.end_reason else ""
    _log(
        f"{label}: {s.status}{why}; {s.frames_analysed} frames analysed of {s.frames_read} "
        f"read, {placed}; {len(result.sightings)} sightings (session {s.session_id})"
    )
    if result.unwritten_rows:  # never claim the file has what it has not
        _log(f"{result.unwritten_rows} rows are not in {config.store.db} yet: "
             f"{result.unwritten_where}; `fieldtool recover --db {config.store.db}` writes "
             "them once the file can be written")  # fmt: skip
    else:
        _log(f"all rows written to {config.store.db}")
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
    return _exit_code(result.session.status, result.unwritten_rows)


def _exit_code(status: str, unwritten_rows: int) -> int:
    """0 for a clean end with everything written; 130 interrupted; 1 otherwise (failed,
    stream lost, rows not in the file), so unattended scripts notice."""
    if status == SessionStatus.INTERRUPTED:
        return 130
    return 0 if status == SessionStatus.FINISHED and not unwritten_rows else 1


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
        f"  {bin_dir / 'fieldtool'} dashboard --db {db.resolve()}\n"
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

    from fieldtool.sqlbox import run_readonly_sql  # no Streamlit, no pydeck

    if not Path(args.db).exists():
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


def cmd_recover(args: argparse.Namespace) -> int:
    """Replay the journals that can be replayed now; say what was done and what is left."""
    from fieldtool.store import recover_file

    done = recover_file(args.db, log=_log)
    for journal, rows in done.left.items():
        _log(f"{journal.name}: {rows} rows left (its writer still runs, or it was written on "
             "another host or for another file)")  # fmt: skip
    if not done.replayed and not done.interrupted and not done.left:
        _log(f"{args.db}: nothing to recover")
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

    rec = sub.add_parser("recover", help="write rows left in journals beside the file (after a "
                         "crash, a full disk or a held file) and end sessions whose writer died")  # fmt: skip
    rec.add_argument("--db", type=Path, default=Path("sightings.duckdb"))
    rec.set_defaults(func=cmd_recover)

    _model_commands(sub)
    _gallery_commands(sub)
    _place_commands(sub)
    _output_commands(sub)
    return parser


def _place_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fieldtool species`` (expected at a place) and ``fieldtool atlas build``."""
    from fieldtool import atlas

    def species(a: argparse.Namespace) -> int:
        prior, commons, what = atlas.species_prior(
            a.ranges, atlas=a.atlas, species_field=a.species_field,
            presence_field=a.presence_field, crs=a.ranges_crs, decay_km=a.decay_km,
        )  # fmt: skip
        for note in getattr(prior, "notes", ()):  # rows read/skipped, names merged: stderr
            print(note, file=sys.stderr)
        for line in atlas.species_report(a.lat, a.lon, prior, commons, what,
                                         min_prior=a.min_prior, limit=a.limit):  # fmt: skip
            print(line)
        return 0

    def build(a: argparse.Namespace) -> int:
        built = atlas.build_atlas(a.source, a.out, tolerance_deg=a.tolerance,
                                  min_part_deg2=a.min_part, near_deg=a.near, progress=True)  # fmt: skip
        print(built.summary())
        return 0

    p = sub.add_parser("species", help="species expected at a place, ranked by range prior",
                       description="Species expected at a place, ranked by prior then name "
                       "(bundled Little atlas unless --ranges is given).")  # fmt: skip
    p.add_argument("--lat", type=float, required=True, help="latitude, degrees")
    p.add_argument("--lon", type=float, required=True, help="longitude, degrees")
    p.add_argument("--ranges", type=Path, nargs="+",
                   help="range polygon files and/or occurrence tables (.csv/.tsv)")  # fmt: skip
    p.add_argument("--ranges-crs", help="CRS for range files that carry none, e.g. EPSG:4267")
    p.add_argument("--species-field", default="species", help="range attribute with the name")
    p.add_argument("--presence-field", default="presence", help="range attribute: 1 / 0")
    p.add_argument("--atlas", type=Path, default=atlas.DEFAULT_ATLAS, help="bundled atlas file")
    p.add_argument("--decay-km", type=float, default=50.0, help="prior decay outside a range")
    p.add_argument("--min-prior", type=float, default=0.05, help="list species at least this")
    p.add_argument("--limit", type=int, help="at most this many lines")
    p.set_defaults(func=species)
    top = sub.add_parser("atlas", help="the bundled range atlas")
    b = top.add_subparsers(dest="atlas_command", required=True).add_parser(
        "build", help="build data/ranges/little_atlas.gpkg from Little's shapefiles"
    )
    b.add_argument("--source", type=Path, default=atlas.DEFAULT_SOURCE, help="atlas folder")
    b.add_argument("--out", type=Path, default=atlas.DEFAULT_ATLAS, help="GeoPackage to write")
    b.add_argument("--tolerance", type=float, default=0.05, help="simplify tolerance, degrees")
    b.add_argument("--min-part", type=float, default=0.01, help="small part, square degrees")
    b.add_argument("--near", type=float, default=0.1, help="drop small parts this near, degrees")
    b.set_defaults(func=build)


def _output_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fieldtool export`` and ``fieldtool dashboard``."""
    from fieldtool import export as ex

    def export(a: argparse.Namespace) -> int:
        filters = ex.ExportFilter(
            session_id=a.session, species=a.species,
            since=ex.parse_time(a.since, "--since") if a.since else None,
            until=ex.parse_time(a.until, "--until") if a.until else None,
            reviewed_only=a.reviewed_only,
        )  # fmt: skip
        n = ex.export(a.db, a.fmt, a.out, filters, title=a.title, creator=a.creator)
        print(f"fieldtool: {n} sightings written to {a.out} ({a.fmt})", file=sys.stderr)
        return 0

    p = sub.add_parser("export", help="write sightings as a Darwin Core Archive, GeoJSON, "
                       "GeoParquet or CSV", description=(ex.__doc__ or "").split("\n\n")[0])  # fmt: skip
    p.add_argument("--db", type=Path, default=Path("sightings.duckdb"))
    p.add_argument("--format", required=True, choices=ex.FORMATS, dest="fmt",
                   help="dwca: Darwin Core Archive zip; parquet: GeoParquet")  # fmt: skip
    p.add_argument("-o", "--out", type=Path, required=True, help="output file")
    p.add_argument("--session", help="only this session id")
    p.add_argument("--species", action="append", help="only this species (repeatable)")
    p.add_argument("--since", help="only sightings ending at or after (ISO 8601, UTC)")
    p.add_argument("--until", help="only sightings starting at or before (ISO 8601, UTC)")
    p.add_argument("--reviewed-only", action="store_true",
                   help="only sightings a reviewer confirmed or relabelled")  # fmt: skip
    p.add_argument("--title", help="dataset title (dwca)")
    p.add_argument("--creator", default="fieldtool user", help="dataset creator (dwca)")
    p.set_defaults(func=export)

    d = sub.add_parser("dashboard", help="the map and review dashboard (Streamlit, this machine)")
    d.add_argument("--db", type=Path, default=Path("sightings.duckdb"))
    d.add_argument("--port", type=int, default=8501)
    d.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve the dashboard on 127.0.0.1 only, usage statistics off (no outside requests)."""
    import subprocess

    app = Path(__file__).resolve().parent / "dashboard" / "app.py"
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address",
               "127.0.0.1", "--server.port", str(args.port), "--browser.gatherUsageStats",
               "false", "--", "--db", str(Path(args.db).resolve())]  # fmt: skip
    return subprocess.call(command)


def _model_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fieldtool model import-plantclef | import-hf | pull``."""
    from fieldtool import importers
    from fieldtool.model import describe_folder

    def done(folder: Path) -> int:
        print(describe_folder(folder))
        return 0

    model = sub.add_parser("model", help="import or download models")
    msub = model.add_subparsers(dest="model_command", required=True)
    p = msub.add_parser("import-plantclef", help="convert the PlantCLEF 2024 timm checkpoint")
    p.add_argument("checkpoint", type=Path, help="model_best.pth.tar (or a .safetensors copy)")
    p.add_argument("--classes", type=Path, required=True, help="class_mapping.txt")
    p.add_argument("--names", type=Path, required=True, help="species_id_to_name.txt")
    p.add_argument("--heads", type=int, help="attention heads (default: hidden size / 64)")
    p.set_defaults(func=lambda a: done(importers.import_plantclef(
        a.checkpoint, a.classes, a.names, a.out, model_id=a.model_id, num_heads=a.heads,
        overwrite=a.force)))  # fmt: skip
    h = msub.add_parser("import-hf", help="convert a Hugging Face DINOv2 folder")
    h.add_argument("folder", type=Path, help="folder with config.json and model.safetensors")
    h.add_argument("--labels", type=Path, help="labels.csv for a classifier head")
    h.add_argument("--image-size", type=int, help="input size in px (default: preprocessor's)")
    h.set_defaults(func=lambda a: done(importers.import_hf_dinov2(
        a.folder, a.out, a.labels, model_id=a.model_id, image_size=a.image_size,
        overwrite=a.force)))  # fmt: skip
    d = msub.add_parser("pull", help="download a DINOv2 backbone from the Hugging Face hub")
    d.add_argument("name", choices=importers.HF_MODELS, metavar="NAME",
                   help=", ".join(importers.HF_MODELS))  # fmt: skip
    d.set_defaults(func=lambda a: done(importers.pull(a.name, a.out, overwrite=a.force)))
    for command in (p, h, d):
        command.add_argument("-o", "--out", type=Path, required=True, help="model folder to write")
        command.add_argument("--force", action="store_true", help="replace a non-empty folder")
        if command is not d:
            command.add_argument("--model-id", help="name recorded with sessions (default: folder)")


def _gallery_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fieldtool gallery add | list | remove | set``."""
    from fieldtool import gallery as g

    def add(a: argparse.Namespace) -> int:
        gallery = g.Gallery(a.gallery, create=True)
        added = gallery.enroll(a.model, a.species, g.expand_photos(a.photos),
                               common_name=a.common_name or "", embedding=a.embedding,
                               device=a.device)  # fmt: skip
        total = dict(gallery.list())[" ".join(a.species.split())]
        print(f"{gallery.path}: enrolled {added} photos of {a.species} ({total} in all)")
        return 0

    def remove(a: argparse.Namespace) -> int:
        gallery = g.Gallery(a.gallery)
        print(f"{gallery.path}: removed {gallery.remove(a.species)} photos of {a.species}")
        return 0

    def settings(a: argparse.Namespace) -> int:
        gallery = g.Gallery(a.gallery)
        for key in ("threshold", "temperature", "mode"):
            if getattr(a, key) is not None:
                setattr(gallery.settings, key, getattr(a, key))
        gallery.settings.check()
        gallery.save()
        print(f"{gallery.path}: {dataclasses.asdict(gallery.settings)}")
        return 0

    top = sub.add_parser("gallery", help="few-shot species gallery from your photos")
    gsub = top.add_subparsers(dest="gallery_command", required=True)
    ad = gsub.add_parser("add", help="enroll reference photos of one species")
    ad.add_argument("--model", type=Path, required=True, help="model folder for embeddings")
    ad.add_argument("--species", required=True, help='scientific name, e.g. "Acer rubrum"')
    ad.add_argument("--common-name", help="common name shown with sightings")
    ad.add_argument("--embedding", choices=g.EMBEDDING_KINDS, help="new galleries only (cls)")
    ad.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    ad.add_argument("photos", nargs="+", type=Path, help="photo files or folders")
    ad.set_defaults(func=add)
    ls = gsub.add_parser("list", help="enrolled species, photo counts and similarities")
    ls.set_defaults(func=lambda a: print(g.describe(g.Gallery(a.gallery))) or 0)
    rm = gsub.add_parser("remove", help="remove a species and its photos")
    rm.add_argument("--species", required=True)
    rm.set_defaults(func=remove)
    st = gsub.add_parser("set", help="change matching settings")
    st.add_argument("--threshold", type=float, help="cosine similarity below which: unknown")
    st.add_argument("--temperature", type=float, help="softmax temperature (0.05)")
    st.add_argument("--mode", choices=g.MODES)
    st.set_defaults(func=settings)
    for command, required in ((ad, "gallery folder (created)"), (ls, None), (rm, None), (st, None)):
        command.add_argument("--gallery", type=Path, required=True, help=required)


def _one_line(exc: BaseException, first_only: bool = False) -> str:
    """An error as one line: its lines joined, or (DuckDB's, which run on with hints and
    links) its first line."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return lines[0] if first_only else " ".join(lines)


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
        print(f"fieldtool: error: {_one_line(exc)}", file=sys.stderr)
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
    except Exception as exc:
        if not type(exc).__module__.startswith(("duckdb", "_duckdb")):
            raise
        # A database error no fieldtool check turned into a FieldtoolError: one line too.
        db = getattr(args, "db", None)
        where = f"{db}: " if db else ""
        print(f"fieldtool: error: {where}{_one_line(exc, first_only=True)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
