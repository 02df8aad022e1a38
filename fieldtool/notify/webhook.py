"""Webhook target: each event POSTed as JSON, retried with backoff, dead-lettered.

One sender thread per target, so a slow or dead endpoint never holds up the station.
A POST that fails (no answer, a timeout, a status other than 2xx) is retried ``retries``
times, waiting ``backoff_s`` doubling up to ``backoff_max_s``; then the event goes to the
target's dead-letter file (:mod:`fieldtool.notify.deadletter`). The dead letter is
replayed when the target starts. The token (``token_env``) goes in the Authorization
header only; logs name the URL without its query and never the token.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fieldtool.notify.config import WebhookConfig
from fieldtool.notify.deadletter import DeadLetter
from fieldtool.notify.events import Notice

_STOP = object()


class WebhookNotifier:
    """Sends notices to one webhook. ``send`` never blocks; ``close`` waits for the queue
    up to ``timeout_s`` and dead-letters what is left."""

    def __init__(
        self,
        config: WebhookConfig,
        dead_letter: Path,
        *,
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        parts = urlsplit(config.url)  # an http(s) URL: WebhookConfig checks it
        self.config = config
        self.name = f"webhook {parts.scheme}://{parts.netloc}{parts.path}"  # no query: secrets
        self._token = config.token()
        self.dead_letter = DeadLetter(dead_letter)
        self._log = log or (lambda message: None)
        self._queue: queue.Queue[object] = queue.Queue()
        self._closing = threading.Event()
        self._sleep = sleep or self._closing.wait  # a backoff wait ends at close
        self.delivered = 0
        self.failed_tries = 0
        self.dead_lettered = 0
        replay = self.dead_letter.take()
        for entry in replay:
            self._queue.put(entry)
        if replay:
            self._log(f"{self.name}: replaying {len(replay)} event(s) from {dead_letter}")
        self._thread = threading.Thread(target=self._run, name="fieldtool-webhook", daemon=True)
        self._thread.start()

    def send(self, notice: Notice) -> None:
        self._queue.put(notice.body())

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, dict)
            if self._closing.is_set():
                self._bury(item)  # closing: no more tries, kept for the next start
            elif self._deliver(item):
                self.delivered += 1
            else:
                self._bury(item)

    def _deliver(self, body: dict[str, Any]) -> bool:
        wait = self.config.backoff_s
        for attempt in range(self.config.retries + 1):
            if attempt:
                self._sleep(wait)
                wait = min(2 * wait, self.config.backoff_max_s)
                if self._closing.is_set():
                    return False
            error = self._post(body)
            if error is None:
                return True
            self.failed_tries += 1
            self._log(f"{self.name}: try {attempt + 1} of {self.config.retries + 1} failed "
                      f"({error})")  # fmt: skip
        return False

    def _post(self, body: dict[str, Any]) -> str | None:
        """One POST; None when the target took it, else why not (one line)."""
        headers = {"Content-Type": "application/json", "User-Agent": "fieldtool-station"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(
            self.config.url, json.dumps(body).encode(), headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return str(reason).splitlines()[0] if str(reason) else type(exc).__name__
        return None if 200 <= status < 300 else f"HTTP {status}"

    def _bury(self, body: dict[str, Any]) -> None:
        self.dead_letter.append(body)
        self.dead_lettered += 1
        self._log(f"{self.name}: event {body.get('event')} of sighting "
                  f"{body.get('sighting_id')} kept in {self.dead_letter.path}")  # fmt: skip

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout_s: float = 10.0) -> None:
        """Send what is queued within ``timeout_s``; the rest goes to the dead letter."""
        self._queue.put(_STOP)
        deadline = time.monotonic() + timeout_s
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._closing.set()  # cut the backoff short: what is left is dead-lettered
            self._thread.join(self.config.timeout_s + 1.0)
        while True:  # the thread has ended (or hangs in a POST): keep what it did not take
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, dict):
                self._bury(item)
