"""Webhooks against a loopback HTTP server: retries, dead letter, replay, the token."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError

from fieldtool.notify import Notice, WebhookConfig, notice_of
from fieldtool.notify.webhook import WebhookNotifier
from fieldtool.types import FieldtoolError, Sighting


class Hook:
    """A webhook endpoint on 127.0.0.1 answering 503 to the first ``fail`` POSTs."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.tries = 0
        self.bodies: list[dict] = []
        self.auth: list[str | None] = []
        self.got = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.tries += 1
                hook.auth.append(self.headers.get("Authorization"))
                if hook.tries <= hook.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                hook.bodies.append(json.loads(body))
                hook.got.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook?key=in-url"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hook():
    made: list[Hook] = []

    def make(fail: int = 0) -> Hook:
        made.append(Hook(fail))
        return made[-1]

    yield make
    for h in made:
        h.close()


def sighting_notice(kind="start", species="Acer rubrum", peak=0.9) -> Notice:
    s = Sighting("sid1", "sess1", species, "red maple", datetime(2026, 5, 1, 6, 0),
                 datetime(2026, 5, 1, 6, 1), 0.0, 60.0, frames=10, peak_score=peak,
                 score_sum=8.0, latitude=45.5, longitude=-73.6,
                 snapshot_path="a/b.jpg")  # fmt: skip
    return notice_of(kind, s, station="ridge", source="feeder", raw=0.8, fused=0.85,
                     dashboard_url="http://127.0.0.1:8501")  # fmt: skip


def test_retries_until_the_target_takes_it_with_the_token_from_the_environment(
    tmp_path, hook, monkeypatch
):
    monkeypatch.setenv("HOOK_TOKEN", "s3cret-value")
    target = hook(fail=2)
    logs: list[str] = []
    cfg = WebhookConfig(url=target.url, token_env="HOOK_TOKEN", retries=3, backoff_s=0.01)
    notifier = WebhookNotifier(cfg, tmp_path / "dead.jsonl", log=logs.append)
    notifier.send(sighting_notice())
    notifier.close(60)
    assert target.tries == 3 and notifier.delivered == 1 and notifier.failed_tries == 2
    assert target.auth == ["Bearer s3cret-value"] * 3
    body = target.bodies[0]
    assert body["sighting_id"] == "sid1" and body["species"] == "Acer rubrum"
    assert body["common_name"] == "red maple" and body["event"] == "start"
    assert body["scores"] == {"raw": 0.8, "fused": 0.85, "peak": 0.9, "mean": 0.8}
    assert body["place"] == {"lat": 45.5, "lon": -73.6}
    assert body["first_seen"] == "2026-05-01T06:00:00Z" and body["snapshot_path"] == "a/b.jpg"
    assert body["dashboard_url"] == "http://127.0.0.1:8501/?sighting=sid1"
    assert not (tmp_path / "dead.jsonl").exists()
    assert sum("failed (HTTP 503)" in line for line in logs) == 2
    assert not any("s3cret" in line or "key=in-url" in line for line in logs)


def test_a_target_that_stays_down_gets_a_dead_letter_replayed_at_the_next_start(
    tmp_path, hook
):
    down = hook(fail=10**6)
    letter = tmp_path / "dead.jsonl"
    cfg = WebhookConfig(url=down.url, retries=2, backoff_s=0.01)
    notifier = WebhookNotifier(cfg, letter)
    notifier.send(sighting_notice("start"))
    notifier.send(sighting_notice("end"))
    notifier.close(60)
    assert down.tries == 6 and notifier.dead_lettered == 2
    kept = [json.loads(line) for line in letter.read_text().splitlines()]
    assert [k["event"] for k in kept] == ["start", "end"]
    up = hook()
    again = WebhookNotifier(cfg.model_copy(update={"url": up.url}), letter)
    again.close(60)  # the replay alone
    assert [b["event"] for b in up.bodies] == ["start", "end"]
    assert up.bodies[0] == kept[0] and not letter.exists()


def test_close_cuts_the_backoff_short_and_keeps_the_event(tmp_path, hook):
    down = hook(fail=10**6)
    cfg = WebhookConfig(url=down.url, retries=5, backoff_s=60)  # minutes of retries
    notifier = WebhookNotifier(cfg, tmp_path / "dead.jsonl")
    notifier.send(sighting_notice())
    notifier.close(0.5)
    assert notifier.dead_lettered == 1 and down.tries >= 1


def test_a_missing_secret_or_bad_url_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    with pytest.raises(FieldtoolError, match="'NO_SUCH_TOKEN': environment variable not set"):
        WebhookNotifier(WebhookConfig(url="http://127.0.0.1:9/x", token_env="NO_SUCH_TOKEN"),
                        tmp_path / "d.jsonl")  # fmt: skip
    with pytest.raises(ValidationError, match="'ftp://x/y' is not an http\\(s\\) URL"):
        WebhookConfig(url="ftp://x/y")  # the setting's own check: the file's line names it


def test_a_notice_survives_its_json_body():
    notice = sighting_notice()
    assert Notice.from_body(json.loads(json.dumps(notice.body()))) == notice
