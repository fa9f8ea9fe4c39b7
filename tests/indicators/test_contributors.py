"""Which cities drive a provincial shortfall (pure): percentage points of the gap, with their n."""

from __future__ import annotations

import pytest

from services.indicators.figures import Sums, shortfall_contributors


def test_the_points_of_the_cities_add_up_to_the_provincial_gap() -> None:
    cities = {"320300": Sums(850, 1000), "320100": Sums(960, 1000), "320500": Sums(1990, 2000)}
    total = 4000
    province = (850 + 960 + 1990) / total
    found = shortfall_contributors(0.97, total, cities)
    assert [c.region for c in found] == ["320300", "320100"]  # Suzhou is above target: it narrows the gap
    assert found[0].points == pytest.approx(100 * (970 - 850) / total, abs=0.01)
    all_points = sum(100 * (0.97 * s.denominator - s.numerator) / total for s in cities.values())
    assert all_points == pytest.approx(100 * (0.97 - province))
    assert (found[0].denominator, found[0].value) == (1000, 0.85)


def test_no_cities_and_no_sample_name_nobody() -> None:
    assert shortfall_contributors(0.97, 0, {}) == ()
    assert shortfall_contributors(0.97, 100, {"320300": Sums()}) == ()
