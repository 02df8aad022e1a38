"""Learning from reviews: confirmed and relabelled sightings (and photos of species) become a
new model head.

By concept:

- :mod:`~fieldtool.learn.keep`: :class:`FrameKeeper`, the pipeline's keeper of frames of
  each sighting (``sighting_frames``);
- :mod:`~fieldtool.learn.collect`: reviewed sightings -> labelled frames; the split of
  sessions into learnt-from and held-out;
- :mod:`~fieldtool.learn.photos`: photos of a gallery or of folders of species
  sub-folders -> labelled photos, split by photo;
- :mod:`~fieldtool.learn.embed`: frozen-backbone features, cached by frame hash;
- :mod:`~fieldtool.learn.head`: fitting a linear head; class prototypes for rehearsal;
- :mod:`~fieldtool.learn.card`: the model card;
- :mod:`~fieldtool.learn.update`: :func:`learn`, all of it (``fieldtool learn``);
- :mod:`~fieldtool.learn.export`: confirmed frames as an ImageFolder with labels.csv;
- :mod:`~fieldtool.learn.queue`: :func:`review_priority`, the review queue's order.

The names below load their module on first use (PEP 562): the pipeline imports the keeper,
which must not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldtool.lazy import lazy_exports

if TYPE_CHECKING:
    from fieldtool.learn.export import export_confirmed
    from fieldtool.learn.keep import FrameKeeper
    from fieldtool.learn.queue import review_priority
    from fieldtool.learn.update import LearnResult, learn

_WHERE = {
    "FrameKeeper": "keep",
    "LearnResult": "update",
    "learn": "update",
    "export_confirmed": "export",
    "review_priority": "queue",
}

__all__ = ["FrameKeeper", "LearnResult", "export_confirmed", "learn", "review_priority"]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
