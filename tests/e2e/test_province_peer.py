"""Smoke version of ``python -m bench.province``: a few thousand events of the province's history through
the real path (intake's batch API → Kafka → indicators → PostgreSQL), and the GROUP BY peer over the same
events in the same PostgreSQL gives the same figures: province, city and county, rolling and calendar
windows, all categories and one, the scorecard's pass-rate rows and the annual report's."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest

from bench.load import post_batches
from bench.province import (
    CST,
    Comparison,
    batches,
    figure_reads,
    history,
    report_reads,
    scorecard_reads,
    volume_for,
)
from bench.province_peer import Peer, PeerFile
from bench.system import wait_caught_up
from devtools.launcher import ServiceProcesses
from shared.catalogue import load_catalogue
from shared.settings import DEFAULT_CATALOGUE

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_the_peer_computes_the_same_figures_as_ours(stack: ServiceProcesses, tmp_path: Path) -> None:
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    end = dt.datetime.now(CST) - dt.timedelta(minutes=5)
    # 40 days across a year boundary or not, at ~25,000 inspections a year: ~2,700 inspections, ~6,000 events.
    events = history(catalogue, seed=7, start=end - dt.timedelta(days=40), end=end,
                     volume=volume_for(catalogue, 25_000), tag="smoke")
    peer_file = PeerFile(tmp_path / "peer.tsv", catalogue)
    posted = post_batches(stack.url("intake"), stack.admin_token, batches(events, peer_file))
    assert 3_000 < posted < 12_000
    wait_caught_up(stack, expected=posted, timeout=120)

    peer = Peer(stack.database_url, catalogue)
    try:
        assert peer.load(peer_file)["rows"] == posted
        comparison = Comparison()
        once = argparse.Namespace(reads=1, scorecard_reads=1, report_reads=1, peer_reads=1)
        year = str(end.year)
        with stack.client("indicators") as client:
            figures = figure_reads(client, peer, once, year, comparison)
            scorecards = scorecard_reads(client, peer, once, ("30d", "365d", year), comparison)
            report_reads(client, peer, once, year, comparison)
    finally:
        peer.close()
    assert comparison.mismatches == []
    # the comparison compared something: figures with samples at every level, and every scorecard city
    assert all(f["denominator"] > 0 for f in figures if "30d" in f["name"] and "all" in f["name"])
    assert all(s["compared_figures"] >= 2 * 14 for s in scorecards)
