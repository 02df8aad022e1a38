"""What a batch's database holds as done before: the one place of the rule that skips work.

A file's work is done before where ``batch_files`` holds its key done. The key names the
model folder's path (``model.path`` is part of the settings hash, and earlier databases'
keys must keep matching, so it stays), so the same weights in a folder at another path (a
moved or copied folder; the bundled demo model of a new install, whose default path is
absolute) key otherwise. Such a row is found through the session it made: its
``config_json`` records the ``model.path`` it ran with, and the key a row of this batch
has with that path in its settings (the current folder read: its weights' sha256 and its
preprocessing record, :func:`fieldtool.scale.plan.settings_sha256`) is the one stored.

What the key does not hold is compared between the two folders (:func:`model_change`):
``labels.csv`` (the species each output names) and ``fieldtool.json`` (model_id, how the
model sees a frame). The same: done before, its session kept, and its row recorded under
this batch's key too (:func:`fieldtool.scale.merge.merge`'s ``moved``), so later batches
with the folder at this path find it by key, the earlier folder gone or not. Otherwise, or
where the folder it ran with is not there to compare with (a folder moved before any batch
accepted it at its new path), it runs again, and the line that replaces its earlier
session says why (:attr:`Earlier.why`), not "content, track or settings".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldtool.config import Config
from fieldtool.scale.merge import done_keys
from fieldtool.scale.plan import PlanRow, row_key, settings_sha256


@dataclass
class Earlier:
    """``done``: keys the database holds done; ``moved``: this batch's key -> the key done
    before with the model folder at another path (the same weights, labels and inputs);
    ``why``: (this batch's key, the
    earlier key) -> why it runs again though only the folder's path is other in its key;
    ``folders``: earlier model folder path -> this batch's rows done before with it;
    ``now``: the model folder of this batch."""

    done: set[str] = field(default_factory=set)
    moved: dict[str, str] = field(default_factory=dict)
    why: dict[tuple[str, str], str] = field(default_factory=dict)
    folders: Counter[str] = field(default_factory=Counter)
    now: str = ""

    def lines(self) -> list[str]:
        return [f"{n} file(s) done before with the model folder at {path} count as done: "
                f"{self.now} holds the same weights, labels.csv and fieldtool.json"
                for path, n in sorted(self.folders.items())]  # fmt: skip


def earlier_work(
    db: Path, hashed: Sequence[dict[str, Any]], config: Config, model_sha256: str
) -> Earlier:
    """What ``db`` holds of the hashed plan rows ``hashed`` run with ``config`` and the
    weights ``model_sha256``: their keys done, or done with this model folder elsewhere."""
    now = str(config.model.path)
    out = Earlier(done_keys(db), now=now)
    todo = [PlanRow(**row) for row in hashed if row["batch_key"] not in out.done]
    for path in _model_paths(db, model_sha256, now) if todo else []:
        settings = settings_sha256(config, model_sha256, model_path=path)
        change: str | None = None  # compared once per folder, where a row needs it
        for plan in todo:
            key = row_key(plan, settings)
            if plan.batch_key in out.moved or key not in out.done:
                continue
            if change is None:
                change = model_change(path, config.model.path)
            if change:
                out.why[(plan.batch_key, key)] = change
            else:
                out.moved[plan.batch_key] = key
                out.folders[path] += 1
    return out


def _model_paths(db: Path, model_sha256: str, now: str) -> list[str]:
    """The other model folder paths the sessions of ``db``'s done files ran with the
    weights ``model_sha256`` (as their ``config_json`` records ``model.path``)."""
    from fieldtool.store import connect

    if not db.exists():
        return []
    with connect(db, read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT try(json_extract_string(s.config_json, '$.model.path')) FROM "
            "batch_files b JOIN sessions s USING (session_id) WHERE b.status = 'done' AND "
            "s.model_sha256 = ?", [model_sha256],
        ).fetchall()  # fmt: skip
    return sorted(str(r[0]) for r in rows if r[0] and r[0] != now)


def model_change(earlier: str, now: Path | str) -> str:
    """Why the model folder at ``now`` may not give the results the one at ``earlier``
    gave (its weights known to be the same), naming both: its labels.csv or fieldtool.json
    differ as far as results go (:func:`_seen`), or ``earlier`` is not there to compare;
    "" where they are the same."""
    moved = f"the model folder moved from {earlier} to {now}"
    if not Path(earlier).is_dir():
        return (f"{moved}, and {earlier} is not there to compare its labels.csv and "
                "fieldtool.json with")  # fmt: skip
    labels = _labels(Path(earlier))
    differ = [] if labels is not None and labels == _labels(Path(now)) else ["labels.csv"]
    seen = _seen(Path(earlier))
    if seen is None or seen != _seen(Path(now)):
        differ.append("fieldtool.json (model_id, or how it sees a frame)")
    if not differ:
        return ""
    return f"{moved} and its {' and '.join(differ)} differ{'' if len(differ) > 1 else 's'}"


def _labels(folder: Path) -> Any:
    """The folder's labels (a LabelSet; None where they cannot be read)."""
    from fieldtool.model import read_labels
    from fieldtool.types import FieldtoolError

    try:
        return read_labels(folder / "labels.csv")
    except (FieldtoolError, OSError):
        return None


def _seen(folder: Path) -> dict[str, Any] | None:
    """What of a folder's fieldtool.json changes results: the model_id the rows carry, how
    it sees a frame (:func:`fieldtool.model.inputs_sha256`) and the head's input; None
    where it cannot be read."""
    from fieldtool.model import inputs_sha256
    from fieldtool.preprocessing import read_folder_info

    if (info := read_folder_info(folder)) is None:
        return None
    return {"model_id": info.get("model_id"), "head_input": info.get("head_input"),
            "inputs": inputs_sha256(folder)}  # fmt: skip
