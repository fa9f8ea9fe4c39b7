"""``qw``: the operator's command line for the three QualityWatch services.

Settings come from the environment: ``QW_TOKEN`` (or ``--token``), ``QW_INTAKE_URL``,
``QW_INDICATORS_URL``, ``QW_ALERTS_URL``. Output is a table for people, ``--json`` for machines.
Exit codes: 0 done, 1 the server refused or a check failed, 2 usage error or a service unreachable.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

DEFAULT_URLS = {"intake": "http://127.0.0.1:8001", "indicators": "http://127.0.0.1:8002",
                "alerts": "http://127.0.0.1:8003"}


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ---- HTTP ------------------------------------------------------------------------------------------
class Api:
    """One httpx client for the three services; turns failures into ``CliError`` with a readable message."""

    def __init__(self, urls: dict[str, str], token: str | None, timeout: float = 10.0) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.token = token
        self.client = httpx.Client(timeout=timeout)

    def raw(self, service: str, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        base = self.urls[service]
        headers = {}
        if auth:
            if not self.token:
                raise CliError("no token: set QW_TOKEN or pass --token", 2)
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            return self.client.request(method, base + path, headers=headers, **kwargs)
        except httpx.ConnectError as exc:
            raise CliError(f"cannot reach {service} at {base}: connection refused or host unknown ({exc}); "
                           f"is it running? (set QW_{service.upper()}_URL to point elsewhere)", 2) from exc
        except httpx.TimeoutException as exc:
            raise CliError(f"{service} at {base} did not answer in time ({type(exc).__name__})", 2) from exc
        except httpx.HTTPError as exc:
            raise CliError(f"{service} at {base}: {exc}", 2) from exc

    def call(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.raw(service, method, path, **kwargs)
        if response.status_code >= 400:
            raise CliError(f"{service} answered {response.status_code} {response.reason_phrase}: "
                           f"{describe_error(response)}", 1)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text


def describe_error(response: httpx.Response) -> str:
    """The server's ``detail`` (and, for 422, every problem with its path), as readable lines."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or "(no detail)"
    if not isinstance(body, dict):
        return json.dumps(body)[:500]
    detail = body.get("detail")
    lines: list[str] = []
    if isinstance(detail, list):  # FastAPI's validation shape
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", ()))
                lines.append(f"{loc}: {item.get('msg', item)}" if loc else str(item.get("msg", item)))
            else:
                lines.append(str(item))
    elif detail is not None:
        lines.append(str(detail))
    for problem in body.get("errors", ()) or ():  # intake's event problems
        if isinstance(problem, dict):
            index = problem.get("index")
            where = f"event {index} " if index is not None else ""
            lines.append(f"{where}{problem.get('path', '$')}: {problem.get('message', problem)}")
    return "\n  ".join(lines) if lines else json.dumps(body)[:500]


def items_of(body: Any, key: str) -> list[Any]:
    """A list from an answer that is a list, ``{key: [...]}``, or a dict with one list in it."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        if isinstance(body.get(key), list):
            return body[key]
        lists = [v for v in body.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    return []


# ---- output ----------------------------------------------------------------------------------------
def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cell(v) for v in value) + "]" if value and not isinstance(value[0], str) \
            else ",".join(str(v) for v in value) or "-"
    if isinstance(value, dict) and set(value) == {"op", "value"}:
        return f"{value['op']} {cell(value['value'])}"
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, empty: str = "(none)") -> str:
    if not rows:
        return empty
    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def show(self, body: Any, text: Callable[[], str]) -> None:
        print(json.dumps(body, indent=2, ensure_ascii=False, default=str) if self.as_json else text())


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``7d``, ``1h30m`` → seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise CliError(f"cannot read duration {text!r}: use e.g. 90s, 30m, 2h, 7d", 2)
    return sum(float(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in parts)


def read_json_file(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", 2) from exc
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}", 2) from exc


def join_counts(counts: Iterable[tuple[str, Any]]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts) or "none"


def metric_sum(text: str, name: str) -> float | None:
    """Sum of every sample of one metric in Prometheus text, or None when the metric is absent."""
    total, seen = 0.0, False
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
                seen = True
    return total if seen else None


# ---- commands --------------------------------------------------------------------------------------
Command = Callable[[Api, argparse.Namespace, Output], "int | None"]
COMMANDS: dict[str, Command] = {}


def command(key: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[key] = fn
        return fn
    return register


KEY_COLUMNS = ("key_id", "role", "lab_id", "agency_id", "name", "created_at", "revoked_at")


@command("keys create")
def keys_create(api: Api, args: argparse.Namespace, out: Output) -> None:
    body: dict[str, Any] = {"role": args.role}
    if args.role == "lab":
        if not args.lab_id:
            raise CliError("a lab key needs --lab-id", 2)
        body["lab_id"] = args.lab_id
    elif args.role == "agency":
        if not args.agency_id:
            raise CliError("an agency key needs --agency-id", 2)
        body["agency_id"] = args.agency_id
    if args.name:
        body["name"] = args.name
    created = api.call("intake", "POST", "/v1/api-keys", json=body)
    out.show(created, lambda: table([created], KEY_COLUMNS[:5]) + f"\n\napi_key: {created.get('api_key')}\n"
             "(shown once: store it now; the server keeps only its hash)")


@command("keys list")
def keys_list(api: Api, args: argparse.Namespace, out: Output) -> None:
    keys = items_of(api.call("intake", "GET", "/v1/api-keys"), "keys")
    out.show(keys, lambda: table(keys, KEY_COLUMNS))


@command("keys revoke")
def keys_revoke(api: Api, args: argparse.Namespace, out: Output) -> None:
    api.call("intake", "DELETE", f"/v1/api-keys/{args.key_id}")
    out.show({"revoked": args.key_id}, lambda: f"revoked {args.key_id}")


@command("plan validate")
def plan_validate(api: Api, args: argparse.Namespace, out: Output) -> int:
    from shared.catalogue import CatalogueError, load_catalogue

    try:
        cat = load_catalogue(args.file)
    except CatalogueError as exc:
        if out.as_json:
            print(json.dumps({"ok": False, "file": args.file, "errors": str(exc).splitlines()}, indent=2))
        else:
            print(f"{exc}", file=sys.stderr)
        return 1
    rows = [{"indicator": s.id, "kind": s.kind, "target": {"op": s.target.op, "value": s.target.value},
             "windows": list(cat.windows(s)), "min_sample": cat.min_sample(s), "lead_agency": s.lead_agency}
            for s in cat.indicators]
    summary = {"ok": True, "file": args.file, "plan": cat.plan.id, "catalogue_version": cat.catalogue_version,
               "indicators": len(cat.indicators), "targets": rows, "agencies": len(cat.agency_ids()),
               "programmes": sorted(cat.programmes), "regions": 1 + len(cat.regions.cities)}

    def text() -> str:
        head = (f"ok: {args.file} — plan {cat.plan.id} ({cat.plan.title}), catalogue_version {cat.catalogue_version}, "
                f"{cat.plan.start} → {cat.plan.deadline}\n"
                f"indicators: {len(cat.indicators)}  agencies: {len(cat.agencies)} "
                f"(+{len(cat.city_codes)} city governments)  programmes: {', '.join(sorted(cat.programmes))}  "
                f"regions: {cat.province_code} and {len(cat.city_codes)} cities\n\n")
        return head + table(rows, ("indicator", "kind", "target", "windows", "min_sample", "lead_agency"))
    out.show(summary, text)
    return 0


@command("plan show")
def plan_show(api: Api, args: argparse.Namespace, out: Output) -> None:
    indicators = items_of(api.call("indicators", "GET", "/v1/indicators"), "indicators")
    rows = [{**i, "indicator": i.get("id", i.get("indicator"))} for i in indicators if isinstance(i, dict)]
    out.show(indicators, lambda: table(rows, ("indicator", "kind", "target", "windows", "lead_agency")))


FIGURE_COLUMNS = ("indicator", "region", "category", "window", "value", "ci95", "numerator", "denominator",
                  "target", "status")


@command("figures show")
def figures_show(api: Api, args: argparse.Namespace, out: Output) -> None:
    params = {k: v for k, v in (("region", args.region), ("window", args.window), ("category", args.category)) if v}
    figure = api.call("indicators", "GET", f"/v1/indicators/{args.indicator}", params=params)
    out.show(figure, lambda: "\n".join(f"{k:<14} {cell(v)}" for k, v in figure.items()))


def figures_in(body: Any) -> list[dict[str, Any]]:
    """Every figure (a dict with indicator and status) anywhere in a scorecard answer."""
    found: list[dict[str, Any]] = []
    if isinstance(body, dict):
        if "indicator" in body and "status" in body:
            return [body]
        for value in body.values():
            found += figures_in(value)
    elif isinstance(body, list):
        for value in body:
            found += figures_in(value)
    return found


@command("scorecard")
def scorecard(api: Api, args: argparse.Namespace, out: Output) -> None:
    body = api.call("indicators", "GET", "/v1/scorecard", params={"window": args.window} if args.window else None)
    rows = figures_in(body)
    out.show(body, lambda: table(rows, ("region", "indicator", "window", "value", "ci95", "denominator", "target",
                                        "status")))


ALERT_COLUMNS = ("alert_id", "severity", "state", "indicator", "region", "category", "window", "value", "ci95",
                 "started_at", "acked")


@command("alerts list")
def alerts_list(api: Api, args: argparse.Namespace, out: Output) -> None:
    alerts = items_of(api.call("alerts", "GET", "/v1/alerts", params={"state": args.state}), "alerts")
    out.show(alerts, lambda: table(alerts, ALERT_COLUMNS))


@command("alerts ack")
def alerts_ack(api: Api, args: argparse.Namespace, out: Output) -> None:
    body = api.call("alerts", "POST", f"/v1/alerts/{args.alert_id}/ack", json={"comment": args.comment})
    out.show(body, lambda: f"acknowledged {args.alert_id}")


@command("silences add")
def silences_add(api: Api, args: argparse.Namespace, out: Output) -> None:
    if not (args.indicator or args.region or args.category):
        raise CliError("a silence needs at least one of --indicator, --region, --category", 2)
    body = {k: v for k, v in (("indicator", args.indicator), ("region", args.region), ("category", args.category))
            if v}
    body |= {"duration_seconds": parse_duration(args.duration), "reason": args.reason}
    silence = api.call("alerts", "POST", "/v1/silences", json=body)
    out.show(silence, lambda: table([silence], ("silence_id", "indicator", "region", "category", "starts_at",
                                                "ends_at", "state")))


@command("silences list")
def silences_list(api: Api, args: argparse.Namespace, out: Output) -> None:
    silences = items_of(api.call("alerts", "GET", "/v1/silences"), "silences")
    out.show(silences, lambda: table(silences, ("silence_id", "indicator", "region", "category", "ends_at",
                                                "state", "reason")))


SUBSCRIPTION_COLUMNS = ("subscription_id", "agency_id", "url", "min_severity", "created_at")


@command("subscriptions add")
def subscriptions_add(api: Api, args: argparse.Namespace, out: Output) -> None:
    body = {"url": args.url, "secret": args.secret, "min_severity": args.min_severity}
    sub = api.call("alerts", "POST", f"/v1/agencies/{args.agency}/subscriptions", json=body)
    out.show(sub, lambda: table([sub], SUBSCRIPTION_COLUMNS))


@command("subscriptions list")
def subscriptions_list(api: Api, args: argparse.Namespace, out: Output) -> None:
    subs = items_of(api.call("alerts", "GET", f"/v1/agencies/{args.agency}/subscriptions"), "subscriptions")
    out.show(subs, lambda: table(subs, SUBSCRIPTION_COLUMNS))


@command("dead-letters list")
def dead_letters_list(api: Api, args: argparse.Namespace, out: Output) -> None:
    params = {"include_replayed": "true"} if args.all else None
    letters = items_of(api.call("indicators", "GET", "/v1/dead-letters", params=params), "dead_letters")
    out.show(letters, lambda: table(letters, ("id", "reason", "event_id", "received_at", "replayed_at", "error")))


@command("dead-letters replay")
def dead_letters_replay(api: Api, args: argparse.Namespace, out: Output) -> None:
    body = api.call("indicators", "POST", "/v1/dead-letters/replay", json={"ids": args.id} if args.id else {})
    ids = items_of(body, "ids")  # {"replayed": N, "ids": [...]}
    count = body.get("replayed") if isinstance(body, dict) and isinstance(body.get("replayed"), int) else len(ids)
    out.show(body, lambda: f"replayed {count} dead letter(s)" + (f": {', '.join(str(i) for i in ids)}" if ids else ""))


DELIVERY_COLUMNS = ("delivery_id", "agency_id", "status", "attempts", "last_status_code", "created_at",
                    "delivered_at", "last_error")


@command("deliveries list")
def deliveries_list(api: Api, args: argparse.Namespace, out: Output) -> None:
    params = {k: v for k, v in (("status", args.status), ("agency_id", args.agency)) if v}
    deliveries = items_of(api.call("alerts", "GET", "/v1/deliveries", params=params), "deliveries")
    out.show(deliveries, lambda: table(deliveries, DELIVERY_COLUMNS))


@command("deliveries redeliver")
def deliveries_redeliver(api: Api, args: argparse.Namespace, out: Output) -> None:
    body = api.call("alerts", "POST", f"/v1/deliveries/{args.delivery_id}/redeliver")
    out.show(body, lambda: f"redelivery of {args.delivery_id} scheduled (status {cell((body or {}).get('status'))})")


@command("post-event")
def post_event(api: Api, args: argparse.Namespace, out: Output) -> None:
    payload = read_json_file(args.file)
    if isinstance(payload, list):
        payload = {"events": payload}
    path = "/v1/events/batch" if isinstance(payload, dict) and "events" in payload else "/v1/events"
    body = api.call("intake", "POST", path, json=payload)
    out.show(body, lambda: f"accepted {body.get('accepted')}, duplicates {body.get('duplicates')}: "
             + ", ".join(body.get("event_ids") or []))


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
    report = {"services": services, "consumer_lag": {**lag, "total": sum(known_lags) if known_lags else None},
              "pending_deliveries": pending, "dead_letters": dead, "firing_alerts": by_severity,
              "problems": problems}

    def text() -> str:
        lines = [table(services, ("service", "url", "state")), ""]
        lag_text = ", ".join(f"{k} {cell(int(v)) if v is not None else '?'}" for k, v in lag.items())
        total = report["consumer_lag"]["total"]
        lines.append(f"consumer lag        {lag_text} (total {int(total) if total is not None else '?'})")
        lines.append(f"pending deliveries  {int(pending) if pending is not None else '?'}")
        lines.append(f"dead letters        {dead if dead is not None else '?'}")
        lines.append("firing alerts       " + (join_counts(sorted(by_severity.items())) if by_severity is not None
                                              else "?"))
        lines += [f"(could not read {p})" for p in problems]
        return "\n".join(lines)
    out.show(report, text)
    if len(reachable) < len(services):
        return 2
    return 0 if all(s["ready"] for s in services) else 1


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for machines")
    common.add_argument("--token", default=argparse.SUPPRESS, help="bearer token (default: $QW_TOKEN)")
    for name, url in DEFAULT_URLS.items():
        common.add_argument(f"--{name}-url", default=argparse.SUPPRESS,
                            help=f"{name} base URL (default: $QW_{name.upper()}_URL or {url})")
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help="seconds per request (10)")
    parser = argparse.ArgumentParser(prog="qw", parents=[common], description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = parser.add_subparsers(dest="group", metavar="COMMAND")

    def leaf(sub: Any, name: str, key: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_, description=help_)
        p.set_defaults(command_key=key)
        return p

    def group(name: str, help_: str) -> Any:
        g = groups.add_parser(name, help=help_, description=help_)
        return g.add_subparsers(dest="action", metavar="ACTION", required=True)

    keys = group("keys", "API keys (intake)")
    p = leaf(keys, "create", "keys create", "create a key (shown once)")
    p.add_argument("--role", choices=("lab", "agency", "operator"), required=True)
    p.add_argument("--lab-id")
    p.add_argument("--agency-id")
    p.add_argument("--name")
    leaf(keys, "list", "keys list", "list keys")
    leaf(keys, "revoke", "keys revoke", "revoke a key").add_argument("key_id")

    plan = group("plan", "the plan catalogue")
    leaf(plan, "validate", "plan validate", "check a catalogue file locally").add_argument("file")
    leaf(plan, "show", "plan show", "the running service's indicators and targets")

    figures = group("figures", "live figures (indicators)")
    p = leaf(figures, "show", "figures show", "one figure")
    p.add_argument("indicator")
    p.add_argument("--region")
    p.add_argument("--window")
    p.add_argument("--category")
    leaf(groups, "scorecard", "scorecard", "every indicator for the province and each city").add_argument(
        "--window")

    alerts = group("alerts", "alerts")
    leaf(alerts, "list", "alerts list", "list alerts").add_argument(
        "--state", choices=("firing", "pending", "resolved", "all"), default="firing")
    p = leaf(alerts, "ack", "alerts ack", "acknowledge a firing alert")
    p.add_argument("alert_id")
    p.add_argument("--comment")

    silences = group("silences", "silences")
    p = leaf(silences, "add", "silences add", "mute notifications for matching alerts")
    p.add_argument("--indicator")
    p.add_argument("--region")
    p.add_argument("--category")
    p.add_argument("--duration", required=True, help="e.g. 30m, 2h, 7d")
    p.add_argument("--reason", required=True)
    leaf(silences, "list", "silences list", "list silences")

    subs = group("subscriptions", "agency webhook subscriptions")
    p = leaf(subs, "add", "subscriptions add", "subscribe a webhook")
    p.add_argument("agency")
    p.add_argument("--url", required=True)
    p.add_argument("--secret", required=True, help="at least 16 characters")
    p.add_argument("--min-severity", choices=("warning", "critical"), default="warning")
    leaf(subs, "list", "subscriptions list", "an agency's subscriptions").add_argument("agency")

    dead = group("dead-letters", "messages the indicators service could not apply")
    leaf(dead, "list", "dead-letters list", "list dead letters").add_argument(
        "--all", action="store_true", help="include replayed ones")
    leaf(dead, "replay", "dead-letters replay", "re-publish dead letters").add_argument(
        "--id", type=int, action="append", help="a dead letter id (repeatable; default: every one)")

    deliveries = group("deliveries", "webhook deliveries")
    p = leaf(deliveries, "list", "deliveries list", "the delivery log")
    p.add_argument("--status", choices=("pending", "delivered", "failed", "gave_up", "silenced"))
    p.add_argument("--agency")
    leaf(deliveries, "redeliver", "deliveries redeliver", "attempt a delivery again").add_argument("delivery_id")

    leaf(groups, "status", "status", "readiness, lag, pending deliveries, dead letters, firing alerts")
    leaf(groups, "post-event", "post-event", "post one event or a batch file to intake").add_argument("file")
    return parser

def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command_key", None):
        parser.print_help()
        return 2
    urls = {name: getattr(args, f"{name}_url", None) or os.environ.get(f"QW_{name.upper()}_URL") or url
            for name, url in DEFAULT_URLS.items()}
    token = getattr(args, "token", None) or os.environ.get("QW_TOKEN")
    api = Api(urls, token, timeout=getattr(args, "timeout", 10.0) or 10.0)
    try:
        return COMMANDS[args.command_key](api, args, Output(bool(getattr(args, "json", False)))) or 0
    except CliError as exc:
        print(f"qw: error: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:  # output piped into head & co.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        api.client.close()


if __name__ == "__main__":
    sys.exit(main())
