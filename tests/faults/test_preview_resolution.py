"""A source whose resolution changes mid-run (a stream renegotiating, a camera switching
mode): the ``--preview`` video keeps every frame, scaled into its first size."""

from __future__ import annotations

import cv2
import numpy as np

from fieldtool.preview import PreviewVideo

RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)


def _read_back(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


def test_preview_keeps_frames_after_a_resolution_change(tmp_path):
    path = tmp_path / "preview.mp4"
    video = PreviewVideo(path, fps=5.0)
    plan = [((48, 64), RED), ((96, 128), GREEN), ((120, 90), BLUE), ((48, 64), RED)]
    for (height, width), colour in plan:
        for _ in range(4):
            video.write(np.full((height, width, 3), colour, np.uint8))
    video.close()
    frames = _read_back(path)
    assert len(frames) == 16  # none dropped
    assert {f.shape for f in frames} == {(48, 64, 3)}  # the first frame's size
    for k, (_, colour) in enumerate(plan):
        centre = frames[4 * k + 1][24, 32].astype(int)
        assert np.abs(centre - colour).max() < 60, (k, centre, colour)
    # the portrait frames are letterboxed, not stretched: dark bars left and right
    assert frames[9][24, 2].max() < 40 and frames[9][24, 61].max() < 40
