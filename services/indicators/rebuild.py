"""Rebuilding the tallies that stored subjects feed, after a catalogue change:
``python -m services.indicators.rebuild [--force]``.

Inspections, samples and acceptances are kept per subject (the latest revision of each), so the daily tallies
they feed can be recomputed from them under the current catalogue: after changing an indicator's acceptance
sizes or completion days, or which indicator a programme feeds. Surveys and milestones are kept only as tallies
(and reported figures in their own table): those rows are left as they are.

One transaction: the derived tally rows are deleted and written again, so readers see the old figures or the
new ones, never a mix. Run it with the indicators service stopped (a consumer applying events meanwhile would
add to rows being rebuilt): it refuses while the indicators consumer group has members, unless ``--force``.
The service recomputes and republishes the figures on its next periodic pass once it is started again.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session, sessionmaker

from services.indicators.models import Acceptance, DailyTally, Inspection, MonthlyTally, Sample
from services.indicators.state import (
    AcceptanceState,
    InspectionState,
    SampleState,
    Tallies,
    acceptance_contributions,
    catalogue_index,
    inspection_contributions,
    sample_contributions,
)
from services.indicators.store import add_tallies
from shared.catalogue import Catalogue
from shared.db import transaction

logger = logging.getLogger(__name__)

DERIVED_SOURCES = ("inspection", "sample", "acceptance")
STREAM_ROWS = 5_000


@dataclass(frozen=True, slots=True)
class RebuildResult:
    indicators: tuple[str, ...]  # the indicators whose tallies were rebuilt
    rows_deleted: int
    rows_written: int
    subjects: int  # inspections, samples and acceptances read
    skipped: int  # subjects of a programme the catalogue no longer has


def rebuild_tallies(sessions: sessionmaker[Session], catalogue: Catalogue) -> RebuildResult:
    indicators = tuple(s.id for s in catalogue.indicators if s.source in DERIVED_SOURCES)
    programme_indicator = catalogue_index(catalogue).programme_indicator
    tallies = Tallies()
    subjects = skipped = 0
    with transaction(sessions) as session:
        # A DELETE's result is a CursorResult, which Session.execute's annotation does not say.
        deleted = cast(CursorResult[Any], session.execute(
            delete(DailyTally).where(DailyTally.indicator.in_(indicators)))).rowcount
        session.execute(delete(MonthlyTally).where(MonthlyTally.indicator.in_(indicators)))
        for row in session.scalars(select(Inspection).execution_options(yield_per=STREAM_ROWS)):
            subjects += 1
            state = _inspection(row, programme_indicator)
            if state is None:
                skipped += 1
                continue
            tallies.add_all(inspection_contributions(catalogue, state))
        query = (select(Sample, Inspection).outerjoin(Inspection, Inspection.sample_id == Sample.sample_id)
                 .execution_options(yield_per=STREAM_ROWS))
        for sample, inspection in session.execute(query):
            subjects += 1
            if sample.programme not in programme_indicator:
                skipped += 1
                continue
            sample_state = SampleState(sample.sample_id, sample.programme, sample.category, sample.region,
                                       sample.collected_at, sample.event_id)
            inspected = _inspection(inspection, programme_indicator) if inspection is not None else None
            tallies.add_all(sample_contributions(catalogue, sample_state, inspected))
        for acceptance in session.scalars(select(Acceptance).execution_options(yield_per=STREAM_ROWS)):
            subjects += 1
            tallies.add_all(acceptance_contributions(catalogue, AcceptanceState(
                acceptance.project_id, acceptance.size, acceptance.region, bool(acceptance.first_time_pass),
                acceptance.revision, acceptance.occurred_at, acceptance.event_id)))
        written = len(tallies.nonzero())
        add_tallies(session, tallies)
    result = RebuildResult(indicators, int(deleted or 0), written, subjects, skipped)
    logger.info("tallies rebuilt", extra={"indicators": list(indicators), "rows_deleted": result.rows_deleted,
                                          "rows_written": written, "subjects": subjects, "skipped": skipped})
    return result


def _inspection(row: Inspection, programme_indicator: dict[str, str]) -> InspectionState | None:
    """The stored inspection under the current catalogue (its programme's indicator may have changed)."""
    indicator = programme_indicator.get(row.programme)
    if indicator is None:
        return None
    return InspectionState(row.sample_id, row.programme, indicator, row.category, row.region, row.verdict,
                           row.revision, row.occurred_at, row.event_id)


def group_members(bootstrap: str, group: str, *, timeout: float = 30.0) -> int:
    """How many consumers the group has now (0 when none is running). A broker that is still electing the
    group's coordinator (a fresh cluster creates its offsets topic on the first question) is asked again."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="qw-rebuild", request_timeout_ms=10_000)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                description = admin.describe_groups([group]).get(group) or {}
                return len(description.get("members") or ())
            except KafkaError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> int:
    from shared.catalogue import load_catalogue
    from shared.db import make_engine, make_sessionmaker, migrate
    from shared.logs import configure_logging
    from shared.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m services.indicators.rebuild", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true",
                        help="rebuild even if the consumer group has members (or Kafka does not answer)")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging("indicators-rebuild", settings.log_level, settings.log_json)
    group = settings.indicators_group
    if not args.force:
        try:
            members = group_members(settings.kafka_bootstrap, group)
        except Exception as exc:  # noqa: BLE001 - say why, and how to proceed
            print(f"cannot tell whether indicators is running (Kafka: {exc}); stop it and use --force",
                  file=sys.stderr)
            return 2
        if members:
            print(f"the indicators consumer group {group!r} has {members} member(s): stop the indicators "
                  "service first (or use --force)", file=sys.stderr)
            return 2
    url = settings.effective_database_url
    migrate(url)
    engine = make_engine(url)
    try:
        result = rebuild_tallies(make_sessionmaker(engine), load_catalogue(settings.catalogue_path))
    finally:
        engine.dispose()
    print(f"rebuilt {', '.join(result.indicators)}: {result.subjects} subjects read "
          f"({result.skipped} of unknown programmes skipped), {result.rows_deleted} tally rows replaced by "
          f"{result.rows_written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
