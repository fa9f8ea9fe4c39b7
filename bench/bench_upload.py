"""Spreadsheet upload benchmark (issue 17; not a test): a 50,000-row .xlsx from upload to every event applied
by indicators, intake's peak RSS meanwhile, and the same rows through the batch API in the same run.

    python -m bench.bench_upload [--rows 50000] [--bootstrap HOST:PORT] [--database sqlite|postgresql]

Starts a broker (unless --bootstrap), intake and indicators as processes on one database, and writes
bench/results/upload-<time>.json. Goal: upload → all applied ≤ 10 s; intake peak RSS ≤ 200 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from openpyxl import Workbook

from bench.bench_intake import broker, database
from bench.machine import process_memory_mb
from bench.system import indicators_processed
from devtools.launcher import ServiceProcesses
from shared.db import migrate
from tests.support import free_port

CST = dt.timezone(dt.timedelta(hours=8))
COUNTIES = ("320583", "320106", "320302", "320412", "320115", "320681", "320981", "321084")
HEADER = ["样品编号", "抽检计划", "产品类别", "地区", "检验结论", "检验完成时间"]


def rows(prefix: str, count: int) -> list[list[Any]]:
    when = (dt.datetime.now(CST) - dt.timedelta(hours=1)).replace(tzinfo=None)
    return [[f"{prefix}-{n:06d}", "主要地产农产品质量例行监测", "蔬菜", COUNTIES[n % len(COUNTIES)],
             "不合格" if n % 37 == 0 else "合格", when - dt.timedelta(minutes=n % 600)] for n in range(count)]


def workbook(values: list[list[Any]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("检验结果")
    sheet.append(HEADER)
    for row in values:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def as_events(values: list[list[Any]], lab: str) -> list[dict[str, Any]]:
    verdicts = {"合格": "pass", "不合格": "fail"}
    return [{"event_id": f"batch-{row[0]}", "type": "inspection.completed", "lab_id": lab,
             "occurred_at": row[5].replace(tzinfo=CST).isoformat(),
             "data": {"sample_id": row[0], "programme": "agri-routine-monitoring", "category": "vegetables",
                      "region": row[3], "verdict": verdicts[row[4]]}} for row in values]


def wait_applied(stack: ServiceProcesses, expected: float, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processed, _ = indicators_processed(stack)
        if processed >= expected:
            return time.perf_counter()
        time.sleep(0.05)
    raise RuntimeError(f"indicators did not apply {expected} events within {timeout} s")


def run(count: int, bootstrap: str | None, kind: str) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="qw-bench-upload-"))
    with broker(bootstrap) as servers, database(kind, None, work) as url:
        migrate(url)
        stack = ServiceProcesses(bootstrap=servers, database_url=url, topic_prefix=f"up{uuid.uuid4().hex[:8]}.",
                                 data_dir=work, ports={"intake": free_port(), "indicators": free_port()})
        stack.start("intake", "indicators")
        try:
            with stack.client("intake") as admin:
                key = admin.post("/v1/api-keys", json={"role": "lab", "lab_id": "LAB-0001"}).json()["api_key"]
            values = rows("U", count)
            started = time.perf_counter()
            data = workbook(values)
            build_seconds = time.perf_counter() - started
            intake_pid = stack.processes["intake"].pid
            before = process_memory_mb(intake_pid)
            with httpx.Client(base_url=stack.url("intake"), timeout=600,
                              headers={"Authorization": f"Bearer {key}"}) as client:
                started = time.perf_counter()
                answer = client.post("/v1/uploads", content=data, headers={
                    "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "X-File-Name": "bench.xlsx"})
                accepted_at = time.perf_counter()
                assert answer.status_code == 202, answer.text[:2000]
                applied_at = wait_applied(stack, count)
                after = process_memory_mb(intake_pid)
                upload = {"rows": count, "file_bytes": len(data), "build_xlsx_seconds": round(build_seconds, 2),
                          "to_202_seconds": round(accepted_at - started, 2),
                          "to_all_applied_seconds": round(applied_at - started, 2),
                          "intake_rss_before_mb": round(before.get("VmRSS", 0), 1),
                          "intake_peak_rss_mb": round(after.get("VmHWM", 0), 1), "answer": answer.json()}
                again_started = time.perf_counter()
                again = client.post("/v1/uploads", content=data, headers={
                    "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "X-File-Name": "bench.xlsx"}).json()
                upload["same_file_again"] = {"seconds": round(time.perf_counter() - again_started, 2),
                                             "accepted": again.get("accepted"), "duplicates": again.get("duplicates")}
                events = as_events(rows("B", count), "LAB-0001")
                processed_before, _ = indicators_processed(stack)
                started = time.perf_counter()
                for i in range(0, len(events), 1000):
                    response = client.post("/v1/events/batch", content=orjson.dumps({"events": events[i:i + 1000]}),
                                           headers={"Content-Type": "application/json"})
                    assert response.status_code == 202, response.text[:500]
                accepted_at = time.perf_counter()
                applied_at = wait_applied(stack, processed_before + count)
                batch = {"events": count, "batches_of": 1000, "sequential_posts": True,
                         "to_last_202_seconds": round(accepted_at - started, 2),
                         "to_all_applied_seconds": round(applied_at - started, 2)}
        finally:
            stack.stop()
    return {"when": dt.datetime.now(CST).isoformat(timespec="seconds"), "database": kind, "upload": upload,
            "batch_api": batch, "goal": {"to_all_applied_seconds": 10, "intake_peak_rss_mb": 200}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--bootstrap")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    result = run(args.rows, args.bootstrap, args.database)
    out = Path(__file__).parent / "results" / f"upload-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
