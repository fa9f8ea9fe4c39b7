"""Reading an uploaded .xlsx or .csv into plain rows, refusing what cannot be read safely.

An .xlsx is a zip: its declared uncompressed size and its sheet's cell count are capped before anything is
decompressed in bulk (a zip bomb gets a 413, not an out-of-memory). Formulas are never evaluated: the value
Excel cached is used, and a formula without one is an error in its cell. Merged cells and hidden rows or
columns in the data are refused with their places named. CSV may be UTF-8 (with or without BOM) or
GBK/GB18030, as Excel in Chinese locales writes it.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

import python_calamine

from services.intake.sheets.columns import SHEET_NAMES, event_type_for_sheet

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
_SMALL_PART = 4 * 1024 * 1024  # workbook.xml and its relationships: read whole, they are small


@dataclass(frozen=True, slots=True)
class ReadLimits:
    max_rows: int = 50_000  # data rows, after the header
    max_cells: int = 2_000_000  # rows × columns of the sheet as declared
    max_uncompressed: int = 160 * 1024 * 1024  # all the zip's parts together, as declared


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem, located as a person finds it: sheet, row number and column letter as Excel shows them."""

    message: str
    message_zh: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    field: str | None = None
    header: str | None = None
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "field": self.field,
                "header": self.header, "value": self.value, "message": self.message, "message_zh": self.message_zh}


class FileRefused(Exception):
    """The file as a whole cannot be used; ``status`` is the HTTP answer (400, 413, 415, 422)."""

    def __init__(self, status: int, message: str, message_zh: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.message_zh = message_zh
        self.problems = problems or []


@dataclass(slots=True)
class Table:
    """One sheet's cells: ``rows`` are (row number as shown, values); a value is str, int, float, bool,
    datetime/date or None (empty)."""

    sheet: str
    event_type: str | None
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)
    formula_without_value: set[tuple[int, int]] = field(default_factory=set)  # (row, column index)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def read_upload(data: bytes, filename: str, content_type: str, limits: ReadLimits) -> Table:
    if not data:
        raise FileRefused(422, "the file is empty", "文件是空的")
    name = filename.lower()
    if data[:4] == b"PK\x03\x04" or name.endswith(".xlsx"):
        return read_xlsx(data, limits)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or name.endswith(".xls"):
        raise FileRefused(415, "old .xls files are not read: save the file as .xlsx (Excel Workbook) or .csv",
                          "不支持旧版 .xls 文件：请另存为 .xlsx（Excel 工作簿）或 .csv")
    if name.endswith(".csv") or content_type.split(";")[0].strip().lower() in ("text/csv", "text/plain"):
        return read_csv(data, filename, limits)
    raise FileRefused(415, "send an .xlsx or .csv file", "请上传 .xlsx 或 .csv 文件")


# ---- CSV ------------------------------------------------------------------------------------------------
def decode_csv(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "gb18030"  # a superset of GBK: what Excel in Chinese locales writes
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileRefused(422, f"the CSV file is neither UTF-8 nor GBK/GB18030 text (byte {exc.start})",
                          f"CSV 文件既不是 UTF-8 也不是 GBK/GB18030 编码（第 {exc.start} 字节）") from None


def read_csv(data: bytes, filename: str, limits: ReadLimits) -> Table:
    text = decode_csv(data)
    if "\x00" in text:
        raise FileRefused(422, "this is not a CSV text file", "这不是 CSV 文本文件")
    stem = re.sub(r"\.csv$", "", filename.rsplit("/", 1)[-1], flags=re.IGNORECASE)
    table = Table(sheet=stem or "csv", event_type=event_type_for_sheet(stem))
    try:
        for number, values in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            _add_row(table, number, [v if v.strip() else None for v in values], limits)
    except csv.Error as exc:
        raise FileRefused(422, f"the CSV file cannot be read: {exc}", f"CSV 文件无法读取：{exc}") from None
    return table


def _add_row(table: Table, number: int, values: list[Any], limits: ReadLimits) -> None:
    empty = values.count(None)
    if empty == len(values) or (empty >= len(values) - 2 and all(
            v is None or (isinstance(v, str) and not v.strip()) for v in values)):
        return  # blank rows (trailing or between) are skipped
    if len(table.rows) > limits.max_rows:  # the header plus max_rows data rows are allowed
        raise FileRefused(413, f"the file has more than {limits.max_rows} rows; split it into several files",
                          f"文件超过 {limits.max_rows} 行，请拆分为多个文件")
    table.rows.append((number, values))


# ---- XLSX -----------------------------------------------------------------------------------------------
def read_xlsx(data: bytes, limits: ReadLimits) -> Table:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise FileRefused(422, "the .xlsx file is damaged (not a readable zip archive); save it again from Excel",
                          ".xlsx 文件已损坏（不是可读的压缩包），请在 Excel 中重新保存") from None
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_uncompressed or len(infos) > 10_000:
        raise FileRefused(413, f"the .xlsx file unpacks to {declared} bytes, more than the limit of "
                               f"{limits.max_uncompressed}", f"该 .xlsx 文件解压后为 {declared} 字节，超过上限")
    with archive:
        sheet_paths = _sheet_paths(archive)
        try:
            book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        except Exception as exc:  # calamine raises its own error types for every kind of damage
            raise FileRefused(422, f"the .xlsx file cannot be read ({type(exc).__name__}); save it again from Excel",
                              ".xlsx 文件无法读取，请在 Excel 中重新保存") from None
        name = _data_sheet(book)
        sheet = book.get_sheet_by_name(name)
        if sheet.total_height * max(sheet.total_width, 1) > limits.max_cells:
            raise FileRefused(413, f"sheet {name!r} has {sheet.total_height} rows × {sheet.total_width} columns, more "
                                   f"than {limits.max_cells} cells", f"工作表“{name}”单元格过多，请拆分文件")
        table = Table(sheet=name, event_type=event_type_for_sheet(name))
        merged = [r for r in (sheet.merged_cell_ranges or []) if r[1][0] > 1]  # ((r0, c0), (r1, c1)), 0-based
        if merged:
            shown = ", ".join(f"{column_letter(a[1])}{a[0] + 1}:{column_letter(b[1])}{b[0] + 1}"
                              for a, b in merged[:20])
            raise FileRefused(422, f"sheet {name!r} has merged cells in its data ({shown}): unmerge them and fill "
                                   "every row", f"工作表“{name}”的数据区有合并单元格（{shown}）：请取消合并并逐行填写",
                              [Problem(f"merged cells {shown}", f"合并单元格 {shown}", sheet=name)])
        first_row = sheet.start[0] if sheet.start else 0
        first_col = sheet.start[1] if sheet.start else 0
        for offset, values in enumerate(sheet.iter_rows()):
            row = [None] * first_col + [None if v == "" else v for v in values]
            _add_row(table, first_row + offset + 1, row, limits)
        path = sheet_paths.get(name)
        if path:
            _scan_sheet_xml(archive, path, table)
        return table


def _data_sheet(book: Any) -> str:
    """The one visible sheet named after an event type (检验结果 or inspection.completed), or the only visible
    sheet that is not the template's explanation sheet."""
    visible = [m.name for m in book.sheets_metadata if str(m.visible).endswith("Visible")]
    typed = [name for name in visible if event_type_for_sheet(name)]
    if len(typed) == 1:
        return typed[0]
    others = [name for name in visible if name not in ("说明", "选项")]
    if not typed and len(others) == 1:
        return others[0]
    expected = "、".join(SHEET_NAMES.values())
    shown = "、".join(visible) or "none"
    why = "several sheets are named after event types" if typed else "no sheet is named after an event type"
    raise FileRefused(422, f"cannot tell which sheet holds the data: {why} (sheets: {shown}); keep one sheet named "
                           f"one of {expected}", f"无法确定数据所在的工作表（现有：{shown}）；请保留一个名为"
                           f"{expected}之一的工作表")


def _sheet_paths(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → its part in the zip, from workbook.xml and its relationships."""
    try:
        book = ElementTree.fromstring(_small(archive, "xl/workbook.xml"))
        rels = ElementTree.fromstring(_small(archive, "xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return {}
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels.findall("p:Relationship", _NS)}
    paths = {}
    for sheet in book.iterfind("m:sheets/m:sheet", _NS):
        target = targets.get(sheet.get(f"{{{_NS['r']}}}id"), "")
        if target:
            paths[sheet.get("name", "")] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return paths


def _small(archive: zipfile.ZipFile, name: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > _SMALL_PART:
        raise KeyError(name)
    return archive.read(name)


# What makes a sheet worth parsing for formulas or hidden rows (a false alarm only costs the parse).
_MARKERS = (b"<f>", b"<f ", b":f>", b":f ", b'hidden="1"', b'hidden="true"')


def _scan_sheet_xml(archive: zipfile.ZipFile, path: str, table: Table) -> None:
    """Formulas without a cached value, and hidden rows or columns holding data: looked for in the sheet's XML
    only if its bytes mention them at all (a plain data sheet is only scanned, never parsed twice)."""
    try:
        with archive.open(path) as part:
            if not _mentions(part):
                return
        with archive.open(path) as part:
            _parse_markers(part, table)
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        raise FileRefused(422, "the .xlsx file is damaged (its sheet cannot be read)", ".xlsx 文件已损坏") from None


def _mentions(part: Any) -> bool:
    tail = b""
    while chunk := part.read(1 << 20):
        window = tail + chunk
        if any(marker in window for marker in _MARKERS):
            return True
        tail = chunk[-32:]
    return False


def _parse_markers(part: Any, table: Table) -> None:
    main = f"{{{_NS['m']}}}"
    hidden_rows: list[int] = []
    hidden_cols: list[tuple[int, int]] = []
    for _, element in ElementTree.iterparse(part):
        tag = element.tag
        if tag == f"{main}c":
            formula = element.find(f"{main}f")
            if formula is not None:
                value = element.find(f"{main}v")
                if value is None or not (value.text or "").strip():
                    table.formula_without_value.add(_cell_index(element.get("r", "")))
            element.clear()
        elif tag == f"{main}row":
            if element.get("hidden") in ("1", "true"):
                hidden_rows.append(int(element.get("r", "0")))
            element.clear()
        elif tag == f"{main}col" and element.get("hidden") in ("1", "true"):
            hidden_cols.append((int(element.get("min", "1")) - 1, int(element.get("max", "1")) - 1))
    filled = {number for number, _ in table.rows}
    rows = [r for r in hidden_rows if r in filled]
    cols = [c for lo, hi in hidden_cols for c in range(lo, min(hi, lo + 200) + 1)
            if any(c < len(values) and values[c] is not None for _, values in table.rows)]
    if rows or cols:
        shown = ", ".join([f"row {r}" for r in rows[:20]] + [f"column {column_letter(c)}" for c in cols[:20]])
        shown_zh = "、".join([f"第{r}行" for r in rows[:20]] + [f"{column_letter(c)}列" for c in cols[:20]])
        raise FileRefused(422, f"sheet {table.sheet!r} has hidden rows or columns holding data ({shown}): unhide "
                               "them, or delete them if they are not to be reported",
                          f"工作表“{table.sheet}”有隐藏的行或列含数据（{shown_zh}）：请取消隐藏，不上报的请删除",
                          [Problem(f"hidden row {r}", f"第{r}行被隐藏", sheet=table.sheet, row=r) for r in rows[:50]]
                          + [Problem(f"hidden column {column_letter(c)}", f"{column_letter(c)}列被隐藏",
                                     sheet=table.sheet, column=column_letter(c)) for c in cols[:50]])


def _cell_index(ref: str) -> tuple[int, int]:
    match = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    if not match:
        return (0, 0)
    col = 0
    for ch in match.group(1):
        col = col * 26 + ord(ch) - 64
    return int(match.group(2)), col - 1


def iter_cells(values: list[Any]) -> Iterator[tuple[int, Any]]:
    return iter(enumerate(values))
