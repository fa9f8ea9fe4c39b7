"""``qw``: the operator's command line for the three QualityWatch services.

Settings come from the environment: ``QW_TOKEN`` (or ``--token``), ``QW_INTAKE_URL``,
``QW_INDICATORS_URL``, ``QW_ALERTS_URL``. Output is a table for people, ``--json`` for machines.
Exit codes: 0 done, 1 the server refused or a check failed, 2 usage error or a service unreachable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import qwcli.commands  # noqa: F401  (registers every command in COMMANDS)
from qwcli.api import DEFAULT_URLS, Api, CliError
from qwcli.output import Output
from qwcli.regions import region_code
from qwcli.registry import COMMANDS

REGION_HELP = "a region code (320583) or name (南京市, 昆山市, Nanjing)"


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
    p.add_argument("--programmes", help="lab keys: comma-separated programmes the lab is accredited for "
                                        "(default: not restricted)")
    p.add_argument("--regions", help="lab keys: comma-separated region codes (province or cities) the lab is "
                                     "accredited for (default: not restricted)")
    leaf(keys, "list", "keys list", "list keys")
    leaf(keys, "revoke", "keys revoke", "revoke a key").add_argument("key_id")

    plan = group("plan", "the plan catalogue")
    leaf(plan, "validate", "plan validate", "check a catalogue file locally").add_argument("file")
    leaf(plan, "show", "plan show", "the running service's indicators and targets")

    indicators = group("indicators", "the plan's indicators (indicators service)")
    leaf(indicators, "list", "indicators list", "every indicator with its target, windows and agencies")

    figures = group("figures", "live figures (indicators)")
    p = leaf(figures, "show", "figures show", "one figure")
    p.add_argument("indicator")
    p.add_argument("--region", help=REGION_HELP)
    p.add_argument("--window")
    p.add_argument("--category")
    leaf(groups, "scorecard", "scorecard", "every indicator for the province and each city").add_argument(
        "--window")

    alerts = group("alerts", "alerts")
    p = leaf(alerts, "list", "alerts list", "list alerts")
    p.add_argument("--state", choices=("firing", "pending", "resolved", "all"), default="firing")
    p.add_argument("--region", help=REGION_HELP)
    p = leaf(alerts, "ack", "alerts ack", "acknowledge a firing alert")
    p.add_argument("alert_id")
    p.add_argument("--comment")
    p = leaf(alerts, "rectify", "alerts rectify", "give a firing alert a rectification plan (整改计划)")
    p.add_argument("alert_id")
    p.add_argument("--unit", required=True, help="the responsible unit, e.g. 徐州市农业农村局")
    p.add_argument("--deadline", required=True, help="RFC 3339 with an offset, e.g. 2026-12-31T17:00:00+08:00")
    p.add_argument("--comment", help="the measures ordered")
    leaf(alerts, "timeline", "alerts timeline", "every step of an alert's life").add_argument("alert_id")

    silences = group("silences", "silences")
    p = leaf(silences, "add", "silences add", "mute notifications for matching alerts")
    p.add_argument("--indicator")
    p.add_argument("--region", help=REGION_HELP)
    p.add_argument("--category")
    p.add_argument("--duration", required=True, help="e.g. 30m, 2h, 7d")
    p.add_argument("--reason", required=True)
    leaf(silences, "list", "silences list", "list silences")

    subs = group("subscriptions", "agency subscriptions (webhook, DingTalk, WeCom, email, Alertmanager)")
    p = leaf(subs, "add", "subscriptions add", "subscribe an agency on a channel")
    p.add_argument("agency")
    p.add_argument("--channel", choices=("webhook", "dingtalk", "wecom", "email", "alertmanager"), default="webhook")
    p.add_argument("--url", help="webhook, robot or Alertmanager URL")
    p.add_argument("--secret", help="webhook: at least 16 characters; dingtalk: the robot's signing secret")
    p.add_argument("--locale", choices=("zh-CN", "en"), default="zh-CN")
    p.add_argument("--at-mobile", action="append", help="dingtalk: a mobile number to @ (repeatable)")
    p.add_argument("--recipient", action="append", help="email: a recipient address (repeatable)")
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

    p = leaf(groups, "status", "status", "readiness, lag, pending deliveries, dead letters, firing alerts; "
             "ends with one verdict: healthy, or degraded and why")
    p.add_argument("--max-lag", type=int, default=10_000, help="consumer lag above this is degraded (10000)")
    p.add_argument("--max-pending", type=int, default=100,
                   help="pending webhook deliveries above this are degraded (100)")
    events = group("events", "events (intake)")
    p = leaf(events, "upload", "events upload", "upload an .xlsx or .csv of events (all rows or none)")
    p.add_argument("file")
    p.add_argument("--type", help="event type, where the sheet name does not say it (e.g. inspection.completed)")
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
        if getattr(args, "region", None) is not None:  # every command's region argument: a code or a name
            args.region = region_code(args.region)
        return COMMANDS[args.command_key](api, args, Output(bool(getattr(args, "json", False)))) or 0
    except CliError as exc:
        print(f"qw: error: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:  # output piped into head & co.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        api.client.close()
