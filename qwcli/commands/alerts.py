"""``qw alerts``, ``silences``, ``subscriptions`` and ``deliveries``: the alerts service."""

from __future__ import annotations

import argparse

from qwcli.api import Api, CliError
from qwcli.inputs import parse_duration
from qwcli.output import Output, cell, items_of, table
from qwcli.registry import command

ALERT_COLUMNS = ("alert_id", "severity", "state", "indicator", "region", "category", "window", "value", "ci95",
                 "started_at", "acked")


@command("alerts list")
def alerts_list(api: Api, args: argparse.Namespace, out: Output) -> None:
    params = {"state": args.state} | ({"region": args.region} if args.region else {})
    alerts = items_of(api.call("alerts", "GET", "/v1/alerts", params=params), "alerts")
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
