"""External tools some tests need (Chromium, Prometheus, promtool, a Compose parser)."""

from __future__ import annotations

from typing import NoReturn

import pytest


def missing_tool(reason: str) -> NoReturn:
    """Fail, never skip: devtools/install-system-deps.sh (run by `make test` and .ci/run) installs every
    tool the suite uses, so a missing one is a broken setup, not a test to leave out."""
    pytest.fail(f"{reason}; run devtools/install-system-deps.sh (as root) to install it", pytrace=False)
