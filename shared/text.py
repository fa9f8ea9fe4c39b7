"""Free text from clients (reasons, comments, names): no control characters.

A control character in a stored comment can forge lines in a log, corrupt a CSV or a terminal, or hide text
in a page (bidirectional overrides). Line feeds and tabs are allowed in multi-line text; everything else in
Unicode category Cc (C0, DEL, C1) and the bidirectional embedding/override/isolate marks is refused.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def control_character(text: str, *, multiline: bool = True) -> str | None:
    """The first refused character of ``text`` as ``U+XXXX``, or None."""
    allowed = "\n\t" if multiline else ""
    for char in text:
        if char in allowed:
            continue
        if char in BIDI_CONTROLS or unicodedata.category(char) == "Cc":
            return f"U+{ord(char):04X}"
    return None


def _multiline(text: str) -> str:
    found = control_character(text)
    if found is not None:
        raise ValueError(f"contains the control character {found}; only line feeds and tabs are allowed")
    return text


def _single_line(text: str) -> str:
    found = control_character(text, multiline=False)
    if found is not None:
        raise ValueError(f"contains the control character {found}; control characters are not allowed")
    return text


FreeText = Annotated[str, AfterValidator(_multiline)]
"""A comment or reason: any text but control characters (line feeds and tabs allowed)."""

Label = Annotated[str, AfterValidator(_single_line)]
"""A one-line value (a name, a unit): no control characters at all."""
