"""Templates a lab fills in: an .xlsx (openpyxl) or a .csv per event type.

The .xlsx has the data sheet (named after the event type: 检验结果 …) with the Chinese header, the field key
beneath it, an example row (its id starts with 示例, so it is skipped if left in), drop-down lists for the
enumerated columns and the region, then a sheet 说明 explaining each column and a sheet 选项 holding the lists.
"""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from services.intake.sheets.columns import COLUMNS, EXAMPLE_IDS, SHEET_NAMES, Column
from services.intake.vocabulary import EVENT_TYPE_NAMES, Choice, choices
from shared.catalogue import Catalogue

_HEADER = PatternFill("solid", fgColor="DDEBF7")
_KEY = Font(color="808080", size=9)
_EXAMPLE = Font(color="808080", italic=True)
_FIRST_DATA_ROW = 4  # header, key, example


def _options(column: Column, catalogue: Catalogue, event_type: str) -> tuple[str, ...]:
    """What a drop-down offers: Chinese names (a cell may hold the code too), regions as ``code name``."""
    if column.kind == "region":
        codes = (catalogue.province_code, *sorted({*catalogue.city_codes, *catalogue.regions.counties}))
        return tuple(f"{code} {_qualified(catalogue, code)}" for code in codes)
    if column.kind == "bool":
        return ("是", "否")
    if column.kind == "enum":
        # every category of every programme is offered; the check names the programme's own if one is wrong
        values: tuple[Choice, ...] = choices(column.key, catalogue, event_type=event_type)
        return tuple(name for _, name in values)
    return ()


def _qualified(catalogue: Catalogue, code: str) -> str:
    if code in catalogue.regions.counties:
        return catalogue.region_name(code[:4] + "00") + catalogue.region_name(code)
    return catalogue.region_name(code)


def _example(column: Column, catalogue: Catalogue, event_type: str) -> str:
    if column.key in EXAMPLE_IDS:
        return EXAMPLE_IDS[column.key]
    if column.kind == "enum":
        values = choices(column.key, catalogue, event_type=event_type,
                         programme=next(iter(catalogue.programmes), None))
        return values[0][1] if values else column.example
    return column.example


def xlsx_template(event_type: str, catalogue: Catalogue) -> bytes:
    columns = COLUMNS[event_type]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET_NAMES[event_type]
    lists = book.create_sheet("选项")
    help_sheet = book.create_sheet("说明", 1)
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        head = sheet.cell(1, index, column.zh)
        head.font, head.fill = Font(bold=True), _HEADER
        sheet.cell(2, index, column.key).font = _KEY
        sheet.cell(3, index, _example(column, catalogue, event_type)).font = _EXAMPLE
        sheet.column_dimensions[letter].width = max(14, len(column.zh) * 2 + 4)
        if column.kind == "datetime":
            sheet.column_dimensions[letter].width = 20
        options = _options(column, catalogue, event_type)
        if options:
            list_letter = get_column_letter(index)
            lists.cell(1, index, column.zh)
            for row, option in enumerate(options, start=2):
                lists.cell(row, index, option)
            check = DataValidation(type="list", formula1=f"=选项!${list_letter}$2:${list_letter}${len(options) + 1}",
                                   allow_blank=True, showErrorMessage=True, errorStyle="warning",
                                   error=f"请从列表中选择{column.zh}，或填写代码", errorTitle=column.zh)
            check.add(f"{letter}{_FIRST_DATA_ROW - 1}:{letter}50003")
            sheet.add_data_validation(check)
    sheet.freeze_panes = "A3"
    lists.sheet_state = "hidden"
    _explain(help_sheet, event_type, columns, catalogue)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _explain(ws: Worksheet, event_type: str, columns: tuple[Column, ...], catalogue: Catalogue) -> None:
    rows: list[tuple[str, ...]] = [
        (f"{EVENT_TYPE_NAMES[event_type]}（{event_type}）上报模板", "", "", "", "", ""),
        ("每行一条记录。第1行为中文列名，第2行为字段代码，第3行为示例（以“示例”开头的行不会上传，可删除）。",
         "", "", "", "", ""),
        ("整个文件要么全部接收，要么全部不接收：任何一处错误都会列出所在的行和列，改正后重新上传即可；"
         "同一文件重复上传不会重复计数。", "", "", "", "", ""),
        ("One record per row. Row 1: Chinese headers; row 2: field keys; row 3: an example (rows starting with "
         "示例 are skipped). All or nothing per file; uploading the same file again counts nothing twice.",
         "", "", "", "", ""),
        (f"地区代码：{catalogue.regions.county_source or 'GB/T 2260'}", "", "", "", "", ""),
        ("", "", "", "", "", ""),
        ("列", "中文列名", "字段 field", "必填 required", "说明", "Explanation"),
    ]
    for index, column in enumerate(columns, start=1):
        rows.append((get_column_letter(index), column.zh, column.key, "是 yes" if column.required else "否 no",
                     column.help_zh, column.help_en))
    for values in rows:
        ws.append(values)
    for letter, width in zip("ABCDEF", (6, 16, 18, 12, 60, 70), strict=True):
        ws.column_dimensions[letter].width = width
    for cell in ws[7]:
        cell.font = Font(bold=True)
    for cells in ws.iter_rows(min_row=8):
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def csv_template(event_type: str, catalogue: Catalogue) -> bytes:
    """UTF-8 with a BOM (so Excel opens the Chinese headers correctly): header, keys, example row."""
    columns = COLUMNS[event_type]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.zh for c in columns])
    writer.writerow([c.key for c in columns])
    writer.writerow([_example(c, catalogue, event_type) for c in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
