"""``qw post-event``: post one event or a batch file to intake; ``qw events upload``: a spreadsheet."""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qwcli.api import Api, CliError
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


_UPLOAD_TYPES = {".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".csv": "text/csv"}


@command("events upload")
def upload(api: Api, args: argparse.Namespace, out: Output) -> None:
    """Send a spreadsheet to ``POST /v1/uploads`` with a progress bar on stderr; list every problem if refused."""
    path = Path(args.file)
    content_type = _UPLOAD_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise CliError(f"{path}: an .xlsx or .csv file is expected", 2)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror}", 2) from exc
    progress = Progress(len(data), quiet=getattr(args, "json", False))
    query = f"?type={urllib.parse.quote(args.type)}" if args.type else ""
    response = api.raw("intake", "POST", f"/v1/uploads{query}", content=progress.chunks(data),
                       headers={"Content-Type": content_type, "Content-Length": str(len(data)),
                                "X-File-Name": urllib.parse.quote(path.name)},
                       timeout=max(api.client.timeout.read or 10.0, 600.0))
    progress.done()
    try:
        body = response.json()
    except ValueError:
        raise CliError(f"intake answered {response.status_code}: {response.text[:300]}", 1) from None
    if response.status_code != 202:
        if getattr(args, "json", False):
            out.show(body, str)
        raise CliError(f"{path.name} not accepted ({response.status_code}): {body.get('detail', '')}\n"
                       + "\n".join(_problem_line(p) for p in body.get("errors") or []), 1)
    out.show(body, lambda: f"{path.name}: {body['rows']} rows, accepted {body['accepted']}, "
                           f"duplicates {body['duplicates']} (upload {body['upload_id']})")


def _problem_line(problem: dict[str, Any]) -> str:
    where = f"{problem.get('sheet') or ''}!{problem.get('column') or ''}{problem.get('row') or ''}".strip("!")
    header = f" [{problem['header']}]" if problem.get("header") else ""
    return f"  {where}{header}: {problem.get('message_zh')} / {problem.get('message')}"


class Progress:
    """A text progress bar on stderr while the file's bytes go out, then a note while intake works."""

    WIDTH = 30

    def __init__(self, total: int, *, quiet: bool) -> None:
        self.total = max(total, 1)
        self.quiet = quiet

    def chunks(self, data: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start:start + size]
            self._draw(min(start + size, len(data)))
        if not self.quiet:
            sys.stderr.write("\n正在处理 / processing …")
            sys.stderr.flush()

    def _draw(self, sent: int) -> None:
        if self.quiet:
            return
        filled = self.WIDTH * sent // self.total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {100 * sent // self.total:3d}% "
                         f"{sent / 1e6:.1f}/{self.total / 1e6:.1f} MB")
        sys.stderr.flush()

    def done(self) -> None:
        if not self.quiet:
            sys.stderr.write("\n")
            sys.stderr.flush()
