"""The pictures in docs/screenshots/: the dashboard in Chinese and English at 1366 px, and the quality report's PDF
pages, taken from a stack fed with demo history (devtools/demo_data.py through the demo feed).

    .venv/bin/python -m devtools.screenshots [--days 45] [--out docs/screenshots]

Starts its own Kafka broker (free ports) and the three services on one SQLite file under a temporary folder,
backfills ``--days`` of demo history plus a minute of live feed (Xuzhou drifts into breach), waits for the alert,
then drives headless Chromium (tests/dashboard/cdp.py) and prints the PDF with the service itself. Everything it
started is stopped at the end. Checkout-only tooling.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from devtools.demo import DemoFeed
from devtools.launcher import ServiceProcesses
from devtools.localinfra.kafka import LocalKafka
from devtools.ports import free_port_pair
from shared.catalogue import load_catalogue
from shared.db import migrate
from shared.settings import DEFAULT_CATALOGUE
from tests.dashboard.cdp import Browser, find_chromium
from tests.support import free_port, wait_for

CST = dt.timezone(dt.timedelta(hours=8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=45.0, help="days of demo history to backfill")
    parser.add_argument("--live-seconds", type=float, default=60.0, help="seconds of live demo feed")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="qw-screenshots-"))
    kafka_port = free_port_pair()
    broker = LocalKafka(work / "kafka", port=kafka_port, controller_port=kafka_port + 1)
    ports = {name: free_port() for name in ("intake", "indicators", "alerts")}
    stack = ServiceProcesses(
        bootstrap=f"127.0.0.1:{kafka_port}", database_url=f"sqlite:///{work / 'qw.db'}",
        topic_prefix=f"shots{uuid.uuid4().hex[:8]}.", data_dir=work, ports=ports,
        extra_env={"QW_ALERTS_PUBLIC_URL": f"http://127.0.0.1:{ports['alerts']}",
                   "QW_DASHBOARD_ORIGINS": f"http://127.0.0.1:{ports['indicators']}", "QW_ALERT_FOR_SECONDS": "0"})
    try:
        broker.start()
        migrate(stack.database_url)
        stack.start()
        with stack.client("intake") as admin:
            agency_key = admin.post("/v1/api-keys", json={"role": "agency", "agency_id": "agri"}).json()["api_key"]
        feed = DemoFeed(intake_url=stack.url("intake"), token=stack.admin_token, catalogue=load_catalogue(
            DEFAULT_CATALOGUE), rate=20.0, duration=args.live_seconds, backfill_days=args.days, seed=7)
        stats = feed.run()
        print(f"demo feed: {stats}")
        with stack.client("alerts", agency_key) as alerts:
            wait_for(lambda: any(a["region"] == "320300" for a in alerts.get(
                "/v1/alerts", params={"state": "firing"}).json()["alerts"]), timeout=120, what="Xuzhou's alert")
        shoot(stack.url("indicators"), agency_key, args.out)
    finally:
        stack.stop()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


def shoot(base: str, key: str, out: Path) -> None:
    executable = find_chromium()
    if executable is None:
        raise SystemExit("no Chromium found")
    browser = Browser(executable, width=1366, height=900)
    try:
        for lang, name in (("zh-CN", "dashboard-zh.png"), ("en", "dashboard-en.png")):
            page = browser.new_page()
            page.send("Network.setCookie", {"name": "qw_lang", "value": lang, "url": base})
            page.goto(f"{base}/#token={key}&cell=agri_sampling_pass_rate:320300")
            page.wait_for("document.body.dataset.rendered === '1' && document.querySelector('#trend svg .value-line')"
                          " && document.querySelector('#alerts li')", timeout=60, what="the dashboard")
            time.sleep(1)
            page.screenshot(out / name)
            page.click("#scorecard thead th[data-region='320500'] button")
            page.wait_for("document.querySelector('#counties td.cell')", timeout=30, what="Suzhou's counties")
            page.evaluate("document.getElementById('counties').scrollIntoView()")
            if lang == "zh-CN":
                page.screenshot(out / "dashboard-counties-zh.png")
        period = dt.datetime.now(CST).strftime("%Y-%m")
        for lang in ("zh-CN", "en"):
            pdf = httpx.get(f"{base}/v1/reports/quality", params={"period": period, "format": "pdf", "lang": lang},
                            headers={"Authorization": f"Bearer {key}"}, timeout=300)
            pdf.raise_for_status()
            target = out / f"quality-report-{lang}.pdf"
            target.write_bytes(pdf.content)
            for old in out.glob(f"quality-report-{lang}-page-*.png"):
                old.unlink()
            subprocess.run(["pdftoppm", "-r", "70", "-png", str(target), str(out / f"quality-report-{lang}-page")],
                           check=True)
    finally:
        browser.close()


if __name__ == "__main__":
    main()
