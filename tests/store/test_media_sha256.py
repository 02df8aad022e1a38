"""Schema version 10: ``media.picture_sha256``, each photo's picture (for a JPEG, its
compressed image data from the first SOS marker to EOI: :mod:`fieldtool.photos.same`), so a
photo run before is known wherever it now lives, re-tagged or not. A version 9 file keeps
its rows, their hash NULL (nothing is read to fill them)."""

from __future__ import annotations

from datetime import datetime

import duckdb

from fieldtool.store import MIGRATIONS, SCHEMA_V1, SCHEMA_VERSION, SightingStore, query

T0 = datetime(2026, 6, 1, 9)


def make_v9_file(db) -> None:
    con = duckdb.connect(str(db))
    con.execute(SCHEMA_V1)
    for migrate in MIGRATIONS[:8]:
        migrate(con)
    con.execute("INSERT INTO meta VALUES ('schema_version', '9')")
    con.execute("INSERT INTO sessions (session_id, source, status) VALUES ('old', '/cards/c7', "
                "'finished')")  # fmt: skip
    con.execute("INSERT INTO media VALUES ('old', 0, '/cards/c7/RCNX0001.JPG', ?, 'e1', "
                "'RECONYX HF2', NULL, NULL, 64, 48, 'exif-zone')", [T0])  # fmt: skip
    con.close()


def test_a_version_9_file_gains_media_picture_sha256_and_keeps_its_rows(tmp_path) -> None:
    db = tmp_path / "v9.duckdb"
    make_v9_file(db)
    logs: list[str] = []
    store = SightingStore(db, log=logs.append)
    store.record_media("new", 0, "/cards/site3_c7/RCNX0002.JPG", T0, camera="RECONYX HF2",
                       picture_sha256="ab" * 32)  # fmt: skip
    store.close()
    assert logs == [f"{db}: schema upgraded from version 9 to {SCHEMA_VERSION}"]
    rows = query(db, "SELECT session_id, path, captured_at, camera, width, time_source, "
                     "picture_sha256 FROM media ORDER BY session_id DESC")  # fmt: skip
    assert rows.values.tolist()[0][:6] == ["old", "/cards/c7/RCNX0001.JPG", T0, "RECONYX HF2",
                                           64, "exif-zone"]  # fmt: skip
    assert rows.picture_sha256.isna().tolist() == [True, False]
    assert rows.picture_sha256[1] == "ab" * 32
    column = query(db, "SELECT data_type FROM duckdb_columns() WHERE table_name = 'media' AND "
                       "column_name = 'picture_sha256'")  # fmt: skip
    assert column.data_type.tolist() == ["VARCHAR"]
    # opened again: nothing to upgrade, nothing said
    SightingStore(db, log=logs.append).close()
    assert len(logs) == 1
