"""The events labs post, as frozen pydantic models, beside the topics they travel on.

Shape checks live on the models; checks that need the plan catalogue (programmes, categories,
regions, indicators) and the clock (future, grace period) read them from the validation context:
``parse_event(obj, context=EventContext(catalogue, now, grace, skew))``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.catalogue import Catalogue
from shared.explained import Explained

# Headers intake puts on every event record: the SHA-256 of the canonical event bytes, and when intake received it.
CONTENT_HASH_HEADER = "qw-content-hash"
RECEIVED_AT_HEADER = "qw-received-at"
# Who sent it (``Principal.sender``: "lab:<id>", "agency:<id>", "operator"): idempotency and ownership are per sender.
SENDER_HEADER = "qw-sender"

_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
EventId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_ID_PATTERN, strict=True)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_ID_PATTERN, strict=True)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, strict=True)]
RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$", strict=True)]
Period = Annotated[str, StringConstraints(pattern=r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$", strict=True)]
# Revisions count a subject's corrections: 1 is the first report. A million leaves every real lab far below
# the bound, fits the INTEGER columns that store it, and keeps a careless sender from jumping to a value
# (2^63) that no later correction of its own could ever exceed.
Revision = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
Count = Annotated[int, Field(ge=0, le=10**12, strict=True)]


def _no_control_chars(value: str) -> str:
    if any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF or ch in "\u2028\u2029\ufeff" for ch in value):
        raise Explained("must not contain control characters", "不能含控制字符（如换行、制表符等不可见字符）")
    return value


SafeText = Annotated[ShortText, AfterValidator(_no_control_chars)]
UnitText = Annotated[str, StringConstraints(max_length=50, strict=True), AfterValidator(_no_control_chars)]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _within_int64(value: Any) -> Any:
    """An integer must fit the 64-bit columns that store it (a float is bounded by allow_inf_nan and its own
    range)."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("integer out of range: must be between -9223372036854775808 and 9223372036854775807")
    return value


# RFC 3339 date-time with a time-zone offset (Z or ±hh:mm), seconds required; a number (Unix seconds) or a
# local time without offset is refused.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339_text(value: Any) -> Any:
    if isinstance(value, dt.datetime):  # already parsed (a model built in Python)
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time string with a timezone offset, e.g. 2026-03-01T09:30:00+08:00 "
                         "(not a number of seconds, not a local time)")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]


@dataclass(frozen=True, slots=True)
class EventContext:
    """What validation needs beyond the event itself."""

    catalogue: Catalogue
    now: dt.datetime
    grace_period: dt.timedelta = dt.timedelta(days=400)
    future_skew: dt.timedelta = dt.timedelta(minutes=5)


def _context(info: ValidationInfo) -> EventContext | None:
    ctx = info.context
    return ctx if isinstance(ctx, EventContext) else None


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("region", check_fields=False)
    @classmethod
    def _known_region(cls, value: str, info: ValidationInfo) -> str:
        ctx = _context(info)
        if ctx and ctx.catalogue.resolve_region(value) is None:
            province = ctx.catalogue.regions.province.name
            raise Explained(f"region {value!r} is not a region of {province}",
                            f"地区“{value}”不是{province}的行政区划（见地区代码表）")
        return value


class _ProgrammeData(_Data):
    sample_id: Identifier
    programme: Identifier
    category: Identifier
    region: RegionCode

    @model_validator(mode="after")
    def _known_programme(self, info: ValidationInfo) -> _ProgrammeData:
        ctx = _context(info)
        if ctx is None:
            return self
        programme = ctx.catalogue.programmes.get(self.programme)
        if programme is None:
            known = ", ".join(ctx.catalogue.programmes)
            raise ValueError(f"unknown programme {self.programme!r} (known: {known})")
        if self.category not in programme.categories:
            known = ", ".join(programme.categories)
            raise ValueError(f"programme {self.programme!r} has no category {self.category!r} (known: {known})")
        return self


class SampleCollected(_ProgrammeData):
    enterprise_id: Identifier | None = None


# A measured value or limit: a JSON number, or a text of at most 200 characters (strict numbers: a long string
# of digits is a text over the limit, not a number, as the OpenAPI document says).
Measure = Annotated[float, Field(strict=True)] | Annotated[int, Field(strict=True)] | SafeText
# ... and an integer must fit the 64-bit columns that store it.
ItemValue = Annotated[Measure | None, BeforeValidator(_within_int64)]


class InspectionItem(_Data):
    name: SafeText
    value: ItemValue = None
    unit: UnitText | None = None
    limit: ItemValue = None
    verdict: Literal["pass", "fail"]


AlertId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$", strict=True)]


class InspectionCompleted(_ProgrammeData):
    verdict: Literal["pass", "fail"]
    items: Annotated[list[InspectionItem], Field(max_length=500)] | None = None
    revision: Revision = 1
    # A follow-up inspection (跟踪抽检) names the alert it answers (the ``alert_id`` of the alert service).
    follow_up_of: AlertId | None = None


class InspectionObjected(_ProgrammeData):
    """The enterprise objected to the sample's failing result and asked for a re-test (复检); the
    re-test's verdict arrives as an ``inspection.completed`` revision and settles it."""

    reason: SafeText | None = None


class AcceptanceCompleted(_Data):
    project_id: Identifier
    size: Literal["large", "medium", "small"]
    region: RegionCode
    first_time_pass: Annotated[bool, Field(strict=True)]
    revision: Revision = 1


class FigureReported(_Data):
    indicator: Identifier
    region: RegionCode
    period: Period
    numerator: Count | None = None
    denominator: Annotated[int, Field(gt=0, le=10**12, strict=True)] | None = None
    value: Annotated[float, Field(ge=-1e12, le=1e12)] | None = None

    @model_validator(mode="after")
    def _one_form(self, info: ValidationInfo) -> FigureReported:
        has_ratio = self.numerator is not None or self.denominator is not None
        if has_ratio and self.value is not None:
            raise Explained("give either numerator and denominator, or value, not both",
                            "填写分子和分母，或者填写数值，不能都填")
        if has_ratio and (self.numerator is None or self.denominator is None):
            raise Explained("numerator and denominator go together", "分子和分母须同时填写")
        if not has_ratio and self.value is None:
            raise Explained("give numerator and denominator, or value", "须填写分子和分母，或者填写数值")
        if self.numerator is not None and self.denominator is not None and self.numerator > self.denominator:
            raise Explained("numerator must not exceed denominator", "分子不能大于分母")
        ctx = _context(info)
        if ctx:
            spec = ctx.catalogue.indicator(self.indicator)
            if spec is None or spec.source != "figure":
                reported = [s.id for s in ctx.catalogue.indicators if s.source == "figure"]
                raise Explained(f"indicator {self.indicator!r} is not reported by figures "
                                f"(reported: {', '.join(reported)})",
                                f"指标“{self.indicator}”不按数据上报（可上报的指标：{'、'.join(reported)}）")
            if spec.kind == "reported_share" and not has_ratio:
                raise Explained(f"indicator {self.indicator!r} is a share: give numerator and denominator",
                                f"指标“{spec.name_zh}”是比例：请填写分子和分母")
            if spec.kind == "reported_value" and has_ratio:
                raise Explained(f"indicator {self.indicator!r} is a value: give value",
                                f"指标“{spec.name_zh}”是数值：请填写数值")
        return self


class SurveyScored(_Data):
    sector: Literal["producer_services", "consumer_services"]
    region: RegionCode
    score: Annotated[float, Field(ge=0, le=100)]
    respondents: Annotated[int, Field(ge=1, le=10**9, strict=True)]

    @field_validator("score", mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool | str):
            raise ValueError("must be a number")
        return value


class MilestoneReported(_Data):
    indicator: Identifier
    region: RegionCode
    count: Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
    reference: SafeText | None = None

    @field_validator("indicator")
    @classmethod
    def _milestone_indicator(cls, value: str, info: ValidationInfo) -> str:
        ctx = _context(info)
        if ctx:
            spec = ctx.catalogue.indicator(value)
            if spec is None or spec.kind != "milestone":
                raise Explained(f"indicator {value!r} is not a milestone of the plan",
                                f"指标“{value}”不是行动方案的里程碑指标")
        return value


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: EventId
    occurred_at: Instant
    lab_id: Identifier

    @field_validator("occurred_at")
    @classmethod
    def _within_bounds(cls, value: dt.datetime, info: ValidationInfo) -> dt.datetime:
        ctx = _context(info)
        if ctx is None:
            return value
        if value > ctx.now + ctx.future_skew:
            minutes = int(ctx.future_skew.total_seconds() // 60)
            raise Explained(f"is more than {minutes} minutes in the future",
                            f"时间在未来：晚于当前时间 {minutes} 分钟以上，请检查日期和时间")
        if value < ctx.now - ctx.grace_period:
            raise Explained(f"is older than the grace period of {ctx.grace_period.days} days",
                            f"时间太早：超过了 {ctx.grace_period.days} 天的补报期限")
        return value

    def content_hash(self) -> str:
        return hashlib.sha256(canonical_json(self)).hexdigest()

    @property
    def region(self) -> str:
        return self.data.region  # type: ignore[attr-defined]  # each event type declares its data; all have a region


class SampleCollectedEvent(_Envelope):
    type: Literal["sample.collected"]
    data: SampleCollected


class InspectionCompletedEvent(_Envelope):
    type: Literal["inspection.completed"]
    data: InspectionCompleted


class InspectionObjectedEvent(_Envelope):
    type: Literal["inspection.objected"]
    data: InspectionObjected


class AcceptanceCompletedEvent(_Envelope):
    type: Literal["acceptance.completed"]
    data: AcceptanceCompleted


class FigureReportedEvent(_Envelope):
    type: Literal["figure.reported"]
    data: FigureReported


class SurveyScoredEvent(_Envelope):
    type: Literal["survey.scored"]
    data: SurveyScored


class MilestoneReportedEvent(_Envelope):
    type: Literal["milestone.reported"]
    data: MilestoneReported


Event = Annotated[
    SampleCollectedEvent
    | InspectionCompletedEvent
    | InspectionObjectedEvent
    | AcceptanceCompletedEvent
    | FigureReportedEvent
    | SurveyScoredEvent
    | MilestoneReportedEvent,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[str, ...] = (
    "sample.collected",
    "inspection.completed",
    "acceptance.completed",
    "figure.reported",
    "survey.scored",
    "milestone.reported",
    "inspection.objected",
)
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_LIST_ADAPTER: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


def parse_event(obj: Any, *, context: EventContext | None = None) -> Event:
    """Validate one event (a dict); raises pydantic.ValidationError."""
    return EVENT_ADAPTER.validate_python(obj, context=context)


def parse_events(objs: list[Any], *, context: EventContext | None = None) -> list[Event]:
    """Validate a list of events in one call (cheaper than one call per event); raises pydantic.ValidationError
    listing the problems of every event, each located under its index."""
    return EVENT_LIST_ADAPTER.validate_python(objs, context=context)


def canonical_json(event: BaseModel) -> bytes:
    """The event as sorted, compact JSON: equal content gives equal bytes.

    Copied to an exact-size bytes object: orjson's own result keeps its 4 KiB working buffer allocated, which
    for the 50,000 events of one spreadsheet upload held ~200 MB."""
    return bytes(memoryview(orjson.dumps(event.model_dump(mode="json", exclude_none=True),
                                         option=orjson.OPT_SORT_KEYS)))


def subject_key(event: Event) -> str:
    """The Kafka key: events about the same thing land on the same partition, in order."""
    match event:
        case SampleCollectedEvent() | InspectionCompletedEvent() | InspectionObjectedEvent():
            return f"sample:{event.data.sample_id}"
        case AcceptanceCompletedEvent():
            return f"project:{event.data.project_id}"
        case FigureReportedEvent():
            data = event.data
            return f"figure:{data.indicator}:{data.region}:{data.period}"
        case _:
            return f"event:{event.event_id}"


def owned_subject(event: Event) -> str | None:
    """The subject an event reports on that belongs to its first sender (a sample, a project, a reported
    figure), or None for events that only add (surveys, milestones)."""
    if isinstance(event, SurveyScoredEvent | MilestoneReportedEvent):
        return None
    return subject_key(event)


def error_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a JSON path, without the union tag pydantic inserts."""
    parts = [p for p in loc if not (isinstance(p, str) and p in EVENT_TYPES)]
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path
