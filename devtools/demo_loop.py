"""The demo's rectification loop (issue 19): once Xuzhou's agricultural alert has been firing for a while,
the feed acts as the city's agricultural bureau would — sets a rectification plan through the alert API
(as ``qw alerts rectify`` does), then posts the follow-up sampling campaign (samples naming the alert, and
enough passing samples to lift the 30-day figure, which the demo's province pace would take days to do), and
the city's producers pass again: the alert goes rectified → resolved → closed, every step in its timeline.

``QW_DEMO_PLAN=0`` leaves the plan to a person (dashboard or ``qw alerts rectify``); the follow-ups start
as soon as the alert has a plan, whoever set it.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import httpx

from devtools.demo_data import CST, Rectification
from services.alerts.evaluate import alert_id_for
from shared.clock import rfc3339
from shared.figures import figure_key

logger = logging.getLogger("qw.demo")

XUZHOU_ALERT = alert_id_for(figure_key("agri_sampling_pass_rate", "320300", None, "30d"))
FOLLOW_UPS = 6


class LoopDirector:
    def __init__(self, *, client: httpx.Client, alerts_url: str, token: str, rectification: Rectification,
                 now: Callable[[], dt.datetime], auto_plan: bool = True, plan_after: float = 90.0,
                 poll_interval: float = 10.0,
                 post: Callable[[str, list[dict[str, Any]]], None] | None = None) -> None:
        self.post = post
        self.client, self.url, self.token = client, alerts_url.rstrip("/"), token
        self.rectification, self.now = rectification, now
        self.auto_plan, self.plan_after, self.poll_interval = auto_plan, plan_after, poll_interval
        self._last_poll = 0.0
        self._stage: str | None = None

    def poll(self) -> None:
        """Look at Xuzhou's alert (at most every ``poll_interval`` seconds) and take the loop's next step."""
        if time.monotonic() - self._last_poll < self.poll_interval:
            return
        self._last_poll = time.monotonic()
        try:
            answer = self.client.get(f"{self.url}/v1/alerts/{XUZHOU_ALERT}", headers=self._auth())
        except httpx.TransportError:
            return
        if answer.status_code != 200:
            return
        alert = answer.json()
        loop = alert.get("rectification") or {}
        stage = loop.get("stage")
        if stage != self._stage:
            self._stage = stage
            logger.info("demo loop: Xuzhou agri alert %s is %s (%s); timeline: GET %s/v1/alerts/%s/timeline",
                        XUZHOU_ALERT, alert.get("state"), stage, self.url, XUZHOU_ALERT)
        if stage == "planned" and self.rectification.alert_id is None:
            self.rectification.start(XUZHOU_ALERT, self.now(), 0)  # the city's producers pass from now on
            if self.post is not None:
                self._campaign(alert)
        elif alert.get("state") == "firing" and stage == "open" and self.auto_plan:
            started = dt.datetime.fromisoformat(alert["started_at"].replace("Z", "+00:00"))
            if (self.now() - started).total_seconds() >= self.plan_after:
                self._set_plan()

    def _campaign(self, alert: dict[str, Any]) -> None:
        """The follow-up sampling campaign (跟踪抽检) the plan orders: ``FOLLOW_UPS`` samples naming the alert,
        and as many routine samples as bring the city's 30-day pass rate back over target (at the demo's
        province pace that would otherwise take days)."""
        target = float((alert.get("target") or {}).get("value") or 0.97)
        num, den = float(alert.get("numerator") or 0), float(alert.get("denominator") or 0)
        more = max(0, math.ceil((target * den - num) / max(1 - target, 0.01))) + 20
        count = min(FOLLOW_UPS + more, 3000)
        at = (self.now() - dt.timedelta(seconds=5)).astimezone(CST).isoformat()
        tag = self.now().strftime("%y%m%d%H%M%S")
        events = []
        for i in range(count):
            data: dict[str, Any] = {"sample_id": f"XZFU-{tag}-{i:05d}", "programme": "agri-routine-monitoring",
                                    "category": "vegetables", "region": "320321", "verdict": "pass"}
            if i < FOLLOW_UPS:
                data["follow_up_of"] = XUZHOU_ALERT
            events.append({"event_id": f"lab3203-fu-{tag}-{i:05d}", "type": "inspection.completed",
                           "occurred_at": at, "lab_id": "LAB-3203", "data": data})
        for start in range(0, len(events), 500):
            self.post("LAB-3203", events[start:start + 500])
        logger.info("demo loop: follow-up campaign posted: %d samples, %d naming alert %s", count, FOLLOW_UPS,
                    XUZHOU_ALERT)

    def _set_plan(self) -> None:
        deadline = rfc3339(self.now() + dt.timedelta(days=7))
        body = {"unit": "徐州市农业农村局", "deadline": deadline,
                "comment": "对抽检不合格的蔬菜基地责令整改，开展跟踪抽检 (demo)"}
        answer = self.client.post(f"{self.url}/v1/alerts/{XUZHOU_ALERT}/rectification", headers=self._auth(),
                                  json=body)
        logger.info("demo loop: rectification plan for Xuzhou (as `qw alerts rectify %s --unit 徐州市农业农村局 "
                    "--deadline %s`): %s", XUZHOU_ALERT, deadline, answer.status_code)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}
