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
from qwcli.registry import COMMANDS


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
        return COMMANDS[args.command_key](api, args, Output(bool(getattr(args, "json", False)))) or 0
    except CliError as exc:
        print(f"qw: error: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:  # output piped into head & co.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        api.client.close()
