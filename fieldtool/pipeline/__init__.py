"""The session: every stage, in order, over one source.

A session is a function of its inputs (source, positions, range prior, classifier,
config) that writes through the store; it keeps no global state, so the same call can
run inside a distributed task. Stage order:
"""

from fieldtool.pipeline.inputs import (
    SessionInputs,
    classifier_from_config,
    inputs_from_config,
    photo_placement,
    run_from_config,
    video_placement,
)
from fieldtool.pipeline.session import finish_session, run_session
from fieldtool.pipeline.steps import (
    STAGES,
    FrameStep,
    NoPositions,
    NoPrior,
    PriorStep,
    Progress,
    SessionResult,
    start_session,
)
from fieldtool.snapshots import FrameViews, SnapshotWriter

__doc__ = (__doc__ or "") + "\n" + "\n".join(f"{i + 1}. {s}" for i, s in enumerate(STAGES))

__all__ = [
    "STAGES",
    "FrameStep",
    "FrameViews",
    "NoPositions",
    "NoPrior",
    "PriorStep",
    "Progress",
    "SessionInputs",
    "SessionResult",
    "SnapshotWriter",
    "classifier_from_config",
    "finish_session",
    "inputs_from_config",
    "photo_placement",
    "run_from_config",
    "run_session",
    "start_session",
    "video_placement",
]
