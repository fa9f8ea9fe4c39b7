"""What ``qw`` prints: tables for people, JSON for machines, and the helpers that shape answers."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def items_of(body: Any, key: str) -> list[Any]:
    """A list from an answer that is a list, ``{key: [...]}``, or a dict with one list in it."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        if isinstance(body.get(key), list):
            return body[key]
        lists = [v for v in body.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    return []


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cell(v) for v in value) + "]" if value and not isinstance(value[0], str) \
            else ",".join(str(v) for v in value) or "-"
    if isinstance(value, dict) and set(value) == {"op", "value"}:
        return f"{value['op']} {cell(value['value'])}"
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, empty: str = "(none)") -> str:
    if not rows:
        return empty
    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(_width(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(_pad(c.upper(), w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(_pad(v, w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _width(text: str) -> int:
    """Columns a terminal gives the text: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def show(self, body: Any, text: Callable[[], str]) -> None:
        print(json.dumps(body, indent=2, ensure_ascii=False, default=str) if self.as_json else text())


def join_counts(counts: Iterable[tuple[str, Any]]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts) or "none"


def metric_sum(text: str, name: str) -> float | None:
    """Sum of every sample of one metric in Prometheus text, or None when the metric is absent."""
    total, seen = 0.0, False
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
                seen = True
    return total if seen else None
