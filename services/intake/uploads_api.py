"""Spreadsheet reporting on intake: templates, uploads and their record, and the lab page.

- ``GET /v1/templates/{event_type}.xlsx`` (or ``.csv``): the template of one event type.
- ``POST /v1/uploads``: an .xlsx or .csv, as a multipart form (field ``file``) or as the raw body with its
  content type (file name in ``X-File-Name``, percent-encoded, or ``?filename=``); ``?type=`` names the event
  type where the sheet name does not. 202 only once every row's event is durably in Kafka.
- ``GET /v1/uploads``: recent uploads, a lab's own (operators: all).
- ``GET /lab``: the page a lab clerk uses (no key needed to load it; every call it makes sends the key).
"""

from __future__ import annotations

import urllib.parse
from importlib import resources
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import select
from starlette.requests import ClientDisconnect

from services.intake.body import read_body
from services.intake.deps import CatalogueDep, CurrentPrincipal, SessionsDep, SettingsDep
from services.intake.errors import Rejection
from services.intake.models import IntakeUpload
from services.intake.sheets.columns import COLUMNS
from services.intake.sheets.templates import csv_template, xlsx_template
from services.intake.sheets.upload import UploadFile, UploadService
from services.intake.vocabulary import EVENT_TYPE_NAMES
from shared.clock import rfc3339
from shared.i18n import LANG_COOKIE, catalogue, negotiate

router = APIRouter(tags=["uploads"])
EventType = Literal["sample.collected", "inspection.completed", "acceptance.completed", "figure.reported",
                    "survey.scored", "milestone.reported"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/v1/templates/{name}", summary="Download a spreadsheet template",
            responses={200: {"content": {XLSX: {}, "text/csv": {}}, "description": "the template file"},
                       401: {"description": "missing or bad token"},
                       404: {"description": "no such event type or format"}})
async def get_template(name: str, principal: CurrentPrincipal, catalogue_: CatalogueDep) -> Response:
    """``inspection.completed.xlsx`` or ``inspection.completed.csv``: a header in Chinese with the field key
    beneath, an example row, drop-down lists (programme, category, verdict, region) and a sheet 说明 explaining
    each column. 模板：中文表头、字段代码、示例行、下拉列表和说明页。"""
    event_type, _, extension = name.rpartition(".")
    if event_type not in COLUMNS or extension not in ("xlsx", "csv"):
        raise HTTPException(404, f"no template {name!r}; one of "
                                 f"{', '.join(f'{t}.xlsx' for t in COLUMNS)} (or .csv)")
    quoted = urllib.parse.quote(f"{event_type}.{extension}")
    headers = {"Content-Disposition": f"attachment; filename=\"{event_type}.{extension}\"; "
                                      f"filename*=UTF-8''{quoted}"}
    if extension == "xlsx":
        return Response(xlsx_template(event_type, catalogue_), media_type=XLSX, headers=headers)
    return Response(csv_template(event_type, catalogue_), media_type="text/csv; charset=utf-8", headers=headers)


class CellProblem(BaseModel):
    """One problem in a file, where a person finds it. 文件中的一处错误及其位置。"""

    sheet: str | None = Field(None, description="sheet name 工作表", examples=["检验结果"])
    row: int | None = Field(None, description="row number as Excel shows it 行号", examples=[5])
    column: str | None = Field(None, description="column letter 列", examples=["E"])
    field: str | None = Field(None, description="field key 字段", examples=["verdict"])
    header: str | None = Field(None, description="Chinese header 列名", examples=["检验结论"])
    value: str | None = Field(None, description="the cell's content 单元格内容", examples=["合 格"])
    message: str = Field(description="English", examples=["'合 格' is not one of pass (合格), fail (不合格)"])
    message_zh: str = Field(description="中文", examples=["“合 格”无效；可选值：pass (合格), fail (不合格)"])


class UploadAccepted(BaseModel):
    """202: every row's event is durably in Kafka. 已全部接收。"""

    upload_id: str
    file_name: str
    sha256: str = Field(description="SHA-256 of the file")
    event_type: str
    sheet: str
    rows: int = Field(description="data rows read (the example row excluded)")
    accepted: int = Field(description="new events")
    duplicates: int = Field(description="rows already accepted from an earlier upload (counted once)")
    outcome: Literal["accepted"]


class UploadRefused(BaseModel):
    """Nothing from the file was accepted; every problem listed. 整个文件未被接收，列出全部错误。
    (A malformed query, such as an unknown ``type``, is FastAPI's own 422 with ``detail`` as a list.)"""

    upload_id: str | None = None
    file_name: str | None = None
    sha256: str | None = None
    outcome: Literal["rejected", "unavailable"] | None = None
    detail: str | list[Any]
    detail_zh: str | None = None
    error_count: int = 0
    errors: list[CellProblem] = []


_REFUSED: dict[int | str, dict[str, Any]] = {status: {"model": UploadRefused, "description": text} for status, text in (
    (400, "unreadable request"), (403, "rows name another lab, or the key may not upload"),
    (409, "rows change rows accepted before (named by row)"),
    (413, "file, unpacked size, cells or rows over the limit"),
    (415, "not an .xlsx or .csv"), (422, "problems in the file, by sheet, row and column"),
    (503, "event store unavailable; nothing accepted, retry"))}


@router.post("/v1/uploads", status_code=202, summary="Upload a spreadsheet of events", response_model=UploadAccepted,
             responses={**_REFUSED, 401: {"description": "missing or bad token"}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
                 XLSX: {"schema": {"type": "string", "format": "binary"}},
                 "text/csv": {"schema": {"type": "string", "format": "binary"}}}}})
async def post_upload(request: Request, principal: CurrentPrincipal, settings: SettingsDep,
                      type: Annotated[EventType | None, Query(description="event type, where the sheet name does "
                                                                          "not say it")] = None,
                      filename: Annotated[str | None, Query(max_length=255)] = None) -> Response:
    """An .xlsx or .csv (UTF-8 or GBK) of up to 50,000 rows: all accepted or none, every problem named by sheet,
    row and column in Chinese and English; idempotent per row (uploading the same file again reports
    duplicates). 上传表格：全部接收或全部不接收；同一文件重复上传不重复计数。"""
    _known_query(request, {"type", "filename"})
    service: UploadService | None = getattr(request.app.state, "uploads", None)
    if service is None:
        return JSONResponse({"detail": "intake is starting or stopping, retry"}, 503, headers={"Retry-After": "5"})
    try:
        body = await read_body(request.receive)  # the body guard holds it to max_upload_bytes (413)
    except ClientDisconnect:
        return Response(status_code=400)
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        file = _multipart(body, content_type)
    else:
        name = filename or urllib.parse.unquote(request.headers.get("x-file-name", "")) or "upload"
        file = UploadFile(name[:255], content_type, body)
    outcome = await service.upload(principal, file, type)
    return Response(orjson.dumps(outcome.body), outcome.status, outcome.headers, media_type="application/json")


def _known_query(request: Request, known: set[str]) -> None:
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise HTTPException(422, f"unknown query parameter {unknown[0][:50]!r}; known: {', '.join(sorted(known))}")


def _multipart(body: bytes, content_type: str) -> UploadFile:
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise Rejection(400, "bad_json", "multipart body without a boundary")
    parts: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    header_name = bytearray()
    header_value = bytearray()

    def on_part_begin() -> None:
        current.clear()
        current.update(headers={}, data=bytearray())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        current["headers"][bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current["data"].extend(data[start:end])

    def on_part_end() -> None:
        parts.append(dict(current))

    parser = MultipartParser(boundary, {  # the callbacks the parser calls by name
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_part_data": on_part_data, "on_part_end": on_part_end})
    try:
        parser.write(body)
        parser.finalize()
    except Exception:  # python-multipart raises its own error types for malformed bodies
        raise Rejection(400, "bad_json", "malformed multipart body") from None
    for part in parts:
        _, disposition = parse_options_header(part["headers"].get(b"content-disposition", b""))
        if disposition.get(b"name") == b"file":
            name = disposition.get(b"filename", b"upload").decode("utf-8", "replace")
            kind = part["headers"].get(b"content-type", b"").decode("latin-1")
            return UploadFile(name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:255], kind, bytes(part["data"]))
    raise Rejection(400, "bad_json", "the multipart form has no field 'file'")


class QueryRefused(BaseModel):
    """A query parameter that is unknown (``detail`` a sentence) or malformed (FastAPI's list)."""

    detail: str | list[Any]


class UploadRecord(BaseModel):
    """One upload: who, when, which file, what came of it. 上传记录。"""

    upload_id: str
    key_id: str
    lab_id: str | None
    received_at: str = Field(description="RFC 3339, +08:00", examples=["2026-12-02T14:19:48.405+08:00"])
    file_name: str
    sha256: str
    size_bytes: int
    event_type: str | None
    rows: int
    accepted: int
    duplicates: int
    outcome: str = Field(description="accepted | rejected | unavailable")
    status: int
    problems: int


@router.get("/v1/uploads", summary="Recent uploads", response_model=list[UploadRecord],
            responses={401: {"description": "missing or bad token"}, 403: {"description": "an agency key"},
                       422: {"model": QueryRefused, "description": "an unknown or bad query parameter"}})
async def list_uploads(request: Request, principal: CurrentPrincipal, sessions: SessionsDep,
                       limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[UploadRecord]:
    """A lab key sees its lab's uploads; an operator sees all; newest first. 实验室只能看到本实验室的上传。"""
    _known_query(request, {"limit"})
    if principal.role not in ("lab", "operator"):
        raise HTTPException(403, "lab or operator role required")
    query = select(IntakeUpload).order_by(IntakeUpload.received_at.desc()).limit(limit)
    if not principal.is_operator:
        query = query.where(IntakeUpload.lab_id == principal.lab_id)
    with sessions() as session:
        found = session.scalars(query).all()
        return [UploadRecord(upload_id=u.upload_id, key_id=u.key_id, lab_id=u.lab_id,
                             received_at=rfc3339(u.received_at), file_name=u.file_name, sha256=u.sha256,
                             size_bytes=u.size_bytes, event_type=u.event_type, rows=u.rows, accepted=u.accepted,
                             duplicates=u.duplicates, outcome=u.outcome, status=u.status, problems=u.problems)
                for u in found]


@router.get("/lab", include_in_schema=False)
async def lab_page(request: Request, catalogue_: CatalogueDep,
                   lang: Annotated[str | None, Query(max_length=10)] = None) -> HTMLResponse:
    locale = negotiate(lang, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    page = resources.files("services.intake").joinpath("lab.html").read_text(encoding="utf-8")
    strings = {loc: dict(catalogue("lab", loc)) for loc in ("zh-CN", "en")}
    types = [{"type": t, "zh": EVENT_TYPE_NAMES[t]} for t in COLUMNS]
    config = orjson.dumps({"locale": locale, "strings": strings, "types": types}).decode()
    html = page.replace("__CONFIG__", config.replace("</", "<\\/"))
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "Content-Language": locale})
