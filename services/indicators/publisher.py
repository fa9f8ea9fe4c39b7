"""Publishing figure changes to ``qw.figures``.

After each committed batch, the figures the batch touched (province and city levels, all categories
and each touched category, every window the catalogue evaluates) are recomputed; a figure whose
status, value, numerator or denominator differs from the last one published goes out as a
``FigureChanged`` keyed by ``figure_key``. A periodic pass recomputes every evaluated figure (rolling
windows move with time) and sets the ``qw_indicators_figures{status}`` gauge. ``published_figure``
is updated only once the broker acknowledged the message, so a failed publish is retried by the next
pass; consumers must treat a repeated figure as a no-op. County figures are served but not published.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.indicators.apply import EVENT_IDS, Touched
from services.indicators.metrics import STATUSES, IndicatorsMetrics
from services.indicators.models import PublishedFigure
from services.indicators.reader import FigureReader, FigureRequest, inspection_categories
from services.indicators.store import dialect_insert
from shared.catalogue import Catalogue, IndicatorSpec
from shared.clock import Clock
from shared.db import transaction
from shared.figures import Figure, FigureChanged, FigureStatus
from shared.kafka import Producer

logger = logging.getLogger(__name__)


class FigurePublisher:
    def __init__(self, catalogue: Catalogue, sessions: sessionmaker[Session], reader: FigureReader,
                 producer: Producer, topic: str, metrics: IndicatorsMetrics, clock: Clock,
                 timeout: float = 10.0) -> None:
        self.catalogue = catalogue
        self.sessions = sessions
        self.reader = reader
        self.producer = producer
        self.topic = topic
        self.metrics = metrics
        self.clock = clock
        self.timeout = timeout
        self._lock = threading.Lock()

    def _categories(self, spec: IndicatorSpec) -> tuple[str | None, ...]:
        if self.catalogue.alert_categories(spec):
            return (None, *inspection_categories(self.catalogue, spec))
        return (None,)

    def all_requests(self) -> list[FigureRequest]:
        requests = []
        for spec in self.catalogue.indicators:
            regions = self.catalogue.judged_regions(spec)
            for window in self.catalogue.windows(spec):
                requests.append(FigureRequest(spec, window, regions, self._categories(spec)))
        return requests

    def touched_requests(self, touched: Iterable[Touched]) -> list[FigureRequest]:
        regions: dict[str, set[str]] = defaultdict(set)
        categories: dict[str, set[str | None]] = defaultdict(lambda: {None})
        for indicator, region, category in touched:
            spec = self.catalogue.indicator(indicator)
            if spec is not None and region in self.catalogue.judged_regions(spec):
                regions[indicator].add(region)
                if category in self._categories(spec):
                    categories[indicator].add(category)
        requests = []
        for indicator, found in regions.items():
            spec = self.catalogue.indicator(indicator)
            assert spec is not None
            cats = tuple(sorted(categories[indicator], key=lambda c: c or ""))
            for window in self.catalogue.windows(spec):
                requests.append(FigureRequest(spec, window, tuple(sorted(found)), cats))
        return requests

    def on_batch(self, touched: Mapping[Touched, list[str]]) -> int:
        """Publish the changes of the figures a committed batch touched; returns how many went out."""
        requests = self.touched_requests(touched)
        if not requests:
            return 0
        with self._lock:
            figures = self.reader.figures(requests)
            return self._publish(figures, touched)

    def periodic(self) -> int:
        with self._lock:
            figures = self.reader.figures(self.all_requests())
            counts = Counter(f.status for f in figures)
            for status in STATUSES:
                self.metrics.figures.labels(status).set(counts.get(status, 0))
            return self._publish(figures, {})

    def _publish(self, figures: Sequence[Figure], touched: Mapping[Touched, list[str]]) -> int:
        keys = [f.key for f in figures]
        with self.sessions() as session:
            last = {row.key: row for row in session.scalars(
                select(PublishedFigure).where(PublishedFigure.key.in_(keys)))} if keys else {}
        changed: list[tuple[Figure, FigureStatus | None]] = []
        for figure in figures:
            row = last.get(figure.key)
            if row is None or _differs(row, figure):
                changed.append((figure, row.status if row else None))
        if not changed:
            return 0
        now = self.clock.now()
        futures = []
        for figure, previous in changed:
            ids = touched.get((figure.indicator, figure.region, figure.category), [])
            message = FigureChanged(figure=figure, previous_status=previous, event_ids=tuple(ids[:EVENT_IDS]),
                                    changed_at=now)
            # A status change is what an operator follows; a figure whose counts moved is routine churn.
            log = logger.info if previous != figure.status else logger.debug
            log("figure changed", extra={"figure_key": figure.key, "status": figure.status,
                                         "previous_status": previous, "event_ids": list(ids[:EVENT_IDS])})
            futures.append(self.producer.send(self.topic, key=figure.key.encode(),
                                              value=message.model_dump_json().encode()))
        for future in futures:
            future.get(timeout=self.timeout)
        rows = [{"key": f.key, "status": f.status, "value": f.value, "numerator": f.numerator,
                 "denominator": f.denominator, "published_at": now} for f, _ in changed]
        with transaction(self.sessions) as session:
            stmt = dialect_insert(session, PublishedFigure.__table__)
            stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
                c: stmt.excluded[c] for c in ("status", "value", "numerator", "denominator", "published_at")})
            session.execute(stmt, rows)
        self.metrics.figures_published.inc(len(changed))
        logger.debug("figures published", extra={"count": len(changed)})
        return len(changed)


def _differs(row: PublishedFigure, figure: Figure) -> bool:
    return (row.status != figure.status or _num(row.value) != _num(figure.value)
            or _num(row.numerator) != _num(figure.numerator) or _num(row.denominator) != _num(figure.denominator))


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 9)


