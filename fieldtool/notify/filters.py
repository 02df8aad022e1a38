"""A target's filter: which events it is sent (species, score, new today, rate limit).

One :class:`TargetFilter` per target, used from one thread (the station's). A sighting
whose start was held back is held back at its end too, so a target sees whole sightings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from fieldtool.names import canonical
from fieldtool.notify.config import FilterConfig
from fieldtool.notify.events import Notice
from fieldtool.timebase import utc_now


class TargetFilter:
    """Decides, per notice, whether a target is sent it. ``seen_today``: species (any
    spelling) already sighted today before the station started (from the store).
    ``clock`` (tests): monotonic seconds, for the rate limit."""

    def __init__(
        self,
        config: FilterConfig,
        *,
        seen_today: Iterable[str] = (),
        today: Callable[[], date] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.config = config
        self._include = {canonical(s) for s in config.include}
        self._exclude = {canonical(s) for s in config.exclude}
        self._today = today or (lambda: utc_now().date())  # the UTC day
        self._clock = clock or time.monotonic
        self._day = self._today()
        self._seen = {canonical(s) for s in seen_today}
        self._last_sent: dict[str, float] = {}  # species key -> clock of its last start sent
        self._held: set[str] = set()  # sighting ids whose start was held back
        self.held_back = 0  # notices not sent, for the log

    def admits(self, notice: Notice) -> bool:
        ok = self._admits(notice)
        self.held_back += not ok
        return ok

    def _admits(self, notice: Notice) -> bool:
        cfg = self.config
        if notice.event not in cfg.events:
            return False
        key = canonical(notice.species)
        if (self._include and key not in self._include) or key in self._exclude:
            return False
        if notice.event == "review":
            return True
        if notice.sighting_id in self._held:
            if notice.event == "end":
                self._held.discard(notice.sighting_id)
            return False
        if notice.event == "end":
            return notice.scores.peak >= cfg.min_score
        # a start: new today and the rate limit are judged here, once per sighting
        day = self._today()
        if day != self._day:
            self._day, self._seen = day, set()
        new = key not in self._seen
        self._seen.add(key)
        now = self._clock()
        last = self._last_sent.get(key)
        if (cfg.new_today_only and not new) or (
            cfg.rate_limit_s > 0 and last is not None and now - last < cfg.rate_limit_s
        ):
            self._held.add(notice.sighting_id)
            return False
        if notice.scores.peak < cfg.min_score:
            return False  # its end may still reach the score
        self._last_sent[key] = now
        return True
