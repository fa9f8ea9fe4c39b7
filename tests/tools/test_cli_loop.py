"""``qw alerts rectify`` and ``qw alerts timeline`` against a fake alert service."""

from __future__ import annotations

import pytest

from tests.tools.fakehttp import FakeServer
from tests.tools.test_cli import run


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QW_TOKEN", "QW_INTAKE_URL", "QW_INDICATORS_URL", "QW_ALERTS_URL"):
        monkeypatch.delenv(name, raising=False)


def test_rectify_sends_the_plan_and_timeline_prints_the_steps(fake_server: FakeServer, capsys) -> None:  # noqa: ANN001
    fake_server.route("POST", "/v1/alerts/a1/rectification", (200, {"alert_id": "a1", "rectification": {
        "stage": "planned", "plan": {"unit": "徐州市农业农村局", "deadline": "2026-12-31T17:00:00.000+08:00"}}}))
    fake_server.route("GET", "/v1/alerts/a1/timeline", (200, {"alert_id": "a1", "rectification": {"stage": "planned"},
                                                              "entries": [{"at": "2026-12-06T10:00:00.000+08:00",
                                                                           "kind": "plan_set", "actor": "agency:agri",
                                                                           "detail": {"unit": "徐州市农业农村局"}}]}))
    assert run(fake_server, "alerts", "rectify", "a1", "--unit", "徐州市农业农村局", "--deadline",
               "2026-12-31T17:00:00+08:00", "--comment", "整改") == 0
    assert fake_server.calls("POST", "/v1/alerts/a1/rectification")[0].body == {
        "unit": "徐州市农业农村局", "deadline": "2026-12-31T17:00:00+08:00", "comment": "整改"}
    assert run(fake_server, "alerts", "timeline", "a1") == 0
    printed = capsys.readouterr().out
    assert "徐州市农业农村局" in printed and "plan_set" in printed and "stage: planned" in printed
