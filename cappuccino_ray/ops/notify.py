"""Run-event notifications: an append-only JSON-lines log and an optional webhook.

Every event (run started, finished, failed, gate decision, deployment,
rollback) is appended to ``logs/notifications.jsonl``. When the environment
variable named by ``NotifyConfig.webhook_env`` holds a URL, the event is also
posted as Slack-style ``{"text": ...}`` or Discord-style ``{"content": ...}``
JSON, with retries, exponential back-off and a timeout. A webhook that fails
is logged and never fails the run.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cappuccino_ray.atomic import append_jsonl
from cappuccino_ray.config.ops import NotifyConfig
from cappuccino_ray.ops.state import now_utc

__all__ = ["Notifier", "post_webhook"]

log = logging.getLogger(__name__)


def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    retries: int = 3,
    backoff_s: float = 1.0,
    timeout_s: float = 5.0,
) -> tuple[bool, int, str]:
    """POST ``payload`` as JSON to ``url``, retrying timeouts, connection errors, 5xx and 429.

    Args:
        url: The webhook URL.
        payload: JSON-serialisable body.
        retries: Retries after the first attempt.
        backoff_s: Wait before the first retry; doubles each time.
        timeout_s: Timeout of each attempt.

    Returns:
        ``(delivered, attempts, last_error)``; never raises for network trouble.
    """
    body = json.dumps(payload).encode()
    error = ""
    for attempt in range(1, retries + 2):
        req = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                if 200 <= resp.status < 300:
                    return True, attempt, ""
                error = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                return False, attempt, error  # a client error will not fix itself
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if attempt <= retries:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    return False, retries + 1, error


class Notifier:
    """Writes events to the JSON-lines log and, if configured, to a webhook."""

    def __init__(
        self,
        cfg: NotifyConfig,
        log_path: str | Path,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Set up the notifier.

        Args:
            cfg: Notification settings.
            log_path: The ``notifications.jsonl`` file.
            environ: Where to look up the webhook URL (defaults to ``os.environ``).
        """
        self.cfg = cfg
        self.log_path = Path(log_path)
        self._environ = os.environ if environ is None else environ

    @property
    def webhook_url(self) -> str | None:
        """The webhook URL from the environment, or None when unset or switched off."""
        if not self.cfg.webhook:
            return None
        url = self._environ.get(self.cfg.webhook_env, "").strip()
        return url or None

    def notify(self, event: str, message: str, **fields: Any) -> dict[str, Any]:
        """Record ``event`` and post it to the webhook if one is set.

        Args:
            event: The event name: ``run_started``, ``run_finished``, ``run_failed``,
                ``gate_passed``, ``gate_failed``, ``deployed`` (the scheduler) or
                ``rolled_back`` (``deploy rollback``); others are allowed.
            message: One human line.
            **fields: Extra JSON-friendly details (run id, reasons, ...).

        Returns:
            The record written, with ``webhook`` set to ``delivered``,
            ``failed: <error>`` or ``off``.
        """
        record: dict[str, Any] = {"time": now_utc().isoformat(), "event": event, "message": message}
        record.update(fields)
        url = self.webhook_url
        if url is None:
            record["webhook"] = "off"
        else:
            key = "content" if self.cfg.webhook_format == "discord" else "text"
            ok, attempts, err = post_webhook(
                url,
                {key: f"[cappuccino-ray] {event}: {message}"},
                retries=self.cfg.retries,
                backoff_s=self.cfg.backoff_s,
                timeout_s=self.cfg.timeout_s,
            )
            record["webhook"] = "delivered" if ok else f"failed after {attempts} attempts: {err}"
            if not ok:
                log.warning("webhook post of %s failed after %d attempts: %s", event, attempts, err)
        append_jsonl(self.log_path, record)
        return record

    def read(self) -> list[dict[str, Any]]:
        """All recorded events, oldest first."""
        if not self.log_path.is_file():
            return []
        return [json.loads(x) for x in self.log_path.read_text(encoding="utf-8").splitlines() if x.strip()]
