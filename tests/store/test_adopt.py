"""A journal copied with its file (a project folder copied or backed up: new inode): recover
says why its rows stay and how to adopt them (exit 1); ``--adopt`` replays them once, never
a live writer's, never an older version over the file's; a journal that extends a session
of the copy is adopted by itself."""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta

import duckdb
import pandas as pd

from fieldtool.cli import main
from fieldtool.store import HOST, SightingStore, query
from fieldtool.types import SessionInfo
from tests.store.test_recovery import T0, dead_pid, detection_row, line, new_file, sighting_row


def journal_for(db, lines: list[bytes], pid: int | None = None):
    """A journal beside ``db`` as a writer (process ``pid``, default: one that is gone)
    writes it: its header names the file's path, device and inode."""
    pid = pid or dead_pid()
    st = os.stat(db)
    header = {"journal": 1, "db": db.name, "db_path": str(db.resolve()), "db_dev": st.st_dev,
              "db_ino": st.st_ino, "host": HOST, "pid": pid, "pid_started_at": None}  # fmt: skip
    path = db.with_name(f"{db.name}.journal-x-{pid}-1.jsonl")
    path.write_bytes(json.dumps(header).encode() + b"\n" + b"".join(lines))
    return path


def copied(folder, to):
    """``folder`` copied (new inodes), as a backup or an upgrade trial copies a project."""
    shutil.copytree(folder, to)
    assert os.stat(to / "s.duckdb").st_ino != os.stat(folder / "s.duckdb").st_ino
    return to


def recover(db, *flags, capsys) -> tuple[int, str]:
    code = main(["recover", "--db", str(db), *flags])
    out = capsys.readouterr()
    return code, out.out + out.err


def counts(db) -> tuple[int, int]:
    return (int(query(db, "SELECT count(*) FROM sightings").iloc[0, 0]),
            int(query(db, "SELECT count(*) FROM detections").iloc[0, 0]))  # fmt: skip


def new_session(pid: int) -> list[bytes]:
    """A session the file does not hold, of writer ``pid``: all its rows are in the journal
    (the file was held)."""
    return [line("sessions", {"session_id": "cam", "source": "cam0", "model_id": "m",
                              "started_at": T0.isoformat(), "status": "running", "host": HOST,
                              "pid": pid, "updated_at": T0.isoformat()}),
            line("sightings", sighting_row("s9", session_id="cam")),
            line("detections", detection_row(0) | {"session_id": "cam"}),
            line("detections", detection_row(1) | {"session_id": "cam"})]  # fmt: skip


def test_a_copied_journal_is_not_replayed_silently_and_recover_says_how_to_adopt_it(
    tmp_path, capsys
):
    a = tmp_path / "a"
    a.mkdir()
    new_file(a / "s.duckdb")
    pid = dead_pid()
    journal_for(a / "s.duckdb", new_session(pid), pid)
    db = copied(a, tmp_path / "b") / "s.duckdb"
    code, text = recover(db, capsys=capsys)
    assert code == 1, text
    said = [m for m in text.splitlines() if "journal-" in m]
    assert len(said) == 1, text  # one line per journal
    assert "4 rows not replayed" in said[0] and "--adopt" in said[0], said
    assert str(a / "s.duckdb") in said[0], said  # the file it was written for
    assert counts(db) == (0, 0)
    assert len(list(db.parent.glob("s.duckdb.journal-*.jsonl"))) == 1


def test_adopt_replays_a_copied_journal_exactly_once(tmp_path, capsys):
    a = tmp_path / "a"
    a.mkdir()
    new_file(a / "s.duckdb")
    pid = dead_pid()
    original = journal_for(a / "s.duckdb", new_session(pid), pid)
    db = copied(a, tmp_path / "b") / "s.duckdb"
    code, text = recover(db, "--adopt", capsys=capsys)
    assert code == 0, text
    assert "adopted" in text and "replayed 4 rows" in text, text
    assert counts(db) == (1, 2)
    assert not list(db.parent.glob("s.duckdb.journal-*.jsonl"))
    # the session's dead writer left it running: it is ended as any other
    assert query(db, "SELECT status FROM sessions WHERE session_id = 'cam'").status[0] == (
        "interrupted")  # fmt: skip
    code, text = recover(db, "--adopt", capsys=capsys)
    assert code == 0 and "nothing to recover" in text, text
    ended = query(db, "SELECT * FROM sessions WHERE session_id = 'cam'")
    # the same journal copied in again: nothing is written twice, and it says so
    shutil.copy(original, db.parent / original.name)
    code, text = recover(db, "--adopt", capsys=capsys)
    assert code == 0, text
    assert "replayed 0 rows" in text and "4 were in the file already" in text, text
    assert counts(db) == (1, 2)
    # the older version in the journal (running) is not written over the file's: adoption
    # leaves the session as the first recover ended it, so recover does not end it again
    # (ending the journal's "running" again would read "interrupted" all the same)
    assert "marked interrupted" not in text, text
    pd.testing.assert_frame_equal(query(db, "SELECT * FROM sessions WHERE session_id = 'cam'"),
                                  ended)  # fmt: skip


def test_a_journal_whose_writer_is_alive_is_never_adopted(tmp_path, capsys):
    a = tmp_path / "a"
    a.mkdir()
    new_file(a / "s.duckdb")
    holder = duckdb.connect(str(a / "s.duckdb"), read_only=True)  # the writer journals
    writer = SightingStore(a / "s.duckdb", lock_timeout_s=0.1)
    try:
        writer.record_session(SessionInfo("cam", "cam0", "m", T0))
        writer.record_detection("cam", 0, 0.0, T0, None, (["a"], [0.5]), (["a"], [0.5]))
        assert not writer.flush(timeout_s=0.1).written
        holder.close()
        db = copied(a, tmp_path / "b") / "s.duckdb"
        code, text = recover(db, "--adopt", capsys=capsys)
        assert code == 1, text
        said = [m for m in text.splitlines() if "journal-" in m]
        assert len(said) == 1 and "still runs" in said[0] and "not adopted" in said[0], text
        assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 0
        assert len(list(db.parent.glob("s.duckdb.journal-*.jsonl"))) == 1
    finally:
        writer.close()


def test_a_copied_journal_that_extends_a_session_of_the_file_is_adopted_by_itself(tmp_path):
    """The file holds the session the journal's rows belong to (a random 128-bit id), and
    the journal lies in another folder than it was written in: the folder was copied."""
    a = tmp_path / "a"
    a.mkdir()
    new_file(a / "s.duckdb")  # session "sess", finished
    later = (T0 + timedelta(hours=1)).isoformat()
    journal_for(a / "s.duckdb", [
        line("sessions", {"session_id": "sess", "source": "walk.mp4", "model_id": "m",
                          "started_at": T0.isoformat(), "status": "running",
                          "updated_at": "2000-01-01T00:00:00"}),  # older than the file's
        line("sightings", sighting_row("s3", updated_at=later)),
        line("detections", detection_row(0))])  # fmt: skip
    db = copied(a, tmp_path / "b") / "s.duckdb"
    logs: list[str] = []
    SightingStore(db, log=logs.append).close()
    assert counts(db) == (1, 1), logs
    assert any("adopted" in m and "replayed 2 rows" in m and "1 were in the file" in m
               for m in logs), logs  # fmt: skip
    assert query(db, "SELECT status FROM sessions").status.tolist() == ["finished"]


def test_a_replaced_file_is_not_adopted_by_itself(tmp_path, capsys):
    """Same folder, new inode (the file was replaced): which file the rows belong to is not
    known, even when the new one holds their session; only --adopt replays them."""
    db = tmp_path / "s.duckdb"
    new_file(db)
    journal_for(db, [line("detections", detection_row(0))])
    shutil.copy(db, tmp_path / "t.duckdb")
    os.replace(tmp_path / "t.duckdb", db)
    code, text = recover(db, capsys=capsys)
    assert code == 1 and "--adopt" in text, text
    assert counts(db) == (0, 0)
    code, text = recover(db, "--adopt", capsys=capsys)
    assert code == 0 and "replayed 1 rows" in text, text
    assert counts(db) == (0, 1)


def test_a_left_journal_keeps_its_session_open_for_adopt_to_extend(tmp_path):
    """A first recover leaves a copied journal (file replaced in place: new inode) and must
    not end its session: closing the file's older open sighting stamps it now, and --adopt
    would then keep that stale row over the journal's later one and call it "in the file
    already". The session is ended once its journal is adopted."""
    db = tmp_path / "s.duckdb"
    new_file(db)
    pid = dead_pid()
    row = sighting_row("s1", status="open", updated_at=T0.isoformat())
    con = duckdb.connect(str(db))
    con.execute("UPDATE sessions SET status='running', host=?, pid=?, updated_at=?", [HOST, pid, T0])
    con.execute(f"INSERT INTO sightings ({','.join(row)}) VALUES ({','.join('?' * len(row))})",
                list(row.values()))  # fmt: skip
    con.close()
    later = T0 + timedelta(minutes=10)
    journal_for(db, [line("sightings", sighting_row(
        "s1", status="open", last_seen=later.isoformat(), frames=300, updated_at=later.isoformat()
    ))], pid)  # fmt: skip
    shutil.copy(db, tmp_path / "t.duckdb")
    os.replace(tmp_path / "t.duckdb", db)  # replaced in place: another inode
    assert main(["recover", "--db", str(db)]) == 1
    assert main(["recover", "--db", str(db), "--adopt"]) == 0
    frames, status = query(db, "SELECT frames, status FROM sightings").iloc[0]
    assert (frames, status) == (300, "closed")
    assert query(db, "SELECT status FROM sessions").iloc[0, 0] == "interrupted"
