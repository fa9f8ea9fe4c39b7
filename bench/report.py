"""The one table ``python -m bench`` prints (measure, value, ceiling, ratio, goal, met?) and its rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Row:
    measure: str
    value: str
    ceiling: str = ""
    ratio: str = ""
    goal: str = ""
    met: str = ""


def _rate(x: float | None, unit: str) -> str:
    return "n/a" if x is None else f"{x:,.0f} {unit}"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 1000:,.0f} ms"


def _yes(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def ratio_row(measure: str, value: float | None, unit: str, ceiling: float | None, ceiling_name: str,
              goal: float) -> tuple[Row, dict[str, Any]]:
    ratio = value / ceiling if value is not None and ceiling else None
    met = None if ratio is None else ratio >= goal
    row = Row(measure, _rate(value, unit), f"{_rate(ceiling, unit)} ({ceiling_name})",
              "n/a" if ratio is None else f"{ratio:.2f}", f"ratio ≥ {goal:.2f}", _yes(met))
    return row, {"measure": measure, "value": value, "ceiling": ceiling, "ratio": ratio, "goal": goal, "met": met}


def build_rows(r: dict[str, Any]) -> tuple[list[Row], list[dict[str, Any]]]:
    rows: list[Row] = []
    verdicts: list[dict[str, Any]] = []
    c = r["ceilings"]
    rows.append(Row("ceiling: raw kafka-python producer (acks=all, lz4)", _rate(c["raw_producer"]["rate"], "msg/s")))
    rows.append(Row("ceiling: bare FastAPI endpoint, same validation",
                    _rate(c["bare_fastapi"]["request_rate"], "req/s")))
    rows.append(Row("ceiling: raw consume + parse (no DB)", _rate(c["raw_consume_parse"]["rate"], "events/s")))
    for row, verdict in (
        ratio_row("intake single event", r["intake_single"]["request_rate"], "req/s",
                  c["bare_fastapi"]["request_rate"], "bare", 0.50),
        ratio_row("intake batch (500 events/request)", r["intake_batch"]["event_rate"], "events/s",
                  c["raw_producer"]["rate"], "producer", 0.60),
        ratio_row("indicator consumer (service process)", r["consumer"]["rate"], "events/s",
                  c["raw_consume_parse"]["rate"], "consume", 0.50),
    ):
        rows.append(row)
        verdicts.append(verdict)
    for run in r["latency"]:
        label = f"accept→visible @{run['target_rate']:,}/s (sent {run['achieved_rate']:,.0f}/s)"
        rows.append(Row(f"{label} p50", _ms(run["p50_s"])))
        rows.append(Row(f"{label} p95", _ms(run["p95_s"])))
        if run["target_rate"] >= 2000:
            ok = run["p99_s"] is not None and run["p99_s"] <= 1.0 and run["events_visible"] == run["events_accepted"]
            rows.append(Row(f"{label} p99", _ms(run["p99_s"]), goal="≤ 1,000 ms", met=_yes(ok)))
            verdicts.append({"measure": f"{label} p99", "value": run["p99_s"], "goal": 1.0, "met": ok})
        else:
            rows.append(Row(f"{label} p99", _ms(run["p99_s"])))
    hooks = r["webhook"]["trials"]
    seconds = sorted(t["seconds"] for t in hooks)
    if seconds:
        rows.append(Row(f"accept→webhook, one breach, for=0 (median of {len(seconds)}; max)",
                        f"{_ms(seconds[len(seconds) // 2])}; {_ms(seconds[-1])}"))
    memory = r["memory"]
    n = memory["events_through_intake"]
    for name, values in memory["memory_mb"].items():
        rss = values.get("VmRSS")
        ok = rss is not None and rss <= 200
        rows.append(Row(f"RSS {name} after {n:,} events (peak {values.get('VmHWM', 0):.0f} MB)",
                        f"{rss:.0f} MB" if rss is not None else "n/a", goal="≤ 200 MB", met=_yes(ok)))
        verdicts.append({"measure": f"RSS {name}", "value": rss, "goal": 200, "met": ok})
    return rows, verdicts


def render(rows: list[Row]) -> str:
    header = Row("measure", "value", "ceiling", "ratio", "goal", "met?")
    table = [header, *rows]
    fields = list(asdict(header))
    widths = {f: max(len(getattr(row, f)) for row in table) for f in fields}
    lines = []
    for i, row in enumerate(table):
        lines.append("| " + " | ".join(getattr(row, f).ljust(widths[f]) for f in fields) + " |")
        if i == 0:
            lines.append("|" + "|".join("-" * (widths[f] + 2) for f in fields) + "|")
    return "\n".join(lines)
