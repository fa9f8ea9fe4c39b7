"""The peer: the same pass-rate figures as a team without QualityWatch would compute them.

Every generated event goes, by one bulk ``COPY``, into one raw-events table in the same PostgreSQL; a
figure is a ``GROUP BY`` over it at read time. Fair to the peer: the indexes are chosen for exactly these
queries (partial, covering, one per region level, one to find a sample's latest revision), the table is
analysed after loading, and the peer is called straight over psycopg (no HTTP, no JSON, no auth: ours
pays for all three). The rules are ours, spelled in SQL: an inspection counts once, with its highest
revision (the first to arrive among equal revisions), on the CST day of that revision's ``occurred_at``;
a county's inspections count for its city and the province.

The peer covers the inspection pass rates (agricultural sampling, national spot checks): the figures
every agency reads first and the bulk of the data. Its "scorecard" and "annual report" are those rows only,
so the time ratios against our full scorecard and report (every indicator) favour the peer.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import psycopg

from shared.catalogue import Catalogue

INSPECTION = "inspection.completed"
COLUMNS = ("seq", "event_id", "type", "occurred_at", "sample_id", "programme", "category", "region", "city",
           "verdict", "revision")

DDL = """
CREATE TABLE peer_event (
    seq         bigint PRIMARY KEY,  -- arrival order
    event_id    text NOT NULL UNIQUE,
    type        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    sample_id   text,
    programme   text,
    category    text,
    region      text NOT NULL,       -- as reported: a city or a county
    city        text NOT NULL,       -- the region's city (the team knows the region list)
    verdict     text,
    revision    integer
)"""
_ROW = "(verdict, category, region, city, sample_id, revision, seq)"
INDEXES = (
    # province-wide figures: every inspection of a programme in a time range
    f"CREATE INDEX peer_inspection_time ON peer_event (programme, occurred_at) INCLUDE {_ROW} "
    f"WHERE type = '{INSPECTION}'",
    # a city's figures
    f"CREATE INDEX peer_inspection_city ON peer_event (programme, city, occurred_at) INCLUDE {_ROW} "
    f"WHERE type = '{INSPECTION}'",
    # a county's figures
    f"CREATE INDEX peer_inspection_region ON peer_event (programme, region, occurred_at) INCLUDE {_ROW} "
    f"WHERE type = '{INSPECTION}'",
    # is there a later revision of this sample?
    f"CREATE INDEX peer_inspection_revision ON peer_event (sample_id, revision, seq) WHERE type = '{INSPECTION}'",
)
_LATEST = (f"NOT EXISTS (SELECT 1 FROM peer_event later WHERE later.type = '{INSPECTION}' "
           "AND later.sample_id = e.sample_id AND (later.revision > e.revision "
           "OR (later.revision = e.revision AND later.seq < e.seq)))")
_COUNTS = "count(*) FILTER (WHERE e.verdict = 'pass'), count(*)"


def conninfo(database_url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as a libpq one."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass(frozen=True, slots=True)
class Counts:
    passes: int
    total: int


def _text(value: object) -> str:
    return "\\N" if value is None else str(value)


class PeerFile:
    """The generated events as COPY text, written while the same events go to intake."""

    def __init__(self, path: Path, catalogue: Catalogue) -> None:
        self.path = path
        self.catalogue = catalogue
        self.rows = 0
        self._out: TextIO = path.open("w", encoding="utf-8")
        self._cities: dict[str, str] = {}

    def city(self, region: str) -> str:
        found = self._cities.get(region)
        if found is None:
            path = self.catalogue.resolve_region(region)
            levels = path.levels if path else (region,)
            found = self._cities[region] = next((c for c in levels if c in self.catalogue.regions.cities), region)
        return found

    def add(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            data = event["data"]
            region = data.get("region", "")
            self.rows += 1
            self._out.write("\t".join(_text(v) for v in (
                self.rows, event["event_id"], event["type"], event["occurred_at"], data.get("sample_id"),
                data.get("programme"), data.get("category"), region, self.city(region), data.get("verdict"),
                data.get("revision", 1) if event["type"] == INSPECTION else None)) + "\n")

    def close(self) -> None:
        self._out.close()


class Peer:
    def __init__(self, database_url: str, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.conn = psycopg.connect(conninfo(database_url), autocommit=True)
        # indicator -> the programmes whose inspections count toward it
        self.programmes = {spec.id: tuple(catalogue.programme_for_indicator(spec.id))
                           for spec in catalogue.indicators if spec.kind == "pass_rate" and spec.source == "inspection"}

    def close(self) -> None:
        self.conn.close()

    def load(self, source: PeerFile) -> dict[str, float]:
        """COPY the file into a fresh table, build the indexes, analyse; seconds of each step."""
        source.close()
        started = time.perf_counter()
        with self.conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS peer_event")
            cur.execute(DDL)
            with source.path.open("rb") as f, cur.copy(f"COPY peer_event ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            copied = time.perf_counter()
            for statement in INDEXES:
                cur.execute(statement)
            indexed = time.perf_counter()
            cur.execute("ANALYZE peer_event")
            cur.execute("SELECT pg_total_relation_size('peer_event')")
            size = cur.fetchone()
        return {"rows": source.rows, "copy_s": copied - started, "index_s": indexed - copied,
                "analyze_s": time.perf_counter() - indexed, "bytes": float(size[0]) if size else 0.0}

    # ---- figures ---------------------------------------------------------------------------
    def figure(self, indicator: str, region: str, category: str | None, start: dt.datetime,
               end: dt.datetime) -> Counts:
        where = ["e.type = %(type)s", "e.programme = ANY(%(programmes)s)", "e.occurred_at >= %(start)s",
                 "e.occurred_at < %(end)s"]
        params: dict[str, Any] = {"type": INSPECTION, "programmes": list(self.programmes[indicator]),
                                  "start": start, "end": end, "region": region, "category": category}
        if region in self.catalogue.regions.cities:
            where.append("e.city = %(region)s")
        elif region != self.catalogue.province_code:
            where.append("e.region = %(region)s")
        if category is not None:
            where.append("e.category = %(category)s")
        sql = f"SELECT {_COUNTS} FROM peer_event e WHERE {' AND '.join(where)} AND {_LATEST}"
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            row = cur.fetchone()
        assert row is not None
        return Counts(int(row[0]), int(row[1]))

    def table(self, start: dt.datetime, end: dt.datetime, *, categories: bool = False
              ) -> dict[tuple[str, str, str | None], Counts]:
        """Every pass-rate figure of a window for the province and each city (and, with ``categories``,
        the province per category), in one grouped query: {(indicator, region, category): counts}."""
        sets = "(e.programme, e.city), (e.programme)" + (", (e.programme, e.category)" if categories else "")
        by_category = "e.category, GROUPING(e.category)" if categories else "NULL, 1"
        sql = (f"SELECT e.programme, e.city, {by_category}, GROUPING(e.city), {_COUNTS} "
               f"FROM peer_event e WHERE e.type = %(type)s AND e.occurred_at >= %(start)s "
               f"AND e.occurred_at < %(end)s AND e.programme = ANY(%(programmes)s) AND {_LATEST} "
               f"GROUP BY GROUPING SETS ({sets})")
        programmes = sorted({p for ps in self.programmes.values() for p in ps})
        with self.conn.cursor() as cur:
            cur.execute(sql, {"type": INSPECTION, "start": start, "end": end, "programmes": programmes})
            rows = cur.fetchall()
        by_programme: dict[tuple[str, str, str | None], Counts] = {}
        for programme, city, category, no_category, no_city, passes, total in rows:
            region = self.catalogue.province_code if no_city else city
            by_programme[(programme, region, None if no_category else category)] = Counts(int(passes), int(total))
        out: dict[tuple[str, str, str | None], Counts] = {}
        for indicator, programmes_of in self.programmes.items():
            keys = {(r, c) for (p, r, c) in by_programme if p in programmes_of}
            for region, category in keys:
                parts = [by_programme.get((p, region, category), Counts(0, 0)) for p in programmes_of]
                out[(indicator, region, category)] = Counts(sum(x.passes for x in parts),
                                                            sum(x.total for x in parts))
        return out
