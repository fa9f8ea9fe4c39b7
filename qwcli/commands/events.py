"""``qw post-event``: post one event or a batch file to intake."""

from __future__ import annotations

import argparse

from qwcli.api import Api
from qwcli.inputs import read_json_file
from qwcli.output import Output
from qwcli.registry import command


@command("post-event")
def post_event(api: Api, args: argparse.Namespace, out: Output) -> None:
    payload = read_json_file(args.file)
    if isinstance(payload, list):
        payload = {"events": payload}
    path = "/v1/events/batch" if isinstance(payload, dict) and "events" in payload else "/v1/events"
    body = api.call("intake", "POST", path, json=payload)
    out.show(body, lambda: f"accepted {body.get('accepted')}, duplicates {body.get('duplicates')}: "
             + ", ".join(body.get("event_ids") or []))
