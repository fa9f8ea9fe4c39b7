"""The lab page in real headless Chromium: a clerk enters the key, uploads a file with two bad cells, sees
both named, fixes them, uploads again and sees it accepted; the English toggle is remembered.

Intake runs in-process under uvicorn (SQLite, the recording publisher: the page is what is tested here).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import uvicorn

from services.intake.app import create_app
from shared.db import migrate
from tests.dashboard.cdp import Browser, Page, find_chromium
from tests.intake.support import ADMIN, NOW, FakePublisher, settings_for
from tests.support import FixedClock, free_port, wait_for
from tests.tooling import missing_tool

pytestmark = [pytest.mark.e2e]
HEADER = ["样品编号", "抽检计划", "产品类别", "地区", "检验结论", "检验完成时间"]


@pytest.fixture
def intake_url(tmp_path: Path, sqlite_url: str) -> Iterator[str]:
    migrate(sqlite_url)
    app = create_app(settings_for(sqlite_url, tmp_path), clock=FixedClock(NOW), publisher=FakePublisher())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20, what="intake under uvicorn")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def page() -> Iterator[Page]:
    executable = find_chromium()
    if executable is None:
        missing_tool("no Chromium found (install the Debian package 'chromium', or set QW_CHROMIUM)")
    browser = Browser(executable, width=1366, height=900)
    try:
        yield browser.new_page()
    finally:
        browser.close()


def workbook(path: Path, rows: list[list[Any]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "检验结果"
    sheet.append(HEADER)
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())
    return path


def choose_file(page: Page, path: Path) -> None:
    root = page.send("DOM.getDocument")["root"]["nodeId"]
    node = page.send("DOM.querySelector", {"nodeId": root, "selector": "#file"})["nodeId"]
    page.send("DOM.setFileInputFiles", {"nodeId": node, "files": [str(path)]})


def test_upload_two_bad_cells_fix_and_upload_again(page: Page, intake_url: str, tmp_path: Path) -> None:
    import httpx

    key = httpx.post(f"{intake_url}/v1/api-keys", json={"role": "lab", "lab_id": "LAB-0001"},
                     headers={"Authorization": f"Bearer {ADMIN}"}).json()["api_key"]
    page.goto(f"{intake_url}/lab?lang=zh-CN")  # headless Chromium asks for English in Accept-Language
    page.wait_for("document.querySelector('h1').textContent === '实验室数据上报'", what="the Chinese page")
    page.evaluate(f"document.querySelector('#key').value = {key!r}")
    page.click("#save-key")
    page.wait_for("sessionStorage.getItem('qw_lab_key') !== null", what="the key kept for the session")

    good = ["S-1", "主要地产农产品质量例行监测", "蔬菜", "昆山市", "合格", "2026-11-20 10:15"]
    bad = workbook(tmp_path / "bad.xlsx", [good, ["S-2", "主要地产农产品质量例行监测", "海鲜", "昆山市", "合格",
                                                  "昨天下午"]])
    choose_file(page, bad)
    page.click("#upload")
    page.wait_for("document.querySelectorAll('#errors tbody tr').length === 2", what="two problems listed")
    rows = page.evaluate("[...document.querySelectorAll('#errors tbody tr')].map(r => [...r.cells].map(c => "
                         "c.textContent))")
    assert [(r[1], r[2], r[3]) for r in rows] == [("3", "C", "产品类别"), ("3", "F", "检验完成时间")]
    assert "海鲜" in rows[0][4] and "可选值" in rows[0][5]
    assert "未接收" in page.evaluate("document.querySelector('#outcome').textContent")

    fixed = workbook(tmp_path / "fixed.xlsx", [good, ["S-2", "主要地产农产品质量例行监测", "水产品", "昆山市",
                                                      "合格", "2026-11-20 14:00"]])
    choose_file(page, fixed)
    page.click("#upload")
    page.wait_for("document.querySelector('#outcome').className === 'ok'", what="the file accepted")
    assert "新增 2 条" in page.evaluate("document.querySelector('#outcome').textContent")
    page.wait_for("document.querySelectorAll('#recent tbody tr').length === 2", what="both uploads listed")

    page.click("#lang")
    page.wait_for("document.querySelector('h1').textContent === 'Lab reporting'", what="the English page")
    assert "qw_lang=en" in page.evaluate("document.cookie")
    assert "2 new" in page.evaluate("document.querySelector('#outcome').textContent")
    # The browser logs the refused upload's 422 as a failed resource; nothing else may go wrong on the page.
    assert [e for e in page.errors() if "status of 422" not in e] == []
    page.goto(f"{intake_url}/lab")  # the choice is remembered (cookie qw_lang)
    page.wait_for("document.querySelector('h1').textContent === 'Lab reporting'", what="English remembered")


def test_qw_events_upload_shows_progress_and_every_problem(intake_url: str, tmp_path: Path, capsys: Any) -> None:
    import httpx

    from qwcli import main

    key = httpx.post(f"{intake_url}/v1/api-keys", json={"role": "lab", "lab_id": "LAB-0001"},
                     headers={"Authorization": f"Bearer {ADMIN}"}).json()["api_key"]
    good = ["S-1", "主要地产农产品质量例行监测", "蔬菜", "昆山市", "合格", "2026-11-20 10:15"]
    bad = workbook(tmp_path / "bad.xlsx", [good, ["S-2", "主要地产农产品质量例行监测", "蔬菜", "鼓楼区", "合格",
                                                  "2026-11-20 10:15"]])
    assert main(["events", "upload", str(bad), f"--intake-url={intake_url}", "--token", key]) == 1
    captured = capsys.readouterr()
    assert "100%" in captured.err and "检验结果!D3 [地区]" in captured.err and "南京市鼓楼区 320106" in captured.err
    fixed = workbook(tmp_path / "fixed.xlsx", [good])
    assert main(["events", "upload", str(fixed), f"--intake-url={intake_url}", "--token", key]) == 0
    assert "1 rows, accepted 1, duplicates 0" in capsys.readouterr().out
