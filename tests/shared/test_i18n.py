"""Locale negotiation and catalogues: Chinese unless the reader chose otherwise."""

import datetime as dt

import pytest

from shared.clock import rfc3339
from shared.i18n import LOCALES, Translator, catalogue, negotiate


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "zh-CN"),
        (None, None, "fr-FR,fr;q=0.9", "zh-CN"),
        (None, None, "en-GB,en;q=0.9,zh-CN;q=0.8", "en"),
        (None, None, "zh-Hans-CN,en;q=0.5", "zh-CN"),
        (None, "en", "zh-CN", "en"),
        ("zh", "en", "en", "zh-CN"),
        ("klingon", None, None, "zh-CN"),
    ],
)
def test_negotiate_prefers_explicit_choice_then_cookie_then_browser(query, cookie, accept, expected):
    assert negotiate(query, cookie, accept) == expected


def test_every_locale_has_the_same_keys_in_every_namespace():
    from importlib import resources

    names = {p.name.split(".")[0] for p in resources.files("shared.i18n").iterdir() if p.name.endswith(".json")}
    for namespace in names:
        keys = [set(catalogue(namespace, locale)) for locale in LOCALES]
        assert all(k == keys[0] for k in keys), namespace


def test_translator_fills_placeholders_and_shows_missing_keys_as_themselves():
    t = Translator("common", "en")
    assert t("time.zone_label") == "China Standard Time"
    assert t("no.such.key") == "no.such.key"


def test_rfc3339_is_cst_with_at_most_milliseconds():
    instant = dt.datetime(2026, 12, 2, 6, 19, 48, 405114, tzinfo=dt.UTC)
    assert rfc3339(instant) == "2026-12-02T14:19:48.405+08:00"
    assert rfc3339(instant.replace(microsecond=0)) == "2026-12-02T14:19:48+08:00"
    with pytest.raises(ValueError):
        rfc3339(dt.datetime(2026, 12, 2))
