"""The sightings file under contention: a session writer, a dashboard and a SQL user at once.

``live`` (default) runs three processes against one DuckDB file for ``--seconds``:

- writer: a session-like :class:`~fieldtool.store.SightingStore` at ``--rate`` analysed
  frames per second (a detection each), a track point per second, a sighting that starts
  and ends every ``--sighting-every`` seconds (flushed at once, as the pipeline does) and
  a flush every ``--flush-interval`` seconds;
- dashboard: the dashboard's main queries every 0.5-1 s; notes how long after its
  recording each closed sighting became visible;
- sql: ``fieldtool sql``-like queries over the views every 0.3-0.7 s, and a review
  (a short write) every third round;
- with ``--hold START:SECONDS``, a fourth process holds the file with a raw read-only
  ``duckdb.connect`` (like the duckdb CLI) for a while.

Afterwards it checks the file: every recorded row present, counts equal, errors none.
It prints flush duration, writer stall, reader wait (time to get the file) and query time
(p50 / p95 / max), detections inserted per second, and the visibility delay.
``--json`` prints the summary as JSON instead (the tests read it).

``scale`` fills a file with ``--sightings`` sightings (default one million) and 5 per
sighting detections, then times the dashboard's main queries, a session flush and a bulk
insert of detections.

    python benchmarks/store_contention.py                       # 10 s live run
    python benchmarks/store_contention.py --seconds 30 --hold 5:10
    python benchmarks/store_contention.py scale --sightings 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fieldtool.store import (  # noqa: E402
    SightingStore,
    add_review,
    connect,
    query,
)
from fieldtool.store.views import LATEST_REVIEW_SQL  # noqa: E402
from fieldtool.types import Position, SessionInfo, Sighting  # noqa: E402

SPECIES = [
    "Acer rubrum",
    "Quercus alba",
    "Pinus taeda",
    "Cornus florida",
    "Liquidambar styraciflua",
]

# What the dashboard asks on each refresh (see fieldtool/dashboard/data.py).
DASHBOARD_QUERIES = {
    "sessions": "SELECT session_id, source, status, started_at FROM sessions ORDER BY started_at DESC",
    "sightings": f"""
        SELECT s.*, r.decision AS review FROM sightings s LEFT JOIN ({LATEST_REVIEW_SQL}) r
        USING (sighting_id) WHERE peak_score >= 0 ORDER BY first_seen DESC LIMIT 5000""",
    "species": "SELECT species, count(*) AS n FROM sightings GROUP BY species ORDER BY species",
    "track": """
        SELECT session_id, list([longitude, latitude] ORDER BY time) AS path FROM track
        GROUP BY session_id""",
    "live": """
        SELECT session_id, max(frame_index) AS newest FROM detections WHERE session_id IN
            (SELECT session_id FROM sessions WHERE status = 'running') GROUP BY session_id""",
}
SQL_QUERIES = [
    "SELECT * FROM species_per_day",
    "SELECT * FROM effort",
    "SELECT * FROM first_last_seen",
    "SELECT count(*) FROM detections",
    "SELECT species, count(*) FROM sightings_reviewed GROUP BY species",
]


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# Workers (each in its own process) -----------------------------------------------------
def writer(db: Path, seconds: float, rate: float, flush_interval: float, every: float) -> dict:
    logs: list[str] = []
    store = SightingStore(db, flush_interval_s=flush_interval, lock_timeout_s=30.0,
                          log=logs.append)  # fmt: skip
    session = SessionInfo(uuid.uuid4().hex, "bench.mp4", "bench-model", utc_now())
    flushes: list[tuple[float, bool, int]] = []  # (seconds, written, rows)
    stalls: list[float] = []  # every store call that wrote or tried to

    def timed_flush(**kw) -> None:
        t0 = time.perf_counter()
        result = store.flush(**kw)
        stalls.append(time.perf_counter() - t0)
        if result.rows:
            flushes.append((stalls[-1], result.written, result.rows))

    store.record_session(session)
    t0 = time.perf_counter()
    store.flush()  # the session row, at once (as the pipeline does); may wait for readers
    start_flush_s = time.perf_counter() - t0
    sightings: dict[str, str] = {}  # id -> status written last
    detections = track = 0
    current: Sighting | None = None
    start = time.monotonic()
    next_frame = next_track = next_event = start
    frame = 0
    errors: list[str] = []
    while (now := time.monotonic()) - start < seconds:
        try:
            t = now - start
            pos = Position(44.0 + t * 1e-5, -123.0 + t * 1e-5, 4.0, "gpx")
            if now >= next_frame:
                store.record_detection(session.session_id, frame, t, utc_now(), pos,
                                       (SPECIES[:3], [0.6, 0.3, 0.1]), (SPECIES[:3], [0.7, 0.2, 0.1]))  # fmt: skip
                frame += 1
                detections += 1
                next_frame += 1.0 / rate
            if now >= next_track:
                store.record_track(session.session_id, utc_now(), t, pos)
                track += 1
                next_track += 1.0
            if now >= next_event:
                if current is not None:  # end: last_seen is the recording time
                    current.last_seen, current.last_t, current.status = utc_now(), t, "closed"
                    store.record_sighting(current)
                    sightings[current.sighting_id] = "closed"
                    timed_flush(timeout_s=0.5)
                current = Sighting(uuid.uuid4().hex, session.session_id, random.choice(SPECIES),
                                   "", utc_now(), utc_now(), t, t, frames=3, peak_score=0.8,
                                   score_sum=2.1, peak_t=t, latitude=pos.lat, longitude=pos.lon,
                                   model_id="bench-model")  # fmt: skip
                store.record_sighting(current)
                sightings[current.sighting_id] = "open"
                timed_flush(timeout_s=0.5)
                next_event += every
            t0 = time.perf_counter()
            result = store.maybe_flush()
            if result is not None:
                stalls.append(time.perf_counter() - t0)
                flushes.append((stalls[-1], result.written, result.rows))
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(max(0.0, min(next_frame, next_track, next_event) - time.monotonic()))
    if current is not None:
        current.last_seen, current.status = utc_now(), "closed"
        store.record_sighting(current)
        sightings[current.sighting_id] = "closed"
    session.status, session.ended_at, session.frames_analysed = "finished", utc_now(), frame
    store.record_session(session)
    t0 = time.perf_counter()
    final = store.close()
    return {
        "role": "writer", "session_id": session.session_id, "sightings": sightings,
        "detections": detections, "track": track, "flushes": flushes, "stalls": stalls,
        "final_written": final.written, "close_s": time.perf_counter() - t0, "logs": logs,
        "start_flush_s": start_flush_s,
        "errors": errors, "seconds": time.monotonic() - start,
        "journal_left": store.journal_path.exists(),
    }  # fmt: skip


def dashboard(db: Path, seconds: float) -> dict:
    waits: list[float] = []
    times: list[float] = []
    visible: dict[str, float] = {}  # closed sighting -> seconds from recording to seen
    errors: list[str] = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            if not db.exists():
                time.sleep(0.1)
                continue
            t0 = time.perf_counter()
            for sql in DASHBOARD_QUERIES.values():  # one short connection each, as the dashboard does
                t1 = time.perf_counter()
                with connect(db, read_only=True, timeout_s=10.0) as con:
                    waits.append(time.perf_counter() - t1)
                    con.execute(sql).fetchall()
            with connect(db, read_only=True, timeout_s=10.0) as con:
                closed = con.execute(
                    "SELECT sighting_id, last_seen FROM sightings WHERE status = 'closed' AND "
                    "session_id IN (SELECT session_id FROM sessions WHERE source = 'bench.mp4')"
                ).fetchall()
            times.append(time.perf_counter() - t0)
            seen_at = utc_now()
            for sighting_id, last_seen in closed:
                if sighting_id not in visible:
                    visible[sighting_id] = (seen_at - last_seen).total_seconds()
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(random.uniform(0.5, 1.0))
    return {"role": "dashboard", "waits": waits, "times": times, "visible": visible,
            "errors": errors}  # fmt: skip


def sql_user(db: Path, seconds: float) -> dict:
    times: list[float] = []
    reviews: list[str] = []
    review_times: list[float] = []
    errors: list[str] = []
    start = time.monotonic()
    round_ = 0
    while time.monotonic() - start < seconds:
        try:
            if not db.exists():
                time.sleep(0.1)
                continue
            round_ += 1
            t0 = time.perf_counter()
            query(db, random.choice(SQL_QUERIES))
            times.append(time.perf_counter() - t0)
            if round_ % 3 == 0:
                closed = query(db, "SELECT sighting_id FROM sightings WHERE status = 'closed'")
                if len(closed):
                    t0 = time.perf_counter()
                    reviews.append(add_review(db, random.choice(list(closed.sighting_id)),
                                              "confirm", reviewer="bench", timeout_s=10.0))  # fmt: skip
                    review_times.append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(random.uniform(0.3, 0.7))
    return {"role": "sql", "times": times, "reviews": reviews, "review_times": review_times,
            "errors": errors}  # fmt: skip


def holder(db: Path, start_s: float, hold_s: float) -> dict:
    import duckdb

    time.sleep(start_s)
    for _ in range(200):
        try:
            con = duckdb.connect(str(db), read_only=True)
            break
        except duckdb.IOException:
            time.sleep(0.05)
    else:
        return {"role": "holder", "errors": ["never got the file"], "held_s": 0.0}
    t0 = time.monotonic()
    con.execute("SELECT count(*) FROM sightings").fetchall()
    time.sleep(hold_s)
    con.close()
    return {"role": "holder", "errors": [], "held_s": time.monotonic() - t0}


# Orchestration --------------------------------------------------------------------------
def run_live(db: Path, seconds: float, rate: float, flush_interval: float, every: float,
             hold: tuple[float, float] | None, prefill: int = 0) -> dict:  # fmt: skip
    if prefill:
        fill(db, prefill)
    SightingStore(db).close()  # the file exists with its schema before anyone reads
    me = [sys.executable, str(Path(__file__).resolve()), "_worker"]
    roles = {
        "writer": ["writer", str(db), str(seconds), str(rate), str(flush_interval), str(every)],
        "dashboard": ["dashboard", str(db), str(seconds)],
        "sql": ["sql", str(db), str(seconds)],
    }
    if hold:
        roles["holder"] = ["holder", str(db), str(hold[0]), str(hold[1])]
    procs = {name: subprocess.Popen(me + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, cwd=ROOT) for name, args in roles.items()}  # fmt: skip
    out: dict[str, dict] = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=seconds + 120)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} worker failed ({proc.returncode}): {stderr[-2000:]}")
        out[name] = json.loads(stdout.strip().splitlines()[-1])
    return summarize(db, out)


def summarize(db: Path, out: dict[str, dict]) -> dict:
    w, d, s = out["writer"], out["dashboard"], out["sql"]
    sid = w["session_id"]
    stored = query(db, "SELECT sighting_id, status FROM sightings WHERE session_id = ?", [sid])
    stored_status = dict(zip(stored.sighting_id, stored.status, strict=True))
    counts = {
        "detections": int(query(db, "SELECT count(*) FROM detections WHERE session_id = ?", [sid]).iloc[0, 0]),
        "track": int(query(db, "SELECT count(*) FROM track WHERE session_id = ?", [sid]).iloc[0, 0]),
        "reviews": int(query(db, "SELECT count(*) FROM reviews WHERE reviewer = 'bench'").iloc[0, 0]),
    }  # fmt: skip
    flush_s = [f[0] for f in w["flushes"] if f[1]]
    rows_written = sum(f[2] for f in w["flushes"] if f[1])
    det_rate = counts["detections"] / sum(flush_s) if flush_s else float("nan")
    visible = list(d["visible"].values())
    return {
        "seconds": w["seconds"],
        "errors": {role: r["errors"] for role, r in out.items()},
        "sightings_recorded": len(w["sightings"]),
        "sightings_missing": sorted(set(w["sightings"]) - set(stored_status)),
        "sightings_status_wrong": sorted(k for k, v in w["sightings"].items()
                                         if stored_status.get(k) != v),  # fmt: skip
        "detections_recorded": w["detections"], "detections_stored": counts["detections"],
        "track_recorded": w["track"], "track_stored": counts["track"],
        "reviews_written": len(s["reviews"]), "reviews_stored": counts["reviews"],
        "final_written": w["final_written"], "journal_left": w["journal_left"],
        "writer_logs": w["logs"],
        "flushes": len(flush_s), "flushes_deferred": sum(1 for f in w["flushes"] if not f[1]),
        "flush_s": {"p50": pct(flush_s, 50), "p95": pct(flush_s, 95), "max": max(flush_s, default=0)},
        "writer_stall_max_s": max(w["stalls"], default=0.0),
        "start_flush_s": w["start_flush_s"],
        "rows_per_flush_s": rows_written / sum(flush_s) if flush_s else float("nan"),
        "detections_per_flush_s": det_rate,
        "reader_wait_s": {"p50": pct(d["waits"], 50), "p95": pct(d["waits"], 95),
                          "max": max(d["waits"], default=0)},  # fmt: skip
        "dashboard_refresh_s": {"p50": pct(d["times"], 50), "p95": pct(d["times"], 95),
                                "max": max(d["times"], default=0)},  # fmt: skip
        "sql_query_s": {"p50": pct(s["times"], 50), "p95": pct(s["times"], 95),
                        "max": max(s["times"], default=0)},  # fmt: skip
        "review_write_s": {"p50": pct(s["review_times"], 50), "max": max(s["review_times"], default=0)},
        "dashboard_refreshes": len(d["times"]), "sql_queries": len(s["times"]),
        "visible_after_s": {"n": len(visible), "p50": pct(visible, 50), "max": max(visible, default=0)},
        "held_s": out.get("holder", {}).get("held_s"),
    }  # fmt: skip


def print_live(r: dict) -> None:
    ms = lambda v: f"{1000 * v:7.1f} ms"  # noqa: E731
    trio = lambda k: "  ".join(f"{q} {ms(r[k][q])}" for q in ("p50", "p95", "max"))  # noqa: E731
    print(f"live run {r['seconds']:.1f} s; errors: "
          f"{ {k: len(v) for k, v in r['errors'].items()} }")  # fmt: skip
    print(f"  sightings {r['sightings_recorded']} recorded, {len(r['sightings_missing'])} missing, "
          f"{len(r['sightings_status_wrong'])} with a wrong status")  # fmt: skip
    print(f"  detections {r['detections_recorded']} recorded / {r['detections_stored']} stored; "
          f"track {r['track_recorded']} / {r['track_stored']}; reviews {r['reviews_written']} / "
          f"{r['reviews_stored']}")  # fmt: skip
    print(f"  flushes {r['flushes']} (+{r['flushes_deferred']} deferred): {trio('flush_s')}")
    print(f"  writer stall max {ms(r['writer_stall_max_s'])} (start flush {ms(r['start_flush_s'])}); "
          f"{r['rows_per_flush_s']:.0f} rows/s while flushing")  # fmt: skip
    print(f"  dashboard wait for the file  {trio('reader_wait_s')}")
    print(
        f"  dashboard refresh (5 queries) {trio('dashboard_refresh_s')}  ({r['dashboard_refreshes']} refreshes)"
    )
    print(f"  sql query (incl. open)       {trio('sql_query_s')}  ({r['sql_queries']} queries)")
    print(
        f"  review write                 p50 {ms(r['review_write_s']['p50'])}  max {ms(r['review_write_s']['max'])}"
    )
    v = r["visible_after_s"]
    print(
        f"  closed sighting visible to the dashboard after: p50 {v['p50']:.2f} s, max {v['max']:.2f} s (n={v['n']})"
    )
    if r["held_s"] is not None:
        print(f"  external reader held the file {r['held_s']:.1f} s; writer said:")
        for line in r["writer_logs"]:
            print(f"    {line}")


def fill(db: Path, n: int) -> None:
    """Add ``n`` sightings (with H3 cells), 5 detections and 1 track point per sighting."""
    import h3
    import pyarrow as pa

    SightingStore(db).close()
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    lat, lon = 40 + rng.random(n), -120 + rng.random(n)
    cells = pa.table({"i": np.arange(n), "lat": lat, "lon": lon,
                      "cell": [h3.latlng_to_cell(a, b, 8) for a, b in zip(lat, lon, strict=True)]})  # fmt: skip
    with connect(db, read_only=False) as con:
        con.register("cells", cells)
        con.execute(f"""
            INSERT INTO sessions (session_id, source, model_id, started_at, status, host)
            SELECT 'sess' || i, 'walk' || i || '.mp4', 'm', TIMESTAMP '2026-01-01' + to_days(i),
                   'finished', 'bench' FROM range({max(n // 10_000, 1)}) t(i)""")
        con.execute("""
            INSERT INTO sightings BY NAME SELECT md5(i::VARCHAR) AS sighting_id,
                'sess' || (i // 10000) AS session_id, 'Species ' || (i % 300) AS species,
                '' AS common_name, TIMESTAMP '2026-01-01' + to_seconds(i * 8) AS first_seen,
                TIMESTAMP '2026-01-01' + to_seconds(i * 8 + 5) AS last_seen, i * 8.0 AS first_t,
                i * 8.0 + 5 AS last_t, 5 AS frames, random() AS peak_score,
                random() AS mean_score, lat AS latitude, lon AS longitude, cell AS h3_cell,
                'm' AS model_id, 'closed' AS status, now()::TIMESTAMP AS updated_at
            FROM cells""")
        con.unregister("cells")
        con.execute(f"""
            INSERT INTO detections SELECT 'sess' || (i // 50000), i, i * 0.2,
                TIMESTAMP '2026-01-01' + to_seconds(i * 2), 40.0, -120.0,
                ['a', 'b', 'c', 'd', 'e'], [0.5, 0.2, 0.1, 0.1, 0.1]::FLOAT[],
                ['a', 'b', 'c', 'd', 'e'], [0.5, 0.2, 0.1, 0.1, 0.1]::FLOAT[]
            FROM range({5 * n}) t(i)""")
        con.execute(f"""
            INSERT INTO track SELECT 'sess' || (i // 3600), TIMESTAMP '2026-01-01' + to_seconds(i),
                i, 40 + i * 1e-6, -120 + i * 1e-6, 'gpx', 5.0 FROM range({n}) t(i)""")
    print(f"filled {n:,} sightings, {5 * n:,} detections, {n:,} track points in "
          f"{time.perf_counter() - t0:.1f} s; file {db.stat().st_size / 1e6:.0f} MB",
          file=sys.stderr)  # fmt: skip


def run_scale(db: Path, n: int) -> None:
    """Fill ``db`` with ``n`` sightings and time the dashboard's main queries and writes."""
    from fieldtool import dashboard

    fill(db, n)

    def timed(label: str, fn, repeat: int = 3) -> None:
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            result = fn()
            runs.append(time.perf_counter() - t)
        size = f"{len(result):,} rows" if hasattr(result, "__len__") else ""
        print(
            f"  {label:<44} best {1000 * min(runs):8.1f} ms  worst {1000 * max(runs):8.1f} ms  {size}"
        )

    print("dashboard queries (each opens the file read-only):")
    timed("open + close read-only", lambda: query(db, "SELECT 1"))
    timed("load_sessions", lambda: dashboard.load_sessions(db))
    timed("load_species", lambda: dashboard.load_species(db))
    timed("load_time_bounds", lambda: [dashboard.load_time_bounds(db)])
    timed("load_sightings (all, newest first)", lambda: dashboard.load_sightings(db))
    timed("load_sightings (one session)",
          lambda: dashboard.load_sightings(db, dashboard.SightingFilter(session_id="sess7")))  # fmt: skip
    timed("load_tracks", lambda: dashboard.load_tracks(db))
    for view in ("species_per_day", "first_last_seen", "effort", "species_per_cell"):
        timed(f"view {view}", lambda v=view: query(db, f"SELECT * FROM {v}"))
    print("writes:")
    store = SightingStore(db, log=print)
    session = SessionInfo("live", "live.mp4", "m", utc_now())
    store.record_session(session)
    store.flush()
    pos = Position(44.0, -123.0, 5.0, "gpx")
    for label, frames in (("session flush: 1 sighting + 20 detections", 20),
                          ("backlog flush: 1 sighting + 20,000 detections", 20_000)):  # fmt: skip
        base = int(query(db, "SELECT coalesce(max(frame_index), 0) FROM detections "
                             "WHERE session_id = 'live'").iloc[0, 0]) + 1  # fmt: skip
        for i in range(frames):
            store.record_detection("live", base + i, float(i), utc_now(), pos,
                                   (SPECIES[:5], [0.5, 0.2, 0.1, 0.1, 0.1]),
                                   (SPECIES[:5], [0.5, 0.2, 0.1, 0.1, 0.1]))  # fmt: skip
        store.record_sighting(Sighting(uuid.uuid4().hex, "live", "Acer rubrum", "", utc_now(),
                                       utc_now(), 0.0, 1.0, 3, 0.9, 2.5, status="closed"))  # fmt: skip
        t = time.perf_counter()
        result = store.flush()
        dt = time.perf_counter() - t
        print(f"  {label:<44} {1000 * dt:8.1f} ms  ({frames / dt:,.0f} detections/s)"
              if result.written else f"  {label}: not written")  # fmt: skip
    session.status = "finished"
    store.record_session(session)
    store.close()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_worker":
        role, db, *rest = argv[1:]
        fns = {"writer": writer, "dashboard": dashboard, "sql": sql_user, "holder": holder}
        result = fns[role](Path(db), *(float(x) for x in rest))
        print(json.dumps(result, default=str))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="live", choices=["live", "scale"])
    parser.add_argument("--db", type=Path, help="file to use (default: a temporary one)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=10.0, help="analysed frames per second")
    parser.add_argument("--flush-interval", type=float, default=2.0)
    parser.add_argument("--sighting-every", type=float, default=1.5)
    parser.add_argument("--hold", help="START:SECONDS an external reader holds the file")
    parser.add_argument("--sightings", type=int, default=1_000_000, help="scale: rows")
    parser.add_argument("--prefill", type=int, default=0,
                        help="live: first fill the file with this many sightings (as scale)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="live: print the summary as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.duckdb"
        if args.mode == "scale":
            run_scale(db, args.sightings)
            return 0
        hold = tuple(float(x) for x in args.hold.split(":")) if args.hold else None
        result = run_live(db, args.seconds, args.rate, args.flush_interval,
                          args.sighting_every, hold, args.prefill)  # fmt: skip
        print(json.dumps(result, default=str) if args.json else "", end="\n" if args.json else "")
        if not args.json:
            print_live(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
