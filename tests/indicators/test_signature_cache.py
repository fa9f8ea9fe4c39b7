"""The per-catalogue cache of expanded signatures stays bounded and keeps answering correctly."""

from __future__ import annotations

import datetime as dt

from services.indicators.state import SIGNATURE_CACHE, catalogue_index, signature_items
from shared.catalogue import load_catalogue
from shared.settings import DEFAULT_CATALOGUE


def test_years_of_signatures_keep_the_cache_within_its_bound_and_answers_unchanged() -> None:
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    first_day = dt.date(2021, 1, 1)

    def signature(n: int) -> tuple:
        day = first_day + dt.timedelta(days=n // 2)  # every n a signature of its own
        return ("inspection", "agri_sampling_pass_rate", "320506", day, "vegetables", n % 2 == 0)

    first = signature_items(catalogue, signature(0))
    assert [key for key, _ in first] == [("agri_sampling_pass_rate", level, first_day, "vegetables")
                                         for level in ("320506", "320500", "320000")]
    index = catalogue_index(catalogue)
    for n in range(SIGNATURE_CACHE * 2 + 7):
        signature_items(catalogue, signature(n))
        assert len(index.items) <= SIGNATURE_CACHE
    assert signature_items(catalogue, signature(0)) == first  # expanded anew after the cache emptied
