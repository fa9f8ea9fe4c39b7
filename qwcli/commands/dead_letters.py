"""``qw dead-letters``: messages the indicators service could not apply, and their replay."""

from __future__ import annotations

import argparse

from qwcli.api import Api
from qwcli.output import Output, items_of, table
from qwcli.registry import command


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
