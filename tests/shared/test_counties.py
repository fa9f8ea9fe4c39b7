"""Jiangsu's county-level divisions in the catalogue: counted, exact, found by name or code."""

from __future__ import annotations

import pytest

from devtools.demo_data import COUNTIES
from shared.catalogue import RegionNotFound, load_catalogue
from shared.settings import DEFAULT_CATALOGUE

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)


def test_13_cities_and_95_county_level_divisions_with_their_edition() -> None:
    assert len(CATALOGUE.city_codes) == 13
    assert len(CATALOGUE.regions.counties) == 95
    assert all(CATALOGUE.counties_of(city) for city in CATALOGUE.city_codes)
    assert "2023" in CATALOGUE.regions.county_source and "GB/T 2260" in CATALOGUE.regions.county_source


def test_the_region_check_is_exact() -> None:
    assert CATALOGUE.resolve_region("320583") is not None
    assert CATALOGUE.resolve_region("320599") is None  # Suzhou has no county 99
    assert CATALOGUE.resolve_region("320571") is None  # a statistical zone (苏州工业园区), not a GB/T 2260 division
    assert CATALOGUE.region_name("320583") == "昆山市"


def test_the_demo_data_names_only_real_counties() -> None:
    for city, counties in COUNTIES.items():
        for code in counties:
            path = CATALOGUE.resolve_region(code)
            assert path is not None and path.city == city, code


@pytest.mark.parametrize(("text", "code"), [
    ("320583", "320583"), ("昆山市", "320583"), ("昆山", "320583"), ("苏州市昆山市", "320583"),
    ("苏州 昆山", "320583"), ("南京市", "320100"), ("南京", "320100"), ("Suzhou", "320500"),
    ("江苏省", "320000"), ("南京市鼓楼区", "320106"), ("徐州鼓楼区", "320302"), ("淮安", "320800"),
    ("淮安区", "320803"), ("沛县", "320322"),
])
def test_find_region_by_name_or_code(text: str, code: str) -> None:
    assert CATALOGUE.find_region(text) == code


@pytest.mark.parametrize(("text", "says"), [
    ("鼓楼区", "南京市鼓楼区 320106, 徐州市鼓楼区 320302"), ("320599", "not a region"), ("火星市", "no region"),
    ("", "empty"),
])
def test_unknown_and_ambiguous_names_say_so(text: str, says: str) -> None:
    with pytest.raises(RegionNotFound, match=says) as raised:
        CATALOGUE.find_region(text)
    assert raised.value.message_zh
