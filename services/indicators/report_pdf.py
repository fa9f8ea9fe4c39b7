"""The quality report printed to PDF with WeasyPrint (A4, CJK fonts from the system: Debian's fonts-noto-cjk;
running head, page numbers). The HTML document is the one the HTML answer serves; nothing is fetched while
printing (no base URL, and a URL fetcher that refuses everything)."""

from __future__ import annotations

from typing import Any, NoReturn


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"the report fetches nothing while printing ({url[:60]})")


def html_to_pdf(document: str) -> bytes:
    from weasyprint import HTML  # type: ignore[import-untyped]  # loads pango and the fonts: on first PDF only

    pdf = HTML(string=document, url_fetcher=_no_fetch).write_pdf()
    assert pdf is not None
    return bytes(pdf)
