"""``fieldtool run``, ``demo`` and ``eval``: sessions and their scores."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fieldtool.cli.common import DEMO_DATA, DEMO_RANGES, DEMO_REGIONS
from fieldtool.cli.common import exit_code as _exit_code
from fieldtool.cli.common import log as _log
from fieldtool.cli.common import overrides as _overrides
from fieldtool.cli.common import run_one as _run_one
from fieldtool.cli.common import session_flags as _session_flags
from fieldtool.config import (
    DEMO_MODEL,
    Config,
    load_config,
)
from fieldtool.types import FieldtoolError, Sighting


def cmd_run(args: argparse.Namespace) -> int:
    overrides = _overrides(args)
    overrides["source.uri"] = args.source
    config = load_config(args.config, overrides)
    if getattr(args, "more_sources", None):  # several: one station, one model (station.md)
        from fieldtool.cli.station import run_sources

        return run_sources(config, [args.source, *args.more_sources], quiet=args.quiet,
                           replace=args.replace)
    from fieldtool.photos.held import PhotosHeld
    from fieldtool.station.config import source_names  # one camera, one name (station.md)

    try:
        result = _run_one(config, source_names([args.source])[0], args.quiet,
                          replace_earlier=args.replace, run_held=args.run_again)  # fmt: skip
    except PhotosHeld as held:  # every photo run before from another path: nothing to do
        _log(str(held))
        return 0
    photos = result.session.time_source == "photos"  # each photo its own time
    known = result.session.time_zone_known
    zones = photo_zones_known(config.store.db, result.sightings, known) if photos else {}
    for s in result.sightings:
        print(sighting_line(s, photos=photos, zone_known=zones.get(s.sighting_id, known)))
    for photo, species in result.photo_species:  # plot mode: each photo's species set
        print(f"{photo}: " + ("; ".join(f"{name} {p:.2f}" for name, p in species) or "-"))
    return _exit_code(result.session.status, result.unwritten_rows)


def photo_zones_known(
    db: Path | str, sightings: list[Sighting], session_known: bool
) -> dict[str, bool]:
    """Whether each photo sighting's time is UTC, as the exports label it: the session's
    label, except that a sighting whose own photos all have a known zone is UTC in a
    session of mixed photos (:func:`fieldtool.export_rows.sighting_clocks_sql`)."""
    from fieldtool.export_rows import sighting_clocks_sql
    from fieldtool.store import query

    if not sightings:
        return {}
    chosen = "(SELECT unnest(CAST($ids AS VARCHAR[])) AS sighting_id)"
    found = query(db, f"SELECT sighting_id, photos, local FROM ({sighting_clocks_sql(chosen)})",
                  {"ids": [s.sighting_id for s in sightings]})  # fmt: skip
    return {
        str(row.sighting_id): session_known or (row.photos > 0 and row.local == 0)
        for row in found.itertuples()
    }


def sighting_line(s: Sighting, *, photos: bool, zone_known: bool) -> str:
    """A sighting as ``run`` prints it: a video's media seconds; photos' capture times
    (their seconds after the set's earliest photo say nothing), UTC, or the camera's local
    clock where its zone is unknown (``zone_known`` False), as stored."""
    if not photos:
        return (f"{s.species:<28} {s.first_t:7.1f}-{s.last_t:7.1f} s  peak {s.peak_score:.2f}  "
                f"frames {s.frames}")  # fmt: skip
    last = (f"{s.last_seen:%H:%M:%S}" if s.last_seen.date() == s.first_seen.date()
            else f"{s.last_seen:%Y-%m-%d %H:%M:%S}")  # fmt: skip
    clock = "UTC" if zone_known else "local"
    return (f"{s.species:<28} {s.first_seen:%Y-%m-%d %H:%M:%S}-{last} {clock}  "
            f"peak {s.peak_score:.2f}  photos {s.frames}")


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
    from fieldtool.evaluate import evaluate_session, format_scores, is_photo_truth, read_truth
    from fieldtool.store import query

    photo_truth = is_photo_truth(args.truth)  # photo,species: multi-label (plot mode)
    truth = [] if photo_truth else read_truth(args.truth)
    session_id, taken = (args.session, "") if args.session else session_for_truth(
        args.db, args.truth)  # fmt: skip
    rows = query(
        args.db, "SELECT session_id, config_json FROM sessions WHERE session_id = ?", [session_id]
    )
    if rows.empty:
        raise FieldtoolError(f"{args.db}: no session {session_id!r}")
    config = Config.model_validate_json(rows.iloc[0, 1])
    # Scored over the session's own species (evaluate reads them from the store); say
    # which classifier named them, as a gallery's species are not its model's.
    gallery = f" (gallery {config.model.gallery})" if config.model.gallery else ""
    print(f"session {session_id}: {config.source.uri}{gallery}{taken}")

    def warn(message: str) -> None:
        print(f"fieldtool: {message} ({args.truth})", file=sys.stderr)

    if photo_truth:
        from fieldtool.evaluate import evaluate_photos, format_set_scores, read_photo_truth

        photos = read_photo_truth(args.truth)
        print(format_set_scores(evaluate_photos(args.db, session_id, photos, warn)))
        return 0
    print(format_scores(evaluate_session(args.db, session_id, truth, config.smoothing, warn)))
    return 0


def session_for_truth(db: Path, truth: Path) -> tuple[str, str]:
    """The session ``eval`` scores without ``--session``: the database's only one, else the
    one of the source whose file stem the truth file's name starts with (walk_west_truth.csv:
    walk_west.mp4, not walk.mp4: the longest such stem), the latest where that file was run
    more than once; else a one-line error listing them. With the id, what the line naming
    the session adds: "" or which of that file's sessions it is."""
    from fieldtool.names import first_few as first_names
    from fieldtool.store import query

    rows = query(db, "SELECT session_id, source FROM sessions ORDER BY started_at, session_id")
    if rows.empty:
        raise FieldtoolError(f"{db}: no sessions")
    if len(rows) == 1:
        return str(rows.iloc[0, 0]), ""
    sessions = [(str(sid), str(source or "")) for sid, source in rows.itertuples(index=False)]
    name = truth.name.casefold()
    named = [(sid, source, len(stem)) for sid, source in sessions
             if (stem := Path(source).stem.casefold()) and name.startswith(stem)]  # fmt: skip
    longest = max((n for _, _, n in named), default=0)
    named = [(sid, source, n) for sid, source, n in named if n == longest]
    if named and len({source for _, source, _ in named}) == 1:  # one file, run once or more
        earlier = [sid for sid, _, _ in named[:-1]]  # in the order they started
        taken = (f" (the latest of {len(named)} sessions of this file; earlier: "
                 f"{first_names(earlier, 8)}, by --session)") if earlier else ""  # fmt: skip
        return named[-1][0], taken
    how = f"the names of {len(named)} of their sources" if named else "none of their sources' names"
    listed = first_names([f"{sid} ({source})" for sid, source, _ in named]
                         or [f"{sid} ({source})" for sid, source in sessions], 8)  # fmt: skip
    raise FieldtoolError(f"{db} holds {len(sessions)} sessions and the truth file's name "
                         f"({truth.name}) starts with {how}; give --session, one of: "
                         f"{listed}")  # fmt: skip


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run", help="run a session on a video file, camera index, stream URL or photos"
    )
    run.add_argument(
        "source",
        help="video path, camera index (0), http/rtsp URL, or photos: a JPEG/PNG/TIFF, a "
        "folder of them (recursive) or a quoted glob (docs/photos.md)",
    )
    # default=[]: not required (argparse requires a '*' positional without a default, and
    # its missing-arguments error named the sources twice, "source, SOURCE")
    run.add_argument("more_sources", nargs="*", default=[], metavar="SOURCE",
                     help="more sources: all run as one station on one model "
                     "(docs/station.md)")  # fmt: skip
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument("--replace", action="store_true",
                     help="first delete the database's earlier sessions of this source (a "
                     "run again adds its sightings beside theirs otherwise, said)")  # fmt: skip
    run.add_argument("--run-again", action="store_true",
                     help="photos: run those the database already holds from another path "
                     "(a card's folder renamed, moved or copied) too, their sightings added "
                     "beside the earlier ones (left out otherwise, said)")  # fmt: skip
    _session_flags(run)
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="run the bundled offline demo walks and score them")
    demo.add_argument("--quiet", action="store_true", help="no progress lines")
    _session_flags(demo)
    demo.set_defaults(func=cmd_demo)

    ev = sub.add_parser("eval", help="score a stored session against a ground-truth file")
    ev.add_argument("--db", type=Path, default=Path("sightings.duckdb"),
                    help="the sightings DuckDB file")  # fmt: skip
    ev.add_argument("--session", help="session id (default: the database's only one, else "
                    "the one whose source's file name the truth file's name starts with: "
                    "walk_west_truth.csv scores walk_west.mp4, not walk.mp4; the latest of "
                    "a file run more than once)")  # fmt: skip
    ev.add_argument(
        "--truth", type=Path, required=True,
        help="CSV species,start_s,end_s (a video's intervals) or photo,species (each photo's "
        "species set: sample-averaged and macro F1, as PlantCLEF)",
    )  # fmt: skip
    ev.set_defaults(func=cmd_eval)
