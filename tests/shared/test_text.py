"""Free text refuses control characters (shared/text.py)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from shared.text import FreeText, Label, control_character


class Comment(BaseModel):
    comment: FreeText
    unit: Label | None = None


@pytest.mark.parametrize("text", ["抽检组已派出", "line one\nline two", "a\ttab", "mg/kg", ""])
def test_ordinary_text_with_line_feeds_and_tabs_is_accepted(text: str) -> None:
    assert Comment(comment=text).comment == text


@pytest.mark.parametrize(("text", "found"), [("ok\r\nforged", "U+000D"), ("bell\x07", "U+0007"),
                                             ("nul\x00", "U+0000"), ("c1\x85", "U+0085"), ("del\x7f", "U+007F"),
                                             ("rtl\u202eevil", "U+202E"), ("iso\u2066x", "U+2066")])
def test_control_characters_are_refused_naming_the_character(text: str, found: str) -> None:
    assert control_character(text) == found
    with pytest.raises(ValidationError, match=found.replace("+", r"\+")):
        Comment(comment=text)


def test_a_one_line_value_refuses_line_feeds_too() -> None:
    with pytest.raises(ValidationError, match="U\\+000A"):
        Comment(comment="x", unit="mg\nkg")
