"""What ``qw`` reads from the operator: durations and JSON files, refused with a clear ``CliError``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from qwcli.api import CliError


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``7d``, ``1h30m`` → seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise CliError(f"cannot read duration {text!r}: use e.g. 90s, 30m, 2h, 7d", 2)
    return sum(float(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in parts)


def read_json_file(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", 2) from exc
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}", 2) from exc
