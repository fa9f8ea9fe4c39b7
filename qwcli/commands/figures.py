"""``qw indicators list``, ``qw figures show`` and ``qw scorecard``: the indicators service."""

from __future__ import annotations

import argparse
from typing import Any

from qwcli.api import Api
from qwcli.output import Output, cell, items_of, table
from qwcli.registry import command

FIGURE_COLUMNS = ("indicator", "region", "category", "window", "value", "ci95", "numerator", "denominator",
                  "target", "status")


@command("indicators list")
def indicators_list(api: Api, args: argparse.Namespace, out: Output) -> None:
    body = api.call("indicators", "GET", "/v1/indicators")
    rows = items_of(body, "indicators")
    out.show(body, lambda: table(rows, ("indicator", "name_zh", "kind", "target", "windows", "min_sample",
                                        "lead_agency")))


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
