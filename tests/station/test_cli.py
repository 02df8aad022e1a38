"""``fieldtool run SRC1 SRC2``: several sources as one station on one model."""

from __future__ import annotations

from fieldtool.cli import main
from fieldtool.store import query

from ..conftest import write_video


def test_run_with_several_sources_is_one_station(tmp_path, capsys):
    a = write_video(tmp_path / "a.avi", [(0, 2.0)], size=(96, 96))
    b = write_video(tmp_path / "b.avi", [(1, 2.0)], size=(96, 96))
    db = tmp_path / "s.duckdb"
    code = main(["run", str(a), str(b), str(a), "--set", f"store.db={db.as_posix()!r}",
                 "--set", "smoothing.enter=0.01", "--set", "smoothing.exit=0.005",
                 "--set", "smoothing.min_duration_s=0.1"])  # fmt: skip
    assert code == 0
    rows = query(db, "SELECT source_name, source, status FROM sessions ORDER BY source_name")
    assert rows["source_name"].tolist() == ["a", "a-2", "b"]  # names made unique
    assert set(rows["status"]) == {"finished"}
    out = capsys.readouterr().out
    assert out.count("\n") >= 3 and "a-2" in out


def test_several_photo_sources_are_refused_with_a_hint(tmp_path, capsys):
    import cv2
    import numpy as np

    photo = tmp_path / "p.jpg"
    cv2.imwrite(str(photo), np.zeros((8, 8, 3), np.uint8))
    assert main(["run", str(photo), str(photo)]) == 2
    assert "quote a photo glob" in capsys.readouterr().err


def test_one_source_is_named_as_in_a_run_of_several(tmp_path, monkeypatch):
    """One camera, one name: a single run's lines name its source as a run of several
    (and its sessions' ``source_name``, the MQTT topics) do (``source_names``)."""
    from types import SimpleNamespace

    from fieldtool.station.config import source_names
    from fieldtool.types import SessionStatus

    labels: list[str] = []

    def run_one(config, label, quiet, replace_earlier=False, run_held=False):
        labels.append(label)
        session = SimpleNamespace(time_source="video", time_zone_known=True,
                                  status=SessionStatus.FINISHED)  # fmt: skip
        return SimpleNamespace(session=session, sightings=[], photo_species=[],
                               unwritten_rows=0)  # fmt: skip

    monkeypatch.setattr("fieldtool.cli.session._run_one", run_one)
    video = write_video(tmp_path / "walk.avi", [(0, 1.0)])
    for uri in ("rtsp://127.0.0.1:8554/walk", str(video)):
        assert main(["run", uri, "--db", str(tmp_path / "s.duckdb")]) == 0
    assert labels == ["127.0.0.1-8554-walk", "walk"]
    assert labels == [source_names([u])[0] for u in ("rtsp://127.0.0.1:8554/walk", str(video))]
