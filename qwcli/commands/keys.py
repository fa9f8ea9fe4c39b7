"""``qw keys``: create, list and revoke API keys (intake)."""

from __future__ import annotations

import argparse
from typing import Any

from qwcli.api import Api, CliError
from qwcli.output import Output, items_of, table
from qwcli.registry import command

KEY_COLUMNS = ("key_id", "role", "lab_id", "agency_id", "name", "created_at", "revoked_at", "last_used_at")


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
    # last_used_at: to the minute; "-" means never used since it was recorded (a lab gone silent stands out).
    out.show(keys, lambda: table(keys, KEY_COLUMNS))


@command("keys revoke")
def keys_revoke(api: Api, args: argparse.Namespace, out: Output) -> None:
    api.call("intake", "DELETE", f"/v1/api-keys/{args.key_id}")
    out.show({"revoked": args.key_id}, lambda: f"revoked {args.key_id}")
