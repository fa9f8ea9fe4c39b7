"""Spreadsheet uploads (issue 17): the bad-file corpus and the good paths.

Each refused file asserts the status, the cells named, and that nothing was counted (nothing published,
nothing in the ledger). Intake runs over SQLite with the recording publisher (the Kafka path is the batch
API's own, exercised against a real broker in test_uploads_kafka.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import orjson
import pytest
from fastapi.testclient import TestClient

from tests.intake.support import ADMIN, FakePublisher, auth

HEADER = ["样品编号", "抽检计划", "产品类别", "地区", "检验结论", "检验完成时间", "修订号", "实验室编号"]
KEYS = ["sample_id", "programme", "category", "region", "verdict", "occurred_at", "revision", "lab_id"]


def row(sample: str = "S-1", **changes: Any) -> list[Any]:
    values = {"sample_id": sample, "programme": "主要地产农产品质量例行监测", "category": "蔬菜", "region": "昆山市",
              "verdict": "合格", "occurred_at": "2026-11-20 10:15", "revision": None, "lab_id": None}
    values.update(changes)
    return [values[k] for k in KEYS]


def xlsx(rows: list[list[Any]], *, header: list[str] | None = None, sheet: str = "检验结果",
         edit: Callable[[Any], None] | None = None) -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(header or HEADER)
    ws.append(KEYS if header is None else [])
    for values in rows:
        ws.append(values)
    if edit:
        edit(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for values in rows:
        writer.writerow(["" if v is None else v for v in values])
    return out.getvalue().encode(encoding)


class Lab:
    def __init__(self, client: TestClient, publisher: FakePublisher) -> None:
        self.client = client
        self.publisher = publisher
        self.key = client.post("/v1/api-keys", json={"role": "lab", "lab_id": "LAB-0001"},
                               headers=auth(ADMIN)).json()["api_key"]

    def upload(self, data: bytes, name: str = "检验结果.xlsx", *, key: str | None = None,
               query: str = "") -> tuple[int, dict[str, Any]]:
        answer = self.client.post(f"/v1/uploads{query}", files={"file": (name, data, "application/octet-stream")},
                                  headers=auth(key or self.key))
        return answer.status_code, answer.json()

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(message.value) for _, message in self.publisher.published]


@pytest.fixture
def lab(client: TestClient, publisher: FakePublisher) -> Lab:
    return Lab(client, publisher)


def cells(body: dict[str, Any]) -> set[str]:
    return {f"{e['column'] or ''}{e['row'] or ''}" for e in body["errors"]}


def refused(lab: Lab, data: bytes, status: int, name: str = "检验结果.xlsx", **kwargs: Any) -> dict[str, Any]:
    before = len(lab.publisher.published)
    code, body = lab.upload(data, name, **kwargs)
    assert code == status, body
    assert body["outcome"] == "rejected" and "nothing was accepted" in body["detail"]
    assert "未被接收" in body["detail_zh"]
    assert len(lab.publisher.published) == before  # nothing counted
    return body


# ---- the bad-file corpus --------------------------------------------------------------------------------
def test_corrupt_zip(lab: Lab) -> None:
    body = refused(lab, b"PK\x03\x04" + b"\x00garbage" * 100, 422)
    assert "damaged" in body["detail"]


def test_zip_bomb_is_413_before_unpacking(lab: Lab) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            block = b"0" * (1 << 20)
            for _ in range(161):
                part.write(block)
    assert len(out.getvalue()) < 1 << 20
    body = refused(lab, out.getvalue(), 413)
    assert "unpacks to" in body["detail"]


def test_wrong_sheet(lab: Lab) -> None:
    def two_sheets(book: Any) -> None:
        book.create_sheet("Sheet2").append(["x"])
    body = refused(lab, xlsx([row()], sheet="Sheet1", edit=two_sheets), 422)
    assert "which sheet" in body["detail"] and "检验结果" in body["detail"]


def test_missing_column(lab: Lab) -> None:
    header = [h for h in HEADER if h != "检验结论"]
    body = refused(lab, xlsx([row()[:4] + row()[5:]], header=header), 422)
    assert body["errors"][0]["field"] == "verdict" and body["errors"][0]["row"] == 1
    assert "缺少“检验结论”列" in body["errors"][0]["message_zh"]


def test_extra_column(lab: Lab) -> None:
    body = refused(lab, xlsx([row() + ["备注"]], header=HEADER + ["备注"]), 422)
    assert cells(body) == {"I1"} and "不认识的列" in body["errors"][0]["message_zh"]


def test_formula_without_cached_value(lab: Lab) -> None:
    body = refused(lab, xlsx([row(), row("S-2", revision="=1+1")]), 422)
    assert cells(body) == {"G4"} and "公式" in body["errors"][0]["message_zh"]


def test_text_in_a_number_cell(lab: Lab) -> None:
    body = refused(lab, xlsx([row(revision="一")]), 422)
    assert cells(body) == {"G3"} and body["errors"][0]["value"] == "一"


def test_two_bad_cells_are_both_named(lab: Lab) -> None:
    body = refused(lab, xlsx([row(), row("S-2", verdict="合 格"), row("S-3", occurred_at="昨天")]), 422)
    assert cells(body) == {"E4", "F5"}
    assert body["error_count"] == 2


def test_unknown_county_name(lab: Lab) -> None:
    body = refused(lab, xlsx([row(region="火星县")]), 422)
    assert cells(body) == {"D3"} and "火星县" in body["errors"][0]["message_zh"]


def test_ambiguous_county_name(lab: Lab) -> None:
    body = refused(lab, xlsx([row(region="鼓楼区")]), 422)
    message = body["errors"][0]["message"]
    assert "南京市鼓楼区 320106" in message and "徐州市鼓楼区 320302" in message


def test_a_county_code_that_does_not_exist(lab: Lab) -> None:
    body = refused(lab, xlsx([row(region=320599)]), 422)
    assert cells(body) == {"D3"} and "320599" in body["errors"][0]["message"]


def test_another_labs_id(lab: Lab) -> None:
    body = refused(lab, xlsx([row(), row("S-2", lab_id="LAB-0002")]), 403)
    assert cells(body) == {"H4"} and "LAB-0002" in body["errors"][0]["message"]


def test_duplicated_rows_inside_one_file(lab: Lab) -> None:
    body = refused(lab, xlsx([row(), row("S-2"), row()]), 422)
    assert cells(body) == {"A5"} and "第5行与第3行重复" in body["errors"][0]["message_zh"]


def test_same_sample_twice_with_different_values_inside_one_file(lab: Lab) -> None:
    body = refused(lab, xlsx([row(), row(verdict="不合格")]), 422)
    assert cells(body) == {"A4"} and "revision" in body["errors"][0]["message"]


def test_a_changed_row_after_an_accepted_upload_is_a_conflict(lab: Lab) -> None:
    assert lab.upload(xlsx([row(), row("S-2")]))[0] == 202
    body = refused(lab, xlsx([row(), row("S-2", verdict="不合格")]), 409)
    assert cells(body) == {"A4"} and "修订号" in body["errors"][0]["message_zh"]


def test_the_same_file_twice_counts_nothing_twice(lab: Lab) -> None:
    data = xlsx([row(), row("S-2"), row("S-3")])
    first = lab.upload(data)
    assert first[0] == 202 and first[1]["accepted"] == 3
    count = len(lab.publisher.published)
    code, body = lab.upload(data)
    assert code == 202 and body["accepted"] == 0 and body["duplicates"] == 3 and body["rows"] == 3
    assert len(lab.publisher.published) == count == 3


def test_a_correction_with_a_higher_revision_is_accepted(lab: Lab) -> None:
    assert lab.upload(xlsx([row()]))[0] == 202
    code, body = lab.upload(xlsx([row(verdict="不合格", revision=2)]))
    assert code == 202 and body["accepted"] == 1
    assert lab.events()[-1]["data"]["revision"] == 2


def test_an_empty_file(lab: Lab) -> None:
    refused(lab, b"", 422)


def test_a_header_without_rows(lab: Lab) -> None:
    body = refused(lab, xlsx([]), 422)
    assert "no data rows" in body["detail"]


def test_50001_rows_is_too_many(lab: Lab) -> None:
    rows = [row(f"S-{i}") for i in range(50_001)]
    body = refused(lab, csv_bytes(rows), 413, name="检验结果.csv")
    assert "50000" in body["detail"]


def test_old_xls_is_refused_with_what_to_do(lab: Lab) -> None:
    body = refused(lab, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, 415, name="检验结果.xls")
    assert ".xlsx" in body["detail_zh"]


def test_merged_cells_in_the_data(lab: Lab) -> None:
    body = refused(lab, xlsx([row(), row("S-2")], edit=lambda b: b.active.merge_cells("C3:C4")), 422)
    assert "C3:C4" in body["detail"]


def test_a_hidden_row(lab: Lab) -> None:
    def hide(book: Any) -> None:
        book.active.row_dimensions[4].hidden = True
    body = refused(lab, xlsx([row(), row("S-2")], edit=hide), 422)
    assert cells(body) == {"4"} and "隐藏" in body["detail_zh"]


def test_a_chinese_name_that_is_no_category_lists_them(lab: Lab) -> None:
    body = refused(lab, xlsx([row(category="海鲜")]), 422)
    assert cells(body) == {"C3"} and "aquatic (水产品)" in body["errors"][0]["message"]


def test_a_category_of_another_programme(lab: Lab) -> None:
    body = refused(lab, xlsx([row(category="textiles")]), 422)
    assert cells(body) == {"C3"} and "vegetables (蔬菜)" in body["errors"][0]["message_zh"]


def test_a_date_in_the_future(lab: Lab) -> None:
    body = refused(lab, xlsx([row(occurred_at="2027-01-01 08:00")]), 422)
    assert cells(body) == {"F3"} and body["errors"][0]["field"] == "occurred_at"


def test_a_csv_that_is_not_text(lab: Lab) -> None:
    refused(lab, "样品编号\n".encode("utf-16"), 422, name="检验结果.csv")


def test_an_agency_key_may_not_upload(lab: Lab) -> None:
    key = lab.client.post("/v1/api-keys", json={"role": "agency", "agency_id": "agri"}, headers=auth(ADMIN))
    body = refused(lab, xlsx([row()]), 403, key=key.json()["api_key"])
    assert "agency" in body["detail"]


def test_an_operator_upload_must_name_the_lab(lab: Lab) -> None:
    header = HEADER[:-1]
    body = refused(lab, xlsx([row()[:-1]], header=header), 422, key=ADMIN)
    assert body["errors"][0]["field"] == "lab_id"


# ---- what is read right -----------------------------------------------------------------------------------
def test_excel_serial_and_date_cells_and_text_dates_are_china_time(lab: Lab) -> None:
    serial = (dt.datetime(2026, 11, 20, 10, 15) - dt.datetime(1899, 12, 30)) / dt.timedelta(days=1)
    rows = [row("S-1", occurred_at=serial), row("S-2", occurred_at=dt.datetime(2026, 11, 20, 10, 15)),
            row("S-3", occurred_at="2026/11/20"), row("S-4", occurred_at="2026-11-20T10:15:00+00:00")]
    code, body = lab.upload(xlsx(rows))
    assert code == 202, body
    when = {e["data"]["sample_id"]: dt.datetime.fromisoformat(e["occurred_at"]) for e in lab.events()}
    cst = dt.timezone(dt.timedelta(hours=8))
    assert when["S-1"] == when["S-2"] == dt.datetime(2026, 11, 20, 10, 15, tzinfo=cst)
    assert when["S-3"] == dt.datetime(2026, 11, 20, tzinfo=cst)
    assert when["S-4"] == dt.datetime(2026, 11, 20, 18, 15, tzinfo=cst)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_the_encodings_excel_writes(lab: Lab, encoding: str) -> None:
    code, body = lab.upload(csv_bytes([row(), row("S-2", region="南京市鼓楼区")], encoding), "检验结果.csv")
    assert code == 202, body
    assert [e["data"]["region"] for e in lab.events()] == ["320583", "320106"]
    assert {e["data"]["category"] for e in lab.events()} == {"vegetables"}


def test_names_codes_and_blank_trailing_rows(lab: Lab) -> None:
    rows = [row(), row("S-2", programme="agri-routine-monitoring", category="fruit", region=320583,
                       verdict="fail", revision=1), [None] * 8, [None] * 8]
    code, body = lab.upload(xlsx(rows))
    assert code == 202 and body["rows"] == 2 and body["accepted"] == 2
    first, second = lab.events()
    assert first["lab_id"] == "LAB-0001" and first["data"]["verdict"] == "pass"
    assert second["data"] == {"sample_id": "S-2", "programme": "agri-routine-monitoring", "category": "fruit",
                              "region": "320583", "verdict": "fail", "revision": 1}
    assert first["event_id"].startswith("upl-") and first["event_id"] != second["event_id"]


def test_the_template_filled_in_is_accepted_and_recorded(lab: Lab) -> None:
    template = lab.client.get("/v1/templates/inspection.completed.xlsx", headers=auth(lab.key))
    assert template.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(template.content))
    assert book.sheetnames == ["检验结果", "说明", "选项"]
    sheet = book["检验结果"]
    assert [c.value for c in sheet[1]] == HEADER and [c.value for c in sheet[2]] == KEYS
    assert sheet["A3"].value.startswith("示例")
    assert {str(dv.sqref)[0] for dv in sheet.data_validations.dataValidation} >= {"B", "C", "D", "E"}
    assert "320583 苏州市昆山市" in [c.value for c in book["选项"]["D"]]
    sheet.append(row("S-9", region="320583 苏州市昆山市"))
    out = io.BytesIO()
    book.save(out)
    code, body = lab.upload(out.getvalue(), "my results.xlsx")
    assert code == 202 and body["rows"] == 1 and body["accepted"] == 1  # the example row is skipped
    listed = lab.client.get("/v1/uploads", headers=auth(lab.key)).json()
    assert listed[0]["file_name"] == "my results.xlsx" and listed[0]["accepted"] == 1
    assert listed[0]["received_at"].endswith("+08:00") and len(listed[0]["sha256"]) == 64
    other = lab.client.post("/v1/api-keys", json={"role": "lab", "lab_id": "LAB-0002"}, headers=auth(ADMIN))
    assert lab.client.get("/v1/uploads", headers=auth(other.json()["api_key"])).json() == []
    assert len(lab.client.get("/v1/uploads", headers=auth(ADMIN)).json()) == 1


def test_raw_body_upload_and_csv_template(lab: Lab) -> None:
    template = lab.client.get("/v1/templates/acceptance.completed.csv", headers=auth(lab.key))
    assert template.content.startswith("\ufeff工程项目编号".encode())
    text = template.content.decode("utf-8-sig") + "P-1,大型,320583,是,2026-11-20 10:15,,\r\n"
    answer = lab.client.post("/v1/uploads", content=text.encode("gbk"),
                             headers={**auth(lab.key), "Content-Type": "text/csv", "X-File-Name": "a.csv"})
    assert answer.status_code == 202, answer.text
    assert lab.events()[0]["data"] == {"project_id": "P-1", "size": "large", "region": "320583",
                                       "first_time_pass": True, "revision": 1}


def test_templates_for_every_type_and_unknown_ones(lab: Lab) -> None:
    for event_type in ("sample.collected", "inspection.completed", "acceptance.completed", "figure.reported",
                       "survey.scored", "milestone.reported"):
        assert lab.client.get(f"/v1/templates/{event_type}.xlsx", headers=auth(lab.key)).status_code == 200
    assert lab.client.get("/v1/templates/nothing.xlsx", headers=auth(lab.key)).status_code == 404
    assert lab.client.get("/v1/templates/inspection.completed.xlsx").status_code == 401


def test_the_lab_page_is_chinese_first(lab: Lab) -> None:
    page = lab.client.get("/lab")
    assert page.status_code == 200 and '"locale":"zh-CN"' in page.text and "实验室数据上报" in page.text
    assert '"locale":"en"' in lab.client.get("/lab", cookies={"qw_lang": "en"}).text


def test_a_file_libreoffice_calc_saved_from_the_template_is_accepted_whole(lab: Lab) -> None:
    """The template filled in LibreOffice Calc 7.4 (tests/intake/data/libreoffice_fill.py): a drop-down pick
    ``320583 苏州市昆山市``, a county by name, a code Calc stored as a number, dates Calc turned into serial
    numbers in General-format cells, and one left as text ``2026/11/2``."""
    data = (Path(__file__).parent / "data" / "libreoffice-7.4-three-rows.xlsx").read_bytes()
    status, body = lab.upload(data, "检验结果.xlsx")
    assert status == 202, body
    assert (body["rows"], body["accepted"], body["duplicates"]) == (3, 3, 0)
    got = [(e["data"]["sample_id"], e["data"]["region"], e["data"]["verdict"], e["occurred_at"], e["lab_id"])
           for e in lab.events()]
    assert got == [("KS-LO-001", "320583", "pass", "2026-11-20T10:15:00+08:00", "LAB-0001"),
                   ("KS-LO-002", "320583", "fail", "2026-11-20T10:40:00+08:00", "LAB-0001"),
                   ("KS-LO-003", "320583", "pass", "2026-11-02T00:00:00+08:00", "LAB-0001")]


def test_a_time_in_the_future_is_named_with_the_time_read_from_the_cell(lab: Lab) -> None:
    status, body = lab.upload(xlsx([row("S-1"), row("S-2", occurred_at="2026-12-20 10:15")]))
    assert status == 422
    (problem,) = body["errors"]
    assert (problem["row"], problem["column"], problem["field"]) == (4, "F", "occurred_at")
    assert problem["value"] == "2026-12-20T10:15:00+08:00" and "future" in problem["message"]
    assert problem["message_zh"] == "时间在未来：晚于当前时间 5 分钟以上，请检查日期和时间"  # no English quoted
    assert lab.events() == []


def test_formulas_libreoffice_saved_with_their_values_are_read_by_value_never_evaluated(lab: Lab) -> None:
    """A sample id built by ``="KS-LO-"&TEXT(ROW()-3;"000")`` and a revision ``=1+1``, as Calc saves them (the
    formula and its calculated value): the value is used (issue 17 item 4)."""
    data = (Path(__file__).parent / "data" / "libreoffice-7.4-formulas.xlsx").read_bytes()
    status, body = lab.upload(data, "检验结果.xlsx")
    assert status == 202, body
    (event,) = lab.events()
    assert (event["data"]["sample_id"], event["data"]["revision"]) == ("KS-LO-001", 2)
