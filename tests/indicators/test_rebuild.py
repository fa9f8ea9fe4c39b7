"""Rebuilding the subject-fed tallies after a catalogue change (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.indicators.reader import FigureReader
from services.indicators.rebuild import rebuild_tallies
from shared.catalogue import Catalogue, load_catalogue
from shared.settings import DEFAULT_CATALOGUE
from tests.indicators import factory as f
from tests.indicators.conftest import Harness

pytestmark = pytest.mark.integration
ACCEPTANCE = "project_first_acceptance_rate"
AGRI = "agri_sampling_pass_rate"
SURVEY = "producer_services_satisfaction"


def _figure(catalogue: Catalogue, h: Harness, indicator: str, region: str = "320000", window: str | None = None):  # noqa: ANN202
    spec = catalogue.indicator(indicator)
    assert spec is not None
    return FigureReader(catalogue, h.sessions, h.clock).figure(spec, region, None, window or spec.windows[0])


def _with_large_projects_only(tmp_path: Path) -> Catalogue:
    text = Path(DEFAULT_CATALOGUE).read_text(encoding="utf-8")
    assert text.count("acceptance_sizes: [large, medium]") == 1
    changed = tmp_path / "catalogue.yaml"
    changed.write_text(text.replace("acceptance_sizes: [large, medium]", "acceptance_sizes: [large]"),
                       encoding="utf-8")
    return load_catalogue(changed)


def test_a_changed_acceptance_scope_is_counted_anew_and_nothing_else_moves(harness: Harness, tmp_path: Path) -> None:
    events = [f.acceptance("a1", "P1", True, size="large"), f.acceptance("a2", "P2", False, size="medium"),
              f.acceptance("a3", "P3", False, size="medium"), f.acceptance("a4", "P4", False, size="small"),
              f.acceptance("a5", "P5", True, size="large", revision=1), f.acceptance("a6", "P5", False, revision=2),
              *[f.inspection(f"i{n}", f"S{n}", "fail" if n % 4 == 0 else "pass") for n in range(40)],
              f.survey("v1", 80.0, 10), f.survey("v2", 90.0, 30)]
    harness.processor.process([f.message(e) for e in events])
    before = harness.catalogue
    assert (_figure(before, harness, ACCEPTANCE).numerator, _figure(before, harness, ACCEPTANCE).denominator) == (1, 4)
    agri, survey = _figure(before, harness, AGRI), _figure(before, harness, SURVEY)

    after = _with_large_projects_only(tmp_path)
    result = rebuild_tallies(harness.sessions, after)

    rebuilt = _figure(after, harness, ACCEPTANCE)
    assert (rebuilt.numerator, rebuilt.denominator) == (1, 2), "P1 passed; P5's second revision failed"
    assert ACCEPTANCE in result.indicators and SURVEY not in result.indicators
    assert result.skipped == 0
    again = _figure(after, harness, AGRI)
    assert (again.numerator, again.denominator, again.value) == (agri.numerator, agri.denominator, agri.value)
    assert _figure(after, harness, SURVEY).value == survey.value == pytest.approx(87.5)


def test_rebuilding_twice_gives_the_same_figures(harness: Harness) -> None:
    harness.processor.process([f.message(f.inspection(f"i{n}", f"S{n}", "fail" if n % 3 else "pass"))
                               for n in range(30)] + [f.message(f.sample(f"s{n}", f"S{n}")) for n in range(45)])
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    first = rebuild_tallies(harness.sessions, catalogue)
    figures = [_figure(catalogue, harness, spec.id) for spec in catalogue.indicators if spec.source != "figure"
               and spec.kind != "milestone"]
    second = rebuild_tallies(harness.sessions, catalogue)
    assert first.rows_written == second.rows_written == second.rows_deleted
    assert [_figure(catalogue, harness, spec.id) for spec in catalogue.indicators if spec.source != "figure"
            and spec.kind != "milestone"] == figures
    agri = _figure(catalogue, harness, AGRI)
    assert (agri.numerator, agri.denominator) == (10, 30)
