"""Notifications: the JSON-lines log always; a webhook on 127.0.0.1 with retries and a timeout."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cappuccino_ray.config import from_mapping
from cappuccino_ray.config.ops import NotifyConfig
from cappuccino_ray.ops.notify import Notifier, post_webhook


class Hook:
    """A local webhook: answers with the queued status codes (then 200), or sleeps."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self.sleep_s = 0.0
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                if hook.sleep_s:
                    time.sleep(hook.sleep_s)
                code = hook.codes.pop(0) if hook.codes else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()


def test_success_posts_slack_text_once(hook: Hook) -> None:
    assert post_webhook(hook.url, {"text": "hi"}, retries=2, backoff_s=0.01) == (True, 1, "")
    assert hook.bodies == [{"text": "hi"}]


def test_500_then_success_is_retried(hook: Hook) -> None:
    hook.codes = [500, 503]
    ok, attempts, _ = post_webhook(hook.url, {"text": "x"}, retries=3, backoff_s=0.01)
    assert (ok, attempts) == (True, 3)
    assert len(hook.bodies) == 3


def test_client_error_is_not_retried(hook: Hook) -> None:
    hook.codes = [404]
    assert post_webhook(hook.url, {"text": "x"}, retries=3, backoff_s=0.01) == (False, 1, "HTTP 404")


def test_timeout_gives_up_after_retries_without_raising(hook: Hook) -> None:
    hook.sleep_s = 0.5
    t0 = time.monotonic()
    ok, attempts, err = post_webhook(hook.url, {"text": "x"}, retries=1, backoff_s=0.01, timeout_s=0.1)
    assert not ok and attempts == 2
    assert "timed out" in err.lower() or "timeout" in err.lower()
    assert time.monotonic() - t0 < 2.0


def test_unreachable_webhook_never_fails_and_is_logged(tmp_path: Path) -> None:
    cfg = from_mapping(NotifyConfig, {"retries": 1, "backoff_s": 0.0, "timeout_s": 0.2}, source="t")
    n = Notifier(
        cfg,
        tmp_path / "logs" / "notifications.jsonl",
        environ={"CAPPUCCINO_WEBHOOK_URL": "http://127.0.0.1:9/x"},
    )
    rec = n.notify("run_failed", "run r1 failed: boom", run_id="r1")
    assert rec["webhook"].startswith("failed after 2 attempts")
    assert n.read()[-1]["event"] == "run_failed" and n.read()[-1]["run_id"] == "r1"


def test_notifier_discord_format_and_log_without_webhook(hook: Hook, tmp_path: Path) -> None:
    cfg = from_mapping(NotifyConfig, {"webhook_format": "discord", "webhook_env": "MY_HOOK"}, source="t")
    log = tmp_path / "notifications.jsonl"
    Notifier(cfg, log, environ={"MY_HOOK": hook.url}).notify("deployed", "deployed d1", deployment="d1")
    assert hook.bodies == [{"content": "[cappuccino-ray] deployed: deployed d1"}]
    Notifier(cfg, log, environ={}).notify("run_started", "r2 started")
    off = from_mapping(NotifyConfig, {"webhook": False, "webhook_env": "MY_HOOK"}, source="t")
    Notifier(off, log, environ={"MY_HOOK": hook.url}).notify("run_started", "r3 started")
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["webhook"] for x in lines] == ["delivered", "off", "off"]
    assert len(hook.bodies) == 1
