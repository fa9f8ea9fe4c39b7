"""``qw plan``: check a catalogue file locally, show the running service's indicators and targets."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from qwcli.api import Api
from qwcli.output import Output, items_of, table
from qwcli.registry import command


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
    warnings = plan_warnings(cat.plan.start, cat.plan.deadline, cat.plan.illustrative, dt.datetime.now(cat.tz).date())
    summary = {"ok": True, "file": args.file, "plan": cat.plan.id, "catalogue_version": cat.catalogue_version,
               "start": cat.plan.start.isoformat(), "deadline": cat.plan.deadline.isoformat(), "warnings": warnings,
               "indicators": len(cat.indicators), "targets": rows, "agencies": len(cat.agency_ids()),
               "programmes": sorted(cat.programmes), "regions": 1 + len(cat.regions.cities)}

    def text() -> str:
        notes = "".join(f"warning: {w}\n" for w in warnings)
        head = (f"ok: {args.file} — plan {cat.plan.id} ({cat.plan.title}), catalogue_version {cat.catalogue_version}, "
                f"{cat.plan.start} → {cat.plan.deadline}\n"
                f"indicators: {len(cat.indicators)}  agencies: {len(cat.agencies)} "
                f"(+{len(cat.city_codes)} city governments)  programmes: {', '.join(sorted(cat.programmes))}  "
                f"regions: {cat.province_code} and {len(cat.city_codes)} cities\n") + notes + "\n"
        return head + table(rows, ("indicator", "kind", "target", "windows", "min_sample", "lead_agency"))
    out.show(summary, text)
    return 0


def plan_warnings(start: dt.date, deadline: dt.date, illustrative: bool, today: dt.date) -> list[str]:
    """What an operator should know about a valid catalogue: a plan period that is over, or not yet begun, and
    targets that are only illustrative."""
    out = []
    if today > deadline:
        out.append(f"the plan period ended on {deadline} ({(today - deadline).days} days ago): milestones are judged "
                   "finally at the deadline (achieved or missed) and figures are judged against targets of a plan "
                   "no longer in force; load the catalogue of the plan in force (QW_CATALOGUE_PATH)")
    elif today < start:
        out.append(f"the plan period begins on {start}: until then milestones count nothing")
    if illustrative:
        out.append("this catalogue's targets are marked illustrative (an example, not a plan in force)")
    return out


@command("plan show")
def plan_show(api: Api, args: argparse.Namespace, out: Output) -> None:
    indicators = items_of(api.call("indicators", "GET", "/v1/indicators"), "indicators")
    rows = [{**i, "indicator": i.get("id", i.get("indicator"))} for i in indicators if isinstance(i, dict)]
    out.show(indicators, lambda: table(rows, ("indicator", "kind", "target", "windows", "lead_agency")))
