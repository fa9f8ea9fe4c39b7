"""Rules mypy cannot state itself: every ``# type: ignore`` in the shipped packages names the error codes
it silences and says why, so a reader can judge whether it is still needed."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED_PACKAGES = ("services", "shared", "qwcli")

_IGNORE = re.compile(r"type:\s*ignore")
_EXPLAINED = re.compile(r"type: ignore\[[a-z][a-z-]*(?:, *[a-z][a-z-]*)*\]\s+#\s*\S")


def unexplained_ignores(source: str) -> list[int]:
    """Lines whose comment holds a ``type: ignore`` without ``[code]`` followed by ``# reason``."""
    return [token.start[0] for token in tokenize.generate_tokens(io.StringIO(source).readline)
            if token.type == tokenize.COMMENT and _IGNORE.search(token.string)
            and not _EXPLAINED.search(token.string)]


@pytest.mark.parametrize(("line", "explained"), [
    ("x = f()  # type: ignore[arg-type]  # f accepts it at run time\n", True),
    ("x = f()  # type: ignore[arg-type, union-attr]  # both checked above\n", True),
    ("x = f()  # type: ignore\n", False),
    ("x = f()  # type: ignore  # no code given\n", False),
    ("x = f()  # type: ignore[arg-type]\n", False),
    ("x = f()  # type: ignore[arg-type]  #\n", False),
    ("x = f()  # type:ignore[arg-type]  # spelled without the space\n", False),
    ('x = "type: ignore"\n', True),
])
def test_an_ignore_is_explained_only_with_a_code_and_a_reason(line: str, explained: bool) -> None:
    assert (unexplained_ignores(line) == []) is explained


def test_every_type_ignore_in_the_shipped_packages_has_a_code_and_a_reason() -> None:
    files = sorted(path for package in CHECKED_PACKAGES for path in (ROOT / package).rglob("*.py"))
    assert files, "no source files found: is ROOT right?"
    found = [f"{path.relative_to(ROOT)}:{line}" for path in files
             for line in unexplained_ignores(path.read_text(encoding="utf-8"))]
    assert found == [], "write `# type: ignore[code]  # why` (or fix the type): " + ", ".join(found)
