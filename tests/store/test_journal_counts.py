"""What a run's final note says is journaled is what ``fieldtool recover`` replays, and
after the replay every row is in the file exactly once.

A new-user trial on a disk that filled up: the note counted 147 journaled rows, recover
replayed 148. The cause: a sighting (or session) row journaled once, then changed (the
sighting closed) while the journal could no longer be written. The note counted that row
as in no journal at all, while the journal held its earlier version, which recover
replays. Failures are injected as tests/store/test_write_failures.py does; one test fills
a real file-size limit (``RLIMIT_FSIZE``) in a child process. A second cause of untrue
counts: DuckDB raising on a COMMIT that went through (its checkpoint failed), taken for a
failed write: its rows were journaled, said unwritten and replayed again.
"""

from __future__ import annotations

import errno
import json
import re
import subprocess
import sys
import textwrap
from datetime import datetime

import duckdb
import pytest

from fieldtool.store import SightingStore, journal, query, writer
from fieldtool.store.outcome import final_note
from fieldtool.types import SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)
NOSPC = "IO Error: Could not write file: No space left on device"


def sighting(i: int, status: str) -> Sighting:
    return Sighting(f"s{i}", "sess", "Acer rubrum", "red maple", T0, T0, float(i), float(i + 1),
                    frames=3, peak_score=0.9, score_sum=2.4, status=status)  # fmt: skip


def detect(store: SightingStore, *frames: int) -> None:
    for i in frames:
        store.record_detection("sess", i, float(i), T0, None, (["a"], [0.5]), (["a"], [0.5]))


def disk_fills(monkeypatch: pytest.MonkeyPatch, journal_appends: int) -> None:
    """Inserts fail with ENOSPC; the journal takes the first ``journal_appends`` appends,
    then it is full too."""
    real = journal.append_journal
    left = [journal_appends]

    def insert(con, table, rows, **kwargs):
        raise duckdb.IOException(NOSPC)

    def append(*args, **kwargs):
        if left[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        left[0] -= 1
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "insert_rows", insert)
    monkeypatch.setattr(journal, "append_journal", append)


def kept_in_journal(note: str) -> int:
    """The rows the note says a journal keeps (0 when it names none)."""
    found = re.search(r"(\d+) are kept in \S+journal", note)
    return int(found.group(1)) if found else 0


def said_lost(note: str) -> int:
    found = re.search(r"(\d+) could be written neither", note)
    return int(found.group(1)) if found else 0


def recover_cli(db, capsys) -> tuple[int, str]:
    """``fieldtool recover --db db``: the rows it says it replayed, and what it printed."""
    from fieldtool.cli import main

    capsys.readouterr()
    assert main(["recover", "--db", str(db)]) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    return sum(int(n) for n in re.findall(r"recovered (\d+) rows from", text)), text


def test_a_row_journaled_then_changed_is_counted_where_recover_finds_it(
    tmp_path, monkeypatch, capsys
):
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    info = SessionInfo("sess", "cam0", "m", T0)
    store.record_session(info)
    assert store.flush().written
    disk_fills(monkeypatch, journal_appends=1)
    store.record_sighting(sighting(1, "open"))
    detect(store, 0, 1, 2)
    with pytest.raises(writer.StoreWriteError):
        store.flush()  # journaled: the open sighting and three detections
    store.record_sighting(sighting(1, "closed"))  # the journal is full now
    detect(store, 3, 4)
    info.status = "failed"
    store.record_session(info)
    result = store.close()
    note = final_note(db, result, "sess", "failed")
    # 7 rows unwritten: the session's end, the sighting, 5 detections
    assert result.unwritten == 7, result
    monkeypatch.undo()  # space again
    recovered, text = recover_cli(db, capsys)
    assert recovered == 4, text  # the journal held the open sighting and 3 detections
    assert kept_in_journal(note) == recovered, note
    assert kept_in_journal(note) + said_lost(note) == result.unwritten, note
    assert "1 of them only in an earlier version (their last change could not be" in note, note
    assert "sess" in result.ends_unrecorded  # its end is in neither the file nor the journal
    # in the file: the sighting once (as the journal had it), detections 0-2 once each
    got = query(db, "SELECT sighting_id, status FROM sightings").values.tolist()
    assert got == [["s1", "open"]]
    frames = query(db, "SELECT frame_index FROM detections ORDER BY 1").frame_index.tolist()
    assert frames == [0, 1, 2]


def run_on_a_filling_disk(tmp_path, classifier, monkeypatch, journal_appends: int):
    """A `fieldtool run` session whose file takes only the session's start; its journal
    takes ``journal_appends`` appends, then the disk is full. Returns (result, log)."""
    from fieldtool.config import Config, SmoothingConfig
    from fieldtool.pipeline import run_session
    from fieldtool.sources import VideoSource
    from tests.conftest import write_video

    real_insert, real_append = writer.insert_rows, journal.append_journal
    left = [journal_appends]

    def insert(con, table, rows, **kwargs):
        if rows and not (table == "sessions" and all(r[8] == "running" for r in rows)):
            raise duckdb.IOException(NOSPC)
        return real_insert(con, table, rows, **kwargs)

    def append(*args, **kwargs):
        if left[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        left[0] -= 1
        return real_append(*args, **kwargs)

    config = Config()
    config.smoothing = SmoothingConfig(tau_s=0.3, enter=0.5, exit=0.3, min_duration_s=0.5,
                                       max_gap_s=0.5)  # fmt: skip
    config.store.db = tmp_path / "f.duckdb"
    config.store.snapshots = False
    # species 0 (3 s), background (2 s), species 1 (3 s), background (1 s)
    video = write_video(tmp_path / "walk.avi", [(3, 1.0), (0, 3.0), (3, 2.0), (1, 3.0), (3, 1.0)])
    lines: list[str] = []
    store = SightingStore(config.store.db, log=lines.append)
    monkeypatch.setattr(writer, "insert_rows", insert)
    monkeypatch.setattr(journal, "append_journal", append)
    source = VideoSource(str(video), sample_fps=10, start_time=T0)
    result = run_session(source, classifier, store, config, log=lines.append)
    monkeypatch.undo()  # space again
    return result, lines


@pytest.mark.parametrize("journal_appends", [1, 2, 1000])
def test_the_final_note_and_recover_count_the_same_rows_of_a_run(
    tmp_path, colour_classifier, monkeypatch, capsys, journal_appends
):
    result, lines = run_on_a_filling_disk(tmp_path, colour_classifier, monkeypatch,
                                          journal_appends)  # fmt: skip
    note = result.unwritten_note
    assert result.unwritten_rows > 0 and f"{result.unwritten_rows} rows" in note, note
    if journal_appends < 1000:  # the case of the trial: a journaled row changed later
        assert "only in an earlier version" in note, (note, lines)
    recovered, text = recover_cli(tmp_path / "f.duckdb", capsys)
    assert recovered > 0 and kept_in_journal(note) == recovered, (note, text)
    assert kept_in_journal(note) + said_lost(note) == result.unwritten_rows, note
    db = tmp_path / "f.duckdb"
    # every row once: detections by frame, sightings by id
    frames = query(db, "SELECT frame_index FROM detections").frame_index.tolist()
    assert len(frames) == len(set(frames)) and frames, frames
    ids = query(db, "SELECT sighting_id FROM sightings").sighting_id.tolist()
    assert len(ids) == len(set(ids)) and ids, ids
    if journal_appends == 1000:  # the journal took everything: nothing is lost
        assert sorted(frames) == list(range(result.session.frames_analysed))
        assert sorted(ids) == sorted(s.sighting_id for s in result.sightings)


FILLING = textwrap.dedent(
    """
    import json, resource, signal, sys, uuid
    from datetime import datetime
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    from fieldtool.store import SightingStore, StoreWriteError
    from fieldtool.store.outcome import final_note
    from fieldtool.types import SessionInfo, Sighting
    T0 = datetime(2026, 6, 1, 10)
    store = SightingStore(sys.argv[1])
    store.record_session(SessionInfo("late", "cam1", "m", T0))
    assert store.flush().written
    n, opened = 0, False
    def sighting(status):
        return Sighting("s1", "late", "Acer rubrum", "red maple", T0, T0, 1.0, 2.0, frames=3,
                        peak_score=0.9, score_sum=2.4, status=status)
    for k in range(400):  # the WAL fills first, then the journal
        for i in range(50):
            names = [uuid.uuid4().hex for _ in range(5)]  # rows that do not compress
            store.record_detection("late", n, float(n), T0, None, (names, [0.5] * 5),
                                   (names, [0.5] * 5))
            n += 1
        try:
            result = store.flush()
        except StoreWriteError as exc:
            result = exc.result
        if not result.written and not opened:  # journaled in its open version
            store.record_sighting(sighting("open"))
            opened = True
        elif result.memory_only:
            break
    store.record_sighting(sighting("closed"))  # the journal is full: in memory only
    result = store.close()
    print(json.dumps({"recorded": n, "unwritten": result.unwritten,
                      "note": final_note(store.path, result, "late", "finished")}))
    """
)
LIMIT = 1200 * 1024  # bytes any one file may hold (``ulimit -f 1200``)


def test_a_filling_file_system_leaves_every_row_once_and_the_counts_true(tmp_path, capsys):
    """A real limit: the WAL stops growing (commits fail whole, DuckDB writes none of
    their rows), then the journal does. Recover replays what the note says, and the file
    then holds every detection recorded but those the note says lost, each once."""
    db = tmp_path / "f.duckdb"
    store = SightingStore(db)
    store.record_session(SessionInfo("early", "cam0", "m", T0, status="finished"))
    assert store.close().written
    done = subprocess.run([sys.executable, "-c", FILLING, str(db), str(LIMIT)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    note = out["note"]
    assert said_lost(note) > 0 and "1 of them only in an earlier version" in note, note
    recovered, text = recover_cli(db, capsys)
    assert recovered == kept_in_journal(note) > 0, (note, text)
    assert kept_in_journal(note) + said_lost(note) == out["unwritten"], note
    frames = query(db, "SELECT frame_index FROM detections").frame_index.tolist()
    assert len(frames) == len(set(frames)), "a detection written twice"
    assert len(frames) == out["recorded"] - said_lost(note), (len(frames), out["recorded"], note)
    # once, in its journaled (open) version, closed by recover: its writer died running
    got = query(db, "SELECT sighting_id, status FROM sightings").values.tolist()
    assert got == [["s1", "closed"]] and "1 open sighting(s) closed" in text, text


# A commit that went through, then raised --------------------------------------------------
# DuckDB 2.0.1, word for word, when the checkpoint that follows a commit fails (a full disk)
DURABLE = (
    "FATAL Error: Transaction COMMIT succeeded and is durable, but the autocheckpoint failed. "
    "Reopen the database instance to recover. Failed to create checkpoint because of error: "
    'Could not write file "x.duckdb": No space left on device'
)


class CheckpointFails:
    """A connection whose COMMIT goes through and then raises as DuckDB does when its
    automatic checkpoint fails."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def execute(self, sql: str, *args):
        result = self.con.execute(sql, *args)
        if sql.strip().upper() == "COMMIT":
            raise duckdb.FatalException(DURABLE)
        return result

    def __getattr__(self, name: str):
        return getattr(self.con, name)


def test_a_commit_that_went_through_is_not_journaled_nor_said_unwritten(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    logs: list[str] = []
    store = SightingStore(db, log=logs.append)
    store.record_session(SessionInfo("sess", "cam0", "m", T0))
    assert store.flush().written
    real = writer.open_connection
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(writer, "open_connection", lambda *a: CheckpointFails(real(*a)))
        store.record_sighting(sighting(1, "closed"))
        detect(store, 0, 1, 2)
        result = store.flush()  # the rows are in the file: written, nothing kept
        assert result.written and result.unwritten == 0, result
        assert not store.journal_path.exists()
        assert any("checkpoint" in line for line in logs), logs
    detect(store, 3)
    assert store.close().written
    recovered, text = recover_cli(db, capsys)
    assert recovered == 0 and "nothing to recover" in text, text
    frames = query(db, "SELECT frame_index FROM detections ORDER BY 1").frame_index.tolist()
    assert frames == [0, 1, 2, 3]
    assert query(db, "SELECT sighting_id FROM sightings").sighting_id.tolist() == ["s1"]


def test_recover_whose_commit_went_through_deletes_the_journal_it_replayed(
    tmp_path, monkeypatch, capsys
):
    """Else the next recover replays the same rows again and says it recovered them."""
    from contextlib import contextmanager

    from fieldtool.store import maintenance

    db = tmp_path / "s.duckdb"
    SightingStore(db).close()
    holder = duckdb.connect(str(db), read_only=True)  # the writer cannot get the file
    store = SightingStore(db, lock_timeout_s=0.1)
    store.record_sighting(sighting(1, "closed"))
    detect(store, 0, 1)
    result = store.close()
    holder.close()
    assert result.journal is not None and result.journaled == 3
    real = maintenance.connect

    @contextmanager
    def connect(*args, **kwargs):
        with real(*args, **kwargs) as con:
            yield CheckpointFails(con)

    monkeypatch.setattr(maintenance, "connect", connect)
    recovered, text = recover_cli(db, capsys)
    assert recovered == 3 and not result.journal.exists(), text
    monkeypatch.undo()
    recovered, text = recover_cli(db, capsys)
    assert recovered == 0 and "nothing to recover" in text, text
    frames = query(db, "SELECT frame_index FROM detections ORDER BY 1").frame_index.tolist()
    assert frames == [0, 1]


def test_a_close_that_left_nothing_behind_says_nothing(tmp_path):
    """Defect (trial): a store closed while a reader held the file, with no row to write,
    logged an empty line ("fieldtool: b4.duckdb: ")."""
    from fieldtool.store.outcome import FlushResult, left_behind

    db = tmp_path / "b4.duckdb"
    assert left_behind(db, FlushResult(False, 0, 1.0)) is None
    said = left_behind(db, FlushResult(False, 3, 1.0, unwritten=3, journal=tmp_path / "j"))
    assert said is not None and "3 rows are kept in j" in said
