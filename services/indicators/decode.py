"""From a Kafka message to an event, or to the reason it cannot be applied (pure).

Intake has already checked time bounds, so events are parsed without a time context; what the
current catalogue must know (regions, programmes, categories, indicators) is checked here, so that a
message that slipped through an older catalogue is dead-lettered and can be replayed after a fix.

Events are validated straight from the message bytes (``EVENT_ADAPTER.validate_json``: no
intermediate dict, the same models and rules as ``parse_event``); only a message that fails is read
again with orjson + ``parse_event``, to say why in the usual words (not JSON → ``decode``, else
``invalid``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from services.indicators.state import catalogue_index
from shared.catalogue import Catalogue
from shared.events import (
    CONTENT_HASH_HEADER,
    EVENT_ADAPTER,
    RECEIVED_AT_HEADER,
    SENDER_HEADER,
    Event,
    FigureReportedEvent,
    InspectionCompletedEvent,
    InspectionObjectedEvent,
    MilestoneReportedEvent,
    SampleCollectedEvent,
    error_path,
)
from shared.kafka import ConsumedRecord

validate_event = EVENT_ADAPTER.validate_python  # = shared.events.parse_event, without a call in between
# The same validation from JSON bytes, with pydantic-core's validator called directly: TypeAdapter's
# wrapper only checks keyword arguments this module does not pass.
validate_event_json = EVENT_ADAPTER.validator.validate_json

DEAD_LETTER_REASONS = ("decode", "invalid", "conflict", "apply", "not_owner")


Record = ConsumedRecord  # what decoding and dead letters read: a Kafka record or a ``Message``


@dataclass(slots=True)
class Message:
    """A record built by hand (tests, benchmarks), with the fields decoding and dead letters read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(slots=True)  # not frozen: built per message on the hot path (5x cheaper); never mutated
class Decoded:
    message: Record
    event: Event
    content_hash: str
    received: bytes | None  # the raw ``qw-received-at`` header: parsed only for the latency metric, per distinct value
    sender: str = ""  # the ``qw-sender`` header; "" for a record published before intake named senders

    @property
    def key(self) -> tuple[str, str]:
        """What an event is known by: its sender and its id (ids are unique per sender only)."""
        return self.sender, self.event.event_id


@dataclass(frozen=True, slots=True)
class Rejected:
    message: Record
    reason: str
    error: str
    event_id: str | None = None
    sender: str | None = None


class Decoder:
    """Decodes the messages of one batch."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.index = catalogue_index(catalogue)
        self._programme_categories = self.index.programme_categories
        self._levels = self.index.levels

    def decode(self, message: Record) -> Decoded | Rejected:
        raw_hash = raw_received = raw_sender = None
        for name, value in message.headers or ():
            if name == CONTENT_HASH_HEADER and raw_hash is None:
                raw_hash = value
            elif name == RECEIVED_AT_HEADER and raw_received is None:
                raw_received = value
            elif name == SENDER_HEADER and raw_sender is None:
                raw_sender = value
        sender = raw_sender.decode(errors="replace")[:120] if raw_sender else ""
        try:  # straight from the bytes: no intermediate dict (the usual case: a valid event)
            event = validate_event_json(message.value or b"")
        except ValidationError:  # say why as the orjson + parse_event path says it
            found = _rejection(message)
            if isinstance(found, Rejected):
                return Rejected(found.message, found.reason, found.error, found.event_id, sender)
            event = found
        # The usual case inline: a known region, a programme event with a known programme and category.
        if not (isinstance(event, _PROGRAMME_EVENTS)
                and (event.data.programme, event.data.category) in self._programme_categories
                and self._levels(event.data.region)):
            problem = catalogue_problem(event, self.catalogue)
            if problem:
                return Rejected(message, "invalid", problem, event.event_id, sender)
        content_hash = raw_hash.decode() if raw_hash else event.content_hash()
        return Decoded(message, event, content_hash, raw_received or None, sender)


def _rejection(message: Record) -> Rejected | Event:
    """Why a message is not an event: not JSON (``decode``) or not a valid event (``invalid``)."""
    try:
        obj = orjson.loads(message.value or b"")
    except orjson.JSONDecodeError as exc:
        return Rejected(message, "decode", f"not JSON: {exc}")
    try:
        return validate_event(obj)  # pydantic's JSON parser refused what orjson reads (none known)
    except ValidationError as exc:
        event_id = obj.get("event_id") if isinstance(obj, dict) else None
        event_id = event_id if isinstance(event_id, str) and len(event_id) <= 100 else None
        problems = "; ".join(f"{error_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()[:10])
        return Rejected(message, "invalid", problems, event_id)


_PROGRAMME_EVENTS = (SampleCollectedEvent, InspectionCompletedEvent, InspectionObjectedEvent)


def catalogue_problem(event: Event, catalogue: Catalogue) -> str | None:
    """What the current catalogue does not know about the event, or None."""
    region = event.data.region
    index = catalogue_index(catalogue)
    if not index.levels(region):
        return f"$.data.region: region {region!r} is not known to the catalogue"
    if isinstance(event, _PROGRAMME_EVENTS):
        if (event.data.programme, event.data.category) in index.programme_categories:  # the usual case
            return None
        programme = catalogue.programmes.get(event.data.programme)
        if programme is None:
            return f"$.data.programme: unknown programme {event.data.programme!r}"
        if event.data.category not in programme.categories:
            return f"$.data.category: programme {event.data.programme!r} has no category {event.data.category!r}"
    elif isinstance(event, FigureReportedEvent):
        spec = catalogue.indicator(event.data.indicator)
        if spec is None or spec.source != "figure":
            return f"$.data.indicator: {event.data.indicator!r} is not an indicator reported by figures"
        if spec.kind == "reported_share" and event.data.denominator is None:
            return f"$.data: {spec.id!r} is a share: numerator and denominator expected"
        if spec.kind == "reported_value" and event.data.value is None:
            return f"$.data: {spec.id!r} is a value: value expected"
    elif isinstance(event, MilestoneReportedEvent):
        spec = catalogue.indicator(event.data.indicator)
        if spec is None or spec.kind != "milestone":
            return f"$.data.indicator: {event.data.indicator!r} is not a milestone of the plan"
    return None


def parse_received_at(raw: bytes | None) -> dt.datetime | None:
    """The instant in a ``qw-received-at`` header (one without an offset is read as UTC), or None if it is not one."""
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.decode())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
