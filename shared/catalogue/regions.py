"""Finding a region by its code or its name: ``320583``, ``昆山市``, ``苏州市昆山市``, ``苏州 昆山``, ``Suzhou``.

Names are matched exactly after removing spaces; a name that two regions share (鼓楼区 is a district of both
南京市 and 徐州市) is ambiguous, and the error lists the candidates with the city-qualified name that picks one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Protocol

from shared.explained import Explained


class Catalogue(Protocol):
    """What the index reads of ``shared.catalogue.model.Catalogue`` (which builds it: no import back)."""

    regions: Any

    @property
    def province_code(self) -> str: ...

    def resolve_region(self, code: str) -> object | None: ...

    def region_name(self, code: str) -> str: ...

_SPACES = re.compile(r"[\s\u3000]+")
_SUFFIXES = ("市", "区", "县", "省")


class RegionNotFound(Explained):
    """The text names no region of the catalogue, or several; ``candidates`` lists the several (code, name)."""

    def __init__(self, message: str, message_zh: str, candidates: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message, message_zh)
        self.candidates = candidates


class RegionIndex:
    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue
        self._codes = {catalogue.province_code, *catalogue.regions.cities, *catalogue.regions.counties}
        # Full names (昆山市, 苏州市昆山市, Suzhou) first; short names (昆山, 苏州昆山) only when no full name
        # matches, and among short names a city wins over its namesake district (淮安 is 淮安市, not 淮安区).
        full: dict[str, set[str]] = defaultdict(set)
        short: dict[str, set[str]] = defaultdict(set)
        regions = catalogue.regions
        named = [(regions.province.code, regions.province), *regions.cities.items()]
        for code, region in named:
            full[_plain(region.name)].add(code)
            if region.name_en:
                full[_plain(region.name_en)].add(code)
            short[_short(region.name)].add(code)
        for code, county in regions.counties.items():
            city = regions.cities[code[:4] + "00"]
            full[_plain(county.name)].add(code)
            full[_plain(city.name) + _plain(county.name)].add(code)
            for city_key in {_plain(city.name), _short(city.name)}:
                for county_key in {_plain(county.name), _short(county.name)}:
                    short[city_key + county_key].add(code)
            short[_short(county.name)].add(code)
        self._full = {key: tuple(sorted(codes)) for key, codes in full.items()}
        self._short = {key: _prefer_cities(codes) for key, codes in short.items()}

    def find(self, text: str) -> str:
        key = _SPACES.sub("", str(text)).casefold()
        if not key:
            raise RegionNotFound("region is empty", "地区为空")
        if re.fullmatch(r"\d{6}", key):
            if self._catalogue.resolve_region(key) is None:
                where = self._catalogue.regions.province.name
                raise RegionNotFound(f"region code {key} is not a region of {where}",
                                     f"地区代码 {key} 不是{where}的行政区划")
            return key
        codes = self._full.get(key) or self._short.get(key)
        if codes is None:
            where = self._catalogue.regions.province.name
            raise RegionNotFound(f"no region of {where} is named {text!r}; give its 6-digit code or its full name",
                                 f"{where}没有名为“{text}”的地区；请填写6位行政区划代码或完整名称")
        if len(codes) > 1:
            candidates = tuple((code, self._qualified(code)) for code in codes)
            listed = ", ".join(f"{name} {code}" for code, name in candidates)
            raise RegionNotFound(f"{text!r} names more than one region ({listed}); give the code or the city too",
                                 f"“{text}”对应多个地区（{listed}），请填写代码或加上所属市", candidates)
        return codes[0]

    def _qualified(self, code: str) -> str:
        catalogue = self._catalogue
        county = catalogue.regions.counties.get(code)
        if county is None:
            return catalogue.region_name(code)
        return catalogue.region_name(code[:4] + "00") + county.name


def _plain(name: str) -> str:
    return _SPACES.sub("", name).casefold()


def _short(name: str) -> str:
    """A name without its administrative suffix (苏州 for 苏州市) where two characters or more remain."""
    plain = _plain(name)
    for suffix in _SUFFIXES:
        if plain.endswith(suffix) and len(plain) - len(suffix) >= 2:
            return plain[: -len(suffix)]
    return plain


def _prefer_cities(codes: set[str]) -> tuple[str, ...]:
    cities = sorted(code for code in codes if code.endswith("00"))
    return tuple(cities[:1]) if len(cities) == 1 else tuple(sorted(codes))
