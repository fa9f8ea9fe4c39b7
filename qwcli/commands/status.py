"""``qw status``: readiness, consumer lag, pending deliveries, dead letters and firing alerts."""

from __future__ import annotations

import argparse
from typing import Any

from qwcli.api import DEFAULT_URLS, Api, CliError
from qwcli.output import Output, cell, items_of, join_counts, metric_sum, table
from qwcli.registry import command


def readiness(api: Api, service: str) -> dict[str, Any]:
    try:
        response = api.raw(service, "GET", "/readyz", auth=False)
    except CliError as exc:
        return {"service": service, "url": api.urls[service], "ready": False, "state": "unreachable",
                "detail": str(exc)}
    try:
        body = response.json()
    except ValueError:
        body = {}
    failing = body.get("failing") if isinstance(body, dict) else None
    state = "ready" if response.status_code == 200 else "not ready: " + (
        "; ".join(f"{k}: {v}" for k, v in failing.items()) if isinstance(failing, dict) else
        f"HTTP {response.status_code}")
    return {"service": service, "url": api.urls[service], "ready": response.status_code == 200, "state": state}


def metrics_text(api: Api, service: str) -> str | None:
    try:
        response = api.raw(service, "GET", "/metrics", auth=False)
    except CliError:
        return None
    return response.text if response.status_code == 200 else None


@command("status")
def status(api: Api, args: argparse.Namespace, out: Output) -> int:
    services = [readiness(api, name) for name in DEFAULT_URLS]
    indicators_metrics, alerts_metrics = metrics_text(api, "indicators"), metrics_text(api, "alerts")
    lag = {"indicators": metric_sum(indicators_metrics or "", "qw_indicators_consumer_lag"),
           "alerts": metric_sum(alerts_metrics or "", "qw_alerts_consumer_lag")}
    pending = metric_sum(alerts_metrics or "", "qw_alerts_pending_deliveries")
    problems: list[str] = []
    reachable = {s["service"] for s in services if s["state"] != "unreachable"}
    dead: int | None = None
    by_severity: dict[str, int] | None = None
    try:
        if "indicators" in reachable:
            dead = len(items_of(api.call("indicators", "GET", "/v1/dead-letters"), "dead_letters"))
    except CliError as exc:
        problems.append(f"dead letters: {exc}")
    try:
        if "alerts" in reachable:
            firing = items_of(api.call("alerts", "GET", "/v1/alerts", params={"state": "firing"}), "alerts")
            by_severity = {}
            for alert in firing:
                by_severity[str(alert.get("severity"))] = by_severity.get(str(alert.get("severity")), 0) + 1
    except CliError as exc:
        problems.append(f"alerts: {exc}")
    known_lags = [v for v in lag.values() if v is not None]
    total = sum(known_lags) if known_lags else None
    reasons = verdict_reasons(services, lag, pending, dead, problems, max_lag=args.max_lag,
                              max_pending=args.max_pending)
    verdict = "degraded: " + "; ".join(reasons) if reasons else "healthy"
    report = {"services": services, "consumer_lag": {**lag, "total": total},
              "pending_deliveries": pending, "dead_letters": dead, "firing_alerts": by_severity,
              "problems": problems, "verdict": "degraded" if reasons else "healthy", "reasons": reasons}

    def text() -> str:
        lines = [table(services, ("service", "url", "state")), ""]
        lag_text = ", ".join(f"{k} {cell(int(v)) if v is not None else '?'}" for k, v in lag.items())
        lines.append(f"consumer lag        {lag_text} (total {int(total) if total is not None else '?'})")
        lines.append(f"pending deliveries  {int(pending) if pending is not None else '?'}")
        lines.append(f"dead letters        {dead if dead is not None else '?'}")
        lines.append("firing alerts       " + (join_counts(sorted(by_severity.items())) if by_severity is not None
                                              else "?"))
        lines += [f"(could not read {p})" for p in problems]
        lines += ["", f"verdict: {verdict}"]
        return "\n".join(lines)
    out.show(report, text)
    if len(reachable) < len(services):
        return 2
    return 1 if reasons else 0


def verdict_reasons(services: list[dict[str, Any]], lag: dict[str, float | None], pending: float | None,
                    dead: int | None, problems: list[str], *, max_lag: int, max_pending: int) -> list[str]:
    """Why the system is not healthy, most serious first; empty when it is. Firing alerts are about the
    plan's figures, not the system, and do not make it degraded."""
    reasons = [f"{s['service']} {s['state']}" for s in services if not s["ready"]]
    reasons += [f"{name} consumer lag {int(value)} > {max_lag}" for name, value in lag.items()
                if value is not None and value > max_lag]
    reachable = {s["service"] for s in services if s["state"] != "unreachable"}
    reasons += [f"{name} consumer lag unknown (no metric)" for name, value in lag.items()
                if value is None and name in reachable]
    if pending is not None and pending > max_pending:
        reasons.append(f"{int(pending)} webhook deliveries pending > {max_pending}")
    if dead:
        reasons.append(f"{dead} dead letter{'s' if dead != 1 else ''} not replayed (qw dead-letters list)")
    reasons += [f"could not read {p}" for p in problems]
    return reasons
