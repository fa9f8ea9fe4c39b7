"""What a person reads, in their language: one JSON catalogue per locale and namespace.

Strings live in ``shared/i18n/<namespace>.<locale>.json`` (a flat ``{"key": "text"}`` object; text may
hold ``{name}`` placeholders), so adding a language is adding a file per namespace. Chinese is the
default; English is selectable (``?lang=en``, the ``qw_lang`` cookie a page remembers, or
``Accept-Language``). Pages that switch language in the browser get the whole catalogue with
``catalogue()`` and render it themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

DEFAULT_LOCALE = "zh-CN"
LOCALES: tuple[str, ...] = ("zh-CN", "en")
LANG_COOKIE = "qw_lang"


def normalise(tag: str | None) -> str | None:
    """The supported locale a language tag names (``zh``, ``zh-Hans-CN`` → ``zh-CN``), or None."""
    if not tag:
        return None
    primary = tag.strip().lower().split("-")[0].split("_")[0]
    for locale in LOCALES:
        if locale.lower().split("-")[0] == primary:
            return locale
    return None


def negotiate(query: str | None = None, cookie: str | None = None, accept_language: str | None = None) -> str:
    """The locale to answer in: an explicit choice first, then the remembered one, then the browser's."""
    for choice in (query, cookie):
        locale = normalise(choice)
        if locale:
            return locale
    if accept_language:
        weighted: list[tuple[float, int, str]] = []
        for position, part in enumerate(accept_language.split(",")[:20]):
            tag, _, params = part.partition(";")
            weight = 1.0
            if params.strip().startswith("q="):
                try:
                    weight = float(params.strip()[2:])
                except ValueError:
                    continue
            locale = normalise(tag)
            if locale and weight > 0:
                weighted.append((-weight, position, locale))
        if weighted:
            return min(weighted)[2]
    return DEFAULT_LOCALE


@lru_cache(maxsize=64)
def catalogue(namespace: str, locale: str) -> Mapping[str, str]:
    """The strings of one namespace in one locale; unknown locales fall back to the default."""
    if locale not in LOCALES:
        locale = DEFAULT_LOCALE
    path = resources.files(__package__).joinpath(f"{namespace}.{locale}.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{namespace}.{locale}.json must be an object of strings")
    return data


class Translator:
    """``t("key", n=3)``: the key's text in this locale, placeholders filled; a missing key reads as itself."""

    def __init__(self, namespace: str, locale: str) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self._strings = catalogue(namespace, self.locale)

    def __call__(self, key: str, **params: object) -> str:
        text = self._strings.get(key, key)
        return text.format(**params) if params else text
