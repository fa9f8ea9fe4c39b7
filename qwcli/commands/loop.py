"""``qw alerts rectify`` / ``qw alerts timeline``: the rectification loop of an alert (issue 19)."""

from __future__ import annotations

import argparse
import json

from qwcli.api import Api
from qwcli.output import Output, table
from qwcli.registry import command


@command("alerts rectify")
def alerts_rectify(api: Api, args: argparse.Namespace, out: Output) -> None:
    body = {"unit": args.unit, "deadline": args.deadline, "comment": args.comment or ""}
    answer = api.call("alerts", "POST", f"/v1/alerts/{args.alert_id}/rectification", json=body)
    plan = (answer.get("rectification") or {}).get("plan") or {}
    out.show(answer, lambda: f"rectification plan set on {args.alert_id}: {plan.get('unit')} by {plan.get('deadline')}")


@command("alerts timeline")
def alerts_timeline(api: Api, args: argparse.Namespace, out: Output) -> None:
    answer = api.call("alerts", "GET", f"/v1/alerts/{args.alert_id}/timeline")
    rows = [{"at": e["at"], "kind": e["kind"], "actor": e.get("actor") or "",
             "detail": json.dumps(e.get("detail") or {}, ensure_ascii=False)[:100]} for e in answer["entries"]]
    stage = (answer.get("rectification") or {}).get("stage") or "-"
    out.show(answer, lambda: f"stage: {stage}\n" + table(rows, ("at", "kind", "actor", "detail")))
