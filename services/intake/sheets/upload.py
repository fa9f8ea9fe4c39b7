"""One spreadsheet upload, start to end: read, convert, validate as the API does, accept through the batch
API's path (``EventIntake.prepare`` and ``EventIntake.accept``: published and acknowledged by Kafka before the
202), and record what came of it.

All or nothing per file: any problem in any row refuses the whole file, and the answer lists every problem
by sheet, row and column, in Chinese and English.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from services.intake.accept import EventIntake, Prepared
from services.intake.errors import Rejection
from services.intake.models import IntakeUpload
from services.intake.sheets.reading import FileRefused, Problem, ReadLimits, read_upload
from services.intake.sheets.rows import Converted, RowEvent, convert
from shared.auth import Principal
from shared.catalogue import Catalogue
from shared.clock import Clock

logger = logging.getLogger(__name__)
PREPARE_CHUNK = 2000  # rows validated at once (the batch API's own limit is 1000 per request)
MAX_LISTED = 1000  # problems listed in one answer (error_count says how many there were)


@dataclass(frozen=True, slots=True)
class UploadFile:
    name: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class Outcome:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None


class UploadService:
    def __init__(self, *, intake: EventIntake, catalogue: Catalogue, clock: Clock, sessions: sessionmaker[Session],
                 limits: ReadLimits, publish_timeout: float = 60.0) -> None:
        self._intake = intake
        self._catalogue = catalogue
        self._clock = clock
        self._sessions = sessions
        self._limits = limits
        self._publish_timeout = publish_timeout

    async def upload(self, principal: Principal, file: UploadFile, requested_type: str | None) -> Outcome:
        upload_id = str(uuid.uuid4())
        sha256 = hashlib.sha256(file.data).hexdigest()
        base: dict[str, Any] = {"upload_id": upload_id, "file_name": file.name, "sha256": sha256}
        rows = accepted = duplicates = 0
        event_type: str | None = None
        try:
            if principal.role not in ("lab", "operator"):
                raise _refused(403, f"a {principal.role} key may not upload events",
                               f"{principal.role} 密钥不能上传事件")
            converted, prepared, now = await asyncio.to_thread(self._prepare, principal, file, requested_type)
            event_type, rows = converted.event_type, len(prepared)
            answer = await self._accept(principal, converted, prepared, now)
            accepted, duplicates = answer["accepted"], answer["duplicates"]
            outcome = Outcome(202, {**base, "event_type": event_type, "sheet": converted.sheet, "rows": rows,
                                    "accepted": accepted, "duplicates": duplicates, "outcome": "accepted"})
        except FileRefused as refused:
            outcome = _refusal(base, refused)
        except Rejection as rejection:  # 503 from the event store or the ledger
            outcome = Outcome(rejection.status, {**base, "outcome": "unavailable", **rejection.body(),
                                                 "detail_zh": "服务暂时不可用，请稍后重试；本文件没有任何数据被接收"},
                              rejection.headers)
        await self._record(principal, upload_id, file, sha256, event_type, rows, accepted, duplicates, outcome)
        return outcome

    # ---- off the event loop: read, convert, validate ------------------------------------------------------
    def _prepare(self, principal: Principal, file: UploadFile,
                 requested_type: str | None) -> tuple[Converted, list[Prepared], dt.datetime]:
        table = read_upload(file.data, file.name, file.content_type, self._limits)
        lab_id = None if principal.is_operator else principal.lab_id
        converted = convert(table, self._catalogue, lab_id=lab_id, requested_type=requested_type)
        del table  # the cells are events now: 50,000 rows are tens of MB
        if converted.foreign:
            raise _listed(403, converted.foreign, "rows name another lab", "有数据行属于其他实验室")
        if converted.problems:
            raise _listed(422, converted.problems, "problems in the file", "文件中有错误")
        _check_repeats(converted)
        prepared, now = self._prepare_in_chunks(principal, converted)
        return converted, prepared, now

    def _prepare_in_chunks(self, principal: Principal, converted: Converted) -> tuple[list[Prepared], dt.datetime]:
        """``EventIntake.prepare`` (the batch API's validation) a chunk at a time, so that only one chunk's
        models are alive at once; every chunk's problems are collected before the file is refused. A prepared
        row keeps only its row number and sample or project id (for naming it in a 409)."""
        prepared: list[Prepared] = []
        errors: list[dict[str, Any]] = []
        now = self._clock.now()
        rows = converted.events
        for start in range(0, len(rows), PREPARE_CHUNK):
            try:
                chunk, now = self._intake.prepare(principal, [r.event for r in rows[start:start + PREPARE_CHUNK]])
            except Rejection as rejection:
                if rejection.status != 422:
                    raise _from_rejection(rejection, converted) from None
                errors.extend({**e, "index": e["index"] + start if isinstance(e.get("index"), int) else None}
                              for e in rejection.extra.get("errors", []))
                continue
            if not errors:
                prepared.extend(replace(p, index=p.index + start) for p in chunk)
                for row in rows[start:start + PREPARE_CHUNK]:
                    data = row.event["data"]
                    row.event = {"event_id": row.event["event_id"],
                                 "data": {k: data[k] for k in ("sample_id", "project_id") if k in data}}
        if errors:
            raise _from_rejection(Rejection(422, "invalid", "invalid", errors=errors), converted)
        return prepared, now

    async def _accept(self, principal: Principal, converted: Converted, prepared: list[Prepared],
                      now: dt.datetime) -> dict[str, Any]:
        try:
            return await self._intake.accept(prepared, now, sender=principal.sender,
                                             publish_timeout=self._publish_timeout)
        except Rejection as rejection:
            if rejection.status in (403, 409):  # another sender's sample (not_owner), or a changed row
                raise _from_rejection(rejection, converted) from None
            raise

    async def _record(self, principal: Principal, upload_id: str, file: UploadFile, sha256: str,
                      event_type: str | None, rows: int, accepted: int, duplicates: int, outcome: Outcome) -> None:
        record = IntakeUpload(
            upload_id=upload_id, key_id=principal.key_id[:64], role=principal.role, lab_id=principal.lab_id,
            received_at=self._clock.now(), file_name=file.name[:255], sha256=sha256, size_bytes=len(file.data),
            event_type=event_type, rows=rows, accepted=accepted, duplicates=duplicates,
            outcome=str(outcome.body.get("outcome", "rejected")), status=outcome.status,
            problems=int(outcome.body.get("error_count", 0)))

        def write() -> None:
            with self._sessions() as session, session.begin():
                session.add(record)

        try:
            await asyncio.to_thread(write)
        except SQLAlchemyError as exc:  # the events are in Kafka and the ledger; the upload log is a record only
            logger.error("upload record not written", exc_info=exc, extra={"upload_id": upload_id})


def _refused(status: int, message: str, message_zh: str) -> FileRefused:
    return FileRefused(status, message, message_zh)


def _listed(status: int, problems: list[Problem], message: str, message_zh: str) -> FileRefused:
    count = len(problems)
    return FileRefused(status, f"{message} ({count}); nothing was accepted", f"{message_zh}（共 {count} 处），"
                       "整个文件未被接收", problems)


def _refusal(base: dict[str, Any], refused: FileRefused) -> Outcome:
    problems = refused.problems or [Problem(refused.message, refused.message_zh)]
    detail, detail_zh = refused.message, refused.message_zh
    if "nothing was accepted" not in detail:
        detail, detail_zh = f"{detail}; nothing was accepted", f"{detail_zh}；整个文件未被接收"
    return Outcome(refused.status, {**base, "outcome": "rejected", "detail": detail, "detail_zh": detail_zh,
                                    "error_count": len(problems),
                                    "errors": [p.as_dict() for p in problems[:MAX_LISTED]]})


def _check_repeats(converted: Converted) -> None:
    """Two rows about the same sample (or project) and revision: a repeat, or a contradiction; either way the
    clerk must decide, so the file is refused naming both rows."""
    first: dict[str, RowEvent] = {}
    problems = []
    for row in converted.events:
        earlier = first.setdefault(row.event["event_id"], row)
        if earlier is row:
            continue
        key = "sample_id" if "sample_id" in row.event["data"] else "project_id"
        if earlier.event == row.event:
            problems.append(converted.cell(row.row, key, f"row {row.row} repeats row {earlier.row}: delete one",
                                           f"第{row.row}行与第{earlier.row}行重复，请删除其一"))
        else:
            problems.append(converted.cell(
                row.row, key, f"row {row.row} has the same identity as row {earlier.row} (same id and revision) "
                "but other values: keep one, or give the correction a higher revision",
                f"第{row.row}行与第{earlier.row}行是同一样品（编号和修订号相同）但内容不同：请只保留一行，"
                "或为更正的结果填写更大的修订号"))
    if problems:
        raise _listed(422, problems, "rows repeat another row", "有重复的数据行")


_ENVELOPE_PATHS = {"$.occurred_at": "occurred_at", "$.lab_id": "lab_id"}


def _from_rejection(rejection: Rejection, converted: Converted) -> FileRefused:
    """The API's answer (problems by event index and JSON path) located in the sheet: row and column."""
    rows = converted.events
    problems = []
    if rejection.status == 409:
        for conflict in rejection.extra.get("conflicts", []):
            row = rows[conflict["index"]]
            key = "sample_id" if "sample_id" in row.event["data"] else "project_id"
            problems.append(converted.cell(
                row.row, key, value=row.event["data"].get(key),
                message="this row was uploaded before with other values; an accepted result never changes: "
                        "to correct it, give the row a higher revision (修订号)",
                message_zh="本行此前已上传且内容不同；已接收的结果不能修改，如需更正请填写更大的修订号（revision）"))
        return FileRefused(409, f"{len(problems)} rows change rows uploaded before; nothing was accepted",
                           f"有 {len(problems)} 行与此前上传的内容不同，整个文件未被接收", problems)
    if rejection.status == 403 and rejection.extra.get("rule") == "not_owner":
        for index in rejection.extra.get("indexes") or []:
            row = rows[index]
            key = "sample_id" if "sample_id" in row.event["data"] else "project_id"
            problems.append(converted.cell(
                row.row, key, value=row.event["data"].get(key),
                message="this sample or project was first reported by another lab; only that lab may revise it",
                message_zh="该样品或项目已由其他单位首次上报，只有首次上报的单位可以修订"))
        return FileRefused(403, f"{len(problems)} rows report on another lab's samples; nothing was accepted",
                           f"有 {len(problems)} 行涉及其他单位首次上报的样品，整个文件未被接收", problems)
    for error in rejection.extra.get("errors", []):
        index = error.get("index")
        path = str(error.get("path", "$"))
        row = rows[index].row if isinstance(index, int) and index < len(rows) else None
        field = _ENVELOPE_PATHS.get(path)
        if field is None and path.startswith("$.data."):
            field = path.removeprefix("$.data.")
        value = None
        if row is not None and isinstance(index, int):
            event = rows[index].event
            value = event.get(field or "") if path in _ENVELOPE_PATHS else event["data"].get(field or "")
        problems.append(converted.cell(row or 0, field, error.get("message", ""), error.get("message_zh",
                                       error.get("message", "")), value))
    if rejection.status == 422:
        return _listed(422, problems, "problems in the file", "文件中有错误")
    return FileRefused(rejection.status, rejection.detail, rejection.detail, problems)
