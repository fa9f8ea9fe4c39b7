"""Region arguments: a code (``320583``) or a name the plan catalogue knows (``南京市``, ``Nanjing``, ``昆山市``).

Names are read from the catalogue's ``regions`` section, whatever shape it has: every entry with a
``name`` under a six-digit code key, or with its own ``code``, at any depth. So the province and the cities
resolve today, and counties do as soon as the catalogue lists them, with no change here. The catalogue is
the one the services run with: ``QW_CATALOGUE_PATH``, or the shipped one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from qwcli.api import CliError

CODE = re.compile(r"^\d{6}$")
SUFFIXES = ("市", "县", "区", "省")


@lru_cache(maxsize=4)
def _names(path: str) -> dict[str, tuple[str, ...]]:
    """Every spelling a person might type (name, English name, name without 市/县/区) → the codes it names."""
    from shared.catalogue import CatalogueError, load_catalogue

    try:
        catalogue = load_catalogue(path)
    except (CatalogueError, OSError) as exc:
        raise CliError(f"cannot read the plan catalogue {path} to look up region names: {exc}", 2) from exc
    return region_index(catalogue.regions.model_dump())


def region_index(regions: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Spellings → codes for a catalogue's ``regions`` section (as plain data), counties included if listed."""
    index: dict[str, set[str]] = {}
    for code, entry in _regions(regions):
        for spelling in _spellings(entry):
            index.setdefault(spelling, set()).add(code)
    return {name: tuple(sorted(codes)) for name, codes in index.items()}


def _regions(node: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        if isinstance(node.get("name"), str) and isinstance(node.get("code"), str):
            yield node["code"], node
        for key, value in node.items():
            if isinstance(key, str) and CODE.match(key) and isinstance(value, Mapping) and "name" in value:
                yield key, value
            yield from _regions(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _regions(value)


def _spellings(entry: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for field in ("name", "name_en"):
        value = entry.get(field)
        if isinstance(value, str) and value.strip():
            out.add(value.strip().casefold())
    name = str(entry.get("name") or "")
    if name.endswith(SUFFIXES) and len(name) > 2:
        out.add(name[:-1].casefold())
    return out


def catalogue_path() -> str:
    from shared.settings import DEFAULT_CATALOGUE

    return os.environ.get("QW_CATALOGUE_PATH") or str(DEFAULT_CATALOGUE)


def region_code(text: str | None) -> str | None:
    """The region code an operator means; a code passes unchanged (the service checks it)."""
    if text is None:
        return None
    wanted = text.strip()
    if CODE.match(wanted):
        return wanted
    names = _names(catalogue_path())
    codes = names.get(wanted.casefold(), ())
    if len(codes) == 1:
        return codes[0]
    if len(codes) > 1:
        raise CliError(f"region {text!r} names {len(codes)} regions ({', '.join(codes)}): give the code", 2)
    close = sorted({n for n in names if wanted.casefold() in n or n in wanted.casefold()})[:5]
    hint = f" (did you mean {', '.join(close)}?)" if close else " (a six-digit code such as 320583 always works)"
    raise CliError(f"unknown region {text!r}: not a code or a region name of the plan catalogue{hint}", 2)
