"""External tools some tests need (Chromium, Prometheus, promtool, docker-compose)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing_tool(reason: str) -> NoReturn:
    """Skip on a developer's machine; fail in CI (CI=true), where .ci/run installs every tool, so a
    broken install cannot pass as a skipped test."""
    if os.environ.get("CI"):
        pytest.fail(f"required in CI but missing: {reason}")
    pytest.skip(reason)
