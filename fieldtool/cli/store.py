"""``fieldtool sql``, ``prune``, ``recover``, ``export`` and ``dashboard``: the sightings file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fieldtool.cli.common import log as _log
from fieldtool.types import FieldtoolError


def cmd_sql(args: argparse.Namespace) -> int:
    """Read-only: one query; writes, ATTACH, file and URL access are refused."""
    import pandas as pd

    from fieldtool.sqlbox import run_readonly_sql  # no Streamlit, no pydeck

    db, query = _db_and_query(args.db, args.query)
    if not db.exists():
        raise FieldtoolError(f"{db}: sightings database not found")
    frame, truncated = run_readonly_sql(db, query, max_rows=args.max_rows,
                                        time_limit_s=args.time_limit, nullable=True,
                                        note=_log)  # fmt: skip
    # NULL as DuckDB's own CLI shows it; a NaN (a value of a double) stays NaN. Arrow types
    # tell them apart (pandas' own turn a NULL double into NaN); to_string's na_rep would
    # not: it names NaN, not <NA>.
    shown = frame.astype(object).where(frame.notna(), "NULL")
    with pd.option_context("display.max_rows", args.max_rows, "display.width", 200,
                           "display.max_columns", 50):  # fmt: skip
        print(shown.to_string(index=False) if len(frame) else "(no rows)")
    if truncated:
        print(f"(first {args.max_rows} rows; raise --max-rows or use fieldtool export)")
    return 0


def _db_and_query(db: Path | None, words: list[str]) -> tuple[Path, str]:
    """``[DB] QUERY``: the file before the query, as DuckDB's and SQLite's own shells take
    it, or ``--db`` (default sightings.duckdb)."""
    if len(words) > 2 or (len(words) == 2 and " " not in words[1].strip()):
        raise FieldtoolError(f"fieldtool sql: {' '.join(words)!r}: quote the query as one "
                             "argument (\"SELECT ...\")")  # fmt: skip
    if len(words) == 1:
        return db or Path("sightings.duckdb"), words[0]
    if db is not None:
        raise FieldtoolError(f"fieldtool sql: the database given twice (--db {db} and "
                             f"{words[0]})")  # fmt: skip
    return Path(words[0]), words[1]


def cmd_prune(args: argparse.Namespace) -> int:
    """Delete per-frame detections written long ago; sightings, sessions, track and reviews
    stay."""
    from fieldtool.store import prune_detections

    deleted = prune_detections(args.db, args.older_than_days)
    print(f"fieldtool: {deleted} detections written more than {args.older_than_days:g} days "
          f"ago deleted from {args.db}; sightings kept", file=sys.stderr)  # fmt: skip
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    """Replay the journals that can be replayed now; say what was done and, one line each,
    the journals left and why. Exit 1 when rows are left unreplayed."""
    from fieldtool.store import recover_file

    done = recover_file(args.db, log=_log, adopt=args.adopt)
    if not done.replayed and not done.interrupted and not done.left:
        _log(f"{args.db}: nothing to recover")
    return 1 if done.left else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sql = sub.add_parser("sql", help="run a read-only SQL query on the sightings file")
    sql.add_argument("query", nargs="+", metavar="[DB] QUERY",
                     help="one SELECT, WITH, DESCRIBE, SHOW or SUMMARIZE statement, quoted; "
                     "the database file may come before it")  # fmt: skip
    sql.add_argument("--db", type=Path,
                     help="the sightings DuckDB file (default: sightings.duckdb)")  # fmt: skip
    sql.add_argument("--max-rows", type=int, default=200, help="rows printed at most")
    sql.add_argument(
        "--time-limit", type=float, default=300.0, help="seconds before the query stops"
    )
    sql.set_defaults(func=cmd_sql)

    prune = sub.add_parser(
        "prune", help="delete per-frame detections written into the file more than N days ago "
        "(sightings are kept)",
        description="Delete per-frame detections written into the file more than DAYS days "
        "ago: a file's when it was processed, however long ago it was recorded (footage "
        "imported today keeps its detections); a live stream's when its frames arrived. "
        "Sightings, sessions, track and reviews are kept.",
    )  # fmt: skip
    prune.add_argument("--db", type=Path, default=Path("sightings.duckdb"),
                       help="the sightings DuckDB file")  # fmt: skip
    prune.add_argument("--older-than-days", type=float, required=True, metavar="DAYS",
                       help="delete detections written more than this many days ago (not "
                       "recorded: see above)")  # fmt: skip
    prune.set_defaults(func=cmd_prune)

    rec = sub.add_parser("recover", help="write rows left in journals beside the file (after a "
                         "crash, a full disk or a held file) and end sessions whose writer died")  # fmt: skip
    rec.add_argument("--db", type=Path, default=Path("sightings.duckdb"),
                     help="the sightings DuckDB file")  # fmt: skip
    rec.add_argument("--adopt", action="store_true",
                     help="also replay journals written for another file of this name: the "
                     "file and its journal copied or restored together (new inode); never "
                     "one whose writer still runs, and only rows the file lacks")  # fmt: skip
    rec.set_defaults(func=cmd_recover)

    _output_commands(sub)


def _file_species(db: Path, given: list[str] | None) -> list[str] | None:
    """The file's names of each ``--species`` in any spelling (case, spacing, authorship, a
    synonym: :func:`fieldtool.store.reviews.same_species`) or by its common name in the
    file; a name the file lacks is a one-line error with the nearest one. None: no filter."""
    if not given:
        return None
    from fieldtool.cli.review import species_filter  # one rule: any spelling, else nearest
    from fieldtool.store.reviews import common_names, species_names

    if not Path(db).exists():
        raise FieldtoolError(f"{db}: sightings database not found")
    known, commons = species_names(db), common_names(db)
    return [name for text in given for name in species_filter(db, text, known, commons)]


def _file_session(db: Path, given: str | None) -> str | None:
    """``--session`` checked against the file: an id it lacks is a one-line error naming
    its newest sessions, not an empty export."""
    if given is None:
        return None
    from fieldtool.store import query

    if not Path(db).exists():
        raise FieldtoolError(f"{db}: sightings database not found")
    found = query(db, "SELECT session_id FROM sessions ORDER BY started_at DESC")
    ids = [str(s) for s in found["session_id"]]
    if given not in ids:
        newest = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        raise FieldtoolError(f"{db}: no session {given!r} (its sessions, newest first: "
                             f"{newest or 'none'})")  # fmt: skip
    return given


def _output_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fieldtool export`` and ``fieldtool dashboard``."""
    from fieldtool import export as ex

    def export(a: argparse.Namespace) -> int:
        filters = ex.ExportFilter(
            session_id=_file_session(a.db, a.session), species=_file_species(a.db, a.species),
            since=ex.parse_time(a.since, "--since") if a.since else None,
            until=ex.parse_time(a.until, "--until") if a.until else None,
            reviewed_only=a.reviewed_only,
        )  # fmt: skip
        n = ex.export(a.db, a.fmt, a.out, filters, title=a.title, creator=a.creator,
                      license=a.license, rights_holder=a.rights_holder or "",
                      dataset_id=a.dataset_id)  # fmt: skip
        print(f"fieldtool: {n} sightings written to {a.out} ({a.fmt})", file=sys.stderr)
        return 0

    p = sub.add_parser("export", help="write sightings as a Darwin Core Archive, GeoJSON, "
                       "GeoParquet, CSV or a Camtrap DP package",
                       description=(ex.__doc__ or "").split("\n\n")[0])  # fmt: skip
    p.add_argument("--db", type=Path, default=Path("sightings.duckdb"),
                   help="the sightings DuckDB file")  # fmt: skip
    p.add_argument("--format", required=True, choices=ex.FORMATS, dest="fmt",
                   help="dwca: Darwin Core Archive zip; parquet: GeoParquet; camtrap-dp: "
                   "a Camtrap DP package folder (docs/camtrap.md)")  # fmt: skip
    p.add_argument("-o", "--out", type=Path, required=True,
                   help="output file (camtrap-dp: a folder)")  # fmt: skip
    p.add_argument("--session", help="only this session id")
    p.add_argument("--species", action="append", help="only this species (repeatable)")
    p.add_argument("--since", help="only sightings ending at or after (ISO 8601, UTC)")
    p.add_argument("--until", help="only sightings starting at or before (ISO 8601, UTC)")
    p.add_argument("--reviewed-only", action="store_true",
                   help="only sightings a reviewer confirmed or relabelled")  # fmt: skip
    p.add_argument("--title", help="dataset title (dwca)")
    p.add_argument("--creator", default="fieldtool user",
                   help="dataset creator (dwca; camtrap-dp: the contact)")  # fmt: skip
    p.add_argument("--license",
                   help="licence of the data: dwca: one GBIF registers, "
                   f"{', '.join(ex.GBIF_LICENSES)} (none given: none named, said); camtrap-dp: "
                   "of the data and the photos, default CC-BY-4.0")  # fmt: skip
    p.add_argument("--rights-holder", help="who holds the rights to the data (dwca)")
    p.add_argument("--dataset-id", help="the dataset's id: EML packageId (dwca), the "
                   "package's id (camtrap-dp), one word; default: the id of the Camtrap DP "
                   "package all the file's sessions were read from, else a UUID derived from "
                   "the file's earliest session; filtered: derived from that and the "
                   "filters")  # fmt: skip
    p.set_defaults(func=export)

    d = sub.add_parser("dashboard", help="the map and review dashboard (Streamlit, this machine)")
    d.add_argument("--config", type=Path, help="TOML file; its [dashboard] section is used")
    d.add_argument("--db", type=Path, help="the database shown (default: dashboard.db)")
    d.add_argument("--port", type=int, help="TCP port (default: dashboard.port)")
    d.add_argument("--address", help="address to serve on (default: dashboard.address, "
                   "127.0.0.1); any other needs $FIELDTOOL_DASHBOARD_TOKEN")  # fmt: skip
    d.set_defaults(func=cmd_dashboard)


def dashboard_command(args: argparse.Namespace, environ: dict[str, str]) -> list[str]:
    """The ``streamlit run`` command line of ``fieldtool dashboard``: the database fixed by
    the server (``--db`` or ``dashboard.db``), usage statistics off, error details (and
    their "ask Google / ChatGPT" links) off; refuses an address beyond this machine
    without the shared secret (:func:`fieldtool.config.dashboard.check_exposure`)."""
    from fieldtool.config import load_config
    from fieldtool.config.dashboard import check_exposure

    settings = load_config(args.config).dashboard
    update = {k: v for k, v in (("db", args.db), ("port", args.port),
                                ("address", args.address)) if v is not None}  # fmt: skip
    settings = settings.model_copy(update=update)
    check_exposure(settings, environ)
    db = Path(settings.db).resolve()
    if db.is_dir():
        raise FieldtoolError(f"{settings.db}: is a folder; give the sightings database file")
    if not db.parent.is_dir():
        raise FieldtoolError(f"{settings.db}: folder {db.parent} not found")
    if not db.exists():  # started before the session that writes it, to watch it live
        _log(f"{settings.db}: no sightings database yet; the dashboard shows it once a "
             "session writes it")  # fmt: skip
    app = Path(__file__).resolve().parent.parent / "dashboard" / "fieldtool_app.py"
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address",
               settings.address, "--server.port", str(settings.port),
               "--browser.gatherUsageStats", "false", "--client.showErrorDetails", "none",
               "--client.toolbarMode", "minimal", "--server.headless", "true",
               "--server.fileWatcherType", "none",
               "--", "--db", str(db)]  # fmt: skip
    if args.config is not None:
        command += ["--config", str(Path(args.config).resolve())]
    return command


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve the dashboard (127.0.0.1 unless configured otherwise, with a token then)."""
    import os
    import subprocess

    return subprocess.call(dashboard_command(args, dict(os.environ)))
